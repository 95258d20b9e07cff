"""Pore-space connectivity for the transport problems (6-neighbour, periodic).

The labelling and the spanning test are :mod:`poredesign.structures.checks`' (one implementation
for the generators' acceptance test and the solvers); here they are used with the transport
problems' boundaries: periodic laterally (diffusion, :func:`spanning_mask` with its default
``periodic=True``) or in all directions (flow, :func:`winding_mask`), so clusters that connect
only through a periodic boundary count as connected.
"""

from __future__ import annotations

import numpy as np

from poredesign.structures.checks import FACE_CONNECTIVITY, periodic_labels, spanning_mask

__all__ = ["FACE_CONNECTIVITY", "periodic_labels", "spanning_mask", "winding_mask"]


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
