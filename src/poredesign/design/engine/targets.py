"""Design targets: values of any subset of porosity, k_x/k_y/k_z, eta_x/eta_y/eta_z and
tau_x/tau_y/tau_z, checked before any work, and the error measure of the search.

Units: porosity and eta = D_eff / D are fractions, tau = porosity / eta is the tortuosity factor
(dimensionless), k is in voxel^2 (lattice units; multiply by the voxel size squared for m^2).

Physical bounds (a target outside them is *infeasible*, flagged before any solver call):
porosity in (0, 1); eta_i in (0, porosity] (diffusion through the pore space cannot exceed
the pore fraction) and so tau_i >= 1; with porosity, eta_i and tau_i all given, tau_i =
porosity / eta_i must hold to the tolerance. Each generator adds the bounds of its parameter
box (:meth:`~poredesign.design.engine.generators.Generator.infeasible`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

AXES = ("x", "y", "z")
KEYS = ("porosity", *(f"{p}_{a}" for p in ("k", "eta", "tau") for a in AXES))


class TargetError(ValueError):
    """A target a user wrote that cannot be a design target (one line says why)."""


def parse_target(text: str, allowed: Iterable[str] = KEYS) -> dict[str, float]:
    """``KEY=VALUE,...`` as a dict; TargetError naming the key or value and what is allowed:
    unknown or repeated keys, values that are not finite positive numbers, porosity outside
    (0, 1)."""
    allowed = tuple(allowed)
    values: dict[str, float] = {}
    for part in text.split(","):
        key, sep, raw = (s.strip() for s in part.partition("="))
        if not sep or not key:
            raise TargetError(f"target {part!r} is not KEY=VALUE (keys: {', '.join(allowed)})")
        if key not in allowed:
            raise TargetError(f"target key {key!r} is not one of {', '.join(allowed)}")
        if key in values:
            raise TargetError(f"target key {key!r} is given twice")
        try:
            value = float(raw)
        except ValueError:
            raise TargetError(f"target {key}={raw!r} is not a number") from None
        if not (math.isfinite(value) and value > 0):
            raise TargetError(f"target {key}={raw} must be a finite number > 0")
        if key == "porosity" and not value < 1:
            raise TargetError(f"target porosity={raw} must lie in (0, 1)")
        values[key] = value
    return values


def physical_bounds(target: Mapping[str, float], tolerance: float) -> list[str]:
    """The physical bounds of the module docstring that ``target`` violates, in words."""
    out = []
    porosity = target.get("porosity")
    for a in AXES:
        eta, tau = target.get(f"eta_{a}"), target.get(f"tau_{a}")
        if eta is not None and eta >= 1:
            out.append(f"eta_{a}={eta:g} is not below 1")
        if eta is not None and porosity is not None and eta > porosity:
            out.append(f"eta_{a}={eta:g} exceeds porosity={porosity:g}")
        if tau is not None and tau < 1:
            out.append(f"tau_{a}={tau:g} is below 1")
        if None not in (eta, tau, porosity) and abs(porosity / eta / tau - 1) > tolerance:
            out.append(f"tau_{a}={tau:g} differs from porosity / eta_{a}={porosity / eta:g}")
    return out


def relative_errors(values: Mapping[str, float], target: Mapping[str, float]) -> dict[str, float]:
    """|value - target| / target per key (inf for a missing or non-finite value)."""
    out = {}
    for key, t in target.items():
        v = values.get(key, math.nan)
        out[key] = abs(v - t) / t if math.isfinite(v) else math.inf
    return out


def log_residuals(values: Mapping[str, float], target: Mapping[str, float]) -> list[float]:
    """log(value / target) per key, the search's residuals (inf where a value is not > 0)."""
    out = []
    for key, t in target.items():
        v = values.get(key, math.nan)
        out.append(math.log(v / t) if math.isfinite(v) and v > 0 else math.inf)
    return out


__all__ = [
    "AXES",
    "KEYS",
    "TargetError",
    "log_residuals",
    "parse_target",
    "physical_bounds",
    "relative_errors",
]
