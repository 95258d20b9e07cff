"""Figures of the design benchmark, drawn from benchmark.json: the k error of every
method per target set, and the feasibility map (PNG, matplotlib Agg)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from poredesign.design.benchmark import METHODS, SETS

COLOURS = {
    "nearest": "tab:grey",
    "latent": "tab:orange",
    "latent_best_of_starts": "tab:red",
    "search": "tab:blue",
}
MARKERS = {"in_band": "o", "beyond_band": "^", "infeasible": "x"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, title: str, path: str | os.PathLike) -> None:
    plt = _plt()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_benchmark(summary: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Per target set (panels) the relative k error (%, log scale) of each method's designs by the
    solver; flagged designs drawn at the top as crosses; infeasible targets show the gap left."""
    plt = _plt()
    designs = summary["designs"]
    methods = [m for m in METHODS if any(d["method"] == m for d in designs)]
    fig, axes = plt.subplots(1, len(SETS), figsize=(4.2 * len(SETS), 3.8), squeeze=False)
    for ax, name in zip(axes[0], SETS, strict=True):
        for x, method in enumerate(methods):
            rows = [d for d in designs if d["set"] == name and d["method"] == method]
            errors = np.array([100 * d["k_error"] for d in rows if d["k_error"] is not None])
            flagged = sum(d["k_error"] is None for d in rows)
            jitter = np.linspace(-0.15, 0.15, max(len(errors), 1))[: len(errors)]
            ax.scatter(x + jitter, np.maximum(errors, 1e-3), s=12, color=COLOURS[method])
            if len(errors):
                ax.hlines(np.mean(errors), x - 0.3, x + 0.3, color="k", lw=1)
            if flagged:
                ax.scatter([x], [2e3], marker="x", color="k")
                ax.annotate(f"{flagged} flagged", (x, 2e3), fontsize=6, ha="center", va="bottom")
        ax.set_yscale("log")
        ax.set_ylim(1e-3, 5e3)
        ax.axhline(2.0, color="tab:green", ls=":", lw=1)
        ax.set_xticks(range(len(methods)), [m.replace("_", "\n") for m in methods], fontsize=7)
        ax.set_title(
            name + (" (gap left, never a success)" if name == "infeasible" else ""), fontsize=8
        )
        ax.set_ylabel("|k - k*| / k* (%), solver")
    budget = summary["budget"]["solver_calls_per_target"]
    _save(fig, f"design benchmark: k error by the solver (budget {budget} calls/target)", path)


def plot_feasibility(
    summary: Mapping[str, Any],
    dataset: np.ndarray,
    path: str | os.PathLike,
) -> None:
    """The (porosity, k) region the generator reaches: the dataset (grey), every state the
    search runs solved (blue), the data band (lines), the lower bound n k_1 below which no
    arrangement goes and the compact block's k (dashed), and the targets by set."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    dataset = np.asarray(dataset, dtype=float)
    ok = np.isfinite(dataset).all(axis=1)
    ax.scatter(dataset[ok, 0], dataset[ok, 1], s=3, color="0.7", label="dataset", zorder=1)
    reached = [(run["porosity"], k) for run in summary["search_runs"] for k in run["k"]]
    reached = np.array([r for r in reached if np.isfinite(r[1]) and r[1] > 0]).reshape(-1, 2)
    ax.scatter(
        reached[:, 0], reached[:, 1], s=3, color="tab:blue", alpha=0.4, label="search (solved)"
    )
    band = summary["band"]
    ax.plot(band["porosity"], band["k_low"], color="k", lw=1, label="data band")
    ax.plot(band["porosity"], band["k_high"], color="k", lw=1)
    per = summary["levels"]["per_full_image"]
    counts = sorted(int(n) for n in summary["reach"])
    p = np.array(counts) / per
    ax.plot(
        p,
        [summary["reach"][str(n)]["lower_bound"] for n in counts],
        "k--",
        lw=1,
        label="lower bound n k_1",
    )
    ax.plot(
        p,
        [summary["reach"][str(n)]["compact_block"] for n in counts],
        "k-.",
        lw=1,
        label="compact block",
    )
    for name in SETS:
        t = np.array([[d["porosity"], d["k"]] for d in summary["targets"] if d["set"] == name])
        if len(t) and name == "infeasible":
            ax.scatter(t[:, 0], t[:, 1], marker="x", s=30, color="tab:red", label=name)
        elif len(t):
            ax.scatter(
                t[:, 0],
                t[:, 1],
                marker=MARKERS[name],
                s=30,
                facecolor="none",
                edgecolor="k",
                label=name,
            )
    ax.set_yscale("log")
    ax.set_xlabel("porosity")
    ax.set_ylabel("k_z (voxel^2)")
    ax.legend(fontsize=7, loc="upper left")
    _save(fig, "feasibility map: what the square-pore generator reaches", path)


__all__ = ["plot_benchmark", "plot_feasibility"]
