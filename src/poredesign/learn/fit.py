"""Fitting and evaluating a model with a Lightning ``Trainer``: devices, checkpoints, resuming.

:func:`fit` trains with checkpoints in ``work_dir/checkpoints``: ``best.ckpt`` (lowest
``val_loss``) and ``last.ckpt`` (every epoch), CSV logs in ``work_dir/logs`` and early stopping on
``val_loss`` where asked (the permeability CNN). :func:`quick_fit` trains without either (Optuna
trials, repeated runs). :func:`evaluate` runs a model's own ``predict_step`` over one split through
``Trainer.predict`` and returns its ``split_report``.

Devices and precision come from :mod:`poredesign.devices`: CUDA when present (``device: auto``),
else the CPU; bf16 mixed precision on the GPU, fp32 on the CPU.

Training is a function of the config. When ``checkpoints/last.ckpt`` exists and ``resume.json``
(a fingerprint) matches the current settings (everything except the device and the log interval;
the epoch budget and the precision included), training continues from that checkpoint: the
epoch counter, optimizer and scheduler state, early-stopping and best-model bookkeeping, and
torch's random state (shuffle, augmentation and dropout draws) carry on, so an interrupted run
resumed gives the weights an uninterrupted one gives (tested). Any other change, a higher or
lower ``epochs`` included, trains from scratch: a resumed budget change would not give the model
of that budget from scratch (the checkpoint is past a lower budget; early stopping and the
best-model choice of a higher one differ), and the model must not depend on the history of the
config. The Lightning checkpoint is read with ``weights_only=True``
(``Trainer.fit(weights_only=True)``): torch's restricted unpickler then accepts tensors and plain
containers only, so even the resume file cannot execute code. Hyperparameters are therefore kept
JSON-plain (numbers, strings, lists).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger

from poredesign.devices import lightning_accelerator, lightning_precision, torch_device
from poredesign.jsonable import jsonable, read_json, write_json
from poredesign.learn.base import concat_outputs
from poredesign.learn.data import PoreDataModule
from poredesign.runlog import error_line
from poredesign.store import attributes, open_group

log = logging.getLogger(__name__)


class _NoProductTips(logging.Filter):
    """Drops Lightning's product tips ("💡 Tip: ... litlogger / litmodels"): they say nothing
    about the run and would stand in every training log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip:")


logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(_NoProductTips())

#: settings that do not change what is learned (not part of the resume fingerprint); the worker
#: count does (each worker draws its own augmentations), and the device does through the
#: precision it resolves to
NOT_FINGERPRINTED = ("device", "log_every_n_steps")


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
    phase_epochs: list[int] | None = None  # pvae: epochs of the vae, regressor, joint phases

    @classmethod
    def from_config(
        cls,
        section: Mapping[str, Any],
        common: Mapping[str, Any],
        seed: int,
        device: str = "auto",
    ) -> TrainSettings:
        """The Trainer's settings of a model's validated ``learn.<model>`` section (epochs, batch
        size, early stopping, pVAE phases) and the shared ``learn`` keys (workers, precision, log
        interval), the study ``seed`` and ``device``. The section's other keys are the data's
        (:meth:`~poredesign.learn.data.DataConfig.for_model`) and the model's (``hparams``).
        The fallbacks are the defaults of the fields (the shared ones the schema's; the
        per-model ones differ by model, and a validated section always holds them)."""
        return cls(
            epochs=int(section.get("epochs", cls.epochs)),
            batch_size=int(section.get("batch_size", cls.batch_size)),
            num_workers=int(common.get("num_workers", cls.num_workers)),
            device=device,
            precision=str(common.get("precision", cls.precision)),
            seed=int(seed),
            early_stopping=section.get("early_stopping"),
            log_every_n_steps=int(common.get("log_every_n_steps", cls.log_every_n_steps)),
            phase_epochs=section.get("phase_epochs"),
        )

    @classmethod
    def for_model(
        cls,
        name: str,
        section: Mapping[str, Any] | None = None,
        common: Mapping[str, Any] | None = None,
        seed: int = 0,
        device: str = "auto",
    ) -> TrainSettings:
        """Model ``name``'s Trainer settings: :meth:`from_config` on the schema's defaults of
        ``learn.<name>`` and the shared ``learn`` keys, overridden by ``section`` and ``common``
        (the validated sections, in the workflow, hold every key already)."""
        from poredesign.config import schema_default

        section = {**schema_default(f"learn.{name}"), **dict(section or {})}
        common = {**schema_default("learn"), **dict(common or {})}
        return cls.from_config(section, common, seed, device)

    def accelerator(self) -> str:
        """Lightning's accelerator name, ``"gpu"`` or ``"cpu"``."""
        return lightning_accelerator(self.device)

    def resolved_precision(self) -> str:
        """Lightning's precision: ``precision`` unless ``auto`` (bf16-mixed on CUDA, else fp32)."""
        return lightning_precision(self.device, self.precision)

    def torch_device(self) -> torch.device:
        """The ``torch.device`` training and evaluation run on."""
        return torch_device(self.device)


