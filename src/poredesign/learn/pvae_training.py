"""The pVAE's staged training: its three phases and the search of its latent size (the transfer
experiment, repeated runs of the transfer regressor, is the transfer stage's:
:mod:`poredesign.learn.transfer_experiment`).

- :func:`fit_phases`: the pVAE's three training phases (vae, regressor, joint), each a resumable
  :func:`~poredesign.learn.fit.fit` in ``out_dir/phase-<name>``, histories joined with a
  ``phase`` column;
- :func:`search_latent_size`: Optuna (TPE) over the pVAE latent size, resumable from SQLite.

Every score comes from the model's own evaluation (:func:`~poredesign.learn.fit.evaluate`).
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from poredesign.learn.data import PoreDataModule
from poredesign.learn.factory import build_model
from poredesign.learn.fit import (
    FitResult,
    TrainSettings,
    evaluate,
    fingerprint_hash,
    fit,
    quick_fit,
)
from poredesign.learn.pvae import PHASES, PropertyVAE

log = logging.getLogger(__name__)


def resolve_phase_epochs(
    settings: TrainSettings,
    given: Sequence[int] | None = None,
    key: str = "learn.pvae.phase_epochs",
) -> list[int]:
    """Epochs of the vae, regressor and joint phases: ``given``, else ``settings.phase_epochs``,
    else ``settings.epochs`` each; ``key`` names the config key in the error."""
    epochs = list(given or settings.phase_epochs or [settings.epochs] * len(PHASES))
    if len(epochs) != len(PHASES):
        raise ValueError(f"{key} must list 3 epoch counts (vae, regressor, joint); got {epochs}")
    return epochs


def fit_phases(
    model: PropertyVAE,
    dm: PoreDataModule,
    out_dir: Path,
    settings: TrainSettings,
    fingerprint: Mapping[str, Any],
) -> FitResult:
    """pVAE training phase by phase, each resumable in ``out_dir/phase-<name>``; the histories
    joined into ``out_dir/history.csv`` with a ``phase`` column and epochs counted on."""
    epochs = resolve_phase_epochs(settings)
    rows, offset, total_seconds, result = [], 0, 0.0, None
    resumed = None
    for i, phase in enumerate(PHASES):
        model.phase = phase
        fp = {**fingerprint, "phase": phase, "previous_phase_epochs": epochs[:i]}
        result = fit(model, dm, out_dir / f"phase-{phase}", settings, fp, epochs=epochs[i])
        resumed = resumed if result.resumed_from_epoch is None else result.resumed_from_epoch
        total_seconds += result.seconds
        with open(result.history, newline="") as fh:
            for row in csv.DictReader(fh):
                row = {k: v for k, v in row.items() if k}
                row["epoch"] = str(int(float(row["epoch"])) + offset)
                row["phase"] = phase
                rows.append(row)
        offset += epochs[i]
    model.phase = "joint"
    history = out_dir / "history.csv"
    keys = sorted({k for r in rows for k in r}, key=lambda k: (k not in ("epoch", "phase"), k))
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


def search_latent_size(
    dm: PoreDataModule,
    model_kwargs: Mapping[str, Any],
    settings: TrainSettings,
    trials: int = 50,
    latent_range: Sequence[int] = (4, 256),
    phase_epochs: Sequence[int] | None = None,
    out_dir: str | os.PathLike | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Optuna (TPE, seeded) over ``latent_dim`` in ``latent_range`` (log-uniform integers).

    Each trial trains all three pVAE phases for ``phase_epochs`` (paper: 50 trials x 50 epochs)
    and scores the validation loss of the joint objective. Trials are stored in
    ``out_dir/optuna.db`` (SQLite) so an interrupted search resumes with the trials already done.
    """
    import optuna

    seed = settings.seed if seed is None else int(seed)
    epochs = resolve_phase_epochs(settings, phase_epochs, "learn.pvae.search.phase_epochs")
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
    key = fingerprint_hash([dict(model_kwargs), dm.data.to_dict(), epochs, lo, hi])
    study = optuna.create_study(
        study_name=f"pvae-latent-{key}",
        storage=storage,
        load_if_exists=True,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
    )

    def objective(trial: optuna.Trial) -> float:
        latent = trial.suggest_int("latent_dim", lo, hi, log=True)
        pl.seed_everything(seed + trial.number, workers=True, verbose=False)
        model = build_model("pvae", {**dict(model_kwargs), "latent_dim": latent}, dm)
        for phase, n in zip(PHASES, epochs, strict=True):
            model.phase = phase
            quick_fit(model, dm, n, settings)
        model.phase = "joint"
        value = evaluate(model, dm, "val", settings)["loss"]
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


__all__ = ["fit_phases", "resolve_phase_epochs", "search_latent_size"]
