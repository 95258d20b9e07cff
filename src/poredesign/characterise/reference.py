"""Projection of one study's structures into another study's latent PCA [Z23] (SPEC 4.3).

The paper projects its second dataset (Voronoi membranes stretched along *two* axes) into the PCA
of the first (one stretched axis) and finds them between the branches of their two parent
directions. :func:`project_into_reference` encodes this study's structures with the reference
study's VAE and projects the latent means with the reference PCA (mean and components from the
reference ``latent.zarr``), so both live in the reference's PC1-PC2 plane.

:func:`reference_summary` makes "between the parent branches" a number. Angles are measured in
PC1-PC2 around the centre of the reference's isotropic training structures (their centroid when
the reference has any, else the origin = the training mean): each reference branch (training
structures of one direction) has the angle of its centroid; each group of projected structures
with the same stretched axes (``"xy"``, ...) has the angle of its centroid; a two-axes group is
*between* its parents when its angle lies on the shorter arc joining the parents' angles.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from poredesign import store
from poredesign.characterise.space import LatentSet, read_latent
from poredesign.characterise.stretch import (
    DIRECTIONS,
    ISOTROPIC,
    stretch_factors,
    stretched_axes,
)
from poredesign.learn.encode import encode_store, load_vae


def project_into_reference(
    structures: store.StructureStore,
    model_path: str | os.PathLike,
    latent_path: str | os.PathLike,
    batch_size: int = 16,
    device: str | None = "auto",
    progress_file: Any = None,
) -> tuple[np.ndarray, LatentSet]:
    """PC scores (n, k_ref) of ``structures`` in the reference PCA, and the reference set."""
    for path in (model_path, latent_path):
        if not Path(path).exists():
            raise FileNotFoundError(
                f"characterise.reference_study: {path} does not exist; run the reference "
                "study's train and latent stages first"
            )
    reference = read_latent(latent_path)
    model = load_vae(model_path, device)
    mu, _ = encode_store(
        model, structures, batch_size, progress_file, "encode (reference VAE)", descriptors=True
    )
    return reference.pca.transform(mu), reference


def _angle(point: np.ndarray, centre: np.ndarray) -> float:
    d = np.asarray(point) - centre
    return float(np.degrees(np.arctan2(d[1], d[0])))


def _arc(a: float, b: float) -> float:
    """Shorter angular distance in degrees."""
    return float(abs((a - b + 180.0) % 360.0 - 180.0))


def stretch_groups(params: np.ndarray, names: Sequence[str]) -> list[str]:
    """Stretched-axes label of each structure (``"xy"``, ``"x"``, ``"isotropic"``; ``""`` when
    the parameters have no stretch factors)."""
    try:
        return stretched_axes(stretch_factors(params, names))
    except ValueError:
        return [""] * len(params)


def reference_summary(
    scores: np.ndarray,
    params: np.ndarray,
    names: Sequence[str],
    reference: LatentSet,
    study: str | None = None,
) -> dict[str, Any]:
    """Branch angles of the reference and centroids/angles of the projected groups (module
    docstring); ``between`` per two-axes group (None when a parent branch is missing)."""
    train = reference.train
    pc12 = reference.scores[train, :2]
    direction = reference.direction[train]
    iso = direction == ISOTROPIC
    centre = pc12[iso].mean(axis=0) if iso.any() else np.zeros(2)
    branches = {}
    for code, name in enumerate(DIRECTIONS[:3]):
        members = pc12[direction == code]
        if len(members):
            centroid = members.mean(axis=0)
            branches[name] = {
                "n": len(members),
                "centroid": centroid,
                "angle": _angle(centroid, centre),
            }
    groups = {}
    labels = np.asarray(stretch_groups(params, names))
    for label in sorted(set(labels) - {""}):
        members = np.asarray(scores)[labels == label, :2]
        centroid = members.mean(axis=0)
        angle = _angle(centroid, centre)
        entry: dict[str, Any] = {"n": len(members), "centroid": centroid, "angle": angle}
        if len(label) == 2 and all(a in branches for a in label):
            a, b = (branches[p]["angle"] for p in label)
            entry["between"] = bool(_arc(a, angle) + _arc(angle, b) <= _arc(a, b) + 1e-6)
        elif len(label) == 2:
            entry["between"] = None
        groups[label] = entry
    return {
        "study": study,
        "centre": centre,
        "branches": branches,
        "groups": groups,
        "n": len(labels),
    }
