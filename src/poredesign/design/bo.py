"""Bayesian optimisation of Voronoi generation parameters [Z23] (SPEC 4.2), with Optuna.

Given a target structure, generated from parameters (r, n, e_x, e_y, e_z) with its own seed, find
parameters whose structure's VAE latent mean is closest to the target's:

    distance(theta) = || mu(structure(theta)) - mu(target) ||_2   (256-d latent means, no sampling)

Candidates are built exactly like the dataset's structures (``VoronoiSampler.build``: rasterised at
``generation_size``, resized to ``size``, re-thresholded at 0.5), with the trial's radius in
place of the sampler's fixed one (``build`` reads the radius from ``params[1]``).

Search: Optuna's ``GPSampler`` — a Gaussian process with a Matern 5/2 kernel (ARD length scales),
whose acquisition function is *log* expected improvement (logEI; [Z23] says expected improvement,
logEI is its numerically stable form with the same maximiser in exact arithmetic). The first
``n_startup_trials`` trials (paper 20) are uniform random (the sampler's independent sampler), then
the GP proposes, up to ``n_trials`` (paper 1000) per repeat; ``repeats`` (paper 10) independent
studies differ in the sampler seed only. The search box (``bounds``) may, and for the paper's
targets B-D must, reach beyond the training ranges; n is an integer parameter, r and each e_i are
continuous. The GP is told the objective is deterministic when the candidate seed is the target's
(the same parameters give the same structure), noisy otherwise.

Choices where [Z23] is silent (recorded in ``bo.json``):

- Candidate seed (``candidate_seed``): ``"fresh"`` (default) builds every trial's structure with
  its own seed, so the distance measures structural similarity up to the generator's randomness;
  ``"target"`` builds every candidate with the target's seed, so the true parameters reproduce
  the target voxel for voxel (distance 0) and the optimum is exact.
- Seeds, all from the study seed s and the target's name (``zlib.crc32`` of the name, k), so a
  target's run does not change when other targets are added: the target structure
  ``SeedSequence([s, BO_STREAM, k, 0])``; the sampler of repeat j ``SeedSequence([s, BO_STREAM, k,
  1, j, n_done])`` (n_done = counted trials already stored, so a resumed run does not replay its
  random startup draws); fresh candidate t of repeat j ``SeedSequence([s, BO_STREAM, k, 2, j, t])``
  (t = Optuna's trial number).
- Candidates are not filtered by the dataset's acceptance test (pore percolation): the distance is
  defined for any structure, and a filter would make the ``target`` seed unable to reproduce a
  non-percolating target. Whether the target percolates is recorded.
- Median repeat: the repeat whose best distance is the lower median of the repeats' best
  distances (a real run, as the paper tabulates; for an even count the smaller of the two middle).

Storage and resuming: each repeat is an Optuna study ``<target>-repeat<jj>`` in one SQLite file.
A rerun continues every study to ``n_trials`` counted trials (complete ones, and ones whose
structure could not be built, which carry the ``error`` user attribute). Trials left ``RUNNING``
by a killed job are marked failed (one job owns the storage) and are not counted, so no finished
trial is lost or repeated. The study records its target, bounds, seeds and the target's latent
mean; a rerun with a different target, bounds, seed choice or encoder (latent mean differs by
more than 1 % of its norm) moves the old storage aside (``bo.db.stale-<time>``, logged) and
starts the target afresh.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from poredesign.runlog import progress
from poredesign.structures.checks import pore_percolates
from poredesign.structures.voronoi import VoronoiSampler

log = logging.getLogger(__name__)

PARAMS = ("radius", "n_points", "e_x", "e_y", "e_z")
"""The searched parameters, in the paper's order (r, n, e)."""
BO_STREAM = 9_000_002
DEFAULT_BOUNDS = {"radius": (2.0, 6.0), "n_points": (20, 250), "stretch": (0.4, 1.0)}
CANDIDATE_SEEDS = ("fresh", "target")
SAMPLER_INFO = {
    "name": "optuna.samplers.GPSampler",
    "kernel": "Matern 5/2 with ARD length scales",
    "acquisition": "log expected improvement (logEI)",
    "optuna": optuna.__version__,
}
ENCODER_TOLERANCE = 0.01

Encoder = Callable[[np.ndarray], np.ndarray]
"""Bool structures (B, n, n, n), True = solid -> latent means (B, d)."""


