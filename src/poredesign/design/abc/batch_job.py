"""pyABC's per-particle step (``simulate_one``) applied to a batch of proposals.

:class:`BatchJob` reads the ingredients of one pyABC ``simulate_one`` closure (a
``functools.partial`` of ``pyabc.inference_util._simulate_one``, or of
``_simulate_one_from_prior`` for a calibration sample) and performs the same steps on k particles
at once: proposals (:meth:`BatchJob.propose`, as ``generate_valid_proposal``: from the prior at
t = 0, else from the fitted transition with zero-prior-density redraws), simulation (one
``sample_batch`` call per model when the model offers it), distance and acceptance
(:meth:`BatchJob.evaluate`) and importance weights (:meth:`BatchJob.weight`). The sampler
(:mod:`poredesign.design.abc.sampler`) decides how many particles to request and where to stop.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyabc
from pyabc.acceptor import UniformAcceptor
from pyabc.inference_util import inference_util as _iu
from pyabc.parameters import Parameter
from pyabc.population import Particle

log = logging.getLogger(__name__)


def _is_partial_of(f: Callable, target: Callable) -> bool:
    return isinstance(f, functools.partial) and f.func is target


def _param_frame(rows: Sequence[Parameter] | pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    return frame[list(names)].reset_index(drop=True).astype(np.float64)


def prior_density_batch(prior: pyabc.DistributionBase, params: pd.DataFrame) -> np.ndarray:
    """The prior density of each row of ``params`` (vectorised where the prior allows it)."""
    k = len(params)
    try:
        dens = np.asarray(prior.pdf({c: params[c].to_numpy() for c in params.columns}), float)
        if dens.shape == (k,):
            return dens
        if dens.shape == () and k == 1:
            return dens.reshape(1)
    except Exception:  # noqa: BLE001  (a prior that only evaluates one Parameter at a time)
        pass
    return np.array(
        [float(prior.pdf(Parameter(row._asdict()))) for row in params.itertuples(index=False)]
    )


def prior_rvs_batch(prior: pyabc.DistributionBase, k: int, names: Sequence[str]) -> pd.DataFrame:
    """k draws from the prior as a frame with columns ``names``."""
    if isinstance(prior, pyabc.Distribution) and hasattr(prior, "rvs_batch"):
        return _param_frame(prior.rvs_batch(k), names)
    if type(prior) is pyabc.Distribution and all(isinstance(v, pyabc.RV) for v in prior.values()):
        draw = prior.rvs(size=k)
        return _param_frame(pd.DataFrame({key: np.asarray(draw[key]) for key in names}), names)
    return _param_frame([prior.rvs() for _ in range(k)], names)


@dataclass
class BatchJob:
    """The pieces of one pyABC ``simulate_one`` closure, applied to batches."""

    t: int
    models: list
    model_prior: Any
    parameter_priors: list
    summary_statistics: Callable
    calibration: bool = False
    m: np.ndarray | None = None
    p: np.ndarray | None = None
    model_perturbation_kernel: Any = None
    transitions: list | None = None
    x_0: dict | None = None
    distance_function: Any = None
    eps: Any = None
    acceptor: Any = None
    weight_function: Callable | None = None
    proposal_id: int = 0
    names: dict[int, list[str]] = field(default_factory=dict)

    @classmethod
    def from_closure(cls, simulate_one: Callable) -> BatchJob | None:
        """The job of a pyABC ``simulate_one`` closure; None for one it does not know."""
        if _is_partial_of(simulate_one, _iu._simulate_one) and simulate_one.keywords.get(
            "evaluate", True
        ):
            return cls.from_simulate_one(simulate_one)
        if _is_partial_of(simulate_one, _iu._simulate_one_from_prior):
            return cls.from_prior_simulate(simulate_one)
        return None

    @classmethod
    def from_simulate_one(cls, f: functools.partial) -> BatchJob:
        kw = f.keywords
        return cls(
            t=kw["t"],
            models=kw["models"],
            model_prior=kw["model_prior"],
            parameter_priors=kw["parameter_priors"],
            summary_statistics=kw["summary_statistics"],
            m=np.asarray(kw["m"]),
            p=np.asarray(kw["p"]),
            model_perturbation_kernel=kw["model_perturbation_kernel"],
            transitions=kw["transitions"],
            x_0=kw["x_0"],
            distance_function=kw["distance_function"],
            eps=kw["eps"],
            acceptor=kw["acceptor"],
            weight_function=kw["weight_function"],
            proposal_id=kw.get("proposal_id", 0),
        )

    @classmethod
    def from_prior_simulate(cls, f: functools.partial) -> BatchJob:
        kw = f.keywords
        return cls(
            t=0,
            models=kw["models"],
            model_prior=kw["model_prior"],
            parameter_priors=kw["parameter_priors"],
            summary_statistics=kw["summary_statistics"],
            calibration=True,
        )

    # -- proposals ------------------------------------------------------------------------------
    def _names(self, m: int) -> list[str]:
        if m not in self.names:
            prior = self.parameter_priors[m]
            model = self.models[m]
            self.names[m] = list(getattr(model, "param_names", None) or prior.keys())
        return self.names[m]

    def _single_model(self) -> int | None:
        if self.calibration or self.t == 0:
            n_models = len(self.models)
            return 0 if n_models == 1 else None
        return int(self.m[0]) if len(self.m) == 1 else None

    def propose(self, k: int) -> tuple[np.ndarray, dict[int, pd.DataFrame], int]:
        """k valid proposals in proposal order.

        Returns the model of each proposal (k,), the parameters grouped by model
        ({m: frame of that model's proposals, in proposal order}) and the zero-prior redraw count.
        """
        m = self._single_model()
        if m is None:  # several models: pyABC's own proposal, one at a time
            models = np.empty(k, dtype=int)
            draws: dict[int, list[Parameter]] = {}
            for i in range(k):
                m_ss, theta = _iu.generate_valid_proposal(
                    t=self.t,
                    m=self.m if self.m is not None else np.arange(len(self.models)),
                    p=self.p,
                    model_prior=self.model_prior,
                    parameter_priors=self.parameter_priors,
                    model_perturbation_kernel=self.model_perturbation_kernel,
                    transitions=self.transitions,
                )
                models[i] = int(m_ss)
                draws.setdefault(int(m_ss), []).append(theta)
            frames = {mm: _param_frame(rows, self._names(mm)) for mm, rows in draws.items()}
            return models, frames, 0
        names = self._names(m)
        prior = self.parameter_priors[m]
        models = np.full(k, m, dtype=int)
        if self.calibration or self.t == 0:
            return models, {m: prior_rvs_batch(prior, k, names)}, 0
        # later generations: perturb the previous population, redraw zero prior density
        frame = _param_frame(self.transitions[m].rvs(size=k), names)
        model_pmf = float(self.model_prior.pmf(m))
        valid = model_pmf * prior_density_batch(prior, frame) > 0
        redraws, rounds = 0, 0
        while not valid.all():
            bad = np.flatnonzero(~valid)
            redraws += len(bad)
            rounds += 1
            if rounds == 1000:
                log.warning(
                    "Unusually many (model, parameter) samples have prior density zero. "
                    "The transition might be inappropriate."
                )
            fresh = _param_frame(self.transitions[m].rvs(size=len(bad)), names)
            frame.iloc[bad] = fresh.to_numpy()
            valid[bad] = model_pmf * prior_density_batch(prior, fresh) > 0
        return models, {m: frame}, redraws

    # -- simulation, distance, acceptance -------------------------------------------------------
    def _simulate(self, m: int, frame: pd.DataFrame) -> list[dict]:
        model = self.models[m]
        if hasattr(model, "sample_batch"):
            raw = model.sample_batch(frame)
            return [self.summary_statistics(r) for r in raw]
        return [
            model.summary_statistics(
                self.t, Parameter(row._asdict()), self.summary_statistics
            ).sum_stat
            for row in frame.itertuples(index=False)
        ]

    def _accept(self, stats: list[dict], params: list[Parameter]):
        acceptor = self.acceptor
        distance = self.distance_function
        if (
            type(acceptor) is UniformAcceptor
            and not acceptor.use_complete_history
            and hasattr(distance, "batch")
        ):
            d = np.asarray(distance.batch(stats, self.x_0, self.t, params), dtype=float)
            return d, d <= self.eps(self.t), np.ones(len(stats))
        results = [
            acceptor(distance_function=distance, eps=self.eps, x=x, x_0=self.x_0, t=self.t, par=par)
            for x, par in zip(stats, params, strict=True)
        ]
        return (
            np.array([r.distance for r in results], dtype=float),
            np.array([bool(r.accept) for r in results]),
            np.array([r.weight for r in results], dtype=float),
        )

    def run_batch(self, k: int) -> tuple[list[tuple[Particle, float]], int]:
        """Propose, simulate and judge k particles.

        Returns (particle, acceptance weight) pairs in proposal order, and the zero-prior redraw
        count. Accepted particles still carry weight 0: :meth:`weight` gives their importance
        weight once the sampler counts them.
        """
        models, frames, redraws = self.propose(k)
        return self.evaluate(models, frames), redraws

    def evaluate(
        self, models: np.ndarray, frames: dict[int, pd.DataFrame]
    ) -> list[tuple[Particle, float]]:
        """Simulate (one model call per model), compute distances and accept; proposal order."""
        results: dict[int, list[tuple[Particle, float]]] = {}
        for m, frame in frames.items():
            stats = self._simulate(m, frame)
            params = [
                Parameter({c: float(v) for c, v in zip(frame.columns, row, strict=True)})
                for row in frame.to_numpy()
            ]
            if self.calibration:  # pyABC's calibration particles: all accepted, weight 1
                n = len(stats)
                d, acc, acc_weight = np.full(n, np.inf), np.ones(n, dtype=bool), np.ones(n)
                weight, proposal_id = 1.0, 0
            else:
                d, acc, acc_weight = self._accept(stats, params)
                weight, proposal_id = 0.0, self.proposal_id
            results[m] = [
                (
                    Particle(
                        m=m,
                        parameter=par,
                        weight=weight,
                        sum_stat=x,
                        distance=float(d[i]),
                        accepted=bool(acc[i]),
                        proposal_id=proposal_id,
                        preliminary=False,
                    ),
                    float(acc_weight[i]),
                )
                for i, (x, par) in enumerate(zip(stats, params, strict=True))
            ]
        # back to proposal order (the sampler truncates at the n-th acceptance: the order must
        # not depend on the model or the outcome)
        position = dict.fromkeys(results, 0)
        ordered = []
        for m in models:
            ordered.append(results[m][position[m]])
            position[m] += 1
        return ordered

    def weight(self, particle: Particle, acceptance_weight: float) -> float:
        """pyABC's importance weight of an accepted particle (1 for calibration samples)."""
        if self.calibration:
            return 1.0
        return float(self.weight_function(particle.m, particle.parameter, acceptance_weight))
