"""Bayesian optimisation of Voronoi generation parameters [Z23] (SPEC 4.2), with Optuna.

Given a target structure, generated from parameters (r, n, e_x, e_y, e_z) with its own seed, find
parameters whose structure's VAE latent mean is closest to the target's:

    distance(theta) = || mu(structure(theta)) - mu(target) ||_2   (256-d latent means, no sampling)

One concern per module:

- :mod:`.seeds`: :class:`BOSeeds`, every random stream of one target (the ``bo`` stream of
  :mod:`poredesign.seeds`);
- :mod:`.problem`: the target's parameters (:func:`target_params`), the search box
  (:func:`search_bounds`), the training ranges, the candidate structures (:func:`build`) and
  :class:`BOProblem` (its objective);
- :mod:`.storage`: the SQLite storage of the repeats' studies: resume, the check that a stored
  study was made for this target and encoder (:class:`StaleStorageError`), stale storage set aside;
- :mod:`.run`: :func:`optimise_repeat` (one repeat's study, GPSampler) and :func:`run_bo` (every
  repeat of one target: the ``bo.json`` record);
- :mod:`.results`: one repeat's record, the median and best repeats, ``bo.json`` written and read,
  the summary table;
- :mod:`.figures`: the convergence figure.

Choices where [Z23] is silent (recorded in ``bo.json``):

- Candidate seed (``candidate_seed``): ``"fresh"`` (default) builds every trial's structure with
  its own seed, so the distance measures structural similarity up to the generator's randomness;
  ``"target"`` builds every candidate with the target's seed, so the true parameters reproduce
  the target voxel for voxel (distance 0) and the optimum is exact.
- Seeds, all from the study seed and the target's name, so a target's run does not change when
  other targets are added (:mod:`.seeds`).
- Candidates are not filtered by the dataset's acceptance test (pore percolation): the distance is
  defined for any structure, and a filter would make the ``target`` seed unable to reproduce a
  non-percolating target. Whether the target percolates is recorded.
- Median repeat: the repeat whose best distance is the lower median of the repeats' best
  distances (a real run, as the paper tabulates; for an even count the smaller of the two middle).
- Resuming: a rerun continues every repeat's study where it stopped; a rerun with another target,
  bounds, seed choice or encoder starts the target afresh (:mod:`.storage`).
"""

from poredesign.design.bo.figures import plot_convergence
from poredesign.design.bo.problem import (
    CANDIDATE_SEEDS,
    DEFAULT_BOUNDS,
    PARAMS,
    BOProblem,
    Encoder,
    build,
    generator_vector,
    outside,
    search_bounds,
    target_params,
    training_ranges,
)
from poredesign.design.bo.results import (
    SUMMARY_COLUMNS,
    median_and_best,
    read_result,
    repeat_result,
    summary_rows,
    write_result,
    write_summary,
)
from poredesign.design.bo.run import SAMPLER_INFO, gp_sampler, optimise_repeat, run_bo
from poredesign.design.bo.seeds import BOSeeds
from poredesign.design.bo.storage import ENCODER_TOLERANCE, StaleStorageError

__all__ = [
    "CANDIDATE_SEEDS",
    "DEFAULT_BOUNDS",
    "ENCODER_TOLERANCE",
    "PARAMS",
    "SAMPLER_INFO",
    "SUMMARY_COLUMNS",
    "BOProblem",
    "BOSeeds",
    "Encoder",
    "StaleStorageError",
    "build",
    "generator_vector",
    "gp_sampler",
    "median_and_best",
    "optimise_repeat",
    "outside",
    "plot_convergence",
    "read_result",
    "repeat_result",
    "run_bo",
    "search_bounds",
    "summary_rows",
    "target_params",
    "training_ranges",
    "write_result",
    "write_summary",
]
