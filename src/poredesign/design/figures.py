"""Figures of the design stage, drawn from what the stage computed (PNG, matplotlib Agg)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from poredesign.design.abc.result import AbcResult


def plot_marginals(
    result: AbcResult, path: str | os.PathLike, bins: int = 30, show_generations: bool = True
) -> None:
    """Weighted marginal histograms per parameter of the final ABC generation (PNG at ``path``).

    Earlier generations are drawn as faint step outlines; the posterior mean is a vertical line;
    the x range is the prior box.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = result.param_names
    bounds = result.prior.get("bounds", {})
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.0), squeeze=False)
    for j, (ax, name) in enumerate(zip(axes[0], names, strict=True)):
        lo, hi = bounds.get(name, (None, None))
        edges = np.linspace(lo, hi, bins + 1) if lo is not None else bins
        # weighted densities of one generation on the prior box's bins
        hist = {"bins": edges, "density": True}
        if show_generations:
            for g in result.generations[:-1]:
                ax.hist(
                    g.params[:, j],
                    weights=g.weights,
                    **hist,
                    histtype="step",
                    color="0.6",
                    alpha=0.5,
                    linewidth=0.8,
                )
        if result.final is not None:
            g = result.final
            label = f"t={g.t}, eps={g.epsilon:.3g}"
            ax.hist(g.params[:, j], weights=g.weights, **hist, color="C0", alpha=0.8, label=label)
            ax.axvline(result.theta_hat[j], color="C3", linewidth=1.5, label="posterior mean")
        else:
            ax.text(
                0.5,
                0.5,
                "no completed generation",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
        if lo is not None:
            ax.set_xlim(lo, hi)
        ax.set_xlabel(name)
        ax.set_yticks([])
    axes[0, 0].set_ylabel("posterior density")
    if result.final is not None:
        axes[0, -1].legend(fontsize=7, loc="upper right")
    target = ", ".join(f"{v:.3g}" for v in result.target)
    fig.suptitle(
        f"ABC posterior marginals, {result.stat_name}* = ({target}) [{result.status}]", fontsize=9
    )
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
