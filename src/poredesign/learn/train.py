"""Training entry point used by the Snakemake ``train`` rules, and its config adapters.

:func:`train` builds the data module and the model (:mod:`poredesign.learn.factory`), fits it
(:mod:`poredesign.learn.fit`; the pVAE phase by phase, after an optional latent-size search:
:mod:`poredesign.learn.pvae_training`), evaluates it through
the model's own ``predict_step``/``split_report`` and writes

- ``model.pt`` + ``model.json``: the best-validation weights (state_dict only) and hyperparameters;
- ``metrics.json``: train/val/test loss and the paper's metrics (MSE, MAPE, R^2 per target);
- ``history.csv`` (per-epoch losses, all resumed segments joined), ``predictions.csv`` (test split);
- figures: loss curves and predicted-vs-true parity plots (PNG).

:meth:`TrainSettings.from_config` and :meth:`DataConfig.for_model` read a model's ``learn`` section.
Names used before the split into modules are re-exported here.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl

from poredesign.jsonable import jsonable, write_json
from poredesign.learn.base import n_parameters
from poredesign.learn.data import DataConfig, PoreDataModule
from poredesign.learn.factory import MODELS, build_model
from poredesign.learn.figures import plot_loss_curves, plot_parity
from poredesign.learn.fit import (
    NOT_FINGERPRINTED,
    FitResult,
    TrainSettings,
    fingerprint_hash,
    fit,
    predict_split,
    quick_fit,
    store_identity,
)
from poredesign.learn.io import load_state_dict, save_model
from poredesign.learn.metrics import porosity_only_baseline, r2
from poredesign.learn.pvae_training import fit_phases, search_latent_size
from poredesign.learn.registry import model_class
from poredesign.learn.uncertainty import LogitSpread, coverage, spread_report, view_axes

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclass
class Outputs:
    """Where :func:`train` writes its deliverables (defaults inside ``out_dir``)."""

    model: Path
    metrics: Path
    loss_figure: Path
    parity_figure: Path

    @classmethod
    def in_dir(cls, out_dir: Path, **paths: str | os.PathLike | None) -> Outputs:
        defaults = {
            "model": out_dir / "model.pt",
            "metrics": out_dir / "metrics.json",
            "loss_figure": out_dir / "loss.png",
            "parity_figure": out_dir / "parity.png",
        }
        return cls(**{k: Path(paths.get(k) or v) for k, v in defaults.items()})


def train(
    name: str,
    structures: str | os.PathLike,
    properties: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    model_kwargs: Mapping[str, Any] | None = None,
    data: DataConfig | Mapping[str, Any] | None = None,
    settings: TrainSettings | Mapping[str, Any] | None = None,
    outputs: Mapping[str, str | os.PathLike | None] | None = None,
    encoder: str | os.PathLike | None = None,
    search: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train model ``name`` (one of :data:`MODELS`) and write its outputs; return the metrics.

    ``search`` (pvae): ``{"trials": int, "latent_range": [lo, hi], "phase_epochs": [a, b, c]}`` runs
    an Optuna search over the latent size first (resumable: trials are stored in
    ``out_dir/optuna.db``). The transfer regressor's repeated comparison of both variants is the
    transfer stage's (:func:`poredesign.learn.transfer_experiment.compare_transfer`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not isinstance(settings, TrainSettings):  # the schema's settings of the model, overridden
        settings = replace(TrainSettings.for_model(name), **dict(settings or {}))
    outs = Outputs.in_dir(out_dir, **dict(outputs or {}))
    model_kwargs = dict(model_kwargs or {})
    data_cfg = (
        data
        if isinstance(data, DataConfig)
        else DataConfig.for_model(name, data, seed=settings.seed)
    )
    dm = PoreDataModule(
        structures,
        properties if data_cfg.targets else None,
        data_cfg,
        batch_size=settings.batch_size,
        num_workers=settings.num_workers,
    )
    dm.setup()

    search_result = None
    phased = bool(getattr(model_class(name), "PHASES", ()))
    if phased and search and int(search.get("trials", 0)) > 0:
        search_result = search_latent_size(dm, model_kwargs, settings, out_dir=out_dir, **search)
        model_kwargs["latent_dim"] = search_result["best_latent_dim"]

    pl.seed_everything(settings.seed, workers=True, verbose=False)
    model = build_model(name, model_kwargs, dm, encoder)
    fingerprint = _fingerprint(name, model, dm, settings, structures, properties, encoder)
    log.info(
        "training %s (%s, %d parameters, %d trainable) on %s, precision %s",
        name,
        type(model).__name__,
        n_parameters(model),
        n_parameters(model, True),
        settings.accelerator(),
        settings.resolved_precision(),
    )

    if phased:
        result = fit_phases(model, dm, out_dir, settings, fingerprint)
    else:
        result = fit(model, dm, out_dir, settings, fingerprint)
    metrics, arrays, spread = _evaluate(name, model, dm, settings, result)
    if search_result is not None:
        metrics["latent_search"] = search_result

    save_model(
        model,
        outs.model,
        data=dm.data.to_dict(),  # dims resolved from the store
        model_name=name,
        target_range=jsonable({"lo": model.scaler.lo, "hi": model.scaler.hi})
        if hasattr(model, "scaler")
        else None,
        spread=None if spread is None else spread.as_dict(),
    )
    write_json(outs.metrics, metrics, nan_as_none=False)
    _figures(name, model, dm, arrays["test"], result.history, outs, out_dir, spread)
    log.info(
        "%s: test %s", name, {k: v for k, v in metrics["test"].items() if isinstance(v, float)}
    )
    return metrics


def _fingerprint(
    name: str,
    model: pl.LightningModule,
    dm: PoreDataModule,
    settings: TrainSettings,
    structures: str | os.PathLike,
    properties: str | os.PathLike | None,
    encoder: str | os.PathLike | None,
) -> dict[str, Any]:
    """What the trained model is a function of: a checkpoint resumes only under the same one."""
    return {
        "model": name,
        "hparams": dict(model.hparams),
        "data": dm.data.to_dict(),
        "settings": {k: v for k, v in asdict(settings).items() if k not in NOT_FINGERPRINTED},
        "structures": store_identity(structures),
        "properties": store_identity(properties) if dm.data.targets else None,
        "encoder": None
        if encoder is None
        else fingerprint_hash(
            {k: v.float().sum().item() for k, v in load_state_dict(encoder).items()}
        ),
    }


def _evaluate(
    name: str, model: pl.LightningModule, dm: PoreDataModule, settings: TrainSettings, result: Any
) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """metrics.json's content (each split's report beside the porosity-only baseline, the
    calibrated spread where the model has one), the predictions per split and the spread."""
    metrics: dict[str, Any] = {
        "model": name,
        "class": type(model).__name__,
        "parameters": n_parameters(model),
        "trainable_parameters": n_parameters(model, True),
        "epochs": result.epochs,
        "best_val_loss": result.best_score,
        "resumed_from_epoch": result.resumed_from_epoch,
        "device": str(settings.torch_device()),
        "precision": settings.resolved_precision(),
        "train_seconds": result.seconds,
        "excluded_views": dict(dm.excluded),
    }
    arrays = {}
    for split in SPLITS:
        arrays[split] = predict_split(model, dm, split, settings)
        metrics[split] = model.split_report(arrays[split])
    targets = list(getattr(model, "targets", []) or [])
    if "true" in arrays["train"] and "true" in arrays["test"]:
        baseline = porosity_only_baseline(arrays["train"]["true"], arrays["test"]["true"], targets)
        if baseline is not None:
            metrics["test"]["porosity_only"] = baseline
    spread = None
    if has_logit_spread(model) and metrics["val"].get("n"):
        for split, dataset in (("val", dm.val_set), ("test", dm.test_set)):
            arrays[split]["axis"] = view_axes(dataset)
        spread, metrics["spread"] = spread_report(arrays["val"], arrays["test"])
    return metrics, arrays, spread


def has_logit_spread(model: pl.LightningModule) -> bool:
    """Whether the model gets a calibrated predictive spread (:mod:`.uncertainty`): one target
    learned on the logit scale (the diffusivity CNN)."""
    scaler = getattr(model, "scaler", None)
    return scaler is not None and scaler.kind == "logit" and len(model.targets) == 1


def _figures(
    name, model, dm, test, history, outs: Outputs, out_dir: Path, spread: LogitSpread | None
) -> None:
    for path in (outs.loss_figure, outs.parity_figure):
        path.parent.mkdir(parents=True, exist_ok=True)
    plot_loss_curves(history, outs.loss_figure, title=f"{name}: loss per epoch")
    preds, trues, names = [], [], []
    if "pred" in test:
        preds.append(test["pred"])
        trues.append(test["true"])
        names += list(model.targets)
        _write_predictions(out_dir / "predictions.csv", dm.test_set, test, model.targets)
    if "porosity_out" in test:
        preds.append(test["porosity_out"][:, None])
        trues.append(test["porosity_in"][:, None])
        names.append("porosity (reconstruction)")
    if not preds or len(preds[0]) == 0:
        plot_parity(
            np.zeros((0, 1)),
            np.zeros((0, 1)),
            ["(no test views)"],
            outs.parity_figure,
            title=f"{name}: empty test split",
        )
        return
    pred, true = np.concatenate(preds, axis=1), np.concatenate(trues, axis=1)
    title = f"{name}: test split"
    intervals = None
    if spread is not None and "axis" in test:
        # +-1 sigma bars of the calibrated spread, and its coverage of the test labels
        intervals = [spread.interval(pred[:, 0], 1.0, test["axis"])]
        calibration = coverage(pred[:, 0], true[:, 0], test["axis"], spread)
        title += (
            f"\ninside 1 sigma {100 * calibration['inside_1sigma']:.0f} %, "
            f"2 sigma {100 * calibration['inside_2sigma']:.0f} %"
        )
    plot_parity(
        pred,
        true,
        names,
        outs.parity_figure,
        title=title,
        scores=[None if not np.isfinite(v) else float(v) for v in r2(pred, true)],
        intervals=intervals,
    )


def _write_predictions(
    path: Path, dataset, arrays: Mapping[str, np.ndarray], names: Sequence[str]
) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["index", "axis", *[f"true_{n}" for n in names], *[f"pred_{n}" for n in names]]
        )
        for i in range(len(dataset)):
            index, axis = dataset.view(i)
            writer.writerow([index, axis, *arrays["true"][i].tolist(), *arrays["pred"][i].tolist()])


__all__ = [
    "MODELS",
    "SPLITS",
    "FitResult",
    "Outputs",
    "TrainSettings",
    "build_model",
    "fit",
    "quick_fit",
    "search_latent_size",
    "train",
]
