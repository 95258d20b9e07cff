"""Flat priors over generator parameters for ABC [SPEC 4.1].

:class:`BoxPrior` is uniform on a box of bounds, optionally restricted to a support set (density
constant inside it, zero outside; the normalising constant cancels in the importance weights).
:func:`spinodoid_prior` builds the spinodoid dataset's region from the ``SpinodoidSampler`` ranges
(:func:`spinodoid_prior_from_config`: from the study's ``spinodoid`` section, the one builder the
stages use): the box of attainable (a_x, a_y, a_z, porosity) and, by default (``restrict=True``),
the sampler's support inside it, i.e. max(a)/min(a) within ``beta_range`` (the sampler's (1, alpha,
beta) with 1 <= alpha <= beta) and mean(a) within ``m_range``. The box alone also contains strongly
anisotropic and very coarse or fine structures that the CNN never saw in training (anisotropy up to
17 instead of 3), where its predictions are extrapolations; restricting keeps the posterior where
the surrogate is trained. The prior is flat over that region, not the dataset's (non-uniform)
sampling density.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyabc
from pyabc.parameters import Parameter

SPINODOID_PARAMS = ("a_x", "a_y", "a_z", "porosity")


class BoxPrior(pyabc.Distribution):
    """Flat prior on a box, optionally restricted to ``support(theta (B, p)) -> bool (B,)``.

    The density is prod 1/(hi - lo) inside the box and the support, 0 elsewhere (the constant
    is not renormalised for the restriction: it cancels in the importance weights). Draws are
    uniform on box ∩ support by rejection, from numpy's global random state as pyABC's RVs.
    """

    def __init__(
        self,
        bounds: Mapping[str, Sequence[float]],
        support: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        bounds = {str(k): (float(v[0]), float(v[1])) for k, v in bounds.items()}
        for name, (lo, hi) in bounds.items():
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise ValueError(
                    f"prior bounds for {name!r} must be finite with lo < hi; got ({lo}, {hi})"
                )
        super().__init__({k: pyabc.RV("uniform", lo, hi - lo) for k, (lo, hi) in bounds.items()})
        self.bounds = bounds
        self.support = support
        self.names = list(bounds)
        self._lo = np.array([b[0] for b in bounds.values()])
        self._hi = np.array([b[1] for b in bounds.values()])
        self._density = float(np.prod(1.0 / (self._hi - self._lo)))

    def copy(self) -> BoxPrior:
        return BoxPrior(self.bounds, self.support)

    def __reduce__(self):
        return (BoxPrior, (self.bounds, self.support))

    def inside(self, theta: np.ndarray) -> np.ndarray:
        """Whether each row of ``theta`` (columns in ``names`` order) has positive density."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        ok = np.all((theta >= self._lo) & (theta <= self._hi), axis=1)
        if self.support is not None and ok.any():
            ok[ok] = np.asarray(self.support(theta[ok]), dtype=bool)
        return ok

    def pdf(self, x: Parameter | Mapping[str, Any]):
        if sorted(x.keys()) != sorted(self.names):
            raise ValueError(f"prior parameters are {self.names}; got {sorted(x.keys())}")
        columns = [np.asarray(x[k], dtype=float) for k in self.names]
        shape = np.broadcast(*columns).shape
        theta = np.stack([np.broadcast_to(c, shape).ravel() for c in columns], axis=1)
        dens = np.where(self.inside(theta), self._density, 0.0).reshape(shape)
        return float(dens) if shape == () else dens

    def rvs_batch(self, k: int) -> pd.DataFrame:
        """``k`` draws, uniform on box ∩ support (rejection sampling)."""
        out = np.empty((0, len(self.names)))
        rounds = 0
        while len(out) < k:
            want = max(k - len(out), 16)
            # numpy's global state, like pyABC's own RVs, so np.random.seed fixes the run
            cand = np.random.uniform(  # noqa: NPY002
                self._lo, self._hi, size=(2 * want, len(self.names))
            )
            out = np.concatenate([out, cand[self.inside(cand)]])
            rounds += 1
            if rounds > 10_000:
                raise RuntimeError(f"prior support is (almost) empty inside the box {self.bounds}")
        return pd.DataFrame(out[:k], columns=self.names)

    def rvs(self, *args, size: int | None = None, **kwargs) -> Parameter | pd.DataFrame:
        if size is None:
            row = self.rvs_batch(1).iloc[0]
            return Parameter({k: float(row[k]) for k in self.names})
        return self.rvs_batch(int(size))

    def describe(self) -> dict[str, Any]:
        return {
            "bounds": {k: list(v) for k, v in self.bounds.items()},
            "support": repr(self.support) if self.support is not None else None,
        }


