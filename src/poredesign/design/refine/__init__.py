"""Solver-in-the-loop refinement of ABC designs (see :mod:`.loop` for the method).

- :mod:`.loop`: the rounds (posterior draws, solver labels, fine-tuning, ABC from the last
  population, validation), the spread-aware tolerance floor, resuming, ``refine.json``;
- :mod:`.spinodoid`: the spinodoid study's problem (spinodoids, diffusion solver, CNN) and
  :func:`~.spinodoid.refine_spinodoid_design`, what the ``refine_design`` rule calls.

:class:`RefineSettings` (``design.refine``) and :class:`AbcSettings` (the ``design.abc`` keys the
reruns share) are built with ``from_config(section)``; their defaults are the schema's.
"""

from poredesign.design.refine.loop import (
    AbcSettings,
    LabelledRound,
    RefineProblem,
    RefineSettings,
    RoundZero,
    Validation,
    floored_schedule,
    noise_floor,
    refine,
    refine_summary,
    surrogate_error,
    validation_record,
)

__all__ = [
    "AbcSettings",
    "LabelledRound",
    "RefineProblem",
    "RefineSettings",
    "RoundZero",
    "Validation",
    "floored_schedule",
    "noise_floor",
    "refine",
    "refine_summary",
    "surrogate_error",
    "validation_record",
]
