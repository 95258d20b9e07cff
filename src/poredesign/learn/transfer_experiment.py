"""The ``transfer`` stage [Z23], SPEC 3.5: transfer learning on a second Voronoi dataset.

[Z23] shows that the encoder of the membrane VAE carries over to a new task: a regressor on the
frozen encoder (latent mean, no sampling) predicts the tortuosity factor of a *second* Voronoi
dataset (300 structures, n 180-250, r 2.8, split 250/50) better than the same network trained
from scratch; each variant is repeated 20 times. This module holds the stage's library:

- :func:`~poredesign.structures.transfer_dataset.generate_transfer_dataset` (re-exported here): the
  second dataset, drawn with the study's ``voronoi`` section overridden by
  ``transfer_data.voronoi`` (SPEC 1.2), from a seed derived from the study seed;
- :func:`compare_transfer`: the repeated comparison of both variants, with the check that the
  frozen encoder's weights stay those of the VAE;
- :func:`welch_test`, :func:`summarize_runs`: per-variant mean and std, Welch's t-test;
- :func:`plot_transfer`, :func:`write_transfer_json`: the stage's box plot and ``transfer.json``.

Choices where the paper is silent (documented here and in ``transfer.json``):

- **The scratch variant trains its encoder** (the paper implies it): ``pretrained=False`` builds
  the same network, every layer Xavier-initialised and trainable (the VAE's unused log-variance
  layer stays frozen in both variants). The pretrained variant loads the VAE encoder, freezes it
  and trains the dense head (64 ReLU, 64 ReLU, linear) only; after every run its encoder is
  compared with the VAE's weights and any difference stops the stage.
- **Seeds of the runs.** Run ``r`` of variant ``v`` (0 = pretrained, 1 = scratch) seeds torch,
  numpy and the data order with ``stream_seed(seed, "transfer_runs", v, r)``
  (:mod:`poredesign.seeds`: ``SeedSequence([seed, STREAMS["transfer_runs"], v, r])``, its first
  32-bit word), so all ``2 * repeats`` runs have distinct seeds and the two variants are independent
  samples, as Welch's test assumes. The train/test split is the same for every run
  (:func:`poredesign.learn.data.split_indices` with the study seed), as in the paper's single
  250/50 split.
- **Training.** ``learn.transfer.epochs`` epochs (paper 100) of Adam on the MSE of the label plus
  the head's L2 penalty; no early stopping and no validation (the paper's split has no
  validation set), the last epoch's weights are scored. The MSEs are those of
  :func:`poredesign.learn.fit.evaluate` (the model's own ``predict_step``; unaugmented views;
  without the L2 term), in units of the label squared (tau is dimensionless).
- **Statistics.** Per variant: mean and sample standard deviation (``ddof = 1``) over the runs.
  Welch's two-sided t-test (``scipy.stats.ttest_ind(pretrained, scratch, equal_var=False)``) on
  the test MSEs (``welch``; the train MSEs under ``welch_train``); ``None`` with fewer than two
  runs per variant.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from poredesign.jsonable import write_json
from poredesign.runlog import progress
from poredesign.seeds import stream_seed
from poredesign.structures.transfer_dataset import (
    generate_transfer_dataset,
    transfer_options,
    transfer_seed,
)

log = logging.getLogger(__name__)

#: the two variants: frozen pretrained VAE encoder, and the same network from scratch
VARIANTS = ("pretrained", "scratch")
#: [Z23]'s means over 20 runs (MSE of the tortuosity factor)
PAPER_MSE = {
    "pretrained": {"train_mse_mean": 0.00401, "test_mse_mean": 0.00502},
    "scratch": {"train_mse_mean": 0.00460, "test_mse_mean": 0.00567},
}


# ----------------------------------------------------------------------------------------------
# the repeated comparison


def run_seeds(seed: int, repeats: int, variants: Sequence[str] = VARIANTS) -> dict[str, list[int]]:
    """The seed of every run: ``{variant: [seed of run 0, 1, ...]}``, all distinct (32 bit)."""
    seeds = {
        v: [stream_seed(seed, "transfer_runs", k, r) for r in range(int(repeats))]
        for k, v in enumerate(variants)
    }
    flat = [s for v in seeds.values() for s in v]
    if len(set(flat)) != len(flat):  # 2^-32 per pair; never seen, but the check is cheap
        raise RuntimeError(f"transfer run seeds collide for study seed {seed}: {seeds}")
    return seeds


def encoder_change(encoder_state: Mapping[str, Any], reference: Mapping[str, Any]) -> float:
    """Largest absolute difference between two encoder state_dicts (same keys), in weight units."""
    if set(encoder_state) != set(reference):
        raise KeyError(
            f"encoder weights differ in names: {sorted(set(encoder_state) ^ set(reference))}"
        )
    return max(
        (
            float(
                (encoder_state[k].detach().cpu().float() - reference[k].cpu().float()).abs().max()
            )
            for k in reference
            if encoder_state[k].numel()
        ),
        default=0.0,
    )


def _label_stats(dm) -> dict[str, Any]:
    """Views per split, the label's mean/std, and the test MSE of predicting the train mean."""
    train = dm.train_eval_set.label_matrix()[:, 0].astype(np.float64)
    test = dm.test_set.label_matrix()[:, 0].astype(np.float64)
    return {
        "train_views": len(train),
        "test_views": len(test),
        "excluded_views": dict(dm.excluded),
        "label_train_mean": float(train.mean()) if len(train) else None,
        "label_train_std": float(train.std()) if len(train) else None,
        "label_test_mean": float(test.mean()) if len(test) else None,
        # a regressor that does not beat this has learned nothing from the structures
        "mean_predictor_test_mse": float(np.mean((test - train.mean()) ** 2))
        if len(test) and len(train)
        else None,
    }


