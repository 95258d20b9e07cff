"""What an ABC run returns: the completed generations, the summary and what the end means.

:class:`AbcResult` holds the posterior of every completed generation (:class:`Generation`) and
the sampler's statistics per sampling call; :func:`diagnose` names why the run ended
("converged", "acceptance_rate_too_low", "simulation_budget_exhausted", "walltime") with a
message giving the generation, its tolerance, the acceptance rate and the best distance reached.
The posterior is that of the last completed generation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poredesign.design.abc.sampler import STOP_BUDGET, STOP_OK
from poredesign.jsonable import jsonable

STATUS_CONVERGED = "converged"
STATUS_LOW_ACCEPTANCE = "acceptance_rate_too_low"
STATUS_BUDGET = "simulation_budget_exhausted"
STATUS_WALLTIME = "walltime"


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
        names = self.param_names
        summary = {
            "status": self.status,
            "converged": self.converged,
            "message": self.message,
            "target": {f"{self.stat_name}_{i}": v for i, v in enumerate(self.target)},
            "target_vector": self.target,
            "param_names": names,
            "theta_hat": dict(zip(names, self.theta_hat, strict=True)),
            "theta_std": dict(zip(names, self.theta_std, strict=True)),
            "final_epsilon": self.final_epsilon,
            "best_distance": self.best_distance,
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
                    "theta_mean": dict(zip(names, g.mean(), strict=True)),
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
        return jsonable(summary, nan_as_none=True)


def best_distance_reached(attempts: list[dict[str, Any]], generations: list[Generation]) -> float:
    """The smallest distance of any model evaluation (failed generations included)."""
    values = [a["best_distance"] for a in attempts if np.isfinite(a.get("best_distance", np.nan))]
    values += [float(g.distances.min()) for g in generations]
    return float(min(values)) if values else math.nan


def diagnose(
    result: AbcResult,
    min_rate: float,
    max_total: float | None,
    max_walltime_s: float | None,
) -> tuple[str, str]:
    """(status, message) of a finished run: why it ended and what posterior it keeps.

    ``min_rate``, ``max_total`` and ``max_walltime_s`` are the run's ``min_acceptance_rate``,
    ``max_total_nr_simulations`` and ``max_walltime_s`` (seconds).
    """
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
