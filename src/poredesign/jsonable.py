"""The one conversion of results to JSON-ready values (JSON files, zarr attributes)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np


def jsonable(value: Any, nan_as_none: bool = False) -> Any:
    """A JSON-ready copy of ``value``.

    Mappings become dicts with string keys, tuples and lists lists, numpy scalars and arrays and
    torch tensors Python numbers and (nested) lists, paths strings; anything else is returned as
    it is. With ``nan_as_none`` non-finite floats become ``None`` (JSON has no NaN).
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, nan_as_none) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, nan_as_none) for v in value]
    if isinstance(value, (np.generic, np.ndarray)):
        return jsonable(value.tolist(), nan_as_none)
    if hasattr(value, "detach") and hasattr(value, "tolist"):  # a torch tensor
        return jsonable(value.detach().cpu().tolist(), nan_as_none)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if nan_as_none and isinstance(value, float) and not math.isfinite(value):
        return None
    return value
