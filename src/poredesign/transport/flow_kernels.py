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
    :func:`stream_with_bounce_back`: pull ``h_q(x) = src_q(x - c_q)``, or the halfway bounce-back
        ``h_q(x) = src_{opp(q)}(x)`` when ``x - c_q`` is solid. Periodic in x, y, z.
    :func:`density`, :func:`momentum`: ``rho' = sum h_q``, ``j = sum c_q h_q + g / 2`` (Guo's
        half-force shift; with rho_0 = 1, j is the velocity).
    :func:`equilibrium`: ``e_q = w_q (rho' + 3 c_q . j)``.
    :func:`collide_trt`: TRT collision with Guo's force term ``(1 - lambda-/2) 3 w_q c_q . g``,
        ``h*_q = h_q - lambda+ (h+_q - e+_q) - lambda- (h-_q - e-_q) + F_q``, written per
        opposite pair as ``A +/- B`` to halve the arithmetic.
    :func:`update_voxel`: all of it for one fluid voxel, stored as each pair is collided.
    Steps, named ``<physics>_step_<parallelism>`` (as in :mod:`.diffusion_kernels`):
    :func:`flow_step_row_parallel` (CPU: row-parallel, cell-major) and
    :func:`flow_step_voxel_parallel` (CUDA: voxel-parallel, direction-major). Solid voxels are
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
    offset_down,
    offset_up,
    population_index,
    row_voxel_offsets,
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
#: a measurement's running values: sums of j_x, j_y, j_z, max |j|^2, count of non-finite j
Sums = ti.types.vector(5, ti.f64)
CS = 1.0 / np.sqrt(3.0)  # lattice speed of sound
Pair = ti.types.vector(2, ti.f32)  # (h*_q, h*_p) of an opposite pair
PairValues = ti.types.vector(NPAIRS, ti.f32)  # one value per opposite pair


def neighbour_mask(solid: np.ndarray) -> np.ndarray:
    """uint32 (V,) mask: bit 0 = voxel solid, bit q = voxel x - c_q solid (periodic)."""
    solid = np.ascontiguousarray(solid, dtype=bool)
    mask = np.zeros(solid.shape, dtype=np.uint32)
    for q, c in enumerate(C):
        # rolled[x] = solid[x - c]
        mask |= np.roll(solid, c, axis=(0, 1, 2)).astype(np.uint32) << np.uint32(q)
    return mask.ravel()


# stream_with_bounce_back(src, i, mask_bits, nv, offsets, cell_major) -> h: the 19 populations of
# fluid voxel i after pull streaming with halfway bounce-back (see .streaming)
stream_with_bounce_back = make_pull_bounce_back(C, OPP, ti.f32)


@ti.func
def pair_sums(h: Populations) -> PairValues:
    """s_k = h_q + h_p per opposite pair k = (q, p): twice the even part of h."""
    s = PairValues(0.0)
    for k in ti.static(range(NPAIRS)):
        q, p = ti.static(PAIRS[k])
        s[k] = h[q] + h[p]
    return s


@ti.func
def pair_differences(h: Populations) -> PairValues:
    """d_k = h_q - h_p per opposite pair k = (q, p): twice the odd part of h."""
    d = PairValues(0.0)
    for k in ti.static(range(NPAIRS)):
        q, p = ti.static(PAIRS[k])
        d[k] = h[q] - h[p]
    return d


@ti.func
def density(h0: ti.f32, s: PairValues) -> ti.f32:
    """rho' = sum_q h_q (deviation from rho_0 = 1) from the rest population and the pair sums."""
    rho = h0
    for k in ti.static(range(NPAIRS)):
        rho += s[k]
    return rho


@ti.func
def momentum(d: PairValues, g: Vec3) -> Vec3:
    """j = sum_q c_q h_q + g / 2 from the pair differences (Guo's half-force shift; the
    velocity, since rho_0 = 1)."""
    j = 0.5 * g
    for k in ti.static(range(NPAIRS)):
        q = ti.static(PAIRS[k][0])
        for a in ti.static(range(3)):
            if ti.static(C[q][a] != 0):
                j[a] += C[q][a] * d[k]
    return j


@ti.func
def equilibrium(rho: ti.f32, j: Vec3) -> Populations:
    """Stokes equilibrium of the deviations, e_q = w_q (rho' + 3 c_q . j) (linear in j).

    Its even part per opposite pair is w_q rho', its odd part 3 w_q c_q . j: :func:`collide_trt`
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
def collide_trt_rest(h0: ti.f32, rho: ti.f32, lp: ti.f32) -> ti.f32:
    """TRT collision of the rest population: relaxed at rate lambda+ towards w_0 rho'."""
    return (1.0 - lp) * h0 + lp * W[0] * rho


@ti.func
def collide_trt_pair(
    k: ti.template(), s: ti.f32, d: ti.f32, rho: ti.f32, j: Vec3, g: Vec3, lp: ti.f32, lm: ti.f32
) -> Pair:
    """TRT collision with Guo forcing of the opposite pair k = (q, p): (h*_q, h*_p).

    From s = h_q + h_p and d = h_q - h_p: ``h*_q, h*_p = A +/- B``, ``A = (1 - lp) s / 2 +
    lp w_q rho'`` (the even part relaxed at rate lambda+ towards the equilibrium's even part) and
    ``B = (1 - lm) d / 2 + 3 w_q c_q . (lm j + (1 - lm / 2) g)`` (the odd part relaxed at rate
    lambda- towards the equilibrium's odd part 3 w_q c_q . j, plus Guo's force term).
    """
    q = ti.static(PAIRS[k][0])
    w = ti.static(W[q])
    em = ti.f32(0.0)
    for a in ti.static(range(3)):
        if ti.static(C[q][a] != 0):
            em += C[q][a] * (3.0 * lm * w * j[a] + 3.0 * (1.0 - 0.5 * lm) * w * g[a])
    big_a = 0.5 * (1.0 - lp) * s + lp * w * rho
    big_b = 0.5 * (1.0 - lm) * d + em
    return Pair(big_a + big_b, big_a - big_b)


@ti.func
def collide_trt(
    h: Populations, rho: ti.f32, j: Vec3, g: Vec3, lp: ti.f32, lm: ti.f32
) -> Populations:
    """TRT collision with Guo forcing of one voxel (:func:`collide_trt_rest`,
    :func:`collide_trt_pair`).

    ``h*_q = h_q - lambda+ (h+_q - e+_q) - lambda- (h-_q - e-_q) + F_q`` with e the
    :func:`equilibrium` and ``F_q = (1 - lambda-/2) 3 w_q c_q . g``. Conserves rho'; adds g to
    the momentum sum_q c_q h_q.
    """
    s = pair_sums(h)
    d = pair_differences(h)
    out = Populations(0.0)
    out[0] = collide_trt_rest(h[0], rho, lp)
    for k in ti.static(range(NPAIRS)):
        q, p = ti.static(PAIRS[k])
        pair = collide_trt_pair(k, s[k], d[k], rho, j, g, lp, lm)
        out[q] = pair[0]
        out[p] = pair[1]
    return out


@ti.func
def store_populations(
    dst: ti.template(), i: ti.i32, nv: ti.i32, h: Populations, cell_major: ti.template()
):
    """Write the 19 populations ``h`` of voxel ``i`` to ``dst``."""
    for q in ti.static(range(Q)):
        dst[population_index(q, i, nv, Q, cell_major)] = h[q]


@ti.func
def update_voxel(
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
    """Stream, take moments, collide and store fluid voxel ``i``: the whole update of a voxel.

    Each pair is stored as soon as it is collided (rather than through :func:`collide_trt`'s
    19-vector): 19 live values do not fit in x86-64's 16 vector registers and spill.
    """
    h = stream_with_bounce_back(src, i, mask_bits, nv, offsets, cell_major)
    s = pair_sums(h)
    d = pair_differences(h)
    rho = density(h[0], s)
    j = momentum(d, g)
    dst[population_index(0, i, nv, Q, cell_major)] = collide_trt_rest(h[0], rho, lp)
    for k in ti.static(range(NPAIRS)):
        q, p = ti.static(PAIRS[k])
        pair = collide_trt_pair(k, s[k], d[k], rho, j, g, lp, lm)
        dst[population_index(q, i, nv, Q, cell_major)] = pair[0]
        dst[population_index(p, i, nv, Q, cell_major)] = pair[1]


@ti.kernel
def flow_step_row_parallel(
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
        xm, xp = offset_down(x, nx, ny * nz), offset_up(x, nx, ny * nz)
        ym, yp = offset_down(y, ny, nz), offset_up(y, ny, nz)
        base = (x * ny + y) * nz
        for z in range(nz):
            i = base + z
            m = mask[i]
            if m & ti.u32(1) == 0:
                offsets = row_voxel_offsets(xm, xp, ym, yp, z, nz)
                update_voxel(src, dst, i, m, nv, offsets, g, lp, lm, True)


@ti.kernel
def flow_step_voxel_parallel(
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
            update_voxel(
                src, dst, i, m, nv, neighbour_offsets(x, y, z, nx, ny, nz), g, lp, lm, False
            )


def step_kernel(device: str):
    """The step kernel for a device: row-parallel, cell-major on the CPU; voxel-parallel,
    direction-major on CUDA."""
    return flow_step_voxel_parallel if device == "cuda" else flow_step_row_parallel


def cell_major(device: str) -> bool:
    """Population layout of ``device``: cell-major (AoS) on the CPU, direction-major on CUDA."""
    return device != "cuda"


@ti.func
def add_velocity(sums: Sums, j: Vec3) -> Sums:
    """``sums`` with the velocity ``j`` of one fluid voxel added (a non-finite j is counted)."""
    out = sums
    j2 = ti.f64(j[0] * j[0] + j[1] * j[1] + j[2] * j[2])
    if not (j2 < 1e30):  # NaN or overflow
        out[4] += 1.0
    else:
        for a in ti.static(range(3)):
            out[a] += ti.f64(j[a])
        out[3] = ti.max(out[3], j2)
    return out


@ti.func
def store_sums(partial: ti.template(), slot: ti.i32, sums: Sums):
    """Write one partial measurement (5 values) to slot ``slot`` of ``partial``."""
    for k in ti.static(range(5)):
        partial[5 * slot + k] = sums[k]


def reduce_measurement(partial: np.ndarray, axis: int, nv: int) -> tuple[float, float, bool]:
    """The partial sums of a measure kernel (5 per slot) reduced: the superficial mean velocity
    along ``axis`` (the sum over all ``nv`` voxels of the domain, solid counting as zero; lattice
    units), the largest lattice Mach number |u| / c_s and whether any velocity is not finite."""
    part = np.asarray(partial).reshape(-1, 5)
    mean = part[:, axis].sum() / nv
    mach = float(np.sqrt(part[:, 3].max())) / CS
    return float(mean), mach, bool(part[:, 4].sum() > 0 or not np.isfinite(mean))


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
        xm, xp = offset_down(x, nx, ny * nz), offset_up(x, nx, ny * nz)
        ym, yp = offset_down(y, ny, nz), offset_up(y, ny, nz)
        base = (x * ny + y) * nz
        sums = Sums(0.0)
        for z in range(nz):
            i = base + z
            m = mask[i]
            if m & ti.u32(1) == 0:
                j = momentum(
                    pair_differences(
                        stream_with_bounce_back(
                            src, i, m, nv, row_voxel_offsets(xm, xp, ym, yp, z, nz), cell_major
                        )
                    ),
                    g,
                )
                sums = add_velocity(sums, j)
        store_sums(partial, x * ny + y, sums)


@ti.kernel
def flow_velocity_field(
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
    """Velocity and density deviation (4 * V, component-major: j_x, j_y, j_z, rho') of the
    state in ``src``; zero in solid voxels."""
    nv = nx * ny * nz
    g = Vec3(gx, gy, gz)
    for x, y in ti.ndrange(nx, ny):
        xm, xp = offset_down(x, nx, ny * nz), offset_up(x, nx, ny * nz)
        ym, yp = offset_down(y, ny, nz), offset_up(y, ny, nz)
        base = (x * ny + y) * nz
        for z in range(nz):
            i = base + z
            m = mask[i]
            j = Vec3(0.0)
            rho = ti.f32(0.0)
            if m & ti.u32(1) == 0:
                h = stream_with_bounce_back(
                    src, i, m, nv, row_voxel_offsets(xm, xp, ym, yp, z, nz), cell_major
                )
                j = momentum(pair_differences(h), g)
                rho = density(h[0], pair_sums(h))
            out[i] = j[0]
            out[nv + i] = j[1]
            out[2 * nv + i] = j[2]
            out[3 * nv + i] = rho


@ti.kernel
def fill_zero(a: F32):
    for i in a:
        a[i] = 0.0


@ti.kernel
def copy_out(src: F32, dst: F32, offset: ti.i32):
    """dst = src[offset : offset + len(dst)] (a block of a device array, for the host)."""
    for i in dst:
        dst[i] = src[offset + i]


@ti.kernel
def copy_in(dst: F32, src: F32, offset: ti.i32):
    """dst[offset : offset + len(src)] = src (a host block written into a device array)."""
    for i in src:
        dst[offset + i] = src[i]


def read_state(arr, nodes: int, start: int, count: int, cell_major: bool) -> np.ndarray:
    """Populations (count, 19) of lattice nodes ``start .. start + count`` of ``arr`` (``nodes``
    nodes, either layout), copied to the host one block at a time."""
    block = ti.ndarray(ti.f32, count * Q if cell_major else count)
    if cell_major:
        copy_out(arr, block, start * Q)
        return block.to_numpy().reshape(count, Q)
    out = np.empty((count, Q), dtype=np.float32)
    for q in range(Q):
        copy_out(arr, block, q * nodes + start)
        out[:, q] = block.to_numpy()
    return out


def write_state(arr, nodes: int, start: int, h: np.ndarray, cell_major: bool) -> None:
    """Write populations ``h`` (count, 19) to lattice nodes ``start ..`` of ``arr``."""
    h = np.asarray(h, dtype=np.float32)
    if cell_major:
        copy_in(arr, np.ascontiguousarray(h).ravel(), start * Q)
        return
    for q in range(Q):
        copy_in(arr, np.ascontiguousarray(h[:, q]), q * nodes + start)
