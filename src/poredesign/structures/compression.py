"""Uniaxial compression of a foam volume along z with the lateral faces constrained ([A25]'s foam).

[A25] scans an open-cell foam at 0, 15, 25, 35 and 50 % compressive strain (bottom face fixed,
lateral faces constrained, displacement on the top face). No such scans are reachable here, so the
compression is modelled on a volume (synthetic or imported) by :func:`compress_z`.

The model: an affine squeeze along z that conserves the solid volume.

- Kinematics. With the lateral faces constrained and a foam's Poisson ratio near zero in its
  collapse regime, the specimen keeps its (x, y) extent and its height shrinks to (1 - strain):
  every point moves as z -> (1 - strain) z. The volume becomes (nx, ny, round(nz (1 - strain)))
  voxels of the *same* voxel size (a scan of the compressed specimen at the same resolution).
- Mass. The foam's polymer is far stiffer in bulk than the foam and nearly incompressible: the
  volume lost is pore volume, not solid. So the solid voxel count is kept exactly, and the
  porosity follows in closed form, phi(strain) = 1 - (1 - phi_0) / (1 - strain)
  (:func:`compressed_porosity`).
  Full density is reached at strain = phi_0; strains at or beyond it are refused.
- Shape. The solid's signed distance (positive inside the solid, in voxels) is resampled
  along z (linear interpolation), and the solid voxel count of the input is taken as the voxels of
  largest distance (ties broken by position, so the result is deterministic): struts and walls are
  moved together along z and thickened evenly where the squeeze alone would have thinned them. At
  strain 0 this returns the input unchanged.

What it does to the pore space: pores (and their chords) shorten along z by (1 - strain) while
their lateral extent changes only by the thickening, so the pore space becomes anisotropic with
k_z < k_x ~ k_y; porosity and permeability fall with the strain. A real foam does not deform
affinely: struts bend and buckle and cells collapse in bands (the stress plateau), so local
strains scatter about the applied one. The model keeps the mean kinematics and the conserved
solid, not the collapse bands; it is a stand-in for the scans, stated as such in the study.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: strains the transform accepts: [0, MAX_STRAIN) (beyond that almost nothing of the height is left)
MAX_STRAIN = 0.9


def check_strain(strain: float, name: str = "strain") -> float:
    """``strain`` as a float, refused (ValueError naming ``name``) outside [0, 0.9)."""
    try:
        value = float(strain)
    except (TypeError, ValueError):
        allowed = f"allowed: 0 <= strain < {MAX_STRAIN}"
        raise ValueError(f"{name}: {strain!r} is not a number; {allowed}") from None
    if not 0.0 <= value < MAX_STRAIN:
        raise ValueError(f"{name}: {strain!r} outside the allowed 0 <= strain < {MAX_STRAIN}")
    return value


def compressed_height(nz: int, strain: float) -> int:
    """Voxels along z of an ``nz``-voxel volume compressed by ``strain`` (at least one)."""
    return max(1, int(round(int(nz) * (1.0 - check_strain(strain)))))


def compressed_porosity(porosity: float, strain: float) -> float:
    """Porosity after compression at conserved solid volume: 1 - (1 - porosity) / (1 - strain).
    Negative when the strain exceeds the porosity (beyond full density)."""
    return 1.0 - (1.0 - float(porosity)) / (1.0 - check_strain(strain))


def _signed_distance(solid: np.ndarray) -> np.ndarray:
    """Distance to the other phase in voxels: positive in the solid (>= 1), negative in the pore
    (<= -1); the faces of the box are not an interface."""
    inside = ndimage.distance_transform_edt(solid)
    outside = ndimage.distance_transform_edt(~solid)
    return (inside - outside).astype(np.float32)


def compress_z(solid: np.ndarray, strain: float, name: str = "volume") -> np.ndarray:
    """``solid`` (bool (nx, ny, nz), True = solid, indexed x, y, z) compressed along z by ``strain``
    with the lateral faces constrained: shape (nx, ny, :func:`compressed_height`), the same solid
    voxel count (model in the module docstring). Refused for strains outside [0, 0.9) and where the
    solid would not fit (strain at or beyond the porosity: full density)."""
    strain = check_strain(strain, f"{name}: strain")
    solid = np.asarray(solid)
    if solid.ndim != 3 or solid.dtype != bool:
        raise ValueError(
            f"{name}: compression needs a bool volume (nx, ny, nz); got {solid.dtype} {solid.shape}"
        )
    nx, ny, nz = solid.shape
    height = compressed_height(nz, strain)
    n_solid = int(np.count_nonzero(solid))
    if n_solid > nx * ny * height:
        porosity = 1.0 - n_solid / solid.size
        raise ValueError(
            f"{name}: strain {strain} compresses a volume of porosity {porosity:.3f} beyond full "
            f"density; allowed: strain < porosity"
        )
    if height == nz:
        return solid.copy()
    distance = _signed_distance(solid)
    # sample z' = (z + 0.5) * nz / height - 0.5: cell centres of the squeezed grid, voxel centred
    zs = (np.arange(height) + 0.5) * (nz / height) - 0.5
    lo = np.clip(np.floor(zs).astype(int), 0, nz - 1)
    hi = np.clip(lo + 1, 0, nz - 1)
    w = np.clip(zs - lo, 0.0, 1.0).astype(np.float32)
    squeezed = distance[:, :, lo] * (1 - w) + distance[:, :, hi] * w
    # the n_solid largest distances (stable order: ties by position) are the solid
    order = np.argsort(-squeezed.ravel(), kind="stable")
    out = np.zeros(squeezed.size, dtype=bool)
    out[order[:n_solid]] = True
    return out.reshape(nx, ny, height)


__all__ = [
    "MAX_STRAIN",
    "check_strain",
    "compress_z",
    "compressed_height",
    "compressed_porosity",
]
