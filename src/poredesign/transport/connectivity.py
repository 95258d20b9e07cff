"""Pore-space connectivity for the transport problems (6-neighbour, optionally periodic).

:func:`poredesign.structures.percolating_mask` tests face-to-face connection inside the box. The
transport problems are periodic laterally (diffusion) or in all directions (flow), so clusters
that connect only through a periodic boundary count as connected here.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

FACE_CONNECTIVITY = ndimage.generate_binary_structure(3, 1)


def periodic_labels(phase: np.ndarray, periodic_axes: Iterable[int]) -> tuple[np.ndarray, int]:
    """Label the True voxels of ``phase`` (6-connected), joining clusters across periodic faces.

    Returns (labels, count) like :func:`scipy.ndimage.label`: labels 1..count, 0 = background.
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


def spanning_mask(pore: np.ndarray, axis: int) -> np.ndarray:
    """Pore voxels of clusters touching both faces normal to ``axis``, periodic laterally.

    This is the pore space that carries diffusive flux between an inlet plane (index 0) and an
    outlet plane (index N - 1) when the lateral boundaries are periodic.
    """
    lateral = [a for a in range(3) if a != axis]
    labels, count = periodic_labels(pore, lateral)
    if count == 0:
        return np.zeros(pore.shape, dtype=bool)
    lo = np.unique(np.take(labels, 0, axis=axis))
    hi = np.unique(np.take(labels, -1, axis=axis))
    shared = np.intersect1d(lo[lo > 0], hi[hi > 0], assume_unique=True)
    if shared.size == 0:
        return np.zeros(pore.shape, dtype=bool)
    keep = np.zeros(count + 1, dtype=bool)
    keep[shared] = True
    return keep[labels]


def winding_mask(pore: np.ndarray, axis: int) -> np.ndarray:
    """Pore voxels of fully periodic clusters that reach every layer along ``axis``.

    Only such clusters can carry a net periodic flow along ``axis``; every other cluster is closed
    in the periodic domain and holds fluid at rest in the steady state.
    """
    labels, count = periodic_labels(pore, range(3))
    if count == 0:
        return np.zeros(pore.shape, dtype=bool)
    n_layers = pore.shape[axis]
    layers_touched = np.zeros(count + 1, dtype=np.int64)
    for layer in range(n_layers):
        present = np.unique(np.take(labels, layer, axis=axis))
        layers_touched[present] += 1
    keep = layers_touched == n_layers
    keep[0] = False
    return keep[labels]
