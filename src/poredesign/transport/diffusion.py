"""Steady diffusion through the pore space: effective diffusivity and tortuosity factor [SPEC 2.2].

The discrete problem (lattice units, voxel spacing 1, D = 1): one unknown concentration per pore
voxel; c = 1 on the pore voxels of the inlet layer (index 0 along the axis) and c = 0 on those of
the outlet layer (index N - 1); between face-neighbouring pore voxels the flux is c_i - c_j; no flux
into solid voxels; periodic in the two lateral directions (``lateral="periodic"``, the default) or
closed there (``lateral="closed"``, the convention of porespy's ``tortuosity_fd``). Every interior
pore voxel conserves mass, sum_j (c_j - c_i) = 0, a graph Laplacian that is symmetric positive
definite once the Dirichlet layers are eliminated. Only pore clusters connected from inlet to
outlet (lateral wrap included when periodic) carry flux, so the others are dropped before solving.

eta = D_eff / D = <J> (N - 1) / (c_in - c_out), with <J> the total flux through a cross-section
divided by the full cross-section N_lat1 * N_lat2 (so eta <= porosity); tau = porosity / eta.
Straight channels give eta = porosity exactly.

Two solvers of this same discrete problem, one module each:

``method="krylov"`` (default, CPU; :mod:`.diffusion_krylov`): conjugate gradients preconditioned
by matrix-free geometric-aggregation multigrid on the pore voxels; converges in 10-25 iterations
on spinodoids; TauFactor's 500^3 test volume in about 3 GB.

``method="lbm"`` (:mod:`.diffusion_lbm`, kernels in :mod:`.diffusion_kernels`): a D3Q7
two-relaxation-time lattice Boltzmann scheme in Taichi, float64, whose steady state is exactly this
finite-volume scheme; slower on the CPU but runs on CUDA; the two methods agree to about 1e-7.

This module holds what both share: the input checks, the trivial cases (no solid, no pore path),
the spanning pore cluster, eta from the layer fluxes, and the result with its fault flags.
"""

from __future__ import annotations

import logging
import math
import time
import warnings

import numpy as np

from poredesign.transport.connectivity import spanning_mask
from poredesign.transport.diffusion_krylov import FLUX_TOL, solve_krylov
from poredesign.transport.diffusion_lbm import LBM_RELAXATION_TIME_MINUS, solve_lbm
from poredesign.transport.inputs import as_solid
from poredesign.transport.results import AXES, DiffusivityResult, Flag, axis_index

log = logging.getLogger(__name__)

METHODS = ("krylov", "lbm")
LATERAL = ("periodic", "closed")
DEFAULT_TOL = {"krylov": 1e-5, "lbm": 1e-5}


def diffusivity(
    solid,
    axis: int | str,
    method: str = "krylov",
    tol: float | None = None,
    max_iterations: int | None = None,
    name: str = "structure",
    *,
    lateral: str = "periodic",
    device: str = "auto",
    threads: int | None = None,
    relaxation_time_minus: float = LBM_RELAXATION_TIME_MINUS,
    check_every: int | None = None,
    progress=None,
) -> DiffusivityResult:
    """Effective diffusivity eta = D_eff / D and tortuosity factor along ``axis``.

    Parameters
    ----------
    solid: bool (x, y, z) array, True = solid (0/1 integers accepted).
    axis: 0, 1, 2 or 'x', 'y', 'z': the transport direction.
    method: 'krylov' (CG + geometric multigrid, CPU) or 'lbm' (D3Q7 TRT lattice Boltzmann, Taichi).
    tol: krylov: relative residual of the linear solve (default 1e-5; CG goes on while the flux
        spread across layer pairs exceeds 1e-4); lbm: spread of the flux across layer pairs and
        its relative change between checks (default 1e-5).
    max_iterations: krylov: CG iterations (default 2000); lbm: time steps (default about
        40 N^2 / D) before the result is flagged NOT_CONVERGED (eta NaN).
    name: how warnings refer to the structure (e.g. its index in a store).
    lateral: 'periodic' (default, SPEC 2.2) or 'closed' lateral boundaries.
    device, threads: Taichi backend of the lbm method ('auto', 'cpu', 'cuda').
    relaxation_time_minus, check_every: lbm relaxation time ``tau_-`` of the flux (dimensionless,
        ``D = (tau_- - 1/2) / 4`` lattice units) and the number of steps between convergence checks.
    progress: krylov: called as ``progress(iterations, relative residual, tol)`` after every CG
        iteration (e.g. a :class:`~poredesign.transport.progress.ProgressLine`).

    Faults are results: no pore path from inlet to outlet gives eta = 0 and Flag.NO_PATH; an
    all-pore volume gives eta = 1 and Flag.NO_SOLID; no convergence gives NaN and a warning.
    """
    start = time.perf_counter()
    solid = as_solid(solid, name)
    ax = axis_index(axis)
    tol = _checked_options(method, lateral, tol)
    porosity = 1.0 - float(solid.mean())
    periodic = lateral == "periodic"

    def result(eta: float, flag: Flag, message: str = "", **extra) -> DiffusivityResult:
        return _result(eta, flag, message, ax, porosity, method, solid.shape, start, **extra)

    if not solid.any():
        return result(1.0, Flag.NO_SOLID, f"{name}: no solid voxel, eta = 1", porosity_eff=1.0)
    pore = np.ascontiguousarray(np.moveaxis(~solid, ax, 0))
    connected = spanning_mask(pore, 0, periodic=periodic)
    porosity_eff = float(connected.mean())
    if not connected.any():
        return result(
            0.0, Flag.NO_PATH, f"{name}: no pore path along axis {'xyz'[ax]}", porosity_eff=0.0
        )

    if method == "krylov":
        budget = 2000 if max_iterations is None else int(max_iterations)
        fluxes, iterations, residual, spread = solve_krylov(
            connected, periodic, tol, budget, progress=progress
        )
        failure = _krylov_failure(name, ax, iterations, residual, spread, tol)
    else:
        fluxes, iterations, converged, residual = solve_lbm(
            connected,
            periodic,
            tol,
            max_iterations,
            device,
            threads,
            relaxation_time_minus,
            check_every,
        )
        failure = None if converged else _lbm_failure(name, ax, fluxes, iterations, residual, tol)
    if failure is not None:
        flag, message = failure
        log.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return result(
            math.nan,
            flag,
            message,
            iterations=iterations,
            residual=residual,
            porosity_eff=porosity_eff,
        )
    n_layers = connected.shape[0]
    area = connected.shape[1] * connected.shape[2]
    eta = float(fluxes.mean()) * (n_layers - 1) / area
    return result(eta, Flag.OK, iterations=iterations, residual=residual, porosity_eff=porosity_eff)


