"""Figures of the generate and simulate stages (matplotlib, Agg backend, PNG).

The design stage's figures are in :mod:`poredesign.design.abc.figures`, the models' in
:mod:`poredesign.learn.figures`.
"""

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
        ax.imshow(
            solid[:, :, solid.shape[2] // 2].T,
            cmap="gray_r",
            origin="lower",
            interpolation="nearest",
        )
        ax.set_title(f"#{i}  eps={1 - solid.mean():.2f}", fontsize=8)
    for j, name in enumerate(names):
        ax = axes[1, j]
        ax.set_axis_on()
        ax.hist(params[:, j][np.isfinite(params[:, j])], bins=20, color="tab:blue")
        ax.set_xlabel(name, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(
        f"{structures.attrs.get('generator', '')}: {len(structures)} structures of "
        f"{'x'.join(map(str, structures.size))} voxels, rejection rate "
        f"{structures.attrs.get('rejection_rate', float('nan')):.2f}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_transport_overview(transport_path: str | os.PathLike, path: str | os.PathLike) -> None:
    """eta (and k, when present) per axis against porosity."""
    from poredesign.store import open_group

    group = open_group(transport_path)
    porosity = np.asarray(group["porosity"][...])
    arrays = {name: np.asarray(group[name][...]) for name in ("eta", "k")}
    panels = [(name, values) for name, values in arrays.items() if np.isfinite(values).any()]
    fig, axes = plt.subplots(
        1, max(len(panels), 1), figsize=(5 * max(len(panels), 1), 3.8), squeeze=False
    )
    for ax, (name, values) in zip(axes[0], panels, strict=False):
        for axis, color in enumerate(("tab:blue", "tab:orange", "tab:green")):
            ax.scatter(
                porosity,
                values[:, axis],
                s=8,
                alpha=0.6,
                color=color,
                label=f"{name}_{'xyz'[axis]}",
            )
        if name == "eta":
            eps = np.linspace(0, 1, 101)
            ax.plot(eps, 2 * eps / (3 - eps), "k--", lw=1, label="HS bound 2e/(3-e)")
            ax.plot(eps, eps, "k:", lw=1, label="eta = porosity")
            ax.set_ylabel("eta = D_eff / D")
        else:
            ax.set_yscale("log")
            ax.set_ylabel("k (voxel^2)")
        ax.set_xlabel("porosity")
        ax.legend(fontsize=7)
    fig.suptitle(f"transport labels of {len(porosity)} structures", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
