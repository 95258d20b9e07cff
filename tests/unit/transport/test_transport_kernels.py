"""The lattice Boltzmann ti.funcs one by one: streaming with halfway bounce-back, moments,
equilibrium, TRT collision (D3Q19 with Guo forcing; D3Q7), and the two layouts of each step."""

import numpy as np
import pytest
import taichi as ti

from poredesign.structures import spinodoid
from poredesign.transport import backend, streaming
from poredesign.transport import diffusion_kernels as dk
from poredesign.transport import flow_kernels as fk
from poredesign.transport.lattice import D3Q7_C, D3Q7_W, D3Q19_C, D3Q19_W

F32 = ti.types.ndarray(dtype=ti.f32, ndim=1)
F64 = ti.types.ndarray(dtype=ti.f64, ndim=1)
I32 = ti.types.ndarray(dtype=ti.i32, ndim=1)
U32 = ti.types.ndarray(dtype=ti.u32, ndim=1)
C19 = np.array(D3Q19_C, dtype=np.float64)
W19 = np.array(D3Q19_W)


@pytest.fixture(scope="module", autouse=True)
def taichi_backend():
    backend.ensure_backend("auto")


@ti.kernel
def _offsets(nx: ti.i32, ny: ti.i32, nz: ti.i32, out: I32):
    for x, y, z in ti.ndrange(nx, ny, nz):
        o = streaming.neighbour_offsets(x, y, z, nx, ny, nz)
        for k in ti.static(range(6)):
            out[((x * ny + y) * nz + z) * 6 + k] = o[k]


@ti.kernel
def _equilibrium(rho: ti.f32, jx: ti.f32, jy: ti.f32, jz: ti.f32, out: F32):
    e = fk.equilibrium(rho, fk.Vec3(jx, jy, jz))
    for q in ti.static(range(fk.Q)):
        out[q] = e[q]


@ti.kernel
def _collide(h: F32, gx: ti.f32, gy: ti.f32, gz: ti.f32, lp: ti.f32, lm: ti.f32, out: F32):
    v = fk.Populations(0.0)
    for q in ti.static(range(fk.Q)):
        v[q] = h[q]
    g = fk.Vec3(gx, gy, gz)
    rho = fk.density(v[0], fk.pair_sums(v))
    j = fk.momentum(fk.pair_differences(v), g)
    post = fk.collide_trt(v, rho, j, g, lp, lm)
    for q in ti.static(range(fk.Q)):
        out[q] = post[q]
    out[fk.Q] = rho
    for a in ti.static(range(3)):
        out[fk.Q + 1 + a] = j[a]


@ti.kernel
def _stream_only(src: F32, dst: F32, mask: U32, nx: ti.i32, ny: ti.i32, nz: ti.i32):
    nv = nx * ny * nz
    for x, y, z in ti.ndrange(nx, ny, nz):
        i = (x * ny + y) * nz + z
        m = mask[i]
        if m & ti.u32(1) == 0:
            h = fk.stream_with_bounce_back(
                src, i, m, nv, streaming.neighbour_offsets(x, y, z, nx, ny, nz), True
            )
            fk.store_populations(dst, i, nv, h, True)


@ti.kernel
def _diffusion_collide(h: F64, lp: ti.f64, lm: ti.f64, out: F64):
    v = dk.Populations(0.0)
    for q in ti.static(range(dk.Q)):
        v[q] = h[q]
    post = dk.collide_trt(v, dk.concentration(v), lp, lm)
    for q in ti.static(range(dk.Q)):
        out[q] = post[q]


def _rates(relaxation_time: float = 0.8) -> tuple[float, float]:
    from poredesign.transport.lattice import MAGIC_FLOW, trt_rates

    return trt_rates(relaxation_time, MAGIC_FLOW)


def test_neighbour_offsets_are_periodic():
    shape = (3, 4, 5)
    out = np.zeros(int(np.prod(shape)) * 6, dtype=np.int32)
    _offsets(*shape, out)
    offsets = out.reshape(*shape, 6)
    index = np.arange(np.prod(shape)).reshape(shape)
    for axis in range(3):
        for k, shift in ((2 * axis, 1), (2 * axis + 1, -1)):  # x - 1, x + 1 along axis
            neighbour = np.roll(index, shift, axis=axis)  # neighbour[x] = index[x -/+ 1]
            assert np.array_equal(index + offsets[..., k], neighbour)


