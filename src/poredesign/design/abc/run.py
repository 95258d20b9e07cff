"""Running ABC-SMC (pyABC) for one target: tolerances, perturbation, the run [R22, SPEC 4.1].

The posterior f(theta | eta*) over generator parameters theta for a target eta* is sampled with
pyABC's ``ABCSMC`` and stored in a pyABC ``History`` (one SQLite database per target):

- **Model**: ``predict_batch(theta (B, p)) -> eta (B, d)``, any batched callable (the study's:
  :func:`~poredesign.design.abc.surrogate.spinodoid_cnn_model`);
  :class:`~poredesign.design.abc.sampler.BatchSampler` evaluates whole batches of proposals per
  model call and accepts and weights per particle exactly as pyABC does.
- **Distance**: :class:`~poredesign.design.abc.distance.MAPEDistance` (percent).
- **Prior**: flat, :mod:`poredesign.design.abc.prior`.
- **Tolerances**: an explicit schedule (``pyabc.epsilon.ListEpsilon``); default nine values
  log-spaced from 100 to 1 (:func:`default_tolerances`). Particle accepted when rho <= eps_t.
- **Perturbation**: ``MultivariateNormalTransition(scaling=2, bandwidth_selector=unit_bandwidth)``.
  pyABC's kernel covariance is ``scaling * bw(n_eff, d)^2 * Cov_w`` with ``Cov_w`` the weighted
  covariance of the previous population; with ``bw = 1`` and ``scaling = 2`` it is ``2 Cov_w``, a
  Gaussian perturbation whose standard deviation along every direction is sqrt(2) times the
  population's (the SPEC's choice, Beaumont et al. 2009's optimal-kernel variance). Proposals with
  zero prior density are redrawn.
- **Stopping**: the run ends after the last tolerance ("converged"), or earlier when a generation
  cannot reach ``population`` acceptances within ``population / min_acceptance_rate`` evaluations
  (pyABC's ``max_eval``; status "acceptance_rate_too_low"), when ``max_total_nr_simulations``
  would be exceeded ("simulation_budget_exhausted") or after ``max_walltime_s`` ("walltime");
  :func:`~poredesign.design.abc.result.diagnose` writes the message.
- **Randomness**: pyABC draws from numpy's global random state (``np.random``; scipy.stats uses it
  too). :func:`run_abc` calls ``np.random.seed(seed)`` before the run, so the same seed, model and
  batch size give the same posterior. The model draws structures from its own seeds.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyabc

from poredesign.design.abc.distance import MAPEDistance
from poredesign.design.abc.prior import BoxPrior
from poredesign.design.abc.result import (
    AbcResult,
    ABCStoppedError,
    Generation,
    best_distance_reached,
    diagnose,
)
from poredesign.design.abc.sampler import STOP_OK, BatchModel, BatchSampler

log = logging.getLogger(__name__)


def default_tolerances(n: int = 9, first: float = 100.0, last: float = 1.0) -> list[float]:
    """``n`` tolerances log-spaced from ``first`` to ``last`` (SPEC 4.1: 9 from 100 to 1)."""
    if n < 1 or first <= 0 or last <= 0:
        raise ValueError(f"tolerances need n >= 1 and positive ends; got n={n}, {first}..{last}")
    return [float(v) for v in np.geomspace(first, last, n)]


def unit_bandwidth(n_samples: float, dimension: int) -> float:  # noqa: ARG001
    """Bandwidth factor 1 for ``MultivariateNormalTransition``: the kernel covariance is then
    ``scaling`` times the weighted population covariance."""
    return 1.0


def perturbation_transition(
    std_factor: float = math.sqrt(2.0),
) -> pyabc.MultivariateNormalTransition:
    """Gaussian perturbation with ``std_factor`` times the population's standard deviation."""
    return pyabc.MultivariateNormalTransition(
        scaling=float(std_factor) ** 2, bandwidth_selector=unit_bandwidth
    )


def _as_prior(prior_bounds, support) -> BoxPrior:
    if isinstance(prior_bounds, BoxPrior):
        if support is not None:
            return BoxPrior(prior_bounds.bounds, support)
        return prior_bounds
    return BoxPrior(prior_bounds, support)


