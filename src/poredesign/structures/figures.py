"""Figure of the imports stage (matplotlib, Agg backend, PNG): it reads only the scan's store
(:mod:`poredesign.structures.scans`), so every panel can be recomputed from the artifacts."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from poredesign.store import StructureStore  # noqa: E402


def plot_scan_import(
    store_path: str | os.PathLike, path: str | os.PathLike, n_crops: int = 4
) -> None:
    """The scan's middle z slice as read (gray) and as the chosen phase (solid black) with the crop
    outlines of that slice, then the middle z slices of up to ``n_crops`` crops (evenly spread over
    the store) with their porosity and pore percolation along x, y, z."""
    store = StructureStore(store_path)
    group, attrs = store.group, store.attrs
    gray = np.asarray(group["slice_gray"][...])
    solid = np.asarray(group["slice_solid"][...])
    origins = np.asarray(group["origins"][...])
    percolates = np.asarray(group["percolates"][...])
    porosity = store.params[:, store.param_names.index("porosity")]
    crop, z_mid = int(attrs["crop"]), int(group["slice_gray"].attrs.get("z", 0))
    picks = np.unique(np.linspace(0, len(store) - 1, min(n_crops, len(store))).round().astype(int))

    n_cols = 2 + len(picks)
    fig, axes = plt.subplots(1, n_cols, figsize=(2.6 * n_cols, 3.0), squeeze=False)
    axes = axes[0]
    axes[0].imshow(gray.T, cmap="gray", origin="lower", interpolation="nearest")
    axes[0].set_title(f"scan, z = {z_mid}", fontsize=8)
    axes[1].imshow(solid.T, cmap="gray_r", origin="lower", interpolation="nearest")
    axes[1].set_title(f"phase (solid black), eps = {attrs['scan_porosity']:.3f}", fontsize=8)
    for x, y, z in origins:
        if z <= z_mid < z + crop:
            axes[1].add_patch(
                plt.Rectangle((x - 0.5, y - 0.5), crop, crop, fill=False, ec="tab:red", lw=0.8)
            )
    for ax, i in zip(axes[2:], picks, strict=True):
        structure = store[int(i)]
        ax.imshow(
            structure[:, :, structure.shape[2] // 2].T,
            cmap="gray_r",
            origin="lower",
            interpolation="nearest",
        )
        flags = "".join(a if p else "-" for a, p in zip("xyz", percolates[i], strict=True))
        ax.set_title(
            f"crop {i} at {tuple(int(v) for v in origins[i])}\neps = {porosity[i]:.3f}, "
            f"percolates {flags}",
            fontsize=7,
        )
    for ax in axes:  # ticks off, frames kept: white pore at a crop's edge stays visible
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        f"{attrs.get('name', '')}: {len(store)} crops of {crop}^3 scan voxels -> "
        f"{store.size[0]}^3 ({attrs.get('source', '')})",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    fig.savefig(path, dpi=110)
    plt.close(fig)
