"""The BO stage's figure [Z23] (SPEC 4.2): convergence of every repeat (matplotlib, Agg, PNG),
drawn from the ``bo.json`` record alone."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np


def plot_convergence(result: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Best distance so far against the trial number, one line per repeat; the median repeat
    bold, the best dashed; the end of the random startup trials marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    median, best = result["median"]["repeat"], result["best"]["repeat"]
    positive = []
    for rep in result["repeats"]:
        y = np.array([np.nan if v is None else v for v in rep["best_so_far"]], dtype=float)
        x = np.arange(1, len(y) + 1)
        positive.append(bool(np.nanmin(y, initial=np.inf) > 0))
        style = {"lw": 0.8, "alpha": 0.6, "color": "0.5"}
        label = None
        if rep["repeat"] == best:
            style, label = {"lw": 1.6, "ls": "--", "color": "C1"}, f"best (repeat {best})"
        if rep["repeat"] == median:
            style, label = {"lw": 2.0, "color": "C0"}, f"median (repeat {median})"
        ax.step(x, y, where="post", label=label, **style)
    n_startup = result["sampler"]["n_startup_trials"]
    ax.axvline(n_startup + 0.5, color="k", lw=0.6, ls=":", label=f"{n_startup} random trials")
    if positive and all(positive):
        ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel("best latent distance ||mu - mu*||")
    true = result["true_params"]
    ax.set_title(
        f"{result['target']}: r={true['radius']:.2f}, n={true['n_points']}, "
        f"e=({true['e_x']:.2f}, {true['e_y']:.2f}, {true['e_z']:.2f}); "
        f"seed {result['candidate_seed']}",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