def fingerprint_hash(obj: Any) -> str:
    """A short stable hash of a JSON-able description (resume fingerprints, Optuna study names)."""
    return hashlib.sha256(json.dumps(jsonable(obj), sort_keys=True).encode()).hexdigest()[:16]


def store_identity(path: str | os.PathLike | None) -> dict[str, Any] | None:
    """A store's absolute path and attributes: part of a resume fingerprint."""
    if path is None:
        return None
    # provenance only: the chunk checksums would put megabytes into resume.json at paper scale
    attrs = attributes(open_group(path))
    return {"path": os.path.abspath(path), "attrs": jsonable(attrs)}


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


class _RandomState(Callback):
    """Keeps torch's random state in each checkpoint and restores it on resume, so the epochs
    after a resume draw what they would have drawn without the interruption."""

    def state_dict(self) -> dict[str, Any]:
        state = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["cpu"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])


def join_history(log_dir: Path, out: Path) -> Path:
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
    """What :func:`fit` did: checkpoints, epochs trained in all, the best monitored loss, the
    joined history CSV, the epoch it resumed from (None = from scratch) and its wall time (s)."""

    best_path: Path | None
    last_path: Path
    epochs: int
    best_score: float | None
    history: Path
    resumed_from_epoch: int | None
    seconds: float


def _trainer(settings: TrainSettings, **kwargs: Any) -> pl.Trainer:
    """A quiet one-device Trainer on the settings' accelerator and precision."""
    return pl.Trainer(
        accelerator=settings.accelerator(),
        devices=1,
        precision=settings.resolved_precision(),
        enable_progress_bar=False,
        enable_model_summary=False,
        **kwargs,
    )


