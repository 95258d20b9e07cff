"""Figures of the latent stage [Z23] (PNG, matplotlib Agg), drawn from a written latent set.

- :func:`plot_pc12`: PC1-PC2 scores coloured by stretch direction, marker area by intensity
  (the paper: three branches, one per direction, isotropic structures at the centre);
- :func:`plot_porosity_pc`: the porosity PC against the measured porosity;
- :func:`plot_reference`: this study's structures projected into a reference study's PCA, over
  the reference training structures (the paper: two-axes structures between their parent
  branches); without a reference the figure says so.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from poredesign.characterise.pca import pearson
from poredesign.characterise.reference import stretch_groups
from poredesign.characterise.space import TRAIN, LatentSet
from poredesign.characterise.stretch import DIRECTIONS

COLOURS = {"x": "tab:blue", "y": "tab:orange", "z": "tab:green", "isotropic": "0.35", "": "0.7"}
PAIR_COLOURS = {"xy": "tab:purple", "xz": "tab:cyan", "yz": "tab:red", "xyz": "black"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _sizes(intensity: np.ndarray) -> np.ndarray:
    """Marker areas (pt^2): 3 at intensity 0 up to 40 at 0.5 (the paper's strongest stretch)."""
    return 3.0 + 74.0 * np.clip(np.nan_to_num(intensity, nan=0.0), 0.0, 0.5)


def _ratio_label(latent: LatentSet, j: int) -> str:
    ratio = latent.pca.explained_variance_ratio
    share = f" ({100 * ratio[j]:.1f} %)" if j < len(ratio) else ""
    return f"PC{j + 1}{share}"


def _scatter_directions(
    ax: Any,
    pc12: np.ndarray,
    direction: np.ndarray,
    intensity: np.ndarray,
    alpha: float = 0.7,
    label_suffix: str = "",
) -> None:
    for code, name in [*enumerate(DIRECTIONS), (-1, "")]:
        members = direction == code
        if members.any():
            ax.scatter(
                pc12[members, 0],
                pc12[members, 1],
                s=_sizes(intensity[members]),
                c=COLOURS[name],
                alpha=alpha,
                linewidths=0,
                label=f"{name or 'unknown'}{label_suffix} ({members.sum()})",
            )


def plot_pc12(latent: LatentSet, path: str | os.PathLike) -> None:
    """PC1-PC2 of every structure in the VAE's sample (training: filled; val/test: outlined)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 5.0))
    used = latent.split >= 0
    train = latent.split == TRAIN
    _scatter_directions(
        ax,
        latent.scores[train, :2],
        latent.direction[train],
        latent.intensity[train],
        label_suffix=", train",
    )
    held = used & ~train
    if held.any():
        ax.scatter(
            latent.scores[held, 0],
            latent.scores[held, 1],
            s=_sizes(latent.intensity[held]),
            facecolors="none",
            edgecolors="k",
            linewidths=0.4,
            alpha=0.6,
            label=f"val/test ({held.sum()})",
        )
    ax.set_xlabel(_ratio_label(latent, 0))
    ax.set_ylabel(_ratio_label(latent, 1))
    ax.set_title("latent PCA: colour = stretch direction, size = intensity 1 - min(e)", fontsize=9)
    ax.legend(fontsize=7, markerscale=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_porosity_pc(latent: LatentSet, path: str | os.PathLike) -> None:
    """Scores on the porosity PC against the measured porosity (training and held-out)."""
    plt = _pyplot()
    pc = latent.porosity_pc
    fig, ax = plt.subplots(figsize=(5.0, 4.0))
    train = latent.split == TRAIN
    held = (latent.split >= 0) & ~train
    ax.scatter(latent.porosity[train], latent.scores[train, pc], s=6, alpha=0.6, label="train")
    if held.any():
        ax.scatter(latent.porosity[held], latent.scores[held, pc], s=6, alpha=0.6, label="val/test")
    r = pearson(latent.scores[train, pc], latent.porosity[train])
    ax.set_xlabel("porosity (measured)")
    ax.set_ylabel(_ratio_label(latent, pc))
    ax.set_title(f"porosity PC = PC{pc + 1}: Pearson r = {r:.3f} (train)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_reference(
    path: str | os.PathLike,
    latent: LatentSet,
    reference: LatentSet | None = None,
    study: str | None = None,
) -> None:
    """This study's ``reference_scores`` over the reference training structures in the
    reference PC1-PC2, coloured by stretched axes; a placeholder figure when there is none."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 5.0))
    if reference is None or latent.reference_scores is None:
        ax.text(
            0.5,
            0.5,
            "no reference study (characterise.reference_study is null):\nnothing projected",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
    else:
        train = reference.split == TRAIN
        _scatter_directions(
            ax,
            reference.scores[train, :2],
            reference.direction[train],
            reference.intensity[train],
            alpha=0.25,
            label_suffix=f", {study or 'reference'}",
        )
        groups = np.asarray(stretch_groups(latent.params, latent.param_names))
        for label in sorted(set(groups)):
            members = groups == label
            colour = PAIR_COLOURS.get(label, COLOURS.get(label, "0.5"))
            ax.scatter(
                latent.reference_scores[members, 0],
                latent.reference_scores[members, 1],
                s=10,
                marker="^",
                c=colour,
                alpha=0.8,
                linewidths=0,
                label=f"projected {label or 'unknown'} ({members.sum()})",
            )
        ax.set_xlabel(f"PC1 of {study or 'the reference'}")
        ax.set_ylabel(f"PC2 of {study or 'the reference'}")
        ax.set_title("this study projected into the reference PCA (triangles)", fontsize=9)
        ax.legend(fontsize=7, markerscale=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