def run_abc(
    predict_batch: Callable[[np.ndarray], np.ndarray],
    target: Sequence[float],
    prior_bounds: Mapping[str, Sequence[float]] | BoxPrior,
    population: int = 512,
    tolerances: Sequence[float] | None = None,
    db_path: str | os.PathLike | None = "abc.db",
    seed: int = 0,
    *,
    support: Callable[[np.ndarray], np.ndarray] | None = None,
    stat_name: str = "eta",
    batch_size: int = 4096,
    min_batch_size: int = 64,
    min_acceptance_rate: float = 1e-3,
    max_total_nr_simulations: float | None = None,
    max_walltime_s: float | None = None,
    perturbation_std_factor: float = math.sqrt(2.0),
    sampler: pyabc.sampler.Sampler | None = None,
    strict: bool = False,
    append: bool = False,
) -> AbcResult:
    """ABC-SMC posterior over the parameters for one target (see the module docstring).

    Parameters
    ----------
    predict_batch: theta (B, p), columns in the prior's order -> summary statistics (B, d).
    target: eta* (d values, all > 0).
    prior_bounds: {name: (lo, hi)} in the model's column order, or a :class:`BoxPrior`
        (e.g. :func:`spinodoid_prior`); ``support`` optionally restricts a bounds mapping.
    population: particles per generation.
    tolerances: the schedule (default :func:`default_tolerances`: 9 from 100 to 1); one
        generation per value.
    db_path: the pyABC SQLite database for this target; an existing file is replaced; None keeps
        the History in memory (benchmarks, tests).
    seed: seeds numpy's global random state (pyABC's proposals).
    batch_size, min_batch_size: BatchSampler bounds on proposals per model call.
    min_acceptance_rate: a generation stops unsuccessfully after population / rate evaluations;
        must be > 0 so that an unreachable target terminates.
    max_total_nr_simulations: optional budget over the whole run (counted as pyABC counts).
    max_walltime_s: optional wall-clock limit (checked between generations, by pyABC).
    perturbation_std_factor: perturbation std / population std (sqrt(2), SPEC 4.1).
    sampler: another pyABC sampler (tests: ``SingleCoreSampler(check_max_eval=True)``).
    strict: raise :class:`ABCStoppedError` instead of returning a non-converged result.
    append: add the generations to the run stored at ``db_path`` (:func:`continue_abc`) instead
        of replacing it; ``max_total_nr_simulations`` then counts the new generations only.
    """
    prior = _as_prior(prior_bounds, support)
    target, tolerances = _checked_inputs(
        target, tolerances, population, min_acceptance_rate, stat_name
    )
    sampler = sampler if sampler is not None else BatchSampler(batch_size, min_batch_size)
    schedule = list(tolerances)
    if append:
        db_path = Path(db_path).resolve()
        history = pyabc.History(f"sqlite:///{db_path}")
        schedule = _stored_tolerances(history, db_path) + schedule
        if max_total_nr_simulations is not None:
            max_total_nr_simulations += int(history.total_nr_simulations)
    abc = _abcsmc(
        predict_batch, prior, stat_name, population, schedule, sampler, perturbation_std_factor
    )
    np.random.seed(int(seed) % 2**32)  # noqa: NPY002  (pyABC draws from the global state)
    if append:
        _load_stored_run(abc, history, db_path, stat_name, target)
    else:
        db_path = _new_run(abc, db_path, stat_name, target)
    log.info(
        "ABC for %s* = %s: population %d, tolerances %s, db %s%s",
        stat_name,
        target.tolist(),
        population,
        [round(v, 4) for v in tolerances],
        db_path,
        " (appended to the stored run)" if append else "",
    )
    start = time.perf_counter()
    history = abc.run(
        max_nr_populations=len(tolerances),
        min_acceptance_rate=float(min_acceptance_rate),
        max_total_nr_simulations=np.inf
        if max_total_nr_simulations is None
        else max_total_nr_simulations,
        max_walltime=None if max_walltime_s is None else timedelta(seconds=max_walltime_s),
    )
    wall = time.perf_counter() - start

    attempts = _attempts(sampler, history)
    generations = _read_generations(history, prior.names, stat_name, attempts)
    result = AbcResult(
        status="",
        message="",
        param_names=list(prior.names),
        stat_name=stat_name,
        target=target,
        tolerances=schedule,
        population=int(population),
        generations=generations,
        attempts=attempts,
        best_distance=best_distance_reached(attempts, generations),
        wall_time=wall,
        seed=int(seed),
        db_path=str(db_path),
        prior=prior.describe(),
        settings={
            "batch_size": batch_size,
            "min_batch_size": min_batch_size,
            "min_acceptance_rate": min_acceptance_rate,
            "max_total_nr_simulations": max_total_nr_simulations,
            "max_walltime_s": max_walltime_s,
            "perturbation_std_factor": perturbation_std_factor,
            "sampler": type(sampler).__name__,
        },
    )
    result.status, result.message = diagnose(
        result, min_acceptance_rate, max_total_nr_simulations, max_walltime_s
    )
    (log.info if result.converged else log.warning)("%s", result.message)
    if strict and not result.converged:
        raise ABCStoppedError(result)
    return result


