"""Checks on binary structures (True = solid, indexed x, y, z): the one binary-input check,
porosity, and the one connectivity labelling (6-neighbour, optionally joined across periodic
faces).

:func:`validate_binary` is the input check every entry point uses (structure generators, the
transport solvers through :func:`poredesign.transport.inputs.as_solid`, the command line).

:func:`spanning_mask` is the connectivity that both the generators' acceptance test and the
transport solvers use: ``periodic=False`` tests face-to-face connection inside the box (the
spinodoid acceptance test [R22]); ``periodic=True`` joins clusters through the lateral faces, as
the transport problems' lateral boundaries are periodic (SPEC 2.2).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

log = logging.getLogger(__name__)

# 6-neighbour (face) connectivity in 3D
FACE_CONNECTIVITY = ndimage.generate_binary_structure(3, 1)


def validate_binary(
    volume,
    name: str = "structure",
    *,
    min_size: int = 1,
    two_values: bool = False,
) -> np.ndarray:
    """Return ``volume`` as a C-contiguous bool (x, y, z) array, True = solid, or raise.

    Accepts anything ``numpy.asarray`` understands (numpy, zarr, torch CPU tensors); bool, integer
    or float arrays holding only 0 and 1 are fine. With ``two_values``, a volume holding exactly
    two other values (e.g. 0/255 from a TIFF) is read as pore = the lower, solid = the higher.
    Raises ``ValueError`` naming ``name`` and what was wrong: the rank, an axis shorter than
    ``min_size`` voxels, a non-numeric dtype, or values other than 0/1.
    """
    if hasattr(volume, "detach"):  # torch tensor
        volume = volume.detach().cpu().numpy()
    array = np.asarray(volume)
    if array.ndim != 3:
        raise ValueError(
            f"{name}: expected a 3-D binary volume (x, y, z), True/1 = solid; "
            f"got an array of shape {array.shape} (rank {array.ndim})"
        )
    if min(array.shape) < min_size:
        raise ValueError(
            f"{name}: every axis needs at least {min_size} voxel{'s' * (min_size > 1)}; "
            f"got shape {array.shape}"
        )
    if array.dtype != bool:
        if not np.issubdtype(array.dtype, np.number):
            raise ValueError(
                f"{name}: expected a binary (bool or 0/1) volume; got dtype {array.dtype}"
            )
        values = np.unique(array)
        binary = np.isin(values, (0, 1)).all()
        if two_values and values.size == 2 and not binary:
            log.info("%s: two values %s read as pore/solid", name, values)
            array = array == values[1]
        elif not binary:
            shown = ", ".join(f"{v:g}" for v in values[:6].astype(float))
            more = ", ..." if values.size > 6 else ""
            raise ValueError(
                f"{name}: expected a binary volume (True/1 = solid, False/0 = pore); "
                f"found values {shown}{more}"
            )
        else:
            array = array.astype(bool)
    return np.ascontiguousarray(array)


def porosity(solid: np.ndarray) -> float:
    """Pore volume fraction."""
    return 1.0 - float(np.count_nonzero(solid)) / solid.size


def periodic_labels(phase: np.ndarray, periodic_axes: Iterable[int] = ()) -> tuple[np.ndarray, int]:
    """Label the True voxels of ``phase`` (6-connected), joining clusters across periodic faces.

    Returns (labels, count) like :func:`scipy.ndimage.label`: labels 1..count, 0 = background.
    Without ``periodic_axes`` this is exactly :func:`scipy.ndimage.label`.
    """
    labels, count = ndimage.label(phase, structure=FACE_CONNECTIVITY)
    if count == 0:
        return labels, 0
    pairs = []
    for axis in periodic_axes:
        lo = np.take(labels, 0, axis=axis)
        hi = np.take(labels, -1, axis=axis)
        both = (lo > 0) & (hi > 0)
        if both.any():
            pairs.append(np.stack([lo[both], hi[both]], axis=1))
    if not pairs:
        return labels, count
    edges = np.unique(np.concatenate(pairs), axis=0)
    graph = coo_matrix(
        (np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])),
        shape=(count + 1, count + 1),
    )
    n_comp, comp = connected_components(graph, directed=False)
    # comp[0] is the background's own component; renumber the others 1..m
    comp = comp.astype(np.int64)
    keys = np.unique(comp[1:])
    remap = np.zeros(n_comp, dtype=np.int64)
    remap[keys] = np.arange(1, len(keys) + 1)
    lut = remap[comp]
    lut[0] = 0
    return lut[labels].astype(labels.dtype, copy=False), len(keys)


def _spanning_labels(labels: np.ndarray, axis: int) -> np.ndarray:
    """The labels (> 0) present on both faces normal to ``axis``."""
    lo = np.unique(np.take(labels, 0, axis=axis))
    hi = np.unique(np.take(labels, -1, axis=axis))
    return np.intersect1d(lo[lo > 0], hi[hi > 0], assume_unique=True)


def spanning_mask(phase: np.ndarray, axis: int, periodic: bool = True) -> np.ndarray:
    """The True voxels of ``phase`` in clusters touching both faces normal to ``axis``.

    ``periodic=True`` (the transport problems): clusters joined through the two lateral faces
    count as one, so this is the pore space carrying diffusive flux between an inlet plane
    (index 0) and an outlet plane (index N - 1) with periodic lateral boundaries.
    ``periodic=False``: face-to-face connection inside the box (no wrap-around).
    """
    lateral = [a for a in range(3) if a != axis] if periodic else []
    labels, count = periodic_labels(phase, lateral)
    keep = np.zeros(count + 1, dtype=bool)
    keep[_spanning_labels(labels, axis)] = True
    return keep[labels]


def percolating_mask(phase: np.ndarray, axis: int) -> np.ndarray:
    """The voxels of ``phase`` in a cluster touching both faces normal to ``axis`` (no wrap)."""
    return spanning_mask(phase, axis, periodic=False)


def percolating_axes(phase: np.ndarray) -> tuple[bool, bool, bool]:
    """Whether the True voxels of ``phase`` connect the two opposite faces, per axis.

    Face-to-face within the box (no wrap-around), 6-neighbour connectivity.
    """
    labels, _ = periodic_labels(phase)  # one labelling serves all three axes without wrap
    return tuple(bool(_spanning_labels(labels, axis).size) for axis in range(3))


def pore_percolates(solid: np.ndarray) -> tuple[bool, bool, bool]:
    """Pore-phase percolation along x, y, z."""
    return percolating_axes(~solid)


def solid_percolates(solid: np.ndarray) -> tuple[bool, bool, bool]:
    """Solid-phase percolation along x, y, z."""
    return percolating_axes(solid)


def both_phases_percolate(solid: np.ndarray) -> bool:
    """The spinodoid acceptance test [R22]: pore and solid each connect all three face pairs."""
    return all(pore_percolates(solid)) and all(solid_percolates(solid))
