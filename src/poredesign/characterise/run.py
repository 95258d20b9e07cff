"""The ``latent`` stage [Z23] (SPEC 4.3): encode, split, fit, project, and optionally project
into a reference study's PCA; writes ``latent.zarr`` and ``pca.json``.

:func:`latent_space` composes :mod:`.space` (the latent set of this study's VAE) and
:mod:`.reference` (another study's VAE and PCA), which therefore do not import each other's way
back: :mod:`.reference` builds on :mod:`.space` only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from poredesign import store
from poredesign.characterise.reference import project_into_reference, reference_summary
from poredesign.characterise.space import (
    SPLITS,
    TRAIN,
    LatentSet,
    build_latent_set,
    write_latent,
    write_pca_json,
)
from poredesign.characterise.stretch import (
    DIRECTIONS,
    UNKNOWN,
    chord_directions,
    strongly_stretched,
)
from poredesign.learn.encode import encode_store, load_vae, split_labels

log = logging.getLogger(__name__)


def pore_chord_summary(structures: store.StructureStore, latent: LatentSet) -> dict[str, Any]:
    """Accuracy of the longest-mean-pore-chord direction (:func:`.stretch.chord_directions`, no
    model) on the training structures, all and clearly stretched: the geometric ceiling beside
    the latent's nearest-neighbour accuracy. None where no direction is known."""
    train = np.flatnonzero(latent.train)
    known = latent.direction[train] != UNKNOWN
    if not known.any():
        return {"all": None, "strong": None}
    rows = train[known]
    chords = chord_directions(np.stack([structures[int(i)] for i in rows]))
    hit = chords == latent.direction[rows]
    strong = strongly_stretched(latent.intensity[rows])
    return {
        "all": float(hit.mean()),
        "strong": float(hit[strong].mean()) if strong.any() else None,
    }


def latent_space(
    structures_path: str | os.PathLike,
    model_path: str | os.PathLike,
    latent_path: str | os.PathLike,
    pca_path: str | os.PathLike,
    batch_size: int = 16,
    device: str | None = "auto",
    reference: Mapping[str, Any] | None = None,
    progress_file: Any = None,
) -> LatentSet:
    """The ``latent`` stage: encode, split, fit, project; write ``latent.zarr`` and ``pca.json``.

    ``reference``: ``{"study", "model", "latent"}`` of another study whose VAE and PCA this
    study's structures are also projected into (:func:`.reference.project_into_reference`);
    its scores go to ``reference_scores`` and its summary under ``reference`` in ``pca.json``.
    Returns the latent set written.
    """
    structures = store.StructureStore(structures_path)
    model = load_vae(model_path, device)
    config = dict(getattr(model, "data_config", None) or {})
    split = split_labels(len(structures), config)
    if not np.any(split == TRAIN):
        raise ValueError(f"{structures_path}: the VAE's split leaves no training structure")
    mu, porosity = encode_store(
        model, structures, batch_size, progress_file, "encode (VAE)", descriptors=True
    )
    attrs = {
        "structures": str(structures_path),
        "model": str(model_path),
        "split_fractions": config.get("split"),
        "split_seed": config.get("seed"),
        "max_structures": config.get("max_structures"),
        "splits": list(SPLITS),
        "directions": list(DIRECTIONS),
        "reference_study": None if reference is None else reference.get("study"),
    }
    latent = build_latent_set(mu, split, structures.params, structures.param_names, porosity, attrs)
    summary = latent.summary()
    summary["direction_pore_chord"] = pore_chord_summary(structures, latent)
    if reference is not None:
        ref_scores, ref = project_into_reference(
            structures,
            reference["model"],
            reference["latent"],
            batch_size,
            device,
            progress_file,
        )
        latent.reference_scores = ref_scores
        summary["reference"] = reference_summary(
            ref_scores, latent.params, latent.param_names, ref, reference.get("study")
        )
    write_latent(latent_path, latent)
    write_pca_json(pca_path, summary)
    log.info(
        "latent: %d structures (%d train), %d components, PC1-3 explain %s, porosity PC %d "
        "(r = %s)",
        len(split),
        summary["n_train"],
        latent.pca.n_components,
        np.round(latent.pca.explained_variance_ratio[:3], 3).tolist(),
        latent.porosity_pc + 1,
        summary["porosity_pc_correlation"],
    )
    return latent