def _checked_inputs(
    target: Sequence[float],
    tolerances: Sequence[float] | None,
    population: int,
    min_acceptance_rate: float,
    stat_name: str,
) -> tuple[np.ndarray, list[float]]:
    """The target as a flat array and the tolerance schedule, or a ValueError naming the value."""
    target = np.asarray(target, dtype=float).ravel()
    if target.size == 0 or not np.all(np.isfinite(target)) or np.any(target <= 0):
        raise ValueError(
            f"target {stat_name} must be finite and > 0 (relative distance); got {target.tolist()}"
        )
    tolerances = default_tolerances() if tolerances is None else [float(v) for v in tolerances]
    if not tolerances or any(not (v > 0) for v in tolerances):
        raise ValueError(
            f"tolerances must be a non-empty list of positive values; got {tolerances}"
        )
    if int(population) < 2:
        raise ValueError(f"population must be >= 2; got {population}")
    if not (0 < min_acceptance_rate <= 1):
        raise ValueError(
            f"min_acceptance_rate must lie in (0, 1] so that every generation "
            f"terminates; got {min_acceptance_rate}"
        )
    return target, tolerances


def _stored_tolerances(history: pyabc.History, db_path: Path) -> list[float]:
    """The tolerances of the generations a stored run completed (to extend its schedule)."""
    old = history.get_all_populations()
    old = old[old.t >= 0].sort_values("t")
    if old.empty:
        raise RuntimeError(f"{db_path}: the stored ABC run completed no generation to extend")
    return [float(v) for v in old.epsilon]


def _load_stored_run(
    abc: pyabc.ABCSMC, history: pyabc.History, db_path: Path, stat_name: str, target: np.ndarray
) -> None:
    """Continue the run stored at ``db_path``, refusing one made for another target."""
    abc.load(f"sqlite:///{db_path}", abc_id=history.id)
    stored = np.asarray(abc.x_0[stat_name], dtype=float).ravel()
    if not np.allclose(stored, target):
        raise ValueError(
            f"{db_path} holds the ABC run of {stored.tolist()}, not of {target.tolist()}"
        )


def _new_run(
    abc: pyabc.ABCSMC, db_path: str | os.PathLike | None, stat_name: str, target: np.ndarray
) -> Path | str:
    """Start a new History at ``db_path`` (replacing a file there; None: in memory)."""
    if db_path is None:
        abc.new("sqlite://", {stat_name: target})
        return ":memory:"
    db_path = Path(db_path).resolve()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    if db_path.exists():
        db_path.unlink()
    abc.new(f"sqlite:///{db_path}", {stat_name: target})
    return db_path


