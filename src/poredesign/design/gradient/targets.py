"""Design targets of the latent gradient design [A25] and what the dataset can reach.

- :func:`draw_targets`: (porosity, k) drawn uniformly from the configured ranges, from the study
  seed (the paper: 1000 targets, porosity 0.1-0.5, k 0.2-2.5 voxel^2);
- :class:`ReachableBand`: the dataset's porosity-k band. Square pores reach porosity only up to
  the largest pore count (0.4 in [A25]), and at a given porosity k spans a limited range (pores
  apart or merged into wide channels); a target outside is infeasible: flagged, and scored apart;
- :func:`nearest_by_k`: per target the training structures nearest in k (the paper's starts);
- :func:`nearest_structures`: per target the training structure nearest in (porosity, k), both
  min-max scaled over the training structures (the baseline a user asks for first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from poredesign.seeds import stream_rng


def draw_targets(
    count: int,
    porosity: Sequence[float],
    k: Sequence[float],
    seed: int,
    band: ReachableBand | None = None,
    max_rounds: int = 1000,
) -> np.ndarray:
    """``count`` targets (porosity, k), uniform in the two ranges, float64 (count, 2).

    With a ``band`` only feasible targets are kept: uniform over the part of the box the dataset
    reaches (draws in rounds of ``count`` from the same stream; a ValueError when the box and the
    band hardly overlap)."""
    rng = stream_rng(seed, "latent_targets")

    def box(m: int) -> np.ndarray:
        return np.column_stack(
            [rng.uniform(porosity[0], porosity[1], m), rng.uniform(k[0], k[1], m)]
        )

    if band is None:
        return box(count)
    kept: list[np.ndarray] = []
    for _ in range(max_rounds):
        draws = box(count)
        kept.append(draws[band.feasible(draws)])
        if sum(len(d) for d in kept) >= count:
            return np.concatenate(kept)[:count]
    raise ValueError(
        f"design.latent.targets: fewer than {count} of {count * max_rounds} targets drawn in "
        f"porosity {list(porosity)}, k {list(k)} lie in the dataset's porosity-k band; widen "
        f"the ranges towards the dataset's or use draw: box"
    )


@dataclass
class ReachableBand:
    """The porosity-k band of a dataset: k between ``k_low`` and ``k_high`` (linear in porosity
    between the bin centres ``porosity``), porosity between the dataset's extremes."""

    porosity: np.ndarray
    k_low: np.ndarray
    k_high: np.ndarray

    @classmethod
    def from_dataset(
        cls, porosity: np.ndarray, k: np.ndarray, quantile: float = 0.0, bins: int = 30
    ) -> ReachableBand:
        """The band of the labelled structures (finite k only): per porosity bin (the distinct
        porosities when there are at most ``bins``, as for square pores) the ``quantile`` and
        ``1 - quantile`` of k."""
        ok = np.isfinite(porosity) & np.isfinite(k)
        porosity, k = np.asarray(porosity)[ok], np.asarray(k)[ok]
        if len(porosity) == 0:
            raise ValueError("no labelled structure to find the reachable porosity-k band from")
        levels = np.unique(porosity)
        if len(levels) <= bins:
            groups = [porosity == level for level in levels]
            centres = levels
        else:
            edges = np.linspace(porosity.min(), porosity.max(), bins + 1)
            which = np.clip(np.digitize(porosity, edges) - 1, 0, bins - 1)
            groups = [which == b for b in range(bins) if np.any(which == b)]
            centres = np.array([porosity[g].mean() for g in groups])
        low = np.array([np.quantile(k[g], quantile) for g in groups])
        high = np.array([np.quantile(k[g], 1.0 - quantile) for g in groups])
        return cls(np.asarray(centres, float), low, high)

    def feasible(self, targets: np.ndarray) -> np.ndarray:
        """(T,) bool: porosity within the dataset's range and k within the band there."""
        targets = np.asarray(targets, dtype=float)
        p, k = targets[:, 0], targets[:, 1]
        inside = (p >= self.porosity[0]) & (p <= self.porosity[-1])
        low = np.interp(p, self.porosity, self.k_low)
        high = np.interp(p, self.porosity, self.k_high)
        return inside & (k >= low) & (k <= high)

    def as_dict(self) -> dict[str, list[float]]:
        return {
            "porosity": self.porosity.tolist(),
            "k_low": self.k_low.tolist(),
            "k_high": self.k_high.tolist(),
        }


def nearest_by_k(k_train: np.ndarray, k_targets: np.ndarray, count: int) -> np.ndarray:
    """(T, count) positions in ``k_train`` of the ``count`` values nearest each target's k,
    nearest first (a deterministic choice among ties). In 1D the nearest values
    form a window of the sorted values, so only 2 * count candidates per target are compared."""
    k_train = np.asarray(k_train, dtype=float)
    k_targets = np.asarray(k_targets, dtype=float)
    n = len(k_train)
    count = min(int(count), n)
    order = np.argsort(k_train, kind="stable")
    ranks = np.searchsorted(k_train[order], k_targets)
    window = np.clip(ranks[:, None] + np.arange(-count, count)[None, :], 0, n - 1)
    candidates = order[window]  # (T, 2 count), positions in k_train (clipped ends repeat)
    distance = np.abs(k_train[candidates] - k_targets[:, None])
    # sort by distance then position, and drop the repeats the clipping made
    keys = np.lexsort((candidates, distance), axis=1)
    chosen = np.take_along_axis(candidates, keys, axis=1)
    out = np.empty((len(k_targets), count), dtype=np.int64)
    for t, row in enumerate(chosen):
        _, first = np.unique(row, return_index=True)
        out[t] = row[np.sort(first)][:count]
    return out


def nearest_structures(properties: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(T,) position in ``properties`` (n, 2: porosity, k) of the structure nearest each target,
    both properties min-max scaled over ``properties``."""
    from scipy.spatial import cKDTree

    properties = np.asarray(properties, dtype=float)
    lo, hi = properties.min(axis=0), properties.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    tree = cKDTree((properties - lo) / span)
    return tree.query((np.asarray(targets, float) - lo) / span)[1].astype(np.int64)


__all__ = [
    "ReachableBand",
    "draw_targets",
    "nearest_by_k",
    "nearest_structures",
]
