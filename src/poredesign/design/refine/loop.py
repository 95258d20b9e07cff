"""The refinement loop: label where the design lives, fine-tune the surrogate, redo ABC.

Round 0 is the design stage's result: the ABC posterior (a pyABC History) of the surrogate and
the solver validation of its posterior mean. Each further round r = 1, 2, ... (at most
``rounds``) runs while the solver-validated MAPE of the posterior mean is at least ``tolerance``
(percent):

1. **Labels**: ``samples`` parameter vectors drawn from the current posterior (last generation,
   by weight); the problem builds one new structure each and labels it with the solver.
2. **Surrogate error there**: the current surrogate's prediction of those labels before it sees
   them: MAPE and RMS error per axis, the RMS logit residual per axis (the spread calibrated
   where the design lives, :class:`~poredesign.learn.uncertainty.LogitSpread`).
3. **Fine-tuning** on the labels of rounds 1..r (warm start; the problem decides how).
4. **ABC again** from the last population (:func:`~poredesign.design.abc.continue_abc`), the same
   flat prior, the fine-tuned surrogate, the schedule ``abc_tolerances`` floored at the noise
   floor (below).
5. **Validation**: ``n_validation`` new structures at the new posterior mean: solver eta mean,
   standard error per axis, MAPE and its bootstrap standard error.

**Uncertainty in the design** (the choice): a particle's predicted eta differs from the mean eta
of its parameters by the structure-to-structure scatter (the surrogate sees one random structure)
and by the surrogate's error, per axis s_a^2 = scatter_a^2 + error_a^2 (scatter: the solver std
of the last validation's structures; error: the standard deviation of the surrogate's error on
this round's new labels, eta scale, measured before fine-tuning: its mean, the bias, is what the
fine-tuning corrects, its scatter is what remains). A particle at exactly the right
parameters then has the expected distance 100 sqrt(2/pi) mean_a s_a / eta*_a. Tolerances below
that floor accept particles for lucky noise rather than for their parameters: acceptance rates
collapse and the posterior looks narrower than the surrogate can justify. With
``spread_aware`` the rerun's tolerances are clipped at the floor (repeats dropped), so the
posterior width reflects the surrogate's spread and no evaluations are spent on selecting noise;
each round records its floor.

The loop is generic: a :class:`RefineProblem` supplies the structures, the solver, the surrogate
and its fine-tuning (:mod:`.spinodoid` for the spinodoid study; the tests use an analytic toy).

Resuming: everything a round needs lives in ``work_dir/round-XX/`` (labels, surrogate, a copy of
the ABC History) and ``state.json`` lists the completed rounds with a fingerprint of the inputs
and settings (all but ``rounds`` and ``tolerance``, so raising the budget continues); a rerun
with the same fingerprint continues after the last completed round, a different one starts over.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from poredesign.config import Settings
from poredesign.design.abc.prior import BoxPrior
from poredesign.design.abc.run import continue_abc
from poredesign.design.abc.settings import AbcSettings
from poredesign.design.abc.validate import mape_standard_error
from poredesign.jsonable import jsonable, read_json, write_json
from poredesign.learn.metrics import mape
from poredesign.learn.uncertainty import LogitSpread
from poredesign.seeds import stream_rng, stream_seed

log = logging.getLogger(__name__)

#: settings that do not change what a completed round computed (not fingerprinted)
NOT_FINGERPRINTED = ("rounds", "tolerance")
#: keys of ``design.refine`` the loop does not read: the stage switch and the problem's own
#: (the correction and the prior, which a problem records in its identity)
PROBLEM_KEYS = ("enabled", "correction", "restrict_prior")


@dataclass(frozen=True)
class RefineSettings(Settings):
    """The ``design.refine`` config section (see config/schema.yaml, whose defaults these are)."""

    SECTION: ClassVar[str] = "design.refine"

    enabled: bool = True
    rounds: int = 3
    samples: int = 48
    tolerance: float = 2.0
    epochs: int = 4
    lr: float = 5e-4
    abc_tolerances: tuple[float, ...] = (10.0, 6.0, 4.0)
    population: int = 96
    correction: bool = True
    restrict_prior: bool = False
    spread_aware: bool = False

    def loop_record(self) -> dict[str, Any]:
        """The settings the loop reads (all but :data:`PROBLEM_KEYS`), as ``refine.json`` and the
        resume fingerprint record them."""
        return {k: v for k, v in asdict(self).items() if k not in PROBLEM_KEYS}


class RefineProblem(Protocol):
    """What the loop needs from a study: structures, solver and surrogate."""

    def label(self, thetas: np.ndarray, round_index: int, round_dir: Path) -> LabelledRound:
        """Build one structure per row, label it with the solver, predict it with the current
        surrogate; keep what fine-tuning needs in ``round_dir``."""

    def fine_tune(self, round_dirs: Sequence[Path], round_index: int) -> None:
        """Fine-tune the surrogate (warm start) on the labels kept in ``round_dirs``."""

    def save(self, round_dir: Path) -> None:
        """Keep the current surrogate in ``round_dir``."""

    def load(self, round_dir: Path) -> None:
        """Restore the surrogate kept by :meth:`save`."""

    def model(self, round_index: int) -> Callable[[np.ndarray], np.ndarray]:
        """The ABC model of the current surrogate: theta (B, p) -> eta (B, d)."""

    def validate(self, theta: np.ndarray) -> Validation:
        """New structures at ``theta``: solver (and surrogate) eta."""


@dataclass
class LabelledRound:
    """Solver labels ``true`` and the surrogate's predictions ``pred`` (k, d) of a round."""

    true: np.ndarray
    pred: np.ndarray


