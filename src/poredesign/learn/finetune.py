"""Warm-start fine-tuning of a trained regressor on new labelled structures (refinement loop).

:func:`fine_tune` continues training a model from its current weights, with Lightning's
``Trainer``, on the views of new structures (label stores written by
:func:`write_label_store`: the structures and their solver labels in one zarr store) mixed with
an equal number of views drawn afresh each epoch from the original training split (replay), so
the model learns the new region without forgetting the rest of the dataset. Augmentation as in
training (flips, swaps, circular shifts of the periodic structures). The optimiser is the
model's own (``configure_optimizers``) with the learning rate set to ``lr``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
from torch.utils.data import ConcatDataset, DataLoader, Sampler

from poredesign import store
from poredesign.learn.data import PoreDataModule, StructureViews, read_labels, valid_views
from poredesign.learn.fit import TrainSettings, quick_fit
from poredesign.learn.transforms import Augment

#: arrays of a label store besides the structure arrays
LABEL_ARRAYS = ("eta", "flags_eta", "porosity")


def write_label_store(
    path: str | os.PathLike,
    structures: np.ndarray,
    params: np.ndarray,
    param_names: Sequence[str],
    eta: np.ndarray,
    flags: np.ndarray,
    porosity: np.ndarray,
    **attrs: Any,
) -> None:
    """One store with the structures (n, N, N, N; True = solid), their parameters and their
    solver labels ``eta`` (n, 3), ``flags_eta`` (n, 3; 0 = ok) and ``porosity`` (n,) (atomic)."""
    with store.atomic_group(path) as group:
        arrays = store.create_structure_arrays(
            group, len(structures), structures.shape[1:], param_names
        )
        for i, solid in enumerate(structures):
            arrays[0][i] = np.asarray(solid, dtype=bool)
        arrays[1][...] = np.asarray(params, dtype=np.float64)
        arrays[2][...] = 1
        store.write_array(group, "eta", np.asarray(eta, dtype=np.float64))
        store.write_array(group, "flags_eta", np.asarray(flags, dtype=np.int32))
        store.write_array(group, "porosity", np.asarray(porosity, dtype=np.float64))
        group.attrs.update(
            store.provenance(n=len(structures), size=list(structures.shape[1:]), **attrs)
        )


def label_views(
    path: str | os.PathLike, data: PoreDataModule, augment: bool = True
) -> StructureViews:
    """The views of every structure of a label store, prepared as ``data``'s training views."""
    n = len(store.StructureStore(path))
    labels = read_labels(path, data.data.targets, n)
    valid = valid_views(path, labels, n)  # finite, unflagged labels only
    options = dict(data.data.augment)
    if not data.periodic:
        options["shift"] = False
    return StructureViews(
        path,
        np.arange(n),
        axes=data.data.axes,
        labels=labels,
        targets=data.data.targets,
        pool=data.data.pool,
        scale=data.data.scale,
        augment=Augment(**options) if augment else None,
        valid=valid,
    )


class ReplaySampler(Sampler[int]):
    """Each epoch: every new view once and as many views drawn (without replacement) from the
    original training views, shuffled; indices into ``ConcatDataset([original, new])``."""

    def __init__(self, n_original: int, n_new: int, seed: int):
        self.n_original, self.n_new = int(n_original), int(n_new)
        self.n_replay = min(self.n_original, self.n_new)
        self.seed, self.epoch = int(seed), 0

    def __len__(self) -> int:
        return self.n_new + self.n_replay

    def __iter__(self):
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch]))
        self.epoch += 1
        replay = rng.choice(self.n_original, size=self.n_replay, replace=False)
        order = np.concatenate([replay, self.n_original + np.arange(self.n_new)])
        return iter(rng.permutation(order).tolist())


def fine_tune(
    model: pl.LightningModule,
    data: PoreDataModule,
    label_stores: Sequence[str | os.PathLike],
    epochs: int,
    lr: float,
    settings: TrainSettings,
    seed: int,
) -> pl.LightningModule:
    """Continue training ``model`` (warm start) for ``epochs`` on the views of ``label_stores``
    plus as many replayed training views of ``data`` per epoch; returns the model (on the CPU,
    eval mode)."""
    data.setup()
    new = ConcatDataset([label_views(p, data) for p in label_stores])
    dataset = ConcatDataset([data.train_set, new])
    loader = DataLoader(
        dataset,
        batch_size=data.batch_size,
        sampler=ReplaySampler(len(data.train_set), len(new), seed),
        num_workers=data.num_workers,
    )
    model.hparams.lr = float(lr)  # configure_optimizers reads it
    model.train()  # a loaded model comes in eval mode
    pl.seed_everything(seed, workers=True, verbose=False)
    quick_fit(model, None, epochs, settings, train_loader=loader)
    return model.cpu().eval()


__all__ = ["LABEL_ARRAYS", "ReplaySampler", "fine_tune", "label_views", "write_label_store"]
