"""Training figures: loss curves from the CSV history and predicted-vs-true parity plots (PNG)."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_history(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Per-epoch columns of a history CSV (rows without a value are dropped per column)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    out: dict[str, dict[int, float]] = {}
    for row in rows:
        if not row.get("epoch"):
            continue
        epoch = int(float(row["epoch"]))
        for key, value in row.items():
            if key in ("epoch", "step", "phase") or value in ("", None):
                continue
            out.setdefault(key, {})[epoch] = float(value)
    return {k: np.array(sorted(v.items())) for k, v in out.items()}


def plot_loss_curves(
    history: str | os.PathLike,
    path: str | os.PathLike,
    title: str = "",
    keys: Sequence[str] | None = None,
) -> None:
    """Training and validation loss per epoch (log scale when all positive)."""
    columns = read_history(history)
    if keys is None:
        keys = sorted(k for k in columns if k.endswith("_loss"))
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for key in keys:
        if key in columns and len(columns[key]):
            data = columns[key]
            ax.plot(data[:, 0], data[:, 1], marker="o" if len(data) < 30 else None, ms=3, label=key)
    values = np.concatenate([columns[k][:, 1] for k in keys if k in columns] or [np.ones(1)])
    if np.all(values > 0):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_parity(
    pred: np.ndarray,
    true: np.ndarray,
    names: Sequence[str],
    path: str | os.PathLike,
    title: str = "",
    scores: Sequence[float | None] | None = None,
    intervals: Sequence[tuple[np.ndarray, np.ndarray] | None] | None = None,
) -> None:
    """Predicted vs true, one panel per target, with the identity line and R^2 in the title;
    ``intervals`` (per target: (low, high) bounds of each prediction, or None) are drawn as
    vertical error bars."""
    pred = np.atleast_2d(np.asarray(pred, dtype=float).T).T
    true = np.atleast_2d(np.asarray(true, dtype=float).T).T
    n = max(len(names), 1)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.6), squeeze=False)
    for j, name in enumerate(names):
        ax = axes[0, j]
        p, t = pred[:, j], true[:, j]
        bounds = None if intervals is None else intervals[j]
        if bounds is not None:
            low, high = bounds
            ax.errorbar(t, p, yerr=[p - low, high - p], fmt="none", lw=0.6, alpha=0.35)
        ax.scatter(t, p, s=8, alpha=0.6)
        finite = np.concatenate([p[np.isfinite(p)], t[np.isfinite(t)]])
        if finite.size:
            lo, hi = finite.min(), finite.max()
            pad = 0.05 * (hi - lo or 1.0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=1)
        ax.set_xlabel(f"true {name}")
        ax.set_ylabel(f"predicted {name}")
        score = None if scores is None else scores[j]
        ax.set_title(f"{name}" + ("" if score is None else f"  R$^2$ = {score:.3f}"), fontsize=9)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
