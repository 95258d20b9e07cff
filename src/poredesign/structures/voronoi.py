"""Voronoi-edge membranes [Z23] (SPEC 1.2).

``n_points`` seeds are drawn uniformly in the periodic box [0, n)^3 (voxel i has its centre at
coordinate i). The tessellation is built in the metric

    d^2 = (e_x dx)^2 + (e_y dy)^2 + (e_z dz)^2,

i.e. it is the ordinary Voronoi tessellation of the seeds after the coordinates are scaled by
e = (e_x, e_y, e_z), mapped back to voxel space. A smaller e_i shrinks distances along i, so cells,
and the struts that bound them, are elongated along i (by about 1/e_i).

Exact construction, not a voxel approximation:

1. Periodic images of the seeds within a margin of the box (2.5 mean seed spacings in the metric;
   all 26 neighbour images if that does not suffice) are scaled by e and triangulated
   (``scipy.spatial.Delaunay``, qhull). Voronoi vertices are the circumcentres of the Delaunay
   tetrahedra, Voronoi edges (struts: the lines where three or more cells meet) join the
   circumcentres of tetrahedra sharing a triangle; both are mapped back to voxel space.
2. Proof that the result is the periodic tessellation, checked on every call: a tetrahedron whose
   circumsphere lies inside the imaged region is empty of *all* periodic seed images (every image
   left out lies outside that region), so it is a true periodic Delaunay tetrahedron; an edge
   between two true vertices is true (the circumspheres along an edge form a pencil, each inside
   the union of the end spheres). Each periodic class is kept once: vertices with the circumcentre
   in [0, n)^3, edges with the midpoint there. The kept vertices must all be true and their
   tetrahedra must fill the torus (volumes sum to n^3 e_x e_y e_z), so every class is present; the
   kept edges must all be true and number exactly twice the vertices (each tetrahedron has four
   triangles, each shared by two), so every edge class is present once. Failing that with all 26
   neighbour images (cells comparable to the box: a handful of seeds), a ValueError says so.
3. Solid = voxels whose centre lies within the strut radius ``r`` of an edge, with the distance
   measured in voxel space (round struts of radius r whatever the stretch). Each edge is painted as
   a capsule (cylinder with hemispherical caps) with periodic wrap-around, by a numba kernel that
   visits the bounding box of each capsule: exact point-to-segment distances.

Optional post-processing, in this order:

- spheres (``spheres=SphereOptions(...)`` or a dict of its fields): ``count`` balls with
  log-normal radii (median ``median_radius``, log-standard deviation ``sigma``). Choice (Z23 leaves
  it open): by default they are *solid* and centred on randomly chosen Voronoi vertices, modelling
  the thickened nodes where struts meet in open-cell membranes, so they stay attached to the strut
  network; ``phase="pore"`` carves them out instead, and ``centres="random"`` places them
  uniformly in the box. Periodic like the struts.
- smoothing (``smooth_sigma``): Gaussian filter of the 0/1 volume with periodic boundaries, then
  re-threshold at 0.5 (rounds off the strut junctions and the voxel staircase; keeps the volume of
  smooth, thick features, thins struts slightly).

The structure is periodic in x, y and z. The same seed gives identical bytes (all random draws come
from one numpy Generator). The kernel is serial (one core per structure; parallel workers are
processes), compiled once and cached by numba next to this file (a few seconds on first use).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
from scipy import ndimage
from scipy.spatial import Delaunay

from poredesign.structures.checks import pore_percolates, solid_percolates
from poredesign.structures.checks import porosity as _porosity
from poredesign.structures.resize import binarise, resize_binary
from poredesign.structures.spinodoid import SeedLike, _as_rng

_SHIFTS = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=np.float64)


# --------------------------------------------------------------------------------------------
# geometry


@dataclass(frozen=True)
class VoronoiEdges:
    """The periodic Voronoi edge network in voxel coordinates.

    ``segments`` (m, 2, 3): one representative per periodic class of edges (midpoint in [0, n)^3);
    ``vertices`` (k, 3): Voronoi vertices inside [0, n)^3 (one per periodic class).
    """

    n: int
    segments: np.ndarray
    vertices: np.ndarray


def _check_stretch(stretch: Sequence[float]) -> np.ndarray:
    e = np.asarray(stretch, dtype=np.float64).reshape(-1)
    if e.shape != (3,) or not np.all(np.isfinite(e)) or np.any(e <= 0):
        raise ValueError(
            f"voronoi stretch must be three positive numbers (e_x, e_y, e_z); got {stretch!r}"
        )
    return e


def _circumcentres(points: np.ndarray, simplices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Circumcentres (t, 3) and circumradii (t,) of tetrahedra (inf for flat ones)."""
    p0 = points[simplices[:, 0]]
    a, b, c = (points[simplices[:, k]] - p0 for k in (1, 2, 3))
    bc, ca, ab = np.cross(b, c), np.cross(c, a), np.cross(a, b)
    det = np.einsum("ti,ti->t", a, bc)
    num = (
        np.einsum("ti,ti->t", a, a)[:, None] * bc
        + np.einsum("ti,ti->t", b, b)[:, None] * ca
        + np.einsum("ti,ti->t", c, c)[:, None] * ab
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = num / (2.0 * det[:, None])
    rel[~np.isfinite(rel)] = np.inf
    return p0 + rel, np.linalg.norm(rel, axis=1)


class _IncompleteTessellation(Exception):
    pass


def _edges_with_margin(
    n: int, seeds: np.ndarray, e: np.ndarray, margin: np.ndarray
) -> VoronoiEdges:
    """Periodic Voronoi edges from the periodic images of ``seeds`` within ``margin`` (voxels, per
    axis) of the box; raises _IncompleteTessellation when the margin cannot prove the result."""
    images = (seeds[None, :, :] + _SHIFTS[:, None, :] * n).reshape(-1, 3)
    images = images[np.all((images >= -margin) & (images < n + margin), axis=1)]
    if len(images) < 5:
        raise _IncompleteTessellation
    scaled = images * e
    tri = Delaunay(scaled, qhull_options="Qbb Qc Qz Q12")
    centres, radii = _circumcentres(scaled, tri.simplices)
    # a circumsphere inside the imaged region (metric space) is empty of *all* periodic seeds,
    # since every seed image missing from the set lies outside that region
    lo, hi = -margin * e, (n + margin) * e
    with np.errstate(invalid="ignore"):  # flat tetrahedra: inf - inf
        low, high = centres - radii[:, None], centres + radii[:, None]
        genuine = np.all((low >= lo) & (high <= hi), axis=1)
    phys = centres / e
    in_box = np.all((phys >= 0) & (phys < n), axis=1)
    if not genuine[in_box].all():
        raise _IncompleteTessellation
    # every periodic class of Delaunay tetrahedra (Voronoi vertices) found exactly once: their
    # volumes fill the torus
    box_simplices = tri.simplices[in_box]
    rel = scaled[box_simplices[:, 1:]] - scaled[box_simplices[:, :1]]
    volume = np.abs(np.linalg.det(rel)).sum() / 6.0
    if not np.isclose(volume, n**3 * np.prod(e), rtol=1e-10, atol=0.0):
        raise _IncompleteTessellation
    # Voronoi edges = Delaunay triangles = pairs of neighbouring tetrahedra
    t = np.repeat(np.arange(len(tri.simplices)), 4)
    nb = tri.neighbors.ravel()
    pairs = np.stack([t, nb], axis=1)[nb > t]
    a, b = phys[pairs[:, 0]], phys[pairs[:, 1]]
    mid = 0.5 * (a + b)
    keep = np.all((mid >= 0) & (mid < n), axis=1)
    pairs, a, b = pairs[keep], a[keep], b[keep]
    # edges between two genuine vertices are genuine (pencil of spheres); there are exactly two
    # edge classes per vertex class (every tetrahedron has four triangles, each shared by two)
    if not genuine[pairs].all() or len(pairs) != 2 * int(in_box.sum()):
        raise _IncompleteTessellation
    return VoronoiEdges(n=int(n), segments=np.stack([a, b], axis=1), vertices=phys[in_box])


def voronoi_edges(
    n: int, seeds: np.ndarray, stretch: Sequence[float] = (1.0, 1.0, 1.0), margin: float = 2.5
) -> VoronoiEdges:
    """Edges of the periodic Voronoi tessellation of ``seeds`` (k, 3) in the box [0, n)^3 under the
    metric scaled by ``stretch``. See the module docstring for the construction and its proof.

    ``margin``: periodic seed images within ``margin`` mean seed spacings (metric) of the box are
    triangulated; if that cannot be proven complete, all 26 neighbour images are used; if that
    fails too (cells comparable to the box), a ValueError is raised.
    """
    e = _check_stretch(stretch)
    seeds = np.asarray(seeds, dtype=np.float64)
    if seeds.ndim != 2 or seeds.shape[1] != 3 or len(seeds) < 1:
        raise ValueError(f"seeds must be an array of shape (k, 3); got shape {seeds.shape}")
    seeds = np.mod(seeds, n)
    spacing = (np.prod(e) * float(n) ** 3 / len(seeds)) ** (1.0 / 3.0)  # metric units
    margins = [np.minimum(margin * spacing / e, n)] if margin * spacing / e.max() < n else []
    for m in [*margins, np.full(3, float(n))]:
        try:
            return _edges_with_margin(int(n), seeds, e, m)
        except _IncompleteTessellation:
            continue
    raise ValueError(
        f"voronoi: {len(seeds)} seeds are too few for a periodic tessellation of a {n}^3 box "
        f"with stretch {tuple(float(v) for v in e)} (cells comparable to the box); use more seeds"
    )


# --------------------------------------------------------------------------------------------
# rasterisation


@numba.njit(cache=True, nogil=True)
def _paint_capsules(out, a, b, radius, value):  # pragma: no cover - compiled
    """Set out[i % n, j % n, k % n] = value for every voxel centre within radius[s] of segment
    a[s]-b[s] (periodic wrap). Segments may be degenerate (a == b: a ball)."""
    nx, ny, nz = out.shape
    for s in range(a.shape[0]):
        ax, ay, az = a[s, 0], a[s, 1], a[s, 2]
        dx, dy, dz = b[s, 0] - ax, b[s, 1] - ay, b[s, 2] - az
        length2 = dx * dx + dy * dy + dz * dz
        r = radius[s]
        r2 = r * r
        x0 = int(np.ceil(min(ax, ax + dx) - r))
        x1 = int(np.floor(max(ax, ax + dx) + r))
        y0 = int(np.ceil(min(ay, ay + dy) - r))
        y1 = int(np.floor(max(ay, ay + dy) + r))
        z0 = int(np.ceil(min(az, az + dz) - r))
        z1 = int(np.floor(max(az, az + dz) + r))
        for i in range(x0, x1 + 1):
            px = i - ax
            ii = i % nx
            for j in range(y0, y1 + 1):
                py = j - ay
                jj = j % ny
                for k in range(z0, z1 + 1):
                    pz = k - az
                    t = 0.0
                    if length2 > 0.0:
                        t = (px * dx + py * dy + pz * dz) / length2
                        if t < 0.0:
                            t = 0.0
                        elif t > 1.0:
                            t = 1.0
                    qx = px - t * dx
                    qy = py - t * dy
                    qz = pz - t * dz
                    if qx * qx + qy * qy + qz * qz <= r2:
                        out[ii, jj, k % nz] = value


def paint_capsules(
    out: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float | np.ndarray, value: bool = True
) -> np.ndarray:
    """Paint capsules (segments a[s]-b[s] of radius radius[s]) into the bool volume ``out`` in
    place, periodically; voxel (i, j, k) has its centre at (i, j, k). Returns ``out``."""
    # fresh writable C arrays: one compiled signature whatever the caller passes
    a = np.array(a, dtype=np.float64, order="C").reshape(-1, 3)
    b = np.array(b, dtype=np.float64, order="C").reshape(-1, 3)
    radius = np.array(np.broadcast_to(np.asarray(radius, np.float64), (len(a),)), order="C")
    if b.shape != a.shape:
        raise ValueError(
            f"paint_capsules: a and b must have the same shape; got {a.shape}, {b.shape}"
        )
    if out.dtype != bool or out.ndim != 3 or not out.flags.c_contiguous:
        raise ValueError("paint_capsules needs a C-contiguous 3-D bool array")
    if len(a):
        _paint_capsules(out, a, b, radius, bool(value))
    return out


# --------------------------------------------------------------------------------------------
# spheres


@dataclass(frozen=True)
class SphereOptions:
    """Log-normal spheres added after the struts (see the module docstring).

    count: number of spheres; median_radius: exp(mu) of the log-normal radius, voxels;
    sigma: standard deviation of log(radius); phase: "solid" (added) or "pore" (carved);
    centres: "vertices" (random Voronoi vertices, without replacement while they last) or "random"
    (uniform in the box).
    """

    count: int = 0
    median_radius: float = 4.0
    sigma: float = 0.25
    phase: str = "solid"
    centres: str = "vertices"

    def __post_init__(self):
        if self.count < 0 or int(self.count) != self.count:
            raise ValueError(f"spheres.count must be an integer >= 0; got {self.count!r}")
        if not self.median_radius > 0 or not self.sigma >= 0:
            raise ValueError(
                f"spheres need median_radius > 0 and sigma >= 0; got {self.median_radius!r}, "
                f"{self.sigma!r}"
            )
        if self.phase not in ("solid", "pore"):
            raise ValueError(f"spheres.phase must be 'solid' or 'pore'; got {self.phase!r}")
        if self.centres not in ("vertices", "random"):
            raise ValueError(
                f"spheres.centres must be 'vertices' or 'random'; got {self.centres!r}"
            )


def _sphere_options(spheres: SphereOptions | Mapping[str, Any] | None) -> SphereOptions | None:
    if spheres is None or isinstance(spheres, SphereOptions):
        return spheres
    unknown = set(spheres) - set(SphereOptions.__dataclass_fields__)
    if unknown:
        raise ValueError(
            f"unknown sphere option(s) {sorted(unknown)}; allowed: "
            f"{sorted(SphereOptions.__dataclass_fields__)}"
        )
    return SphereOptions(**spheres)


# --------------------------------------------------------------------------------------------
# generator


def _check_params(n: int, n_points: int, radius: float) -> None:
    if int(n) != n or n < 4:
        raise ValueError(f"voronoi size n must be an integer >= 4; got {n!r}")
    if int(n_points) != n_points or n_points < 1:
        raise ValueError(f"voronoi n_points must be an integer >= 1; got {n_points!r}")
    if not np.isfinite(radius) or radius <= 0:
        raise ValueError(f"voronoi radius must be a positive number of voxels; got {radius!r}")


def voronoi_membrane(
    n: int,
    n_points: int,
    radius: float,
    stretch: Sequence[float] = (1.0, 1.0, 1.0),
    seed: SeedLike = None,
    smooth_sigma: float | None = None,
    spheres: SphereOptions | Mapping[str, Any] | None = None,
) -> np.ndarray:
    """One Voronoi-edge membrane, bool (n, n, n), True = solid (struts), periodic in x, y, z.

    Parameters
    ----------
    n: edge length in voxels (200 in [Z23]).
    n_points: number of Voronoi seeds, uniform in the box.
    radius: strut (stanchion) radius r in voxels; solid = within r of an edge.
    stretch: (e_x, e_y, e_z), metric scale factors; smaller e_i elongates cells along i.
    seed: int, SeedSequence or numpy Generator; the same seed gives identical bytes.
    smooth_sigma: Gaussian sigma in voxels (periodic) before re-thresholding at 0.5; None = off.
    spheres: :class:`SphereOptions` or a dict of its fields; None = off.
    """
    _check_params(n, n_points, radius)
    e = _check_stretch(stretch)
    sphere_opts = _sphere_options(spheres)
    rng = _as_rng(seed)
    seeds = rng.uniform(0.0, n, size=(int(n_points), 3))
    edges = voronoi_edges(n, seeds, e)

    solid = np.zeros((n, n, n), dtype=bool)
    paint_capsules(solid, edges.segments[:, 0], edges.segments[:, 1], radius)

    if sphere_opts is not None and sphere_opts.count > 0:
        count = int(sphere_opts.count)
        if sphere_opts.centres == "vertices" and len(edges.vertices):
            idx = rng.permutation(len(edges.vertices))
            idx = np.resize(idx, count)  # wraps around when there are fewer vertices than spheres
            centres = edges.vertices[idx]
        else:
            centres = rng.uniform(0.0, n, size=(count, 3))
        radii = sphere_opts.median_radius * np.exp(sphere_opts.sigma * rng.standard_normal(count))
        paint_capsules(solid, centres, centres, radii, value=sphere_opts.phase == "solid")

    if smooth_sigma:
        smooth = ndimage.gaussian_filter(solid.astype(np.float32), float(smooth_sigma), mode="wrap")
        solid = binarise(smooth)
    return solid


# --------------------------------------------------------------------------------------------
# dataset sampler


@dataclass(frozen=True)
class VoronoiSampler:
    """SPEC 1.2 dataset distribution [Z23].

    n_points ~ U{n_points_range} (inclusive); radius fixed (voxels at ``generation_size``);
    ``stretched_axes`` distinct axes, chosen at random, get independent e ~ U[stretch_range], the
    others e = 1 (1 = the paper's first set, 2 = its second). The tessellation is rasterised at
    ``generation_size`` and resized to ``size`` (cubic spline, re-threshold at 0.5; SPEC 1.2).

    Parameters recorded: (n_points, radius, e_x, e_y, e_z, porosity); porosity is measured on the
    final structure and written into the parameter vector by :meth:`build` (the vector returned by
    :meth:`draw_params` carries NaN there until then).

    Acceptance (choice; Z23 states none): the pore phase connects opposite faces along x, y and z
    (6-connectivity), as the transport simulations need a through-going pore space in every
    direction. The strut network is connected by construction; ``require_solid_percolation`` adds
    the same test for the solid phase (struts can break when thin struts are resized).
    """

    size: int = 128
    generation_size: int = 200
    n_points_range: tuple[int, int] = (40, 170)
    radius: float = 3.4
    stretch_range: tuple[float, float] = (0.5, 1.0)
    stretched_axes: int = 1
    smooth_sigma: float | None = None
    spheres: Mapping[str, Any] | None = None
    require_solid_percolation: bool = False
    param_names: tuple[str, ...] = field(
        default=("n_points", "radius", "e_x", "e_y", "e_z", "porosity"), init=False
    )

    def __post_init__(self):
        lo, hi = self.n_points_range
        if not 1 <= lo <= hi:
            raise ValueError(
                f"voronoi n_points_range must satisfy 1 <= lo <= hi; got {self.n_points_range!r}"
            )
        elo, ehi = self.stretch_range
        if not 0 < elo <= ehi:
            raise ValueError(
                f"voronoi stretch_range must satisfy 0 < lo <= hi; got {self.stretch_range!r}"
            )
        if self.stretched_axes not in (0, 1, 2, 3):
            raise ValueError(
                f"voronoi stretched_axes must be 0, 1, 2 or 3; got {self.stretched_axes!r}"
            )
        _check_params(self.generation_size, lo, self.radius)
        _sphere_options(self.spheres)

    def draw_params(self, rng: np.random.Generator) -> np.ndarray:
        n_points = int(rng.integers(self.n_points_range[0], self.n_points_range[1] + 1))
        e = np.ones(3)
        axes = rng.permutation(3)[: self.stretched_axes]
        e[axes] = rng.uniform(*self.stretch_range, size=len(axes))
        return np.array([n_points, self.radius, *e, np.nan])

    def build(self, params: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        solid = voronoi_membrane(
            self.generation_size,
            int(params[0]),
            float(params[1]),
            params[2:5],
            seed=rng,
            smooth_sigma=self.smooth_sigma,
            spheres=self.spheres,
        )
        if self.size != self.generation_size:
            solid = resize_binary(solid, self.size, periodic=True)
        params[5] = _porosity(solid)
        return solid

    def accept(self, solid: np.ndarray) -> bool:
        if not all(pore_percolates(solid)):
            return False
        return not self.require_solid_percolation or all(solid_percolates(solid))
