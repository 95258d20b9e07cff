"""A start near the steady state: the flow solved on the volume coarsened by 2, prolonged.

Why it helps
    From rest, the slowest part of the march is the pressure field over the whole box: it
    settles on the Darcy (pressure-diffusion) time L^2 nu eps / (c_s^2 k), thousands of steps on
    a scan, while the pore-scale velocity settles in tens. The coarse lattice (8x fewer voxels,
    half the box length) reaches its own steady state in a fraction of the work, and its pressure
    and velocity fields carry the box-scale part; only the pore-scale correction is left to the
    full grid. Repeated (``levels`` > 1), each coarse level starts from a coarser one.

Why k does not change
    The start only sets the initial populations. The TRT march is a linear iteration with one
    steady state for a given mass (the total mass, a uniform density offset, does not couple to
    the velocity: the scheme is linear and a uniform density at rest is itself steady), so it
    reaches the same fixed point from any start. The convergence test is that of a start from
    rest, and a started run must pass it at two checks running: from a start near the steady
    state the fast transient can die out and change sign before the slow modes (the pressure
    of poorly connected pores) show, and one check can pass too early. Measured on a 64^3 crop of
    TauFactor's volume with the coarse level converged to the fine tolerance: one passing check
    stopped at 320 steps with k 2.3 % high; its slow mode decays by 0.93 per check after that.

Prolongation (nearest coarse voxel; lattice units)
    Coarse voxel (i, j, k) covers fine voxels (f i .. f i + f - 1, ...). The coarse solution's
    permeability is about k / f^2 in coarse lattice units, so the fine velocity is
    u_f = f^2 (nu_c / g_c) (g_f / nu_f) u_c and the density deviation (a pressure, gradient ~ g)
    rho_f = f (g_f / g_c) rho_c. The populations are set to the Stokes equilibrium
    h_q = w_q (rho + 3 c_q . (u - g / 2)) (the half-force shift of the velocity moment);
    the non-equilibrium part relaxes within a few steps.

Coarsening: a coarse voxel is solid when more than half of its f^3 voxels are (ties pore, so
narrow throats stay open); a shape not divisible by f is wrapped (periodic) into the last coarse
voxel. A coarse volume without a pore path gives no start (the run starts from rest).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from poredesign.transport.lattice import D3Q19_C, D3Q19_W

log = logging.getLogger(__name__)

FACTOR = 2
MIN_COARSE_EDGE = 8  # no coarse level whose shortest edge would be below this (voxels)
COARSE_TOL_FACTOR = 10.0  # a coarse level is converged to 10x the tolerance: a start only
NODE_BLOCK = 1 << 20  # lattice nodes per block of the prolongation (float64 temporaries)


def coarsen(solid: np.ndarray, factor: int = FACTOR) -> np.ndarray:
    """The volume coarsened by ``factor`` (True = solid where more than half the voxels are)."""
    pads = [(0, (-n) % factor) for n in solid.shape]
    padded = np.pad(np.asarray(solid, dtype=bool), pads, mode="wrap")
    nx, ny, nz = (n // factor for n in padded.shape)
    counts = padded.reshape(nx, factor, ny, factor, nz, factor).sum(axis=(1, 3, 5), dtype=np.int32)
    return counts * 2 > factor**3


def can_coarsen(shape, factor: int = FACTOR) -> bool:
    return min(-(-int(n) // factor) for n in shape) >= MIN_COARSE_EDGE


@dataclass
class Start:
    """A coarse steady state (lattice units of the coarse grid) to start a finer run from."""

    velocity: np.ndarray  # (3, X, Y, Z)
    density: np.ndarray  # (X, Y, Z), rho'
    factor: int
    force: float  # g of the coarse run
    nu: float  # viscosity of the coarse run

    def apply(self, lattice, populations, force: float, nu: float) -> None:
        """Set the populations of ``lattice`` (at rest, normal form) to the prolonged state."""
        from poredesign.transport.flow_kernels import write_state

        f = self.factor
        u_scale = f * f * (self.nu / self.force) * (force / nu)
        rho_scale = f * force / self.force
        g = np.zeros(3)
        g[lattice.ax] = force
        c = np.asarray(D3Q19_C, dtype=np.float64)
        w = np.asarray(D3Q19_W, dtype=np.float64)
        limits = [n - 1 for n in self.density.shape]
        for start in range(0, lattice.nodes, NODE_BLOCK):
            count = min(NODE_BLOCK, lattice.nodes - start)
            x, y, z = (
                np.minimum(coord // f, limit)
                for coord, limit in zip(lattice.node_coordinates(start, count), limits, strict=True)
            )
            u = self.velocity[:, x, y, z].T.astype(np.float64) * u_scale
            rho = self.density[x, y, z].astype(np.float64) * rho_scale
            h = w * (rho[:, None] + 3.0 * (u - 0.5 * g) @ c.T)
            write_state(populations, lattice.nodes, start, h.astype(np.float32), lattice.cell_major)


def coarse_starts(solid: np.ndarray, axes, levels: int, solve_axes, tol: float):
    """Starts for ``axes`` from the flow on ``solid`` coarsened by FACTOR (itself started from
    ``levels - 1`` coarser levels): ({axis: Start}, {axis: [(shape, steps, seconds), ...]}).
    ``solve_axes(coarse, axes, cascade=..., tol=...)`` solves a coarse level (same options as
    the fine run otherwise) and returns {axis: PermeabilityResult} with velocity and density."""
    if levels <= 0 or not can_coarsen(solid.shape):
        return {}, {}
    coarse = coarsen(solid)
    results = solve_axes(coarse, axes, cascade=levels - 1, tol=tol * COARSE_TOL_FACTOR)
    starts, record = {}, {}
    for axis, r in results.items():
        record[axis] = [*r.cascade, (tuple(coarse.shape), r.iterations, round(r.wall_time, 3))]
        if r.ok and r.velocity is not None and r.density is not None:
            nu = (r.relaxation_time - 0.5) / 3.0
            starts[axis] = Start(r.velocity, r.density, FACTOR, r.force, nu)
        else:
            log.info("coarse level %s, axis %s: %s; from rest", coarse.shape, axis, r.message)
    return starts, record
