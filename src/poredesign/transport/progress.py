"""Progress of one solve (iterations, residual, ETA) as throttled one-line reports.

The solvers call ``progress(iterations, residual, target)`` as they go (the Krylov path after
every CG iteration with the relative residual and its tolerance; the flow solver after every
convergence check with the relative change of the mean velocity and its tolerance).
:class:`ProgressLine` turns those calls into lines such as::

    diffusivity x: iteration 12, residual 3.4e-06 -> 1e-05, 25.1 s, ETA 8 s

The ETA extrapolates the residual's mean decay rate (per iteration, on a log scale) since the
first report down to the target, at the mean wall time per iteration so far.
"""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO


class ProgressLine:
    """Callable progress reporter writing at most one line every ``every`` seconds (the first
    after ``every`` seconds, so short solves stay silent)."""

    def __init__(self, label: str, stream: TextIO | None = None, every: float = 2.0):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.every = float(every)
        self.start = time.perf_counter()
        self._first: tuple[int, float, float] | None = None
        self._last_print = self.start  # short solves print nothing
        self.lines = 0

    def eta(self, iterations: int, residual: float, target: float, now: float) -> float:
        """Seconds left (NaN while no decay rate is known)."""
        if residual <= target:
            return 0.0
        if self._first is None or iterations <= self._first[0]:
            return math.nan
        it0, res0, t0 = self._first
        if not (res0 > 0 and residual > 0 and residual < res0):
            return math.nan
        rate = math.log(res0 / residual) / (iterations - it0)
        per_iteration = (now - t0) / (iterations - it0)
        return math.log(residual / target) / rate * per_iteration

    def __call__(self, iterations: int, residual: float, target: float) -> None:
        now = time.perf_counter()
        if self._first is None:
            self._first = (iterations, residual, now)
        if now - self._last_print < self.every:
            return
        self._last_print = now
        eta = self.eta(iterations, residual, target, now)
        eta_text = "?" if math.isnan(eta) else f"{eta:.0f} s"
        print(
            f"{self.label}: iteration {iterations}, residual {residual:.2e} -> {target:.0e}, "
            f"{now - self.start:.1f} s, ETA {eta_text}",
            file=self.stream,
            flush=True,
        )
        self.lines += 1