def transfer_datamodule(
    structures: str | os.PathLike,
    transport: str | os.PathLike,
    section: Mapping[str, Any],
    split: Sequence[float],
    seed: int,
    batch_size: int = 16,
    num_workers: int = 0,
):
    """The second dataset's :class:`~poredesign.learn.data.PoreDataModule`: the transfer model's
    sample definition (:meth:`DataConfig.for_model`: binary input, no augmentation) with
    ``learn.transfer``'s pool/axes/targets, the ``transfer_data.split`` fractions and the split
    drawn from the study ``seed``; set up."""
    from poredesign.learn.data import DataConfig, PoreDataModule

    data = DataConfig.for_model("transfer", section, split=split, seed=seed)
    if len(data.targets) != 1:
        raise ValueError(f"learn.transfer.targets must name one label; got {data.targets}")
    dm = PoreDataModule(
        structures, transport, data, batch_size=int(batch_size), num_workers=int(num_workers)
    )
    dm.setup()
    return dm


def transfer_run(
    dm,
    variant: str,
    run_seed: int,
    model_kwargs: Mapping[str, Any],
    settings,
    encoder: str | os.PathLike,
    vae_encoder: Mapping[str, Any] | None = None,
):
    """One run: seed everything with ``run_seed``, build the regressor (``variant`` pretrained =
    VAE encoder loaded and frozen; scratch = all layers Xavier-initialised and trainable), train
    it ``settings.epochs`` epochs and score it. Returns ``(model, row)``; ``row`` holds variant,
    seed, train_mse, test_mse, train_seconds, encoder_trainable and ``encoder_change`` (largest
    |dw| of the encoder: pretrained against the VAE's weights, scratch against its
    initialisation). A pretrained run whose encoder changed raises ``RuntimeError``."""
    import pytorch_lightning as pl

    from poredesign.learn.factory import build_model
    from poredesign.learn.fit import evaluate, quick_fit
    from poredesign.learn.io import load_state_dict
    from poredesign.learn.transfer import encoder_weights

    if variant not in VARIANTS:
        raise ValueError(f"transfer variant must be one of {VARIANTS}; got {variant!r}")
    if variant == "pretrained" and vae_encoder is None:
        vae_encoder = encoder_weights(load_state_dict(encoder))
    pl.seed_everything(int(run_seed), workers=True, verbose=False)
    kwargs = {**dict(model_kwargs), "pretrained": variant == "pretrained"}
    model = build_model("transfer", kwargs, dm, encoder)
    before = {k: v.detach().clone() for k, v in model.encoder.state_dict().items()}
    start = time.perf_counter()
    quick_fit(model, dm, settings.epochs, settings)
    seconds = time.perf_counter() - start
    after = {k: v.detach().cpu() for k, v in model.encoder.state_dict().items()}
    row = {
        "variant": variant,
        "seed": int(run_seed),
        "train_mse": float(evaluate(model, dm, "train", settings)["loss"]),
        "test_mse": float(evaluate(model, dm, "test", settings)["loss"]),
        "train_seconds": seconds,
        "encoder_trainable": not model.frozen,
        "encoder_change": encoder_change(after, vae_encoder if variant == "pretrained" else before),
    }
    if variant == "pretrained" and row["encoder_change"] != 0.0:
        raise RuntimeError(
            f"transfer run with seed {run_seed}: the frozen encoder changed during training "
            f"(max |dw| = {row['encoder_change']:.3g}); its weights must stay the VAE's"
        )
    return model, row


