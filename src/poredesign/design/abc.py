"""Inverse design by approximate Bayesian computation (ABC-SMC with pyABC) [R22, SPEC 4.1].

The posterior f(theta | eta*) over generator parameters theta = (a_x, a_y, a_z, porosity) for a
target diffusivity eta* is sampled with pyABC's ``ABCSMC`` and stored in a pyABC ``History``
(one SQLite database per target). Choices, per SPEC 4.1:

- **Model**: ``predict_batch(theta (B, p)) -> eta (B, d)``, any batched callable; for the study
  :func:`spinodoid_cnn_model` builds B spinodoids in one :func:`spinodoid_batch` call (torch FFT,
  GPU when present) and predicts eta for all of them with one call of a surrogate (the CNN).
  :class:`~poredesign.design.batch_sampler.BatchSampler` evaluates whole batches of proposals per
  model call and accepts and weights per particle exactly as pyABC does.
- **Distance**: rho = 100 * mean_i |eta'_i - eta*_i| / eta*_i (a MAPE in percent,
  :class:`MAPEDistance`).
- **Tolerances**: an explicit schedule (``pyabc.epsilon.ListEpsilon``); default nine values
  log-spaced from 100 to 1 (:func:`default_tolerances`). Particle accepted when rho <= eps_t.
- **Perturbation**: ``MultivariateNormalTransition(scaling=2, bandwidth_selector=unit_bandwidth)``.
  pyABC's kernel covariance is ``scaling * bw(n_eff, d)^2 * Cov_w`` with ``Cov_w`` the weighted
  covariance of the previous population; with ``bw = 1`` and ``scaling = 2`` it is ``2 Cov_w``, a
  Gaussian perturbation whose standard deviation along every direction is sqrt(2) times the
  population's (the SPEC's choice, Beaumont et al. 2009's optimal-kernel variance). Proposals with
  zero prior density are redrawn.
- **Prior**: flat. :class:`BoxPrior` is uniform on a box of bounds, optionally restricted to a
  support set (density constant inside it, zero outside; the normalising constant cancels in the
  importance weights). :func:`spinodoid_prior` builds the dataset's region from the
  ``SpinodoidSampler`` ranges: the box of attainable (a_x, a_y, a_z, porosity) and, by default
  (``restrict=True``), the sampler's support inside it, i.e. max(a)/min(a) within ``beta_range``
  (the sampler's (1, alpha, beta) with 1 <= alpha <= beta) and mean(a) within ``m_range``. The
  box alone also contains strongly anisotropic and very coarse or fine structures that the CNN
  never saw in training (anisotropy up to 17 instead of 3), where its predictions are
  extrapolations; restricting keeps the posterior where the surrogate is trained. The prior is
  flat over that region, not the dataset's (non-uniform) sampling density.
- **Stopping**: the run ends after the last tolerance ("converged"), or earlier when a generation
  cannot reach ``population`` acceptances within ``population / min_acceptance_rate`` evaluations
  (pyABC's ``max_eval``; status "acceptance_rate_too_low"), when ``max_total_nr_simulations``
  would be exceeded ("simulation_budget_exhausted") or after ``max_walltime_s`` ("walltime").
  The result then carries a message with the generation, its tolerance, the acceptance rate and
  the best distance reached; the posterior is that of the last completed generation.
- **Randomness**: pyABC draws from numpy's global random state (``np.random``; scipy.stats uses it
  too). :func:`run_abc` calls ``np.random.seed(seed)`` before the run, so the same seed, model and
  batch size give the same posterior. The model draws structures from its own seeds
  (:func:`spinodoid_cnn_model`: ``SeedSequence([seed, counter])``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyabc
from pyabc.parameters import Parameter

from poredesign import store
from poredesign.design.batch_sampler import (
    STOP_BUDGET,
    STOP_OK,
    BatchModel,
    BatchSampler,
)

log = logging.getLogger(__name__)

SPINODOID_PARAMS = ("a_x", "a_y", "a_z", "porosity")
STATUS_CONVERGED = "converged"
STATUS_LOW_ACCEPTANCE = "acceptance_rate_too_low"
STATUS_BUDGET = "simulation_budget_exhausted"
STATUS_WALLTIME = "walltime"


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


# -- distance ---------------------------------------------------------------------------------
class MAPEDistance(pyabc.Distance):
    """rho = 100 * mean_i |x_i - x0_i| / x0_i over the components of ``x[key]`` (SPEC 4.1).

    ``batch`` evaluates a list of summary-statistic dicts at once (used by the batch sampler);
    both give identical values.
    """

    def __init__(self, key: str = "eta"):
        super().__init__()
        self.key = key

    def __call__(self, x: dict, x_0: dict, t: int | None = None, par: dict | None = None) -> float:
        x0 = np.asarray(x_0[self.key], dtype=float)
        return float(100.0 * np.mean(np.abs(np.asarray(x[self.key], float) - x0) / x0))

    def batch(
        self,
        xs: Sequence[dict],
        x_0: dict,
        t: int | None = None,
        pars: Sequence[dict] | None = None,
    ) -> np.ndarray:
        x0 = np.asarray(x_0[self.key], dtype=float)
        values = np.stack([np.asarray(x[self.key], float) for x in xs]).reshape(len(xs), -1)
        return 100.0 * np.mean(np.abs(values - x0) / x0, axis=1)

    def get_config(self) -> dict:
        return {
            "name": "MAPEDistance",
            "key": self.key,
            "formula": "100 * mean_i |x_i - x0_i| / x0_i",
        }


# -- prior ------------------------------------------------------------------------------------
class BoxPrior(pyabc.Distribution):
    """Flat prior on a box, optionally restricted to ``support(theta (B, p)) -> bool (B,)``.

    The density is prod 1/(hi - lo) inside the box and the support, 0 elsewhere (the constant
    is not renormalised for the restriction: it cancels in the importance weights). Draws are
    uniform on box ∩ support by rejection, from numpy's global random state as pyABC's RVs.
    """

    def __init__(
        self,
        bounds: Mapping[str, Sequence[float]],
        support: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        bounds = {str(k): (float(v[0]), float(v[1])) for k, v in bounds.items()}
        for name, (lo, hi) in bounds.items():
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise ValueError(
                    f"prior bounds for {name!r} must be finite with lo < hi; got ({lo}, {hi})"
                )
        super().__init__({k: pyabc.RV("uniform", lo, hi - lo) for k, (lo, hi) in bounds.items()})
        self.bounds = bounds
        self.support = support
        self.names = list(bounds)
        self._lo = np.array([b[0] for b in bounds.values()])
        self._hi = np.array([b[1] for b in bounds.values()])
        self._density = float(np.prod(1.0 / (self._hi - self._lo)))

    def copy(self) -> BoxPrior:
        return BoxPrior(self.bounds, self.support)

    def __reduce__(self):
        return (BoxPrior, (self.bounds, self.support))

    def inside(self, theta: np.ndarray) -> np.ndarray:
        """Whether each row of ``theta`` (columns in ``names`` order) has positive density."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        ok = np.all((theta >= self._lo) & (theta <= self._hi), axis=1)
        if self.support is not None and ok.any():
            ok[ok] = np.asarray(self.support(theta[ok]), dtype=bool)
        return ok

    def pdf(self, x: Parameter | Mapping[str, Any]):
        if sorted(x.keys()) != sorted(self.names):
            raise ValueError(f"prior parameters are {self.names}; got {sorted(x.keys())}")
        columns = [np.asarray(x[k], dtype=float) for k in self.names]
        shape = np.broadcast(*columns).shape
        theta = np.stack([np.broadcast_to(c, shape).ravel() for c in columns], axis=1)
        dens = np.where(self.inside(theta), self._density, 0.0).reshape(shape)
        return float(dens) if shape == () else dens

    def rvs_batch(self, k: int) -> pd.DataFrame:
        """``k`` draws, uniform on box ∩ support (rejection sampling)."""
        out = np.empty((0, len(self.names)))
        rounds = 0
        while len(out) < k:
            want = max(k - len(out), 16)
            # numpy's global state, like pyABC's own RVs, so np.random.seed fixes the run
            cand = np.random.uniform(  # noqa: NPY002
                self._lo, self._hi, size=(2 * want, len(self.names))
            )
            out = np.concatenate([out, cand[self.inside(cand)]])
            rounds += 1
            if rounds > 10_000:
                raise RuntimeError(f"prior support is (almost) empty inside the box {self.bounds}")
        return pd.DataFrame(out[:k], columns=self.names)

    def rvs(self, *args, size: int | None = None, **kwargs) -> Parameter | pd.DataFrame:
        if size is None:
            row = self.rvs_batch(1).iloc[0]
            return Parameter({k: float(row[k]) for k in self.names})
        return self.rvs_batch(int(size))

    def describe(self) -> dict[str, Any]:
        return {
            "bounds": {k: list(v) for k, v in self.bounds.items()},
            "support": repr(self.support) if self.support is not None else None,
        }


