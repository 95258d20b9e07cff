"""The named random streams: every random draw of the workflow comes from the study's ``seed``.

Structure ``i`` of a dataset is drawn from ``SeedSequence([seed, i])``
(:func:`poredesign.structures.sampling.structure_rng`). Every other draw has a stream of its own,
``SeedSequence([seed, STREAMS[name], *tail])``, so that adding structures to a dataset never
changes a target, a split or a validation structure, and two stages never share draws.

The stream words are fixed forever: changing one changes every artifact drawn from it. The
values are as they were when each stream was introduced (decimal 7_000_00x / 9_000_002 and
hexadecimal tags both occur; only their distinctness matters).
"""

from __future__ import annotations

import numpy as np

#: stream name -> its entropy word (all distinct; see the module docstring)
STREAMS: dict[str, int] = {
    # learn: the order of the structures before the split (learn.data.split_indices)
    "split": 0x5EED,
    # design (ABC): fresh structures at a designed parameter vector (design.validate)
    "validation": 7_000_001,
    # design (refine): posterior draws of each round (design.refine.loop)
    "refine_draws": 7_000_002,
    # design (refine): the structures labelled by the solver each round (design.refine.spinodoid)
    "refine_labels": 7_000_003,
    # design (refine): the fine-tuning's own seed each round (design.refine.spinodoid)
    "refine_model": 7_000_004,
    # design (BO): seeds of the target, the samplers and the candidates (design.bo)
    "bo": 9_000_002,
    # design (latent gradient design): the target draw (design.gradient.targets)
    "latent_targets": 0x7A46,
    # design (benchmark): the generator-space search per target (design.search)
    "square_search": 0x5C19,
    # design (benchmark): the benchmark's target sets (design.benchmark)
    "benchmark_targets": 0x5C1A,
    # design (engine): the realisation seeds a design search tries (design.engine)
    "design_seeds": 0xD5E1,
    # design (engine, parameters mode): the fresh seeds that validate a design (design.engine)
    "design_fresh": 0xD5E2,
    # structures: the crops of a scan taken as a dataset (structures.scan_dataset)
    "scan_crops": 0xC80B,
    # structures: the derived seed of the transfer stage's second dataset
    "transfer_data": 0x7A23,
    # learn: the seed of every transfer and scratch run (learn.transfer_experiment)
    "transfer_runs": 0x7A24,
}

if len(set(STREAMS.values())) != len(STREAMS):  # a copy-paste of a word would merge two streams
    raise RuntimeError("seeds.STREAMS: two streams share an entropy word")


def stream(seed: int, name: str, *tail: int) -> np.random.SeedSequence:
    """The seed sequence ``SeedSequence([seed, STREAMS[name], *tail])`` of stream ``name``."""
    if name not in STREAMS:
        raise KeyError(f"unknown random stream {name!r}; known: {sorted(STREAMS)}")
    return np.random.SeedSequence([int(seed), STREAMS[name], *map(int, tail)])


def stream_rng(seed: int, name: str, *tail: int) -> np.random.Generator:
    """A numpy Generator on :func:`stream` ``(seed, name, *tail)``."""
    return np.random.default_rng(stream(seed, name, *tail))


def stream_seed(seed: int, name: str, *tail: int, dtype: type = np.uint32) -> int:
    """One integer seed drawn from :func:`stream` (32 bit; ``dtype=np.uint64`` for 64)."""
    return int(stream(seed, name, *tail).generate_state(1, dtype)[0])


__all__ = ["STREAMS", "stream", "stream_rng", "stream_seed"]
