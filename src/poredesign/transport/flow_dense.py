"""The dense storage of the D3Q19 TRT flow solver: every voxel of the box, solid included.

:class:`DenseLattice` holds two float32 population buffers (pull streaming, src -> dst) and the
uint32 neighbour mask of :func:`~.flow_kernels.neighbour_mask`, 156 B per voxel
(DENSE_BYTES_PER_VOXEL); :class:`DenseBuffers` are the Taichi arrays of one grid size, kept by
:class:`~.flow.FlowSolver` for the next structure of the same size. The pore-only storage is
:mod:`.flow_sparse`; both have the interface the march of :mod:`.flow` uses (``step``,
``measure``, ``fields``, ``restart``, ``nodes``, ``node_coordinates``).
"""

from __future__ import annotations

import numpy as np

from poredesign.transport import backend

Q = 19


# bytes per voxel of the dense lattice: two float32 population buffers and the uint32 mask
DENSE_BYTES_PER_VOXEL = 2 * Q * 4 + 4


def dense_lattice_bytes(shape) -> int:
    """Memory of the dense D3Q19 arrays for a volume of ``shape`` (solid voxels included)."""
    return DENSE_BYTES_PER_VOXEL * int(np.prod(shape))


class DenseBuffers:
    """Taichi arrays for one grid size, reused for a batch of equal-sized structures."""

    def __init__(self, shape: tuple[int, int, int]):
        import taichi as ti

        self.shape = shape
        self.generation = backend.generation()
        nv = int(np.prod(shape))
        self.src = ti.ndarray(ti.f32, Q * nv)
        self.dst = ti.ndarray(ti.f32, Q * nv)
        self.mask = ti.ndarray(ti.u32, nv)
        self.partial = ti.ndarray(ti.f64, 5 * shape[0] * shape[1])

    def valid_for(self, shape) -> bool:
        return self.shape == tuple(shape) and self.generation == backend.generation()


class DenseLattice:
    """The Taichi arrays and kernels of one run: D3Q19 populations (float32, lattice units), the
    neighbour mask and the body force vector."""

    def __init__(self, solver, run, g: float):
        self.device = backend.ensure_backend(solver.device_request, solver.threads)
        from poredesign.transport import flow_kernels as fk

        self.fk = fk
        self._step = fk.step_kernel(self.device)
        self.cell_major = fk.cell_major(self.device)
        solid = run.solid
        self.shape = solid.shape
        self.ax = run.ax
        self.buf = buf = solver._buffers_for(self.shape)
        self.dims = tuple(self.shape)
        gvec = [0.0, 0.0, 0.0]
        gvec[run.ax] = g
        self.gvec = gvec
        buf.mask.from_numpy(fk.neighbour_mask(solid))
        fk.fill_zero(buf.src)
        fk.fill_zero(buf.dst)
        self.nv = solid.size

    def step(self, a, b, lp: float, lm: float) -> None:
        """One fused stream + collide + force step, populations ``a`` -> ``b``."""
        self._step(a, b, self.buf.mask, *self.dims, *self.gvec, lp, lm)

    def measure(self, arr) -> tuple[float, float, bool]:
        """Mean velocity along the axis over the whole domain (superficial, lattice units), the
        largest lattice Mach number |u| / c_s, and whether any velocity is not finite."""
        buf = self.buf
        self.fk.flow_measure(arr, buf.mask, *self.dims, *self.gvec, buf.partial, self.cell_major)
        return self.fk.reduce_measurement(buf.partial.to_numpy(), self.ax, self.nv)

    def restart(self, axis: int, g: float) -> None:
        """Back to rest with the force ``g`` along ``axis`` (the mask is kept: same domain)."""
        self.fk.fill_zero(self.buf.src)
        self.fk.fill_zero(self.buf.dst)
        self.ax = axis
        self.gvec = [g if a == axis else 0.0 for a in range(3)]

    @property
    def nodes(self) -> int:
        """Lattice nodes holding populations (every voxel)."""
        return self.nv

    def node_coordinates(self, start: int, count: int) -> tuple[np.ndarray, ...]:
        """(x, y, z) of the lattice nodes ``start .. start + count``."""
        return np.unravel_index(np.arange(start, start + count, dtype=np.int64), self.shape)

    def fields(self, arr) -> tuple[np.ndarray, np.ndarray]:
        """Velocity (3, x, y, z) and density deviation rho' (x, y, z) of the populations ``arr``
        (lattice units; 0 in solid)."""
        import taichi as ti

        out = ti.ndarray(ti.f32, 4 * self.nv)
        self.fk.flow_velocity_field(
            arr, self.buf.mask, *self.dims, *self.gvec, out, self.cell_major
        )
        field = out.to_numpy().reshape(4, *self.shape)
        return field[:3], field[3]

    def velocity(self, arr) -> np.ndarray:
        """Velocity field (3, x, y, z) of the populations ``arr`` (lattice units; 0 in solid)."""
        return self.fields(arr)[0]
