"""D3Q19 two-relaxation-time (TRT) lattice Boltzmann kernels for steady Stokes flow.

Storage
    Populations are stored as deviations from the rest state, ``h_q = f_q - w_q`` (rho_0 = 1),
    in flat float32 arrays of length 19 * V with the voxel index ``i = (x * ny + y) * nz + z``
    (z fastest): cell-major ``i * 19 + q`` on the CPU, direction-major ``q * V + i`` on CUDA
    (see :func:`cell_major` and :mod:`.streaming`). The scheme is linear in ``h`` (Stokes
    equilibrium, no u u terms), so storing deviations keeps full float32 relative precision
    however small the body force is.

Neighbour mask
    One uint32 per voxel: bit q (q >= 1) is set when the voxel ``x - c_q`` (where population q
    is pulled from) is solid; bit 0 is set when the voxel itself is solid.

The physics, one ``ti.func`` each (Taichi inlines them into the one fused kernel per step)
    :func:`stream`: pull ``h_q(x) = src_q(x - c_q)``, or the halfway bounce-back
        ``h_q(x) = src_{opp(q)}(x)`` when ``x - c_q`` is solid. Periodic in x, y, z.
    :func:`density`, :func:`momentum`: ``rho' = sum h_q``, ``j = sum c_q h_q + g / 2`` (Guo's
        half-force shift; with rho_0 = 1, j is the velocity).
    :func:`equilibrium`: ``e_q = w_q (rho' + 3 c_q . j)``.
    :func:`collide`: TRT collision with Guo's force term ``(1 - lambda-/2) 3 w_q c_q . g``,
        ``h*_q = h_q - lambda+ (h+_q - e+_q) - lambda- (h-_q - e-_q) + F_q``, written per
        opposite pair as ``A +/- B`` to halve the arithmetic.
    Steps: :func:`flow_step_cell_major` (CPU: row-parallel, cell-major) and
    :func:`flow_step_direction_major` (CUDA: voxel-parallel, direction-major). Solid voxels are
    skipped; their slots are never read.

With the magic parameter Lambda = (1/lambda+ - 1/2)(1/lambda- - 1/2) = 3/16 the steady state
depends on Lambda only, so k = nu <u> / g does not depend on the relaxation time, and halfway
bounce-back puts a straight wall exactly midway between a fluid and a solid voxel centre.
"""

import os

os.environ.setdefault("ENABLE_TAICHI_HEADER_PRINT", "False")

import numpy as np  # noqa: E402
import taichi as ti  # noqa: E402

from poredesign.transport.lattice import D3Q19_C as C  # noqa: E402
from poredesign.transport.lattice import D3Q19_OPP as OPP  # noqa: E402
from poredesign.transport.lattice import D3Q19_PAIRS as PAIRS  # noqa: E402
from poredesign.transport.lattice import D3Q19_W as W  # noqa: E402
from poredesign.transport.streaming import (  # noqa: E402
    OffsetVector,
    make_pull_bounce_back,
    neighbour_offsets,
    population_index,
    with_z,
)

Q = 19
NPAIRS = len(PAIRS)
W1 = W[1]  # axis directions
W2 = W[7]  # face diagonals

F32 = ti.types.ndarray(dtype=ti.f32, ndim=1)
F64 = ti.types.ndarray(dtype=ti.f64, ndim=1)
U32 = ti.types.ndarray(dtype=ti.u32, ndim=1)
Populations = ti.types.vector(Q, ti.f32)
Vec3 = ti.types.vector(3, ti.f32)


def neighbour_mask(solid: np.ndarray) -> np.ndarray:
    """uint32 (V,) mask: bit 0 = voxel solid, bit q = voxel x - c_q solid (periodic)."""
    solid = np.ascontiguousarray(solid, dtype=bool)
    mask = np.zeros(solid.shape, dtype=np.uint32)
    for q, c in enumerate(C):
        # rolled[x] = solid[x - c]
        mask |= np.roll(solid, c, axis=(0, 1, 2)).astype(np.uint32) << np.uint32(q)
    return mask.ravel()


# stream(src, i, mask_bits, nv, offsets, cell_major) -> h: the 19 populations of fluid voxel i
# after pull streaming with halfway bounce-back (see .streaming)
stream = make_pull_bounce_back(C, OPP, ti.f32)


@ti.func
def density(h: Populations) -> ti.f32:
    """rho' = sum_q h_q (deviation from rho_0 = 1), summed per opposite pair."""
    rho = h[0]
    for k in ti.static(range(NPAIRS)):
        q, p = ti.static(PAIRS[k])
        rho += h[q] + h[p]
    return rho


