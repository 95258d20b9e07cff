"""Training entry points used by the Snakemake ``train`` rules.

:func:`train` builds the data module and the model, fits it with a Lightning ``Trainer`` and writes

- ``model.pt`` + ``model.json``: the best-validation weights (state_dict only) and hyperparameters;
- ``metrics.json``: train/val/test loss and the paper's metrics (MSE, MAPE, R^2 per target);
- ``history.csv`` (per-epoch losses, all resumed segments joined), ``predictions.csv`` (test split);
- figures: loss curves and predicted-vs-true parity plots (PNG).

Devices: CUDA when present (``device: auto``), else CPU; bf16 mixed precision on the GPU, fp32 on
the CPU. Checkpoints: ``checkpoints/best.ckpt`` (lowest ``val_loss``) and ``checkpoints/last.ckpt``
(every epoch). Early stopping on ``val_loss`` where the paper uses it (permeability CNN).

Resuming: when ``checkpoints/last.ckpt`` exists and ``resume.json`` (a fingerprint) matches the
current settings (everything except the epoch budget, the worker count and the device), training
continues from that checkpoint: the epoch counter, optimizer and scheduler state, early-stopping
and best-model bookkeeping carry on, so raising ``epochs`` and re-running extends the training. Any
other change starts afresh. The Lightning checkpoint is read with ``weights_only=True``
(``Trainer.fit(weights_only=True)``): torch's restricted unpickler then accepts tensors and plain
containers only, so even the resume file cannot execute code. Hyperparameters are therefore kept
JSON-plain (numbers, strings, lists).
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger

from poredesign.learn.base import n_parameters
from poredesign.learn.data import DataConfig, PoreDataModule
from poredesign.learn.diffusivity import DiffusivityCNN
from poredesign.learn.figures import plot_loss_curves, plot_parity
from poredesign.learn.io import _plain, load_state_dict, read_meta, save_model
from poredesign.learn.metrics import mse, r2, regression_report
from poredesign.learn.permeability import PermeabilityCNN
from poredesign.learn.pvae import STAGES, PropertyVAE
from poredesign.learn.transfer import TransferRegressor
from poredesign.learn.vae import VAE3D, bce_per_sample, kl_divergence
from poredesign.store import open_group

log = logging.getLogger(__name__)

MODELS: dict[str, type[pl.LightningModule]] = {
    "diffusivity": DiffusivityCNN,
    "permeability": PermeabilityCNN,
    "vae": VAE3D,
    "pvae": PropertyVAE,
    "transfer": TransferRegressor,
}

_AUG_ON = {"flip": True, "swap": True, "shift": True, "shift_axes": "orthogonal"}
_AUG_OFF = {"flip": False, "swap": False, "shift": False, "shift_axes": "orthogonal"}

#: sample definition per model (SPEC 3.x); every key can be overridden
DATA_DEFAULTS: dict[str, dict[str, Any]] = {
    "diffusivity": {
        "targets": ["eta"],
        "axes": [0, 1, 2],
        "pool": True,
        "scale": "centered",
        "augment": _AUG_ON,
    },
    "permeability": {
        "targets": ["k", "porosity"],
        "axes": [2],
        "pool": False,
        "scale": "centered",
        "augment": _AUG_ON,
    },
    "vae": {"targets": [], "axes": [0], "pool": False, "scale": "binary", "augment": _AUG_OFF},
    "pvae": {
        "targets": ["porosity", "k"],
        "axes": [2],
        "pool": False,
        "scale": "binary",
        "augment": _AUG_OFF,
    },
    "transfer": {
        "targets": ["tau"],
        "axes": [0],
        "pool": False,
        "scale": "binary",
        "augment": _AUG_OFF,
    },
}

#: settings that do not change what is learned (not part of the resume fingerprint)
_NOT_FINGERPRINTED = ("epochs", "num_workers", "device", "precision", "log_every_n_steps")


@dataclass
class TrainSettings:
    """How to train (the Trainer's side); the model's own hyperparameters live in the model."""

    epochs: int = 10
    batch_size: int = 16
    num_workers: int = 0
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto = bf16-mixed on CUDA, 32-true on CPU; or any Lightning value
    seed: int = 0
    early_stopping: int | None = None  # patience in epochs on val_loss; None = off
    log_every_n_steps: int = 50
    stage_epochs: list[int] | None = None  # pvae: epochs of the vae, regressor, joint stages

    def accelerator(self) -> str:
        if self.device == "cuda":
            if not torch.cuda.is_available():
                raise RuntimeError("config asks for device 'cuda' but torch finds no CUDA device")
            return "gpu"
        if self.device == "cpu":
            return "cpu"
        if self.device != "auto":
            raise ValueError(f"device must be auto, cpu or cuda; got {self.device!r}")
        return "gpu" if torch.cuda.is_available() else "cpu"

    def resolved_precision(self) -> str:
        if self.precision != "auto":
            return self.precision
        return "bf16-mixed" if self.accelerator() == "gpu" else "32-true"

    def torch_device(self) -> torch.device:
        return torch.device("cuda" if self.accelerator() == "gpu" else "cpu")


# ----------------------------------------------------------------------------------------------
# helpers


class _EpochLog(Callback):
    """One log line per epoch with the logged metrics (lands in the rule's log file)."""

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        metrics = {
            k: float(v)
            for k, v in trainer.callback_metrics.items()
            if k.startswith(("train_", "val_"))
        }
        text = " ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items()))
        log.info("epoch %d/%d %s", trainer.current_epoch + 1, trainer.max_epochs, text)


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(_plain(obj), sort_keys=True).encode()).hexdigest()[:16]


def _store_identity(path: str | os.PathLike | None) -> dict[str, Any] | None:
    if path is None:
        return None
    attrs = dict(open_group(path).attrs)
    return {"path": os.path.abspath(path), "attrs": _plain(attrs)}


def _join_history(log_dir: Path, out: Path) -> Path:
    """Join ``metrics-*.csv`` segments (oldest first) and the current ``metrics.csv``: rows of an
    older segment at or after the epoch the next segment starts from are dropped (they were
    trained after the checkpoint the run resumed from)."""
    segments = sorted(log_dir.glob("metrics-*.csv"))
    if (log_dir / "metrics.csv").exists():
        segments.append(log_dir / "metrics.csv")
    tables = []
    for seg in segments:
        with open(seg, newline="") as fh:
            tables.append([r for r in csv.DictReader(fh) if r.get("epoch")])
    rows: list[dict[str, str]] = []
    for i, table in enumerate(tables):
        later = [int(float(r["epoch"])) for t in tables[i + 1 :] for r in t]
        start = min(later) if later else None
        rows += [r for r in table if start is None or int(float(r["epoch"])) < start]
    keys = sorted({k for r in rows for k in r if k}, key=lambda k: (k not in ("epoch", "step"), k))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys or ["epoch", "step"])
        writer.writeheader()
        writer.writerows(rows)
    return out


