"""Matrix-free geometric-aggregation multigrid for the pore-space diffusion problem (numba kernels).

Every level is a weighted graph Laplacian on a dense index grid (transport axis first): ``idx``
holds the unknown number of each cell (>= 0) or -1 (none; at level 0 also -2 / -3 for the pore
voxels of the inlet / outlet layer, fixed at c = 1 / 0), ``w[p, a]`` the weight of the link from
unknown p to its + neighbour along axis a (0 when that neighbour is no unknown), ``diag[p]`` the
diagonal (the summed weight of all of p's links, Dirichlet neighbours included). Axis 0 is never
periodic; the lateral axes are periodic or closed. Level 0 stores the links as uint8 (weights are
0 or 1): about 9 bytes per pore voxel plus 4 bytes per voxel of the index grid, against about
60 bytes per pore voxel for an assembled CSR matrix (int64 indices) and its copies.

Coarse levels are Galerkin products with piecewise-constant prolongation over 2 x 2 x 2 blocks of
cells (unsmoothed geometric aggregation): the coarse operator of a face-linked grid graph is again
a face-linked grid graph, whose link weight is the number of fine links between two blocks, so
every level has the same representation and the same kernels. The coarsest level (under a thousand
unknowns) is solved exactly (dense Cholesky). Smoothing is red-black Gauss-Seidel (pre: red, black;
post: black, red, so the cycle is symmetric and serves as a CG preconditioner), one sweep each;
the coarse-grid correction is scaled by OVERCORRECT and done twice per level (W-cycle). Threads
split the grid by layers along axis 0, and no two cells of one colour in different layers are
linked, so the smoothing does not depend on the thread count (CG's sums do, in the last digits);
grids under SERIAL_CELLS cells run on one thread.
"""

from __future__ import annotations

import math

import numba
import numpy as np

COARSEST = 1000  # unknowns solved exactly (dense Cholesky) on the coarsest level
# the coarse-grid correction is scaled by this factor (over-correction): piecewise-constant
# prolongation under-estimates smooth errors; 1.6 cut CG iterations from 21 to 13 on a 250^3
# crop of TauFactor's test volume (1.3-2.0 all helped; a symmetric preconditioner needs < 2)
OVERCORRECT = 1.6
# grids with fewer cells run on one thread: a parallel launch costs a thread wake-up, which on a
# busy machine (load above the core count) took milliseconds and made small grids 60x slower
SERIAL_CELLS = 1 << 18


def threads_for(cells: int) -> int:
    """numba threads for a kernel over ``cells`` grid cells."""
    return 1 if cells < SERIAL_CELLS else numba.config.NUMBA_NUM_THREADS


@numba.njit(cache=True, inline="always")
def _minus(j, n, periodic):  # pragma: no cover - compiled
    if j > 0:
        return j - 1
    if periodic and n > 1:
        return n - 1
    return -1


@numba.njit(cache=True, inline="always")
def _plus(j, n, periodic):  # pragma: no cover - compiled
    if j < n - 1:
        return j + 1
    if periodic and n > 1:
        return 0
    return -1


@numba.njit(cache=True)
def _number(connected):  # pragma: no cover - compiled
    """Index grid of level 0: interior connected voxels numbered in C order, -2 inlet, -3 outlet."""
    n0, n1, n2 = connected.shape
    idx = np.empty((n0, n1, n2), dtype=np.int32)
    count = 0
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                if not connected[i, j, k]:
                    idx[i, j, k] = -1
                elif i == 0:
                    idx[i, j, k] = -2
                elif i == n0 - 1:
                    idx[i, j, k] = -3
                else:
                    idx[i, j, k] = count
                    count += 1
    return idx, count


