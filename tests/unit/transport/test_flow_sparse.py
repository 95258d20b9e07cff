"""Pore-only (sparse) D3Q19 storage: the same permeability as the dense lattice, less memory."""

import math

import numpy as np
import pytest

from poredesign.structures import spinodoid
from poredesign.transport import Flag, permeability
from poredesign.transport.flow import FlowSolver
from poredesign.transport.flow_dense import DENSE_BYTES_PER_VOXEL
from poredesign.transport.flow_sparse import (
    SPARSE_BYTES_PER_PORE_VOXEL,
    SparseLattice,
    fluid_numbers,
    neighbour_blocks,
    resolve_storage,
)
from poredesign.transport.lattice import D3Q19_C

REL = 1e-3  # the bound; the two lattices agree far closer (same float32 arithmetic)


def duct(h: int = 16, length: int = 8) -> np.ndarray:
    """A square duct h x h of pore inside solid walls (periodic box h + 2), flow along x."""
    solid = np.ones((length, h + 2, h + 2), dtype=bool)
    solid[:, :h, :h] = False
    return solid


def spheres(a: int = 24, radius: float = 8.0) -> np.ndarray:
    """One sphere of ``radius`` centred in a periodic cube of edge ``a`` (simple cubic array)."""
    x = np.arange(a) + 0.5 - a / 2
    r2 = x[:, None, None] ** 2 + x[None, :, None] ** 2 + x[None, None, :] ** 2
    return r2 <= radius**2


def _both(solid, axis, **options):
    dense = permeability(solid, axis, storage="dense", **options)
    sparse = permeability(solid, axis, storage="sparse", **options)
    if sparse.flag == Flag.OK:  # trivial cases run no lattice
        assert dense.storage == "dense" and sparse.storage == "sparse"
    return dense, sparse


def test_duct_sparse_equals_dense_and_the_analytical_solution():
    solid = duct()
    dense, sparse = _both(solid, "x", reduce_extrusion=False, keep_velocity=True)
    assert dense.ok and sparse.ok
    assert sparse.k == pytest.approx(dense.k, rel=REL)
    assert sparse.iterations == dense.iterations
    area_fraction = 16 * 16 / 18**2
    assert sparse.k == pytest.approx(0.0351443 * 16 * 16 * area_fraction, rel=0.02)
    assert np.all(sparse.velocity[:, solid] == 0)
    np.testing.assert_allclose(sparse.velocity, dense.velocity, rtol=1e-4, atol=1e-9)


def test_sphere_array_sparse_equals_dense():
    dense, sparse = _both(spheres(), "y")
    assert dense.ok and sparse.ok
    assert sparse.k == pytest.approx(dense.k, rel=REL)


def test_spinodoid_sparse_equals_dense_at_low_porosity():
    solid = spinodoid(24, (0.15, 0.15, 0.15), 0.3, seed=7)
    dense, sparse = _both(solid, "z")
    assert dense.ok and sparse.ok and dense.k > 0
    assert sparse.k == pytest.approx(dense.k, rel=REL)


def test_the_pull_pattern_gives_the_aa_result():
    class PullSolver(FlowSolver):
        def _lattice(self, run, g):
            return SparseLattice(run.solid, run.ax, g, pattern="pull")

    solid = spinodoid(16, (0.2, 0.2, 0.2), 0.4, seed=2)
    pull = PullSolver().solve(solid, "x", storage="sparse")
    aa = permeability(solid, "x", storage="sparse")
    assert pull.ok and aa.ok
    assert pull.k == pytest.approx(aa.k, rel=1e-5)


def test_trivial_cases_give_the_dense_flags():
    wall = np.zeros((8, 8, 8), dtype=bool)
    wall[3] = True
    for solid in (np.ones((6, 6, 6), dtype=bool), np.zeros((6, 6, 6), dtype=bool), wall):
        dense, sparse = _both(solid, "x")
        assert sparse.flag == dense.flag and sparse.flag != Flag.OK
        assert sparse.k == dense.k or (math.isnan(sparse.k) and math.isnan(dense.k))


def test_auto_is_sparse_at_low_porosity_only():
    low = spinodoid(16, (0.2, 0.2, 0.2), 0.3, seed=4)
    assert resolve_storage("auto", low) == "sparse"
    assert resolve_storage("auto", np.zeros((4, 4, 4), dtype=bool)) == "dense"
    assert permeability(low, "x", storage="auto").storage == "sparse"
    open_slit = np.zeros((2, 2, 10), dtype=bool)
    open_slit[:, :, 8:] = True
    assert permeability(open_slit, "x", storage="auto").storage == "dense"
    with pytest.raises(ValueError, match="storage"):
        permeability(low, "x", storage="compressed")


