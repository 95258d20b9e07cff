"""Input check shared by the transport entry points (the binary check of
:func:`poredesign.structures.checks.validate_binary`, with the solvers' minimum size)."""

from __future__ import annotations

import numpy as np

from poredesign.structures.checks import validate_binary


def as_solid(volume, name: str = "structure") -> np.ndarray:
    """Return ``volume`` as a C-contiguous bool (x, y, z) array, True = solid, or raise.

    As :func:`~poredesign.structures.checks.validate_binary`; the solvers also need at least 2
    voxels along every axis. Raises ``ValueError`` naming ``name`` and what was wrong.
    """
    return validate_binary(volume, name, min_size=2)
