"""Resolution: the permeability of a volume with each voxel split into N^3, and the converged k.

At a scan's native resolution a throat is a few voxels wide and the staircase walls of the
voxels (halfway bounce-back) put the lattice's k some per cent off the continuum value; the error
shrinks as the voxel edge h shrinks, about as h^p with p near 1 for voxelised curved walls.
Splitting every voxel into N^3 (:func:`refine`; the geometry unchanged, the lattice N times
finer) and solving at two or three N gives the trend, and Richardson extrapolation

    k(h) = k_0 + C h^p,   h = 1 / N (in voxels of the volume),

gives k_0, the refinement limit. With three levels the order p is measured (the ratio of the
two differences; kept in [P_MIN, P_MAX]); with two it is assumed (``order``, default 1). The
uncertainty of k_0 is Roache's grid convergence index of the finest pair,
Fs |k_fine - k_coarse| / (r^p - 1), r the ratio of their refinements, with the safety factor
Fs = 1.25 for three levels and 3 for two (Roache 1994, J. Fluids Eng. 116, 405).

k is reported in voxel^2 of the volume as given (the refined lattice's k divided by N^2), and in
m^2 with a voxel size. Memory and work grow as N^3 (and the steps about as N): a refined run is
best started from the flow on the volume itself (``cascade=1``: the refined volume coarsened by
2 at N = 2 is the volume).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from poredesign.transport.results import PermeabilityResult

P_MIN, P_MAX = 0.5, 3.0  # orders accepted from three levels
SAFETY_THREE, SAFETY_TWO = 1.25, 3.0


def refine(solid: np.ndarray, n: int) -> np.ndarray:
    """Each voxel of ``solid`` split into n^3 equal voxels (the same geometry, n times finer)."""
    if int(n) != n or n < 1:
        raise ValueError(f"refine must be a whole number >= 1; got {n!r}")
    n = int(n)
    if n == 1:
        return solid
    out = solid
    for axis in range(3):
        out = np.repeat(out, n, axis=axis)
    return out


@dataclass
class Extrapolation:
    """k at each refinement level and the refinement limit (voxel^2 of the volume, or m^2)."""

    levels: tuple[int, ...]
    k: tuple[float, ...]
    k_limit: float  # Richardson estimate of k at infinite refinement
    uncertainty: float  # grid convergence index of the finest pair (same unit as k)
    order: float  # p in k(h) = k_0 + C h^p: measured (three levels) or assumed (two)
    order_measured: bool
    results: list[PermeabilityResult] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return dict(
            levels=list(self.levels),
            k=list(self.k),
            k_limit=self.k_limit,
            uncertainty=self.uncertainty,
            order=self.order,
            order_measured=self.order_measured,
            steps=[r.iterations for r in self.results],
            seconds=[r.wall_time for r in self.results],
        )


def richardson(levels, ks, order: float = 1.0) -> tuple[float, float, float, bool]:
    """(k_0, uncertainty, order, measured) from k at refinements ``levels`` (ascending)."""
    if len(levels) not in (2, 3) or len(ks) != len(levels):
        raise ValueError("Richardson extrapolation takes two or three refinement levels")
    if any(b <= a for a, b in zip(levels, levels[1:], strict=False)):
        raise ValueError(f"refinement levels must increase; got {list(levels)}")
    h = [1.0 / n for n in levels]
    measured = False
    if len(levels) == 3:
        d_coarse, d_fine = ks[0] - ks[1], ks[1] - ks[2]

        def mismatch(p):
            return d_coarse * (h[1] ** p - h[2] ** p) - d_fine * (h[0] ** p - h[1] ** p)

        if d_fine != 0 and d_coarse * d_fine > 0 and mismatch(P_MIN) * mismatch(P_MAX) < 0:
            order, measured = brentq(mismatch, P_MIN, P_MAX), True
    r = h[-2] / h[-1]
    delta = ks[-1] - ks[-2]
    k_limit = ks[-1] + delta / (r**order - 1.0)
    safety = SAFETY_THREE if measured else SAFETY_TWO
    uncertainty = safety * abs(delta) / (r**order - 1.0)
    return float(k_limit), float(uncertainty), float(order), measured


def extrapolate(results: dict[int, PermeabilityResult], order: float = 1.0) -> Extrapolation:
    """:class:`Extrapolation` from {refinement: result}; NaN when a level did not converge."""
    levels = tuple(sorted(results))
    ks = tuple((r.k_m2 if r.k_m2 is not None else r.k) for r in (results[n] for n in levels))
    runs = [results[n] for n in levels]
    if not all(r.ok and math.isfinite(k) for r, k in zip(runs, ks, strict=True)):
        return Extrapolation(levels, ks, math.nan, math.nan, order, False, runs)
    k_limit, uncertainty, p, measured = richardson(levels, ks, order)
    return Extrapolation(levels, ks, k_limit, uncertainty, p, measured, runs)


def permeability_extrapolated(
    solid, axes=("x", "y", "z"), levels=(1, 2), order: float = 1.0, **options
) -> dict[int, Extrapolation]:
    """{axis: :class:`Extrapolation`}: the permeability at each refinement of ``levels`` (two
    or three, ascending) and its Richardson limit with an uncertainty. ``options`` are those of
    :func:`~.flow.permeability_axes` (``refine`` excepted)."""
    from poredesign.transport.flow import permeability_axes

    levels = tuple(int(n) for n in levels)
    richardson(levels, [0.0] * len(levels))  # the levels' check, before any work
    per_level = {n: permeability_axes(solid, axes, refine=n, **options) for n in levels}
    axes_solved = per_level[levels[0]].keys()
    return {ax: extrapolate({n: per_level[n][ax] for n in levels}, order) for ax in axes_solved}
