"""D3Q19 TRT kernels on the pore voxels only: indirect addressing through a neighbour table.

The physics is that of :mod:`.flow_kernels` (its ``ti.func``s :func:`~.flow_kernels.pair_sums`,
:func:`~.flow_kernels.pair_differences`, :func:`~.flow_kernels.density`,
:func:`~.flow_kernels.momentum`, :func:`~.flow_kernels.collide_trt_rest` and
:func:`~.flow_kernels.collide_trt_pair`, called in the same order, so every fluid voxel sees the
same float32 arithmetic as in the dense step); only the addressing differs.

Storage
    ``nf`` fluid voxels, numbered in the dense order (z fastest). Populations (deviations
    ``h_q = f_q - w_q``, float32) in a flat array of 19 * nf, cell-major ``n * 19 + q`` on the
    CPU, direction-major ``q * nf + n`` on CUDA (:func:`~.streaming.population_index`).
    Neighbour table ``nbr`` (int32, 18 * nf, same layout with 18 slots): slot q - 1 of voxel n is
    the fluid number of the voxel ``x - c_q`` (periodic), or -1 when it is solid (a halfway
    bounce-back link).

Two streaming patterns (``mode``, a compile-time constant)
    ``PULL`` (two buffers, src -> dst): ``h_q(x) = src_q(x - c_q)``, or ``src_opp(q)(x)`` across
        a wall; post-collision values stored at the own voxel, as the dense step.
    ``AA_EVEN`` / ``AA_ODD`` (one buffer, in place; Bailey et al. 2009, "Accelerating lattice
        Boltzmann fluid flow simulations using graphics processors"): the buffer alternates
        between two forms. After an odd step slot ``(x, q)`` holds the pre-collision ``h_q(x)``;
        the even step reads its own 19 slots and writes ``h*_q(x)`` to slot ``(x, opp q)``. The
        odd step reads ``h_q(x) = slot (x - c_q, opp q)`` (``slot (x, q)`` across a wall) and
        writes ``h*_q(x)`` to ``slot (x + c_q, q)`` (``slot (x, opp q)`` across a wall). Each slot
        is read and written by one voxel only, so the update is race-free in place, and the
        steady state is that of the pull scheme, step for step.

A measurement reads the populations the way the next step would (``mode`` of the next step) and
adds g / 2 (Guo), as :func:`~.flow_kernels.flow_measure` does.
"""

import os

os.environ.setdefault("ENABLE_TAICHI_HEADER_PRINT", "False")

import taichi as ti  # noqa: E402

from poredesign.transport.flow_kernels import (  # noqa: E402
    F32,
    F64,
    NPAIRS,
    PAIRS,
    Populations,
    Q,
    Sums,
    Vec3,
    add_velocity,
    collide_trt_pair,
    collide_trt_rest,
    density,
    momentum,
    pair_differences,
    pair_sums,
    store_sums,
)
from poredesign.transport.lattice import D3Q19_OPP as OPP  # noqa: E402
from poredesign.transport.streaming import population_index  # noqa: E402

I32 = ti.types.ndarray(dtype=ti.i32, ndim=1)

NQ = Q - 1  # moving directions: neighbour slots per voxel

PULL = 0
AA_EVEN = 1
AA_ODD = 2
MEASURE_CHUNK = 4096  # fluid voxels per partial sum of a measurement


@ti.kernel
def upload_block(dst: I32, src: I32, offset: ti.i32):
    """dst[offset : offset + len(src)] = src (a host block written into a device table)."""
    for i in src:
        dst[offset + i] = src[i]


@ti.func
def neighbour(
    nbr: ti.template(), n: ti.i32, q: ti.template(), nf: ti.i32, cm: ti.template()
) -> ti.i32:
    """Fluid number of the voxel ``x - c_q`` of fluid voxel ``n``, -1 when solid (q >= 1)."""
    return nbr[population_index(q - 1, n, nf, NQ, cm)]


@ti.func
def load(
    src: ti.template(),
    nbr: ti.template(),
    n: ti.i32,
    nf: ti.i32,
    mode: ti.template(),
    cm: ti.template(),
) -> Populations:
    """The 19 pre-collision populations of fluid voxel ``n`` (streaming and bounce-back
    included) for a step of ``mode``."""
    h = Populations(0.0)
    h[0] = src[population_index(0, n, nf, Q, cm)]
    for q in ti.static(range(1, Q)):
        if ti.static(mode == AA_EVEN):
            h[q] = src[population_index(q, n, nf, Q, cm)]
        else:
            m = neighbour(nbr, n, q, nf, cm)
            if ti.static(mode == PULL):
                if m >= 0:
                    h[q] = src[population_index(q, m, nf, Q, cm)]
                else:
                    h[q] = src[population_index(OPP[q], n, nf, Q, cm)]
            else:  # AA_ODD
                if m >= 0:
                    h[q] = src[population_index(OPP[q], m, nf, Q, cm)]
                else:
                    h[q] = src[population_index(q, n, nf, Q, cm)]
    return h


