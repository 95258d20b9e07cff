"""Pieces shared by the models: target scaling, the supervised LightningModule base, layer maths."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

TARGET_TRANSFORMS = ("logit", "minmax", "none")
LOGIT_EPS = 1e-6


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output edge of a convolution or pooling layer (floor mode)."""
    return (size + 2 * padding - kernel) // stride + 1


class TargetScaler(nn.Module):
    """Maps physical labels to the training scale and back; its range is part of the state_dict.

    - ``logit``: y = log(t / (1 - t)) with t clipped to [1e-6, 1 - 1e-6] (diffusivity, SPEC 3.1);
    - ``minmax``: y = (t - lo) / (hi - lo) with (lo, hi) from the training split (SPEC 3.2, 3.4);
    - ``none``: y = t.
    """

    def __init__(self, n_targets: int, kind: str = "none"):
        super().__init__()
        if kind not in TARGET_TRANSFORMS:
            raise ValueError(f"target transform must be one of {TARGET_TRANSFORMS}; got {kind!r}")
        self.kind = kind
        self.register_buffer("lo", torch.zeros(n_targets))
        self.register_buffer("hi", torch.ones(n_targets))

    def set_range(self, lo: Sequence[float] | np.ndarray, hi: Sequence[float] | np.ndarray) -> None:
        lo = torch.as_tensor(np.asarray(lo, dtype=np.float32)).reshape(self.lo.shape)
        hi = torch.as_tensor(np.asarray(hi, dtype=np.float32)).reshape(self.hi.shape)
        # a constant target would divide by zero; keep a unit span around it
        span = hi - lo
        hi = torch.where(span > 0, hi, lo + 1.0)
        self.lo.copy_(lo)
        self.hi.copy_(hi)

    def encode(self, t: torch.Tensor) -> torch.Tensor:
        if self.kind == "logit":
            t = t.clamp(LOGIT_EPS, 1.0 - LOGIT_EPS)
            return torch.log(t) - torch.log1p(-t)
        if self.kind == "minmax":
            return (t - self.lo) / (self.hi - self.lo)
        return t

    def decode(self, y: torch.Tensor) -> torch.Tensor:
        if self.kind == "logit":
            return torch.sigmoid(y)
        if self.kind == "minmax":
            return y * (self.hi - self.lo) + self.lo
        return y


def dense_head(
    width: int, hidden: Sequence[int], n_out: int, activation: type[nn.Module]
) -> nn.Sequential:
    """Flatten, one Linear + activation per hidden width, then a linear output layer."""
    layers: list[nn.Module] = [nn.Flatten()]
    for h in hidden:
        layers += [nn.Linear(width, h), activation()]
        width = h
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def xavier_init(module: nn.Module) -> None:
    """Xavier-uniform weights and zero biases for every Linear/Conv layer (Keras' default)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv3d, nn.ConvTranspose3d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def n_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


class StagedModule(pl.LightningModule):
    """Training, validation and test steps all run ``_step(batch, stage)``, which logs per stage."""

    def _step(self, batch, stage: str) -> torch.Tensor:
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        return self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        return self._step(batch, "test")


class PropertyRegressor(StagedModule):
    """Base of the supervised models: forward gives targets on the training scale, the loss is the
    MSE there; ``{stage}_loss`` and ``{stage}_mape`` (physical scale, %) are logged per epoch."""

    def __init__(self, targets: Sequence[str], target_transform: str):
        super().__init__()
        self.targets = list(targets)
        self.scaler = TargetScaler(len(self.targets), target_transform)

    def set_target_range(self, lo, hi) -> None:
        self.scaler.set_range(lo, hi)

    @property
    def needs_target_range(self) -> bool:
        return self.scaler.kind == "minmax"

    def regularization(self) -> torch.Tensor | float:
        return 0.0

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, t = batch
        pred = self(x)
        y = self.scaler.encode(t)
        loss = F.mse_loss(pred.float(), y.float())
        with torch.no_grad():
            phys = self.scaler.decode(pred.float())
            mape = 100.0 * ((phys - t).abs() / t.abs().clamp_min(1e-12)).mean()
        batch_size = x.shape[0]
        self.log(
            f"{stage}_loss",
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=stage != "test",
            batch_size=batch_size,
        )
        self.log(f"{stage}_mape", mape, on_step=False, on_epoch=True, batch_size=batch_size)
        if stage == "train":
            loss = loss + self.regularization()
        return loss

    def predict_step(self, batch, batch_idx, dataloader_idx: int = 0):
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        return self.scaler.decode(self(x).float())

    @torch.no_grad()
    def predict_properties(self, x: torch.Tensor) -> torch.Tensor:
        """Physical-scale predictions (B, n_targets) for prepared inputs (B, 1, n, n, n)."""
        return self.scaler.decode(self(x).float())
