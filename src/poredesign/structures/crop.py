"""Cropping of real volumes into cubes (SPEC 1.4): where the cubes sit and the cubes themselves.

Resizing the cubes is :mod:`poredesign.structures.resize`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def cube_origins(
    shape: Sequence[int], cube: int, stride: int | None = None
) -> list[tuple[int, int, int]]:
    """Corners of the cubes of edge ``cube`` that fit in ``shape``, every ``stride`` voxels
    (default ``cube``: non-overlapping), starting at the origin, x slowest."""
    stride = cube if stride is None else int(stride)
    if int(cube) != cube or cube < 1 or stride < 1:
        raise ValueError(
            f"cube edge and stride must be positive integers; got cube={cube!r}, stride={stride!r}"
        )
    if any(s < cube for s in shape):
        raise ValueError(f"a volume of shape {tuple(shape)} is smaller than one {cube}^3 cube")
    ranges = [range(0, s - cube + 1, stride) for s in shape]
    return [(i, j, k) for i in ranges[0] for j in ranges[1] for k in ranges[2]]


def crop_cubes(volume: np.ndarray, cube: int, stride: int | None = None) -> list[np.ndarray]:
    """Cubes of edge ``cube`` cut from ``volume`` (copies), as placed by :func:`cube_origins`;
    voxels beyond the last whole cube are left out."""
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise ValueError(f"crop_cubes needs a 3-D array; got shape {volume.shape}")
    return [
        volume[i : i + cube, j : j + cube, k : k + cube].copy()
        for i, j, k in cube_origins(volume.shape, cube, stride)
    ]
