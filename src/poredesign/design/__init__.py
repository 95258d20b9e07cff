"""Inverse design: the ABC posterior over generator parameters and its validation.

- :mod:`.abc`: ABC-SMC with pyABC and a batched sampler (distance, prior, surrogate model, run
  and diagnosis, posterior store); every public name is re-exported here.
- :mod:`.validate`: designs through the solver (fresh structures at the posterior mean, and the
  upscaling check).
- :mod:`.figures`: the stage's figures (posterior marginals).
"""

from poredesign.design import abc
from poredesign.design.abc import *  # noqa: F403  (every public name of the ABC package)

__all__ = list(abc.__all__)