@dataclass
class FitResult:
    best_path: Path | None
    last_path: Path
    epochs: int
    best_score: float | None
    history: Path
    resumed_from_epoch: int | None
    seconds: float


def fit(
    model: pl.LightningModule,
    datamodule: pl.LightningDataModule,
    work_dir: str | os.PathLike,
    settings: TrainSettings,
    fingerprint: Mapping[str, Any] | None = None,
    epochs: int | None = None,
) -> FitResult:
    """Fit with checkpoints in ``work_dir/checkpoints`` and CSV logs in ``work_dir/logs``;
    resume from ``last.ckpt`` when the fingerprint matches; load the best weights into ``model``.

    The best model is the one with the lowest ``val_loss`` (``train_loss`` when the validation
    split is empty)."""
    datamodule.setup()
    monitor = "val_loss" if len(getattr(datamodule, "val_set", [None])) else "train_loss"
    work_dir = Path(work_dir)
    ckpt_dir, log_dir = work_dir / "checkpoints", work_dir / "logs"
    last = ckpt_dir / "last.ckpt"
    fp_path = work_dir / "resume.json"
    fp = _hash(fingerprint or {})
    resume = (
        last.exists() and fp_path.exists() and json.loads(fp_path.read_text()).get("hash") == fp
    )
    resumed_from = None
    if resume:
        state = torch.load(last, map_location="cpu", weights_only=True)
        resumed_from = int(state.get("epoch", -1)) + 1
        del state
        k = len(list(log_dir.glob("metrics-*.csv")))
        if (log_dir / "metrics.csv").exists():
            os.replace(log_dir / "metrics.csv", log_dir / f"metrics-{k:03d}.csv")
        log.info("resuming %s from %s (epoch %d)", type(model).__name__, last, resumed_from)
    else:
        if last.exists():
            log.info("settings changed since %s was written: training from scratch", last)
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        shutil.rmtree(log_dir, ignore_errors=True)
        ckpt_dir.mkdir(parents=True)
        fp_path.write_text(
            json.dumps({"hash": fp, "fingerprint": _plain(fingerprint or {})}, indent=2) + "\n"
        )
    # two callbacks: Lightning's save_last only refreshes last.ckpt when the best one changes
    checkpoint = ModelCheckpoint(
        dirpath=ckpt_dir,
        filename="best",
        monitor=monitor,
        mode="min",
        save_top_k=1,
        enable_version_counter=False,
    )
    latest = ModelCheckpoint(
        dirpath=ckpt_dir, filename="last", save_top_k=1, enable_version_counter=False
    )
    callbacks: list[Callback] = [checkpoint, latest, _EpochLog()]
    if settings.early_stopping:
        callbacks.append(
            EarlyStopping(monitor=monitor, mode="min", patience=int(settings.early_stopping))
        )
    accelerator = settings.accelerator()
    if accelerator == "gpu":
        torch.set_float32_matmul_precision("high")
    trainer = pl.Trainer(
        max_epochs=int(settings.epochs if epochs is None else epochs),
        accelerator=accelerator,
        devices=1,
        precision=settings.resolved_precision(),
        callbacks=callbacks,
        logger=CSVLogger(save_dir=work_dir, name="logs", version=""),
        default_root_dir=work_dir,
        log_every_n_steps=settings.log_every_n_steps,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        benchmark=accelerator == "gpu",
    )
    start = time.perf_counter()
    trainer.fit(
        model, datamodule=datamodule, ckpt_path=str(last) if resume else None, weights_only=True
    )
    seconds = time.perf_counter() - start
    best = Path(checkpoint.best_model_path) if checkpoint.best_model_path else None
    source = best if best is not None and best.exists() else last
    state = torch.load(source, map_location="cpu", weights_only=True)
    model.load_state_dict(state["state_dict"])
    score = checkpoint.best_model_score
    history = _join_history(log_dir, work_dir / "history.csv")
    return FitResult(
        best,
        last,
        int(trainer.current_epoch),
        None if score is None else float(score),
        history,
        resumed_from,
        seconds,
    )


