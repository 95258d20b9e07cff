"""The ABC distance: MAPE (percent) of a particle's statistics against the target [SPEC 4.1]."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyabc

from poredesign.learn.metrics import mape


class MAPEDistance(pyabc.Distance):
    """rho = 100 * mean_i |x_i - x0_i| / x0_i over the components of ``x[key]`` (percent).

    The target x0 is positive (``run_abc`` checks it). ``batch`` evaluates a list of
    summary-statistic dicts at once (used by the batch sampler); both give identical values.
    """

    def __init__(self, key: str = "eta"):
        super().__init__()
        self.key = key

    def __call__(self, x: dict, x_0: dict, t: int | None = None, par: dict | None = None) -> float:
        return float(mape(x[self.key], x_0[self.key], axis=None))

    def batch(
        self,
        xs: Sequence[dict],
        x_0: dict,
        t: int | None = None,
        pars: Sequence[dict] | None = None,
    ) -> np.ndarray:
        """The distances (B,) of ``xs`` (B dicts) to ``x_0``."""
        values = np.stack([np.asarray(x[self.key], float) for x in xs]).reshape(len(xs), -1)
        return mape(values, x_0[self.key], axis=1)

    def get_config(self) -> dict:
        return {
            "name": "MAPEDistance",
            "key": self.key,
            "formula": "100 * mean_i |x_i - x0_i| / x0_i",
        }
