"""The one conversion of results to JSON-ready values (JSON files, zarr attributes), and the one
atomic writer of result JSON files, and their reader."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
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


def write_json(path: str | os.PathLike, value: Any, indent: int = 2) -> Path:
    """Write ``value`` as JSON (non-finite numbers as null) through a temporary file and a rename,
    so a killed job never leaves a half-written file; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(jsonable(value, nan_as_none=True), indent=indent) + "\n")
    os.replace(tmp, path)
    return path


def read_json(path: str | os.PathLike) -> Any:
    """The value of the JSON file at ``path``."""
    with open(path) as fh:
        return json.load(fh)
