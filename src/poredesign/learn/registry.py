"""The model registry: every model name of the ``learn`` section, what the workflow must know of it
before torch is imported, and its class.

A new model is a LightningModule class and one line in :data:`MODELS` (plus its
``learn.<name>`` section in the config schema, which holds its settings and their defaults).
The registry imports no torch: the config validation reads the channel widths and the
feature-map rule to refuse a too-small ``dataset.size`` before any job runs; the class is
imported on first use (:meth:`ModelSpec.load`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: input scales of the sample definition: ``centered`` maps solid/pore to +1/-1, ``binary`` to 1/0
SCALES = ("centered", "binary")
#: feature-map rules: ``halving`` (stride-2 or same-padded conv + 2x pooling per block),
#: ``unpadded`` (two unpadded 3^3 convs + 2x pooling per block, the diffusivity CNN of [R22])
BLOCKS = ("halving", "unpadded")

_NO_AUGMENT = {"flip": False, "swap": False, "shift": False, "shift_axes": "orthogonal"}


@dataclass(frozen=True)
class ModelSpec:
    """One model: its class (``module:Class`` under :mod:`poredesign.learn`), the input scale its
    paper uses, its paper channel widths (the depth sets the smallest input edge), its
    feature-map rule, and the sample-definition values fixed for it (keys its config section
    does not hold, e.g. the VAE has no targets)."""

    path: str
    scale: str
    channels: tuple[int, ...]
    blocks: str = "halving"
    samples: Mapping[str, Any] = field(default_factory=dict)

    def load(self) -> type:
        """The model's LightningModule class (imports torch)."""
        module, name = self.path.split(":")
        return getattr(importlib.import_module(f"poredesign.learn.{module}"), name)


MODELS: dict[str, ModelSpec] = {
    "diffusivity": ModelSpec(
        "diffusivity:DiffusivityCNN", "centered", (32, 48, 64), blocks="unpadded"
    ),
    "permeability": ModelSpec("permeability:PermeabilityCNN", "centered", (32, 64, 128, 256)),
    "vae": ModelSpec(
        "vae:VAE3D", "binary", (16, 32, 64, 128), samples={"targets": [], "axes": [0]}
    ),
    "pvae": ModelSpec("pvae:PropertyVAE", "binary", (16, 32, 64, 128)),
    "transfer": ModelSpec(
        "transfer:TransferRegressor", "binary", (16, 32, 64, 128), samples={"augment": _NO_AUGMENT}
    ),
}


def model_spec(name: str) -> ModelSpec:
    """The registry entry of model ``name``; ValueError naming the known models otherwise."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name]


def model_class(name: str) -> type:
    """The LightningModule class of model ``name``."""
    return model_spec(name).load()


__all__ = ["BLOCKS", "MODELS", "SCALES", "ModelSpec", "model_class", "model_spec"]
