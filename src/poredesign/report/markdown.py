"""Formatting shared by the study summaries: numbers for Markdown tables, optional JSON inputs."""

from __future__ import annotations

import os
from typing import Any

from poredesign.jsonable import read_json


def fmt(values: Any, digits: int = 3) -> str:
    """A number (or a list of them) for a Markdown table: ``digits`` decimals, or significant
    digits for very small and large magnitudes; ``None`` as "n/a"."""
    if values is None:
        return "n/a"
    if isinstance(values, (list, tuple)):
        return "(" + ", ".join(fmt(v, digits) for v in values) + ")"
    if isinstance(values, float):
        return (
            f"{values:.{digits}g}"
            if abs(values) < 1e-2 or abs(values) >= 1e3
            else f"{values:.{digits}f}"
        )
    return str(values)


def read_optional_json(path: str | os.PathLike | None) -> dict[str, Any] | None:
    """The JSON at ``path`` (:func:`poredesign.jsonable.read_json`), or None when no path is
    given (an optional input)."""
    return None if path is None else read_json(path)
