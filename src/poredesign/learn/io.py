"""Saving and loading trained models without unpickling arbitrary objects.

A trained model is two files side by side:

- ``<name>.pt``: the ``state_dict`` only (a flat dict of tensors), written with ``torch.save``;
- ``<name>.json``: ``{"model": class name, "hparams": constructor arguments, "data": the sample
  definition (pooling, scaling, axes, targets, split), "code_version": ...}``, plain JSON.

:func:`load_model` rebuilds the class from the JSON (only classes in :data:`MODEL_CLASSES`) and
reads the tensors with ``torch.load(weights_only=True)``, whose unpickler accepts tensors and
primitive containers only. Lightning's own ``.ckpt`` files (optimizer state, loop counters) are used
for resuming an interrupted training only, and are also read with ``weights_only=True`` (see
:mod:`poredesign.learn.fit`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from poredesign import __version__
from poredesign.jsonable import jsonable, read_json, write_json
from poredesign.learn.registry import MODELS

#: class name (as saved in a model's JSON) -> class, for every model of the registry
MODEL_CLASSES = {cls.__name__: cls for cls in (spec.load() for spec in MODELS.values())}


def hparams_path(weights: str | os.PathLike) -> Path:
    return Path(weights).with_suffix(".json")


def save_model(
    model: torch.nn.Module,
    weights: str | os.PathLike,
    data: Mapping[str, Any] | None = None,
    **extra: Any,
) -> tuple[Path, Path]:
    """Write ``weights`` (state_dict of CPU tensors) and its ``.json`` beside it; return both."""
    weights = Path(weights)
    weights.parent.mkdir(parents=True, exist_ok=True)
    name = type(model).__name__
    if name not in MODEL_CLASSES:
        raise TypeError(f"save_model: {name} is not one of {sorted(MODEL_CLASSES)}")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = weights.with_name(f".{weights.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, weights)
    meta = {
        "model": name,
        "hparams": jsonable(dict(model.hparams)),
        "data": jsonable(data or {}),
        "code_version": __version__,
        "torch_version": torch.__version__,
        **jsonable(extra),
    }
    meta_path = hparams_path(weights)
    write_json(meta_path, meta, nan_as_none=False)
    return weights, meta_path


def read_meta(weights: str | os.PathLike) -> dict[str, Any]:
    path = hparams_path(weights)
    if not path.exists():
        raise FileNotFoundError(f"no hyperparameter file {path} beside the weights {weights}")
    return read_json(path)


def load_state_dict(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, torch.Tensor]:
    """Tensors only: refuses any pickled object that is not a tensor or a primitive container."""
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise ValueError(f"{path} is not a state_dict of tensors")
    return dict(state)


def load_model(weights: str | os.PathLike, map_location: Any = "cpu") -> torch.nn.Module:
    """Rebuild a saved model from ``<name>.json`` and ``<name>.pt``; returned in eval mode.

    The sample definition is attached as ``model.data_config`` (a dict).
    """
    weights = Path(weights)
    if weights.is_dir():
        weights = weights / "model.pt"
    meta = read_meta(weights)
    name = meta.get("model")
    if name not in MODEL_CLASSES:
        raise ValueError(
            f"{hparams_path(weights)}: unknown model class {name!r}; known: {sorted(MODEL_CLASSES)}"
        )
    model = MODEL_CLASSES[name](**meta["hparams"])
    model.load_state_dict(load_state_dict(weights, map_location))
    model.data_config = meta.get("data", {})
    return model.eval()
