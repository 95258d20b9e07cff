"""A residual correction of the surrogate in parameter space, fitted on the refinement labels.

The CNN is one function of the (rotated) structure for every axis; near a design its error can
be systematic per axis (default study, eta2 design: -5 %, +7 %, +7 % along x, y, z; after 8
epochs of fine-tuning on 48 labels still +1 %, +5 %, +3 % on the next round's labels), and a
least-squares refit of its last layer on those labels left up to 4.6 % on one axis, while this
correction left about 1 % per axis. The ABC model knows each particle's parameters theta, so the
remaining bias is corrected where it is measured: per axis a,

    logit(eta_a) = logit(CNN_a(structure)) + c_a + d_a . (theta - theta_0) / s,

with (c_a, d_a) fitted by ridge least squares (penalty ``ridge`` on the slopes only) to the
logit residuals of every refinement label so far (theta_0, s: their mean and std per parameter).
Fewer labels than ``min_labels_for_slope`` fit the offsets c_a only. The correction is local by
construction: it is fitted on posterior draws and used by ABC reruns that start from the
posterior, never across the whole prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from poredesign.learn.uncertainty import clipped_logit, logit_residuals


@dataclass
class ParameterCorrection:
    """Per-axis offsets ``offset`` (d,) and slopes ``slope`` (d, p) on standardised theta."""

    offset: np.ndarray
    slope: np.ndarray
    center: np.ndarray
    scale: np.ndarray

    @classmethod
    def none(cls, n_params: int, n_stats: int = 3) -> ParameterCorrection:
        return cls(
            np.zeros(n_stats), np.zeros((n_stats, n_params)), np.zeros(n_params), np.ones(n_params)
        )

    @classmethod
    def fit(
        cls,
        theta: np.ndarray,
        pred: np.ndarray,
        true: np.ndarray,
        ridge: float = 1.0,
        min_labels_for_slope: int = 32,
    ) -> ParameterCorrection:
        """Fit to labels ``true`` (k, d) of structures at ``theta`` (k, p) that the uncorrected
        surrogate predicted as ``pred`` (k, d); labels not finite and positive are left out."""
        theta, pred, true = (np.asarray(v, float) for v in (theta, pred, true))
        ok = np.all(np.isfinite(true) & (true > 0), axis=1)
        theta, residual = theta[ok], logit_residuals(pred[ok], true[ok])
        k, p = theta.shape
        center = theta.mean(axis=0)
        scale = theta.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        if k < min_labels_for_slope:
            return cls(residual.mean(axis=0), np.zeros((true.shape[1], p)), center, scale)
        x = np.hstack([np.ones((k, 1)), (theta - center) / scale])
        penalty = np.diag([0.0] + [float(ridge)] * p)
        coef = np.linalg.solve(x.T @ x + penalty, x.T @ residual)  # (1 + p, d)
        return cls(coef[0], coef[1:].T, center, scale)

    def __call__(self, theta: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """Corrected eta (B, d) of surrogate predictions ``eta`` (B, d) at ``theta`` (B, p)."""
        theta = np.atleast_2d(np.asarray(theta, float))
        shift = self.offset + ((theta - self.center) / self.scale) @ self.slope.T
        return expit(clipped_logit(eta) + shift)

    def as_dict(self) -> dict:
        return {k: getattr(self, k).tolist() for k in ("offset", "slope", "center", "scale")}

    @classmethod
    def from_dict(cls, data: dict) -> ParameterCorrection:
        return cls(*(np.asarray(data[k], float) for k in ("offset", "slope", "center", "scale")))
