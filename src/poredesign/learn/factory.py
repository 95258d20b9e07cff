"""The model factory: model names, each model's sample definition, and :func:`build_model`.

A model name (``diffusivity``, ``permeability``, ``vae``, ``pvae``, ``transfer``; the ``learn``
section's keys) maps to its LightningModule class in :data:`MODELS` and to the sample definition
its paper uses in :data:`DATA_DEFAULTS` (targets, axes, pooling, input scale, augmentation).
:func:`build_model` instantiates a model for a data module: input size from the data, targets
from the data config, the training split's target range, VAE encoder weights for transfer.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any

import pytorch_lightning as pl

from poredesign.learn.data import DataConfig, PoreDataModule
from poredesign.learn.diffusivity import DiffusivityCNN
from poredesign.learn.io import load_state_dict, read_meta
from poredesign.learn.permeability import PermeabilityCNN
from poredesign.learn.pvae import PropertyVAE
from poredesign.learn.transfer import TransferRegressor
from poredesign.learn.vae import VAE3D

MODELS: dict[str, type[pl.LightningModule]] = {
    "diffusivity": DiffusivityCNN,
    "permeability": PermeabilityCNN,
    "vae": VAE3D,
    "pvae": PropertyVAE,
    "transfer": TransferRegressor,
}

_AUG_ON = {"flip": True, "swap": True, "shift": True, "shift_axes": "orthogonal"}
_AUG_OFF = {"flip": False, "swap": False, "shift": False, "shift_axes": "orthogonal"}

#: sample definition per model (SPEC 3.x); every key can be overridden
DATA_DEFAULTS: dict[str, dict[str, Any]] = {
    "diffusivity": {
        "targets": ["eta"],
        "axes": [0, 1, 2],
        "pool": True,
        "scale": "centered",
        "augment": _AUG_ON,
    },
    "permeability": {
        "targets": ["k", "porosity"],
        "axes": [2],
        "pool": False,
        "scale": "centered",
        "augment": _AUG_ON,
    },
    "vae": {"targets": [], "axes": [0], "pool": False, "scale": "binary", "augment": _AUG_OFF},
    "pvae": {
        "targets": ["porosity", "k"],
        "axes": [2],
        "pool": False,
        "scale": "binary",
        "augment": _AUG_OFF,
    },
    "transfer": {
        "targets": ["tau"],
        "axes": [0],
        "pool": False,
        "scale": "binary",
        "augment": _AUG_OFF,
    },
}


def data_config(name: str, data: Mapping[str, Any] | None, seed: int) -> DataConfig:
    """Model ``name``'s sample definition with the overrides in ``data`` (augment merged by key)."""
    merged = {**DATA_DEFAULTS[name], "seed": seed, **dict(data or {})}
    merged["augment"] = {**DATA_DEFAULTS[name]["augment"], **dict(merged.get("augment") or {})}
    return DataConfig(**merged)


def _check_kwargs(cls: type, kwargs: Mapping[str, Any], where: str) -> None:
    allowed = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ValueError(
            f"{where}: unknown hyperparameter{'s' if len(unknown) > 1 else ''} "
            f"{unknown} for {cls.__name__}; allowed: {sorted(allowed)}"
        )


def build_model(
    name: str,
    model_kwargs: Mapping[str, Any],
    datamodule: PoreDataModule,
    encoder: str | os.PathLike | None = None,
) -> pl.LightningModule:
    """Instantiate model ``name``: input size from the data, targets from the data config, the
    training split's target range for min-max scaled models, VAE encoder weights for transfer."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    cls = MODELS[name]
    kwargs = dict(model_kwargs)
    _check_kwargs(cls, kwargs, f"learn.{name}.hparams")
    datamodule.setup()
    input_size = kwargs.setdefault("input_size", datamodule.input_edge)
    dims = datamodule.dims
    if input_size != datamodule.input_edge:
        raise ValueError(
            f"learn.{name}.hparams.input_size = {input_size} but the data give "
            f"{datamodule.input_edge}^{dims} inputs (pooling {datamodule.data.pool})"
        )
    if "dims" in inspect.signature(cls.__init__).parameters:
        kwargs["dims"] = dims
    elif dims != 3:
        raise ValueError(
            f"learn.{name}: {cls.__name__} has no 2D version; the data are extrusions seen as "
            f"images (dims {dims}): set learn.{name}.dims: 3 (needs cubic volumes)"
        )
    if "targets" in inspect.signature(cls.__init__).parameters:
        kwargs["targets"] = list(datamodule.data.targets)
    if name == "transfer" and encoder is not None:
        vae_hp = read_meta(encoder)["hparams"]
        for key in ("channels", "hidden", "latent_dim", "latent", "batch_norm", "periodic"):
            if key in vae_hp:  # models saved before the grid code have no latent/batch_norm
                kwargs.setdefault(key, vae_hp[key])
        if vae_hp["input_size"] != input_size:
            raise ValueError(
                f"the VAE encoder {encoder} takes {vae_hp['input_size']}^3 inputs; "
                f"the transfer data give {input_size}^3"
            )
    model = cls(**kwargs)
    if getattr(model, "needs_target_range", False):
        lo, hi = datamodule.target_range()
        model.set_target_range(lo, hi)
    if name == "transfer" and model.hparams.pretrained:
        if encoder is None:
            raise ValueError(
                "the pretrained transfer regressor needs VAE encoder weights "
                "(learn.transfer.encoder)"
            )
        model.load_encoder(load_state_dict(encoder))
    return model


__all__ = ["DATA_DEFAULTS", "MODELS", "build_model", "data_config"]