@ti.func
def momentum(h: Populations, g: Vec3) -> Vec3:
    """j = sum_q c_q h_q + g / 2 (Guo's half-force shift; the velocity, since rho_0 = 1), summed
    per opposite pair."""
    j = 0.5 * g
    for k in ti.static(range(NPAIRS)):
        q, p = ti.static(PAIRS[k])
        for a in ti.static(range(3)):
            if ti.static(C[q][a] != 0):
                j[a] += C[q][a] * (h[q] - h[p])
    return j


@ti.func
def equilibrium(rho: ti.f32, j: Vec3) -> Populations:
    """Stokes equilibrium of the deviations, e_q = w_q (rho' + 3 c_q . j) (linear in j).

    Its even part per opposite pair is w_q rho', its odd part 3 w_q c_q . j: :func:`collide`
    uses those two directly.
    """
    e = Populations(0.0)
    for q in ti.static(range(Q)):
        cj = ti.f32(0.0)
        for a in ti.static(range(3)):
            if ti.static(C[q][a] != 0):
                cj += C[q][a] * j[a]
        e[q] = W[q] * (rho + 3.0 * cj)
    return e


@ti.func
def collide(h: Populations, rho: ti.f32, j: Vec3, g: Vec3, lp: ti.f32, lm: ti.f32) -> Populations:
    """TRT collision with Guo forcing: post-collision populations of one voxel.

    Per opposite pair (q, p) with s = h_q + h_p, d = h_q - h_p:
    ``h*_q, h*_p = A +/- B``, ``A = (1 - lp) s / 2 + lp w_q rho'`` (even part relaxed at rate
    lambda+ towards the equilibrium's even part) and ``B = (1 - lm) d / 2 + 3 w_q c_q . (lm j +
    (1 - lm / 2) g)`` (odd part relaxed at rate lambda- towards 3 w_q c_q . j, plus Guo's force).
    Conserves rho'; adds g to the momentum sum_q c_q h_q.
    """
    a0 = 1.0 - lp
    a1 = 0.5 * (1.0 - lp)
    b1 = 0.5 * (1.0 - lm)
    fg = 3.0 * (1.0 - 0.5 * lm)
    c1 = 3.0 * lm * W1
    c2 = 3.0 * lm * W2
    out = Populations(0.0)
    out[0] = a0 * h[0] + lp * W[0] * rho
    r1 = lp * W1 * rho
    r2 = lp * W2 * rho
    # odd targets plus force per axis, for the two weight classes
    e1 = ti.Vector(
        [c1 * j[0] + fg * W1 * g[0], c1 * j[1] + fg * W1 * g[1], c1 * j[2] + fg * W1 * g[2]]
    )
    e2 = ti.Vector(
        [c2 * j[0] + fg * W2 * g[0], c2 * j[1] + fg * W2 * g[1], c2 * j[2] + fg * W2 * g[2]]
    )
    for k in ti.static(range(NPAIRS)):
        q, p = ti.static(PAIRS[k])
        diagonal = ti.static(abs(C[q][0]) + abs(C[q][1]) + abs(C[q][2]) == 2)
        em = ti.f32(0.0)
        for a in ti.static(range(3)):
            if ti.static(C[q][a] != 0):
                if ti.static(diagonal):
                    em += C[q][a] * e2[a]
                else:
                    em += C[q][a] * e1[a]
        big_a = a1 * (h[q] + h[p]) + (r2 if ti.static(diagonal) else r1)
        big_b = b1 * (h[q] - h[p]) + em
        out[q] = big_a + big_b
        out[p] = big_a - big_b
    return out


@ti.func
def store(dst: ti.template(), i: ti.i32, nv: ti.i32, h: Populations, cell_major: ti.template()):
    """Write the 19 populations ``h`` of voxel ``i`` to ``dst``."""
    for q in ti.static(range(Q)):
        dst[population_index(q, i, nv, Q, cell_major)] = h[q]


@ti.func
def update(
    src: ti.template(),
    dst: ti.template(),
    i: ti.i32,
    mask_bits: ti.u32,
    nv: ti.i32,
    offsets: OffsetVector,
    g: Vec3,
    lp: ti.f32,
    lm: ti.f32,
    cell_major: ti.template(),
):
    """Stream, take moments, collide and store fluid voxel ``i``: the whole update of a voxel."""
    h = stream(src, i, mask_bits, nv, offsets, cell_major)
    store(dst, i, nv, collide(h, density(h), momentum(h, g), g, lp, lm), cell_major)