def _checked_options(method: str, lateral: str, tol: float | None) -> float:
    """The solver tolerance (the method's default when None), or a ValueError naming the option."""
    if method not in METHODS:
        raise ValueError(f"diffusivity method must be one of {METHODS}; got {method!r}")
    if lateral not in LATERAL:
        raise ValueError(f"diffusivity lateral must be one of {LATERAL}; got {lateral!r}")
    tol = DEFAULT_TOL[method] if tol is None else float(tol)
    if not tol > 0:
        raise ValueError(f"diffusivity tol must be > 0; got {tol!r}")
    return tol


def _krylov_failure(
    name: str, ax: int, iterations: int, residual: float, spread: float, tol: float
) -> tuple[Flag, str] | None:
    """The flag and message of a CG solve that met neither its residual nor the flux test."""
    if residual <= 10 * tol or spread <= FLUX_TOL:
        return None
    return Flag.NOT_CONVERGED, (
        f"{name}: diffusion along {'xyz'[ax]} not converged after {iterations} "
        f"iterations (relative residual {residual:.2e} > {tol:.0e})"
    )


def _lbm_failure(
    name: str, ax: int, fluxes: np.ndarray, iterations: int, residual: float, tol: float
) -> tuple[Flag, str]:
    """The flag and message of a lattice Boltzmann solve that did not converge."""
    finite = np.isfinite(fluxes).all()
    reason = (
        "NaN in the flux" if not finite else f"flux spread across layers {residual:.2e} > {tol:.0e}"
    )
    return (Flag.NOT_CONVERGED if finite else Flag.DIVERGED), (
        f"{name}: lattice Boltzmann diffusion along {AXES[ax]} not converged "
        f"after {iterations} steps ({reason})"
    )


def _result(
    eta: float,
    flag: Flag,
    message: str,
    ax: int,
    porosity: float,
    method: str,
    shape: tuple[int, ...],
    start: float,
    **extra,
) -> DiffusivityResult:
    """The result of one solve: tau from eta (inf without a path, NaN when unsolved)."""
    tau = porosity / eta if eta > 0 and math.isfinite(eta) else (math.inf if eta == 0 else math.nan)
    device_used = "cpu"
    if method == "lbm":
        from poredesign.transport import backend

        device_used = backend.active_device() or ""
    return DiffusivityResult(
        axis=ax,
        eta=eta,
        tau=tau,
        converged=flag in (Flag.OK, Flag.NO_PATH, Flag.NO_SOLID),
        wall_time=time.perf_counter() - start,
        flag=flag,
        message=message,
        porosity=porosity,
        method=method,
        shape=tuple(int(s) for s in shape),
        device=device_used,
        **{"iterations": 0, **extra},
    )
