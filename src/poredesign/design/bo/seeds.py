"""The random streams of one BO target [Z23] (SPEC 4.2).

All from the study seed s and the target's name (``zlib.crc32`` of the name, k), on the ``bo``
stream of :mod:`poredesign.seeds` (``SeedSequence([s, STREAMS["bo"], k, *tail])``), so a target's
run does not change when other targets are added:

- the target structure: tail ``(0,)``;
- the sampler of repeat j: tail ``(1, j, n_done)`` (n_done = counted trials already stored, so a
  resumed run does not replay its random startup draws);
- fresh candidate t of repeat j: tail ``(2, j, t)`` (t = Optuna's trial number).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from poredesign.seeds import STREAMS, stream

STREAM = "bo"
"""The name of the BO's stream in :data:`poredesign.seeds.STREAMS`."""


@dataclass(frozen=True)
class BOSeeds:
    """All random streams of one target's BO (see the module docstring)."""

    seed: int
    name: str

    @property
    def key(self) -> int:
        return zlib.crc32(self.name.encode())

    def _seq(self, *tail: int) -> np.random.SeedSequence:
        return stream(self.seed, STREAM, self.key, *tail)

    def target_entropy(self) -> list[int]:
        """The target structure's seed-sequence entropy ``[s, STREAMS["bo"], k, 0]`` (recorded in
        ``bo.json`` as ``target_seed_sequence``)."""
        return [int(self.seed), STREAMS[STREAM], self.key, 0]

    def target(self) -> np.random.Generator:
        """The target structure's generator (also every candidate's with ``candidate_seed:
        target``)."""
        return np.random.default_rng(self._seq(0))

    def sampler(self, repeat: int, n_done: int = 0) -> int:
        """The Optuna sampler seed of ``repeat`` after ``n_done`` counted trials."""
        return int(self._seq(1, repeat, n_done).generate_state(1)[0])

    def candidate(self, repeat: int, trial: int, choice: str) -> np.random.Generator:
        """The generator of trial ``trial`` of ``repeat`` for ``candidate_seed`` ``choice``."""
        return (
            self.target()
            if choice == "target"
            else np.random.default_rng(self._seq(2, repeat, trial))
        )
