"""Solver-in-the-loop refinement of ABC designs (see :mod:`.loop` for the method).

- :mod:`.loop`: the rounds (posterior draws, solver labels, fine-tuning, ABC from the last
  population, validation), the spread-aware tolerance floor, resuming, ``refine.json``;
- :mod:`.spinodoid`: the spinodoid study's problem (spinodoids, diffusion solver, CNN) and
  :func:`~.spinodoid.refine_spinodoid_design`, what the ``refine_design`` rule calls.

:class:`RefineSettings` (``design.refine``) is built with ``from_config(section)``; its defaults
are the schema's. The reruns sample as :class:`poredesign.design.abc.AbcSettings` says.
"""

from poredesign.design.refine.loop import (
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
