"""Feature-map arithmetic of the models, without torch (lengths in voxels per cube edge).

The models build their layers from these functions, and the config validation uses them to
refuse, before any job runs, a ``dataset.size`` too small for a model's convolutions (the paper
channel widths and each model's feature-map rule are the registry's,
:data:`poredesign.learn.registry.MODELS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from poredesign.learn.registry import model_spec


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output edge of a convolution or pooling layer (floor mode)."""
    return (size + 2 * padding - kernel) // stride + 1


def unpadded_block_edge(size: int) -> int:
    """Edge after one [Conv 3^3, Conv 3^3, AvgPool 2] block without padding (DiffusivityCNN)."""
    return conv_out(conv_out(size, 3), 3) // 2


def halving_edge(size: int) -> int:
    """Edge after one halving layer: a stride-2 conv (kernel 4, padding 1) or a same-padded conv
    followed by 2x pooling (VAE encoders, PermeabilityCNN)."""
    return conv_out(size, 4, 2, 1)


def feature_edge(model: str, input_size: int, n_blocks: int) -> int:
    """Edge of the last feature map of ``model`` for a cubic input of ``input_size`` voxels."""
    size = int(input_size)
    step = unpadded_block_edge if model_spec(model).blocks == "unpadded" else halving_edge
    for _ in range(int(n_blocks)):
        size = step(size)
    return size


def minimum_input_edge(model: str, n_blocks: int) -> int:
    """The smallest input edge whose last feature map is at least one voxel."""
    size = 1
    while feature_edge(model, size, n_blocks) < 1:
        size += 1
    return size


def input_edge_problem(model: str, input_edge: int, hparams: Mapping[str, Any]) -> str | None:
    """Why ``model`` cannot take inputs of ``input_edge`` voxels with ``hparams``, or None."""
    channels: Sequence[int] = hparams.get("channels") or model_spec(model).channels
    if feature_edge(model, input_edge, len(channels)) >= 1:
        return None
    return (
        f"{model} needs inputs of at least {minimum_input_edge(model, len(channels))} voxels per "
        f"edge for its {len(channels)} convolution blocks; the data give {input_edge}"
    )
