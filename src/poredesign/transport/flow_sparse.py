"""Pore-only (sparse) storage for the D3Q19 TRT flow solver: the lattice of the fluid voxels.

:class:`SparseLattice` has the interface of :class:`~.flow_dense.DenseLattice` (``step``,
``measure``, ``fields``, ``restart``, ``buf.src`` / ``buf.dst``), so
:class:`~.flow.FlowSolver` runs the same march (force, magic parameter, convergence control,
two-step velocity average) on it; it is chosen by ``storage="sparse"`` (or ``"auto"``) in
:func:`~.flow.permeability`.

Only the voxels of the prepared domain that carry flow (closed pores filled, extrusions reduced
by :meth:`~.flow.FlowSolver._prepare`) are stored: their dense indices (int32), a neighbour table
(int32, for each of the 18 moving directions the fluid number of ``x - c_q``, -1 for a solid
voxel: a halfway bounce-back link) and one population buffer updated in place by the AA pattern
(:mod:`.flow_sparse_kernels`). Bytes per pore voxel:

    populations 19 x 4 B + neighbours 18 x 4 B + index 4 B = 152 B (AA, one buffer),
    228 B with the two-buffer pull pattern (``pattern="pull"``),

against 156 B per voxel, solid included, for the dense lattice (``DENSE_BYTES_PER_VOXEL``):
below the dense memory for porosity < 1.03 (AA), 40 % of it at porosity 0.41. The mean velocity
is the superficial mean over all voxels (the fluid sum divided by the total voxel count), as in
the dense lattice.
"""

from __future__ import annotations

import numpy as np

from poredesign.transport import backend
from poredesign.transport.lattice import D3Q19_C

Q = 19
NQ = Q - 1
# bytes of lattice state per pore voxel: populations, neighbour table, dense index
SPARSE_BYTES_PER_PORE_VOXEL = {
    "aa": Q * 4 + NQ * 4 + 4,  # 152 B: one in-place population buffer
    "pull": 2 * Q * 4 + NQ * 4 + 4,  # 228 B: two population buffers
}
AUTO_SPARSE_POROSITY = 0.5  # storage="auto" is sparse at or below this porosity
STORAGES = ("dense", "sparse", "auto")
# Taichi indexes an ndarray with int32: the dense lattice's 19 populations per voxel cap it at
# 113 M voxels (about 483^3), the sparse one's at 113 M pore voxels
MAX_LATTICE_NODES = (2**31 - 1) // Q


NEIGHBOUR_BLOCK = 1 << 22  # fluid voxels per block of the neighbour table built on the host
# while the lattice is built (:func:`neighbour_blocks`): the fluid number of every voxel (int32)
# and one block of the neighbour table with its int64 coordinates
SETUP_BYTES_PER_VOXEL = 4
SETUP_BYTES_PER_BLOCK_VOXEL = 128


def sparse_lattice_bytes(solid: np.ndarray, pattern: str = "aa", peak: bool = False) -> int:
    """Memory of the sparse lattice state (bytes) for the domain ``solid`` (True = solid); with
    ``peak``, during its set-up: the state plus SETUP_BYTES_PER_VOXEL per voxel and one block of
    the neighbour table (the table goes up block by block; measured at 500^3, porosity 0.3:
    5.70 GB of state, 7.53 GB peak RSS with the TIFF and the connectivity, 8.55 GB when the whole
    table was built on the host first)."""
    nf = int(np.count_nonzero(~solid))
    state = SPARSE_BYTES_PER_PORE_VOXEL[pattern] * nf
    if not peak:
        return state
    block = min(nf, NEIGHBOUR_BLOCK) * SETUP_BYTES_PER_BLOCK_VOXEL
    return state + SETUP_BYTES_PER_VOXEL * int(solid.size) + block


def resolve_storage(storage: str, solid: np.ndarray) -> str:
    """``"dense"`` or ``"sparse"``: ``"auto"`` is sparse when the porosity of the prepared domain
    ``solid`` is at most AUTO_SPARSE_POROSITY or when the volume has more voxels than a dense
    lattice can index (MAX_LATTICE_NODES). Raises ValueError for ``"dense"`` on such a volume."""
    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {STORAGES}; got {storage!r}")
    too_big = solid.size > MAX_LATTICE_NODES
    if storage == "auto":
        porosity = 1.0 - float(np.count_nonzero(solid)) / solid.size
        return "sparse" if porosity <= AUTO_SPARSE_POROSITY or too_big else "dense"
    if storage == "dense" and too_big:
        raise ValueError(
            f"the dense flow lattice holds at most {MAX_LATTICE_NODES:,} voxels (19 populations"
            f" each in one int32-indexed array); {tuple(int(n) for n in solid.shape)} has"
            f" {solid.size:,}: use storage 'sparse' or 'auto' (pore voxels only) or a crop"
        )
    return storage


