"""Learning (SPEC 3): zarr-backed data modules, the papers' models, training entry points.

Models (each built with ``input_size``, the edge of the cubic input, and the paper's settings as
defaults; each owns its loss, its logged metrics and its evaluation): :class:`DiffusivityCNN`
[R22], :class:`PermeabilityCNN` [A25], :class:`VAE3D` [Z23], :class:`PropertyVAE` [A25],
:class:`TransferRegressor` [Z23].

Modules: ``data`` (views, splits, the data module), ``transforms`` (input scaling, pooling,
rotation, augmentation), one module per model on ``base`` (target scaling, the Lightning bases),
``metrics`` (MSE, MAPE, R^2), ``registry`` (model names: each model's class, input scale and
channel widths; torch-free), ``encode`` (a trained VAE on a store: its split, latent means),
``factory`` (``build_model``),
``fit`` (Trainer, checkpoints, resume, evaluation), ``pvae_training`` (pVAE phases, latent-size
search), ``transfer_experiment`` (the transfer stage: both variants of the transfer regressor,
repeated, and Welch's test), ``train`` (what the Snakemake rules call), ``io`` (weights-only saving
and loading), ``figures``.

:func:`poredesign.learn.train.train` is what the Snakemake rules call; :func:`predict` is the
batched diffusivity inference used by the ABC stage; :func:`load_model` reads a saved model
without unpickling anything but tensors.

The names below are imported on first use (PEP 562), so that torch-free modules such as
``poredesign.learn.shapes`` and ``poredesign.learn.metrics`` can be imported (e.g. while Snakemake
validates a config) without loading torch and Lightning. ``fit`` and ``train`` are submodules
(import the functions from them), not package attributes.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module that defines it
_EXPORTS = {
    "Augment": "poredesign.learn.transforms",
    "DataConfig": "poredesign.learn.data",
    "DiffusivityCNN": "poredesign.learn.diffusivity",
    "MODELS": "poredesign.learn.registry",
    "MODEL_CLASSES": "poredesign.learn.io",
    "PHASES": "poredesign.learn.pvae",
    "PermeabilityCNN": "poredesign.learn.permeability",
    "PoreDataModule": "poredesign.learn.data",
    "PropertyVAE": "poredesign.learn.pvae",
    "StructureViews": "poredesign.learn.data",
    "TrainSettings": "poredesign.learn.fit",
    "TransferRegressor": "poredesign.learn.transfer",
    "VAE3D": "poredesign.learn.vae",
    "load_model": "poredesign.learn.io",
    "load_state_dict": "poredesign.learn.io",
    "mape": "poredesign.learn.metrics",
    "mse": "poredesign.learn.metrics",
    "pool2": "poredesign.learn.transforms",
    "predict": "poredesign.learn.diffusivity",
    "r2": "poredesign.learn.metrics",
    "rotate_to_x": "poredesign.learn.transforms",
    "save_model": "poredesign.learn.io",
    "search_latent_size": "poredesign.learn.pvae_training",
    "split_indices": "poredesign.learn.data",
    "to_input": "poredesign.learn.transforms",
    "to_input_torch": "poredesign.learn.transforms",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
