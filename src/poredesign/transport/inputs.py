"""Input checks shared by the transport entry points."""

from __future__ import annotations

import numpy as np


def as_solid(volume, name: str = "structure") -> np.ndarray:
    """Return ``volume`` as a C-contiguous bool (x, y, z) array, True = solid, or raise.

    Accepts anything ``numpy.asarray`` understands (numpy, zarr, torch CPU tensors). Raises
    ``ValueError`` saying what was expected for a wrong rank, an empty axis, or values other than
    0/1 (bool, integer or float arrays holding only 0 and 1 are fine).
    """
    if hasattr(volume, "detach"):  # torch tensor
        volume = volume.detach().cpu().numpy()
    array = np.asarray(volume)
    if array.ndim != 3:
        raise ValueError(
            f"{name}: expected a 3-D binary volume (x, y, z), True/1 = solid; "
            f"got an array of shape {array.shape} (rank {array.ndim})"
        )
    if min(array.shape) < 2:
        raise ValueError(f"{name}: every axis needs at least 2 voxels; got shape {array.shape}")
    if array.dtype != bool:
        if not np.issubdtype(array.dtype, np.number):
            raise ValueError(
                f"{name}: expected a binary (bool or 0/1) volume; got dtype {array.dtype}"
            )
        values = np.unique(array)
        if not np.isin(values, (0, 1)).all():
            shown = ", ".join(f"{v:g}" for v in values[:6].astype(float))
            more = ", ..." if values.size > 6 else ""
            raise ValueError(
                f"{name}: expected a binary volume (True/1 = solid, False/0 = pore); "
                f"found values {shown}{more}"
            )
        array = array.astype(bool)
    return np.ascontiguousarray(array)