def lattice_limit_error(solid: np.ndarray, storage: str, copies: int = 1) -> str | None:
    """Why ``solid`` (True = solid; ``copies`` x along the axis when mirrored) cannot be solved,
    before any work: more pore voxels than the sparse lattice can index, or more voxels than the
    dense one can (storage ``"dense"``); None when it can. The message states the memory such a
    lattice would need (SPARSE_BYTES_PER_PORE_VOXEL per pore voxel)."""
    pores = copies * int(solid.size - np.count_nonzero(solid))
    if storage == "dense" and copies * solid.size > MAX_LATTICE_NODES:
        return None  # resolve_storage names this case
    if pores <= MAX_LATTICE_NODES:
        return None
    need = SPARSE_BYTES_PER_PORE_VOXEL["aa"] * pores + SETUP_BYTES_PER_VOXEL * copies * solid.size
    return (
        f"{pores:,} pore voxels: the flow lattice holds at most {MAX_LATTICE_NODES:,} (Taichi"
        f" indexes an array with 32-bit integers and each pore voxel has 19 populations); it"
        f" would need about {need / 1e9:.1f} GB ({SPARSE_BYTES_PER_PORE_VOXEL['aa']} B per pore"
        f" voxel): solve a crop (--crop) or a coarser volume"
    )


