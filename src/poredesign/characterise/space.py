"""The latent space of a trained VAE [Z23] (SPEC 4.3): what the ``latent`` stage computes.

:func:`~poredesign.learn.encode.encode_store` encodes every structure of a structure store with
the VAE (latent mean mu, no sampling), :func:`~poredesign.learn.encode.split_labels` labels each
with the VAE's own split, :func:`build_latent_set`
fits the PCA on the training means (:mod:`.pca`) and projects all of them;
:func:`write_latent` and :func:`write_pca_json` write ``latent.zarr`` and ``pca.json``. The stage
itself, with the optional reference projection (:mod:`.reference`), is
:func:`poredesign.characterise.run.latent_space`.

Split labels: the same :func:`~poredesign.learn.data.split_indices` call the VAE's data module
made, with the fractions, seed and ``max_structures`` stored in ``model.data_config``, so "train"
here is exactly what the VAE trained on. Structures beyond ``max_structures`` (never seen by the
VAE's data module) are labelled -1 and are neither fitted nor used as neighbours.

``latent.zarr`` (written atomically through :mod:`poredesign.store`), per structure i:

- ``mu`` (n, d) float64: the latent descriptors the stage characterises: the latent means for
  a dense code (the paper's), their translation-invariant statistics for a grid code
  (:meth:`~poredesign.learn.vae.Encoder3D.descriptor`: a grid code of a shifted structure is
  shifted, so only its statistics compare structures); ``scores`` (n, k): PC scores
  (k = min(n_train, d));
- ``split`` (n,) int8: 0 train, 1 val, 2 test, -1 not in the VAE's sample (attrs ``labels``);
- ``params`` (n, p): generation parameters (attrs ``names``) copied from the structure store;
- ``porosity`` (n,): pore fraction measured on the structure (1 - solid fraction);
- ``direction`` (n,) int8 and ``intensity`` (n,): stretch labels (:mod:`.stretch`; -1/NaN when
  the parameters have no stretch factors);
- ``pca/mean`` (d,), ``pca/components`` (k, d), ``pca/explained_variance``,
  ``pca/explained_variance_ratio`` (k,): the fit, so other structures can be projected later;
- ``reference_scores`` (n, k_ref), only with a reference study (:mod:`.reference`);
- attrs: the structure store and model paths, the split definition, ``porosity_pc`` (0-based),
  ``n_train``, ``latent_dim``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poredesign import store
from poredesign.characterise.pca import Pca, component_correlations, fit_pca, porosity_component
from poredesign.characterise.stretch import (
    DIRECTIONS,
    STRONG_STRETCH,
    UNKNOWN,
    leave_one_out_direction_accuracy,
    majority_share,
    stretch_direction,
    stretch_factors,
    stretch_intensity,
    strongly_stretched,
)
from poredesign.jsonable import jsonable, write_json

SPLITS = ("train", "val", "test")
TRAIN = 0
#: components whose correlations pca.json reports
REPORTED = 3


def stretch_labels(params: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Direction codes and intensities of a parameter table; unknown (-1, NaN) when it has no
    stretch factors (e.g. imported volumes)."""
    try:
        e = stretch_factors(params, names)
    except ValueError:
        n = len(params)
        return np.full(n, UNKNOWN, dtype=np.int8), np.full(n, np.nan)
    return stretch_direction(e), stretch_intensity(e)


@dataclass
class LatentSet:
    """What ``latent.zarr`` holds (module docstring), read into memory."""

    mu: np.ndarray
    scores: np.ndarray
    split: np.ndarray
    params: np.ndarray
    param_names: list[str]
    porosity: np.ndarray
    direction: np.ndarray
    intensity: np.ndarray
    pca: Pca
    porosity_pc: int
    attrs: dict[str, Any] = field(default_factory=dict)
    reference_scores: np.ndarray | None = None

    @property
    def train(self) -> np.ndarray:
        """Boolean mask of the training structures."""
        return self.split == TRAIN

    def summary(self) -> dict[str, Any]:
        """What ``pca.json`` holds: explained variance ratios, the porosity PC (0-based index and
        1-based number) and its correlation with porosity, and the correlations of the first
        three PCs with porosity and with stretch intensity 1 - e (training structures; NaN ->
        None); and ``direction_nearest_neighbour``: the leave-one-out nearest-neighbour direction
        accuracy among the training structures in PC1-PC2 (where [Z23] reads the direction) and
        in the full latent mean, against the ``majority`` share (chance), which shows whether the
        latent carries the stretch direction at all and whether PC1-PC2 hold it."""
        train = self.train
        scores = self.scores[train]
        r_porosity = component_correlations(scores, self.porosity[train], REPORTED)
        r_intensity = component_correlations(scores, self.intensity[train], REPORTED)
        direction = self.direction[train]
        strong = strongly_stretched(self.intensity[train])
        return jsonable(
            {
                "explained_variance_ratio": self.pca.explained_variance_ratio,
                "explained_variance": self.pca.explained_variance,
                "porosity_pc": self.porosity_pc,
                "porosity_pc_number": self.porosity_pc + 1,
                "porosity_pc_correlation": component_correlations(
                    scores[:, self.porosity_pc : self.porosity_pc + 1], self.porosity[train], 1
                )[0],
                "correlation_porosity": r_porosity,
                "correlation_intensity": r_intensity,
                "direction_nearest_neighbour": {
                    "pc12": leave_one_out_direction_accuracy(scores[:, :2], direction),
                    "latent": leave_one_out_direction_accuracy(self.mu[train], direction),
                    "majority": majority_share(direction),
                    # the clearly stretched structures, min(e) < 1 - STRONG_STRETCH
                    "strong_stretch": STRONG_STRETCH,
                    "n_strong": int(strong.sum()),
                    "pc12_strong": leave_one_out_direction_accuracy(
                        scores[:, :2], direction, scored=strong
                    ),
                    "latent_strong": leave_one_out_direction_accuracy(
                        self.mu[train], direction, scored=strong
                    ),
                    "majority_strong": majority_share(direction[strong]),
                },
                "n_train": int(train.sum()),
                "n": len(self.split),
                "n_components": self.pca.n_components,
                "latent_dim": int(self.mu.shape[1]),
            },
            nan_as_none=True,
        )


