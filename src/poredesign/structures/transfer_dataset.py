"""The second Voronoi dataset of the ``transfer`` stage [Z23], SPEC 1.2 and 3.5.

[Z23] trains its transfer-learning regressor on a dataset of its own: 300 Voronoi-edge membranes
with n in 180..250 seeds and strut radius 2.8 voxels (at the generation size), split 250/50. Here
it is the study's ``voronoi`` section with the keys of ``transfer_data.voronoi`` on top
(:func:`transfer_options`), ``transfer_data.n_structures`` structures of edge ``dataset.size``.

Seeds (a choice; the paper is silent). Structure ``i`` of the main dataset is drawn from
``SeedSequence([seed, i])``. The second dataset uses the derived seed
``transfer_seed = SeedSequence([seed, 0x7A23]).generate_state(1, uint64)[0]`` (a 64-bit
integer; the stream ``transfer_data`` of :mod:`poredesign.seeds`), so its structure ``i`` comes
from ``SeedSequence([transfer_seed, i])``: a stream the study's main dataset never uses (that
would take a study seed equal to the 64-bit derived one).
As in the main dataset, structure ``i`` depends only on (seed, i), not on the machine. The
store's attrs record ``seed`` (the derived seed, the same meaning as in every structure store),
``study_seed``, ``seed_derivation`` and ``dataset: transfer``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from poredesign import store
from poredesign.runlog import progress
from poredesign.seeds import stream_seed
from poredesign.structures.sampling import draw_structure, make_sampler

log = logging.getLogger(__name__)

SEED_DERIVATION = (
    "structure i drawn from SeedSequence([seed, i]) with "
    "seed = SeedSequence([study_seed, 0x7A23]).generate_state(1, uint64)[0]"
)


def transfer_seed(seed: int) -> int:
    """The derived seed of the second dataset (64 bit; see the module docstring)."""
    return stream_seed(seed, "transfer_data", dtype=np.uint64)


def transfer_options(
    voronoi: Mapping[str, Any] | None, transfer_data: Mapping[str, Any]
) -> dict[str, Any]:
    """The Voronoi sampler options of the second dataset: the study's ``voronoi`` section with
    ``transfer_data.voronoi`` (n_points_range, radius, stretch_range, stretched_axes) on top."""
    overrides = dict(transfer_data.get("voronoi") or {})
    return {**dict(voronoi or {}), **overrides}


def generate_transfer_dataset(
    path: str | os.PathLike,
    voronoi: Mapping[str, Any] | None,
    transfer_data: Mapping[str, Any],
    size: int,
    seed: int,
    max_attempts: int = 100,
    progress_file: Any = None,
) -> dict[str, Any]:
    """Draw the ``transfer_data.n_structures`` structures of the second dataset into a structure
    store at ``path`` (atomic; layout of :mod:`poredesign.store`), edge ``size`` voxels after
    resizing; return the statistics (structures, draws, rejection rate, derived seed)."""
    if "n_structures" not in transfer_data:
        raise KeyError("config transfer_data has no n_structures (number of structures to draw)")
    n = int(transfer_data["n_structures"])
    if n < 1:
        raise ValueError(f"config transfer_data.n_structures must be >= 1; got {n}")
    options = transfer_options(voronoi, transfer_data)
    sampler = make_sampler("voronoi", int(size), options)
    derived = transfer_seed(seed)
    attempts = np.zeros(n, dtype=np.int32)
    with store.atomic_group(path) as group:
        structures, params = None, np.zeros((n, len(sampler.param_names)))
        for i in progress(range(n), "generate transfer dataset (voronoi)", progress_file):
            draw = draw_structure(sampler, derived, i, max_attempts)
            if structures is None:
                structures, params_array, _ = store.create_structure_arrays(
                    group, n, draw.solid.shape, sampler.param_names
                )
            structures[i] = draw.solid
            params[i] = draw.params
            attempts[i] = draw.attempts
        params_array[...] = params
        group["attempts"][...] = attempts
        draws = int(attempts.sum())
        stats = {
            "structures": n,
            "draws": draws,
            "rejection_rate": 1.0 - n / draws,
            "seed": derived,
        }
        group.attrs.update(
            store.provenance(
                generator="voronoi",
                generator_config=options,
                seed=derived,
                study_seed=int(seed),
                seed_derivation=SEED_DERIVATION,
                dataset="transfer",
                first_index=0,
                n=n,
                size=list(structures.shape[1:]),
                draws=draws,
                rejection_rate=stats["rejection_rate"],
            )
        )
    log.info(
        "wrote %d transfer structures to %s (seed %d derived from %d, rejection rate %.3f)",
        n,
        path,
        derived,
        seed,
        stats["rejection_rate"],
    )
    return stats


__all__ = [
    "SEED_DERIVATION",
    "generate_transfer_dataset",
    "transfer_options",
    "transfer_seed",
]