@ti.func
def store(
    dst: ti.template(),
    nbr: ti.template(),
    n: ti.i32,
    nf: ti.i32,
    q: ti.template(),
    value: ti.f32,
    mode: ti.template(),
    cm: ti.template(),
):
    """Write the post-collision population ``h*_q`` of fluid voxel ``n`` for a step of ``mode``."""
    if ti.static(mode == PULL or q == 0):
        dst[population_index(q, n, nf, Q, cm)] = value
    elif ti.static(mode == AA_EVEN):
        dst[population_index(OPP[q], n, nf, Q, cm)] = value
    else:  # AA_ODD: to x + c_q = x - c_opp(q), or back to x across a wall
        m = neighbour(nbr, n, OPP[q], nf, cm)
        if m >= 0:
            dst[population_index(q, m, nf, Q, cm)] = value
        else:
            dst[population_index(OPP[q], n, nf, Q, cm)] = value


@ti.func
def update_fluid_voxel(
    src: ti.template(),
    dst: ti.template(),
    nbr: ti.template(),
    n: ti.i32,
    nf: ti.i32,
    g: Vec3,
    lp: ti.f32,
    lm: ti.f32,
    mode: ti.template(),
    cm: ti.template(),
):
    """Stream, take moments, collide and store fluid voxel ``n`` (as
    :func:`~.flow_kernels.update_voxel`, with the sparse addressing of ``mode``)."""
    h = load(src, nbr, n, nf, mode, cm)
    s = pair_sums(h)
    d = pair_differences(h)
    rho = density(h[0], s)
    j = momentum(d, g)
    store(dst, nbr, n, nf, 0, collide_trt_rest(h[0], rho, lp), mode, cm)
    for k in ti.static(range(NPAIRS)):
        q, p = ti.static(PAIRS[k])
        pair = collide_trt_pair(k, s[k], d[k], rho, j, g, lp, lm)
        store(dst, nbr, n, nf, q, pair[0], mode, cm)
        store(dst, nbr, n, nf, p, pair[1], mode, cm)


@ti.kernel
def sparse_step_pull(
    src: F32,
    dst: F32,
    nbr: I32,
    nf: ti.i32,
    gx: ti.f32,
    gy: ti.f32,
    gz: ti.f32,
    lp: ti.f32,
    lm: ti.f32,
    cm: ti.template(),
):
    """One stream + TRT collide + force step on the fluid voxels, two buffers src -> dst."""
    g = Vec3(gx, gy, gz)
    for n in range(nf):
        update_fluid_voxel(src, dst, nbr, n, nf, g, lp, lm, PULL, cm)


@ti.kernel
def sparse_step_aa(
    a: F32,
    nbr: I32,
    nf: ti.i32,
    gx: ti.f32,
    gy: ti.f32,
    gz: ti.f32,
    lp: ti.f32,
    lm: ti.f32,
    mode: ti.template(),
    cm: ti.template(),
):
    """One step in place on the single buffer ``a`` (``mode`` AA_EVEN or AA_ODD)."""
    g = Vec3(gx, gy, gz)
    for n in range(nf):
        update_fluid_voxel(a, a, nbr, n, nf, g, lp, lm, mode, cm)


@ti.kernel
def sparse_measure(
    src: F32,
    nbr: I32,
    nf: ti.i32,
    gx: ti.f32,
    gy: ti.f32,
    gz: ti.f32,
    partial: F64,
    mode: ti.template(),
    cm: ti.template(),
):
    """Per chunk of MEASURE_CHUNK fluid voxels: sums of j_x, j_y, j_z, max |j|^2 and the count of
    non-finite j (5 entries per chunk), j the velocity of the state in ``src`` read as a step of
    ``mode`` would read it (lattice units)."""
    g = Vec3(gx, gy, gz)
    chunks = (nf + MEASURE_CHUNK - 1) // MEASURE_CHUNK
    for c in range(chunks):
        sums = Sums(0.0)
        for n in range(c * MEASURE_CHUNK, ti.min(nf, (c + 1) * MEASURE_CHUNK)):
            j = momentum(pair_differences(load(src, nbr, n, nf, mode, cm)), g)
            sums = add_velocity(sums, j)
        store_sums(partial, c, sums)


@ti.kernel
def sparse_velocity(
    src: F32,
    nbr: I32,
    nf: ti.i32,
    gx: ti.f32,
    gy: ti.f32,
    gz: ti.f32,
    out: F32,
    mode: ti.template(),
    cm: ti.template(),
):
    """Velocity and density deviation of the fluid voxels (4 * nf, component-major: j_x, j_y,
    j_z, rho'; lattice units)."""
    g = Vec3(gx, gy, gz)
    for n in range(nf):
        h = load(src, nbr, n, nf, mode, cm)
        j = momentum(pair_differences(h), g)
        out[n] = j[0]
        out[nf + n] = j[1]
        out[2 * nf + n] = j[2]
        out[3 * nf + n] = density(h[0], pair_sums(h))
