"""D3Q7 two-relaxation-time lattice Boltzmann kernels for steady pure diffusion.

Layout
    Transport along axis 0 (the driver moves the requested axis there). Populations ``h_q``,
    q = 0..6, in a flat float64 array of length 7 * V, index ``q * V + i``, ``i = (x * ny + y) * nz
    + z``; equilibrium ``e_q = w_q C`` with w_0 = 1/4, w_q = 1/8 (c_s^2 = 1/4), no advection.

Node mask (uint8 per voxel)
    bit q (q = 1..6): the link to ``x - c_q`` is a wall (solid voxel, the box face when the
    lateral boundaries are closed, or the outside of the inlet/outlet layer): ``h_q`` is bounced
    back; bit 0: the voxel carries no flux and is never updated; bit 7: the voxel carries flux.

Dirichlet layers (x = 0 and x = N - 1)
    Their nodes collide like every other node, but with the concentration in the equilibrium
    replaced by the imposed value (c_in, c_out); their outer side is a wall, so inlet and outlet
    never talk through the periodic wrap.

Collision: TRT, symmetric part relaxed with lambda+ towards ``w_q C``, antisymmetric part with
lambda- towards 0; D = c_s^2 (1/lambda- - 1/2). With the magic parameter
Lambda = (1/lambda+ - 1/2)(1/lambda- - 1/2) = 1/4 the steady state is that of BGK with tau = 1,
which is exactly the 7-point finite-volume scheme with zero flux through solid faces and the
concentration imposed at the inlet and outlet voxel centres: the discrete problem the Krylov
path solves (agreement to 1e-7 in the tests, for tau- from 1 to 40). A large tau- (fast
diffusion) reaches the steady state in far fewer steps.
"""

import os

os.environ.setdefault("ENABLE_TAICHI_HEADER_PRINT", "False")

import numpy as np  # noqa: E402
import taichi as ti  # noqa: E402

from poredesign.transport.lattice import D3Q7_C as C  # noqa: E402
from poredesign.transport.lattice import D3Q7_OPP as OPP  # noqa: E402
from poredesign.transport.lattice import D3Q7_PAIRS as PAIRS  # noqa: E402
from poredesign.transport.lattice import D3Q7_W as W  # noqa: E402

Q = 7
FIXED = 1  # bit 0: not updated
CARRIES = 128  # bit 7: fluid or Dirichlet node

F64 = ti.types.ndarray(dtype=ti.f64, ndim=1)
U8 = ti.types.ndarray(dtype=ti.u8, ndim=1)


def node_mask(carries: np.ndarray, lateral_periodic: bool = True) -> np.ndarray:
    """uint8 (V,) mask for the D3Q7 kernels (see module docstring).

    ``carries``: bool (N, ny, nz), voxels of the spanning pore cluster, axis 0 = transport axis.
    Layers 0 and N - 1 are Dirichlet layers.
    """
    carries = np.ascontiguousarray(carries, dtype=bool)
    mask = np.zeros(carries.shape, dtype=np.uint8)
    for q in range(1, Q):
        c = C[q]
        rolled = np.roll(carries, c, axis=(0, 1, 2))  # rolled[x] = carries[x - c]
        wall = ~rolled
        if not lateral_periodic:
            for axis in (1, 2):
                if c[axis] == 1:
                    index = [slice(None)] * 3
                    index[axis] = 0
                    wall[tuple(index)] = True
                elif c[axis] == -1:
                    index = [slice(None)] * 3
                    index[axis] = -1
                    wall[tuple(index)] = True
        if c[0] == 1:  # the inlet layer's upstream side is outside the domain
            wall[0] = True
        elif c[0] == -1:
            wall[-1] = True
        mask |= wall.astype(np.uint8) << np.uint8(q)
    mask |= (~carries).astype(np.uint8)
    mask |= carries.astype(np.uint8) << np.uint8(7)
    return mask.ravel()


@ti.func
def _wrap_minus(i: ti.i32, n: ti.i32, stride: ti.i32) -> ti.i32:
    return -stride if i > 0 else (n - 1) * stride


@ti.func
def _wrap_plus(i: ti.i32, n: ti.i32, stride: ti.i32) -> ti.i32:
    return stride if i < n - 1 else -(n - 1) * stride


