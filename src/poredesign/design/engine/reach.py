"""What a generator reaches: structures at parameters drawn uniformly on the search scales of
its box (each with its own seed), solved for the given keys; and their map in a property plane
(the feasibility map: the sampled region beside the design targets).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from poredesign.design.engine.generators import Generator
from poredesign.design.engine.solver import Solver
from poredesign.seeds import stream_rng, stream_seed


def sample_reach(
    generator: Generator,
    keys: Sequence[str],
    size: int,
    count: int,
    seed: int = 0,
    flow: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """``count`` structures of ``generator`` at uniform draws on the search scales of its box:
    per structure its parameters, seed and the solver's values of ``keys`` (NaN where the
    solver flags the structure or the generator refuses the parameters)."""
    rng = stream_rng(seed, "design_seeds", 30_000)
    solver = Solver(keys, flow)
    out = []
    for i in range(int(count)):
        params = {
            q.name: q.from_search(rng.uniform(q.to_search(q.low), q.to_search(q.high)))
            for q in generator.params
        }
        s = stream_seed(seed, "design_seeds", 40_000 + i)
        try:
            values = solver(generator.draw(params, s, size))
        except ValueError:
            values = {}
        out.append({"params": params, "seed": s, **{k: values.get(k, np.nan) for k in keys}})
    return out


def plot_reach(
    samples: Sequence[Mapping[str, Any]],
    planes: Sequence[tuple[str, str]],
    targets: Sequence[tuple[str, Mapping[str, float], str]],
    title: str,
    path: str | os.PathLike,
) -> None:
    """One panel per plane (x key, y key): the sampled structures (grey) and the targets that
    name both keys, marked by their flag (``targets``: (label, target, flag))."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    markers = {"reached": ("o", "tab:blue"), "not_reached": ("s", "tab:orange")}
    fig, axes = plt.subplots(1, len(planes), figsize=(4 * len(planes), 3.6), squeeze=False)
    for ax, (kx, ky) in zip(axes[0], planes, strict=True):
        x = np.array([s[kx] for s in samples], float)
        y = np.array([s[ky] for s in samples], float)
        ax.scatter(x, y, s=8, c="0.6", label="generator (uniform in its box)")
        for _label, target, flag in targets:
            if kx in target and ky in target:
                m, c = markers.get(flag, ("x", "tab:red"))
                ax.scatter(target[kx], target[ky], marker=m, c=c, s=40)
        ax.set_xlabel(kx)
        ax.set_ylabel(ky)
        for key, set_scale in ((kx, ax.set_xscale), (ky, ax.set_yscale)):
            if key.startswith(("tau", "k_")):  # spans decades near percolation
                set_scale("log")
    for flag, (m, c) in {**markers, "infeasible": ("x", "tab:red")}.items():
        axes[0][0].scatter([], [], marker=m, c=c, label=f"target: {flag.replace('_', ' ')}")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


__all__ = ["plot_reach", "sample_reach"]