@dataclass(frozen=True)
class SpinodoidSupport:
    """The parameter set :class:`~poredesign.structures.SpinodoidSampler` can draw a from:
    max(a)/min(a) in ``beta_range`` and mean(a) in ``m_range`` (columns a_x, a_y, a_z first)."""

    m_range: tuple[float, float] = (0.05, 0.2)
    beta_range: tuple[float, float] = (1.0, 3.0)

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        a = np.atleast_2d(np.asarray(theta, dtype=float))[:, :3]
        ratio = a.max(axis=1) / a.min(axis=1)
        mean = a.mean(axis=1)
        tol = 1e-12
        return (
            (ratio >= self.beta_range[0] - tol)
            & (ratio <= self.beta_range[1] + tol)
            & (mean >= self.m_range[0] - tol)
            & (mean <= self.m_range[1] + tol)
        )


def spinodoid_prior_bounds(
    m_range: Sequence[float] = (0.05, 0.2),
    beta_range: Sequence[float] = (1.0, 3.0),
    porosity_range: Sequence[float] = (0.3, 0.85),
) -> dict[str, tuple[float, float]]:
    """The smallest box holding every (a_x, a_y, a_z, porosity) the spinodoid sampler draws.

    a = (1, alpha, beta) * m / mean(1, alpha, beta), 1 <= alpha <= beta: the smallest component
    is 3 m_min / (1 + 2 beta_max) (alpha = beta = beta_max), the largest
    3 beta_max m_max / (2 + beta_max) (alpha = 1).
    """
    m_lo, m_hi = map(float, m_range)
    b_hi = float(beta_range[1])
    a_lo, a_hi = 3 * m_lo / (1 + 2 * b_hi), 3 * b_hi * m_hi / (2 + b_hi)
    bounds = {name: (a_lo, a_hi) for name in SPINODOID_PARAMS[:3]}
    bounds["porosity"] = (float(porosity_range[0]), float(porosity_range[1]))
    return bounds


def spinodoid_prior(
    m_range: Sequence[float] = (0.05, 0.2),
    beta_range: Sequence[float] = (1.0, 3.0),
    porosity_range: Sequence[float] = (0.3, 0.85),
    restrict: bool = True,
) -> BoxPrior:
    """Flat prior over the spinodoid dataset's parameter region (see the module docstring).

    Pass the same ranges as the study's ``SpinodoidSampler`` (``sampler.m_range`` etc.).
    ``restrict=False`` gives the plain box of :func:`spinodoid_prior_bounds`.
    """
    support = SpinodoidSupport(tuple(map(float, m_range)), tuple(map(float, beta_range)))
    return BoxPrior(
        spinodoid_prior_bounds(m_range, beta_range, porosity_range), support if restrict else None
    )


def spinodoid_prior_from_config(spinodoid: Mapping[str, Any], restrict: bool = True) -> BoxPrior:
    """:func:`spinodoid_prior` over the region of the study's ``spinodoid`` config section (its
    ``m_range``, ``beta_range`` and ``porosity_range``: the ranges the dataset was drawn from)."""
    return spinodoid_prior(
        spinodoid["m_range"],
        spinodoid["beta_range"],
        spinodoid["porosity_range"],
        restrict=restrict,
    )