def continue_abc(
    predict_batch: Callable[[np.ndarray], np.ndarray],
    db_path: str | os.PathLike,
    prior: BoxPrior,
    tolerances: Sequence[float],
    population: int,
    seed: int = 0,
    *,
    stat_name: str = "eta",
    batch_size: int = 4096,
    min_batch_size: int = 64,
    min_acceptance_rate: float = 1e-3,
    max_evaluations: float | None = None,
    max_walltime_s: float | None = None,
    perturbation_std_factor: float = math.sqrt(2.0),
) -> AbcResult:
    """More ABC-SMC generations, one per value of ``tolerances``, appended to the run stored in
    ``db_path`` (a pyABC History written by :func:`run_abc`), with another model.

    The first new generation proposes from the stored last population (perturbed as in every
    generation, importance-weighted against the same flat ``prior``), so the posterior is that of
    the new model: the old population only serves as the proposal (refinement, after the
    surrogate was fine-tuned). ``max_evaluations`` bounds the new generations' evaluations. The
    result holds every generation of the History (old ones first); its status refers to the
    whole schedule, old tolerances followed by ``tolerances``.
    """
    db_path = Path(db_path).resolve()
    if not db_path.exists():
        raise FileNotFoundError(f"no pyABC History at {db_path} to continue")
    target = pyabc.History(f"sqlite:///{db_path}").observed_sum_stat()[stat_name]
    return run_abc(
        predict_batch,
        np.asarray(target, dtype=float).ravel(),
        prior,
        population,
        tolerances,
        db_path,
        seed,
        stat_name=stat_name,
        batch_size=batch_size,
        min_batch_size=min_batch_size,
        min_acceptance_rate=min_acceptance_rate,
        max_total_nr_simulations=max_evaluations,
        max_walltime_s=max_walltime_s,
        perturbation_std_factor=perturbation_std_factor,
        append=True,
    )


def _abcsmc(
    predict_batch, prior, stat_name, population, tolerances, sampler, perturbation_std_factor
) -> pyabc.ABCSMC:
    """The ABCSMC object of a run: batched model, MAPE distance, flat prior, the schedule."""
    return pyabc.ABCSMC(
        models=BatchModel(predict_batch, prior.names, stat_name, name="model"),
        parameter_priors=prior,
        distance_function=MAPEDistance(stat_name),
        population_size=int(population),
        transitions=perturbation_transition(perturbation_std_factor),
        eps=pyabc.epsilon.ListEpsilon(list(tolerances)),
        sampler=sampler,
    )


def _attempts(sampler, history: pyabc.History) -> list[dict[str, Any]]:
    if isinstance(sampler, BatchSampler):
        return [g.as_dict() for g in sampler.generations if not g.calibration]
    # other samplers: what the History knows (completed generations only)
    pops = history.get_all_populations()
    pops = pops[pops.t >= 0]
    return [
        {
            "t": int(r.t),
            "epsilon": float(r.epsilon),
            "accepted": int(r.particles),
            "nr_evaluations": int(r.samples),
            "model_evaluations": int(r.samples),
            "best_distance": math.nan,
            "stop": STOP_OK,
            "wall_time": float(r.wall_time or 0),
            "acceptance_rate": float(r.particles) / float(r.samples),
        }
        for r in pops.itertuples()
    ]


def _read_generations(history: pyabc.History, names, stat_name, attempts) -> list[Generation]:
    pops = history.get_all_populations()
    pops = pops[pops.t >= 0].sort_values("t")
    paid = {a["t"]: a["model_evaluations"] for a in attempts if a["stop"] == STOP_OK}
    generations = []
    for row in pops.itertuples():
        population = history.get_population(t=int(row.t))
        particles = population.particles
        params = np.array([[float(p.parameter[k]) for k in names] for p in particles])
        weights = np.array([p.weight for p in particles], dtype=float)
        weights /= weights.sum()
        generations.append(
            Generation(
                t=int(row.t),
                epsilon=float(row.epsilon),
                params=params,
                weights=weights,
                distances=np.array([p.distance for p in particles], dtype=float),
                stats=np.array(
                    [np.asarray(p.sum_stat[stat_name], float).ravel() for p in particles]
                ),
                nr_evaluations=int(row.samples),
                model_evaluations=int(paid.get(int(row.t), row.samples)),
                wall_time=float(row.wall_time) if row.wall_time is not None else math.nan,
            )
        )
    return generations