def test_a_volume_too_large_for_the_dense_lattice_goes_sparse(monkeypatch):
    # Taichi's int32 array index caps a lattice at MAX_LATTICE_NODES nodes (483^3 dense voxels);
    # shrunk here so that 8^3 voxels exceed it and its ~300 pore voxels do not
    from poredesign.transport import flow_sparse

    solid = spinodoid(8, (0.3, 0.3, 0.3), 0.6, seed=2)
    monkeypatch.setattr(flow_sparse, "MAX_LATTICE_NODES", 400)
    with pytest.raises(ValueError, match=r"dense flow lattice holds at most 400 voxels.*'sparse'"):
        permeability(solid, "x", storage="dense")
    result = permeability(solid, "x", storage="auto")  # porosity 0.6: dense if it could index
    assert result.storage == "sparse" and result.k > 0
    monkeypatch.setattr(flow_sparse, "MAX_LATTICE_NODES", 100)
    pores = int(np.count_nonzero(~solid))
    need = r"would need about [0-9.]+ GB \(152 B per pore voxel\)"
    with pytest.raises(ValueError, match=rf"{pores:,} pore voxels: .* at most 100 .*{need}"):
        permeability(solid, "x", storage="sparse")


def test_closed_sides_pass_the_storage_on():
    solid = spinodoid(16, (0.2, 0.2, 0.2), 0.4, seed=5)
    dense, sparse = _both(solid, "y", lateral="closed")
    assert sparse.lateral == "closed" and sparse.k == pytest.approx(dense.k, rel=REL)


def test_the_neighbour_table_points_to_the_upstream_voxel(monkeypatch):
    from poredesign.transport import flow_kernels

    rng = np.random.default_rng(0)
    solid = rng.random((3, 4, 5)) < 0.4
    number, index = fluid_numbers(solid)
    blocks = list(neighbour_blocks(solid.shape, number, index))
    fluid = np.argwhere(~solid)
    assert index.dtype == np.int32 and all(t.dtype == np.int32 for _, t in blocks)
    assert np.array_equal(index, np.ravel_multi_index(fluid.T, solid.shape))
    table = np.concatenate([t for _, t in blocks])
    number = {tuple(p): n for n, p in enumerate(fluid)}
    for n, p in enumerate(fluid):
        for q in range(1, 19):
            up = tuple((p - np.array(D3Q19_C[q])) % solid.shape)
            assert table[n, q - 1] == (-1 if solid[up] else number[up])
    # the table the lattice holds: cell-major n * 18 + q - 1 (CPU), direction-major
    # (q - 1) * nf + n (CUDA's layout, forced here)
    cell = SparseLattice(solid, 0, 1e-6).buf.nbr.to_numpy()
    assert np.array_equal(cell.reshape(len(index), 18), table)
    monkeypatch.setattr(flow_kernels, "cell_major", lambda device: False)
    direction = SparseLattice(solid, 0, 1e-6).buf.nbr.to_numpy()
    assert np.array_equal(direction.reshape(18, -1).T, table)


@pytest.mark.parametrize("cell_major", [True, False])
def test_the_neighbour_table_uploaded_in_blocks_gives_the_same_k(monkeypatch, cell_major):
    # large scans upload the table block by block (cell-major on the CPU, one slice per
    # direction with the GPU's direction-major layout): 37-voxel blocks here, 4 M by default
    from poredesign.transport import flow_kernels, flow_sparse

    solid = spinodoid(16, (0.2, 0.2, 0.2), 0.35, seed=5)
    whole = permeability(solid, "y", storage="sparse")
    monkeypatch.setattr(flow_sparse, "NEIGHBOUR_BLOCK", 37)
    monkeypatch.setattr(flow_kernels, "cell_major", lambda device: cell_major)
    blocked = permeability(solid, "y", storage="sparse")
    assert blocked.iterations == whole.iterations
    assert blocked.k == pytest.approx(whole.k, rel=1e-6)


def test_memory_per_pore_voxel():
    assert SPARSE_BYTES_PER_PORE_VOXEL["aa"] == 19 * 4 + 18 * 4 + 4
    porosity = 0.4  # the in-place sparse state is at most 40 % of the dense one there
    assert porosity * SPARSE_BYTES_PER_PORE_VOXEL["aa"] <= 0.40 * DENSE_BYTES_PER_VOXEL
