"""Predictive spread of the diffusivity CNN, calibrated on held-out data.

The CNN predicts y = logit(eta) along one axis (SPEC 3.1, trained with an MSE loss on y). Its
predictive distribution is taken as Gaussian on that training scale,

    logit(eta_true) ~ N(logit(eta_pred), sigma_a^2),

with one standard deviation sigma_a per transport axis a (x, y, z), estimated as the root mean
square of the logit residuals of held-out views (the validation split at training time; the
solver labels of new structures in the refinement loop, :mod:`poredesign.design.refine`).
On the linear scale the k-sigma interval is [sigmoid(y - k sigma_a), sigmoid(y + k sigma_a)]
(asymmetric, always inside (0, 1)) and the spread is eta (1 - eta) sigma_a to first order.

Why not a deep ensemble: K members cost K trainings and K times the inference inside ABC, which
the CPU budget of the default study does not allow; the Gaussian error model costs nothing at
prediction time, is calibrated where it is used (held-out or design-region labels) and its
calibration is measured on the test split (fraction of solver values inside the 1- and 2-sigma
intervals, nominal 68.3 % and 95.4 %). Its limit: sigma does not vary with the structure within
a region; the refinement loop re-measures it where the design lives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit, logit
from scipy.stats import norm

from poredesign.learn.base import LOGIT_EPS

#: nominal coverage of the k-sigma intervals of a Gaussian, k = 1, 2
NOMINAL_COVERAGE = {1: float(norm.cdf(1) - norm.cdf(-1)), 2: float(norm.cdf(2) - norm.cdf(-2))}


def clipped_logit(eta: np.ndarray) -> np.ndarray:
    """logit(eta) in float64 with eta clipped to [1e-6, 1 - 1e-6], the training target's scale
    (:class:`~poredesign.learn.base.TargetScaler`)."""
    return logit(np.clip(np.asarray(eta, dtype=np.float64), LOGIT_EPS, 1 - LOGIT_EPS))


def logit_residuals(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """logit(true) - logit(pred), on the training target's clipped scale."""
    return clipped_logit(true) - clipped_logit(pred)


@dataclass(frozen=True)
class LogitSpread:
    """Per-axis predictive standard deviation ``sigma`` (3,) of logit(eta); see module docstring.

    ``n`` (3,) counts the held-out views each sigma was estimated from.
    """

    sigma: np.ndarray
    n: np.ndarray

    @classmethod
    def fit(cls, pred: np.ndarray, true: np.ndarray, axis: np.ndarray) -> LogitSpread:
        """sigma_a = RMS of the logit residuals of the views along axis a.

        ``pred``, ``true``: eta of held-out views (V,); ``axis``: their transport axis (V,) in
        0..2. An axis without views takes the RMS over all views.
        """
        residual = logit_residuals(pred, true).ravel()
        axis = np.asarray(axis, dtype=int).ravel()
        if residual.size == 0:
            raise ValueError("a predictive spread needs at least one held-out view")
        overall = float(np.sqrt(np.mean(residual**2)))
        sigma = np.array(
            [
                np.sqrt(np.mean(residual[axis == a] ** 2)) if np.any(axis == a) else overall
                for a in range(3)
            ]
        )
        return cls(sigma, np.array([int(np.sum(axis == a)) for a in range(3)]))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogitSpread:
        return cls(np.asarray(data["sigma_logit"], float), np.asarray(data["n"], int))

    def as_dict(self) -> dict[str, Any]:
        return {"sigma_logit": self.sigma.tolist(), "n": self.n.tolist(), "scale": "logit"}

    def interval(
        self, eta: np.ndarray, k: float = 1.0, axis: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) k-sigma bounds of eta for predictions ``eta`` (..., 3), or for views
        ``eta`` (V,) along ``axis`` (V,)."""
        sigma = self.sigma if axis is None else self.sigma[np.asarray(axis, dtype=int)]
        y = clipped_logit(eta)
        return expit(y - k * sigma), expit(y + k * sigma)

    def std(self, eta: np.ndarray) -> np.ndarray:
        """First-order spread of eta (..., 3): eta (1 - eta) sigma_a (linear scale)."""
        eta = np.asarray(eta, dtype=np.float64)
        return eta * (1.0 - eta) * self.sigma


def coverage(
    pred: np.ndarray, true: np.ndarray, axis: np.ndarray, spread: LogitSpread
) -> dict[str, Any]:
    """Fraction of ``true`` values inside the 1- and 2-sigma intervals of ``pred`` (views (V,)
    along ``axis``), per axis and over all views, with the nominal Gaussian fractions."""
    z = logit_residuals(pred, true).ravel() / spread.sigma[np.asarray(axis, dtype=int).ravel()]
    axis = np.asarray(axis, dtype=int).ravel()
    out: dict[str, Any] = {"n": int(z.size)}
    for k in (1, 2):
        inside = np.abs(z) <= k
        out[f"inside_{k}sigma"] = float(inside.mean()) if z.size else None
        out[f"inside_{k}sigma_per_axis"] = [
            float(inside[axis == a].mean()) if np.any(axis == a) else None for a in range(3)
        ]
        out[f"nominal_{k}sigma"] = NOMINAL_COVERAGE[k]
    return out


def spread_report(
    val: dict[str, np.ndarray], test: dict[str, np.ndarray]
) -> tuple[LogitSpread, dict[str, Any]]:
    """The spread fitted on the validation views and its calibration on the test views.

    ``val`` and ``test`` hold ``pred``, ``true`` (V, 1) eta and ``axis`` (V,) per view (the
    ``predict_split`` values of the diffusivity CNN plus the views' axes).
    """
    spread = LogitSpread.fit(val["pred"], val["true"], val["axis"])
    report = {
        "method": "Gaussian on logit(eta), sigma per axis = RMS logit residual of the "
        "validation split; calibration = coverage on the test split",
        **spread.as_dict(),
        "test_calibration": coverage(test["pred"], test["true"], test["axis"], spread)
        if len(test.get("pred", []))
        else None,
    }
    return spread, report


def view_axes(dataset: Sequence[Any]) -> np.ndarray:
    """The transport axis of each view of a :class:`~poredesign.learn.data.StructureViews`."""
    return np.array([dataset.view(i)[1] for i in range(len(dataset))], dtype=int)
