"""Periodic neighbour offsets, population indices and pull streaming with halfway bounce-back.

Shared by the D3Q19 flow and D3Q7 diffusion kernels (Taichi ``ti.func``s, inlined into the one
fused kernel that calls them).

Grid
    Voxel index ``i = (x * ny + y) * nz + z`` (z fastest), periodic in x, y and z. The offsets to
    the six face neighbours of a voxel are kept in an integer 6-vector
    ``(x - 1, x + 1, y - 1, y + 1, z - 1, z + 1)``, each already multiplied by its stride, so the
    neighbour ``x - c`` of a lattice direction ``c`` is ``i`` plus at most three of them.

Populations
    ``nv * Q`` values in one flat array: cell-major ``i * Q + q`` (the Q populations of a voxel
    contiguous: one base register, the CPU layout) or direction-major ``q * nv + i`` (neighbouring
    voxels contiguous per direction: coalesced on a GPU).

Streaming (pull) with halfway bounce-back
    ``h_q(x) = src_q(x - c_q)``, or, when bit q of the voxel's wall bits says the link to
    ``x - c_q`` is a wall, ``h_q(x) = src_{opp(q)}(x)``: the population that left x towards the
    wall one step ago comes back reversed, which puts the wall midway between the two voxel
    centres.
"""

import os

os.environ.setdefault("ENABLE_TAICHI_HEADER_PRINT", "False")

import taichi as ti  # noqa: E402

OffsetVector = ti.types.vector(6, ti.i32)


@ti.func
def offset_down(i: ti.i32, n: ti.i32, stride: ti.i32) -> ti.i32:
    """Offset from index ``i`` to ``i - 1`` (periodic in ``n``), times ``stride``."""
    return -stride if i > 0 else (n - 1) * stride


@ti.func
def offset_up(i: ti.i32, n: ti.i32, stride: ti.i32) -> ti.i32:
    """Offset from index ``i`` to ``i + 1`` (periodic in ``n``), times ``stride``."""
    return stride if i < n - 1 else -(n - 1) * stride


@ti.func
def neighbour_offsets(
    x: ti.i32, y: ti.i32, z: ti.i32, nx: ti.i32, ny: ti.i32, nz: ti.i32
) -> OffsetVector:
    """The six face-neighbour offsets of voxel (x, y, z) (see the module docstring)."""
    sx = ny * nz
    return OffsetVector(
        offset_down(x, nx, sx),
        offset_up(x, nx, sx),
        offset_down(y, ny, nz),
        offset_up(y, ny, nz),
        offset_down(z, nz, 1),
        offset_up(z, nz, 1),
    )


@ti.func
def row_voxel_offsets(
    xm: ti.i32, xp: ti.i32, ym: ti.i32, yp: ti.i32, z: ti.i32, nz: ti.i32
) -> OffsetVector:
    """The offsets of voxel z of a row whose x and y offsets were computed once per row.

    Row-parallel kernels keep those four as scalars across their z loop: a vector carried across
    the loop stayed in memory and cost 5 % of the flow step's speed on the CPU.
    """
    return OffsetVector(xm, xp, ym, yp, offset_down(z, nz, 1), offset_up(z, nz, 1))


@ti.func
def population_index(
    q: ti.template(), i: ti.i32, nv: ti.i32, q_count: ti.template(), cell_major: ti.template()
) -> ti.i32:
    """Index of population ``q`` of voxel ``i`` (of ``nv``, ``q_count`` directions per voxel):
    cell-major or direction-major."""
    index = 0
    if ti.static(cell_major):
        index = i * q_count + q
    else:
        index = q * nv + i
    return index


def make_pull_bounce_back(c: tuple, opp: tuple, dtype):
    """A ``ti.func`` ``pull(src, i, walls, nv, offsets, cell_major) -> h`` for the lattice with
    directions ``c`` and opposites ``opp``: the populations of voxel ``i`` after streaming with
    halfway bounce-back, as a ``len(c)``-vector of ``dtype``. ``walls`` is a u32 whose bit q
    (q >= 1) marks the link to ``x - c_q`` as a wall; ``offsets`` from :func:`neighbour_offsets`.
    """
    q_count = len(c)

    @ti.func
    def pull_bounce_back(
        src: ti.template(),
        i: ti.i32,
        walls: ti.u32,
        nv: ti.i32,
        offsets: OffsetVector,
        cell_major: ti.template(),
    ):
        h = ti.Vector([0.0] * q_count, dt=dtype)
        h[0] = src[population_index(0, i, nv, q_count, cell_major)]
        for q in ti.static(range(1, q_count)):
            # neighbour x - c_q: per axis, the offset opposite to c_q's component
            off = 0
            for a in ti.static(range(3)):
                if ti.static(c[q][a] == 1):
                    off += offsets[2 * a]
                if ti.static(c[q][a] == -1):
                    off += offsets[2 * a + 1]
            pulled = src[population_index(q, i + off, nv, q_count, cell_major)]
            bounced = src[population_index(opp[q], i, nv, q_count, cell_major)]
            h[q] = bounced if (walls & ti.u32(1 << q)) != 0 else pulled
        return h

    return pull_bounce_back