# --------------------------------------------------------------------------------------------
# parameters and seeds


def target_params(target: Mapping[str, Any], name: str = "target") -> dict[str, float]:
    """``{radius, n_points, stretch: [e_x, e_y, e_z]}`` (the config's form) -> the five named
    parameters; raises ValueError naming the target on a missing or invalid entry."""
    try:
        stretch = [float(v) for v in target["stretch"]]
        out = {"radius": float(target["radius"]), "n_points": int(target["n_points"])}
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(
            f"BO target {name!r} needs radius, n_points and stretch [e_x, e_y, e_z]; got "
            f"{dict(target)!r} ({err})"
        ) from err
    if len(stretch) != 3 or out["radius"] <= 0 or out["n_points"] < 2:
        raise ValueError(
            f"BO target {name!r}: radius > 0, n_points >= 2 and three stretch factors needed; "
            f"got {dict(target)!r}"
        )
    return {**out, "e_x": stretch[0], "e_y": stretch[1], "e_z": stretch[2]}


def search_bounds(bounds: Mapping[str, Sequence[float]] | None) -> dict[str, tuple[float, float]]:
    """Per-parameter (lo, hi) for :data:`PARAMS` from the config's ``bounds`` (radius, n_points,
    stretch applying to each e_i); missing keys take :data:`DEFAULT_BOUNDS`."""
    merged = {**DEFAULT_BOUNDS, **dict(bounds or {})}
    unknown = set(merged) - set(DEFAULT_BOUNDS)
    if unknown:
        raise ValueError(f"unknown BO bound(s) {sorted(unknown)}; allowed: {list(DEFAULT_BOUNDS)}")
    out: dict[str, tuple[float, float]] = {}
    for key, value in merged.items():
        lo, hi = (float(v) for v in value)
        if not lo <= hi or lo <= 0:
            raise ValueError(f"BO bounds.{key} must be [lo, hi] with 0 < lo <= hi; got {value!r}")
        if key == "n_points" and (lo != int(lo) or hi != int(hi)):
            raise ValueError(f"BO bounds.n_points must be integers; got {value!r}")
        if key == "n_points":
            lo, hi = int(lo), int(hi)
        for name in ("e_x", "e_y", "e_z") if key == "stretch" else (key,):
            out[name] = (lo, hi)
    return out


def generator_vector(params: Mapping[str, float]) -> np.ndarray:
    """The :class:`VoronoiSampler` parameter vector (n_points, radius, e_x, e_y, e_z, nan)."""
    return np.array(
        [int(params["n_points"]), params["radius"], params["e_x"], params["e_y"], params["e_z"]]
        + [np.nan]
    )


def training_ranges(sampler: VoronoiSampler) -> dict[str, tuple[float, float]]:
    """The dataset's ranges per parameter (stretch: the sampler's range and 1, the unstretched
    value)."""
    e_lo, e_hi = (float(v) for v in sampler.stretch_range)
    stretch = (e_lo if sampler.stretched_axes else 1.0, 1.0 if sampler.stretched_axes < 3 else e_hi)
    return {
        "radius": (float(sampler.radius), float(sampler.radius)),
        "n_points": tuple(float(v) for v in sampler.n_points_range),
        "e_x": stretch,
        "e_y": stretch,
        "e_z": stretch,
    }


def outside(params: Mapping[str, float], ranges: Mapping[str, tuple[float, float]]) -> list[str]:
    """Names of the parameters outside ``ranges`` (inclusive)."""
    return [k for k in PARAMS if not ranges[k][0] <= params[k] <= ranges[k][1]]


@dataclass(frozen=True)
class BOSeeds:
    """All random streams of one target's BO (see the module docstring)."""

    seed: int
    name: str

    @property
    def key(self) -> int:
        return zlib.crc32(self.name.encode())

    def _seq(self, *tail: int) -> np.random.SeedSequence:
        return np.random.SeedSequence([int(self.seed), BO_STREAM, self.key, *map(int, tail)])

    def target(self) -> np.random.Generator:
        """The target structure's generator (also every candidate's with ``candidate_seed:
        target``)."""
        return np.random.default_rng(self._seq(0))

    def sampler(self, repeat: int, n_done: int = 0) -> int:
        """The Optuna sampler seed of ``repeat`` after ``n_done`` counted trials."""
        return int(self._seq(1, repeat, n_done).generate_state(1)[0])

    def candidate(self, repeat: int, trial: int, choice: str) -> np.random.Generator:
        """The generator of trial ``trial`` of ``repeat`` for ``candidate_seed`` ``choice``."""
        return (
            self.target()
            if choice == "target"
            else np.random.default_rng(self._seq(2, repeat, trial))
        )