@ti.kernel
def flow_step_cell_major(
    src: F32,
    dst: F32,
    mask: U32,
    nx: ti.i32,
    ny: ti.i32,
    nz: ti.i32,
    gx: ti.f32,
    gy: ti.f32,
    gz: ti.f32,
    lp: ti.f32,
    lm: ti.f32,
):
    """One fused stream (pull, bounce-back) + TRT collide + force step, src -> dst (CPU).

    Parallel over (x, y) rows, z innermost and serial: the row offsets are computed once.
    Cell-major layout (the 19 populations of a voxel contiguous): one base register for all
    populations; the direction-major layout needs 19 live base addresses, spills registers on
    x86-64 and ran at half the speed.
    """
    nv = nx * ny * nz
    g = Vec3(gx, gy, gz)
    for x, y in ti.ndrange(nx, ny):
        row = neighbour_offsets(x, y, 0, nx, ny, nz)
        base = (x * ny + y) * nz
        for z in range(nz):
            i = base + z
            m = mask[i]
            if m & ti.u32(1) == 0:
                update(src, dst, i, m, nv, with_z(row, z, nz), g, lp, lm, True)


@ti.kernel
def flow_step_direction_major(
    src: F32,
    dst: F32,
    mask: U32,
    nx: ti.i32,
    ny: ti.i32,
    nz: ti.i32,
    gx: ti.f32,
    gy: ti.f32,
    gz: ti.f32,
    lp: ti.f32,
    lm: ti.f32,
):
    """The same step parallel over every voxel, direction-major layout (GPU: neighbouring threads
    hold neighbouring z, so every population access is coalesced)."""
    nv = nx * ny * nz
    g = Vec3(gx, gy, gz)
    for i in range(nv):
        m = mask[i]
        if m & ti.u32(1) == 0:
            z = i % nz
            y = (i // nz) % ny
            x = i // (ny * nz)
            update(src, dst, i, m, nv, neighbour_offsets(x, y, z, nx, ny, nz), g, lp, lm, False)


def step_kernel(device: str):
    """The step kernel for a device: row-parallel, cell-major on the CPU; voxel-parallel,
    direction-major on CUDA."""
    return flow_step_direction_major if device == "cuda" else flow_step_cell_major


def cell_major(device: str) -> bool:
    """Population layout of ``device``: cell-major (AoS) on the CPU, direction-major on CUDA."""
    return device != "cuda"


@ti.kernel
def flow_measure(
    src: F32,
    mask: U32,
    nx: ti.i32,
    ny: ti.i32,
    nz: ti.i32,
    gx: ti.f32,
    gy: ti.f32,
    gz: ti.f32,
    partial: F64,
    cell_major: ti.template(),
):
    """Per (x, y) column: sums of j_x, j_y, j_z, max |j|^2 and the count of non-finite j.

    ``j`` is the momentum the next step would see (pull + g/2), so the velocity of the state in
    ``src``. ``partial`` has 5 * nx * ny entries; solid voxels count as zero velocity.
    """
    nv = nx * ny * nz
    g = Vec3(gx, gy, gz)
    for x, y in ti.ndrange(nx, ny):
        row = neighbour_offsets(x, y, 0, nx, ny, nz)
        base = (x * ny + y) * nz
        sum_x = ti.f64(0.0)
        sum_y = ti.f64(0.0)
        sum_z = ti.f64(0.0)
        max_j2 = ti.f64(0.0)
        bad = ti.f64(0.0)
        for z in range(nz):
            i = base + z
            m = mask[i]
            if m & ti.u32(1) == 0:
                j = momentum(stream(src, i, m, nv, with_z(row, z, nz), cell_major), g)
                j2 = ti.f64(j[0] * j[0] + j[1] * j[1] + j[2] * j[2])
                if not (j2 < 1e30):  # NaN or overflow
                    bad += 1.0
                else:
                    sum_x += ti.f64(j[0])
                    sum_y += ti.f64(j[1])
                    sum_z += ti.f64(j[2])
                    max_j2 = ti.max(max_j2, j2)
        c = 5 * (x * ny + y)
        partial[c + 0] = sum_x
        partial[c + 1] = sum_y
        partial[c + 2] = sum_z
        partial[c + 3] = max_j2
        partial[c + 4] = bad


@ti.kernel
def velocity_field(
    src: F32,
    mask: U32,
    nx: ti.i32,
    ny: ti.i32,
    nz: ti.i32,
    gx: ti.f32,
    gy: ti.f32,
    gz: ti.f32,
    out: F32,
    cell_major: ti.template(),
):
    """Velocity (3 * V, component-major) of the state in ``src``; zero in solid voxels."""
    nv = nx * ny * nz
    g = Vec3(gx, gy, gz)
    for x, y in ti.ndrange(nx, ny):
        row = neighbour_offsets(x, y, 0, nx, ny, nz)
        base = (x * ny + y) * nz
        for z in range(nz):
            i = base + z
            m = mask[i]
            j = Vec3(0.0)
            if m & ti.u32(1) == 0:
                j = momentum(stream(src, i, m, nv, with_z(row, z, nz), cell_major), g)
            out[i] = j[0]
            out[nv + i] = j[1]
            out[2 * nv + i] = j[2]


@ti.kernel
def fill_zero(a: F32):
    for i in a:
        a[i] = 0.0
