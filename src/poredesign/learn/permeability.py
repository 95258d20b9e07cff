"""Permeability CNN [A25], SPEC 3.2.

Four blocks [Conv3d (same padding) -> ReLU -> MaxPool3d 2] with 32, 64, 128, 256 filters and
kernels growing from 3 to 7, then dense 64, 32 (ReLU) and linear outputs: by default the
permeability along the flow axis and the porosity, both min-max scaled with the training split's
range. The paper gives the filter and kernel ranges but not each layer's kernel; we use
kernels (3, 3, 5, 7) (a parameter). At the paper's 100^3 the feature map is 6^3 x 256.

``dims=2`` builds the same network with 2D layers for the image of an extrusion (every slice along
the flow equal, as the square pores): 3D at 100^3 trains at about 0.07 samples/s on a laptop CPU,
2D on the 100 x 100 image is about a thousand times cheaper and sees the same information.

Training (paper): Adam, MSE, ReduceLROnPlateau, early stopping, checkpoints, batch 16, up to 175
epochs; the plateau scheduler watches ``val_loss``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from poredesign.learn.base import CONVOLUTIONS, MAX_POOLS, ConvRegressor, check_dims
from poredesign.learn.registry import MODELS
from poredesign.learn.shapes import halving_edge


class PermeabilityCNN(ConvRegressor):
    def __init__(
        self,
        input_size: int = 100,
        channels: Sequence[int] = MODELS["permeability"].channels,
        kernels: Sequence[int] = (3, 3, 5, 7),
        hidden: Sequence[int] = (64, 32),
        targets: Sequence[str] = ("k", "porosity"),
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        plateau_factor: float = 0.5,
        plateau_patience: int = 10,
        dims: int = 3,
    ):
        super().__init__(targets, "minmax")
        self.save_hyperparameters()
        if len(channels) != len(kernels):
            raise ValueError(
                f"PermeabilityCNN: channels {list(channels)} and kernels "
                f"{list(kernels)} must have the same length"
            )
        if any(k % 2 == 0 for k in kernels):
            raise ValueError(f"PermeabilityCNN kernels must be odd (same padding); got {kernels}")
        conv, pool = CONVOLUTIONS[check_dims(dims, "PermeabilityCNN")], MAX_POOLS[dims]
        layers: list[nn.Module] = []
        size, c_in = int(input_size), 1
        for c, k in zip(channels, kernels, strict=True):
            layers += [conv(c_in, c, k, padding=k // 2), nn.ReLU(), pool(2)]
            size = halving_edge(size)
            c_in = c
        if size < 1:
            raise ValueError(
                f"PermeabilityCNN input_size {input_size} is too small: "
                f"{len(channels)} pooling steps need at least {2 ** len(channels)}"
            )
        self._set_network(layers, c_in, size, hidden, nn.ReLU, dims)

    def configure_optimizers(self):
        hp = self.hparams
        opt = torch.optim.Adam(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=hp.plateau_factor, patience=hp.plateau_patience
        )
        return {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": sched, "monitor": "val_loss", "interval": "epoch"},
        }