def quick_fit(
    model: pl.LightningModule,
    datamodule: pl.LightningDataModule,
    epochs: int,
    settings: TrainSettings,
    validate: bool = False,
) -> pl.Trainer:
    """A fit without checkpoints or logs (Optuna trials, repeated runs)."""
    trainer = pl.Trainer(
        max_epochs=int(epochs),
        accelerator=settings.accelerator(),
        devices=1,
        precision=settings.resolved_precision(),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if validate else 0,
    )
    trainer.fit(model, datamodule=datamodule)
    return trainer


# ----------------------------------------------------------------------------------------------
# evaluation


def _autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


@torch.no_grad()
def collect(model: pl.LightningModule, loader, device: torch.device) -> dict[str, np.ndarray]:
    """Predictions and per-sample reconstruction statistics over a loader (model in eval mode).

    Keys: ``pred``/``true`` (physical) and ``pred_scaled``/``true_scaled`` for models with
    targets; ``bce``, ``kl`` (per voxel), ``accuracy``, ``porosity_in``, ``porosity_out`` for VAEs.
    """
    model.eval().to(device)
    out: dict[str, list[np.ndarray]] = {}

    def add(key: str, value: torch.Tensor) -> None:
        out.setdefault(key, []).append(value.float().cpu().numpy())

    is_vae = isinstance(model, (VAE3D, PropertyVAE))
    for batch in loader:
        x, t = batch[0].to(device), batch[1].to(device)
        with _autocast(device):
            if is_vae:
                mu, logvar = model.encoder(x)
                logits = model.decoder(mu).float()
                if isinstance(model, PropertyVAE):
                    logits = model.hparams.steepness * logits
                n_vox = x[0].numel()
                add("bce", bce_per_sample(logits, x) / n_vox)
                add("kl", kl_divergence(mu.float(), logvar.float()) / n_vox)
                solid = logits > 0
                target = x > 0.5
                add("accuracy", (solid == target).flatten(1).float().mean(1))
                add("porosity_in", 1.0 - x.flatten(1).float().mean(1))
                add("porosity_out", 1.0 - solid.flatten(1).float().mean(1))
                if isinstance(model, PropertyVAE):
                    pred_scaled = model.regressor(mu).float()
            else:
                pred_scaled = model(x).float()
        if not is_vae or isinstance(model, PropertyVAE):
            add("pred_scaled", pred_scaled)
            add("true_scaled", model.scaler.encode(t.float()))
            add("pred", model.scaler.decode(pred_scaled))
            add("true", t)
    return {k: np.concatenate(v) for k, v in out.items()}


