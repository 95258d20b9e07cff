"""The ``design.abc`` section as typed settings (the schema's defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from poredesign.config import Settings


@dataclass(frozen=True)
class AbcSettings(Settings):
    """How ABC-SMC samples: the design stage's population, schedule and limits, and the batch
    sizes and prior restriction that the refinement's reruns share (their population and
    tolerances are :class:`~poredesign.design.refine.RefineSettings`' own)."""

    SECTION: ClassVar[str] = "design.abc"
    #: the targets name the design stage's jobs (the rules read them)
    IGNORED: ClassVar[tuple[str, ...]] = ("targets",)

    population: int = 512
    tolerances: tuple[float, ...] = (100.0, 56.23, 31.62, 17.78, 10.0, 5.623, 3.162, 1.778, 1.0)
    batch_size: int = 4096
    model_batch_size: int = 64
    min_acceptance_rate: float = 0.001
    max_evaluations: int | None = None
    max_walltime_s: float | None = None
    restrict_prior: bool = True

    def sampling(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~poredesign.design.abc.continue_abc` (fingerprinted);
        ``model_batch_size`` and ``restrict_prior`` are the problem's (its model and prior)."""
        return {
            "batch_size": int(self.batch_size),
            "min_acceptance_rate": float(self.min_acceptance_rate),
            "max_evaluations": self.max_evaluations,
        }

    def run_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~poredesign.design.abc.run_abc` for the design stage."""
        return {
            "population": int(self.population),
            "tolerances": list(self.tolerances),
            "batch_size": int(self.batch_size),
            "min_acceptance_rate": float(self.min_acceptance_rate),
            "max_total_nr_simulations": self.max_evaluations,
            "max_walltime_s": self.max_walltime_s,
        }