@numba.njit(cache=True, parallel=True)
def _links0(idx, n, periodic):  # pragma: no cover - compiled
    """uint8 link weights and diagonal of level 0 (unit links between connected pore voxels)."""
    n0, n1, n2 = idx.shape
    w = np.zeros((n, 3), dtype=np.uint8)
    diag = np.zeros(n, dtype=np.uint8)
    for i in numba.prange(n0):
        for j in range(n1):
            for k in range(n2):
                p = idx[i, j, k]
                if p < 0:
                    continue
                d = 0
                # + links (stored at p when the neighbour is an unknown)
                if idx[i + 1, j, k] != -1:
                    d += 1
                    if idx[i + 1, j, k] >= 0:
                        w[p, 0] = 1
                if idx[i - 1, j, k] != -1:
                    d += 1
                jp = _plus(j, n1, periodic)
                if jp >= 0 and idx[i, jp, k] != -1:
                    d += 1
                    w[p, 1] = 1
                jm = _minus(j, n1, periodic)
                if jm >= 0 and idx[i, jm, k] != -1:
                    d += 1
                kp = _plus(k, n2, periodic)
                if kp >= 0 and idx[i, j, kp] != -1:
                    d += 1
                    w[p, 2] = 1
                km = _minus(k, n2, periodic)
                if km >= 0 and idx[i, j, km] != -1:
                    d += 1
                diag[p] = d
    return w, diag


@numba.njit(cache=True, inline="always")
def _neighbour_sum(idx, w, x, i, j, k, p, periodic):  # pragma: no cover - compiled
    """sum over the unknown neighbours q of p of w(p, q) x[q]."""
    n0, n1, n2 = idx.shape
    s = 0.0
    if i + 1 < n0:
        q = idx[i + 1, j, k]
        if q >= 0:
            s += w[p, 0] * x[q]
    if i > 0:
        q = idx[i - 1, j, k]
        if q >= 0:
            s += w[q, 0] * x[q]
    jp = _plus(j, n1, periodic)
    if jp >= 0:
        q = idx[i, jp, k]
        if q >= 0:
            s += w[p, 1] * x[q]
    jm = _minus(j, n1, periodic)
    if jm >= 0:
        q = idx[i, jm, k]
        if q >= 0:
            s += w[q, 1] * x[q]
    kp = _plus(k, n2, periodic)
    if kp >= 0:
        q = idx[i, j, kp]
        if q >= 0:
            s += w[p, 2] * x[q]
    km = _minus(k, n2, periodic)
    if km >= 0:
        q = idx[i, j, km]
        if q >= 0:
            s += w[q, 2] * x[q]
    return s


@numba.njit(cache=True, parallel=True)
def residual(idx, w, diag, x, b, out, inlet, periodic):  # pragma: no cover - compiled
    """out = b - A x (b ignored when ``inlet``: level 0's own right-hand side, c = 1 at inlet)."""
    n0, n1, n2 = idx.shape
    for i in numba.prange(n0):
        for j in range(n1):
            for k in range(n2):
                p = idx[i, j, k]
                if p < 0:
                    continue
                rhs = b[p]
                if inlet:
                    rhs = 1.0 if (i == 1 and idx[0, j, k] == -2) else 0.0
                out[p] = rhs - diag[p] * x[p] + _neighbour_sum(idx, w, x, i, j, k, p, periodic)


@numba.njit(cache=True, parallel=True)
def apply(idx, w, diag, x, out, periodic):  # pragma: no cover - compiled
    """out = A x (homogeneous operator)."""
    n0, n1, n2 = idx.shape
    for i in numba.prange(n0):
        for j in range(n1):
            for k in range(n2):
                p = idx[i, j, k]
                if p >= 0:
                    out[p] = diag[p] * x[p] - _neighbour_sum(idx, w, x, i, j, k, p, periodic)


@numba.njit(cache=True, parallel=True)
def _gauss_seidel(idx, w, diag, x, b, colour, periodic):  # pragma: no cover - compiled
    n0, n1, n2 = idx.shape
    for i in numba.prange(n0):
        for j in range(n1):
            k0 = (colour + i + j) % 2
            for k in range(k0, n2, 2):
                p = idx[i, j, k]
                if p >= 0:
                    x[p] = (b[p] + _neighbour_sum(idx, w, x, i, j, k, p, periodic)) / diag[p]