def compare_transfer(
    structures: str | os.PathLike,
    transport: str | os.PathLike,
    encoder: str | os.PathLike,
    section: Mapping[str, Any],
    common: Mapping[str, Any],
    split: Sequence[float],
    seed: int,
    device: str = "auto",
    progress_file: Any = None,
) -> dict[str, Any]:
    """Train the transfer regressor ``section['repeats']`` times per variant and score each run.

    ``section`` is ``learn.transfer`` (epochs, batch_size, pool, axes, targets, repeats, hparams),
    ``common`` the shared learn keys (num_workers, precision, log_every_n_steps), ``split`` the
    (train, val, test) fractions of the second dataset, ``encoder`` the VAE's ``model.pt``.
    Returns the content of ``transfer.json`` (see :func:`summarize_runs`; plus ``data``,
    ``settings`` and the paper's means under ``paper``).
    """
    from poredesign.learn.fit import TrainSettings
    from poredesign.learn.io import load_state_dict
    from poredesign.learn.transfer import encoder_weights

    repeats = int(section.get("repeats", 0))
    if repeats < 1:
        raise ValueError(
            f"learn.transfer.repeats = {repeats}: the transfer stage needs at least one run per "
            f"variant (paper 20)"
        )
    model_kwargs = dict(section.get("hparams") or {})
    if "pretrained" in model_kwargs:
        log.info("learn.transfer.hparams.pretrained is ignored: the stage runs both variants")
        model_kwargs.pop("pretrained")
    if section.get("early_stopping"):
        log.warning("learn.transfer.early_stopping is ignored by the transfer stage (no val split)")
    settings = TrainSettings.for_model("transfer", section, common, seed, device)
    dm = transfer_datamodule(
        structures, transport, section, split, seed, settings.batch_size, settings.num_workers
    )
    data = dm.data
    vae_encoder = encoder_weights(load_state_dict(encoder))
    seeds = run_seeds(seed, repeats)
    jobs = [(v, r) for v in VARIANTS for r in range(repeats)]
    rows: list[dict[str, Any]] = []
    for variant, run in progress(jobs, "transfer runs", progress_file, unit="run"):
        model, row = transfer_run(
            dm, variant, seeds[variant][run], model_kwargs, settings, encoder, vae_encoder
        )
        rows.append({"variant": variant, "run": run, **row})
        log.info(
            "transfer %s run %d (seed %d): train MSE %.4g, test MSE %.4g, encoder change %.3g",
            variant,
            run,
            row["seed"],
            row["train_mse"],
            row["test_mse"],
            row["encoder_change"],
        )
    result = summarize_runs(rows)
    result["data"] = {
        "structures": str(structures),
        "transport": str(transport),
        "encoder": str(encoder),
        "target": data.targets[0],
        "axes": list(data.axes),
        "split": list(data.split),
        "split_seed": int(seed),
        **_label_stats(dm),
    }
    result["settings"] = {
        "epochs": settings.epochs,
        "batch_size": settings.batch_size,
        "repeats": repeats,
        "hparams": {k: v for k, v in dict(model.hparams).items() if k != "pretrained"},
        "device": str(settings.torch_device()),
        "precision": settings.resolved_precision(),
        "study_seed": int(seed),
    }
    result["paper"] = PAPER_MSE
    return result


# ----------------------------------------------------------------------------------------------
# statistics


def welch_test(a: Sequence[float], b: Sequence[float]) -> dict[str, float | None]:
    """Welch's two-sided t-test of mean(a) = mean(b) (unequal variances): statistic, p-value and
    degrees of freedom; ``None`` each when either sample has fewer than two values."""
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return {"statistic": None, "p_value": None, "df": None}
    res = stats.ttest_ind(a, b, equal_var=False)
    return {
        "statistic": float(res.statistic),
        "p_value": float(res.pvalue),
        "df": float(getattr(res, "df", np.nan)),
    }


