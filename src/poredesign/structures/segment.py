"""Segmentation of real volumes: the pore phase of a gray or segmented scan (SPEC 1.4, [Z23]).

The result, like every structure here, is bool with True = solid, indexed (x, y, z).

Pore phase (:func:`choose_pore_phase`): exactly one of two rules. Binary (segmented) scans give
``pore_value``: pore = voxels equal to it, everything else solid (:func:`pore_phase_by_value`), so a
0/255 TIFF whose 255 voxels are pore is read the right way round. Gray scans give the measured
``porosity``: Gaussian smoothing, then :func:`threshold_porosity`.

Thresholding (:func:`threshold_porosity`): pore = low gray values ("dark", as in absorption
tomography of a polymer or metal with empty pores) unless ``pore="bright"``. With k = round(eps N)
the threshold T is the k-th smallest (smoothed) value, and pore = values below T or below-or-equal
T, whichever count is closer to k; after smoothing the values are practically tie-free and the
porosity is met to a voxel. Unsmoothed integer images can have many voxels at T; then the
porosity cannot be met exactly without splitting ties arbitrarily, which would scatter noise, so
the closer of the two is taken and a warning is issued when it misses by more than 0.5
percentage points. The threshold is chosen on the whole volume (the measured porosity is that of
the sample), before cropping, with mirror boundaries for the smoothing (real volumes are not
periodic), and cropped cubes are resized with mirror boundaries too.

:func:`render_gray` goes the other way (a structure to a synthetic gray scan, blurred and noisy),
to test the segmentation and the import pipeline.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from scipy import ndimage

from poredesign.structures.volume_io import check_gray

log = logging.getLogger(__name__)


def threshold_porosity(
    gray: np.ndarray, porosity: float, sigma: float | None = None, pore: str = "dark"
) -> np.ndarray:
    """Binary structure (True = solid) from gray values, with the threshold chosen so that the pore
    fraction equals ``porosity``; optional Gaussian smoothing first (``sigma`` voxels, mirror
    boundaries). ``pore="dark"``: pores are the low values; ``"bright"``: the high ones."""
    gray = check_gray(gray, "gray volume")
    if not 0.0 <= porosity <= 1.0:
        raise ValueError(f"porosity must lie in [0, 1]; got {porosity!r}")
    if pore not in ("dark", "bright"):
        raise ValueError(f"pore must be 'dark' (low gray values) or 'bright'; got {pore!r}")
    values = gray.astype(np.float32)
    if not np.isfinite(values).all():
        raise ValueError("gray volume contains NaN or infinite values")
    if sigma:
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0 voxels; got {sigma!r}")
        values = ndimage.gaussian_filter(values, float(sigma), mode="reflect")
    if pore == "bright":
        values = np.negative(values, out=values)
    size = values.size
    k = int(round(porosity * size))
    if k <= 0:
        return np.ones(gray.shape, dtype=bool)
    if k >= size:
        return np.zeros(gray.shape, dtype=bool)
    threshold = np.partition(values.ravel(), k)[k]
    below = values < threshold
    n_below = int(np.count_nonzero(below))
    n_at = int(np.count_nonzero(values == threshold))
    if abs(n_below + n_at - k) < abs(n_below - k):
        pore_mask = values <= threshold
        achieved = (n_below + n_at) / size
    else:
        pore_mask = below
        achieved = n_below / size
    if abs(achieved - porosity) > 0.005:
        warnings.warn(
            f"porosity {achieved:.4f} instead of {porosity:.4f}: {n_at} voxels share the threshold "
            f"gray value; smooth first (sigma > 0) to break the ties",
            stacklevel=2,
        )
    log.info("threshold %.6g gives porosity %.5f (target %.5f)", threshold, achieved, porosity)
    return ~pore_mask


def pore_phase_by_value(volume: np.ndarray, pore_value: float, name: str = "volume") -> np.ndarray:
    """Binary structure (True = solid) from a segmented volume: pore = voxels equal to
    ``pore_value``, solid = every other value. Raises ``ValueError`` naming ``name`` when no voxel
    holds ``pore_value`` (a wrong value would otherwise give an all-solid volume and eta = 0)."""
    volume = check_gray(volume, name)
    if not np.isfinite(pore_value):
        raise ValueError(f"{name}: pore_value must be a finite number; got {pore_value!r}")
    pore_mask = volume == pore_value
    levels = np.unique(volume)
    if levels.size > 2 and pore_mask.any():
        log.warning(
            "%s: %d distinct gray values, not a segmented (two-valued) scan: pore_value %g reads "
            "the %.2f %% of voxels equal to it as pore and every other value as solid; for a gray "
            "scan give the measured porosity instead",
            name,
            levels.size,
            pore_value,
            100.0 * np.count_nonzero(pore_mask) / pore_mask.size,
        )
    if not pore_mask.any():
        values = np.unique(volume)
        shown = ", ".join(f"{v:g}" for v in values[:8]) + (", ..." if len(values) > 8 else "")
        raise ValueError(
            f"{name}: no voxel equals pore_value {pore_value:g}; the volume holds {shown}"
        )
    return ~pore_mask


def check_not_blank(volume: np.ndarray, name: str = "volume") -> None:
    """A ``ValueError`` naming ``name`` when every voxel holds one value (a blank or failed
    export): it has no pore phase to find, and would be read as all pore or all solid."""
    volume = np.asarray(volume)
    if volume.size and volume.min() == volume.max():
        raise ValueError(
            f"{name}: every voxel holds the value {volume.flat[0]:g}: a blank volume (one phase "
            f"only) has no pore space to choose; check the file or its export"
        )


def check_phase_options(name: str, pore_value: float | None, porosity: float | None) -> None:
    """Exactly one of ``pore_value`` and ``porosity``; otherwise a ``ValueError`` naming ``name``
    (the scan) and saying which was given."""
    if (pore_value is None) == (porosity is None):
        given = "both" if pore_value is not None else "neither"
        raise ValueError(
            f"{name}: give exactly one of pore_value (the gray value of pore voxels, for "
            f"segmented scans) and porosity (the measured porosity the threshold reproduces, for "
            f"gray scans); {given} given"
        )


def choose_pore_phase(
    gray: np.ndarray,
    *,
    pore_value: float | None = None,
    porosity: float | None = None,
    sigma: float | None = 1.0,
    pore: str = "dark",
    name: str = "volume",
) -> np.ndarray:
    """Binary structure (True = solid) from a scan by exactly one of two rules (SPEC 1.4):
    ``pore_value`` (segmented scans: pore = voxels equal to it; ``sigma`` and ``pore`` unused) or
    ``porosity`` (gray scans: smoothing by ``sigma`` voxels, then the threshold that reproduces the
    measured porosity, pore = ``"dark"`` or ``"bright"`` values). Both or neither is an error
    naming ``name``."""
    check_phase_options(name, pore_value, porosity)
    check_not_blank(gray, name)
    if pore_value is not None:
        return pore_phase_by_value(gray, pore_value, name)
    try:
        return threshold_porosity(gray, porosity, sigma=sigma, pore=pore)
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from err


def render_gray(
    solid: np.ndarray,
    blur_sigma: float = 1.0,
    noise: float = 0.1,
    seed: int | np.random.Generator | None = 0,
    values: tuple[float, float] = (60.0, 190.0),
    dtype: np.dtype | type = np.uint8,
) -> np.ndarray:
    """A synthetic gray scan of a bool structure (True = solid), to test an import pipeline.

    values: gray values of (pore, solid) before blur and noise; the default renders pores dark, as
    in absorption tomography; swap them for bright pores. blur_sigma: Gaussian point-spread sigma
    in voxels (mirror boundaries; 0 = none). noise: standard deviation of added Gaussian noise as
    a fraction of the contrast ``|solid - pore|``. seed: the noise stream. dtype: integer dtypes
    are rounded and clipped to their range.
    """
    solid = np.asarray(solid)
    if solid.ndim != 3 or solid.dtype != bool:
        raise ValueError(
            f"render_gray needs a 3-D bool structure; got {solid.dtype} of shape {solid.shape}"
        )
    if blur_sigma < 0 or noise < 0:
        raise ValueError(f"blur_sigma and noise must be >= 0; got {blur_sigma!r}, {noise!r}")
    pore_gray, solid_gray = (float(v) for v in values)
    gray = np.where(solid, solid_gray, pore_gray).astype(np.float32)
    if blur_sigma:
        gray = ndimage.gaussian_filter(gray, float(blur_sigma), mode="reflect")
    if noise:
        rng = np.random.default_rng(seed)
        contrast = abs(solid_gray - pore_gray)
        gray += (noise * contrast * rng.standard_normal(gray.shape)).astype(np.float32)
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        gray = np.clip(np.rint(gray), info.min, info.max)
    return gray.astype(dtype)