def build_latent_set(
    mu: np.ndarray,
    split: np.ndarray,
    params: np.ndarray,
    param_names: list[str],
    porosity: np.ndarray,
    attrs: Mapping[str, Any] | None = None,
) -> LatentSet:
    """Fit the PCA on the training rows of ``mu`` and label everything (arrays in, no files)."""
    mu = np.asarray(mu, dtype=np.float64)
    split = np.asarray(split, dtype=np.int8)
    if len(split) != len(mu) or len(porosity) != len(mu) or len(params) != len(mu):
        raise ValueError(
            f"latent set: {len(mu)} latent means but {len(split)} split labels, {len(params)} "
            f"parameter rows and {len(porosity)} porosities"
        )
    train = split == TRAIN
    pca = fit_pca(mu[train])
    scores = pca.transform(mu)
    direction, intensity = stretch_labels(params, param_names)
    return LatentSet(
        mu=mu,
        scores=scores,
        split=split,
        params=np.asarray(params, dtype=np.float64),
        param_names=list(param_names),
        porosity=np.asarray(porosity, dtype=np.float64),
        direction=direction,
        intensity=intensity,
        pca=pca,
        porosity_pc=porosity_component(scores[train], np.asarray(porosity)[train]),
        attrs=dict(attrs or {}),
    )


def write_latent(path: str | os.PathLike, latent: LatentSet) -> None:
    """Write ``latent.zarr`` atomically (module docstring)."""
    with store.atomic_group(path) as group:
        store.write_array(group, "mu", latent.mu)
        store.write_array(group, "scores", latent.scores)
        store.write_array(group, "split", latent.split, labels=list(SPLITS), unused=-1)
        store.write_array(group, "params", latent.params, names=latent.param_names)
        store.write_array(group, "porosity", latent.porosity)
        store.write_array(group, "direction", latent.direction, labels=list(DIRECTIONS))
        store.write_array(group, "intensity", latent.intensity)
        pca = group.create_group("pca")
        for name in ("mean", "components", "explained_variance", "explained_variance_ratio"):
            store.write_array(pca, name, getattr(latent.pca, name))
        if latent.reference_scores is not None:
            store.write_array(group, "reference_scores", latent.reference_scores)
        group.attrs.update(
            store.provenance(
                **latent.attrs,
                porosity_pc=latent.porosity_pc,
                n=len(latent.split),
                n_train=int(latent.train.sum()),
                latent_dim=int(latent.mu.shape[1]),
            )
        )


def read_latent(path: str | os.PathLike) -> LatentSet:
    """Read a ``latent.zarr`` written by :func:`write_latent`."""
    group = store.open_group(path)
    needed = {"mu", "scores", "split", "params", "porosity", "direction", "intensity", "pca"}
    missing = sorted(needed - set(group.keys()))
    if missing:
        raise ValueError(f"{path} is not a latent store: it lacks {', '.join(missing)}")

    def get(name: str) -> np.ndarray:
        return np.asarray(group[name][...])

    attrs = dict(group.attrs)
    pca = Pca(
        *(
            get(f"pca/{n}")
            for n in ("mean", "components", "explained_variance", "explained_variance_ratio")
        )
    )
    return LatentSet(
        mu=get("mu"),
        scores=get("scores"),
        split=get("split"),
        params=get("params"),
        param_names=list(group["params"].attrs.get("names", [])),
        porosity=get("porosity"),
        direction=get("direction"),
        intensity=get("intensity"),
        pca=pca,
        porosity_pc=int(attrs["porosity_pc"]),
        attrs=attrs,
        reference_scores=get("reference_scores") if "reference_scores" in group else None,
    )


def write_pca_json(path: str | os.PathLike, summary: Mapping[str, Any]) -> None:
    """Write ``pca.json`` (NaN as null, atomically)."""
    write_json(path, summary)