def summarize_runs(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``transfer.json`` from the per-run rows: ``runs``; per variant (``variants``) the number of
    runs, mean and sample std (ddof 1) of train and test MSE; Welch's test of pretrained against
    scratch on the test MSEs (``welch``, and ``welch_p_value``) and on the train MSEs
    (``welch_train``)."""
    variants: dict[str, Any] = {}
    for v in VARIANTS:
        sel = [r for r in rows if r["variant"] == v]
        entry: dict[str, Any] = {"runs": len(sel), "seeds": [int(r["seed"]) for r in sel]}
        for split in ("train", "test"):
            x = np.array([r[f"{split}_mse"] for r in sel], dtype=float)
            entry[f"{split}_mse_mean"] = float(x.mean()) if len(x) else None
            entry[f"{split}_mse_std"] = float(x.std(ddof=1)) if len(x) > 1 else None
        variants[v] = entry

    def mses(v: str, split: str) -> list[float]:
        return [float(r[f"{split}_mse"]) for r in rows if r["variant"] == v]

    welch = welch_test(mses("pretrained", "test"), mses("scratch", "test"))
    return {
        "runs": [dict(r) for r in rows],
        "variants": variants,
        "welch": {**welch, "metric": "test_mse", "a": "pretrained", "b": "scratch"},
        "welch_p_value": welch["p_value"],
        "welch_train": {
            **welch_test(mses("pretrained", "train"), mses("scratch", "train")),
            "metric": "train_mse",
            "a": "pretrained",
            "b": "scratch",
        },
    }


def write_transfer_json(result: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write ``result`` as JSON (NaN as null), atomically (temporary file, then rename)."""
    return write_json(path, result)


# ----------------------------------------------------------------------------------------------
# figure


def plot_transfer(result: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Box plot of train and test MSE per variant (every run as a dot; the paper's mean as a
    red bar; on the test panel the MSE of predicting the training mean as a dotted line), with
    Welch's p-value of the test MSEs in the title; PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    runs = result["runs"]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), sharey=False)
    for ax, split in zip(axes, ("train", "test"), strict=True):
        data = [[r[f"{split}_mse"] for r in runs if r["variant"] == v] for v in VARIANTS]
        shown = [d if d else [np.nan] for d in data]
        ax.boxplot(shown, widths=0.5)
        ax.set_xticks(range(1, len(VARIANTS) + 1), ["frozen VAE encoder", "from scratch"])
        for k, d in enumerate(data, start=1):
            offsets = np.linspace(-0.12, 0.12, len(d)) if len(d) > 1 else np.zeros(len(d))
            ax.plot(k + offsets, d, "o", ms=3, alpha=0.6, color="tab:blue")
            paper = PAPER_MSE[VARIANTS[k - 1]][f"{split}_mse_mean"]
            ax.hlines(paper, k - 0.3, k + 0.3, colors="tab:red", linestyles="--", lw=1)
        ax.set_ylabel(f"{split} MSE")
        ax.set_title(f"{split} split")
        ax.grid(axis="y", alpha=0.3)
    p = result.get("welch_p_value")
    n = max((v.get("runs", 0) for v in result.get("variants", {}).values()), default=0)
    axes[1].plot([], [], "--", color="tab:red", label="[Z23] mean")
    baseline = (result.get("data") or {}).get("mean_predictor_test_mse")
    if baseline is not None:
        axes[1].axhline(baseline, color="0.4", ls=":", lw=1, label="predict the train mean")
    axes[1].legend(loc="best", fontsize=8)
    fig.suptitle(
        f"Transfer learning, {n} runs per variant; Welch p (test MSE) = "
        + ("n/a" if p is None or not np.isfinite(p) else f"{p:.3g}")
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


__all__ = [
    "PAPER_MSE",
    "VARIANTS",
    "compare_transfer",
    "encoder_change",
    "generate_transfer_dataset",
    "plot_transfer",
    "run_seeds",
    "summarize_runs",
    "transfer_datamodule",
    "transfer_run",
    "transfer_options",
    "transfer_seed",
    "welch_test",
]
