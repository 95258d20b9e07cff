"""The matrix-free multigrid Krylov path against an independent direct solve of the same system.

Reference: the discrete problem assembled as a sparse matrix (``laplacian_system``, one COO
assembly) and solved by a sparse LU factorisation (scipy's spsolve), eta from the layer fluxes of
the dense concentration field; the matrix-free solver shares none of that code.
"""

import io
import math

import numpy as np
import pytest
import scipy.sparse.linalg as spl

from poredesign.structures import spinodoid
from poredesign.transport.connectivity import spanning_mask
from poredesign.transport.diffusion import diffusivity
from poredesign.transport.diffusion_krylov import FLUX_TOL, laplacian_system, layer_fluxes
from poredesign.transport.diffusion_multigrid import Hierarchy, apply, residual
from poredesign.transport.progress import ProgressLine


def _direct_eta(solid: np.ndarray, axis: int, periodic: bool) -> float:
    pore = np.ascontiguousarray(np.moveaxis(~solid, axis, 0))
    connected = spanning_mask(pore, 0, periodic=periodic)
    matrix, b, index = laplacian_system(connected, periodic)
    concentration = np.zeros(connected.shape)
    concentration[0][connected[0]] = 1.0
    concentration[index >= 0] = spl.spsolve(matrix.tocsc(), b)[index[index >= 0]]
    flux = layer_fluxes(connected, concentration)
    return float(flux.mean()) * (connected.shape[0] - 1) / (connected.shape[1] * connected.shape[2])


@pytest.mark.parametrize("lateral", ["periodic", "closed"])
@pytest.mark.parametrize(
    "shape, eps, seed", [((20, 20, 20), 0.5, 1), ((21, 18, 23), 0.35, 2), ((40, 40, 40), 0.4, 3)]
)
def test_matrix_free_multigrid_matches_a_direct_sparse_solve(shape, eps, seed, lateral):
    """Odd and even sizes (periodic wrap on odd lateral sizes breaks the red-black colouring's
    bipartition), several coarse levels at 40^3."""
    solid = spinodoid(max(shape), (0.12, 0.1, 0.15), eps, seed=seed)[
        : shape[0], : shape[1], : shape[2]
    ]
    for axis in range(3):
        reference = _direct_eta(solid, axis, lateral == "periodic")
        result = diffusivity(solid, axis, lateral=lateral)
        assert result.ok
        assert result.eta == pytest.approx(reference, rel=1e-5)  # default tolerances
        tight = diffusivity(solid, axis, lateral=lateral, tol=1e-10)
        assert tight.eta == pytest.approx(reference, rel=1e-9)  # the same discrete problem


def test_level_zero_operator_is_the_assembled_matrix():
    solid = spinodoid(18, (0.15, 0.15, 0.15), 0.5, seed=5)
    for periodic in (True, False):
        connected = spanning_mask(np.ascontiguousarray(~solid), 0, periodic=periodic)
        matrix, b, index = laplacian_system(connected, periodic)
        hierarchy = Hierarchy(connected, periodic)
        assert np.array_equal(hierarchy.index >= 0, index >= 0)
        idx, w, diag = hierarchy.levels[0]
        x = np.random.default_rng(0).random(hierarchy.n)
        out = np.empty_like(x)
        apply(idx, w, diag, x, out, periodic)
        np.testing.assert_allclose(out, matrix @ x, rtol=1e-12, atol=1e-12)
        residual(idx, w, diag, x, out, out, True, periodic)
        np.testing.assert_allclose(out, b - matrix @ x, rtol=1e-12, atol=1e-12)
        # coarse levels: Galerkin products keep the row sums (zero away from the Dirichlet ends)
        assert len(hierarchy.levels) >= 2
        _, w1, diag1 = hierarchy.levels[1]
        fine_row_sums = float(diag.sum()) - 2.0 * float(w.sum())
        assert float(diag1.sum()) - 2.0 * float(w1.sum()) == pytest.approx(fine_row_sums)


def test_flux_spread_and_progress_are_reported():
    solid = spinodoid(32, (0.1, 0.1, 0.1), 0.4, seed=7)
    calls = []
    result = diffusivity(solid, 0, progress=lambda *a: calls.append(a))
    assert result.ok and result.iterations == len(calls)
    assert all(target == 1e-5 for _, _, target in calls)
    assert [c[0] for c in calls] == list(range(1, len(calls) + 1))
    assert result.residual <= 1e-5 or calls[-1][1] <= 1e-5
    # the result is the converged one: a 100x tighter solve moves eta by far less than FLUX_TOL
    tight = diffusivity(solid, 0, tol=1e-9)
    assert result.eta == pytest.approx(tight.eta, rel=FLUX_TOL)


def test_progress_line_extrapolates_a_geometric_decay():
    stream = io.StringIO()
    line = ProgressLine("diffusivity x", stream=stream, every=0.0)
    line.start = line._last_print = 0.0
    line(1, 1e-1, 1e-5)
    line._first = (1, 1e-1, 0.0)  # one decade per iteration, one second per iteration
    assert line.eta(3, 1e-3, 1e-5, now=2.0) == pytest.approx(2.0)
    assert line.eta(3, 1e-6, 1e-5, now=2.0) == 0.0
    assert math.isnan(line.eta(1, 1e-1, 1e-5, now=0.0))
    line(2, 1e-2, 1e-5)
    assert "diffusivity x: iteration 2, residual 1.00e-02 -> 1e-05" in stream.getvalue()