def fluid_numbers(solid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(number, index): the fluid number of every voxel (int32, -1 where solid; flat, C order)
    and the dense index of each fluid voxel (int32, ascending)."""
    fluid = ~np.ascontiguousarray(solid, dtype=bool).ravel()
    nf = int(np.count_nonzero(fluid))
    if nf > MAX_LATTICE_NODES:
        raise ValueError(
            f"{nf:,} pore voxels: the sparse flow lattice holds at most {MAX_LATTICE_NODES:,}"
            f" (19 populations each in one int32-indexed array); solve a crop"
        )
    number = np.full(fluid.size, -1, dtype=np.int32)
    number[fluid] = np.arange(nf, dtype=np.int32)
    return number, np.flatnonzero(fluid).astype(np.int32)


def neighbour_blocks(shape: tuple[int, int, int], number: np.ndarray, index: np.ndarray):
    """The neighbour table in blocks of NEIGHBOUR_BLOCK fluid voxels: yields (first fluid number,
    table) with table int32 (n, 18), the fluid number of the voxel ``x - c_q`` (periodic) for
    q = 1..18, -1 where it is solid. Blocks bound the host memory (72 B per voxel of a block)
    for large scans."""
    nx, ny, nz = shape
    for start in range(0, index.size, NEIGHBOUR_BLOCK):
        block = index[start : start + NEIGHBOUR_BLOCK].astype(np.int64)
        x, y, z = np.unravel_index(block, shape)
        table = np.empty((x.size, NQ), dtype=np.int32)
        for q in range(1, Q):
            cx, cy, cz = D3Q19_C[q]
            upstream = (((x - cx) % nx) * ny + (y - cy) % ny) * nz + (z - cz) % nz
            table[:, q - 1] = number[upstream]
        yield start, table


class _SparseBuffers:
    """The Taichi arrays of one sparse run; ``src`` and ``dst`` are the same array with AA."""

    def __init__(self, nf: int, pattern: str):
        import taichi as ti

        self.src = ti.ndarray(ti.f32, Q * nf)
        self.dst = self.src if pattern == "aa" else ti.ndarray(ti.f32, Q * nf)
        self.nbr = ti.ndarray(ti.i32, NQ * nf)
        from poredesign.transport.flow_sparse_kernels import MEASURE_CHUNK

        self.partial = ti.ndarray(ti.f64, 5 * max(1, -(-nf // MEASURE_CHUNK)))


class SparseLattice:
    """The fluid-voxel arrays and kernels of one run (D3Q19, float32, lattice units).

    ``solid``: the prepared domain (True = solid); ``axis``: flow axis; ``g``: body force along
    it (lattice units); ``pattern``: ``"aa"`` (one buffer, in place, default) or ``"pull"`` (two
    buffers, as the dense step).
    """

    def __init__(
        self,
        solid: np.ndarray,
        axis: int,
        g: float,
        device_request: str = "auto",
        threads: int | None = None,
        pattern: str = "aa",
    ):
        if pattern not in SPARSE_BYTES_PER_PORE_VOXEL:
            raise ValueError(f"pattern must be 'aa' or 'pull'; got {pattern!r}")
        self.device = backend.ensure_backend(device_request, threads)
        from poredesign.transport import flow_kernels as fk
        from poredesign.transport import flow_sparse_kernels as sk

        self.fk, self.sk = fk, sk
        self.cell_major = fk.cell_major(self.device)
        self.pattern = pattern
        self.shape = tuple(solid.shape)
        self.ax = axis
        self.nv = int(solid.size)
        number, index = fluid_numbers(solid)
        self.index = index  # host copy: only the velocity field needs it
        self.nf = nf = int(index.size)
        self.bytes_per_pore_voxel = SPARSE_BYTES_PER_PORE_VOXEL[pattern]
        self.buf = buf = _SparseBuffers(nf, pattern)
        # the neighbour table goes up block by block: never whole on the host beside the device
        for start, table in neighbour_blocks(self.shape, number, index):
            if self.cell_major:
                sk.upload_block(buf.nbr, np.ascontiguousarray(table).ravel(), start * NQ)
            else:
                for q in range(NQ):
                    sk.upload_block(buf.nbr, np.ascontiguousarray(table[:, q]), q * nf + start)
        fk.fill_zero(buf.src)
        if buf.dst is not buf.src:
            fk.fill_zero(buf.dst)
        gvec = [0.0, 0.0, 0.0]
        gvec[axis] = g
        self.gvec = gvec
        self.parity = 0  # AA: steps taken mod 2; the next step is even when 0

    def _mode(self) -> int:
        """Streaming mode of the next step."""
        sk = self.sk
        if self.pattern == "pull":
            return sk.PULL
        return sk.AA_EVEN if self.parity == 0 else sk.AA_ODD

    def step(self, a, b, lp: float, lm: float) -> None:
        """One fused stream + collide + force step, ``a`` -> ``b`` (in place on ``a`` with AA)."""
        buf, sk = self.buf, self.sk
        if self.pattern == "pull":
            sk.sparse_step_pull(a, b, buf.nbr, self.nf, *self.gvec, lp, lm, self.cell_major)
        else:
            sk.sparse_step_aa(
                a, buf.nbr, self.nf, *self.gvec, lp, lm, self._mode(), self.cell_major
            )
            self.parity ^= 1

    def measure(self, arr) -> tuple[float, float, bool]:
        """Superficial mean velocity along the axis (the fluid sum over all ``nv`` voxels,
        lattice units), the largest lattice Mach number |u| / c_s and whether any velocity is not
        finite."""
        buf = self.buf
        self.sk.sparse_measure(
            arr, buf.nbr, self.nf, *self.gvec, buf.partial, self._mode(), self.cell_major
        )
        return self.fk.reduce_measurement(buf.partial.to_numpy(), self.ax, self.nv)

    def restart(self, axis: int, g: float) -> None:
        """Back to rest with the force ``g`` along ``axis``: the next run on the same domain
        (another axis of the tensor) reuses the fluid index and the neighbour table."""
        self.fk.fill_zero(self.buf.src)
        if self.buf.dst is not self.buf.src:
            self.fk.fill_zero(self.buf.dst)
        self.ax = axis
        self.gvec = [g if a == axis else 0.0 for a in range(3)]
        self.parity = 0

    @property
    def nodes(self) -> int:
        """Lattice nodes (fluid voxels) holding populations."""
        return self.nf

    def node_coordinates(self, start: int, count: int) -> tuple[np.ndarray, ...]:
        """(x, y, z) of the lattice nodes ``start .. start + count``."""
        return np.unravel_index(self.index[start : start + count].astype(np.int64), self.shape)

    def fields(self, arr) -> tuple[np.ndarray, np.ndarray]:
        """Velocity (3, x, y, z) and density deviation rho' (x, y, z) of the state ``arr``
        (lattice units; 0 in solid)."""
        import taichi as ti

        out = ti.ndarray(ti.f32, 4 * self.nf)
        self.sk.sparse_velocity(
            arr, self.buf.nbr, self.nf, *self.gvec, out, self._mode(), self.cell_major
        )
        fluid = out.to_numpy().reshape(4, self.nf)
        field = np.zeros((4, self.nv), dtype=np.float32)
        field[:, self.index] = fluid
        field = field.reshape(4, *self.shape)
        return field[:3], field[3]

    def velocity(self, arr) -> np.ndarray:
        """Velocity field (3, x, y, z) of the state ``arr`` (lattice units; 0 in solid)."""
        return self.fields(arr)[0]
