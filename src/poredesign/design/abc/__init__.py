"""Inverse design by approximate Bayesian computation (ABC-SMC with pyABC) [R22, SPEC 4.1].

The posterior f(theta | eta*) over generator parameters theta = (a_x, a_y, a_z, porosity) for a
target diffusivity eta* (one pyABC History, an SQLite database, per target). One concern per
module:

- :mod:`.distance`: :class:`MAPEDistance`, rho = 100 * mean_i |eta'_i - eta*_i| / eta*_i (percent).
- :mod:`.prior`: :class:`BoxPrior` (flat on a box, optionally restricted to a support set),
  :class:`SpinodoidSupport`, :func:`spinodoid_prior`, :func:`spinodoid_prior_bounds`,
  :func:`spinodoid_prior_from_config` (the one builder from the study's config).
- :mod:`.surrogate`: the study's model, spinodoids then the CNN (:class:`SpinodoidModel`,
  :func:`spinodoid_cnn_model`).
- :mod:`.sampler` and :mod:`.batch_job`: :class:`BatchSampler`, which proposes, simulates,
  accepts and weights whole batches exactly as pyABC does per particle; :class:`BatchModel`.
- :mod:`.run`: the tolerance schedule, the perturbation kernel, :func:`run_abc` and
  :func:`continue_abc` (more generations from a stored run, with another model).
- :mod:`.result`: :class:`AbcResult`, :class:`Generation`, the summary and the diagnosis of why
  a run ended.
- :mod:`.settings`: :class:`AbcSettings`, the ``design.abc`` section.
- :mod:`.posterior`: the posterior zarr store, the JSON summary, :func:`save_outputs`.
- :mod:`.validate`: a design through the solver: fresh structures at the posterior mean (CNN and
  solver), the upscaling check at k N with a / k.
- :mod:`.figures`: the ABC stages' figures (posterior marginals, validation, refinement).
"""

from poredesign.design.abc.batch_job import BatchJob
from poredesign.design.abc.distance import MAPEDistance
from poredesign.design.abc.figures import plot_marginals
from poredesign.design.abc.posterior import (
    read_posterior_store,
    save_outputs,
    write_posterior_store,
    write_summary,
)
from poredesign.design.abc.prior import (
    SPINODOID_PARAMS,
    BoxPrior,
    SpinodoidSupport,
    spinodoid_prior,
    spinodoid_prior_bounds,
    spinodoid_prior_from_config,
)
from poredesign.design.abc.result import (
    STATUS_BUDGET,
    STATUS_CONVERGED,
    STATUS_LOW_ACCEPTANCE,
    STATUS_WALLTIME,
    AbcResult,
    ABCStoppedError,
    Generation,
)
from poredesign.design.abc.run import (
    continue_abc,
    default_tolerances,
    perturbation_transition,
    run_abc,
    unit_bandwidth,
)
from poredesign.design.abc.sampler import BatchModel, BatchSampler, GenerationStats
from poredesign.design.abc.settings import AbcSettings
from poredesign.design.abc.surrogate import SpinodoidModel, spinodoid_cnn_model

__all__ = [
    "SPINODOID_PARAMS",
    "STATUS_BUDGET",
    "STATUS_CONVERGED",
    "STATUS_LOW_ACCEPTANCE",
    "STATUS_WALLTIME",
    "ABCStoppedError",
    "AbcResult",
    "AbcSettings",
    "BatchJob",
    "BatchModel",
    "BatchSampler",
    "BoxPrior",
    "Generation",
    "GenerationStats",
    "MAPEDistance",
    "SpinodoidModel",
    "SpinodoidSupport",
    "continue_abc",
    "default_tolerances",
    "perturbation_transition",
    "plot_marginals",
    "read_posterior_store",
    "run_abc",
    "save_outputs",
    "spinodoid_cnn_model",
    "spinodoid_prior",
    "spinodoid_prior_bounds",
    "spinodoid_prior_from_config",
    "unit_bandwidth",
    "write_posterior_store",
    "write_summary",
]
