"""Steady diffusion by conjugate gradients with geometric multigrid (``method="krylov"``, CPU).

Solves the discrete problem of :mod:`.diffusion` (lattice units: voxel spacing 1, D = 1) over the
interior connected pore voxels, matrix-free (:mod:`.diffusion_multigrid`: an index grid and uint8
link weights, about 9 bytes per pore voxel plus 4 per voxel): conjugate gradients in float64
(four vectors) preconditioned by a float32 W-cycle of geometric-aggregation multigrid (2 x 2 x 2
blocks, Galerkin coarse operators, red-black Gauss-Seidel, over-corrected coarse corrections),
10-25 iterations on spinodoids and TauFactor's 500^3 test volume. The operator's entries are
small integers, exact in float32, so only the preconditioner is in single precision. The flux is
measured on every layer pair; since it is conserved, its spread across layers checks the solve,
and CG goes on past the residual tolerance until that spread is below FLUX_TOL.

:func:`laplacian_system` assembles the same system as a sparse matrix (the tests' independent
reference, solved there by a direct factorisation); :func:`layer_fluxes` measures the fluxes of a
dense concentration field.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import scipy.sparse as sp

from poredesign.transport.diffusion_multigrid import (
    Hierarchy,
    apply,
    fluxes,
    inlet_norm,
    linear_profile,
    residual,
    threads_for,
)

# largest accepted spread of the flux across layer pairs, (max - min) / mean; eta, the mean, is far
# more accurate than the spread (about 1e-6 at a spread of 1e-4 on spinodoids)
FLUX_TOL = 1e-4
# CG goes on past the residual tolerance while the flux spread exceeds FLUX_TOL, down to
# tol * TIGHTEN at most
TIGHTEN = 1e-4


def laplacian_system(
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


def layer_fluxes(pore: np.ndarray, concentration: np.ndarray) -> np.ndarray:
    """Total flux from layer k to k + 1 along axis 0, for k = 0..N-2."""
    both = pore[:-1] & pore[1:]
    drop = np.where(both, concentration[:-1] - concentration[1:], 0.0)
    return drop.sum(axis=(1, 2))


@numba.njit(cache=True, parallel=True)
def _update(x, r, p, q, alpha):  # pragma: no cover - compiled
    """x += alpha p; r -= alpha q; returns r . r."""
    s = 0.0
    for i in numba.prange(x.shape[0]):
        x[i] += alpha * p[i]
        r[i] -= alpha * q[i]
        s += r[i] * r[i]
    return s


@numba.njit(cache=True, parallel=True)
def _direction(p, z, beta):  # pragma: no cover - compiled
    """p = z + beta p."""
    for i in numba.prange(p.shape[0]):
        p[i] = z[i] + beta * p[i]


@numba.njit(cache=True, parallel=True)
def _dot(a, b):  # pragma: no cover - compiled
    s = 0.0
    for i in numba.prange(a.shape[0]):
        s += a[i] * b[i]
    return s


def _pcg(hierarchy, x, tol, tol_floor, max_iterations, accept, progress=None):
    """Preconditioned conjugate gradients on level 0 of ``hierarchy`` (float64 vectors, the
    multigrid preconditioner in float32); four work vectors (the product A p and the
    preconditioned residual share one). Stops once the relative residual ||b - A x|| / ||b|| is
    below ``tol`` and ``accept(x)`` holds (checked after every iteration from then on), or below
    ``tol_floor``, or after ``max_iterations``. Returns (iterations, relative residual)."""
    idx, w, diag = hierarchy.levels[0]
    periodic = hierarchy.periodic
    b_norm = max(inlet_norm(idx), 1e-300)
    r = np.empty_like(x)
    residual(idx, w, diag, x, r, r, True, periodic)
    relative = math.sqrt(_dot(r, r)) / b_norm
    if relative <= tol_floor or (relative <= tol and accept(x)):
        return 0, relative
    zq = np.empty_like(x)
    hierarchy.precondition(r, zq)
    p = zq.copy()
    rz = _dot(r, zq)
    iterations = 0
    while iterations < max_iterations:
        apply(idx, w, diag, p, zq, periodic)  # zq = A p
        pq = _dot(p, zq)
        if not pq > 0:
            break
        relative = math.sqrt(_update(x, r, p, zq, rz / pq)) / b_norm
        iterations += 1
        if progress is not None:
            progress(iterations, relative)
        if relative <= tol_floor or (relative <= tol and accept(x)):
            break
        hierarchy.precondition(r, zq)  # zq = M^-1 r
        rz_new = _dot(r, zq)
        _direction(p, zq, rz_new / rz)
        rz = rz_new
    # the true residual (the recurrence drifts in the last digits)
    residual(idx, w, diag, x, r, r, True, periodic)
    return iterations, math.sqrt(_dot(r, r)) / b_norm


def solve_krylov(
    connected: np.ndarray,
    lateral_periodic: bool,
    tol: float,
    max_iterations: int,
    flux_tol: float = FLUX_TOL,
    progress=None,
):
    """Layer fluxes (N - 1), CG iterations, relative residual, flux spread.

    Matrix-free on the connected pore voxels (:mod:`.diffusion_multigrid`): CG in float64
    preconditioned by a float32 W-cycle. Once the relative residual is below ``tol``, CG goes on
    while the flux spread across layer pairs exceeds ``flux_tol`` (down to ``tol * TIGHTEN`` at
    most), so the flux, hence eta, is accurate to about ``flux_tol``.
    ``progress(iterations, residual, tol)`` is called after every CG iteration.
    """
    from threadpoolctl import threadpool_limits

    threads = numba.get_num_threads()
    with threadpool_limits(limits=1, user_api="blas"):
        try:
            hierarchy = Hierarchy(connected, lateral_periodic)
            numba.set_num_threads(threads_for(connected.size))
            return _solve(hierarchy, tol, max_iterations, flux_tol, progress)
        finally:
            numba.set_num_threads(threads)


def _solve(hierarchy, tol, max_iterations, flux_tol, progress):
    idx = hierarchy.index
    x = np.zeros(hierarchy.n)
    if not hierarchy.n:
        return fluxes(idx, x), 0, 0.0, 0.0
    linear_profile(idx, x)  # start from the profile of a straight channel
    state = {}

    def accept(x):
        flux = fluxes(idx, x)
        mean = float(flux.mean())
        state["flux"] = flux
        state["spread"] = float((flux.max() - flux.min()) / abs(mean)) if mean else 0.0
        return state["spread"] <= flux_tol

    report = None if progress is None else (lambda it, res: progress(it, res, tol))
    iterations, residual_norm = _pcg(
        hierarchy, x, tol, tol * TIGHTEN, max_iterations, accept, report
    )
    accept(x)
    return state["flux"], iterations, residual_norm, state["spread"]
