"""The BO's SQLite storage: one Optuna study per repeat, resumed after a killed job [Z23].

Each repeat is an Optuna study ``<target>-repeat<jj>`` in one SQLite file. A rerun continues every
study to ``n_trials`` counted trials (:func:`counted`: complete ones, and ones whose structure could
not be built, which carry the ``error`` user attribute). Trials left ``RUNNING`` by a killed job
are marked failed (one job owns the storage) and are not counted, so no finished trial is lost or
repeated. The study records its target, bounds, seeds and the target's latent mean; a rerun with a
different target, bounds, seed choice or encoder (latent mean differs by more than
:data:`ENCODER_TOLERANCE` of its norm) raises :class:`StaleStorageError`, upon which
:func:`set_aside_if_stale` moves the old storage aside (``bo.db.stale-<time>``, logged) and the
target starts afresh.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.trial import TrialState

if TYPE_CHECKING:
    from poredesign.design.bo.problem import BOProblem

log = logging.getLogger(__name__)

ENCODER_TOLERANCE = 0.01


class StaleStorageError(ValueError):
    """The BO storage was made for another target, config or encoder: it cannot be resumed."""


def counted(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether ``trial`` counts towards ``n_trials``: complete, or failed to build a structure."""
    return trial.state == TrialState.COMPLETE or (
        trial.state == TrialState.FAIL and "error" in trial.user_attrs
    )


def study_name(name: str, repeat: int) -> str:
    """The Optuna study of ``repeat`` of target ``name``."""
    return f"{name}-repeat{repeat:02d}"


def _storage(db: str | os.PathLike) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(f"sqlite:///{os.path.abspath(db)}")


def check_resumable(study: optuna.Study, record: dict[str, Any], mu: np.ndarray, db: str) -> None:
    """Record ``record`` and the target's latent mean ``mu`` in a new study; raise
    :class:`StaleStorageError` when a stored study was made with another record or mean."""
    stored = study.user_attrs.get("record")
    if stored is None:
        study.set_user_attr("record", record)
        study.set_user_attr("target_mu", [float(v) for v in mu])
        return
    if stored != record:
        raise StaleStorageError(
            f"BO storage {db} (study {study.study_name}) was made with {stored}, the config now "
            f"asks for {record}"
        )
    old = np.asarray(study.user_attrs["target_mu"])
    if old.shape != mu.shape or np.linalg.norm(old - mu) > ENCODER_TOLERANCE * max(
        1.0, float(np.linalg.norm(mu))
    ):
        raise StaleStorageError(
            f"BO storage {db} (study {study.study_name}): the target's latent mean differs from "
            f"the stored one (another model?)"
        )


def check_storage(problem: BOProblem) -> None:
    """Raise :class:`StaleStorageError` when an existing storage holds this target's studies made
    with another record (target, bounds, seeds) or another target latent mean (encoder)."""
    if not os.path.exists(problem.db):
        return
    storage = _storage(problem.db)
    try:
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
            if summary.study_name.startswith(f"{problem.name}-repeat"):
                study = optuna.load_study(study_name=summary.study_name, storage=storage)
                if study.user_attrs.get("record") is not None:
                    check_resumable(study, problem.record, problem.target_mu, problem.db)
    finally:
        storage.engine.dispose()


def set_aside_if_stale(problem: BOProblem) -> None:
    """Move the storage aside (``<db>.stale-<time>``, logged) when :func:`check_storage` finds it
    stale: a retrained VAE or a changed target makes the stored trials meaningless."""
    try:
        check_storage(problem)
    except StaleStorageError as err:
        # start afresh, keeping the old storage beside it
        aside = f"{problem.db}.stale-{time.strftime('%Y%m%d-%H%M%S')}"
        os.replace(problem.db, aside)
        log.warning("%s: moved to %s; this target starts afresh", err, aside)


def open_study(problem: BOProblem, repeat: int) -> tuple[optuna.Study, int]:
    """Create or resume the study of ``repeat``: check it against the problem's record, mark the
    trials a killed job left running failed; returns the study and its counted trials."""
    storage = _storage(problem.db)
    name = study_name(problem.name, repeat)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=name, storage=storage, direction="minimize", load_if_exists=True
    )
    check_resumable(study, problem.record, problem.target_mu, problem.db)
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
    for trial in stale:  # left by a killed job: this job owns the storage
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    if stale:
        log.warning("%s: %d interrupted trial(s) marked failed, not counted", name, len(stale))
    return study, sum(counted(t) for t in study.get_trials(deepcopy=False))
