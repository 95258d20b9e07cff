"""The solver of the design engine: the target's properties of one structure.

One *call* is one structure solved for every property the target names (k by the D3Q19 lattice
Boltzmann solver, eta and tau by the diffusion solver, along the target's axes; porosity is
counted from the voxels). Calls and CPU seconds (process time, the solver's threads included)
are counted; a solve flagged by the solver (no percolating path, not converged) gives NaN.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from poredesign.design.engine.targets import AXES


class Solver:
    """Solves ``keys`` (target keys) of structures; ``flow`` / ``diffusion``: options of
    :func:`poredesign.transport.permeability` / :func:`poredesign.transport.diffusivity`."""

    def __init__(
        self,
        keys,
        flow: Mapping[str, Any] | None = None,
        diffusion: Mapping[str, Any] | None = None,
    ):
        self.keys = tuple(keys)
        self.flow = {"device": "cpu", **dict(flow or {})}
        self.diffusion = dict(diffusion or {})
        self.calls = 0
        self.cpu_seconds = 0.0

    def __call__(self, solid: np.ndarray, name: str = "design candidate") -> dict[str, float]:
        from poredesign.transport import properties

        diffusion_axes = [a for a in AXES if f"eta_{a}" in self.keys or f"tau_{a}" in self.keys]
        flow_axes = [a for a in AXES if f"k_{a}" in self.keys]
        t0 = time.process_time()
        values = {"porosity": 1.0 - float(np.mean(solid))}
        for which, axes in (("diffusivity", diffusion_axes), ("permeability", flow_axes)):
            if not axes:
                continue
            props = properties(
                solid, axes, (which,), flow=self.flow, diffusion=self.diffusion, name=name
            )
            for a in axes:
                i = AXES.index(a)
                if which == "diffusivity":
                    ok = int(props.flags_eta[i]) == 0
                    values[f"eta_{a}"] = float(props.eta[i]) if ok else math.nan
                    values[f"tau_{a}"] = float(props.tau[i]) if ok else math.nan
                else:
                    ok = int(props.flags_k[i]) == 0
                    values[f"k_{a}"] = float(props.k[i]) if ok else math.nan
        self.calls += 1
        self.cpu_seconds += time.process_time() - t0
        return values


__all__ = ["Solver"]