def split_report(model: pl.LightningModule, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Loss (as in training, without regularisation) and metrics of one split."""
    rep: dict[str, Any] = {}
    if "bce" in arrays:
        beta = float(model.hparams.beta)
        rep["bce"] = float(arrays["bce"].mean())
        rep["kl"] = float(arrays["kl"].mean())
        rep["voxel_accuracy"] = float(arrays["accuracy"].mean())
        rep.update(
            {
                f"{k}_porosity_reconstruction": v
                for k, v in regression_report(
                    arrays["porosity_out"], arrays["porosity_in"], ["x"]
                ).items()
            }
        )
        rep = {k.replace("_x_", "_"): v for k, v in rep.items()}
        rep["loss"] = rep["bce"] + beta * rep["kl"]
    if "pred" in arrays:
        names = list(model.targets)
        reg = regression_report(
            arrays["pred"], arrays["true"], names, arrays["pred_scaled"], arrays["true_scaled"]
        )
        rep.update(reg)
        reg_loss = float(np.mean(mse(arrays["pred_scaled"], arrays["true_scaled"])))
        if isinstance(model, PropertyVAE):
            rep["mse_scaled"] = reg_loss
            rep["loss"] = rep["loss"] + float(model.hparams.gamma) * reg_loss
        else:
            rep["loss"] = reg_loss
    n = len(next(iter(arrays.values()))) if arrays else 0
    return {"n": int(n), **rep}


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


# ----------------------------------------------------------------------------------------------
# training


def _check_kwargs(cls: type, kwargs: Mapping[str, Any], where: str) -> None:
    allowed = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ValueError(
            f"{where}: unknown hyperparameter{'s' if len(unknown) > 1 else ''} "
            f"{unknown} for {cls.__name__}; allowed: {sorted(allowed)}"
        )


def build_model(
    name: str,
    model_kwargs: Mapping[str, Any],
    datamodule: PoreDataModule,
    encoder: str | os.PathLike | None = None,
) -> pl.LightningModule:
    """Instantiate model ``name``: input size from the data, targets from the data config, the
    training split's target range for min-max scaled models, VAE encoder weights for transfer."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    cls = MODELS[name]
    kwargs = dict(model_kwargs)
    _check_kwargs(cls, kwargs, f"learn.{name}.hparams")
    datamodule.setup()
    input_size = kwargs.setdefault("input_size", datamodule.input_edge)
    if input_size != datamodule.input_edge:
        raise ValueError(
            f"learn.{name}.hparams.input_size = {input_size} but the data give "
            f"{datamodule.input_edge}^3 inputs (pooling {datamodule.data.pool})"
        )
    if "targets" in inspect.signature(cls.__init__).parameters:
        kwargs["targets"] = list(datamodule.data.targets)
    if name == "transfer" and encoder is not None:
        vae_hp = read_meta(encoder)["hparams"]
        for key in ("channels", "hidden", "latent_dim"):
            kwargs.setdefault(key, vae_hp[key])
        if vae_hp["input_size"] != input_size:
            raise ValueError(
                f"the VAE encoder {encoder} takes {vae_hp['input_size']}^3 inputs; "
                f"the transfer data give {input_size}^3"
            )
    model = cls(**kwargs)
    if getattr(model, "needs_target_range", False):
        lo, hi = datamodule.target_range()
        model.set_target_range(lo, hi)
    if name == "transfer" and model.hparams.pretrained:
        if encoder is None:
            raise ValueError(
                "the pretrained transfer regressor needs VAE encoder weights "
                "(learn.transfer.encoder)"
            )
        model.load_encoder(load_state_dict(encoder))
    return model


def _data_config(name: str, data: Mapping[str, Any] | None, seed: int) -> DataConfig:
    merged = {**DATA_DEFAULTS[name], "seed": seed, **dict(data or {})}
    merged["augment"] = {**DATA_DEFAULTS[name]["augment"], **dict(merged.get("augment") or {})}
    return DataConfig(**merged)


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
    data: Mapping[str, Any] | None = None,
    settings: TrainSettings | Mapping[str, Any] | None = None,
    outputs: Mapping[str, str | os.PathLike | None] | None = None,
    encoder: str | os.PathLike | None = None,
    search: Mapping[str, Any] | None = None,
    repeats: int = 0,
) -> dict[str, Any]:
    """Train model ``name`` (one of :data:`MODELS`) and write its outputs; return the metrics.

    ``search`` (pvae): ``{"trials": int, "latent_range": [lo, hi], "stage_epochs": [a, b, c]}`` runs
    an Optuna search over the latent size first (resumable: trials are stored in
    ``out_dir/optuna.db``). ``repeats`` (transfer): repeat the frozen-encoder and the from-scratch
    variants that many times each (``transfer_runs.csv`` and a summary in the metrics).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not isinstance(settings, TrainSettings):
        settings = TrainSettings(**(settings or {}))
    outs = Outputs.in_dir(out_dir, **dict(outputs or {}))
    model_kwargs = dict(model_kwargs or {})
    data_cfg = _data_config(name, data, settings.seed)
    dm = PoreDataModule(
        structures,
        properties if data_cfg.targets else None,
        data_cfg,
        batch_size=settings.batch_size,
        num_workers=settings.num_workers,
    )
    dm.setup()

    search_result = None
    if name == "pvae" and search and int(search.get("trials", 0)) > 0:
        search_result = search_latent_size(dm, model_kwargs, settings, out_dir=out_dir, **search)
        model_kwargs["latent_dim"] = search_result["best_latent_dim"]

    pl.seed_everything(settings.seed, workers=True, verbose=False)
    model = build_model(name, model_kwargs, dm, encoder)
    fingerprint = {
        "model": name,
        "hparams": dict(model.hparams),
        "data": data_cfg.to_dict(),
        "settings": {k: v for k, v in asdict(settings).items() if k not in _NOT_FINGERPRINTED},
        "structures": _store_identity(structures),
        "properties": _store_identity(properties) if data_cfg.targets else None,
        "encoder": None
        if encoder is None
        else _hash({k: v.float().sum().item() for k, v in load_state_dict(encoder).items()}),
    }
    log.info(
        "training %s (%s, %d parameters, %d trainable) on %s, precision %s",
        name,
        type(model).__name__,
        n_parameters(model),
        n_parameters(model, True),
        settings.accelerator(),
        settings.resolved_precision(),
    )

    if name == "pvae":
        result = _fit_stages(model, dm, out_dir, settings, fingerprint)
    else:
        result = fit(model, dm, out_dir, settings, fingerprint)

    device = settings.torch_device()
    metrics: dict[str, Any] = {
        "model": name,
        "class": type(model).__name__,
        "parameters": n_parameters(model),
        "trainable_parameters": n_parameters(model, True),
        "epochs": result.epochs,
        "best_val_loss": result.best_score,
        "resumed_from_epoch": result.resumed_from_epoch,
        "device": str(device),
        "precision": settings.resolved_precision(),
        "train_seconds": result.seconds,
        "excluded_views": dict(dm.excluded),
    }
    arrays = {}
    for split in ("train", "val", "test"):
        arrays[split] = collect(model, dm.eval_dataloader(split), device)
        metrics[split] = split_report(model, arrays[split])
    model.cpu()
    if search_result is not None:
        metrics["latent_search"] = search_result
    if name == "transfer" and repeats > 0:
        metrics["repeats"] = repeated_runs(
            dm, model_kwargs, settings, encoder, repeats, out_dir / "transfer_runs.csv"
        )

    save_model(
        model,
        outs.model,
        data=data_cfg.to_dict(),
        model_name=name,
        target_range=_plain({"lo": model.scaler.lo, "hi": model.scaler.hi})
        if hasattr(model, "scaler")
        else None,
    )
    outs.metrics.parent.mkdir(parents=True, exist_ok=True)
    outs.metrics.write_text(json.dumps(_plain(metrics), indent=2) + "\n")
    _figures(name, model, dm, arrays["test"], result.history, outs, out_dir)
    log.info(
        "%s: test %s", name, {k: v for k, v in metrics["test"].items() if isinstance(v, float)}
    )
    return metrics


def _figures(name, model, dm, test, history, outs: Outputs, out_dir: Path) -> None:
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
    plot_parity(
        pred,
        true,
        names,
        outs.parity_figure,
        title=f"{name}: test split",
        scores=[None if not np.isfinite(v) else float(v) for v in r2(pred, true)],
    )


def _fit_stages(
    model: PropertyVAE,
    dm: PoreDataModule,
    out_dir: Path,
    settings: TrainSettings,
    fingerprint: Mapping[str, Any],
) -> FitResult:
    """pVAE staged training, each stage resumable in ``out_dir/stage-<name>``; joined history."""
    epochs = list(settings.stage_epochs or [settings.epochs] * 3)
    if len(epochs) != 3:
        raise ValueError(
            f"learn.pvae.stage_epochs must list 3 epoch counts (vae, regressor, "
            f"joint); got {epochs}"
        )
    rows, offset, total_seconds, result = [], 0, 0.0, None
    resumed = None
    for i, stage in enumerate(STAGES):
        model.stage = stage
        fp = {**fingerprint, "stage": stage, "previous_stage_epochs": epochs[:i]}
        result = fit(model, dm, out_dir / f"stage-{stage}", settings, fp, epochs=epochs[i])
        resumed = resumed if result.resumed_from_epoch is None else result.resumed_from_epoch
        total_seconds += result.seconds
        with open(result.history, newline="") as fh:
            for row in csv.DictReader(fh):
                row = {k: v for k, v in row.items() if k}
                row["epoch"] = str(int(float(row["epoch"])) + offset)
                row["stage"] = stage
                rows.append(row)
        offset += epochs[i]
    model.stage = "joint"
    history = out_dir / "history.csv"
    keys = sorted({k for r in rows for k in r}, key=lambda k: (k not in ("epoch", "stage"), k))
    with open(history, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    return FitResult(
        result.best_path,
        result.last_path,
        offset,
        result.best_score,
        history,
        resumed,
        total_seconds,
    )


# ----------------------------------------------------------------------------------------------
# pVAE latent-size search and transfer repeats


def search_latent_size(
    dm: PoreDataModule,
    model_kwargs: Mapping[str, Any],
    settings: TrainSettings,
    trials: int = 50,
    latent_range: Sequence[int] = (4, 256),
    stage_epochs: Sequence[int] | None = None,
    out_dir: str | os.PathLike | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Optuna (TPE, seeded) over ``latent_dim`` in ``latent_range`` (log-uniform integers).

    Each trial trains all three pVAE stages for ``stage_epochs`` (paper: 50 trials x 50 epochs) and
    scores the validation loss of the joint objective. Trials are stored in ``out_dir/optuna.db``
    (SQLite) so an interrupted search resumes with the trials already done.
    """
    import optuna

    seed = settings.seed if seed is None else int(seed)
    stage_epochs = list(stage_epochs or settings.stage_epochs or [settings.epochs] * 3)
    lo, hi = (int(v) for v in latent_range)
    if not 1 <= lo <= hi:
        raise ValueError(
            f"learn.pvae.search.latent_range must satisfy 1 <= lo <= hi; got {[lo, hi]}"
        )
    storage = None
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{Path(out_dir, 'optuna.db').resolve()}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    key = _hash([dict(model_kwargs), dm.data.to_dict(), stage_epochs, lo, hi])
    study = optuna.create_study(
        study_name=f"pvae-latent-{key}",
        storage=storage,
        load_if_exists=True,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
    )
    device = settings.torch_device()

    def objective(trial: optuna.Trial) -> float:
        latent = trial.suggest_int("latent_dim", lo, hi, log=True)
        pl.seed_everything(seed + trial.number, workers=True, verbose=False)
        model = build_model("pvae", {**dict(model_kwargs), "latent_dim": latent}, dm)
        for stage, n in zip(STAGES, stage_epochs, strict=True):
            model.stage = stage
            quick_fit(model, dm, n, settings)
        model.stage = "joint"
        value = split_report(model, collect(model, dm.eval_dataloader("val"), device))["loss"]
        model.cpu()
        log.info(
            "latent search trial %d: latent_dim %d -> val loss %.5g", trial.number, latent, value
        )
        return value

    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    if done < trials:
        study.optimize(objective, n_trials=trials - done)
    table = [
        {"trial": t.number, "latent_dim": t.params["latent_dim"], "val_loss": t.value}
        for t in study.trials
        if t.state == optuna.trial.TrialState.COMPLETE
    ]
    if out_dir is not None:
        with open(Path(out_dir, "latent_search.csv"), "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["trial", "latent_dim", "val_loss"])
            writer.writeheader()
            writer.writerows(table)
    return {
        "best_latent_dim": int(study.best_params["latent_dim"]),
        "best_val_loss": float(study.best_value),
        "trials": table,
    }


def repeated_runs(
    dm: PoreDataModule,
    model_kwargs: Mapping[str, Any],
    settings: TrainSettings,
    encoder: str | os.PathLike | None,
    runs: int,
    table_path: str | os.PathLike | None = None,
    variants: Sequence[str] = ("pretrained", "scratch"),
) -> dict[str, Any]:
    """Train the transfer regressor ``runs`` times per variant (seeds seed, seed+1, ...): the
    frozen pretrained encoder and the from-scratch network; train/test MSE per run, mean, std."""
    device = settings.torch_device()
    rows = []
    for variant in variants:
        if variant == "pretrained" and encoder is None:
            continue
        for run in range(int(runs)):
            seed = settings.seed + run
            pl.seed_everything(seed, workers=True, verbose=False)
            kwargs = {**dict(model_kwargs), "pretrained": variant == "pretrained"}
            model = build_model("transfer", kwargs, dm, encoder)
            quick_fit(model, dm, settings.epochs, settings)
            row = {"variant": variant, "run": run, "seed": seed}
            for split in ("train", "test"):
                row[f"{split}_mse"] = split_report(
                    model, collect(model, dm.eval_dataloader(split), device)
                )["loss"]
            model.cpu()
            rows.append(row)
            log.info(
                "transfer %s run %d: train MSE %.4g, test MSE %.4g",
                variant,
                run,
                row["train_mse"],
                row["test_mse"],
            )
    if table_path is not None:
        with open(table_path, "w", newline="") as fh:
            writer = csv.DictWriter(
                fh, fieldnames=["variant", "run", "seed", "train_mse", "test_mse"]
            )
            writer.writeheader()
            writer.writerows(rows)
    summary: dict[str, Any] = {"runs": rows}
    for variant in variants:
        sel = [r for r in rows if r["variant"] == variant]
        if sel:
            summary[variant] = {
                f"{split}_mse_{stat}": float(fn([r[f"{split}_mse"] for r in sel]))
                for split in ("train", "test")
                for stat, fn in (("mean", np.mean), ("std", np.std))
            }
    return summary


def settings_from_config(
    section: Mapping[str, Any], common: Mapping[str, Any], seed: int, device: str = "auto"
) -> TrainSettings:
    """TrainSettings from a model's ``learn.<model>`` section and the shared ``learn`` keys."""
    return TrainSettings(
        epochs=int(section.get("epochs", 10)),
        batch_size=int(section.get("batch_size", 16)),
        num_workers=int(common.get("num_workers", 0)),
        device=device,
        precision=str(common.get("precision", "auto")),
        seed=int(seed),
        early_stopping=section.get("early_stopping"),
        log_every_n_steps=int(common.get("log_every_n_steps", 50)),
        stage_epochs=section.get("stage_epochs"),
    )


def data_from_config(section: Mapping[str, Any], common: Mapping[str, Any]) -> dict[str, Any]:
    """The DataConfig overrides of a model section (pool, axes, targets, augment) + shared split."""
    data = {
        k: section[k]
        for k in ("targets", "axes", "pool", "augment", "max_structures")
        if section.get(k) is not None
    }
    if "split" in common:
        data["split"] = list(common["split"])
    return data


__all__ = [
    "DATA_DEFAULTS",
    "MODELS",
    "FitResult",
    "TrainSettings",
    "build_model",
    "collect",
    "data_from_config",
    "fit",
    "quick_fit",
    "repeated_runs",
    "search_latent_size",
    "settings_from_config",
    "split_report",
    "train",
]