@ti.func
def _diffusion_cell(
    src: ti.template(),
    dst: ti.template(),
    i: ti.i32,
    m: ti.u32,
    nv: ti.i32,
    x: ti.i32,
    nx: ti.i32,
    oxm: ti.i32,
    oxp: ti.i32,
    oym: ti.i32,
    oyp: ti.i32,
    ozm: ti.i32,
    ozp: ti.i32,
    lp: ti.f64,
    lm: ti.f64,
    c_in: ti.f64,
    c_out: ti.f64,
):
    """Pull, bounce back and collide one voxel ``i`` that carries flux (layer x)."""
    a0 = 1.0 - lp
    a1 = 0.5 * (1.0 - lp)
    b1 = 0.5 * (1.0 - lm)
    h = ti.Vector([0.0] * Q, dt=ti.f64)
    h[0] = src[i]
    for q in ti.static(range(1, Q)):
        off = 0
        if ti.static(C[q][0] == 1):
            off = oxm
        if ti.static(C[q][0] == -1):
            off = oxp
        if ti.static(C[q][1] == 1):
            off = oym
        if ti.static(C[q][1] == -1):
            off = oyp
        if ti.static(C[q][2] == 1):
            off = ozm
        if ti.static(C[q][2] == -1):
            off = ozp
        pulled = src[q * nv + i + off]
        bounced = src[OPP[q] * nv + i]
        h[q] = bounced if (m & ti.u32(1 << q)) != 0 else pulled
    conc = h[0]
    for q in ti.static(range(1, Q)):
        conc += h[q]
    if x == 0:  # Dirichlet layers: the concentration is imposed
        conc = c_in
    elif x == nx - 1:
        conc = c_out
    dst[i] = a0 * h[0] + lp * W[0] * conc
    r1 = lp * W[1] * conc
    for k in ti.static(range(len(PAIRS))):
        q, p = ti.static(PAIRS[k])
        big_a = a1 * (h[q] + h[p]) + r1
        big_b = b1 * (h[q] - h[p])
        dst[q * nv + i] = big_a + big_b
        dst[p * nv + i] = big_a - big_b


@ti.kernel
def diffusion_step(
    src: F64,
    dst: F64,
    mask: U8,
    nx: ti.i32,
    ny: ti.i32,
    nz: ti.i32,
    lp: ti.f64,
    lm: ti.f64,
    c_in: ti.f64,
    c_out: ti.f64,
):
    """One pull-stream + TRT collision step src -> dst for every node that carries flux (CPU:
    parallel over (x, y) rows)."""
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
            m = ti.cast(mask[i], ti.u32)
            if m & ti.u32(FIXED) == 0:
                _diffusion_cell(
                    src,
                    dst,
                    i,
                    m,
                    nv,
                    x,
                    nx,
                    oxm,
                    oxp,
                    oym,
                    oyp,
                    _wrap_minus(z, nz, 1),
                    _wrap_plus(z, nz, 1),
                    lp,
                    lm,
                    c_in,
                    c_out,
                )


@ti.kernel
def diffusion_step_flat(
    src: F64,
    dst: F64,
    mask: U8,
    nx: ti.i32,
    ny: ti.i32,
    nz: ti.i32,
    lp: ti.f64,
    lm: ti.f64,
    c_in: ti.f64,
    c_out: ti.f64,
):
    """The same step parallel over every voxel (GPU, coalesced)."""
    nv = nx * ny * nz
    sx = ny * nz
    for i in range(nv):
        m = ti.cast(mask[i], ti.u32)
        if m & ti.u32(FIXED) == 0:
            z = i % nz
            y = (i // nz) % ny
            x = i // sx
            _diffusion_cell(
                src,
                dst,
                i,
                m,
                nv,
                x,
                nx,
                _wrap_minus(x, nx, sx),
                _wrap_plus(x, nx, sx),
                _wrap_minus(y, ny, nz),
                _wrap_plus(y, ny, nz),
                _wrap_minus(z, nz, 1),
                _wrap_plus(z, nz, 1),
                lp,
                lm,
                c_in,
                c_out,
            )


def step_kernel(device: str):
    """The step kernel for a device: row-parallel on the CPU, voxel-parallel on CUDA."""
    return diffusion_step_flat if device == "cuda" else diffusion_step


@ti.kernel
def diffusion_layer_flux(src: F64, mask: U8, nx: ti.i32, ny: ti.i32, nz: ti.i32, partial: F64):
    """Net population flux through the plane between layers x and x + 1, per (x, y) column.

    The populations of ``src`` (post-collision) that cross the plane in the next streaming:
    h_1(x) going +x minus h_2(x + 1) going -x, over links whose both ends carry flux.
    ``partial`` has (nx - 1) * ny entries.
    """
    nv = nx * ny * nz
    sx = ny * nz
    for x, y in ti.ndrange(nx - 1, ny):
        base = (x * ny + y) * nz
        total = ti.f64(0.0)
        for z in range(nz):
            i = base + z
            both = (ti.cast(mask[i], ti.u32) & ti.cast(mask[i + sx], ti.u32)) & ti.u32(CARRIES)
            if both != 0:
                total += src[1 * nv + i] - src[2 * nv + i + sx]
        partial[x * ny + y] = total


@ti.kernel
def diffusion_concentration(src: F64, mask: U8, out: F64):
    """C = sum_q h_q of the post-collision state (zero where no flux is carried)."""
    nv = out.shape[0]
    for i in range(nv):
        value = ti.f64(0.0)
        if ti.cast(mask[i], ti.u32) & ti.u32(CARRIES) != 0:
            for q in ti.static(range(Q)):
                value += src[q * nv + i]
        out[i] = value
