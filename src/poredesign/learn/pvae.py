"""Property VAE (pVAE) [A25], SPEC 3.4: a VAE whose latent mean also feeds a property regressor.

Architecture: the encoder/decoder of :mod:`poredesign.learn.vae` (strided 3D convs, dense hidden,
mu/log variance; mirrored transposed convs), with the decoder output passed through a steep
sigmoid 1 / (1 + exp(-k x)) that pushes voxels towards 0 or 1 (implemented as BCE-with-logits on
k * x). The regressor reads the latent mean: dense 16, 16 (ReLU), then one output per property
with ReLU (properties are min-max scaled to [0, 1] with the training split's range).

Loss = reconstruction + beta * KL + gamma * regression MSE, the first two summed per sample and
divided by the number of voxels (as in :class:`VAE3D`).

Staged training (``stage``):

1. ``vae``: encoder + decoder on reconstruction + beta * KL;
2. ``regressor``: the regressor alone on the frozen latent means (gamma * MSE);
3. ``joint``: encoder + regressor fine-tuned on the full loss, decoder frozen.

The paper's 100^3 inputs are not a multiple of 16; the decoder mirrors the encoder's sizes
(100 -> 50 -> 25 -> 12 -> 6 -> ... -> 100) with output padding. The paper does not give the conv
widths, dense width and steepness; the defaults (channels 16-128, hidden 512, k = 5) are ours, and
Optuna (:func:`search_latent_size`) chooses the latent size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from poredesign.learn.base import StagedModule, TargetScaler
from poredesign.learn.vae import Decoder3D, Encoder3D, bce_per_sample, kl_divergence, reparameterize

STAGES = ("vae", "regressor", "joint")


class PropertyVAE(StagedModule):
    def __init__(
        self,
        input_size: int = 100,
        channels: Sequence[int] = (16, 32, 64, 128),
        hidden: int = 512,
        latent_dim: int = 32,
        regressor_hidden: Sequence[int] = (16, 16),
        targets: Sequence[str] = ("porosity", "k"),
        steepness: float = 5.0,
        beta: float = 1.0,
        gamma: float = 1.0,
        lr: float = 1e-3,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.targets = list(targets)
        self.encoder = Encoder3D(input_size, channels, hidden, latent_dim)
        self.decoder = Decoder3D(self.encoder.sizes, channels, latent_dim)
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
        self.n_voxels = int(input_size) ** 3
        self._stage = "vae"

    # -- stages ---------------------------------------------------------------------------------
    @property
    def stage(self) -> str:
        return self._stage

    @stage.setter
    def stage(self, value: str) -> None:
        if value not in STAGES:
            raise ValueError(f"PropertyVAE stage must be one of {STAGES}; got {value!r}")
        self._stage = value
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

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)[0]

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Voxel solid probabilities through the steep sigmoid."""
        return torch.sigmoid(self.hparams.steepness * self.decoder(z).float())

    def regress(self, z: torch.Tensor) -> torch.Tensor:
        """Physical-scale properties predicted from latent codes (differentiable in z)."""
        return self.scaler.decode(self.regressor(z).float())

    @torch.no_grad()
    def predict_properties(self, x: torch.Tensor) -> torch.Tensor:
        return self.regress(self.encoder(x)[0])

    def losses(self, batch) -> dict[str, torch.Tensor]:
        x, t = batch
        hp = self.hparams
        if self._stage == "regressor":
            with torch.no_grad():
                mu, _ = self.encoder(x)
            reg = F.mse_loss(self.regressor(mu).float(), self.scaler.encode(t.float()))
            return {"loss": hp.gamma * reg, "mse": reg}
        logits, mu, logvar, pred = self(x)
        bce = bce_per_sample(hp.steepness * logits.float(), x).mean() / self.n_voxels
        kl = kl_divergence(mu.float(), logvar.float()).mean() / self.n_voxels
        reg = F.mse_loss(pred.float(), self.scaler.encode(t.float()))
        loss = bce + hp.beta * kl
        if self._stage == "joint":
            loss = loss + hp.gamma * reg
        return {"loss": loss, "bce": bce, "kl": kl, "mse": reg}

    def _step(self, batch, stage: str) -> torch.Tensor:
        out = self.losses(batch)
        for name, value in out.items():
            self.log(
                f"{stage}_{name}",
                value,
                on_step=False,
                on_epoch=True,
                prog_bar=name == "loss" and stage != "test",
                batch_size=batch[0].shape[0],
            )
        return out["loss"]

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        return torch.optim.Adam(params, lr=self.hparams.lr)

    def on_train_epoch_start(self) -> None:
        # frozen parts stay in eval mode (no effect on these layers today; future-proof for BN)
        if self._stage == "regressor":
            self.encoder.eval()
            self.decoder.eval()
        elif self._stage == "joint":
            self.decoder.eval()
