"""Diffusivity CNN [R22], SPEC 3.1, and the batched inference helper used by the ABC stage.

Three blocks [Conv3d 3^3 -> ELU -> Conv3d 3^3 -> ELU -> AvgPool 2] with 32, 48, 64 filters and no
padding, then dense 256, 192, 128, 64 (ELU) and one linear output: the logit of the relative
diffusivity eta along x. At 96^3 (96 -> 94 -> 92 -> 46 -> 44 -> 42 -> 21 -> 19 -> 17 -> 8) the
network has 8,797,249 weights. The smallest input it accepts is 36^3.

Training (paper): SGD with momentum 0.9, batch 16, a stepped learning rate, 3500 epochs, the best
validation model kept. The paper does not list its step schedule; the defaults here (lr 5e-3 halved
every 1000 epochs) are our choice, set in the config.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from poredesign.devices import autocast
from poredesign.learn.base import ConvRegressor
from poredesign.learn.registry import MODELS
from poredesign.learn.shapes import minimum_input_edge, unpadded_block_edge
from poredesign.learn.transforms import rotate_to_x_torch, to_input_torch


class DiffusivityCNN(ConvRegressor):
    def __init__(
        self,
        input_size: int = 96,
        channels: Sequence[int] = MODELS["diffusivity"].channels,
        hidden: Sequence[int] = (256, 192, 128, 64),
        targets: Sequence[str] = ("eta",),
        optimizer: str = "sgd",
        lr: float = 5e-3,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        lr_step_epochs: int = 1000,
        lr_gamma: float = 0.5,
    ):
        super().__init__(targets, "logit")
        self.save_hyperparameters()
        if optimizer not in ("sgd", "adam"):
            raise ValueError(f"DiffusivityCNN optimizer must be 'sgd' or 'adam'; got {optimizer!r}")
        layers: list[nn.Module] = []
        size, c_in = int(input_size), 1
        for c in channels:
            layers += [
                nn.Conv3d(c_in, c, 3),
                nn.ELU(),
                nn.Conv3d(c, c, 3),
                nn.ELU(),
                nn.AvgPool3d(2),
            ]
            size = unpadded_block_edge(size)
            c_in = c
        if size < 1:
            raise ValueError(
                f"DiffusivityCNN input_size {input_size} is too small: its {len(channels)} "
                f"unpadded conv blocks need at least "
                f"{minimum_input_edge('diffusivity', len(channels))} voxels per edge"
            )
        self._set_network(layers, c_in, size, hidden, nn.ELU)

    def configure_optimizers(self):
        hp = self.hparams
        if hp.optimizer == "sgd":
            opt = torch.optim.SGD(
                self.parameters(), lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay
            )
        else:
            opt = torch.optim.Adam(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        sched = torch.optim.lr_scheduler.StepLR(
            opt, step_size=max(1, hp.lr_step_epochs), gamma=hp.lr_gamma
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}


@torch.no_grad()
def predict(
    model: DiffusivityCNN, structures: torch.Tensor, pool: bool | None = None, batch_size: int = 64
) -> torch.Tensor:
    """Relative diffusivities (B, 3) of a batch of bool structures (B, M, M, M), True = solid.

    Each axis in turn is rotated onto x exactly as in training (:func:`rotate_to_x`), the volume is
    2x2x2 sum-pooled when M = 2 * input_size (or when ``pool`` says so), rescaled to [-1/2, 1/2] and
    passed through the CNN; eta = sigmoid(logit). Runs on the model's device (bf16 autocast on CUDA)
    in chunks of ``batch_size`` volumes per axis.
    """
    structures = torch.as_tensor(structures)
    if structures.ndim == 3:
        structures = structures.unsqueeze(0)
    if structures.ndim != 4 or len(set(structures.shape[1:])) != 1:
        raise ValueError(
            f"predict needs a batch of cubic structures (B, M, M, M); "
            f"got shape {tuple(structures.shape)}"
        )
    edge = structures.shape[1]
    n = model.hparams.input_size
    if pool is None:
        if edge == n:
            pool = False
        elif edge == 2 * n:
            pool = True
        else:
            raise ValueError(
                f"structures of edge {edge} do not fit a DiffusivityCNN with "
                f"input_size {n}: expected {n} or {2 * n} (pooled)"
            )
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.empty(structures.shape[0], 3, dtype=torch.float32, device=device)
    for start in range(0, structures.shape[0], batch_size):
        chunk = structures[start : start + batch_size].to(device, non_blocking=True)
        for axis in range(3):
            x = to_input_torch(rotate_to_x_torch(chunk, axis).contiguous(), pool, "centered")
            with autocast(device):
                logit = model(x)
            out[start : start + chunk.shape[0], axis] = torch.sigmoid(logit.float()[:, 0])
    model.train(was_training)
    return out