@dataclass(frozen=True)
class SpinodoidSupport:
    """The parameter set :class:`~poredesign.structures.SpinodoidSampler` can draw a from:
    max(a)/min(a) in ``beta_range`` and mean(a) in ``m_range`` (columns a_x, a_y, a_z first)."""

    m_range: tuple[float, float] = (0.05, 0.2)
    beta_range: tuple[float, float] = (1.0, 3.0)

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        a = np.atleast_2d(np.asarray(theta, dtype=float))[:, :3]
        ratio = a.max(axis=1) / a.min(axis=1)
        mean = a.mean(axis=1)
        tol = 1e-12
        return (
            (ratio >= self.beta_range[0] - tol)
            & (ratio <= self.beta_range[1] + tol)
            & (mean >= self.m_range[0] - tol)
            & (mean <= self.m_range[1] + tol)
        )


def spinodoid_prior_bounds(
    m_range: Sequence[float] = (0.05, 0.2),
    beta_range: Sequence[float] = (1.0, 3.0),
    porosity_range: Sequence[float] = (0.3, 0.85),
) -> dict[str, tuple[float, float]]:
    """The smallest box holding every (a_x, a_y, a_z, porosity) the spinodoid sampler draws.

    a = (1, alpha, beta) * m / mean(1, alpha, beta), 1 <= alpha <= beta: the smallest component
    is 3 m_min / (1 + 2 beta_max) (alpha = beta = beta_max), the largest
    3 beta_max m_max / (2 + beta_max) (alpha = 1).
    """
    m_lo, m_hi = map(float, m_range)
    b_hi = float(beta_range[1])
    a_lo, a_hi = 3 * m_lo / (1 + 2 * b_hi), 3 * b_hi * m_hi / (2 + b_hi)
    bounds = {name: (a_lo, a_hi) for name in SPINODOID_PARAMS[:3]}
    bounds["porosity"] = (float(porosity_range[0]), float(porosity_range[1]))
    return bounds