def build(sampler: VoronoiSampler, params: Mapping[str, float], rng: np.random.Generator):
    """(solid (size^3 bool), porosity) of the structure with ``params`` from ``rng``."""
    vector = generator_vector(params)
    solid = sampler.build(vector, rng)
    return solid, float(vector[5])


# --------------------------------------------------------------------------------------------
# one repeat


def _counted(trial: optuna.trial.FrozenTrial) -> bool:
    return trial.state == TrialState.COMPLETE or (
        trial.state == TrialState.FAIL and "error" in trial.user_attrs
    )


def _gp_sampler(
    seed: int, n_startup_trials: int, deterministic: bool
) -> optuna.samplers.BaseSampler:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.GPSampler(
            seed=seed, n_startup_trials=n_startup_trials, deterministic_objective=deterministic
        )


class StaleStorageError(ValueError):
    """The BO storage was made for another target, config or encoder: it cannot be resumed."""


def _check_resumable(study: optuna.Study, record: dict[str, Any], mu: np.ndarray, db: str):
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


@dataclass(frozen=True)
class BOProblem:
    """One target's search: the encoder, the generator, the target's latent mean and the seeds."""

    name: str
    encode: Encoder
    sampler: VoronoiSampler
    true_params: dict[str, float]
    bounds: dict[str, tuple[float, float]]
    seeds: BOSeeds
    candidate_seed: str
    n_startup_trials: int
    target_mu: np.ndarray
    db: str

    @property
    def record(self) -> dict[str, Any]:
        """What a stored study must have been made with to be resumed."""
        return {
            "true_params": self.true_params,
            "bounds": {k: list(v) for k, v in self.bounds.items()},
            "seed": int(self.seeds.seed),
            "candidate_seed": self.candidate_seed,
            "n_startup_trials": int(self.n_startup_trials),
            "size": int(self.sampler.size),
            "generation_size": int(self.sampler.generation_size),
        }

    def suggest(self, trial: optuna.trial.Trial) -> dict[str, float]:
        out = {}
        for key in PARAMS:
            lo, hi = self.bounds[key]
            out[key] = (
                trial.suggest_int(key, int(lo), int(hi))
                if key == "n_points"
                else trial.suggest_float(key, lo, hi)
            )
        return out

    def objective(self, trial: optuna.trial.Trial, repeat: int) -> float:
        """The L2 latent distance of the trial's structure; timings and porosity as user
        attributes (``build_s``, ``encode_s``: seconds)."""
        params = self.suggest(trial)
        start = time.perf_counter()
        rng = self.seeds.candidate(repeat, trial.number, self.candidate_seed)
        solid, porosity = build(self.sampler, params, rng)
        built = time.perf_counter()
        mu = np.asarray(self.encode(solid[None]), dtype=np.float64)[0]
        trial.set_user_attr("porosity", porosity)
        trial.set_user_attr("build_s", built - start)
        trial.set_user_attr("encode_s", time.perf_counter() - built)
        return float(np.linalg.norm(mu - self.target_mu))


def _check_storage(problem: BOProblem) -> None:
    """Raise :class:`StaleStorageError` when an existing storage holds this target's studies made
    with another record (target, bounds, seeds) or another target latent mean (encoder)."""
    if not os.path.exists(problem.db):
        return
    storage = optuna.storages.RDBStorage(f"sqlite:///{os.path.abspath(problem.db)}")
    try:
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
            if summary.study_name.startswith(f"{problem.name}-repeat"):
                study = optuna.load_study(study_name=summary.study_name, storage=storage)
                if study.user_attrs.get("record") is not None:
                    _check_resumable(study, problem.record, problem.target_mu, problem.db)
    finally:
        storage.engine.dispose()