@numba.njit(cache=True, parallel=True)
def _restrict(idx, idx_c, r, b_c):  # pragma: no cover - compiled
    """b_c[P] = sum of r over the fine unknowns of block P."""
    n0, n1, n2 = idx.shape
    m0 = idx_c.shape[0]
    for c in range(b_c.shape[0]):
        b_c[c] = 0.0
    for ic in numba.prange(m0):
        for i in range(2 * ic, min(2 * ic + 2, n0)):
            for j in range(n1):
                for k in range(n2):
                    p = idx[i, j, k]
                    if p >= 0:
                        b_c[idx_c[ic, j // 2, k // 2]] += r[p]


@numba.njit(cache=True, parallel=True)
def _prolong_add(idx, idx_c, e_c, x):  # pragma: no cover - compiled
    n0, n1, n2 = idx.shape
    for i in numba.prange(n0):
        for j in range(n1):
            for k in range(n2):
                p = idx[i, j, k]
                if p >= 0:
                    x[p] += e_c[idx_c[i // 2, j // 2, k // 2]]


@numba.njit(cache=True)
def _number_coarse(idx):  # pragma: no cover - compiled
    n0, n1, n2 = idx.shape
    m0, m1, m2 = (n0 + 1) // 2, (n1 + 1) // 2, (n2 + 1) // 2
    idx_c = np.full((m0, m1, m2), -1, dtype=np.int32)
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                if idx[i, j, k] >= 0:
                    idx_c[i // 2, j // 2, k // 2] = 0
    count = 0
    for i in range(m0):
        for j in range(m1):
            for k in range(m2):
                if idx_c[i, j, k] == 0:
                    idx_c[i, j, k] = count
                    count += 1
    return idx_c, count


@numba.njit(cache=True, parallel=True)
def _galerkin(idx, w, diag, idx_c, n_c, periodic):  # pragma: no cover - compiled
    """Coarse link weights and diagonal: R A P with piecewise-constant P over 2x2x2 blocks."""
    n0, n1, n2 = idx.shape
    m0 = idx_c.shape[0]
    w_c = np.zeros((n_c, 3), dtype=np.float32)
    diag_c = np.zeros(n_c, dtype=np.float32)
    for ic in numba.prange(m0):
        for i in range(2 * ic, min(2 * ic + 2, n0)):
            for j in range(n1):
                for k in range(n2):
                    p = idx[i, j, k]
                    if p < 0:
                        continue
                    big_p = idx_c[ic, j // 2, k // 2]
                    diag_c[big_p] += diag[p]
                    for a in range(3):
                        weight = w[p, a]
                        if weight == 0:
                            continue
                        if a == 0:
                            q_block = idx_c[(i + 1) // 2, j // 2, k // 2]
                        elif a == 1:
                            q_block = idx_c[ic, _plus(j, n1, periodic) // 2, k // 2]
                        else:
                            q_block = idx_c[ic, j // 2, _plus(k, n2, periodic) // 2]
                        if q_block == big_p:
                            diag_c[big_p] -= 2 * weight
                        else:
                            w_c[big_p, a] += weight
    return w_c, diag_c


@numba.njit(cache=True)
def _dense(idx, w, diag, periodic):  # pragma: no cover - compiled
    n0, n1, n2 = idx.shape
    n = diag.shape[0]
    a = np.zeros((n, n))
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                p = idx[i, j, k]
                if p < 0:
                    continue
                a[p, p] += diag[p]
                for ax in range(3):
                    if w[p, ax] == 0:
                        continue
                    if ax == 0:
                        q = idx[i + 1, j, k]
                    elif ax == 1:
                        q = idx[i, _plus(j, n1, periodic), k]
                    else:
                        q = idx[i, j, _plus(k, n2, periodic)]
                    a[p, q] -= w[p, ax]
                    a[q, p] -= w[p, ax]
    return a


@numba.njit(cache=True, parallel=True)
def fluxes(idx, x):  # pragma: no cover - compiled
    """Total flux from layer k to k + 1 (k = 0..N-2); c = 1 / 0 on the inlet / outlet layer."""
    n0, n1, n2 = idx.shape
    out = np.zeros(n0 - 1)
    for i in numba.prange(n0 - 1):
        s = 0.0
        for j in range(n1):
            for k in range(n2):
                p, q = idx[i, j, k], idx[i + 1, j, k]
                if p == -1 or q == -1:
                    continue
                cp = 1.0 if p == -2 else (0.0 if p == -3 else x[p])
                cq = 1.0 if q == -2 else (0.0 if q == -3 else x[q])
                s += cp - cq
        out[i] = s
    return out


@numba.njit(cache=True, parallel=True)
def linear_profile(idx, x):  # pragma: no cover - compiled
    """x = 1 - i / (N - 1): the profile of a straight channel, the starting guess."""
    n0, n1, n2 = idx.shape
    for i in numba.prange(n0):
        for j in range(n1):
            for k in range(n2):
                p = idx[i, j, k]
                if p >= 0:
                    x[p] = 1.0 - i / (n0 - 1.0)


@numba.njit(cache=True)
def inlet_norm(idx):  # pragma: no cover - compiled
    """||b|| of level 0 (b = 1 on the unknowns next to an inlet voxel)."""
    n0, n1, n2 = idx.shape
    s = 0
    if n0 > 2:
        for j in range(n1):
            for k in range(n2):
                if idx[0, j, k] == -2 and idx[1, j, k] >= 0:
                    s += 1
    return math.sqrt(s)


class Hierarchy:
    """The levels (index grid, link weights, diagonal) and their work vectors; ``cycle`` applies
    one symmetric W-cycle (float32) as the preconditioner of conjugate gradients."""

    def __init__(self, connected: np.ndarray, periodic: bool, coarsest: int = COARSEST):
        self.periodic = bool(periodic)
        self.sweeps = 1
        self.overcorrect = OVERCORRECT
        numba.set_num_threads(threads_for(connected.size))
        idx, n = _number(connected)
        self.n = int(n)
        w, diag = _links0(idx, n, self.periodic)
        self.levels = [(idx, w, diag)]
        while self.levels[-1][2].shape[0] > coarsest:
            idx_f, w_f, diag_f = self.levels[-1]
            numba.set_num_threads(threads_for(idx_f.size))
            idx_c, n_c = _number_coarse(idx_f)
            if n_c > 0.9 * diag_f.shape[0]:
                break
            w_c, diag_c = _galerkin(idx_f, w_f, diag_f, idx_c, n_c, self.periodic)
            self.levels.append((idx_c, w_c, diag_c))
        idx_l, w_l, diag_l = self.levels[-1]
        dense = _dense(idx_l, w_l, diag_l, self.periodic) if diag_l.shape[0] else np.zeros((0, 0))
        self._cholesky = np.linalg.cholesky(dense) if dense.size else dense
        sizes = [lvl[2].shape[0] for lvl in self.levels]
        self.x = [np.zeros(s, dtype=np.float32) for s in sizes]
        self.b = [np.zeros(s, dtype=np.float32) for s in sizes]
        self.r = [np.zeros(s, dtype=np.float32) for s in sizes]

    @property
    def index(self) -> np.ndarray:
        return self.levels[0][0]

    def nbytes(self) -> int:
        total = sum(a.nbytes for lvl in self.levels for a in lvl)
        return total + sum(v.nbytes for vs in (self.x, self.b, self.r) for v in vs)

    def _coarse_solve(self, level: int) -> None:
        import scipy.linalg

        if self._cholesky.size:
            y = scipy.linalg.solve_triangular(self._cholesky, self.b[level], lower=True)
            self.x[level][:] = scipy.linalg.solve_triangular(self._cholesky.T, y, lower=False)

    def _cycle(self, level: int, zero_start: bool) -> None:
        if level == len(self.levels) - 1:
            self._coarse_solve(level)
            return
        idx, w, diag = self.levels[level]
        x, b, r = self.x[level], self.b[level], self.r[level]
        numba.set_num_threads(threads_for(idx.size))
        if zero_start:
            x[:] = 0.0
        for _ in range(self.sweeps):
            _gauss_seidel(idx, w, diag, x, b, 0, self.periodic)
            _gauss_seidel(idx, w, diag, x, b, 1, self.periodic)
        residual(idx, w, diag, x, b, r, False, self.periodic)
        idx_c = self.levels[level + 1][0]
        _restrict(idx, idx_c, r, self.b[level + 1])
        self._cycle(level + 1, True)
        if level + 1 < len(self.levels) - 1:  # W-cycle: a second coarse cycle
            self._cycle(level + 1, False)
        if self.overcorrect != 1.0:
            self.x[level + 1] *= self.overcorrect
        numba.set_num_threads(threads_for(idx.size))
        _prolong_add(idx, idx_c, self.x[level + 1], x)
        for _ in range(self.sweeps):
            _gauss_seidel(idx, w, diag, x, b, 1, self.periodic)
            _gauss_seidel(idx, w, diag, x, b, 0, self.periodic)

    def precondition(self, r: np.ndarray, z: np.ndarray) -> None:
        """z = M^-1 r (one W-cycle in float32); r, z float64 vectors of level 0."""
        self.b[0][:] = r
        self._cycle(0, True)
        z[:] = self.x[0]
        numba.set_num_threads(threads_for(self.index.size))