def spinodoid_prior(
    m_range: Sequence[float] = (0.05, 0.2),
    beta_range: Sequence[float] = (1.0, 3.0),
    porosity_range: Sequence[float] = (0.3, 0.85),
    restrict: bool = True,
) -> BoxPrior:
    """Flat prior over the spinodoid dataset's parameter region (see the module docstring).

    Pass the same ranges as the study's ``SpinodoidSampler`` (``sampler.m_range`` etc.).
    ``restrict=False`` gives the plain box of :func:`spinodoid_prior_bounds`.
    """
    support = SpinodoidSupport(tuple(map(float, m_range)), tuple(map(float, beta_range)))
    return BoxPrior(
        spinodoid_prior_bounds(m_range, beta_range, porosity_range), support if restrict else None
    )


# -- the study's model: spinodoid_batch + surrogate ---------------------------------------------
class SpinodoidModel:
    """``theta (B, 4) -> eta (B, d)``: spinodoids from :func:`spinodoid_batch`, then a surrogate.

    Structure j (counting every structure this object has built) uses the torch seed
    ``SeedSequence([seed, j]).generate_state(1)[0]``; ``batch_size`` structures are built and
    predicted per call of ``predict_structures`` (bounding device memory). ``predict_structures``
    receives a torch bool tensor (b, size, size, size), True = solid, on ``device`` and returns
    (b, d) values (numpy or torch). Timings of both stages accumulate in ``timings``.
    """

    def __init__(
        self,
        predict_structures: Callable[[Any], Any],
        size: int,
        seed: int,
        batch_size: int = 64,
        device: str | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        self.predict_structures = predict_structures
        self.size = int(size)
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.device = device
        self.counter = 0
        self.timings = {"generate_s": 0.0, "predict_s": 0.0, "structures": 0}

    def structure_seed(self, index: int) -> int:
        return int(np.random.SeedSequence([self.seed, int(index)]).generate_state(1)[0])

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        import torch

        from poredesign.structures.spinodoid import spinodoid_batch

        theta = np.array(theta, dtype=np.float64).reshape(-1, 4)  # a writable copy
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
        out = []
        with torch.inference_mode():
            for start in range(0, len(theta), self.batch_size):
                chunk = theta[start : start + self.batch_size]
                seeds = [self.structure_seed(self.counter + i) for i in range(len(chunk))]
                self.counter += len(chunk)
                t0 = time.perf_counter()
                solid = spinodoid_batch(self.size, chunk[:, :3], chunk[:, 3], seeds, device=device)
                sync()
                t1 = time.perf_counter()
                eta = self.predict_structures(solid)
                eta = eta.detach().cpu().numpy() if hasattr(eta, "detach") else np.asarray(eta)
                self.timings["generate_s"] += t1 - t0
                self.timings["predict_s"] += time.perf_counter() - t1
                self.timings["structures"] += len(chunk)
                out.append(np.asarray(eta, dtype=np.float64).reshape(len(chunk), -1))
        if not out:
            return np.empty((0, 0))
        return np.concatenate(out)


def spinodoid_cnn_model(
    predict_structures: Callable[[Any], Any],
    size: int,
    seed: int,
    batch_size: int = 64,
    device: str | None = None,
) -> SpinodoidModel:
    """Compose :func:`spinodoid_batch` with a structures -> eta callable (the CNN); see
    :class:`SpinodoidModel`. Build a fresh one per ABC run for reproducibility."""
    return SpinodoidModel(predict_structures, size, seed, batch_size, device)


# -- result -----------------------------------------------------------------------------------
@dataclass
class Generation:
    """One completed ABC-SMC generation (population) as stored in the History."""

    t: int
    epsilon: float
    params: np.ndarray  # (n, p)
    weights: np.ndarray  # (n,), sum 1
    distances: np.ndarray  # (n,)
    stats: np.ndarray  # (n, d) summary statistics of the accepted particles
    nr_evaluations: int  # pyABC's count (proposals up to the n-th acceptance)
    model_evaluations: int  # model evaluations paid for (>= nr_evaluations with BatchSampler)
    wall_time: float

    @property
    def acceptance_rate(self) -> float:
        return len(self.weights) / self.nr_evaluations if self.nr_evaluations else 0.0

    @property
    def ess(self) -> float:
        return float(1.0 / np.sum(self.weights**2)) if len(self.weights) else 0.0

    def mean(self) -> np.ndarray:
        return self.weights @ self.params

    def std(self) -> np.ndarray:
        return np.sqrt(self.weights @ (self.params - self.mean()) ** 2)


class ABCStoppedError(RuntimeError):
    """Raised by ``run_abc(strict=True)`` when the run ended before the last tolerance."""

    def __init__(self, result: AbcResult):
        super().__init__(result.message)
        self.result = result


@dataclass
class AbcResult:
    status: str
    message: str
    param_names: list[str]
    stat_name: str
    target: np.ndarray
    tolerances: list[float]
    population: int
    generations: list[Generation]
    attempts: list[dict[str, Any]]  # sampler statistics per sampling call, failed ones included
    best_distance: float
    wall_time: float
    seed: int
    db_path: str
    prior: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        return self.status == STATUS_CONVERGED

    @property
    def final(self) -> Generation | None:
        return self.generations[-1] if self.generations else None

    @property
    def theta_hat(self) -> np.ndarray:
        """Posterior mean of the last completed generation (NaN if none completed)."""
        return self.final.mean() if self.final else np.full(len(self.param_names), np.nan)

    @property
    def theta_std(self) -> np.ndarray:
        return self.final.std() if self.final else np.full(len(self.param_names), np.nan)

    @property
    def final_epsilon(self) -> float:
        return self.final.epsilon if self.final else math.nan

    @property
    def total_evaluations(self) -> int:
        return int(sum(a["nr_evaluations"] for a in self.attempts))

    @property
    def model_evaluations(self) -> int:
        return int(sum(a["model_evaluations"] for a in self.attempts))

    def summary(self) -> dict[str, Any]:
        """JSON-ready acceptance/evaluation summary (non-finite numbers become None)."""
        return _finite_or_none(
            store._jsonable(
                {
                    "status": self.status,
                    "converged": self.converged,
                    "message": self.message,
                    "target": {f"{self.stat_name}_{i}": v for i, v in enumerate(self.target)},
                    "target_vector": self.target,
                    "param_names": self.param_names,
                    "theta_hat": dict(
                        zip(self.param_names, _nan_to_none(self.theta_hat), strict=True)
                    ),
                    "theta_std": dict(
                        zip(self.param_names, _nan_to_none(self.theta_std), strict=True)
                    ),
                    "final_epsilon": _nan_to_none(self.final_epsilon),
                    "best_distance": _nan_to_none(self.best_distance),
                    "population": self.population,
                    "tolerances": self.tolerances,
                    "generations_completed": len(self.generations),
                    "generations": [
                        {
                            "t": g.t,
                            "epsilon": g.epsilon,
                            "acceptance_rate": g.acceptance_rate,
                            "nr_evaluations": g.nr_evaluations,
                            "model_evaluations": g.model_evaluations,
                            "ess": g.ess,
                            "wall_time_s": g.wall_time,
                            "min_distance": float(g.distances.min()),
                            "theta_mean": dict(zip(self.param_names, g.mean(), strict=True)),
                        }
                        for g in self.generations
                    ],
                    "attempts": self.attempts,
                    "total_evaluations": self.total_evaluations,
                    "model_evaluations": self.model_evaluations,
                    "wall_time_s": self.wall_time,
                    "evaluations_per_second": self.model_evaluations / self.wall_time
                    if self.wall_time > 0
                    else None,
                    "seed": self.seed,
                    "db_path": self.db_path,
                    "prior": self.prior,
                    "settings": self.settings,
                }
            )
        )


def _finite_or_none(value):
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _nan_to_none(value):
    if np.ndim(value) == 0:
        return None if not np.isfinite(value) else float(value)
    return [None if not np.isfinite(v) else float(v) for v in value]


# -- run --------------------------------------------------------------------------------------
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
    """
    prior = _as_prior(prior_bounds, support)
    names = prior.names
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

    if db_path is None:
        db_url, db_path = "sqlite://", ":memory:"
    else:
        db_path = Path(db_path).resolve()
        db_path.parent.mkdir(parents=True, exist_ok=True)
        if db_path.exists():
            db_path.unlink()
        db_url = f"sqlite:///{db_path}"
    sampler = sampler if sampler is not None else BatchSampler(batch_size, min_batch_size)
    abc = pyabc.ABCSMC(
        models=BatchModel(predict_batch, names, stat_name, name="model"),
        parameter_priors=prior,
        distance_function=MAPEDistance(stat_name),
        population_size=int(population),
        transitions=perturbation_transition(perturbation_std_factor),
        eps=pyabc.epsilon.ListEpsilon(tolerances),
        sampler=sampler,
    )
    np.random.seed(int(seed) % 2**32)  # noqa: NPY002  (pyABC draws from the global state)
    history = abc.new(db_url, {stat_name: target})
    log.info(
        "ABC for %s* = %s: population %d, tolerances %s, db %s",
        stat_name,
        target.tolist(),
        population,
        [round(v, 4) for v in tolerances],
        db_path,
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
    generations = _read_generations(history, names, stat_name, attempts)
    result = AbcResult(
        status="",
        message="",
        param_names=list(names),
        stat_name=stat_name,
        target=target,
        tolerances=tolerances,
        population=int(population),
        generations=generations,
        attempts=attempts,
        best_distance=_best_distance(attempts, generations),
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
    result.status, result.message = _diagnose(
        result, min_acceptance_rate, max_total_nr_simulations, max_walltime_s
    )
    (log.info if result.converged else log.warning)("%s", result.message)
    if strict and not result.converged:
        raise ABCStoppedError(result)
    return result


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


def _best_distance(attempts, generations) -> float:
    values = [a["best_distance"] for a in attempts if np.isfinite(a.get("best_distance", np.nan))]
    values += [float(g.distances.min()) for g in generations]
    return float(min(values)) if values else math.nan


def _diagnose(result: AbcResult, min_rate, max_total, max_walltime_s) -> tuple[str, str]:
    done = len(result.generations)
    target = np.array2string(result.target, precision=4, separator=", ")
    kept = (
        f"the posterior of generation {done - 1} (tolerance {result.final_epsilon:.4g}) is kept"
        if done
        else "no generation completed, so there is no posterior"
    )
    if done == len(result.tolerances):
        return STATUS_CONVERGED, (
            f"ABC for {result.stat_name}* = {target} reached the final tolerance "
            f"{result.tolerances[-1]:.4g} after {done} generations, "
            f"{result.total_evaluations} evaluations ({result.model_evaluations} model "
            f"evaluations), {result.wall_time:.1f} s; best distance {result.best_distance:.4g}"
        )
    t = done
    eps = result.tolerances[t] if t < len(result.tolerances) else math.nan
    failed = next(
        (a for a in reversed(result.attempts) if a["t"] == t and a["stop"] != STOP_OK), None
    )
    best = f"best distance reached {result.best_distance:.4g} (tolerance {eps:.4g})"
    if failed is not None and failed["stop"] == STOP_BUDGET:
        return STATUS_BUDGET, (
            f"ABC for {result.stat_name}* = {target} stopped in generation {t} (tolerance "
            f"{eps:.4g}): the simulation budget max_total_nr_simulations={max_total} was "
            f"exhausted with {failed['accepted']} of {failed['requested']} particles accepted; "
            f"{best}; {kept}"
        )
    if failed is not None or (result.generations and result.final.acceptance_rate < min_rate):
        if failed is not None:
            rate = failed["accepted"] / max(failed["nr_evaluations"], 1)
            detail = (
                f"only {failed['accepted']} of {failed['requested']} particles were "
                f"accepted in {failed['nr_evaluations']} evaluations (acceptance rate "
                f"{rate:.3g})"
            )
        else:
            t, eps = t - 1, result.final_epsilon
            detail = f"acceptance rate {result.final.acceptance_rate:.3g}"
        return STATUS_LOW_ACCEPTANCE, (
            f"ABC for {result.stat_name}* = {target} stopped in generation {t} (tolerance "
            f"{eps:.4g}): acceptance rate too low, {detail}, below min_acceptance_rate="
            f"{min_rate:.3g}; {best}. The target is probably outside what the generator and "
            f"the surrogate can reach (or needs a larger budget); {kept}"
        )
    if max_total is not None and sum(g.nr_evaluations for g in result.generations) >= max_total:
        return STATUS_BUDGET, (
            f"ABC for {result.stat_name}* = {target} stopped after generation {t - 1}: "
            f"simulation budget max_total_nr_simulations={max_total} reached; {best}; {kept}"
        )
    if max_walltime_s is not None:
        return STATUS_WALLTIME, (
            f"ABC for {result.stat_name}* = {target} stopped after generation {t - 1}: "
            f"wall-time limit {max_walltime_s} s reached; {best}; {kept}"
        )
    return STATUS_LOW_ACCEPTANCE, (
        f"ABC for {result.stat_name}* = {target} stopped in generation {t} (tolerance "
        f"{eps:.4g}) without completing it; {best}; {kept}"
    )


# -- outputs ----------------------------------------------------------------------------------
def _write(group, key: str, data: np.ndarray, **attrs: Any) -> None:
    data = np.asarray(data)
    chunks = tuple(max(int(s), 1) for s in data.shape) or None
    array = group.create_array(
        key, shape=data.shape, dtype=data.dtype, chunks=chunks, compressors=store._compressor()
    )
    if data.size:
        array[...] = data
    if attrs:
        array.attrs.update(store._jsonable(attrs))


def write_posterior_store(result: AbcResult, path: str | os.PathLike) -> None:
    """The posterior per generation as a zarr store (atomic).

    Arrays (G completed generations, n particles, p parameters, d statistics):
    ``params`` (G, n, p) with ``attrs["names"]``, ``weights`` (G, n) (each row sums to 1),
    ``distances`` (G, n), ``stats`` (G, n, d), ``epsilons``, ``acceptance_rates``,
    ``nr_evaluations``, ``model_evaluations``, ``wall_time`` (G,), ``theta_hat``, ``theta_std``
    (p,), ``target`` (d,). Attrs: the summary (:meth:`AbcResult.summary`).
    """
    gens = result.generations
    n, p = result.population, len(result.param_names)
    d = result.target.size
    with store.atomic_group(path) as group:
        _write(
            group,
            "params",
            np.array([g.params for g in gens]).reshape(len(gens), n, p),
            names=result.param_names,
        )
        _write(group, "weights", np.array([g.weights for g in gens]).reshape(len(gens), n))
        _write(group, "distances", np.array([g.distances for g in gens]).reshape(len(gens), n))
        _write(
            group,
            "stats",
            np.array([g.stats for g in gens]).reshape(len(gens), n, d),
            name=result.stat_name,
        )
        _write(group, "epsilons", np.array([g.epsilon for g in gens], dtype=float))
        _write(group, "acceptance_rates", np.array([g.acceptance_rate for g in gens], float))
        _write(group, "nr_evaluations", np.array([g.nr_evaluations for g in gens], np.int64))
        _write(group, "model_evaluations", np.array([g.model_evaluations for g in gens], np.int64))
        _write(group, "wall_time", np.array([g.wall_time for g in gens], dtype=float))
        _write(group, "theta_hat", result.theta_hat, names=result.param_names)
        _write(group, "theta_std", result.theta_std, names=result.param_names)
        _write(group, "target", result.target, name=result.stat_name)
        group.attrs.update(store.provenance(kind="abc_posterior", **result.summary()))


def read_posterior_store(path: str | os.PathLike) -> dict[str, Any]:
    """All arrays of a posterior store as numpy arrays, plus ``attrs``."""
    group = store.open_group(path)
    out: dict[str, Any] = {name: np.asarray(array[...]) for name, array in group.arrays()}
    out["param_names"] = list(group["params"].attrs["names"])
    out["attrs"] = dict(group.attrs)
    return out


def plot_marginals(
    result: AbcResult, path: str | os.PathLike, bins: int = 30, show_generations: bool = True
) -> None:
    """Weighted marginal histograms per parameter of the final generation (PNG).

    Earlier generations are drawn as faint step outlines; the posterior mean is a vertical line;
    the x range is the prior box.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = result.param_names
    bounds = result.prior.get("bounds", {})
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.0), squeeze=False)
    for j, (ax, name) in enumerate(zip(axes[0], names, strict=True)):
        lo, hi = bounds.get(name, (None, None))
        edges = np.linspace(lo, hi, bins + 1) if lo is not None else bins
        if show_generations:
            for g in result.generations[:-1]:
                ax.hist(
                    g.params[:, j],
                    bins=edges,
                    weights=g.weights,
                    density=True,
                    histtype="step",
                    color="0.6",
                    alpha=0.5,
                    linewidth=0.8,
                )
        if result.final is not None:
            g = result.final
            ax.hist(
                g.params[:, j],
                bins=edges,
                weights=g.weights,
                density=True,
                color="C0",
                alpha=0.8,
                label=f"t={g.t}, eps={g.epsilon:.3g}",
            )
            ax.axvline(result.theta_hat[j], color="C3", linewidth=1.5, label="posterior mean")
        else:
            ax.text(
                0.5,
                0.5,
                "no completed generation",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
        if lo is not None:
            ax.set_xlim(lo, hi)
        ax.set_xlabel(name)
        ax.set_yticks([])
    axes[0, 0].set_ylabel("posterior density")
    if result.final is not None:
        axes[0, -1].legend(fontsize=7, loc="upper right")
    target = ", ".join(f"{v:.3g}" for v in result.target)
    fig.suptitle(
        f"ABC posterior marginals, {result.stat_name}* = ({target}) [{result.status}]", fontsize=9
    )
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_summary(result: AbcResult, path: str | os.PathLike) -> None:
    """The acceptance/evaluation summary as JSON (:meth:`AbcResult.summary`)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result.summary(), indent=2, allow_nan=False) + "\n")


def save_outputs(
    result: AbcResult,
    store_path: str | os.PathLike | None = None,
    figure_path: str | os.PathLike | None = None,
    summary_path: str | os.PathLike | None = None,
) -> None:
    """Write whichever of the posterior store, the marginal figure and the summary are given."""
    if store_path is not None:
        write_posterior_store(result, store_path)
    if figure_path is not None:
        plot_marginals(result, figure_path)
    if summary_path is not None:
        write_summary(result, summary_path)