def optimise_repeat(
    problem: BOProblem, repeat: int, n_trials: int, progress_file: Any = None
) -> optuna.Study:
    """Create or resume the study of ``repeat`` and run it to ``n_trials`` counted trials."""
    storage = optuna.storages.RDBStorage(f"sqlite:///{os.path.abspath(problem.db)}")
    name = f"{problem.name}-repeat{repeat:02d}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=name, storage=storage, direction="minimize", load_if_exists=True
    )
    _check_resumable(study, problem.record, problem.target_mu, problem.db)
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
    for trial in stale:  # left by a killed job: this job owns the storage
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    if stale:
        log.warning("%s: %d interrupted trial(s) marked failed, not counted", name, len(stale))
    n_done = sum(_counted(t) for t in study.get_trials(deepcopy=False))
    seed = problem.seeds.sampler(repeat, n_done)
    study.sampler = _gp_sampler(seed, problem.n_startup_trials, problem.candidate_seed == "target")
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


# --------------------------------------------------------------------------------------------
# results


def repeat_result(study: optuna.Study, repeat: int, sampler_seed: int) -> dict[str, Any]:
    """One repeat's record: per counted trial the distance (None for a failed build) and the best
    distance so far (non-increasing), the best trial's parameters, distance and porosity."""
    trials = [t for t in study.get_trials(deepcopy=False) if _counted(t)]
    distances = [t.value if t.state == TrialState.COMPLETE else None for t in trials]
    finite = [np.inf if d is None else d for d in distances]
    best_so_far = np.minimum.accumulate(finite) if finite else np.zeros(0)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = min(complete, key=lambda t: t.value) if complete else None
    durations = [t.duration.total_seconds() for t in complete if t.duration is not None]
    objective = [t.user_attrs.get("build_s", 0) + t.user_attrs.get("encode_s", 0) for t in complete]
    return {
        "repeat": repeat,
        "study": study.study_name,
        "sampler_seed": sampler_seed,
        "n_trials": len(trials),
        "n_failed": sum(d is None for d in distances),
        "best_trial": None if best is None else best.number,
        "best_params": None if best is None else {k: best.params[k] for k in PARAMS},
        "best_distance": None if best is None else float(best.value),
        "best_porosity": None if best is None else best.user_attrs.get("porosity"),
        "distances": distances,
        "best_so_far": [float(v) if np.isfinite(v) else None for v in best_so_far],
        "seconds": {
            "build": float(np.mean([t.user_attrs["build_s"] for t in complete]))
            if complete
            else None,
            "encode": float(np.mean([t.user_attrs["encode_s"] for t in complete]))
            if complete
            else None,
            "sampler_and_storage": float(np.mean(np.subtract(durations, objective)))
            if durations
            else None,
        },
    }


def median_and_best(repeats: Sequence[Mapping[str, Any]]) -> tuple[dict, dict]:
    """The repeat of the lower-median best distance and the repeat of the smallest one."""
    ranked = sorted(
        (r for r in repeats if r["best_distance"] is not None), key=lambda r: r["best_distance"]
    )
    if not ranked:
        raise ValueError("no BO repeat completed a trial; see the log for the build errors")
    return dict(ranked[(len(ranked) - 1) // 2]), dict(ranked[0])


def _pick(repeat: Mapping[str, Any], true: Mapping[str, float]) -> dict[str, Any]:
    params = repeat["best_params"]
    return {
        "repeat": repeat["repeat"],
        "best_params": params,
        "best_distance": repeat["best_distance"],
        "best_porosity": repeat["best_porosity"],
        "error": {k: params[k] - true[k] for k in PARAMS},
    }


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
    try:
        _check_storage(problem)
    except StaleStorageError as err:
        # a retrained VAE or a changed target makes the stored trials meaningless: start afresh,
        # keeping the old storage beside it
        aside = f"{db}.stale-{time.strftime('%Y%m%d-%H%M%S')}"
        os.replace(db, aside)
        log.warning("%s: moved to %s; this target starts afresh", err, aside)
    results = []
    for j in range(repeats):
        study = optimise_repeat(problem, j, n_trials, progress_file)
        results.append(repeat_result(study, j, seeds.sampler(j)))
        log.info(
            "%s repeat %d: best distance %.5g at %s",
            name,
            j,
            results[-1]["best_distance"],
            results[-1]["best_params"],
        )
    median, best = median_and_best(results)
    return {
        "target": name,
        "true_params": true,
        "target_porosity": porosity,
        "target_percolates": bool(all(pore_percolates(solid))),
        "target_seed_sequence": [int(seed), BO_STREAM, seeds.key, 0],
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
        "median": _pick(median, true),
        "best": _pick(best, true),
        "wall_s": time.perf_counter() - start,
    }