def _resume_epoch(last: Path, model: pl.LightningModule, work_dir: Path) -> int | None:
    """The epoch ``last.ckpt`` resumes from; None when it is unreadable (truncated, foreign) or
    its weights do not fit ``model``: then it is moved aside into ``work_dir`` and logged."""
    try:
        state = torch.load(last, map_location="cpu", weights_only=True)
        weights, expected = state["state_dict"], model.state_dict()
        if set(weights) != set(expected) or any(
            tuple(weights[k].shape) != tuple(v.shape) for k, v in expected.items()
        ):
            raise ValueError("its weights do not fit the model")
        return int(state.get("epoch", -1)) + 1
    except Exception as err:
        aside = work_dir / f"{last.name}.unusable-{time.strftime('%Y%m%d-%H%M%S')}"
        os.replace(last, aside)
        log.warning(
            "checkpoint %s cannot be resumed (%s): moved to %s; training from scratch",
            last,
            error_line(err),
            aside,
        )
        return None


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
    max_epochs = int(settings.epochs if epochs is None else epochs)
    resumed_from = _resume_or_reset(model, work_dir, settings, fingerprint, max_epochs)
    resume = resumed_from is not None
    checkpoint, callbacks = _callbacks(ckpt_dir, monitor, settings)
    on_gpu = settings.accelerator() == "gpu"
    if on_gpu:
        torch.set_float32_matmul_precision("high")
    trainer = _trainer(
        settings,
        max_epochs=max_epochs,
        callbacks=callbacks,
        logger=CSVLogger(save_dir=work_dir, name="logs", version=""),
        default_root_dir=work_dir,
        log_every_n_steps=settings.log_every_n_steps,
        num_sanity_val_steps=0,
        benchmark=on_gpu,
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
    history = join_history(log_dir, work_dir / "history.csv")
    return FitResult(
        best,
        last,
        int(trainer.current_epoch),
        None if score is None else float(score),
        history,
        resumed_from,
        seconds,
    )


def _resume_or_reset(
    model: pl.LightningModule,
    work_dir: Path,
    settings: TrainSettings,
    fingerprint: Mapping[str, Any] | None,
    max_epochs: int,
) -> int | None:
    """The epoch ``last.ckpt`` resumes from when it was written under the same fingerprint;
    otherwise None, with the checkpoints and logs cleared and the new fingerprint recorded."""
    ckpt_dir, log_dir = work_dir / "checkpoints", work_dir / "logs"
    last, fp_path = ckpt_dir / "last.ckpt", work_dir / "resume.json"
    # the epoch budget of this fit (a pVAE phase's own) is part of what it learns
    fp = fingerprint_hash(
        {
            **(fingerprint or {}),
            "max_epochs": max_epochs,
            "precision": settings.resolved_precision(),
        }
    )
    resume = last.exists() and fp_path.exists() and read_json(fp_path).get("hash") == fp
    resumed_from = _resume_epoch(last, model, work_dir) if resume else None
    if resumed_from is not None:
        k = len(list(log_dir.glob("metrics-*.csv")))
        if (log_dir / "metrics.csv").exists():
            os.replace(log_dir / "metrics.csv", log_dir / f"metrics-{k:03d}.csv")
        log.info("resuming %s from %s (epoch %d)", type(model).__name__, last, resumed_from)
        return resumed_from
    if last.exists():
        log.warning(
            "%s was trained with other settings (the epoch budget, the data or the model "
            "differ; %s lists them): training from scratch",
            last,
            fp_path,
        )
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    shutil.rmtree(log_dir, ignore_errors=True)
    ckpt_dir.mkdir(parents=True)
    write_json(fp_path, {"hash": fp, "fingerprint": fingerprint or {}}, nan_as_none=False)
    return None


def _callbacks(
    ckpt_dir: Path, monitor: str, settings: TrainSettings
) -> tuple[ModelCheckpoint, list[Callback]]:
    """The best-model checkpoint and every callback of a fit."""
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
    callbacks: list[Callback] = [checkpoint, latest, _EpochLog(), _RandomState()]
    if settings.early_stopping:
        callbacks.append(
            EarlyStopping(monitor=monitor, mode="min", patience=int(settings.early_stopping))
        )
    return checkpoint, callbacks


def quick_fit(
    model: pl.LightningModule,
    datamodule: pl.LightningDataModule,
    epochs: int,
    settings: TrainSettings,
    validate: bool = False,
    train_loader: Any = None,
) -> pl.Trainer:
    """A fit without checkpoints or logs (Optuna trials, repeated runs, fine-tuning); with
    ``train_loader`` the model trains on that loader instead of ``datamodule`` (then None)."""
    trainer = _trainer(
        settings,
        max_epochs=int(epochs),
        logger=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if validate else 0,
    )
    if train_loader is not None:
        trainer.fit(model, train_dataloaders=train_loader)
    else:
        trainer.fit(model, datamodule=datamodule)
    return trainer


def predict_split(
    model: pl.LightningModule, datamodule: PoreDataModule, split: str, settings: TrainSettings
) -> dict[str, np.ndarray]:
    """The model's per-sample ``predict_step`` values over the unaugmented ``split`` (train, val
    or test) in view order, concatenated (``{}`` for an empty split). The model is left on the
    CPU."""
    loader = datamodule.eval_dataloader(split)
    if len(loader) == 0:
        return {}
    trainer = _trainer(settings, logger=False, enable_checkpointing=False)
    outputs = concat_outputs(trainer.predict(model, dataloaders=loader))
    model.cpu()
    return outputs


def evaluate(
    model: pl.LightningModule, datamodule: PoreDataModule, split: str, settings: TrainSettings
) -> dict[str, Any]:
    """The model's ``split_report`` of ``split``: its loss (as in training, without
    regularisation) and metrics."""
    return model.split_report(predict_split(model, datamodule, split, settings))


__all__ = [
    "NOT_FINGERPRINTED",
    "FitResult",
    "TrainSettings",
    "evaluate",
    "fingerprint_hash",
    "fit",
    "join_history",
    "predict_split",
    "quick_fit",
    "store_identity",
]
