"""A pyABC sampler that evaluates whole batches of proposals with one model call.

pyABC (0.13) hands a sampler a ``simulate_one`` closure (a ``functools.partial`` of
``pyabc.inference_util._simulate_one``, or of ``_simulate_one_from_prior`` for a calibration
sample) that draws one proposal, simulates it, computes its distance, decides acceptance and
weights it. Calling it once per particle would run the model (structure generation + CNN) one
structure at a time. :class:`BatchSampler` reads the same ingredients from the closure's keywords
and performs the same steps on a batch (:class:`~poredesign.design.abc.batch_job.BatchJob`):

1. **Proposals** (as ``generate_valid_proposal``): at t = 0 from the prior; at t > 0 from the
   fitted transition of the previous population, redrawing every proposal whose prior density is
   zero (not counted as an evaluation, exactly as pyABC). Single-model runs are vectorised
   (``prior.rvs(size=k)``, ``transition.rvs(size=k)``); several models fall back to pyABC's own
   ``generate_valid_proposal`` per proposal.
2. **Simulation**: one call ``model.sample_batch(params)`` per batch for models offering it
   (:class:`BatchModel`); other pyABC models are simulated one by one.
3. **Acceptance**: pyABC's acceptor on every particle; for the common case of a
   ``UniformAcceptor`` (current time only) and a distance with a vectorised ``batch`` method the
   same rule ``d <= eps(t)`` with acceptance weight 1 is applied to the whole batch at once.
4. **Weights**: pyABC's ``weight_function`` from the closure (prior density / proposal density
   times the acceptance weight; 1 at t = 0) for each accepted particle, 0 for rejected ones;
   ``ABCSMC`` normalises the accepted weights to sum 1 afterwards, as for any sampler.

Particles are appended to the :class:`pyabc.Sample` in proposal order and the generation stops at
the n-th accepted one, so the sample is the one a sequential sampler (``SingleCoreSampler``) would
have produced from the same stream of proposals: the particles of the last batch after the n-th
acceptance are discarded. ``nr_evaluations_`` (what pyABC stores as the number of samples and uses
for the acceptance rate) counts the proposals up to and including the n-th acceptance, as in
``SingleCoreSampler``; the model evaluations actually paid for, including the discarded tail, are
recorded in :attr:`BatchSampler.generations` (``model_evaluations``).

Termination: the generation ends unsuccessfully (``sample.ok = False``, so ``ABCSMC`` stops)
once ``max_eval`` proposals were counted (``ABCSMC`` passes ``population / min_acceptance_rate``),
or once the run's ``max_total_nr_simulations`` would be exceeded (read from ``ana_vars``); the
last batch is trimmed so neither is overshot. Batch sizes adapt to the acceptance rate seen so
far in the generation (``safety * still_needed / rate``, within ``[min_batch_size, batch_size]``;
before the first batch of a generation the previous generation's rate).

Randomness: proposals come from numpy's global random state, as everywhere in pyABC (seed it with
``np.random.seed``); the model draws its own structures from its own seeds. Batch sizes depend
only on counts, so a seeded run is reproducible for a fixed ``batch_size``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyabc
from pyabc.parameters import Parameter
from pyabc.sampler import Sampler

from poredesign.design.abc.batch_job import BatchJob

log = logging.getLogger(__name__)

#: why a generation ended: enough acceptances, max_eval (pyABC's population / min_acceptance_rate)
#: reached, or the run's max_total_nr_simulations reached
STOP_OK, STOP_MAX_EVAL, STOP_BUDGET = "ok", "max_eval", "simulation_budget"


class BatchModel(pyabc.Model):
    """A pyABC model whose simulations can be run as a batch.

    ``predict_batch(theta)`` maps an (B, p) float array of parameters, columns in
    ``param_names`` order, to an (B, d) array of summary statistics; the particle's summary
    statistics are ``{stat_name: row}``. ``sample`` (one particle, as pyABC's own samplers call it)
    runs the same function on a batch of one, so a ``SingleCoreSampler`` sees the same model.
    """

    def __init__(
        self,
        predict_batch: Callable[[np.ndarray], np.ndarray],
        param_names: Sequence[str],
        stat_name: str = "eta",
        name: str = "batch_model",
    ):
        super().__init__(name=name)
        self.predict_batch = predict_batch
        self.param_names = list(param_names)
        self.stat_name = stat_name

    def _as_array(self, params: pd.DataFrame | Sequence[Parameter]) -> np.ndarray:
        if isinstance(params, pd.DataFrame):
            return params[self.param_names].to_numpy(dtype=np.float64)
        return np.array([[float(p[k]) for k in self.param_names] for p in params])

    def sample_batch(self, params: pd.DataFrame | Sequence[Parameter]) -> list[dict]:
        theta = self._as_array(params)
        stats = np.asarray(self.predict_batch(theta), dtype=np.float64)
        if stats.ndim != 2 or stats.shape[0] != theta.shape[0]:
            raise ValueError(
                f"model {self.name!r}: predict_batch returned shape {stats.shape} for "
                f"{theta.shape[0]} parameter rows; expected ({theta.shape[0]}, d)"
            )
        return [{self.stat_name: row} for row in stats]

    def sample(self, pars: Parameter) -> dict:
        return self.sample_batch([pars])[0]


@dataclass
class GenerationStats:
    """What one call of ``sample_until_n_accepted`` did (also for failed generations)."""

    t: int
    epsilon: float | None
    requested: int
    accepted: int
    nr_evaluations: int  # proposals counted as pyABC counts them (up to the n-th acceptance)
    model_evaluations: int  # proposals simulated, including the discarded tail of the last batch
    batches: int
    best_distance: float  # smallest distance among all model evaluations of the generation
    zero_prior_redraws: int
    wall_time: float
    stop: str  # STOP_OK, STOP_MAX_EVAL or STOP_BUDGET
    max_eval: float
    calibration: bool = False

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.nr_evaluations if self.nr_evaluations else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "acceptance_rate": self.acceptance_rate}


class BatchSampler(Sampler):
    """pyABC sampler that proposes, simulates and accepts whole batches (see module docstring).

    Parameters
    ----------
    batch_size: most proposals simulated in one model call.
    min_batch_size: fewest proposals per model call (except where max_eval trims the last one).
    safety: a batch aims at ``safety * still_needed / acceptance_rate`` proposals.
    check_max_eval: stop a generation at ``max_eval`` counted proposals (``sample.ok = False``).
    check_max_total: also stop at the run's ``max_total_nr_simulations`` (from ``ana_vars``).
    """

    def __init__(
        self,
        batch_size: int = 4096,
        min_batch_size: int = 64,
        safety: float = 1.2,
        check_max_eval: bool = True,
        check_max_total: bool = True,
    ):
        super().__init__()
        if batch_size < 1 or min_batch_size < 1 or min_batch_size > batch_size:
            raise ValueError(
                f"BatchSampler needs 1 <= min_batch_size <= batch_size; got "
                f"min_batch_size={min_batch_size}, batch_size={batch_size}"
            )
        self.batch_size = int(batch_size)
        self.min_batch_size = int(min_batch_size)
        self.safety = float(safety)
        self.check_max_eval = check_max_eval
        self.check_max_total = check_max_total
        self.generations: list[GenerationStats] = []
        self.total_model_evaluations = 0

    # -- pyABC protocol -------------------------------------------------------------------------
    def sample_until_n_accepted(
        self,
        n,
        simulate_one,
        t,
        *,
        max_eval=np.inf,
        all_accepted=False,
        ana_vars=None,
    ):
        start = time.perf_counter()
        limit, stop_kind = self._eval_limit(max_eval, ana_vars)
        job = BatchJob.from_closure(simulate_one)
        if job is None:
            log.warning(
                "BatchSampler: unknown simulate_one %r; evaluating one by one", simulate_one
            )

        sample = self._create_empty_sample()
        counted = accepted = simulated = batches = 0
        best = math.inf
        redraws = 0
        first_rate = self._first_rate(t)
        while accepted < n and counted < limit:
            rate = accepted / counted if counted else first_rate
            k = self._batch_count(job, n - accepted, rate, limit - counted)
            if job is None:
                particles = [(simulate_one(), None)]
            else:
                particles, batch_redraws = job.run_batch(k)
                redraws += batch_redraws
            batches += 1
            simulated += len(particles)
            best = min([best, *(p.distance for p, _ in particles if np.isfinite(p.distance))])
            for particle, acceptance_weight in particles:
                counted += 1
                if particle.accepted and job is not None:
                    particle.weight = job.weight(particle, acceptance_weight)
                sample.append(particle)
                if particle.accepted:
                    accepted += 1
                    if accepted == n:
                        break

        self.nr_evaluations_ = counted
        self.total_model_evaluations += simulated
        if accepted < n:
            sample.ok = False
        stop = STOP_OK if accepted >= n else stop_kind
        eps = None if job is None or job.eps is None else float(job.eps(t))
        self._record(
            GenerationStats(
                t=int(t),
                epsilon=eps,
                requested=int(n),
                accepted=accepted,
                nr_evaluations=counted,
                model_evaluations=simulated,
                batches=batches,
                best_distance=best,
                zero_prior_redraws=redraws,
                wall_time=time.perf_counter() - start,
                stop=stop,
                max_eval=float(limit),
                calibration=bool(job is not None and job.calibration),
            )
        )
        return sample

    def _first_rate(self, t: int) -> float:
        """The acceptance rate assumed before a generation's first batch: the previous
        generation's (an upper bound, as the tolerance shrinks), or 1 for the first."""
        previous = [g for g in self.generations if not g.calibration and g.accepted]
        return previous[-1].acceptance_rate if previous and t > 0 else 1.0

    def _batch_count(self, job: BatchJob | None, needed: int, rate: float, left: float) -> int:
        """Proposals in the next model call: enough for the ``needed`` acceptances at ``rate``
        (with a safety factor), within the batch bounds and the ``left`` evaluations."""
        if job is None:
            k = 1
        elif job.calibration:
            k = needed
        else:
            want = self.batch_size if rate == 0 else math.ceil(self.safety * needed / rate)
            k = min(self.batch_size, max(self.min_batch_size, want))
        return min(k, int(left)) if math.isfinite(left) else k

    def _record(self, stats: GenerationStats) -> None:
        """Keep a generation's statistics; warn when it stopped short."""
        self.generations.append(stats)
        if stats.stop != STOP_OK:
            log.warning(
                "generation t=%d (eps=%s) stopped after %d evaluations with %d of %d accepted "
                "(%s); best distance %.4g",
                stats.t,
                stats.epsilon,
                stats.nr_evaluations,
                stats.accepted,
                stats.requested,
                stats.stop,
                stats.best_distance,
            )

    def _eval_limit(self, max_eval: float, ana_vars) -> tuple[float, str]:
        limit, kind = (float(max_eval), STOP_MAX_EVAL) if self.check_max_eval else (np.inf, "")
        if self.check_max_total and ana_vars is not None:
            total = getattr(ana_vars, "max_total_nr_simulations", np.inf)
            done = getattr(ana_vars, "prev_total_nr_simulations", 0) or 0
            if total is not None and np.isfinite(total):
                left = max(float(total) - float(done), 0.0)
                if left < limit:
                    limit, kind = left, STOP_BUDGET
        return limit, kind
