"""One BO target's search problem [Z23] (SPEC 4.2): its parameters, the search box, the candidate
structures and the objective.

    distance(theta) = || mu(structure(theta)) - mu(target) ||_2   (latent means, no sampling)

Candidates are built exactly like the dataset's structures (``VoronoiSampler.build``: rasterised at
``generation_size``, resized to ``size``, re-thresholded at 0.5), with the trial's radius in
place of the sampler's fixed one (``build`` reads the radius from ``params[1]``). n is an integer
parameter, r and each e_i are continuous; the search box may reach beyond the training ranges.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from poredesign.design.bo.seeds import BOSeeds
from poredesign.structures.voronoi import VoronoiSampler

PARAMS = ("radius", "n_points", "e_x", "e_y", "e_z")
"""The searched parameters, in the paper's order (r, n, e)."""
DEFAULT_BOUNDS = {"radius": (2.0, 6.0), "n_points": (20, 250), "stretch": (0.4, 1.0)}
CANDIDATE_SEEDS = ("fresh", "target")

Encoder = Callable[[np.ndarray], np.ndarray]
"""Bool structures (B, n, n, n), True = solid -> latent means (B, d)."""


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


def build(sampler: VoronoiSampler, params: Mapping[str, float], rng: np.random.Generator):
    """(solid (size^3 bool), porosity) of the structure with ``params`` from ``rng``."""
    vector = generator_vector(params)
    solid = sampler.build(vector, rng)
    return solid, float(vector[5])


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
