"""Dataset samplers: draw generator parameters from a study's distribution, build, accept or redraw.

Structure ``i`` of a dataset is drawn from ``numpy.random.default_rng(SeedSequence([seed, i]))``
alone, so it depends only on (study seed, i): not on the shard size, the job order or the machine.
Rejected draws are redrawn from the same stream; the number of draws is recorded per structure.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from poredesign import store
from poredesign.runlog import progress
from poredesign.structures.checks import both_phases_percolate
from poredesign.structures.spinodoid import spinodoid
from poredesign.structures.squares import square_pores

log = logging.getLogger(__name__)


class Sampler(Protocol):
    """What a generator offers the dataset machinery."""

    param_names: tuple[str, ...]

    def draw_params(self, rng: np.random.Generator) -> np.ndarray: ...

    def build(self, params: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...

    def accept(self, solid: np.ndarray) -> bool: ...


@dataclass(frozen=True)
class SpinodoidSampler:
    """SPEC 1.1: beta ~ U[1,3], alpha ~ U[1,beta], (1, alpha, beta) rescaled to mean
    m ~ U[0.05, 0.2], randomly permuted onto (a_x, a_y, a_z); porosity ~ U[0.3, 0.85].
    Accepted when the pore and the solid phase both connect opposite faces along x, y and z."""

    size: int
    m_range: tuple[float, float] = (0.05, 0.2)
    beta_range: tuple[float, float] = (1.0, 3.0)
    porosity_range: tuple[float, float] = (0.3, 0.85)
    param_names: tuple[str, ...] = field(default=("a_x", "a_y", "a_z", "porosity"), init=False)

    def draw_params(self, rng: np.random.Generator) -> np.ndarray:
        beta = rng.uniform(*self.beta_range)
        alpha = rng.uniform(1.0, beta)
        m = rng.uniform(*self.m_range)
        a = np.array([1.0, alpha, beta]) * (m / np.mean([1.0, alpha, beta]))
        a = a[rng.permutation(3)]
        return np.array([*a, rng.uniform(*self.porosity_range)])

    def build(self, params: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return spinodoid(self.size, params[:3], params[3], seed=rng)

    def accept(self, solid: np.ndarray) -> bool:
        return both_phases_percolate(solid)


@dataclass(frozen=True)
class SquaresSampler:
    """SPEC 1.3: n_pores ~ U{n_min..n_max} square pores, extruded along z (flow axis);
    always accepted since every pore is a straight channel along z."""

    size: int = 100
    n_pores_range: tuple[int, int] = (10, 40)
    pore: int = 10
    depth: int | None = None
    param_names: tuple[str, ...] = field(default=("n_pores", "porosity"), init=False)

    def draw_params(self, rng: np.random.Generator) -> np.ndarray:
        n = int(rng.integers(self.n_pores_range[0], self.n_pores_range[1] + 1))
        return np.array([n, n * self.pore**2 / self.size**2], dtype=float)

    def build(self, params: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return square_pores(int(params[0]), rng, image=self.size, pore=self.pore, depth=self.depth)

    def accept(self, solid: np.ndarray) -> bool:
        return True


def _voronoi_sampler(size: int, **options: Any) -> Sampler:
    from poredesign.structures.voronoi import VoronoiSampler

    return VoronoiSampler(size=size, **options)


SAMPLERS: dict[str, Callable[..., Sampler]] = {
    "spinodoid": SpinodoidSampler,
    "squares": SquaresSampler,
    "voronoi": _voronoi_sampler,
}


def _as_tuples(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}


def make_sampler(generator: str, size: int, options: Mapping[str, Any] | None = None) -> Sampler:
    """The sampler for ``generator`` with the study's options (the config section of that name)."""
    if generator not in SAMPLERS:
        raise ValueError(f"unknown generator {generator!r}; allowed: {', '.join(SAMPLERS)}")
    return SAMPLERS[generator](size=size, **_as_tuples(options or {}))


def structure_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of structure ``index`` in a dataset with study seed ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


@dataclass
class Draw:
    solid: np.ndarray
    params: np.ndarray
    attempts: int


class RejectionLimitError(RuntimeError):
    pass


def draw_structure(sampler: Sampler, seed: int, index: int, max_attempts: int = 100) -> Draw:
    """Draw structure ``index``: parameters, structure, acceptance; redraw until accepted.

    A draw the generator refuses (``ValueError``, e.g. a Voronoi seed set too sparse for a periodic
    tessellation of the stretched box) counts as a rejected attempt: it depends on the random
    draw, not only on the config.
    """
    rng = structure_rng(seed, index)
    refused = None
    for attempt in range(1, max_attempts + 1):
        params = sampler.draw_params(rng)
        try:
            solid = sampler.build(params, rng)
        except ValueError as err:
            refused = err
            log.debug("structure %d, attempt %d refused by the generator: %s", index, attempt, err)
            continue
        if sampler.accept(solid):
            return Draw(solid, params, attempt)
    last = f"; the generator's last refusal: {refused}" if refused is not None else ""
    raise RejectionLimitError(
        f"structure {index} (seed {seed}) was rejected {max_attempts} times in a row; the "
        f"acceptance checks almost never pass in this parameter region (raise "
        f"dataset.max_attempts or narrow the sampled ranges){last}"
    )


def generate_dataset(
    path: str | os.PathLike,
    sampler: Sampler,
    seed: int,
    start: int,
    stop: int,
    max_attempts: int = 100,
    generator: str = "",
    generator_config: Mapping[str, Any] | None = None,
    progress_file: Any = None,
) -> dict[str, float]:
    """Draw structures ``start..stop-1`` into a structure store at ``path`` (atomic).

    Returns statistics: structures, draws, rejection rate.
    """
    n = stop - start
    if n <= 0:
        raise ValueError(f"empty index range {start}..{stop}")
    with store.atomic_group(path) as group:
        structures, params, attempts = None, None, np.zeros(n, dtype=np.int32)
        all_params = []
        for i in progress(
            range(start, stop), f"generate {generator} [{start}, {stop})", progress_file
        ):
            draw = draw_structure(sampler, seed, i, max_attempts)
            if structures is None:
                structures, params, _ = store.create_structure_arrays(
                    group, n, draw.solid.shape, sampler.param_names
                )
            structures[i - start] = draw.solid
            all_params.append(draw.params)
            attempts[i - start] = draw.attempts
        params[...] = np.asarray(all_params)
        group["attempts"][...] = attempts
        draws = int(attempts.sum())
        stats = {"structures": n, "draws": draws, "rejection_rate": 1.0 - n / draws}
        group.attrs.update(
            store.provenance(
                generator=generator,
                generator_config=dict(generator_config or {}),
                seed=seed,
                first_index=start,
                n=n,
                size=list(structures.shape[1:]),
                **stats,
            )
        )
    log.info("wrote %d structures to %s (rejection rate %.3f)", n, path, stats["rejection_rate"])
    return stats
