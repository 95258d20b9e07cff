"""How a split of structures into train / validation / test sets is counted, and the config
check that every set a stage uses holds at least one structure.

One rounding for both: :func:`split_counts` is what :func:`poredesign.learn.data.split_indices`
draws, so the check before any job refuses exactly the configs whose training would see an empty
set (an empty validation set chooses the "best" model on nothing; an empty test set reports no
metrics, silently).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SPLIT_NAMES = ("train", "validation", "test")

#: stages that need no trained model (every other stage trains or reads one)
NO_MODEL_STAGES = frozenset({"generate", "simulate", "imports"})


def split_counts(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """Structures in (train, validation, test) of ``n`` split by ``fractions`` (rounded; train
    takes the remainder)."""
    n_val = int(round(fractions[1] * n))
    n_test = int(round(fractions[2] * n))
    return n - n_val - n_test, n_val, n_test


def _empty_sets(
    key: str, split: Sequence[float], n: int, what: str, needed: Sequence[str]
) -> list[str]:
    counts = dict(zip(SPLIT_NAMES, split_counts(n, split), strict=True))
    empty = [name for name in needed if counts[name] < 1]
    if not empty:
        return []
    got = ", ".join(f"{name} {count}" for name, count in counts.items())
    return [
        f"config key '{key}': {list(split)} of {n} structures ({what}) leaves the "
        f"{' and '.join(empty)} set empty ({got}); allowed: fractions (or more structures) that "
        f"give each of {', '.join(needed)} at least one structure"
    ]


def split_problems(config: Mapping[str, Any]) -> list[str]:
    """Every set the configured stages use is non-empty: train, validation (best model, early
    stopping) and test (metrics) of ``learn.split`` whenever a model is trained, for the dataset
    and for the solver-labelled subset a surrogate trains on; train and test of
    ``transfer_data.split`` (its regressor trains without validation, as in the paper's 250/50)."""
    stages = set(config.get("stages", []))
    problems: list[str] = []
    n = int(config.get("dataset", {}).get("n_structures", 0))
    split = config.get("learn", {}).get("split")
    if split is not None and stages - NO_MODEL_STAGES:
        problems += _empty_sets("learn.split", split, n, "dataset.n_structures", SPLIT_NAMES)
        subset = config.get("labels", {}).get("solver_subset")
        if subset is not None and subset < n and not problems:
            problems += _empty_sets(
                "learn.split", split, int(subset), "labels.solver_subset", SPLIT_NAMES
            )
    transfer = config.get("transfer_data", {})
    if "transfer" in stages and transfer.get("split") is not None:
        problems += _empty_sets(
            "transfer_data.split",
            transfer["split"],
            int(transfer.get("n_structures", 0)),
            "transfer_data.n_structures",
            ("train", "test"),
        )
    return problems


__all__ = ["NO_MODEL_STAGES", "SPLIT_NAMES", "split_counts", "split_problems"]
