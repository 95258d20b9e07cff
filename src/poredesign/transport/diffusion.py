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

Two solvers of this same discrete problem:

``method="krylov"`` (default, CPU): conjugate gradients preconditioned by algebraic multigrid
with geometric aggregates (2 x 2 x 2 blocks of unknowns, piecewise-constant prolongation, Galerkin
coarse operators, W-cycle, symmetric Gauss-Seidel smoothing; pyamg's cycle and smoothers). Its
set-up is a few sparse sums, about 20x cheaper than classical (Ruge-Stuben) AMG here, and the
solve converges in 10-25 iterations on spinodoids. BLAS is held to one thread during the solve:
the vectors are too small to gain from threads, and idle-spinning BLAS threads slowed the solve
10-30x on a busy 2-core machine. The flux is measured on every layer pair; since it is
conserved, its spread across layers checks the solve.

``method="lbm"``: a D3Q7 two-relaxation-time lattice Boltzmann scheme in Taichi, float64
(:mod:`.diffusion_kernels`), with the magic parameter 1/4, whose steady state is exactly this
finite-volume scheme whatever the relaxation time; it marches in time from a linear profile
until the flux through every layer pair agrees (spread below ``tol``) and stops changing. Slower
on the CPU (O(N^2 / D) steps) but runs on CUDA; the two methods agree to about 1e-7.
"""

from __future__ import annotations

import logging
import math
import time
import warnings

import numpy as np
import scipy.sparse as sp

from poredesign.transport.connectivity import spanning_mask
from poredesign.transport.inputs import as_solid
from poredesign.transport.lattice import D3Q7_CS2, MAGIC_DIFFUSION
from poredesign.transport.results import AXES, DiffusivityResult, Flag, axis_index

log = logging.getLogger(__name__)

METHODS = ("krylov", "lbm")
LATERAL = ("periodic", "closed")
DEFAULT_TOL = {"krylov": 1e-5, "lbm": 1e-5}
# krylov: largest accepted spread of the flux across layer pairs, (max - min) / mean; eta, the
# mean, is far more accurate than the spread (about 1e-6 at a spread of 1e-4 on spinodoids)
FLUX_TOL = 1e-4
# relaxation time tau_- of the flux: D = c_s^2 (tau_- - 1/2) = 4.875; tau_+ = 0.5128 from the magic
# parameter
LBM_RELAXATION_TIME_MINUS = 20.0


def _laplacian_system(
    pore: np.ndarray, lateral_periodic: bool = True
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """System A c = b over the interior connected pore voxels (axis 0 = transport axis).

    Returns (A, b, index) with ``index`` the unknown number of each voxel (-1: none, -2: inlet,
    -3: outlet).
    """
    index = np.full(pore.shape, -1, dtype=np.int64)
    interior = pore.copy()
    interior[0] = interior[-1] = False
    n_unknowns = int(interior.sum())
    index[interior] = np.arange(n_unknowns)
    index[0][pore[0]] = -2
    index[-1][pore[-1]] = -3

    rows, cols = [], []
    diag = np.zeros(n_unknowns)
    b = np.zeros(n_unknowns)
    for axis in range(3):
        if axis == 0 or not lateral_periodic:
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[axis] = slice(None, -1)
            hi[axis] = slice(1, None)
            a, c = index[tuple(lo)], index[tuple(hi)]
        else:
            a, c = index, np.roll(index, -1, axis=axis)
        both = (a != -1) & (c != -1)
        ia, ic = a[both], c[both]
        for p, q in ((ia, ic), (ic, ia)):
            unknown = p >= 0
            diag += np.bincount(p[unknown], minlength=n_unknowns)
            coupled = unknown & (q >= 0)
            rows.append(p[coupled])
            cols.append(q[coupled])
            inlet = unknown & (q == -2)  # neighbour fixed at c = 1
            b += np.bincount(p[inlet], minlength=n_unknowns)
    rows = np.concatenate(rows)
    cols = np.concatenate(cols)
    off = sp.csr_matrix((-np.ones(len(rows)), (rows, cols)), shape=(n_unknowns, n_unknowns))
    matrix = (off + sp.diags(diag)).tocsr()
    return matrix, b, index


def _layer_fluxes(pore: np.ndarray, concentration: np.ndarray) -> np.ndarray:
    """Total flux from layer k to k + 1 along axis 0, for k = 0..N-2."""
    both = pore[:-1] & pore[1:]
    drop = np.where(both, concentration[:-1] - concentration[1:], 0.0)
    return drop.sum(axis=(1, 2))


def aggregation_amg(matrix: sp.csr_matrix, coords: np.ndarray, max_coarse: int = 500):
    """pyamg multilevel solver with geometric aggregates (2 x 2 x 2 blocks of unknowns).

    ``coords``: int (n, 3) voxel coordinates of the unknowns. Piecewise-constant prolongation,
    Galerkin coarse operators (the coarse matrix of a graph Laplacian is again one, with the
    number of fine links between two aggregates as weight), symmetric Gauss-Seidel smoothing.
    Use with ``cycle="W"`` (V-cycles of unsmoothed aggregation lose efficiency with depth).
    """
    from pyamg.multilevel import MultilevelSolver
    from pyamg.relaxation.smoothing import change_smoothers

    levels = []
    a = matrix.tocsr()
    coords = np.asarray(coords, dtype=np.int64)
    while a.shape[0] > max_coarse:
        coarse = coords // 2
        span = coarse.max(axis=0) + 1
        key = (coarse[:, 0] * span[1] + coarse[:, 1]) * span[2] + coarse[:, 2]
        unique, aggregate = np.unique(key, return_inverse=True)
        n_coarse = len(unique)
        if n_coarse > 0.9 * a.shape[0]:
            break
        prolong = sp.csr_matrix(
            (np.ones(a.shape[0]), (np.arange(a.shape[0]), aggregate)), shape=(a.shape[0], n_coarse)
        )
        level = MultilevelSolver.Level()
        level.A, level.P, level.R = a, prolong, prolong.T.tocsr()
        levels.append(level)
        a = (level.R @ a @ prolong).tocsr()
        coords = np.empty((n_coarse, 3), dtype=np.int64)
        coords[aggregate] = coarse
    level = MultilevelSolver.Level()
    level.A = a
    levels.append(level)
    solver = MultilevelSolver(levels, coarse_solver="pinv")
    smoother = ("gauss_seidel", {"sweep": "symmetric", "iterations": 1})
    change_smoothers(solver, smoother, smoother)
    return solver


def _krylov(
    connected: np.ndarray,
    lateral_periodic: bool,
    tol: float,
    max_iterations: int,
    flux_tol: float = FLUX_TOL,
):
    """Concentration (N, ny, nz), CG iterations, relative residual, flux spread.

    The residual tolerance is tightened (x 0.01, at most twice) while the flux spread across
    layer pairs exceeds ``flux_tol``, so the flux, hence eta, is accurate to about ``flux_tol``.
    """
    from threadpoolctl import threadpool_limits

    matrix, b, index = _laplacian_system(connected, lateral_periodic)
    n_layers = connected.shape[0]
    concentration = np.zeros(connected.shape)
    concentration[0][connected[0]] = 1.0
    if not matrix.shape[0]:
        return concentration, 0, 0.0, 0.0
    unknown = index >= 0
    coords = np.empty((matrix.shape[0], 3), dtype=np.int64)
    coords[index[unknown]] = np.argwhere(unknown)
    # start from the linear profile of a straight channel
    x = 1.0 - coords[:, 0] / (n_layers - 1.0)
    iterations = 0
    spread = math.inf
    residual = math.inf
    with threadpool_limits(limits=1, user_api="blas"):
        solver = aggregation_amg(matrix, coords)
        for attempt in range(3):
            residuals: list[float] = []
            x = solver.solve(
                b,
                x0=x,
                tol=tol * 0.01**attempt,
                maxiter=max(1, max_iterations - iterations),
                accel="cg",
                cycle="W",
                residuals=residuals,
            )
            iterations += max(len(residuals) - 1, 0)
            residual = float(np.linalg.norm(b - matrix @ x) / max(np.linalg.norm(b), 1e-300))
            concentration[unknown] = x[index[unknown]]
            fluxes = _layer_fluxes(connected, concentration)
            mean = float(fluxes.mean())
            spread = float((fluxes.max() - fluxes.min()) / abs(mean)) if mean else 0.0
            if spread <= flux_tol or iterations >= max_iterations:
                break
    return concentration, iterations, residual, spread


class _LbmBuffers:
    def __init__(self, shape):
        import taichi as ti

        from poredesign.transport import backend

        self.shape = tuple(shape)
        self.generation = backend.generation()
        nv = int(np.prod(shape))
        self.src = ti.ndarray(ti.f64, 7 * nv)
        self.dst = ti.ndarray(ti.f64, 7 * nv)
        self.mask = ti.ndarray(ti.u8, nv)
        self.partial = ti.ndarray(ti.f64, max(1, (shape[0] - 1) * shape[1]))


_lbm_cache: dict[str, _LbmBuffers] = {}


def _lbm_buffers(shape) -> _LbmBuffers:
    from poredesign.transport import backend

    buf = _lbm_cache.get("last")
    if buf is None or buf.shape != tuple(shape) or buf.generation != backend.generation():
        _lbm_cache.clear()  # free the previous size first
        buf = _LbmBuffers(shape)
        _lbm_cache["last"] = buf
    return buf


def lbm_default_steps(
    shape: tuple[int, ...], relaxation_time_minus: float = LBM_RELAXATION_TIME_MINUS
) -> int:
    """Step budget of the D3Q7 run: a multiple of the diffusive time N^2 / D of the box."""
    n = max(shape)
    d = D3Q7_CS2 * (relaxation_time_minus - 0.5)
    return int(max(2000, 40 * n * n / d))


def _lbm(
    connected: np.ndarray,
    lateral_periodic: bool,
    tol: float,
    max_steps: int | None,
    device: str,
    threads: int | None,
    relaxation_time_minus: float,
    check_every: int | None,
):
    """Flux per layer pair (in units of D), steps, converged flag, spread."""
    from poredesign.transport import backend

    active = backend.ensure_backend(device, threads)
    from poredesign.transport import diffusion_kernels as dk

    step = dk.step_kernel(active)

    shape = connected.shape
    nx, ny, nz = shape
    relaxation_time_plus = 0.5 + MAGIC_DIFFUSION / (relaxation_time_minus - 0.5)
    lp, lm = 1.0 / relaxation_time_plus, 1.0 / relaxation_time_minus
    d_lbm = D3Q7_CS2 * (relaxation_time_minus - 0.5)
    buf = _lbm_buffers(shape)
    buf.mask.from_numpy(dk.node_mask(connected, lateral_periodic))
    profile = np.broadcast_to(1.0 - np.arange(nx)[:, None, None] / (nx - 1.0), shape)
    conc0 = np.where(connected, profile, 0.0).ravel()
    init = np.outer(np.asarray(dk.W), conc0).ravel()
    buf.src.from_numpy(init)
    buf.dst.from_numpy(init)
    budget = max_steps or lbm_default_steps(shape, relaxation_time_minus)
    n_check = check_every or max(20, min(500, nx * nx // 8))
    a, b = buf.src, buf.dst
    steps = 0
    history: list[float] = []
    converged = False
    fluxes = np.zeros(nx - 1)
    spread = math.inf
    while steps < budget:
        todo = min(n_check, budget - steps)
        for _ in range(todo):
            step(a, b, buf.mask, nx, ny, nz, lp, lm, 1.0, 0.0)
            a, b = b, a
        steps += todo
        dk.diffusion_layer_flux(a, buf.mask, nx, ny, nz, buf.partial)
        fluxes = buf.partial.to_numpy().reshape(nx - 1, ny).sum(axis=1) / d_lbm
        mean = float(fluxes.mean())
        if not np.isfinite(fluxes).all():
            break
        spread = float((fluxes.max() - fluxes.min()) / abs(mean)) if mean else math.inf
        change = abs(mean - history[-1]) / abs(mean) if history and mean else math.inf
        history.append(mean)
        if spread < tol and change < tol:
            converged = True
            break
    return fluxes, steps, converged, spread


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
) -> DiffusivityResult:
    """Effective diffusivity eta = D_eff / D and tortuosity factor along ``axis``.

    Parameters
    ----------
    solid: bool (x, y, z) array, True = solid (0/1 integers accepted).
    axis: 0, 1, 2 or 'x', 'y', 'z': the transport direction.
    method: 'krylov' (CG + algebraic multigrid, CPU) or 'lbm' (D3Q7 TRT lattice Boltzmann, Taichi).
    tol: krylov: relative residual of the linear solve (default 1e-5; tightened while the flux
        spread across layer pairs exceeds 1e-4); lbm: spread of the flux across layer pairs and
        its relative change between checks (default 1e-5).
    max_iterations: krylov: CG iterations (default 2000); lbm: time steps (default about
        40 N^2 / D) before the result is flagged NOT_CONVERGED (eta NaN).
    name: how warnings refer to the structure (e.g. its index in a store).
    lateral: 'periodic' (default, SPEC 2.2) or 'closed' lateral boundaries.
    device, threads: Taichi backend of the lbm method ('auto', 'cpu', 'cuda').
    relaxation_time_minus, check_every: lbm relaxation time tau_- of the flux (dimensionless,
        D = (tau_- - 1/2) / 4 lattice units) and the number of steps between convergence checks.

    Faults are results: no pore path from inlet to outlet gives eta = 0 and Flag.NO_PATH; an
    all-pore volume gives eta = 1 and Flag.NO_SOLID; no convergence gives NaN and a warning.
    """
    start = time.perf_counter()
    solid = as_solid(solid, name)
    ax = axis_index(axis)
    if method not in METHODS:
        raise ValueError(f"diffusivity method must be one of {METHODS}; got {method!r}")
    if lateral not in LATERAL:
        raise ValueError(f"diffusivity lateral must be one of {LATERAL}; got {lateral!r}")
    tol = DEFAULT_TOL[method] if tol is None else float(tol)
    if not tol > 0:
        raise ValueError(f"diffusivity tol must be > 0; got {tol!r}")
    porosity = 1.0 - float(solid.mean())
    shape = tuple(int(s) for s in solid.shape)
    periodic = lateral == "periodic"

    def result(eta: float, flag: Flag, message: str = "", **extra) -> DiffusivityResult:
        tau = (
            porosity / eta
            if eta > 0 and math.isfinite(eta)
            else (math.inf if eta == 0 else math.nan)
        )
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
            shape=shape,
            device=device_used,
            **{"iterations": 0, **extra},
        )

    if not solid.any():
        return result(1.0, Flag.NO_SOLID, f"{name}: no solid voxel, eta = 1", porosity_eff=1.0)
    pore = np.ascontiguousarray(np.moveaxis(~solid, ax, 0))
    connected = spanning_mask(pore, 0, periodic=periodic)
    porosity_eff = float(connected.mean())
    if not connected.any():
        return result(
            0.0, Flag.NO_PATH, f"{name}: no pore path along axis {'xyz'[ax]}", porosity_eff=0.0
        )

    n_layers = connected.shape[0]
    area = connected.shape[1] * connected.shape[2]
    if method == "krylov":
        budget = 2000 if max_iterations is None else int(max_iterations)
        concentration, iterations, residual, spread = _krylov(connected, periodic, tol, budget)
        if not (residual <= 10 * tol or spread <= FLUX_TOL):
            message = (
                f"{name}: diffusion along {'xyz'[ax]} not converged after {iterations} "
                f"iterations (relative residual {residual:.2e} > {tol:.0e})"
            )
            log.warning(message)
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            return result(
                math.nan,
                Flag.NOT_CONVERGED,
                message,
                iterations=iterations,
                residual=residual,
                porosity_eff=porosity_eff,
            )
        fluxes = _layer_fluxes(connected, concentration)
    else:
        fluxes, iterations, converged, residual = _lbm(
            connected,
            periodic,
            tol,
            max_iterations,
            device,
            threads,
            relaxation_time_minus,
            check_every,
        )
        if not converged:
            reason = (
                "NaN in the flux"
                if not np.isfinite(fluxes).all()
                else f"flux spread across layers {residual:.2e} > {tol:.0e}"
            )
            flag = Flag.DIVERGED if not np.isfinite(fluxes).all() else Flag.NOT_CONVERGED
            message = (
                f"{name}: lattice Boltzmann diffusion along {AXES[ax]} not converged "
                f"after {iterations} steps ({reason})"
            )
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
    eta = float(fluxes.mean()) * (n_layers - 1) / area
    return result(eta, Flag.OK, iterations=iterations, residual=residual, porosity_eff=porosity_eff)
