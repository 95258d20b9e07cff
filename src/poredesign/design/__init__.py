"""Inverse design: generator parameters or latent codes for a target property, and their check
through the solver.

- :mod:`.abc`: ABC-SMC with pyABC and a batched sampler [R22] (distance, prior, surrogate model,
  run and diagnosis, posterior store): the posterior over spinodoid parameters for a target
  diffusivity, its validation through the solver (fresh structures at the posterior mean, the
  upscaling check) and its figures (marginals, validation, refinement).
- :mod:`.bo`: Bayesian optimisation (Optuna's GPSampler) of Voronoi parameters [Z23] (seeds,
  problem, storage and resume, runs, results, figure).
- :mod:`.gradient`: latent gradient design [A25] (targets, batched descent in the pVAE's latent
  space, three evaluators) and the slerp path between two latent codes.
- :mod:`.refine`: the solver in the loop for ABC: rounds of solver labels, surrogate fine-tuning
  and ABC reruns.

Import from the subpackages (``from poredesign.design.abc import run_abc``); this package
re-exports nothing, so importing one method does not load the others' dependencies.
"""
