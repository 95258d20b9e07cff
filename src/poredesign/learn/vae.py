"""3D convolutional VAE [Z23], SPEC 3.3, and the encoder/decoder shared with the pVAE.

Layers at the paper's 128^3 (``VAE3D.layer_table()`` prints them):

==========  =====================================================  ==================
encoder     Conv3d 1->16, 16->32, 32->64, 64->128; k 4, s 2, p 1   128->64->32->16->8
            ReLU after each; flatten 8^3 x 128 = 65536
            Linear 65536 -> 2048, ReLU
            Linear 2048 -> 256 (mu), Linear 2048 -> 256 (log var)
decoder     Linear 256 -> 65536, ReLU; reshape (128, 8, 8, 8)
            ConvTranspose3d 128->64, 64->32, 32->16 (ReLU), 16->1   8->16->32->64->128
            k 4, s 2, p 1; sigmoid on the last
==========  =====================================================  ==================

For edges that are not multiples of 16 the transposed convolutions get an ``output_padding`` so the
decoder returns exactly the input edge (e.g. 100 -> 50 -> 25 -> 12 -> 6 and back).

The encoder and decoder also build in 2D (``dims=2``: Conv2d / ConvTranspose2d on an
N x N image), which the pVAE uses for extrusions, whose every slice along the axis is the same
image ([A25] trains its square-pore pVAE on the 100 x 100 image).

Loss: binary cross-entropy + KL divergence (the negative ELBO), both summed over voxels / latent
dimensions and divided by the number of voxels, so the loss reads as bits-per-voxel-like numbers
independent of the edge; the minimiser is the paper's. Adam lr 1e-5, betas (0.9, 0.999), batch 64,
1000 epochs. Inputs are the binary structures (scale ``binary``: solid = 1).

Evaluation (:class:`VariationalModule`, shared with the pVAE): ``predict_step`` gives per-sample
BCE, KL, voxel accuracy and porosities with z = mu; ``split_report`` their split means and the
reconstructed porosity's MSE/MAPE/R^2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from poredesign.learn.base import (
    BATCH_NORMS,
    CONVOLUTIONS,
    TRANSPOSED_CONVOLUTIONS,
    StagedModule,
    check_dims,
    inputs_and_labels,
    split_size,
)
from poredesign.learn.metrics import regression_report
from poredesign.learn.registry import MODELS
from poredesign.learn.shapes import halving_edge
from poredesign.structures.resize import binarise

#: the two latent codes: the paper's ``dense`` vector, or a ``grid`` of channels on the
#: encoder's last feature grid (a fully convolutional VAE, see the module docstring)
LATENT_KINDS = ("dense", "grid")


def _check_latent(latent: str) -> str:
    if latent not in LATENT_KINDS:
        raise ValueError(f"VAE latent must be one of {LATENT_KINDS}; got {latent!r}")
    return latent


def grid_channels(latent_dim: int, grid_edge: int, dims: int) -> int:
    """Channels per cell of a grid code of ``latent_dim`` values on a ``grid_edge``^dims grid;
    a ValueError when they do not divide."""
    cells = int(grid_edge) ** int(dims)
    if latent_dim % cells or latent_dim < cells:
        raise ValueError(
            f"a grid latent code lives on the encoder's last grid of {grid_edge}^{dims} = {cells} "
            f"cells: latent_dim must be a multiple of {cells}; got {latent_dim}"
        )
    return latent_dim // cells


def _feature_block(layer: nn.Module, channels: int, dims: int, batch_norm: bool) -> list[nn.Module]:
    """``layer`` then (batch norm and) ReLU: the norm is what lets a VAE leave the mean image
    (without it the Voronoi VAE stays at the porosity-only BCE for thousands of steps)."""
    norm = [BATCH_NORMS[dims](channels)] if batch_norm else []
    return [layer, *norm, nn.ReLU()]


class Encoder3D(nn.Module):
    """Strided conv encoder -> (mu, log variance); ``dims=2`` for images.

    ``latent="dense"`` (the paper's): flatten, dense hidden, two dense heads of ``latent_dim``.
    ``latent="grid"``: one 3^d conv head on the last feature grid gives ``latent_dim / cells``
    channels of mu and of log variance per cell, flattened (cell-major per channel)."""

    def __init__(
        self,
        input_size: int,
        channels: Sequence[int] = MODELS["vae"].channels,
        hidden: int = 2048,
        latent_dim: int = 256,
        dims: int = 3,
        latent: str = "dense",
        batch_norm: bool = False,
        periodic: bool = False,
    ):
        super().__init__()
        conv = CONVOLUTIONS[check_dims(dims, "VAE encoder")]
        self.latent = _check_latent(latent)
        self.dims = dims
        # periodic structures (Voronoi tilings) wrap: circular padding makes the encoder shift-
        # equivariant, so a shifted structure gets a shifted grid code
        padding_mode = "circular" if periodic else "zeros"
        self.sizes = [int(input_size)]
        convs: list[nn.Module] = []
        c_in = 1
        for c in channels:
            layer = conv(c_in, c, 4, stride=2, padding=1, padding_mode=padding_mode)
            convs += _feature_block(layer, c, dims, batch_norm)
            self.sizes.append(halving_edge(self.sizes[-1]))
            c_in = c
        if self.sizes[-1] < 1:
            raise ValueError(
                f"VAE input_size {input_size} is too small for {len(channels)} "
                f"stride-2 convolutions (need >= {2 ** len(channels)})"
            )
        self.convs = nn.Sequential(*convs)
        self.code_dim = int(latent_dim)
        if self.latent == "grid":
            self.grid_channels = grid_channels(latent_dim, self.sizes[-1], dims)
            self.head = conv(c_in, 2 * self.grid_channels, 3, padding=1, padding_mode=padding_mode)
            return
        self.flat = c_in * self.sizes[-1] ** dims
        self.fc = nn.Linear(self.flat, hidden)
        self.mu = nn.Linear(hidden, latent_dim)
        self.logvar = nn.Linear(hidden, latent_dim)

    @property
    def descriptor_dim(self) -> int:
        """Width of :meth:`descriptor`."""
        if self.latent == "grid":
            return (2 + self.dims) * self.grid_channels
        return self.code_dim

    def descriptor(self, mu: torch.Tensor) -> torch.Tensor:
        """What the latent space says about a structure, comparable across structures: the latent
        mean itself for a dense code (the paper's), :func:`grid_statistics` for a grid code. The
        characterisation, the nearest-neighbour estimates, BO's distance and the transfer
        regressor read this."""
        if self.latent == "grid":
            return grid_statistics(mu, self.grid_channels, self.dims)
        return mu

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.convs(x)
        if self.latent == "grid":
            out = self.head(h)
            c = self.grid_channels
            return out[:, :c].flatten(1), out[:, c:].flatten(1)
        h = F.relu(self.fc(torch.flatten(h, 1)))
        return self.mu(h), self.logvar(h)


class Decoder3D(nn.Module):
    """Mirrors :class:`Encoder3D`: dense -> reshape (``dense``) or a 3^d conv on the code's grid
    (``grid``), then transposed convs; returns logits."""

    def __init__(
        self,
        sizes: Sequence[int],
        channels: Sequence[int] = MODELS["vae"].channels,
        latent_dim: int = 256,
        dims: int = 3,
        latent: str = "dense",
        batch_norm: bool = False,
    ):
        super().__init__()
        deconv = TRANSPOSED_CONVOLUTIONS[check_dims(dims, "VAE decoder")]
        self.dims = dims
        self.latent = _check_latent(latent)
        self.channels = list(channels)
        self.start = int(sizes[-1])
        if self.latent == "grid":
            self.grid_channels = grid_channels(latent_dim, self.start, dims)
            conv = CONVOLUTIONS[dims](self.grid_channels, self.channels[-1], 3, padding=1)
            self.inlet = nn.Sequential(*_feature_block(conv, self.channels[-1], dims, batch_norm))
        else:
            self.fc = nn.Linear(latent_dim, self.channels[-1] * self.start**dims)
        outs = [*self.channels[-2::-1], 1]  # 64, 32, 16, 1 for the paper
        layers: list[nn.Module] = []
        c_in, size = self.channels[-1], self.start
        for i, c in enumerate(outs):
            target = sizes[-2 - i]
            pad = target - 2 * size  # (size - 1) * 2 - 2 + 4 + output_padding = target
            if pad not in (0, 1):
                raise ValueError(f"cannot mirror encoder sizes {list(sizes)}")
            layer = deconv(c_in, c, 4, stride=2, padding=1, output_padding=pad)
            layers += _feature_block(layer, c, dims, batch_norm) if i < len(outs) - 1 else [layer]
            c_in, size = c, target
        self.deconvs = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        grid = [self.start] * self.dims
        if self.latent == "grid":
            h = self.inlet(z.reshape(-1, self.grid_channels, *grid))
        else:
            h = F.relu(self.fc(z)).view(-1, self.channels[-1], *grid)
        return self.deconvs(h)


def grid_statistics(mu: torch.Tensor, channels: int, dims: int) -> torch.Tensor:
    """Translation-invariant statistics (B, (2 + dims) * channels) of grid codes ``mu`` (B, d):
    per channel the mean and standard deviation over the cells and, per axis, the correlation
    of neighbouring cells (periodic lag 1). A grid code of a shifted structure is shifted, so
    comparing codes cell by cell compares positions; these statistics compare what the
    structures are (porosity in the means, elongation along an axis in that axis' correlation).
    Differentiable."""
    b = mu.shape[0]
    edge = round((mu.shape[1] // channels) ** (1.0 / dims))
    grid = mu.reshape(b, channels, *[edge] * dims)
    cells = tuple(range(2, 2 + dims))
    mean = grid.mean(cells)
    centred = grid - grid.mean(cells, keepdim=True)
    var = centred.pow(2).mean(cells)
    out = [mean, var.clamp_min(0).sqrt()]
    for axis in cells:
        lagged = torch.roll(centred, 1, dims=axis)
        out.append((centred * lagged).mean(cells) / (var + 1e-8))
    return torch.cat(out, dim=1)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) summed over latent dimensions, per sample (B,)."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)


#: a voxel whose decoded solid probability lies strictly inside this band counts as blurry
BLURRY_BAND = (0.1, 0.9)


def porosity_only_bce(target: torch.Tensor) -> torch.Tensor:
    """Per-sample BCE per voxel (B,) of the porosity-only reconstruction: every voxel decoded as
    solid with the sample's own solid fraction, i.e. the Bernoulli entropy H(1 - porosity) in
    nats. A VAE that draws the mean image scores this; a model that learned shapes scores less."""
    solid = binarise(target).flatten(1).float().mean(1).clamp(1e-7, 1.0 - 1e-7)
    return -(solid * torch.log(solid) + (1.0 - solid) * torch.log1p(-solid))


def blurry_fraction(logits: torch.Tensor) -> torch.Tensor:
    """Per-sample fraction (B,) of voxels whose solid probability lies inside BLURRY_BAND."""
    p = torch.sigmoid(logits.float()).flatten(1)
    lo, hi = BLURRY_BAND
    return ((p > lo) & (p < hi)).float().mean(1)


def bce_per_sample(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy summed over voxels, per sample (B,)."""
    bce = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")
    return bce.flatten(1).sum(dim=1)


class VariationalModule(StagedModule):
    """The encoder/decoder pair of :class:`VAE3D` and :class:`PropertyVAE`: the deterministic
    embedding, decoding, the reconstruction terms of the loss and the reconstruction metrics."""

    def _build_autoencoder(
        self,
        input_size: int,
        channels: Sequence[int],
        hidden: int,
        latent_dim: int,
        dims: int = 3,
        latent: str = "dense",
        batch_norm: bool = False,
        periodic: bool = False,
    ) -> None:
        self.encoder = Encoder3D(
            input_size, channels, hidden, latent_dim, dims, latent, batch_norm, periodic
        )
        self.decoder = Decoder3D(self.encoder.sizes, channels, latent_dim, dims, latent, batch_norm)
        self.n_voxels = int(input_size) ** dims

    def descriptor(self, mu: torch.Tensor) -> torch.Tensor:
        """:meth:`Encoder3D.descriptor` of latent means ``mu``."""
        return self.encoder.descriptor(mu)

    def voxel_logits(self, z: torch.Tensor) -> torch.Tensor:
        """The argument of the output sigmoid per voxel (float32) for latent codes ``z``."""
        return self.decoder(z).float()

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent means (B, latent_dim): the deterministic embedding used downstream."""
        return self.encoder(x)[0]

    @torch.no_grad()
    def latent_means(self, structures: Any, batch_size: int = 16) -> np.ndarray:
        """Latent means mu (B, latent_dim), float64, of bool structures (B, n, n, n), True = solid.

        The structures are prepared as in training (``data_config``: pooling, binary scale, the
        image of an extrusion for 2D models: :func:`~poredesign.learn.transforms.model_inputs`) and
        encoded on the model's device in eval mode, ``batch_size`` at a time (bf16 autocast on
        CUDA). Numpy arrays, torch tensors and a :class:`~poredesign.store.StructureStore`
        slice all work.
        """
        from poredesign.devices import autocast
        from poredesign.learn.transforms import model_inputs

        config = getattr(self, "data_config", None) or {}
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        out = []
        for start in range(0, len(structures), batch_size):
            chunk = torch.as_tensor(np.asarray(structures[start : start + batch_size]))
            x = model_inputs(chunk.to(device), config, default_scale="binary")
            with autocast(device):
                out.append(self.encode(x).float().cpu().numpy())
        self.train(was_training)
        width = self.encoder.code_dim
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, width))

    @torch.no_grad()
    def latent_descriptors(self, structures: Any, batch_size: int = 16) -> np.ndarray:
        """:meth:`descriptor` (B, descriptor_dim), float64, of :meth:`latent_means`."""
        mu = torch.as_tensor(self.latent_means(structures, batch_size), dtype=torch.float32)
        return self.descriptor(mu).numpy().astype(np.float64)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Voxel solid probabilities (B, 1, n, n, n), or (B, 1, n, n) for a 2D model."""
        return torch.sigmoid(self.voxel_logits(z))

    def kl_weight(self, stage: str) -> float:
        """beta, ramped linearly from 0 over the first ``kl_warmup`` training epochs (an
        autoencoder first, so the decoder learns shapes before the KL pulls codes to the prior);
        validation and test always weigh the KL by beta, so their loss is the objective."""
        beta, warmup = float(self.hparams.beta), int(self.hparams.get("kl_warmup", 0))
        if stage != "train" or warmup <= 0:
            return beta
        return beta * min(1.0, self.current_epoch / warmup)

    def reconstruction_terms(
        self, logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch means of the BCE and the KL divergence, each per voxel (the loss terms)."""
        bce = bce_per_sample(logits, x).mean() / self.n_voxels
        kl = kl_divergence(mu.float(), logvar.float()).mean() / self.n_voxels
        return bce, kl

    def reconstruction_outputs(
        self, x: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Per-sample ``bce`` and ``kl`` (per voxel), ``bce_porosity_only`` (the baseline
        :func:`porosity_only_bce`), ``blurry`` (:func:`blurry_fraction`), ``accuracy`` (fraction of
        voxels whose phase the decoded latent mean gets right), ``porosity_in``/``porosity_out``;
        and the latent mean."""
        mu, logvar = self.encoder(x)
        logits = self.voxel_logits(mu)
        solid = logits > 0
        target = binarise(x)
        out = {
            "bce": bce_per_sample(logits, x) / self.n_voxels,
            "bce_porosity_only": porosity_only_bce(x),
            "blurry": blurry_fraction(logits),
            "kl": kl_divergence(mu.float(), logvar.float()) / self.n_voxels,
            "accuracy": (solid == target).flatten(1).float().mean(1),
            "porosity_in": 1.0 - x.flatten(1).float().mean(1),
            "porosity_out": 1.0 - solid.flatten(1).float().mean(1),
        }
        return out, mu

    def reconstruction_report(self, outputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Split means of the BCE beside the porosity-only baseline's (and their ratio), the blurry
        fraction, the KL and the voxel accuracy, the reconstructed porosity's MSE/MAPE/R^2 and
        ``loss`` = BCE + beta * KL (the training loss at z = mu)."""
        bce, baseline = float(outputs["bce"].mean()), float(outputs["bce_porosity_only"].mean())
        report: dict[str, Any] = {
            "bce": bce,
            "bce_porosity_only": baseline,
            # < 1: the model knows more than each structure's porosity; ~1: the mean image
            "bce_ratio_to_porosity_only": bce / baseline if baseline > 0 else float("nan"),
            "blurry_fraction": float(outputs["blurry"].mean()),
            "kl": float(outputs["kl"].mean()),
            "voxel_accuracy": float(outputs["accuracy"].mean()),
        }
        report.update(
            regression_report(
                outputs["porosity_out"], outputs["porosity_in"], ["porosity_reconstruction"]
            )
        )
        report["loss"] = report["bce"] + float(self.hparams.beta) * report["kl"]
        return report


class VAE3D(VariationalModule):
    def __init__(
        self,
        input_size: int = 128,
        channels: Sequence[int] = MODELS["vae"].channels,
        hidden: int = 2048,
        latent_dim: int = 256,
        beta: float = 1.0,
        lr: float = 1e-5,
        betas: Sequence[float] = (0.9, 0.999),
        latent: str = "dense",
        batch_norm: bool = False,
        periodic: bool = False,
        kl_warmup: int = 0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self._build_autoencoder(
            input_size, channels, hidden, latent_dim, 3, latent, batch_norm, periodic
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decoder logits (sample z during training, z = mu in eval mode), mu, log variance."""
        mu, logvar = self.encoder(x)
        z = reparameterize(mu, logvar) if self.training else mu
        return self.decoder(z), mu, logvar

    def losses(self, x: torch.Tensor, stage: str = "val") -> dict[str, torch.Tensor]:
        logits, mu, logvar = self(x)
        bce, kl = self.reconstruction_terms(logits, x, mu, logvar)
        return {"loss": bce + self.kl_weight(stage) * kl, "bce": bce, "kl": kl}

    def _common_step(self, batch, stage: str) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        out = self.losses(x, stage)
        self._log_values(out, stage, x.shape[0])
        return out["loss"]

    def predict_step(self, batch, batch_idx: int = 0, dataloader_idx: int = 0):
        """Per-sample reconstruction values of ``x`` (:meth:`reconstruction_outputs`)."""
        x, _ = inputs_and_labels(batch)
        return self.reconstruction_outputs(x)[0]

    def split_report(self, outputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """``n`` and the reconstruction metrics of one split."""
        if not outputs:
            return {"n": 0}
        return {"n": split_size(outputs), **self.reconstruction_report(outputs)}

    def configure_optimizers(self):
        return torch.optim.Adam(
            self.parameters(), lr=self.hparams.lr, betas=tuple(self.hparams.betas)
        )

    def layer_table(self) -> list[tuple[str, str, tuple[int, ...], int]]:
        """(name, layer type, weight shape, parameters incl. bias) of every weighted layer."""
        rows = []
        for name, m in self.named_modules():
            if isinstance(m, (nn.Conv3d, nn.ConvTranspose3d, nn.Linear)):
                n = m.weight.numel() + (m.bias.numel() if m.bias is not None else 0)
                rows.append((name, type(m).__name__, tuple(m.weight.shape), n))
        return rows
