"""Formatting shared by the study summaries: numbers for Markdown tables, optional JSON inputs."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
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


def r2_warnings(scores: Mapping[str, Any]) -> list[str]:
    """One warning line per R^2 of ``scores`` (what -> value) below 0, for beside its table: a
    negative R^2 predicts worse than the labels' mean, a model that failed, whatever its other
    figures say. Empty when every R^2 is >= 0 or missing."""
    lines = []
    for what, value in scores.items():
        if isinstance(value, (int, float)) and math.isfinite(value) and value < 0:
            lines.append(
                f"> **Warning:** R^2 of {what} is {fmt(float(value), 3)} < 0: it predicts worse "
                f"than the mean of the labels; this model has failed (more epochs or data, "
                f"another learning rate), so the figures that use it are not to be trusted."
            )
    return lines + [""] if lines else []


def baseline_warnings(split: Mapping[str, Any], model: str) -> list[str]:
    """A warning line when a VAE's BCE is not below its porosity-only baseline's (ratio >= 1):
    the decoder draws the mean image, so its latent space learned porosity at most."""
    ratio = split.get("bce_ratio_to_porosity_only")
    if not isinstance(ratio, (int, float)) or not math.isfinite(ratio) or ratio < 1.0:
        return []
    return [
        f"> **Warning:** the {model}'s BCE is {fmt(float(ratio), 3)} x the porosity-only "
        f"reconstruction's: it decodes the mean image and has learned no shapes, so the figures "
        f"that use its latent space are not to be trusted.",
        "",
    ]


def transfer_test_mses(variants: Mapping[str, Any]) -> tuple[Any, Any]:
    """Mean test MSE of the pretrained (transfer) and the scratch variant (None when missing)."""
    return tuple((variants.get(v) or {}).get("test_mse_mean") for v in ("pretrained", "scratch"))


def transfer_warning(variants: Mapping[str, Any]) -> list[str]:
    """A warning line when the pretrained (transfer) regressor's mean test MSE is not below the
    one trained from scratch: transfer learning did not help in this run."""
    pretrained, scratch = transfer_test_mses(variants)
    if pretrained is None or scratch is None or pretrained < scratch:
        return []
    return [
        f"> **Warning:** the transfer regressor's test MSE {fmt(float(pretrained), 3)} is not "
        f"below scratch's {fmt(float(scratch), 3)}: in this run transfer learning did not help "
        f"(the paper finds it lower).",
        "",
    ]
