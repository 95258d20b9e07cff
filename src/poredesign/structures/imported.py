"""Import of real volumes (tomography) as binary structures (SPEC 1.4, following [Z23]).

Pipeline (:func:`import_volume`): read gray values -> Gaussian smoothing (``sigma`` voxels) ->
threshold chosen so that the porosity equals a measured porosity -> crop into cubes -> resize.
The result, like every structure here, is bool with True = solid, indexed (x, y, z).

This module composes the steps; each concern has its module, and their public names are
importable from here too:

- :mod:`.volume_io`: readers and writers of gray volumes (TIFF stacks, raw binaries, ``.npy``;
  :func:`read_volume` dispatches on the path).
- :mod:`.segment`: the pore phase (:func:`choose_pore_phase`: :func:`pore_phase_by_value` for
  segmented scans, smoothing and the porosity-matched :func:`threshold_porosity` for gray ones)
  and :func:`render_gray` (a synthetic gray scan of a structure).
- :mod:`.crop`: cubes cut from a volume (:func:`cube_origins`, :func:`crop_cubes`).
- :mod:`.resize`: resizing the cubes (:func:`~poredesign.structures.resize.resize_binary`).

The threshold is chosen on the whole volume (the measured porosity is that of the sample), before
cropping, with mirror boundaries for the smoothing (real volumes are not periodic), and cropped
cubes are resized with mirror boundaries too.
"""

from __future__ import annotations

import numpy as np

from poredesign.structures.crop import crop_cubes, cube_origins
from poredesign.structures.resize import resize_binary
from poredesign.structures.segment import (
    check_phase_options,
    choose_pore_phase,
    pore_phase_by_value,
    render_gray,
    threshold_porosity,
)
from poredesign.structures.volume_io import (
    RAW_SUFFIXES,
    TIFF_SUFFIXES,
    PathLike,
    read_npy,
    read_raw,
    read_tiff,
    read_volume,
    write_raw,
    write_tiff,
)

__all__ = [
    "RAW_SUFFIXES",
    "TIFF_SUFFIXES",
    "PathLike",
    "check_phase_options",
    "choose_pore_phase",
    "crop_cubes",
    "cube_origins",
    "import_volume",
    "pore_phase_by_value",
    "read_npy",
    "read_raw",
    "read_tiff",
    "read_volume",
    "render_gray",
    "threshold_porosity",
    "write_raw",
    "write_tiff",
]


def import_volume(
    path: PathLike | np.ndarray,
    porosity: float,
    sigma: float | None = 1.0,
    cube: int | None = 200,
    size: int | None = 128,
    pore: str = "dark",
    stride: int | None = None,
    **read_options,
) -> list[np.ndarray]:
    """Real volume -> list of bool cubes (True = solid), SPEC 1.4.

    path: a file or folder for :func:`read_volume` (``read_options``: shape, dtype, byte_order,
    offset, order for raw files), or an (x, y, z) gray array. porosity: the measured porosity the
    threshold must reproduce (whole volume). sigma: Gaussian smoothing in voxels (None/0 = off).
    cube: edge of the cubes cropped out (None = the whole volume, one item). size: edge after
    resizing (None = no resize; cubic spline, mirror boundaries, re-threshold at 0.5).
    pore: "dark" (low values are pore) or "bright".
    """
    gray = read_volume(path, **read_options) if not isinstance(path, np.ndarray) else path
    solid = threshold_porosity(gray, porosity, sigma=sigma, pore=pore)
    cubes = [solid] if cube is None else crop_cubes(solid, cube, stride)
    if size is not None:
        cubes = [resize_binary(c, size, periodic=False) for c in cubes]
    return cubes
