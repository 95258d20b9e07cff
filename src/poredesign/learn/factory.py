""":func:`build_model`: a model of the registry (:data:`poredesign.learn.registry.MODELS`)
instantiated for a data module: input size and dimensions from the data, targets from the sample
definition, the training split's target range, and for a model that starts from a trained
encoder (its class has ``from_encoder``), the encoder's weights.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any

import pytorch_lightning as pl

from poredesign.learn.data import PoreDataModule
from poredesign.learn.registry import MODELS, model_class


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
    cls = model_class(name)
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
    if hasattr(cls, "from_encoder"):
        model = cls.from_encoder(kwargs, encoder)
    else:
        model = cls(**kwargs)
    if getattr(model, "needs_target_range", False):
        lo, hi = datamodule.target_range()
        model.set_target_range(lo, hi)
    return model


__all__ = ["MODELS", "build_model"]
