"""Steady diffusion through the pore space: effective diffusivity and tortuosity factor [SPEC 2.2].

The discrete problem (lattice units, voxel spacing 1, D = 1): one unknown concentration per pore
voxel; c = 1 on the pore voxels of the inlet layer (index 0 along the axis) and c = 0 on those of
the outlet layer (index N - 1); between face-neighbouring pore voxels the flux is c_i - c_j; no flux
into solid voxels; periodic in the two lateral directions. Every interior pore voxel conserves mass,
sum_j (c_j - c_i) = 0, a graph Laplacian that is symmetric positive definite once the Dirichlet
layers are eliminated. Only pore clusters connected from inlet to outlet (lateral wrap included)
carry flux, so the others are dropped before solving.

eta = D_eff / D = <J> (N - 1) / (c_in - c_out), with <J> the total flux through a cross-section
divided by the full cross-section N_lat1 * N_lat2 (so eta <= porosity); tau = porosity / eta.
Straight channels give eta = porosity exactly.

``method="krylov"`` solves the linear system with conjugate gradients preconditioned by classical
(Ruge-Stuben) algebraic multigrid (pyamg) on the CPU. BLAS is held to one thread during the solve:
the vectors are too small to gain from threads, and idle-spinning BLAS threads slowed the solve
10-30x on a busy 2-core machine. The flux is measured on every layer pair; since
it is conserved, its spread across layers checks the solve.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import scipy.sparse as sp

from poredesign.transport.connectivity import spanning_mask
from poredesign.transport.inputs import as_solid
from poredesign.transport.results import DiffusivityResult, Flag, axis_index

log = logging.getLogger(__name__)

METHODS = ("krylov",)


def _laplacian_system(pore: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
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
        if axis == 0:
            a, c = index[:-1], index[1:]
        else:
            a, c = index, np.roll(index, -1, axis=axis)
        both = (a != -1) & (c != -1)
        ia, ic = a[both], c[both]
        for p, q in ((ia, ic), (ic, ia)):
            unknown = p >= 0
            np.add.at(diag, p[unknown], 1.0)
            coupled = unknown & (q >= 0)
            rows.append(p[coupled])
            cols.append(q[coupled])
            inlet = unknown & (q == -2)  # neighbour fixed at c = 1
            np.add.at(b, p[inlet], 1.0)
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


def diffusivity(
    solid,
    axis: int | str,
    method: str = "krylov",
    tol: float = 1e-8,
    max_iterations: int = 2000,
    name: str = "structure",
) -> DiffusivityResult:
    """Effective diffusivity eta = D_eff / D and tortuosity factor along ``axis``.

    Parameters
    ----------
    solid: bool (x, y, z) array, True = solid (0/1 integers accepted).
    axis: 0, 1, 2 or 'x', 'y', 'z': the transport direction.
    method: 'krylov' (CG + algebraic multigrid).
    tol: relative residual of the linear solve.
    max_iterations: CG iterations before the result is flagged NOT_CONVERGED (eta NaN).
    name: how warnings refer to the structure (e.g. its index in a store).

    Faults are results: no pore path from inlet to outlet gives eta = 0 and Flag.NO_PATH; an
    all-pore volume gives eta = 1 and Flag.NO_SOLID; no convergence gives NaN and a warning.
    """
    start = time.perf_counter()
    solid = as_solid(solid, name)
    ax = axis_index(axis)
    if method not in METHODS:
        raise ValueError(f"diffusivity method must be one of {METHODS}; got {method!r}")
    porosity = 1.0 - float(solid.mean())
    shape = tuple(int(s) for s in solid.shape)

    def result(eta: float, flag: Flag, message: str = "", **extra) -> DiffusivityResult:
        tau = porosity / eta if eta > 0 and math.isfinite(eta) else (
            math.inf if eta == 0 else math.nan)
        return DiffusivityResult(
            axis=ax, eta=eta, tau=tau, converged=flag in (Flag.OK, Flag.NO_PATH, Flag.NO_SOLID),
            wall_time=time.perf_counter() - start, flag=flag, message=message,
            porosity=porosity, method=method, shape=shape, device="cpu",
            **{"iterations": 0, **extra},
        )

    if not solid.any():
        return result(1.0, Flag.NO_SOLID, f"{name}: no solid voxel, eta = 1", porosity_eff=1.0)
    pore = np.moveaxis(~solid, ax, 0)
    connected = spanning_mask(pore, 0)
    porosity_eff = float(connected.mean())
    if not connected.any():
        return result(0.0, Flag.NO_PATH, f"{name}: no pore path along axis {'xyz'[ax]}",
                      porosity_eff=0.0)

    matrix, b, index = _laplacian_system(connected)
    n_layers = connected.shape[0]
    concentration = np.zeros(connected.shape)
    concentration[0][connected[0]] = 1.0
    iterations = 0
    residual = 0.0
    if matrix.shape[0]:
        import pyamg
        from threadpoolctl import threadpool_limits

        residuals: list[float] = []
        with threadpool_limits(limits=1, user_api="blas"):
            solver = pyamg.ruge_stuben_solver(matrix, max_coarse=500)
            x = solver.solve(b, tol=tol, maxiter=max_iterations, accel="cg", residuals=residuals)
        iterations = max(len(residuals) - 1, 0)
        residual = float(np.linalg.norm(b - matrix @ x) / max(np.linalg.norm(b), 1e-300))
        concentration[index >= 0] = x[index[index >= 0]]
        if not residual <= 10 * tol:
            message = (f"{name}: diffusion along {'xyz'[ax]} not converged after {iterations} "
                       f"iterations (relative residual {residual:.2e} > {tol:.0e})")
            log.warning(message)
            return result(math.nan, Flag.NOT_CONVERGED, message, iterations=iterations,
                          residual=residual, porosity_eff=porosity_eff)
    fluxes = _layer_fluxes(connected, concentration)
    area = connected.shape[1] * connected.shape[2]
    eta = float(fluxes.mean()) * (n_layers - 1) / area
    return result(eta, Flag.OK, iterations=iterations, residual=residual,
                  porosity_eff=porosity_eff)
