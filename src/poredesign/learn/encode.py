"""A trained VAE or pVAE applied to a structure store: loading it, its own split of the store, and
the latent means of every structure. The latent stage [Z23] and the latent design [A25] share these.

Split labels: the same :func:`~poredesign.learn.data.split_indices` call the model's data module
made, with the fractions, seed and ``max_structures`` stored in ``model.data_config``, so "train"
is exactly what the model trained on. Structures beyond ``max_structures`` (never seen by the
data module) are labelled -1.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from poredesign import store
from poredesign.runlog import progress


def split_labels(n: int, data_config: Mapping[str, Any]) -> np.ndarray:
    """Split codes (n,) int8 of a store of ``n`` structures, as the VAE's data module split it:
    0 train, 1 val, 2 test, -1 beyond ``max_structures``."""
    from poredesign.learn.data import DataConfig, split_indices

    default = DataConfig()
    fractions = data_config.get("split", default.split)
    seed = int(data_config.get("seed", default.seed))
    limit = data_config.get("max_structures")
    used = n if limit is None else min(n, int(limit))
    labels = np.full(n, -1, dtype=np.int8)
    for code, idx in enumerate(split_indices(used, fractions, seed)):
        labels[idx] = code
    return labels


def load_vae(path: str | os.PathLike, device: Any = "auto") -> Any:
    """A saved VAE (any model with ``latent_means``) on ``device``, in eval mode."""
    from poredesign.devices import torch_device
    from poredesign.learn import load_model

    torch_dev = torch_device(device)
    model = load_model(path, map_location=torch_dev)
    if not hasattr(model, "latent_means"):
        raise TypeError(
            f"{path} holds a {type(model).__name__}; the latent stage needs a VAE (latent means)"
        )
    return model.to(torch_dev)


def encode_store(
    model: Any,
    structures: store.StructureStore,
    batch_size: int = 16,
    progress_file: Any = None,
    desc: str = "encode",
    descriptors: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Latent means mu (n, d) float64 and measured porosity (n,) of every structure of a store,
    read ``batch_size`` structures at a time; with ``descriptors`` the model's latent
    descriptors (``latent_descriptors``: mu itself for a dense code, its translation-invariant
    statistics for a grid code) instead of mu."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    n = len(structures)
    mus, porosity = [], []
    for start in progress(range(0, n, batch_size), desc, progress_file, unit="batch"):
        batch = structures[start : start + batch_size]
        porosity.append(1.0 - batch.reshape(len(batch), -1).mean(axis=1))
        encode = model.latent_descriptors if descriptors else model.latent_means
        mus.append(encode(batch, batch_size=batch_size))
    width = model.encoder.descriptor_dim if descriptors else model.encoder.code_dim
    if not mus:
        return np.zeros((0, width)), np.zeros(0)
    return np.concatenate(mus), np.concatenate(porosity)
