"""Pieces shared by the models: target scaling, layer maths, the LightningModule bases.

:class:`StagedModule` runs the train/val/test steps through one ``_common_step`` and declares the
model-owned evaluation (``predict_step`` per batch, ``split_report`` per split);
:class:`PropertyRegressor` is the supervised base (MSE on the training scale, MAPE logged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from poredesign.learn.metrics import mape, mse, regression_report

TARGET_TRANSFORMS = ("logit", "minmax", "none")

#: layers per number of spatial dimensions: 3 for volumes, 2 for the image of an extrusion (every
#: slice along the transport axis equal; [A25] trains on the 100 x 100 image of its square pores)
CONVOLUTIONS: dict[int, type[nn.Module]] = {2: nn.Conv2d, 3: nn.Conv3d}
TRANSPOSED_CONVOLUTIONS: dict[int, type[nn.Module]] = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
MAX_POOLS: dict[int, type[nn.Module]] = {2: nn.MaxPool2d, 3: nn.MaxPool3d}
BATCH_NORMS: dict[int, type[nn.Module]] = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}


def check_dims(dims: int, where: str) -> int:
    """``dims`` when it is 2 (images) or 3 (volumes); else a ValueError naming ``where``."""
    if dims not in CONVOLUTIONS:
        raise ValueError(f"{where}: dims must be 2 (images) or 3 (volumes); got {dims!r}")
    return int(dims)


LOGIT_EPS = 1e-6


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
    """Training, validation and test steps all run ``_common_step(batch, stage)``, which logs per
    stage (``stage`` is train, val or test).

    Evaluation is the model's own as well: :meth:`predict_step` returns per-sample values of one
    batch (a dict of tensors with the batch as first dimension), and :meth:`split_report` turns
    those values, concatenated over one split, into the metrics of that split.
    """

    def _common_step(self, batch, stage: str) -> torch.Tensor:
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        return self._common_step(batch, "train")

    def validation_step(self, batch, batch_idx):
        return self._common_step(batch, "val")

    def test_step(self, batch, batch_idx):
        return self._common_step(batch, "test")

    def split_report(self, outputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """The metrics of one split from its concatenated :meth:`predict_step` values."""
        raise NotImplementedError

    def _log_values(self, values: Mapping[str, torch.Tensor], stage: str, batch_size: int) -> None:
        """Log ``{stage}_{name}`` per epoch; the loss shows in the progress bar outside tests."""
        for name, value in values.items():
            self.log(
                f"{stage}_{name}",
                value,
                on_step=False,
                on_epoch=True,
                prog_bar=name == "loss" and stage != "test",
                batch_size=batch_size,
            )


def inputs_and_labels(batch) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(x, t)`` of a batch given as ``x``, ``(x,)`` or ``(x, t)``; ``t`` None without labels."""
    if isinstance(batch, (list, tuple)):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


def concat_outputs(batches: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, np.ndarray]:
    """Per-sample values of several :meth:`StagedModule.predict_step` calls as float32 arrays, in
    batch order; ``{}`` when there were no batches."""
    arrays: dict[str, list[np.ndarray]] = {}
    for batch in batches:
        for key, value in batch.items():
            arrays.setdefault(key, []).append(value.float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in arrays.items()}


def split_size(outputs: Mapping[str, np.ndarray]) -> int:
    """Number of samples in concatenated per-sample values (0 for an empty split)."""
    return int(len(next(iter(outputs.values())))) if outputs else 0


def regression_outputs(
    scaler: TargetScaler, pred_scaled: torch.Tensor, t: torch.Tensor | None
) -> dict[str, torch.Tensor]:
    """Per-sample predictions on the training scale and the physical scale, and the labels on
    both scales when there are labels."""
    out = {"pred_scaled": pred_scaled}
    if t is not None:
        out["true_scaled"] = scaler.encode(t.float())
    out["pred"] = scaler.decode(pred_scaled)
    if t is not None:
        out["true"] = t
    return out


def regression_split_report(
    outputs: Mapping[str, np.ndarray], targets: Sequence[str]
) -> tuple[dict[str, Any], float]:
    """``mse``/``mape``/``r2``/``mse_scaled`` per target (:func:`regression_report`) and the mean
    MSE on the training scale (the regression loss) of one split."""
    report = regression_report(
        outputs["pred"],
        outputs["true"],
        list(targets),
        outputs["pred_scaled"],
        outputs["true_scaled"],
    )
    return report, float(np.mean(mse(outputs["pred_scaled"], outputs["true_scaled"])))


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

    def _common_step(self, batch, stage: str) -> torch.Tensor:
        x, t = batch
        pred = self(x)
        y = self.scaler.encode(t)
        loss = F.mse_loss(pred.float(), y.float())
        with torch.no_grad():
            phys = self.scaler.decode(pred.float())
            error = mape(phys, t, axis=None)
        batch_size = x.shape[0]
        self.log(
            f"{stage}_loss",
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=stage != "test",
            batch_size=batch_size,
        )
        self.log(f"{stage}_mape", error, on_step=False, on_epoch=True, batch_size=batch_size)
        if stage == "train":
            loss = loss + self.regularization()
        return loss

    def predict_step(self, batch, batch_idx: int = 0, dataloader_idx: int = 0):
        """Per-sample ``pred``/``pred_scaled`` (physical / training scale) of ``x`` or ``(x, t)``,
        and ``true``/``true_scaled`` when the batch has labels."""
        x, t = inputs_and_labels(batch)
        return regression_outputs(self.scaler, self(x).float(), t)

    def split_report(self, outputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """``n``, the regression metrics per target and ``loss`` (the MSE on the training scale,
        without regularisation) of one split."""
        if not outputs:
            return {"n": 0}
        report, loss = regression_split_report(outputs, self.targets)
        return {"n": split_size(outputs), **report, "loss": loss}

    @torch.no_grad()
    def predict_properties(self, x: torch.Tensor) -> torch.Tensor:
        """Physical-scale predictions (B, n_targets) for prepared inputs (B, 1, n, n, n), or
        (B, 1, n, n) for a 2D model."""
        return self.scaler.decode(self(x).float())


class ConvRegressor(PropertyRegressor):
    """A regressor made of convolutional feature blocks and a dense head (the two CNNs)."""

    def _set_network(
        self,
        layers: Sequence[nn.Module],
        channels: int,
        size: int,
        hidden: Sequence[int],
        activation: type[nn.Module],
        dims: int = 3,
    ) -> None:
        """``features`` from ``layers`` (ending in ``channels`` maps of edge ``size`` in ``dims``
        dimensions), then the dense head; the head is built after the layers so the weight draws
        keep their order."""
        self.features = nn.Sequential(*layers)
        self.head = dense_head(channels * size**dims, hidden, len(self.targets), activation)
        self.feature_size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
