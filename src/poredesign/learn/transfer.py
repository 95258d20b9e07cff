"""Transfer-learning regressor [Z23], SPEC 3.5.

The encoder of a trained :class:`VAE3D` (its latent mean, no sampling; for a grid code its
translation-invariant statistics, :meth:`Encoder3D.descriptor`), frozen, followed by dense
64 (ReLU), 64 (ReLU) and a linear output (tortuosity by default). Weights are Xavier-uniform, the
head's kernels carry an L2 penalty of 1e-5 (Keras ``kernel_regularizer=l2(1e-5)``: 1e-5 * sum w^2
added to the training loss), Adam, MSE, 100 epochs.

``pretrained=False`` is the paper's baseline: the same network (encoder + head) trained from
scratch, every layer trainable and Xavier-initialised. The transfer stage
(:func:`poredesign.learn.transfer_experiment.compare_transfer`) repeats both variants with
different seeds (paper: 20 each) and reports train/test MSE and Welch's test.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from poredesign.learn.base import PropertyRegressor, xavier_init
from poredesign.learn.registry import MODELS
from poredesign.learn.vae import Encoder3D


def encoder_weights(vae_state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The ``encoder.*`` tensors of a VAE3D state_dict (the same tensors, not copies), keys
    without the prefix; raises KeyError when there are none."""
    enc = {k[len("encoder.") :]: v for k, v in vae_state_dict.items() if k.startswith("encoder.")}
    if not enc:
        raise KeyError("the VAE state_dict has no 'encoder.*' weights")
    return enc


class TransferRegressor(PropertyRegressor):
    def __init__(
        self,
        input_size: int = 128,
        channels: Sequence[int] = MODELS["transfer"].channels,
        hidden: int = 2048,
        latent_dim: int = 256,
        head: Sequence[int] = (64, 64),
        targets: Sequence[str] = ("tau",),
        pretrained: bool = True,
        lr: float = 1e-3,
        l2: float = 1e-5,
        latent: str = "dense",
        batch_norm: bool = False,
        periodic: bool = False,
    ):
        super().__init__(targets, "none")
        self.save_hyperparameters()
        self.encoder = Encoder3D(
            input_size, channels, hidden, latent_dim, 3, latent, batch_norm, periodic
        )
        layers: list[nn.Module] = []
        width = self.encoder.descriptor_dim
        for h in head:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, len(self.targets)))
        self.head = nn.Sequential(*layers)
        xavier_init(self.head)
        if pretrained:
            self.encoder.requires_grad_(False)
        else:
            xavier_init(self.encoder)
        # the log variance head is part of a dense VAE encoder but unused here (latent mean only)
        if self.encoder.latent == "dense":
            self.encoder.logvar.requires_grad_(False)

    @classmethod
    def from_encoder(
        cls, kwargs: Mapping[str, Any], encoder: str | os.PathLike | None
    ) -> TransferRegressor:
        """The regressor on the saved VAE ``encoder`` (its architecture read from the VAE's
        hyperparameters where ``kwargs`` does not set it; its weights loaded when pretrained)."""
        from poredesign.learn.io import load_state_dict, read_meta

        kwargs = dict(kwargs)
        if encoder is not None:
            vae_hp = read_meta(encoder)["hparams"]
            for key in ("channels", "hidden", "latent_dim", "latent", "batch_norm", "periodic"):
                if key in vae_hp:  # models saved before the grid code have no latent/batch_norm
                    kwargs.setdefault(key, vae_hp[key])
            if vae_hp["input_size"] != kwargs.get("input_size"):
                raise ValueError(
                    f"the VAE encoder {encoder} takes {vae_hp['input_size']}^3 inputs; "
                    f"the transfer data give {kwargs.get('input_size')}^3"
                )
        model = cls(**kwargs)
        if model.hparams.pretrained:
            if encoder is None:
                raise ValueError(
                    "the pretrained transfer regressor needs VAE encoder weights "
                    "(learn.transfer.encoder)"
                )
            model.load_encoder(load_state_dict(encoder))
        return model

    @property
    def frozen(self) -> bool:
        return bool(self.hparams.pretrained)

    def load_encoder(self, vae_state_dict: Mapping[str, torch.Tensor]) -> None:
        """Copy the ``encoder.*`` weights of a trained VAE3D state_dict (shapes must match)."""
        self.encoder.load_state_dict(encoder_weights(vae_state_dict))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.frozen:
            with torch.no_grad():
                code = self.encoder.descriptor(self.encoder(x)[0])
        else:
            code = self.encoder.descriptor(self.encoder(x)[0])
        return self.head(code)

    def on_train_epoch_start(self) -> None:
        if self.frozen:
            self.encoder.eval()

    def regularization(self) -> torch.Tensor:
        return self.hparams.l2 * sum(
            m.weight.pow(2).sum() for m in self.head if isinstance(m, nn.Linear)
        )

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        return torch.optim.Adam(params, lr=self.hparams.lr)
