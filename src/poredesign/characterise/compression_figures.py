"""Figures of the compression findings (:mod:`poredesign.characterise.compression`): the latent
PCA coloured by strain beside its baseline, the PC-property correlations, porosity against the
tensor with the slerp path, and the tensor along the slerp."""

from __future__ import annotations

import os

import numpy as np

from poredesign import store
from poredesign.jsonable import read_json


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _strain_scatter(ax, x, y, strain, levels):
    cmap = _pyplot().colormaps["viridis"]
    for i, level in enumerate(levels):
        at = strain == level
        colour = cmap(i / max(1, len(levels) - 1))
        ax.scatter(x[at], y[at], s=6, color=colour, label=f"{100 * level:.0f} %", alpha=0.7)


def plot_compression_latent(
    findings_json: str | os.PathLike, findings_store: str | os.PathLike, path: str | os.PathLike
) -> None:
    """PC1-PC2 coloured by strain (nearest-neighbour accuracy in the title) beside the baseline
    plane (porosity, k_z of the crops themselves), and the PC-property correlation matrix."""
    plt = _pyplot()
    found = read_json(findings_json)
    group = store.open_group(findings_store)
    scores = np.asarray(group["scores"][...])
    strain = np.asarray(group["strain"][...])
    porosity, k = np.asarray(group["porosity"][...]), np.asarray(group["k"][...])
    levels = found["strains"]
    sep = found["separation"]["levels"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    _strain_scatter(axes[0], scores[:, 0], scores[:, 1], strain, levels)
    axes[0].set(xlabel="PC1", ylabel="PC2")
    axes[0].set_title(
        f"pVAE latent PCA: NN strain accuracy {sep['latent']['accuracy']:.2f} "
        f"(chance {sep['latent']['chance']:.2f})",
        fontsize=9,
    )
    axes[0].legend(title="strain", fontsize=7)
    _strain_scatter(axes[1], porosity, k[:, 2], strain, levels)
    axes[1].set(xlabel="porosity", ylabel="k_z (voxel^2)", yscale="log")
    axes[1].set_title(
        f"baseline, from the crop: NN strain accuracy {sep['baseline']['accuracy']:.2f}",
        fontsize=9,
    )
    r = np.array(found["pca"]["correlations"], dtype=float)
    image = axes[2].imshow(r, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    for (i, j), value in np.ndenumerate(r):
        axes[2].text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7)
    axes[2].set_xticks(range(r.shape[1]), found["pca"]["properties"])
    axes[2].set_yticks(range(r.shape[0]), [f"PC{i + 1}" for i in range(r.shape[0])])
    axes[2].set_title("Pearson r of the PCs with porosity and k", fontsize=9)
    fig.colorbar(image, ax=axes[2], shrink=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_compression_properties(
    findings_json: str | os.PathLike, findings_store: str | os.PathLike, path: str | os.PathLike
) -> None:
    """Porosity against k_x, k_y, k_z of the crops (coloured by strain) with the slerp path's
    steps over them, and porosity and the tensor along the slerp."""
    plt = _pyplot()
    found = read_json(findings_json)
    group = store.open_group(findings_store)
    strain = np.asarray(group["strain"][...])
    porosity, k = np.asarray(group["porosity"][...]), np.asarray(group["k"][...])
    path_porosity = np.array(found["slerp"]["porosity"], dtype=float)
    path_k = np.array(found["slerp"]["k"], dtype=float)
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))
    for j, axis in enumerate("xyz"):
        _strain_scatter(axes[j], porosity, k[:, j], strain, found["strains"])
        axes[j].plot(path_porosity, path_k[:, j], "r.-", lw=0.8, ms=4, label="slerp (solver)")
        axes[j].set(xlabel="porosity", ylabel=f"k_{axis} (voxel^2)", yscale="log")
    axes[0].legend(fontsize=7, title="strain")
    steps = np.arange(len(path_porosity))
    ax = axes[3]
    for j, axis in enumerate("xyz"):
        ax.plot(steps, path_k[:, j], label=f"k_{axis}")
    ax.set(xlabel="slerp step", ylabel="k (voxel^2)", yscale="log")
    twin = ax.twinx()
    twin.plot(steps, path_porosity, "k--", label="porosity")
    twin.set_ylabel("porosity")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title("slerp high -> low porosity, tensor by the solver", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


__all__ = ["plot_compression_latent", "plot_compression_properties"]
