"""Acceptance checks on binary structures (True = solid)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# 6-neighbour (face) connectivity in 3D
FACE_CONNECTIVITY = ndimage.generate_binary_structure(3, 1)


def validate_binary(volume: np.ndarray, name: str = "structure") -> np.ndarray:
    """Return ``volume`` as a bool array, or raise saying what was expected."""
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise ValueError(f"{name} must be a 3-D array (x, y, z); got shape {volume.shape}")
    if volume.dtype != bool:
        values = np.unique(volume)
        if not np.isin(values, (0, 1)).all():
            shown = ", ".join(str(v) for v in values[:5])
            raise ValueError(
                f"{name} must be binary (True/1 = solid, False/0 = pore); found values {shown}"
            )
        volume = volume.astype(bool)
    return volume


def porosity(solid: np.ndarray) -> float:
    """Pore volume fraction."""
    return 1.0 - float(np.count_nonzero(solid)) / solid.size


def percolating_axes(phase: np.ndarray) -> tuple[bool, bool, bool]:
    """Whether the True voxels of ``phase`` connect the two opposite faces, per axis.

    Face-to-face within the box (no wrap-around), 6-neighbour connectivity.
    """
    labels, count = ndimage.label(phase, structure=FACE_CONNECTIVITY)
    if count == 0:
        return (False, False, False)
    result = []
    for axis in range(3):
        lo = np.unique(np.take(labels, 0, axis=axis))
        hi = np.unique(np.take(labels, -1, axis=axis))
        shared = np.intersect1d(lo[lo > 0], hi[hi > 0], assume_unique=True)
        result.append(bool(shared.size))
    return tuple(result)


def percolating_mask(phase: np.ndarray, axis: int) -> np.ndarray:
    """The voxels of ``phase`` that belong to a cluster touching both faces normal to ``axis``."""
    labels, count = ndimage.label(phase, structure=FACE_CONNECTIVITY)
    if count == 0:
        return np.zeros_like(phase, dtype=bool)
    lo = np.unique(np.take(labels, 0, axis=axis))
    hi = np.unique(np.take(labels, -1, axis=axis))
    shared = np.intersect1d(lo[lo > 0], hi[hi > 0], assume_unique=True)
    return np.isin(labels, shared)


def pore_percolates(solid: np.ndarray) -> tuple[bool, bool, bool]:
    """Pore-phase percolation along x, y, z."""
    return percolating_axes(~solid)


def solid_percolates(solid: np.ndarray) -> tuple[bool, bool, bool]:
    """Solid-phase percolation along x, y, z."""
    return percolating_axes(solid)


def both_phases_percolate(solid: np.ndarray) -> bool:
    """The spinodoid acceptance test [R22]: pore and solid each connect all three face pairs."""
    return all(pore_percolates(solid)) and all(solid_percolates(solid))
