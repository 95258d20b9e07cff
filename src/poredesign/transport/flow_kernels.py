"""D3Q19 two-relaxation-time (TRT) lattice Boltzmann kernels for steady Stokes flow.

Storage
    Populations are stored as deviations from the rest state, ``h_q = f_q - w_q`` (rho_0 = 1),
    in flat float32 arrays of length 19 * V with the voxel index ``i = (x * ny + y) * nz + z``
    (z fastest): cell-major ``i * 19 + q`` on the CPU, direction-major ``q * V + i`` on CUDA
    (see :func:`cell_major`). The scheme is linear in ``h``
    (Stokes equilibrium, no u u terms), so storing deviations keeps full float32 relative
    precision however small the body force is.

Neighbour mask
    One uint32 per voxel: bit q (q >= 1) is set when the voxel ``x - c_q`` (where population q
    is pulled from) is solid; bit 0 is set when the voxel itself is solid.

Update (one fused kernel, pull scheme, two buffers ``src -> dst``)
    1. Pull: ``h_q(x) = src_q(x - c_q)``, or, when ``x - c_q`` is solid, the halfway bounce-back
       ``h_q(x) = src_{opp(q)}(x)`` (the post-collision population that left x towards the wall
       one step ago). Periodic in x, y, z.
    2. Moments: ``rho' = sum h_q``, ``j = sum c_q h_q + g / 2`` (Guo's half-force shift).
    3. TRT collision with equilibrium ``e_q = w_q (rho' + 3 c_q . j)`` and Guo's force term
       ``(1 - lambda-/2) 3 w_q c_q . g`` on the antisymmetric part:
       ``h*_q = h_q - lambda+ (h+_q - e+_q) - lambda- (h-_q - e-_q) + F_q``,
       written per opposite pair as ``A +/- B`` to halve the arithmetic.
    Solid voxels are skipped; their slots are never read.

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

Q = 19
NPAIRS = len(PAIRS)
W1 = W[1]  # axis directions
W2 = W[7]  # face diagonals

F32 = ti.types.ndarray(dtype=ti.f32, ndim=1)
F64 = ti.types.ndarray(dtype=ti.f64, ndim=1)
U32 = ti.types.ndarray(dtype=ti.u32, ndim=1)


def neighbour_mask(solid: np.ndarray) -> np.ndarray:
    """uint32 (V,) mask: bit 0 = voxel solid, bit q = voxel x - c_q solid (periodic)."""
    solid = np.ascontiguousarray(solid, dtype=bool)
    mask = np.zeros(solid.shape, dtype=np.uint32)
    for q, c in enumerate(C):
        # rolled[x] = solid[x - c]
        mask |= np.roll(solid, c, axis=(0, 1, 2)).astype(np.uint32) << np.uint32(q)
    return mask.ravel()


@ti.func
def _wrap_minus(i: ti.i32, n: ti.i32, stride: ti.i32) -> ti.i32:
    # offset to index i - 1 (periodic), times stride
    return -stride if i > 0 else (n - 1) * stride


@ti.func
def _wrap_plus(i: ti.i32, n: ti.i32, stride: ti.i32) -> ti.i32:
    return stride if i < n - 1 else -(n - 1) * stride


@ti.func
def _at(q: ti.template(), i: ti.i32, nv: ti.i32, aos: ti.template()) -> ti.i32:
    """Index of population q of voxel i: cell-major (AoS, CPU) or direction-major (SoA, GPU)."""
    index = 0
    if ti.static(aos):
        index = i * Q + q
    else:
        index = q * nv + i
    return index


@ti.func
def _flow_cell(
    src: ti.template(),
    dst: ti.template(),
    aos: ti.template(),
    i: ti.i32,
    m: ti.u32,
    nv: ti.i32,
    oxm: ti.i32,
    oxp: ti.i32,
    oym: ti.i32,
    oyp: ti.i32,
    ozm: ti.i32,
    ozp: ti.i32,
    gx: ti.f32,
    gy: ti.f32,
    gz: ti.f32,
    lp: ti.f32,
    lm: ti.f32,
):
    """Pull, bounce back, collide and force one fluid voxel ``i`` (offsets to its neighbours)."""
    a0 = 1.0 - lp
    a1 = 0.5 * (1.0 - lp)
    b1 = 0.5 * (1.0 - lm)
    fg = 3.0 * (1.0 - 0.5 * lm)
    c1 = 3.0 * lm * W1
    c2 = 3.0 * lm * W2
    h = ti.Vector([0.0] * Q, dt=ti.f32)
    h[0] = src[_at(0, i, nv, aos)]
    for q in ti.static(range(1, Q)):
        off = 0
        if ti.static(C[q][0] == 1):
            off += oxm
        if ti.static(C[q][0] == -1):
            off += oxp
        if ti.static(C[q][1] == 1):
            off += oym
        if ti.static(C[q][1] == -1):
            off += oyp
        if ti.static(C[q][2] == 1):
            off += ozm
        if ti.static(C[q][2] == -1):
            off += ozp
        pulled = src[_at(q, i + off, nv, aos)]
        bounced = src[_at(OPP[q], i, nv, aos)]
        h[q] = bounced if (m & ti.u32(1 << q)) != 0 else pulled
    s = ti.Vector([0.0] * NPAIRS, dt=ti.f32)
    d = ti.Vector([0.0] * NPAIRS, dt=ti.f32)
    rho = h[0]
    jx = 0.5 * gx
    jy = 0.5 * gy
    jz = 0.5 * gz
    for k in ti.static(range(NPAIRS)):
        q, p = ti.static(PAIRS[k])
        s[k] = h[q] + h[p]
        d[k] = h[q] - h[p]
        rho += s[k]
        if ti.static(C[q][0] != 0):
            jx += C[q][0] * d[k]
        if ti.static(C[q][1] != 0):
            jy += C[q][1] * d[k]
        if ti.static(C[q][2] != 0):
            jz += C[q][2] * d[k]
    dst[_at(0, i, nv, aos)] = a0 * h[0] + lp * W[0] * rho
    r1 = lp * W1 * rho
    r2 = lp * W2 * rho
    e1 = ti.Vector([c1 * jx + fg * W1 * gx, c1 * jy + fg * W1 * gy, c1 * jz + fg * W1 * gz])
    e2 = ti.Vector([c2 * jx + fg * W2 * gx, c2 * jy + fg * W2 * gy, c2 * jz + fg * W2 * gz])
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
        big_a = a1 * s[k] + (r2 if ti.static(diagonal) else r1)
        big_b = b1 * d[k] + em
        dst[_at(q, i, nv, aos)] = big_a + big_b
        dst[_at(p, i, nv, aos)] = big_a - big_b


@ti.kernel
def flow_step(
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
    sx = ny * nz
    for x, y in ti.ndrange(nx, ny):
        oxm = _wrap_minus(x, nx, sx)
        oxp = _wrap_plus(x, nx, sx)
        oym = _wrap_minus(y, ny, nz)
        oyp = _wrap_plus(y, ny, nz)
        base = (x * ny + y) * nz
        for z in range(nz):
            i = base + z
            m = mask[i]
            if m & ti.u32(1) == 0:
                _flow_cell(
                    src,
                    dst,
                    True,
                    i,
                    m,
                    nv,
                    oxm,
                    oxp,
                    oym,
                    oyp,
                    _wrap_minus(z, nz, 1),
                    _wrap_plus(z, nz, 1),
                    gx,
                    gy,
                    gz,
                    lp,
                    lm,
                )


@ti.kernel
def flow_step_flat(
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
    sx = ny * nz
    for i in range(nv):
        m = mask[i]
        if m & ti.u32(1) == 0:
            z = i % nz
            y = (i // nz) % ny
            x = i // sx
            _flow_cell(
                src,
                dst,
                False,
                i,
                m,
                nv,
                _wrap_minus(x, nx, sx),
                _wrap_plus(x, nx, sx),
                _wrap_minus(y, ny, nz),
                _wrap_plus(y, ny, nz),
                _wrap_minus(z, nz, 1),
                _wrap_plus(z, nz, 1),
                gx,
                gy,
                gz,
                lp,
                lm,
            )


def step_kernel(device: str):
    """The step kernel for a device: row-parallel, cell-major on the CPU; voxel-parallel,
    direction-major on CUDA."""
    return flow_step_flat if device == "cuda" else flow_step


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
    aos: ti.template(),
):
    """Per (x, y) column: sums of j_x, j_y, j_z, max |j|^2 and the count of non-finite j.

    ``j`` is the momentum the next step would see (pull + g/2), so the velocity of the state in
    ``src``. ``partial`` has 5 * nx * ny entries; solid voxels count as zero velocity.
    """
    nv = nx * ny * nz
    sx = ny * nz
    for x, y in ti.ndrange(nx, ny):
        oxm = _wrap_minus(x, nx, sx)
        oxp = _wrap_plus(x, nx, sx)
        oym = _wrap_minus(y, ny, nz)
        oyp = _wrap_plus(y, ny, nz)
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
                ozm = _wrap_minus(z, nz, 1)
                ozp = _wrap_plus(z, nz, 1)
                jx = 0.5 * gx
                jy = 0.5 * gy
                jz = 0.5 * gz
                for q in ti.static(range(1, Q)):
                    off = 0
                    if ti.static(C[q][0] == 1):
                        off += oxm
                    if ti.static(C[q][0] == -1):
                        off += oxp
                    if ti.static(C[q][1] == 1):
                        off += oym
                    if ti.static(C[q][1] == -1):
                        off += oyp
                    if ti.static(C[q][2] == 1):
                        off += ozm
                    if ti.static(C[q][2] == -1):
                        off += ozp
                    v = src[_at(q, i + off, nv, aos)]
                    if (m & ti.u32(1 << q)) != 0:
                        v = src[_at(OPP[q], i, nv, aos)]
                    if ti.static(C[q][0] != 0):
                        jx += C[q][0] * v
                    if ti.static(C[q][1] != 0):
                        jy += C[q][1] * v
                    if ti.static(C[q][2] != 0):
                        jz += C[q][2] * v
                j2 = ti.f64(jx * jx + jy * jy + jz * jz)
                if not (j2 < 1e30):  # NaN or overflow
                    bad += 1.0
                else:
                    sum_x += ti.f64(jx)
                    sum_y += ti.f64(jy)
                    sum_z += ti.f64(jz)
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
    aos: ti.template(),
):
    """Velocity (3 * V, component-major) of the state in ``src``; zero in solid voxels."""
    nv = nx * ny * nz
    sx = ny * nz
    for x, y in ti.ndrange(nx, ny):
        oxm = _wrap_minus(x, nx, sx)
        oxp = _wrap_plus(x, nx, sx)
        oym = _wrap_minus(y, ny, nz)
        oyp = _wrap_plus(y, ny, nz)
        base = (x * ny + y) * nz
        for z in range(nz):
            i = base + z
            m = mask[i]
            jx = ti.f32(0.0)
            jy = ti.f32(0.0)
            jz = ti.f32(0.0)
            if m & ti.u32(1) == 0:
                ozm = _wrap_minus(z, nz, 1)
                ozp = _wrap_plus(z, nz, 1)
                jx = 0.5 * gx
                jy = 0.5 * gy
                jz = 0.5 * gz
                for q in ti.static(range(1, Q)):
                    off = 0
                    if ti.static(C[q][0] == 1):
                        off += oxm
                    if ti.static(C[q][0] == -1):
                        off += oxp
                    if ti.static(C[q][1] == 1):
                        off += oym
                    if ti.static(C[q][1] == -1):
                        off += oyp
                    if ti.static(C[q][2] == 1):
                        off += ozm
                    if ti.static(C[q][2] == -1):
                        off += ozp
                    v = src[_at(q, i + off, nv, aos)]
                    if (m & ti.u32(1 << q)) != 0:
                        v = src[_at(OPP[q], i, nv, aos)]
                    if ti.static(C[q][0] != 0):
                        jx += C[q][0] * v
                    if ti.static(C[q][1] != 0):
                        jy += C[q][1] * v
                    if ti.static(C[q][2] != 0):
                        jz += C[q][2] * v
            out[i] = jx
            out[nv + i] = jy
            out[2 * nv + i] = jz


@ti.kernel
def fill_zero(a: F32):
    for i in a:
        a[i] = 0.0
