"""All transport properties of one structure in one call [SPEC 2].

:func:`properties` returns porosity, effective (percolating) porosity per axis, specific surface,
and permeability k, effective diffusivity eta and tortuosity factor tau = porosity / eta along the
requested axes; values not requested are NaN with the SKIPPED flag. It is the one loop that solves
each requested property along each requested axis: the simulate stage
(:func:`~poredesign.transport.labels.label_structures`) stores its per-axis results.

Specific surface: pore-solid interface area per total volume (1/voxel; 1/m when a voxel size is
given), measured on a marching-cubes mesh of the pore phase blurred with a unit ball as in
porespy's ``tools.mesh_region``, area by porespy's ``metrics.mesh_surface_area``; unlike
``mesh_region`` the volume is treated as periodic (wrap padding, triangles counted once), so the
box faces are not counted as surface. Flat walls are measured exactly; a voxelised sphere to
within a few per cent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poredesign.transport.inputs import as_solid
from poredesign.transport.results import (
    AXES,
    DiffusivityResult,
    Flag,
    PermeabilityResult,
    axis_index,
)

QUANTITIES = ("porosity", "porosity_eff", "specific_surface", "permeability", "diffusivity")


@dataclass
class TransportProperties:
    """Properties of one structure; per-axis arrays are indexed x, y, z (NaN = not requested)."""

    porosity: float
    porosity_eff: np.ndarray  # (3,) pore fraction connected inlet to outlet (lateral wrap)
    specific_surface: float  # 1/voxel (1/m with voxel_size), NaN when not requested
    k: np.ndarray  # (3,) voxel^2 (m^2 with voxel_size)
    eta: np.ndarray  # (3,) D_eff / D
    tau: np.ndarray  # (3,) porosity / eta
    flags_k: np.ndarray  # (3,) Flag bits
    flags_eta: np.ndarray  # (3,)
    voxel_size: float | None = None
    permeability_results: dict[int, PermeabilityResult] = field(default_factory=dict, repr=False)
    diffusivity_results: dict[int, DiffusivityResult] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out = {}
        for key in ("porosity", "specific_surface", "voxel_size"):
            out[key] = getattr(self, key)
        for key in ("porosity_eff", "k", "eta", "tau", "flags_k", "flags_eta"):
            out[key] = np.asarray(getattr(self, key)).tolist()
        return out


def specific_surface(solid: np.ndarray, voxel_size: float | None = None) -> float:
    """Interface area per total volume of a periodic volume (1/voxel, or 1/m with voxel_size)."""
    import porespy as ps
    from scipy import ndimage
    from skimage.measure import marching_cubes
    from skimage.morphology import ball

    solid = as_solid(solid)
    if solid.all() or not solid.any():
        return 0.0
    strel = ball(1).astype(float)
    blurred = ndimage.convolve((~solid).astype(float), strel / strel.sum(), mode="wrap")
    pad = 1
    padded = np.pad(blurred, pad, mode="wrap")
    verts, faces, _, _ = marching_cubes(padded, level=0.5)
    centroids = verts[faces].mean(axis=1) - pad
    n = np.asarray(solid.shape)
    inside = np.all((centroids >= -0.5) & (centroids < n - 0.5), axis=1)
    area = float(ps.metrics.mesh_surface_area(verts=verts, faces=faces[inside]))
    value = area / solid.size
    return value / float(voxel_size) if voxel_size else value


def properties(
    solid,
    axes: Sequence[int | str] = ("x", "y", "z"),
    which: Sequence[str] = QUANTITIES,
    *,
    flow: Mapping[str, Any] | None = None,
    diffusion: Mapping[str, Any] | None = None,
    voxel_size: float | None = None,
    name: str = "structure",
    progress=None,
) -> TransportProperties:
    """Porosity, effective porosity, specific surface, k, eta and tau of ``solid``.

    ``axes``: transport axes (0/1/2 or 'x'/'y'/'z'); ``which``: any of
    ``porosity, porosity_eff, specific_surface, permeability, diffusivity`` (porosity is always
    computed; tau and porosity_eff come with diffusivity). ``flow`` / ``diffusion``: keyword
    options of :func:`~poredesign.transport.flow.permeability_axes` (the axes share one
    lattice set-up) / :func:`~.diffusivity`. With a
    ``voxel_size`` (m), k is in m^2 and the specific surface in 1/m. ``progress(property,
    axis)``, when given, returns the progress callback of that solve (or None).
    """
    from poredesign.transport.connectivity import spanning_mask

    solid = as_solid(solid, name)
    unknown = set(which) - set(QUANTITIES)
    if unknown:
        raise ValueError(f"unknown properties {sorted(unknown)}; allowed: {', '.join(QUANTITIES)}")
    axes = sorted({axis_index(a) for a in axes})
    nan3 = np.full(3, np.nan)
    out = TransportProperties(
        porosity=1.0 - float(solid.mean()),
        porosity_eff=nan3.copy(),
        specific_surface=math.nan,
        k=nan3.copy(),
        eta=nan3.copy(),
        tau=nan3.copy(),
        flags_k=np.full(3, int(Flag.SKIPPED)),
        flags_eta=np.full(3, int(Flag.SKIPPED)),
        voxel_size=voxel_size,
    )
    if "specific_surface" in which:
        out.specific_surface = specific_surface(solid, voxel_size)
    if "porosity_eff" in which and "diffusivity" not in which:
        for axis in axes:
            out.porosity_eff[axis] = float(spanning_mask(np.moveaxis(~solid, axis, 0), 0).mean())
    if "diffusivity" in which:
        from poredesign.transport.diffusion import diffusivity

        for axis in axes:
            report = None if progress is None else progress("diffusivity", axis)
            result = diffusivity(solid, axis, name=name, progress=report, **dict(diffusion or {}))
            out.diffusivity_results[axis] = result
            out.eta[axis], out.tau[axis] = result.eta, result.tau
            out.porosity_eff[axis] = result.porosity_eff
            out.flags_eta[axis] = int(result.flag)
    if "permeability" in which:
        from poredesign.transport.flow import permeability_axes

        def report(axis: int):
            return None if progress is None else progress("permeability", axis)

        results = permeability_axes(
            solid, axes, name=name, voxel_size=voxel_size, progress=report, **dict(flow or {})
        )
        for axis, result in results.items():
            out.permeability_results[axis] = result
            out.k[axis] = result.k if result.k_m2 is None else result.k_m2
            out.flags_k[axis] = int(result.flag)
    return out


def format_table(props: TransportProperties, axes: Sequence[int] = (0, 1, 2)) -> str:
    """A plain-text table of the per-axis properties (used by the command line)."""
    from poredesign.transport.results import flag_names

    k_unit = "m^2" if props.voxel_size else "voxel^2"
    lines = [f"porosity          {props.porosity:.6f}"]
    if math.isfinite(props.specific_surface):
        unit = "1/m" if props.voxel_size else "1/voxel"
        lines.append(f"specific surface  {props.specific_surface:.6g} {unit}")
    k_label = f"k [{k_unit}]"
    header = f"{'axis':>4}  {k_label:>14}  {'eta':>10}  {'tau':>9}  {'eps_eff':>8}  flags"
    lines += [header, "-" * len(header)]
    for axis in axes:
        flags = []
        if props.flags_k[axis] != Flag.SKIPPED:
            flags.append(f"k:{flag_names(props.flags_k[axis])}")
        if props.flags_eta[axis] != Flag.SKIPPED:
            flags.append(f"eta:{flag_names(props.flags_eta[axis])}")
        lines.append(
            f"{AXES[axis]:>4}  {props.k[axis]:>14.6g}  {props.eta[axis]:>10.6f}  "
            f"{props.tau[axis]:>9.4f}  {props.porosity_eff[axis]:>8.4f}  {' '.join(flags)}"
        )
    return "\n".join(lines)