def test_equilibrium_moments_are_density_and_momentum():
    rho, j = 0.013, np.array([2e-3, -1e-3, 5e-4])
    e = np.zeros(19, dtype=np.float32)
    _equilibrium(rho, *j, e)
    assert e.sum() == pytest.approx(rho, rel=1e-6)
    assert C19.T @ e == pytest.approx(j, rel=1e-6)
    # and it is w_q (rho + 3 c_q . j)
    assert e == pytest.approx(W19 * (rho + 3 * C19 @ j), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("g", [(0.0, 0.0, 0.0), (1e-3, -2e-3, 5e-4)])
def test_trt_collision_conserves_mass_and_adds_the_force_to_the_momentum(g):
    h = np.random.default_rng(1).standard_normal(19).astype(np.float32) * 1e-2
    out = np.zeros(19 + 4, dtype=np.float32)
    lp, lm = _rates()
    _collide(h, *g, lp, lm, out)
    post, rho, j = out[:19].astype(np.float64), out[19], out[20:]
    assert rho == pytest.approx(h.sum(), rel=1e-6)
    assert j == pytest.approx(C19.T @ h + 0.5 * np.array(g), rel=1e-5, abs=1e-8)
    assert post.sum() == pytest.approx(h.sum(), rel=1e-5)  # mass
    # momentum: conserved without force, gains g with it (Guo)
    assert C19.T @ post == pytest.approx(C19.T @ h + np.array(g), rel=1e-5, abs=1e-8)


def test_trt_collision_relaxes_even_and_odd_parts_towards_the_equilibrium():
    h = np.random.default_rng(2).standard_normal(19).astype(np.float64) * 1e-2
    g = np.array([1e-3, 0.0, -2e-3])
    out = np.zeros(19 + 4, dtype=np.float32)
    lp, lm = _rates(1.3)
    _collide(h.astype(np.float32), *g, lp, lm, out)
    rho, j = h.sum(), C19.T @ h + 0.5 * g
    e = W19 * (rho + 3 * C19 @ j)
    opp = [D3Q19_C.index(tuple(-c for c in cq)) for cq in D3Q19_C]
    even, odd = 0.5 * (h + h[opp]), 0.5 * (h - h[opp])
    e_even, e_odd = 0.5 * (e + e[opp]), 0.5 * (e - e[opp])
    force = (1 - 0.5 * lm) * 3 * W19 * (C19 @ g)
    expected = h - lp * (even - e_even) - lm * (odd - e_odd) + force
    assert out[:19] == pytest.approx(expected, rel=1e-5, abs=1e-8)


def test_streaming_with_bounce_back_permutes_the_populations_of_a_closed_box():
    solid = np.ones((6, 7, 8), dtype=bool)
    solid[1:-1, 1:-1, 1:-1] = False  # a closed box: walls on every side
    solid[2, 3, 4] = True  # and an obstacle inside
    nv = solid.size
    fluid = np.repeat(~solid.ravel(), 19)  # cell-major
    src = np.random.default_rng(3).standard_normal(19 * nv).astype(np.float32)
    dst = np.zeros_like(src)
    _stream_only(src, dst, fk.neighbour_mask(solid), *solid.shape)
    # every fluid population lands in exactly one fluid slot: mass conserved exactly
    assert np.array_equal(np.sort(dst[fluid]), np.sort(src[fluid]))
    assert not np.array_equal(dst[fluid], src[fluid])


def test_a_full_step_conserves_mass_on_a_closed_box():
    solid = np.ones((8, 8, 8), dtype=bool)
    solid[1:-1, 1:-1, 1:-1] = False
    nv = solid.size
    fluid = np.repeat(~solid.ravel(), 19)
    src = np.where(fluid, np.random.default_rng(4).standard_normal(19 * nv), 0.0).astype(np.float32)
    dst = np.zeros_like(src)
    lp, lm = _rates(0.7)
    fk.flow_step_row_parallel(src, dst, fk.neighbour_mask(solid), *solid.shape, 1e-3, 0, 0, lp, lm)
    assert dst[fluid].sum(dtype=np.float64) == pytest.approx(
        src[fluid].sum(dtype=np.float64), abs=1e-4
    )


def test_diffusion_collision_conserves_the_concentration_and_keeps_the_equilibrium():
    h = np.random.default_rng(5).standard_normal(7)
    out = np.zeros(7)
    _diffusion_collide(h, 1.7, 0.3, out)
    assert out.sum() == pytest.approx(h.sum(), rel=1e-12)
    w = np.array(D3Q7_W)
    _diffusion_collide(w * 0.37, 1.7, 0.3, out)
    assert out == pytest.approx(w * 0.37, rel=1e-12)
    assert len(D3Q7_C) == dk.Q


def test_the_two_layouts_of_each_step_agree():
    """The CPU kernels run row-parallel, the CUDA ones voxel-parallel: same update."""
    solid = spinodoid(10, (0.2, 0.2, 0.2), 0.6, seed=1)
    rng = np.random.default_rng(0)
    nv = solid.size
    fluid = np.tile(~solid.ravel(), 19)  # direction-major
    src = rng.standard_normal(19 * nv).astype(np.float32)
    src_cells = np.ascontiguousarray(src.reshape(19, nv).T).ravel()  # cell-major copy
    rows, flat = np.zeros_like(src), np.zeros_like(src)
    mask = fk.neighbour_mask(solid)
    args = (*solid.shape, 1e-3, 2e-3, 3e-3, 0.9, 1.3)
    fk.flow_step_row_parallel(src_cells, rows, mask, *args)  # CPU
    fk.flow_step_voxel_parallel(src, flat, mask, *args)  # CUDA
    rows = rows.reshape(nv, 19).T.ravel()
    # equal up to float32 rounding (the two kernels are compiled separately)
    assert np.allclose(rows[fluid], flat[fluid], rtol=1e-6, atol=1e-6)
    assert np.abs(rows[fluid]).max() > 0
    carries = ~solid
    src = rng.standard_normal(7 * solid.size)
    rows, flat = np.zeros_like(src), np.zeros_like(src)
    mask = dk.node_mask(carries)
    args = (*solid.shape, 1.2, 0.3, 1.0, 0.0)
    dk.diffusion_step_row_parallel(src, rows, mask, *args)
    dk.diffusion_step_voxel_parallel(src, flat, mask, *args)
    assert np.allclose(rows, flat, rtol=1e-12, atol=1e-12) and np.abs(rows).max() > 0