@dataclass
class Validation:
    """Solver eta (n, d) of the validation structures, the surrogate's (or None), solver time."""

    eta_solver: np.ndarray
    eta_surrogate: np.ndarray | None = None
    solver_seconds: float = 0.0


def noise_floor(scatter: np.ndarray, error: np.ndarray, target: np.ndarray) -> float:
    """Expected distance (MAPE, percent) of a particle at parameters whose mean eta is the
    target, when its predicted eta scatters by sqrt(scatter^2 + error^2) per axis (eta scale)."""
    s = np.sqrt(np.asarray(scatter, float) ** 2 + np.asarray(error, float) ** 2)
    return float(100.0 * math.sqrt(2.0 / math.pi) * np.mean(s / np.asarray(target, float)))


def floored_schedule(tolerances: Sequence[float], floor: float | None) -> list[float]:
    """``tolerances`` with every value below ``floor`` raised to it, repeats dropped."""
    out: list[float] = []
    for eps in tolerances:
        value = float(eps) if floor is None else max(float(eps), floor)
        if not out or value < out[-1]:
            out.append(value)
    return out


def draw_posterior(
    params: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """``k`` parameter rows drawn with replacement from a weighted population."""
    weights = np.asarray(weights, float) / np.sum(weights)
    return np.asarray(params, float)[rng.choice(len(weights), size=int(k), p=weights)]


def last_population(db_path: str | os.PathLike, names: Sequence[str]) -> tuple[np.ndarray, ...]:
    """(params (n, p), weights (n,)) of the last generation of a pyABC History."""
    import pyabc

    history = pyabc.History(f"sqlite:///{Path(db_path).resolve()}")
    frame, weights = history.get_distribution(t=history.max_t)
    return frame[list(names)].to_numpy(float), np.asarray(weights, float)


def surrogate_error(pred: np.ndarray, true: np.ndarray) -> dict[str, Any]:
    """Error of surrogate predictions ``pred`` against solver labels ``true`` (k, d), labels
    that are not finite and positive left out: MAPE per axis and overall (percent), RMS error
    and mean bias per axis (eta scale), RMS logit residual per axis (the local spread)."""
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    ok = np.all(np.isfinite(true) & (true > 0), axis=1)
    pred, true = pred[ok], true[ok]
    d = true.shape[1]
    spread = LogitSpread.fit(pred.ravel(), true.ravel(), np.tile(np.arange(d), len(pred)))
    return {
        "n": int(len(pred)),
        "mape_percent": float(mape(pred, true, axis=None)),
        "mape_percent_per_axis": mape(pred, true, axis=0),
        "rms_eta_per_axis": np.sqrt(np.mean((pred - true) ** 2, axis=0)),
        "bias_eta_per_axis": np.mean(pred - true, axis=0),
        "std_eta_per_axis": np.std(pred - true, axis=0),
        "sigma_logit_per_axis": spread.sigma[:d],
    }


def validation_record(validation: Validation, target: np.ndarray, seed: int) -> dict[str, Any]:
    """Mean, std and standard error per axis of the solver eta, its MAPE against the target and
    the MAPE's bootstrap standard error; the surrogate's mean and MAPE when it was asked."""
    eta = np.asarray(validation.eta_solver, float)
    n = len(eta)
    mean = np.nanmean(eta, axis=0)
    record = {
        "n_structures": n,
        "eta_solver_mean": mean,
        "eta_solver_std": np.nanstd(eta, axis=0, ddof=1) if n > 1 else np.full(len(mean), np.nan),
        "eta_solver_se": np.nanstd(eta, axis=0, ddof=1) / np.sqrt(n)
        if n > 1
        else np.full(len(mean), np.nan),
        "mape_solver_percent": float(mape(mean, target, axis=None)),
        "mape_solver_se_percent": mape_standard_error(eta, target, seed),
        "solver_seconds": validation.solver_seconds,
    }
    surrogate = validation.eta_surrogate
    if surrogate is not None and np.isfinite(surrogate).any():
        record["eta_surrogate_mean"] = np.nanmean(surrogate, axis=0)
        record["mape_surrogate_percent"] = float(
            mape(np.nanmean(surrogate, axis=0), target, axis=None)
        )
    return jsonable(record, nan_as_none=True)


@dataclass
class RoundZero:
    """The design stage's result the loop starts from."""

    db_path: Path
    theta_hat: np.ndarray
    theta_std: np.ndarray
    validation: Validation
    abc: dict[str, Any]  # status, final_epsilon, model_evaluations, wall_time_s


def round_zero_record(start: RoundZero, target: np.ndarray, seed: int) -> dict[str, Any]:
    return jsonable(
        {
            "round": 0,
            "theta_hat": start.theta_hat,
            "theta_std": start.theta_std,
            "validation": validation_record(start.validation, target, seed),
            "surrogate_error": None,
            "abc": start.abc,
            "solver_evaluations": len(start.validation.eta_solver),
            "wall_time_s": {"total": start.abc.get("wall_time_s")},
        },
        nan_as_none=True,
    )


def refine(
    problem: RefineProblem,
    target: Sequence[float],
    start: RoundZero,
    prior: BoxPrior,
    work_dir: str | os.PathLike,
    settings: RefineSettings,
    abc: AbcSettings,
    seed: int,
    identity: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the refinement rounds of one target; return the ``refine.json`` record
    (:func:`refine_summary`). ``identity`` describes the inputs (study, surrogate, solver) for
    the resume fingerprint. See the module docstring."""
    from poredesign.learn.fit import fingerprint_hash

    target = np.asarray(target, float)
    work_dir = Path(work_dir)
    fingerprint = fingerprint_hash(
        {
            "target": target,
            "settings": {
                k: v for k, v in settings.loop_record().items() if k not in NOT_FINGERPRINTED
            },
            "abc": abc.sampling(),
            "seed": seed,
            "start": {"theta_hat": start.theta_hat, "eta": start.validation.eta_solver},
            "identity": dict(identity or {}),
        }
    )
    state_path = work_dir / "state.json"
    state = read_json(state_path) if state_path.exists() else {}
    if state.get("fingerprint") == fingerprint:
        rounds = state["rounds"]
        log.info("resuming the refinement after round %d (%s)", len(rounds) - 1, state_path)
    else:
        if state:
            log.info("refinement inputs or settings changed since %s: starting over", state_path)
        shutil.rmtree(work_dir, ignore_errors=True)
        rounds = [round_zero_record(start, target, seed)]
    work_dir.mkdir(parents=True, exist_ok=True)
    write_json(state_path, {"fingerprint": fingerprint, "rounds": rounds})
    if len(rounds) > 1:
        problem.load(work_dir / f"round-{len(rounds) - 1:02d}")

    while len(rounds) <= settings.rounds and (
        rounds[-1]["validation"]["mape_solver_percent"] >= settings.tolerance
    ):
        r = len(rounds)
        rounds.append(
            _one_round(problem, r, rounds[-1], target, start, prior, work_dir, settings, abc, seed)
        )
        write_json(state_path, {"fingerprint": fingerprint, "rounds": rounds})
        done = rounds[-1]
        log.info(
            "round %d: posterior mean %s, solver-validated MAPE %.2f +- %.2f %% (%.0f s)",
            r,
            np.round(done["theta_hat"], 4).tolist(),
            done["validation"]["mape_solver_percent"],
            done["validation"]["mape_solver_se_percent"],
            done["wall_time_s"]["total"],
        )
    return refine_summary(rounds, target, settings)


def _one_round(
    problem: RefineProblem,
    r: int,
    previous: dict[str, Any],
    target: np.ndarray,
    start: RoundZero,
    prior: BoxPrior,
    work_dir: Path,
    settings: RefineSettings,
    abc: AbcSettings,
    seed: int,
) -> dict[str, Any]:
    round_dir = work_dir / f"round-{r:02d}"
    shutil.rmtree(round_dir, ignore_errors=True)  # a round interrupted earlier starts again
    round_dir.mkdir(parents=True)
    previous_db = start.db_path if r == 1 else work_dir / f"round-{r - 1:02d}" / "abc.db"
    walls: dict[str, float] = {}

    clock = time.perf_counter()
    params, weights = last_population(previous_db, prior.names)
    rng = stream_rng(seed, "refine_draws", r)
    thetas = draw_posterior(params, weights, settings.samples, rng)
    labelled = problem.label(thetas, r, round_dir)
    error = surrogate_error(labelled.pred, labelled.true)
    walls["labels"] = time.perf_counter() - clock
    log.info(
        "round %d: surrogate MAPE %.2f %% on %d new solver labels (per axis %s)",
        r,
        error["mape_percent"],
        error["n"],
        np.round(error["mape_percent_per_axis"], 2).tolist(),
    )

    clock = time.perf_counter()
    problem.fine_tune([work_dir / f"round-{i:02d}" for i in range(1, r + 1)], r)
    problem.save(round_dir)
    walls["fine_tune"] = time.perf_counter() - clock

    clock = time.perf_counter()
    scatter = previous["validation"]["eta_solver_std"]
    # the noise floor is recorded every round; it clips the schedule only when spread-aware
    floor = (
        noise_floor(scatter, error["std_eta_per_axis"], target)
        if scatter is not None and None not in scatter
        else None
    )
    schedule = floored_schedule(settings.abc_tolerances, floor if settings.spread_aware else None)
    shutil.copyfile(previous_db, round_dir / "abc.db")
    result = continue_abc(
        problem.model(r),
        round_dir / "abc.db",
        prior,
        schedule,
        settings.population,
        seed=stream_seed(seed, "refine_draws", r, 1),
        **abc.sampling(),
    )
    walls["abc"] = time.perf_counter() - clock

    clock = time.perf_counter()
    validation = problem.validate(result.theta_hat)
    walls["validation"] = time.perf_counter() - clock
    return jsonable(
        {
            "round": r,
            "theta_hat": result.theta_hat,
            "theta_std": result.theta_std,
            "validation": validation_record(validation, target, seed),
            "surrogate_error": error,
            "abc": {
                "status": result.status,
                "message": result.message,
                "noise_floor_percent": floor,
                "tolerances": schedule,
                "final_epsilon": result.final_epsilon,
                "model_evaluations": int(sum(a["model_evaluations"] for a in result.attempts)),
                "acceptance_rates": [a["acceptance_rate"] for a in result.attempts],
            },
            "solver_evaluations": settings.samples + len(validation.eta_solver),
            "wall_time_s": walls | {"total": sum(walls.values())},
        },
        nan_as_none=True,
    )


def refine_summary(
    rounds: list[dict[str, Any]], target: np.ndarray, settings: RefineSettings
) -> dict[str, Any]:
    """The ``refine.json`` record: every round, the first and the final one, why it stopped."""
    final = rounds[-1]
    reached = final["validation"]["mape_solver_percent"] < settings.tolerance
    return jsonable(
        {
            "target": target,
            "settings": settings.loop_record(),
            "rounds": rounds,
            "first": rounds[0],
            "final": final,
            "rounds_run": len(rounds) - 1,
            "reached_tolerance": bool(reached),
            "stop": "tolerance" if reached else "rounds",
            "solver_evaluations": int(sum(r["solver_evaluations"] for r in rounds)),
            "model_evaluations": int(sum(r["abc"].get("model_evaluations") or 0 for r in rounds)),
        },
        nan_as_none=True,
    )
