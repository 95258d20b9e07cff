"""The BO stage's runs [Z23] (SPEC 4.2): Optuna's ``GPSampler`` on one target, repeated.

Search: a Gaussian process with a Matern 5/2 kernel (ARD length scales), whose acquisition
function is *log* expected improvement (logEI; [Z23] says expected improvement, logEI is its
numerically stable form with the same maximiser in exact arithmetic). The first
``n_startup_trials`` trials (paper 20) are uniform random (the sampler's independent sampler), then
the GP proposes, up to ``n_trials`` (paper 1000) per repeat; ``repeats`` (paper 10) independent
studies differ in the sampler seed only (:mod:`.seeds`). The GP is told the objective is
deterministic when the candidate seed is the target's (the same parameters give the same
structure), noisy otherwise.

:func:`optimise_repeat` runs one repeat's study to ``n_trials`` (resuming it: :mod:`.storage`);
:func:`run_bo` runs every repeat of one target and returns the ``bo.json`` record
(:mod:`.results`).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from poredesign.design.bo.problem import (
    CANDIDATE_SEEDS,
    BOProblem,
    Encoder,
    build,
    outside,
    search_bounds,
    target_params,
    training_ranges,
)
from poredesign.design.bo.results import median_and_best, pick, repeat_result
from poredesign.design.bo.seeds import BOSeeds
from poredesign.design.bo.storage import open_study, set_aside_if_stale
from poredesign.runlog import progress
from poredesign.structures.checks import pore_percolates
from poredesign.structures.voronoi import VoronoiSampler

log = logging.getLogger(__name__)

SAMPLER_INFO = {
    "name": "optuna.samplers.GPSampler",
    "kernel": "Matern 5/2 with ARD length scales",
    "acquisition": "log expected improvement (logEI)",
    "optuna": optuna.__version__,
}


def gp_sampler(
    seed: int, n_startup_trials: int, deterministic: bool
) -> optuna.samplers.BaseSampler:
    """The GPSampler of one repeat (its experimental warning silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.GPSampler(
            seed=seed, n_startup_trials=n_startup_trials, deterministic_objective=deterministic
        )


def optimise_repeat(
    problem: BOProblem, repeat: int, n_trials: int, progress_file: Any = None
) -> optuna.Study:
    """Create or resume the study of ``repeat`` and run it to ``n_trials`` counted trials."""
    study, n_done = open_study(problem, repeat)
    name = study.study_name
    seed = problem.seeds.sampler(repeat, n_done)
    study.sampler = gp_sampler(seed, problem.n_startup_trials, problem.candidate_seed == "target")
    if n_done:
        log.info("%s: resuming after %d trials (sampler seed %d)", name, n_done, seed)
    remaining = range(max(0, n_trials - n_done))
    for _ in progress(remaining, f"{name}", file=progress_file, unit="trial"):
        trial = study.ask()
        try:
            value = problem.objective(trial, repeat)
        except ValueError as err:  # the generator refuses these parameters: record, go on
            trial.set_user_attr("error", str(err))
            log.warning("%s trial %d failed: %s", name, trial.number, err)
            study.tell(trial, state=TrialState.FAIL)
            continue
        study.tell(trial, value)
    return study


def run_bo(
    encode: Encoder,
    sampler: VoronoiSampler,
    target: Mapping[str, Any],
    *,
    name: str,
    seed: int,
    db: str | os.PathLike,
    bounds: Mapping[str, Sequence[float]] | None = None,
    n_trials: int = 1000,
    n_startup_trials: int = 20,
    repeats: int = 10,
    candidate_seed: str = "fresh",
    progress_file: Any = None,
) -> dict[str, Any]:
    """Bayesian optimisation of one target (SPEC 4.2); returns the ``bo.json`` record.

    encode: bool structures (B, n, n, n) -> latent means (B, d) (e.g. ``VAE3D.latent_means``);
    sampler: the dataset's :class:`VoronoiSampler` (size, generation_size, post-processing);
    target: ``{radius, n_points, stretch}``; bounds: the search box (:func:`search_bounds`);
    db: the SQLite file holding one study per repeat (created, or resumed).
    """
    if candidate_seed not in CANDIDATE_SEEDS:
        raise ValueError(f"candidate_seed must be one of {CANDIDATE_SEEDS}; got {candidate_seed!r}")
    if n_trials < 1 or repeats < 1 or n_startup_trials < 1:
        raise ValueError(
            f"BO needs n_trials, repeats and n_startup_trials >= 1; got {n_trials}, {repeats}, "
            f"{n_startup_trials}"
        )
    true = target_params(target, name)
    os.makedirs(os.path.dirname(os.path.abspath(db)), exist_ok=True)
    box = search_bounds(bounds)
    seeds = BOSeeds(int(seed), str(name))
    solid, porosity = build(sampler, true, seeds.target())
    mu = np.asarray(encode(solid[None]), dtype=np.float64)[0]
    problem = BOProblem(
        name, encode, sampler, true, box, seeds, candidate_seed, n_startup_trials, mu, os.fspath(db)
    )
    ranges = training_ranges(sampler)
    if outside(true, box):
        log.warning("target %s: %s lie outside the search box %s", name, outside(true, box), box)
    log.info(
        "target %s %s: porosity %.4f, outside training: %s",
        name,
        true,
        porosity,
        outside(true, ranges),
    )
    start = time.perf_counter()
    set_aside_if_stale(problem)
    results = []
    for j in range(repeats):
        study = optimise_repeat(problem, j, n_trials, progress_file)
        results.append(repeat_result(study, j, seeds.sampler(j)))
        best = results[-1]["best_distance"]  # None when the generator refused every trial
        log.info(
            "%s repeat %d: best distance %s at %s",
            name,
            j,
            "none (no trial completed)" if best is None else f"{best:.5g}",
            results[-1]["best_params"],
        )
    median, best = median_and_best(results)
    return {
        "target": name,
        "true_params": true,
        "target_porosity": porosity,
        "target_percolates": bool(all(pore_percolates(solid))),
        "target_seed_sequence": seeds.target_entropy(),
        "seed": int(seed),
        "candidate_seed": candidate_seed,
        "bounds": {k: list(v) for k, v in box.items()},
        "training_ranges": {k: list(v) for k, v in ranges.items()},
        "target_outside_training": outside(true, ranges),
        "target_outside_bounds": outside(true, box),
        "sampler": {
            **SAMPLER_INFO,
            "n_startup_trials": n_startup_trials,
            "deterministic_objective": candidate_seed == "target",
        },
        "n_trials": n_trials,
        "distance": "L2 norm of the latent mean difference",
        "latent_dim": int(mu.shape[0]),
        "repeats": results,
        "median": pick(median, true),
        "best": pick(best, true),
        "wall_s": time.perf_counter() - start,
    }
