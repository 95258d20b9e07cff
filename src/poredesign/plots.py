"""Figures shared by workflow stages and reports (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from poredesign.store import StructureStore  # noqa: E402


def plot_structure_overview(
    structures: StructureStore, path: str | os.PathLike, n_examples: int = 8
) -> None:
    """Mid-z slices of the first structures (solid black) and histograms of every parameter."""
    n_examples = min(n_examples, len(structures))
    params, names = structures.params, structures.param_names
    n_cols = max(n_examples, len(names), 1)
    fig, axes = plt.subplots(2, n_cols, figsize=(2.2 * n_cols, 4.6), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for i in range(n_examples):
        solid = structures[i]
        ax = axes[0, i]
        ax.imshow(solid[:, :, solid.shape[2] // 2].T, cmap="gray_r", origin="lower",
                  interpolation="nearest")
        ax.set_title(f"#{i}  eps={1 - solid.mean():.2f}", fontsize=8)
    for j, name in enumerate(names):
        ax = axes[1, j]
        ax.set_axis_on()
        ax.hist(params[:, j][np.isfinite(params[:, j])], bins=20, color="tab:blue")
        ax.set_xlabel(name, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"{structures.attrs.get('generator', '')}: {len(structures)} structures of "
                 f"{'x'.join(map(str, structures.size))} voxels, rejection rate "
                 f"{structures.attrs.get('rejection_rate', float('nan')):.2f}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
