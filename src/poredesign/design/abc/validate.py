"""Validation of a designed parameter vector with new structures, surrogate and solver [R22].

The posterior mean theta_hat = (a_x, a_y, a_z, porosity) of an ABC run is checked by generating
fresh spinodoids at theta_hat (seeds independent of the training data), computing their effective
diffusivity along x, y and z with the transport solver and, when a surrogate is given, with the
CNN. The upscaling check generates structures at ``factor`` * N with a / ``factor``: the same
feature size in voxels in a domain ``factor`` times larger per edge, so eta should not change if
the N^3 volume is representative.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poredesign.jsonable import read_json
from poredesign.learn.metrics import mape
from poredesign.runlog import progress
from poredesign.seeds import stream_rng
from poredesign.structures.spinodoid import spinodoid

log = logging.getLogger(__name__)


@dataclass
class ValidationResult:
    """eta (n, 3) of the validation structures by solver and surrogate (NaN where not computed)."""

    theta: np.ndarray
    size: int
    eta_solver: np.ndarray
    eta_surrogate: np.ndarray
    porosity: np.ndarray
    flags: np.ndarray
    solver_seconds: float
    settings: dict[str, Any] = field(default_factory=dict)

    def mape(self, target: Sequence[float], source: str = "solver") -> float:
        """MAPE (percent) of the mean validated eta against the (positive) target, over the
        three axes; ``source`` is "solver" or "surrogate"."""
        eta = self.eta_solver if source == "solver" else self.eta_surrogate
        return float(mape(np.nanmean(eta, axis=0), target, axis=None))

    def standard_error(self, source: str = "solver") -> np.ndarray:
        """Standard error (3,) of the mean eta per axis: sample std / sqrt(n)."""
        eta = self.eta_solver if source == "solver" else self.eta_surrogate
        n = np.sum(np.isfinite(eta), axis=0)
        return np.nanstd(eta, axis=0, ddof=1) / np.sqrt(n) if len(eta) > 1 else np.full(3, np.nan)

    def summary(self, target: Sequence[float] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "theta": self.theta.tolist(),
            "size": self.size,
            "n_structures": int(len(self.porosity)),
            "porosity_mean": float(self.porosity.mean()),
            "eta_solver_mean": np.nanmean(self.eta_solver, axis=0).tolist(),
            "eta_solver_std": np.nanstd(self.eta_solver, axis=0).tolist(),
            "eta_solver_se": self.standard_error().tolist(),
            "solver_seconds": self.solver_seconds,
            "flagged": int(np.count_nonzero(self.flags)),
            **self.settings,
        }
        if np.isfinite(self.eta_surrogate).any():
            out["eta_surrogate_mean"] = np.nanmean(self.eta_surrogate, axis=0).tolist()
            out["eta_surrogate_std"] = np.nanstd(self.eta_surrogate, axis=0).tolist()
        if target is not None:
            out["target"] = list(map(float, target))
            out["mape_solver_percent"] = self.mape(target, "solver")
            out["mape_solver_se_percent"] = mape_standard_error(
                self.eta_solver, target, self.settings.get("seed", 0)
            )
            if "eta_surrogate_mean" in out:
                out["mape_surrogate_percent"] = self.mape(target, "surrogate")
        return out


def mape_standard_error(
    eta: np.ndarray, target: Sequence[float], seed: int, resamples: int = 2000
) -> float:
    """Bootstrap standard error (percentage points) of the MAPE of the mean of ``eta`` (n, 3)
    against ``target``: structures resampled with replacement (seeded), so the correlation of
    the three axes of one structure is kept."""
    eta = np.asarray(eta, dtype=float)
    if len(eta) < 2:
        return float("nan")
    rng = stream_rng(seed, "validation", len(eta))
    picks = rng.integers(0, len(eta), size=(resamples, len(eta)))
    means = np.nanmean(eta[picks], axis=1)
    return float(np.std(mape(means, np.asarray(target, float), axis=1), ddof=1))


def validation_structure(theta: Sequence[float], size: int, seed: int, index: int) -> np.ndarray:
    """Validation structure ``index`` at ``theta`` (bool, True = solid)."""
    rng = stream_rng(seed, "validation", index)
    return spinodoid(size, theta[:3], float(theta[3]), seed=rng)


def solve_eta(
    solid: np.ndarray, solver_options: dict[str, Any], name: str = "structure"
) -> tuple[np.ndarray, float, np.ndarray, float]:
    """eta (3,) along x, y, z of one structure by the solver
    (:func:`poredesign.transport.properties` with ``solver_options`` as its ``diffusion``
    options), its porosity, the per-axis flags (0 = ok; flagged axes are logged) and the
    solver's wall time (s)."""
    from poredesign.transport import properties

    start = time.perf_counter()
    props = properties(solid, which=("diffusivity",), diffusion=solver_options)
    seconds = time.perf_counter() - start
    for axis, result in props.diffusivity_results.items():
        if result.flag:
            log.warning("%s, axis %d: %s", name, axis, result.message)
    return np.asarray(props.eta, float), float(props.porosity), np.asarray(props.flags_eta), seconds


def validate_design(
    theta: Sequence[float],
    size: int,
    n_structures: int,
    seed: int,
    predict_structures: Callable[[np.ndarray], np.ndarray] | None = None,
    solver_options: dict[str, Any] | None = None,
    progress_file: Any = None,
) -> ValidationResult:
    """Generate ``n_structures`` spinodoids at ``theta`` and measure eta along x, y, z.

    ``predict_structures`` maps a bool batch (B, N, N, N) to eta (B, 3) (the CNN); the solver is
    :func:`poredesign.transport.properties` (diffusivity along each axis) with ``solver_options``
    as its ``diffusion`` options. ``solver_seconds`` is the solver's wall time.
    """
    theta = np.asarray(theta, dtype=float)
    options = dict(solver_options or {})
    eta_solver = np.full((n_structures, 3), np.nan)
    eta_surrogate = np.full((n_structures, 3), np.nan)
    porosity = np.empty(n_structures)
    flags = np.zeros((n_structures, 3), dtype=np.int32)
    solver_seconds = 0.0
    for i in progress(range(n_structures), f"validate theta at {size}^3", progress_file):
        solid = validation_structure(theta, size, seed, i)
        eta_solver[i], porosity[i], flags[i], seconds = solve_eta(
            solid, options, f"validation structure {i}"
        )
        solver_seconds += seconds
        if predict_structures is not None:
            eta_surrogate[i] = np.asarray(predict_structures(solid[None]))[0]
    return ValidationResult(
        theta,
        size,
        eta_solver,
        eta_surrogate,
        porosity,
        flags,
        solver_seconds,
        {"seed": seed, "solver_options": options},
    )


def posterior_mean(abc_summary: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(theta_hat, target) from an ABC summary JSON; raises if no generation completed."""
    summary = read_json(abc_summary)
    theta = [summary["theta_hat"][name] for name in summary["param_names"]]
    if any(value is None for value in theta):
        raise RuntimeError(
            f"{abc_summary}: ABC completed no generation, so there is no posterior "
            f"mean to validate: {summary['message']}"
        )
    return np.asarray(theta, dtype=float), np.asarray(summary["target_vector"], dtype=float)


def upscaled_theta(theta: Sequence[float], factor: int) -> np.ndarray:
    """(a / factor, porosity): the same voxel feature size in a domain ``factor`` times larger."""
    theta = np.asarray(theta, dtype=float)
    return np.concatenate([theta[:3] / factor, theta[3:]])
