"""Regression metrics as the papers report them (numpy, per target column)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _pair(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape:
        raise ValueError(f"predictions {pred.shape} and labels {true.shape} differ in shape")
    if pred.ndim == 1:
        pred, true = pred[:, None], true[:, None]
    return pred, true


def mse(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Mean squared error per column."""
    pred, true = _pair(pred, true)
    return np.mean((pred - true) ** 2, axis=0)


def mape(pred, true, axis: int | None = 0):
    """Mean absolute percentage error in percent, ``100 * mean(|pred - true| / |true|)``.

    The one MAPE of the project: regression metrics (per column, ``axis=0``), the ABC distance
    (per proposal, ``axis=1``), design validation (``axis=None``, all values) and the logged
    training metric. Numpy inputs are taken as float64; torch tensors stay tensors (the division
    by ``|true|`` is floored at 1e-12 there, so a zero label cannot turn a logged epoch mean into
    inf). Shapes broadcast.
    """
    if hasattr(pred, "detach"):  # torch: per-batch logging inside a LightningModule
        error = (pred - true).abs() / true.abs().clamp_min(1e-12)
        return 100.0 * (error.mean() if axis is None else error.mean(axis))
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100.0 * np.mean(np.abs(pred - true) / np.abs(true), axis=axis)


def r2(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column (nan when the labels are constant)."""
    pred, true = _pair(pred, true)
    ss_res = np.sum((pred - true) ** 2, axis=0)
    ss_tot = np.sum((true - true.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.nan)


def regression_report(
    pred: np.ndarray,
    true: np.ndarray,
    names: list[str],
    pred_scaled: np.ndarray | None = None,
    true_scaled: np.ndarray | None = None,
) -> dict[str, float]:
    """``mse``/``mape``/``r2`` per target (physical units) plus ``mse_scaled`` on the training
    scale (e.g. the logit of SPEC 3.1), keyed ``<metric>_<target>``; NaN becomes None."""
    out: dict[str, float] = {}
    columns = {"mse": mse(pred, true), "mape": mape(*_pair(pred, true)), "r2": r2(pred, true)}
    if pred_scaled is not None and true_scaled is not None:
        columns["mse_scaled"] = mse(pred_scaled, true_scaled)
    for metric, values in columns.items():
        for name, value in zip(names, np.atleast_1d(values), strict=True):
            out[f"{metric}_{name}"] = None if not np.isfinite(value) else float(value)
    return out


def porosity_only_baseline(
    train_true: np.ndarray, test_true: np.ndarray, targets: list[str], degree: int = 2
) -> dict[str, Any] | None:
    """The trivial baseline of a model that predicts a property next to ``porosity``: a degree-
    ``degree`` polynomial of the true porosity fitted on the training labels (n, len(targets)),
    scored on the test labels (``mse``/``mape``/``r2`` per other target, as
    :func:`regression_report`). A model's figure for that property means something only beside
    this one. None without a porosity target, another target or enough labels."""
    if "porosity" not in targets or len(targets) < 2:
        return None
    train_true = np.asarray(train_true, dtype=float).reshape(-1, len(targets))
    test_true = np.asarray(test_true, dtype=float).reshape(-1, len(targets))
    if len(train_true) <= degree or len(test_true) < 2:
        return None
    j = targets.index("porosity")
    others = [i for i in range(len(targets)) if i != j]
    pred = np.column_stack(
        [
            np.polyval(np.polyfit(train_true[:, j], train_true[:, i], degree), test_true[:, j])
            for i in others
        ]
    )
    report = regression_report(pred, test_true[:, others], [targets[i] for i in others])
    return {"degree": degree, **report}
