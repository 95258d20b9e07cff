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

The physics, one ``ti.func`` each (inlined into the one fused kernel per step):
:func:`stream_with_bounce_back` (pull with halfway bounce-back, shared with the flow kernels:
:mod:`.streaming`), :func:`concentration` (C = sum_q h_q), :func:`collide_trt` (TRT: symmetric
part relaxed with lambda+ towards ``w_q C``, antisymmetric part with lambda- towards 0;
D = c_s^2 (1/lambda- - 1/2)) and :func:`update_voxel` (all of it for one voxel). Steps, named
``<physics>_step_<parallelism>`` as in :mod:`.flow_kernels`: :func:`diffusion_step_row_parallel`
(CPU) and :func:`diffusion_step_voxel_parallel` (CUDA, coalesced); both keep the direction-major
layout.

With the magic parameter Lambda = (1/lambda+ - 1/2)(1/lambda- - 1/2) = 1/4 the steady state is
that of BGK with tau_+ = 1, which is exactly the 7-point finite-volume scheme with zero flux
through solid faces and the concentration imposed at the inlet and outlet voxel centres: the
discrete problem the Krylov path solves (agreement to 1e-7 in the tests, for tau_- from 1 to 40).
A large tau_- (fast diffusion) reaches the steady state in far fewer steps.
"""

import os

os.environ.setdefault("ENABLE_TAICHI_HEADER_PRINT", "False")

import numpy as np  # noqa: E402
import taichi as ti  # noqa: E402

from poredesign.transport.lattice import D3Q7_C as C  # noqa: E402
from poredesign.transport.lattice import D3Q7_OPP as OPP  # noqa: E402
from poredesign.transport.lattice import D3Q7_PAIRS as PAIRS  # noqa: E402
from poredesign.transport.lattice import D3Q7_W as W  # noqa: E402
from poredesign.transport.streaming import (  # noqa: E402
    make_pull_bounce_back,
    neighbour_offsets,
    offset_down,
    offset_up,
    row_voxel_offsets,
)

Q = 7
FIXED = 1  # bit 0: not updated
CARRIES = 128  # bit 7: fluid or Dirichlet node

F64 = ti.types.ndarray(dtype=ti.f64, ndim=1)
U8 = ti.types.ndarray(dtype=ti.u8, ndim=1)
Populations = ti.types.vector(Q, ti.f64)


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


# stream_with_bounce_back(src, i, wall_bits, nv, offsets, cell_major) -> h: the 7 populations of
# voxel i after pull streaming with halfway bounce-back (see .streaming); direction-major here
stream_with_bounce_back = make_pull_bounce_back(C, OPP, ti.f64)


@ti.func
def concentration(h: Populations) -> ti.f64:
    """C = sum_q h_q."""
    conc = h[0]
    for q in ti.static(range(1, Q)):
        conc += h[q]
    return conc


@ti.func
def collide_trt(h: Populations, conc: ti.f64, lp: ti.f64, lm: ti.f64) -> Populations:
    """TRT collision towards the equilibrium ``w_q C`` (no advection: its odd part is zero).

    Per opposite pair (q, p): ``h*_q, h*_p = A +/- B`` with ``A = (1 - lp) (h_q + h_p) / 2 +
    lp w_q C`` and ``B = (1 - lm) (h_q - h_p) / 2``. Conserves sum_q h_q when C is that sum.
    """
    a0 = 1.0 - lp
    a1 = 0.5 * (1.0 - lp)
    b1 = 0.5 * (1.0 - lm)
    out = Populations(0.0)
    out[0] = a0 * h[0] + lp * W[0] * conc
    r1 = lp * W[1] * conc
    for k in ti.static(range(len(PAIRS))):
        q, p = ti.static(PAIRS[k])
        big_a = a1 * (h[q] + h[p]) + r1
        big_b = b1 * (h[q] - h[p])
        out[q] = big_a + big_b
        out[p] = big_a - big_b
    return out


@ti.func
def update_voxel(
    src: ti.template(),
    dst: ti.template(),
    i: ti.i32,
    walls: ti.u32,
    nv: ti.i32,
    offsets: ti.types.vector(6, ti.i32),
    x: ti.i32,
    nx: ti.i32,
    lp: ti.f64,
    lm: ti.f64,
    c_in: ti.f64,
    c_out: ti.f64,
):
    """Stream and collide voxel ``i`` (layer x) that carries flux; store it in ``dst``."""
    h = stream_with_bounce_back(src, i, walls, nv, offsets, False)
    conc = concentration(h)
    if x == 0:  # Dirichlet layers: the concentration is imposed
        conc = c_in
    elif x == nx - 1:
        conc = c_out
    out = collide_trt(h, conc, lp, lm)
    for q in ti.static(range(Q)):
        dst[q * nv + i] = out[q]


@ti.kernel
def diffusion_step_row_parallel(
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
    parallel over (x, y) rows, the row offsets computed once)."""
    nv = nx * ny * nz
    for x, y in ti.ndrange(nx, ny):
        xm, xp = offset_down(x, nx, ny * nz), offset_up(x, nx, ny * nz)
        ym, yp = offset_down(y, ny, nz), offset_up(y, ny, nz)
        base = (x * ny + y) * nz
        for z in range(nz):
            i = base + z
            m = ti.cast(mask[i], ti.u32)
            if m & ti.u32(FIXED) == 0:
                update_voxel(
                    src,
                    dst,
                    i,
                    m,
                    nv,
                    row_voxel_offsets(xm, xp, ym, yp, z, nz),
                    x,
                    nx,
                    lp,
                    lm,
                    c_in,
                    c_out,
                )


@ti.kernel
def diffusion_step_voxel_parallel(
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
    for i in range(nv):
        m = ti.cast(mask[i], ti.u32)
        if m & ti.u32(FIXED) == 0:
            z = i % nz
            y = (i // nz) % ny
            x = i // (ny * nz)
            offsets = neighbour_offsets(x, y, z, nx, ny, nz)
            update_voxel(src, dst, i, m, nv, offsets, x, nx, lp, lm, c_in, c_out)


def step_kernel(device: str):
    """The step kernel for a device: row-parallel on the CPU, voxel-parallel on CUDA."""
    return diffusion_step_voxel_parallel if device == "cuda" else diffusion_step_row_parallel


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
