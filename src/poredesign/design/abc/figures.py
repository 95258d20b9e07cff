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


def plot_validation(
    eta_solver: np.ndarray,
    eta_surrogate: np.ndarray | None,
    target: np.ndarray | None,
    path: str | os.PathLike,
    title: str = "",
) -> None:
    """Histograms of eta per axis from the solver (and the surrogate) with the target marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), sharey=True)
    for axis, ax in enumerate(axes):
        values = [eta_solver[:, axis]]
        if eta_surrogate is not None and np.isfinite(eta_surrogate[:, axis]).any():
            values.append(eta_surrogate[:, axis])
        finite = np.concatenate([v[np.isfinite(v)] for v in values])
        lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        if target is not None:
            lo, hi = min(lo, target[axis]), max(hi, target[axis])
        bins = np.linspace(lo - 0.02, hi + 0.02, 25)
        ax.hist(
            eta_solver[:, axis][np.isfinite(eta_solver[:, axis])],
            bins=bins,
            alpha=0.6,
            label="solver (LBM/Krylov)",
            color="tab:blue",
        )
        if len(values) > 1:
            ax.hist(
                values[1][np.isfinite(values[1])],
                bins=bins,
                alpha=0.6,
                label="CNN",
                color="tab:orange",
            )
        if target is not None:
            ax.axvline(target[axis], color="k", ls="--", label="target")
        ax.set_xlabel(f"eta_{'xyz'[axis]} = D_eff / D")
    axes[0].set_ylabel("structures")
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_refinement(record: dict, path: str | os.PathLike, title: str = "") -> None:
    """Refinement rounds (``refine.json``): the solver-validated MAPE of the posterior mean with
    its standard error, the surrogate's MAPE on each round's new solver labels and the stopping
    tolerance (left); the validated eta per axis with standard errors and the target (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = record["rounds"]
    r = np.array([row["round"] for row in rounds])
    val = [row["validation"] for row in rounds]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.errorbar(
        r,
        [v["mape_solver_percent"] for v in val],
        yerr=[v.get("mape_solver_se_percent") or 0.0 for v in val],
        marker="o",
        capsize=3,
        label="posterior mean, solver (validation)",
    )
    errors = [(row["round"], row["surrogate_error"]) for row in rounds if row["surrogate_error"]]
    if errors:
        left.plot(
            [e[0] for e in errors],
            [e[1]["mape_percent"] for e in errors],
            "s--",
            color="tab:orange",
            label="surrogate on the round's new labels",
        )
    left.axhline(record["settings"]["tolerance"], color="k", ls=":", label="tolerance")
    left.set_xlabel("round (0 = ABC of the design stage)")
    left.set_ylabel("MAPE (%)")
    left.set_xticks(r)
    left.grid(alpha=0.3)
    left.legend(fontsize=7)
    target = np.asarray(record["target"], float)
    for axis in range(len(target)):
        mean = [v["eta_solver_mean"][axis] for v in val]
        se = [(v.get("eta_solver_se") or [0.0] * len(target))[axis] or 0.0 for v in val]
        line = right.errorbar(r, mean, yerr=se, marker="o", capsize=3, label=f"eta_{'xyz'[axis]}")
        right.axhline(target[axis], color=line[0].get_color(), ls="--", lw=1)
    right.set_xlabel("round")
    right.set_ylabel("validated eta (solver), target dashed")
    right.set_xticks(r)
    right.grid(alpha=0.3)
    right.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
