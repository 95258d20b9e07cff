"""Property VAE (pVAE) [A25], SPEC 3.4: a VAE whose latent mean also feeds a property regressor.

Architecture: the encoder/decoder of :mod:`poredesign.learn.vae` (strided 3D convs, dense hidden,
mu/log variance; mirrored transposed convs), with the decoder output passed through a steep
sigmoid 1 / (1 + exp(-k x)) that pushes voxels towards 0 or 1 (implemented as BCE-with-logits on
k * x). The regressor reads the latent mean: dense 16, 16 (ReLU), then one output per property
with ReLU (properties are min-max scaled to [0, 1] with the training split's range).

Loss = reconstruction + beta * KL + gamma * regression MSE, the first two summed per sample and
divided by the number of voxels (as in :class:`VAE3D`).

Training in three phases (``phase``, one of :data:`PHASES`):

1. ``vae``: encoder + decoder on reconstruction + beta * KL;
2. ``regressor``: the regressor alone on the frozen latent means (gamma * MSE);
3. ``joint``: encoder + regressor fine-tuned on the full loss, decoder frozen.

The paper's 100^3 inputs are not a multiple of 16; the decoder mirrors the encoder's sizes
(100 -> 50 -> 25 -> 12 -> 6 -> ... -> 100) with output padding. The paper does not give the conv
widths, dense width and steepness; the defaults (channels 16-128, hidden 512, k = 5) are ours, and
Optuna (:func:`poredesign.learn.pvae_training.search_latent_size`) chooses the latent size.

``dims=2`` builds every convolution in 2D for the image of an extrusion (every slice along the
axis equal): [A25]'s square-pore pVAE is 2D on the 100 x 100 image; 3D stays for volumes.

Evaluation: ``predict_step`` gives the VAE's per-sample reconstruction values and the regressor's
predictions from the latent mean; ``split_report`` the metrics of both and the full loss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from poredesign.learn.base import (
    TargetScaler,
    inputs_and_labels,
    regression_outputs,
    regression_split_report,
    split_size,
)
from poredesign.learn.registry import MODELS
from poredesign.learn.vae import VariationalModule, reparameterize

PHASES = ("vae", "regressor", "joint")


class PropertyVAE(VariationalModule):
    #: trained phase by phase (:func:`poredesign.learn.pvae_training.fit_phases`)
    PHASES: ClassVar[tuple[str, ...]] = PHASES

    def __init__(
        self,
        input_size: int = 100,
        channels: Sequence[int] = MODELS["pvae"].channels,
        hidden: int = 512,
        latent_dim: int = 32,
        regressor_hidden: Sequence[int] = (16, 16),
        targets: Sequence[str] = ("porosity", "k"),
        steepness: float = 5.0,
        beta: float = 1.0,
        gamma: float = 1.0,
        lr: float = 1e-3,
        dims: int = 3,
        latent: str = "dense",
        batch_norm: bool = False,
        periodic: bool = False,
        kl_warmup: int = 0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.targets = list(targets)
        self._build_autoencoder(
            input_size, channels, hidden, latent_dim, dims, latent, batch_norm, periodic
        )
        layers: list[nn.Module] = []
        width = latent_dim
        for h in regressor_hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers += [nn.Linear(width, len(self.targets)), nn.ReLU()]
        # start the ReLU outputs inside the min-max range so no output begins dead
        nn.init.constant_(layers[-2].bias, 0.5)
        self.regressor = nn.Sequential(*layers)
        self.scaler = TargetScaler(len(self.targets), "minmax")
        self._phase = "vae"

    # -- training phases ------------------------------------------------------------------------
    @property
    def phase(self) -> str:
        """The training phase (one of :data:`PHASES`); setting it freezes the other parts."""
        return self._phase

    @phase.setter
    def phase(self, value: str) -> None:
        if value not in PHASES:
            raise ValueError(f"PropertyVAE phase must be one of {PHASES}; got {value!r}")
        self._phase = value
        trainable = {
            "vae": (self.encoder, self.decoder),
            "regressor": (self.regressor,),
            "joint": (self.encoder, self.regressor),
        }[value]
        for module in (self.encoder, self.decoder, self.regressor):
            module.requires_grad_(any(module is m for m in trainable))

    def set_target_range(self, lo, hi) -> None:
        self.scaler.set_range(lo, hi)

    @property
    def needs_target_range(self) -> bool:
        return True

    # -- model ----------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor):
        """(decoder logits before the steep sigmoid, mu, log variance, scaled properties)."""
        mu, logvar = self.encoder(x)
        z = reparameterize(mu, logvar) if self.training else mu
        return self.decoder(z), mu, logvar, self.regressor(mu)

    def voxel_logits(self, z: torch.Tensor) -> torch.Tensor:
        """k times the decoder output: the argument of the steep sigmoid."""
        return self.hparams.steepness * self.decoder(z).float()

    def regress(self, z: torch.Tensor) -> torch.Tensor:
        """Physical-scale properties predicted from latent codes (differentiable in z)."""
        return self.scaler.decode(self.regressor(z).float())

    @torch.no_grad()
    def predict_properties(self, x: torch.Tensor) -> torch.Tensor:
        return self.regress(self.encoder(x)[0])

    def losses(self, batch, stage: str = "val") -> dict[str, torch.Tensor]:
        x, t = batch
        hp = self.hparams
        if self._phase == "regressor":
            with torch.no_grad():
                mu, _ = self.encoder(x)
            reg = F.mse_loss(self.regressor(mu).float(), self.scaler.encode(t.float()))
            return {"loss": hp.gamma * reg, "mse": reg}
        logits, mu, logvar, pred = self(x)
        bce, kl = self.reconstruction_terms(hp.steepness * logits.float(), x, mu, logvar)
        reg = F.mse_loss(pred.float(), self.scaler.encode(t.float()))
        loss = bce + self.kl_weight(stage) * kl
        if self._phase == "joint":
            loss = loss + hp.gamma * reg
        return {"loss": loss, "bce": bce, "kl": kl, "mse": reg}

    def _common_step(self, batch, stage: str) -> torch.Tensor:
        out = self.losses(batch, stage)
        self._log_values(out, stage, batch[0].shape[0])
        return out["loss"]

    # -- evaluation -----------------------------------------------------------------------------
    def predict_step(self, batch, batch_idx: int = 0, dataloader_idx: int = 0):
        """Per-sample reconstruction values and, from the latent mean, the property predictions
        (and labels, when the batch has them) on both scales."""
        x, t = inputs_and_labels(batch)
        out, mu = self.reconstruction_outputs(x)
        return {**out, **regression_outputs(self.scaler, self.regressor(mu).float(), t)}

    def split_report(self, outputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """``n``, the reconstruction and regression metrics, ``mse_scaled`` (the regression loss)
        and ``loss`` = BCE + beta * KL + gamma * mse_scaled of one split."""
        if not outputs:
            return {"n": 0}
        report = self.reconstruction_report(outputs)
        regression, mse_scaled = regression_split_report(outputs, self.targets)
        report.update(regression)
        report["mse_scaled"] = mse_scaled
        report["loss"] = report["loss"] + float(self.hparams.gamma) * mse_scaled
        return {"n": split_size(outputs), **report}

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        return torch.optim.Adam(params, lr=self.hparams.lr)

    def on_train_epoch_start(self) -> None:
        # frozen parts stay in eval mode (no effect on these layers today; future-proof for BN)
        if self._phase == "regressor":
            self.encoder.eval()
            self.decoder.eval()
        elif self._phase == "joint":
            self.decoder.eval()
