"""Figures of the latent design and slerp stages, drawn from ``designs.zarr`` and the slerp
store and JSON (PNG, matplotlib Agg)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from poredesign import store
from poredesign.design.gradient.evaluate import EVALUATORS, PROPERTIES
from poredesign.jsonable import read_json

LABELS = {"porosity": "porosity", "k": "k_z (voxel^2)"}


def _save(fig, title: str, path: str | os.PathLike) -> None:
    """Title, tight layout, PNG at ``path`` (folders made), figure closed."""
    import matplotlib.pyplot as plt

    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_design_parity(designs_path: str | os.PathLike, path: str | os.PathLike) -> None:
    """Achieved against target porosity and k per evaluator (columns); feasible targets filled,
    infeasible hollow; the nearest-training-structure baseline in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    group = store.open_group(designs_path)
    targets = np.asarray(group["targets"][...])
    feasible = np.asarray(group["feasible"][...], dtype=bool)
    fig, axes = plt.subplots(2, len(EVALUATORS), figsize=(3.4 * len(EVALUATORS), 6.4))
    for col, evaluator in enumerate(EVALUATORS):
        values = np.asarray(group[evaluator][...])
        baseline = np.asarray(group[f"baseline_{evaluator}"][...])
        for row, name in enumerate(PROPERTIES):
            ax = axes[row, col]
            t = targets[:, row]
            ax.scatter(t, baseline[:, row], s=10, color="0.65", label="nearest training")
            ax.scatter(t[feasible], values[feasible, row], s=14, color="C0", label="design")
            ax.scatter(
                t[~feasible],
                values[~feasible, row],
                s=14,
                facecolors="none",
                edgecolors="C3",
                label="design (infeasible target)",
            )
            lo, hi = np.nanmin(t), np.nanmax(t)
            ax.plot([lo, hi], [lo, hi], color="k", linewidth=0.8)
            ax.set_xlabel(f"target {LABELS[name]}", fontsize=8)
            ax.set_ylabel(f"{evaluator} {LABELS[name]}", fontsize=8)
            ax.tick_params(labelsize=7)
            if row == 0:
                ax.set_title(evaluator, fontsize=9)
    axes[0, 0].legend(fontsize=6, loc="upper left")
    title = f"latent gradient design: {len(targets)} targets, {int(feasible.sum())} feasible"
    _save(fig, title, path)


def plot_slerp(
    slerp_json: str | os.PathLike,
    slerp_store: str | os.PathLike,
    path: str | os.PathLike,
    strip: int = 10,
) -> None:
    """A strip of ``strip`` decoded images (evenly spaced steps; solid black; the middle z slice
    of decoded volumes) above porosity and k along the path: the regressor at the code and the
    solver on the decoded structure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = read_json(slerp_json)
    images = np.asarray(store.open_group(slerp_store)["images"][...])
    if images.ndim == 4:  # volumes of a 3D pVAE: show their middle z slice
        images = images[..., images.shape[-1] // 2]
    rows = result["path"]
    t = np.array([r["t"] for r in rows])
    shown = np.unique(np.linspace(0, len(rows) - 1, min(strip, len(rows))).round().astype(int))
    fig = plt.figure(figsize=(1.3 * len(shown), 5.6))
    grid = fig.add_gridspec(3, len(shown), height_ratios=[1.0, 1.2, 1.2])
    for col, i in enumerate(shown):
        ax = fig.add_subplot(grid[0, col])
        ax.imshow(images[i].T, cmap="gray_r", origin="lower", interpolation="nearest")
        ax.set_title(f"t={t[i]:.2f}", fontsize=7)
        ax.set_axis_off()
    for row, (name, label) in enumerate((("porosity", "porosity"), ("k", "k_z (voxel^2)"))):
        ax = fig.add_subplot(grid[row + 1, :])
        solver_key = "porosity" if name == "porosity" else "k_solver"
        ax.plot(t, [r[f"{name}_regressor"] for r in rows], color="C0", label="regressor (code)")
        ax.plot(t, [r[solver_key] for r in rows], color="C3", label="solver (decoded)")
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    ax.set_xlabel("slerp t", fontsize=8)
    low, high = result["endpoints"]
    _save(fig, f"slerp between structures {low} and {high} ({result['steps']} steps)", path)


__all__ = ["plot_design_parity", "plot_slerp"]
