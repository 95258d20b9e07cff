"""Learning (SPEC 3): zarr-backed data modules, the papers' models, training entry points.

Models (each built with ``input_size``, the edge of the cubic input, and the paper's settings as
defaults; each owns its loss, its logged metrics and its evaluation): :class:`DiffusivityCNN`
[R22], :class:`PermeabilityCNN` [A25], :class:`VAE3D` [Z23], :class:`PropertyVAE` [A25],
:class:`TransferRegressor` [Z23].

Modules: ``data`` (views, splits, the data module), ``transforms`` (input scaling, pooling,
rotation, augmentation), one module per model on ``base`` (target scaling, the Lightning bases),
``metrics`` (MSE, MAPE, R^2), ``factory`` (model names, sample definitions, ``build_model``),
``fit`` (Trainer, checkpoints, resume, evaluation), ``experiments`` (pVAE phases, latent-size
search, transfer repeats), ``train`` (what the Snakemake rules call), ``io`` (weights-only saving
and loading), ``figures``.

:func:`train` is what the Snakemake rules call; :func:`predict` is the batched diffusivity
inference used by the ABC stage; :func:`load_model` reads a saved model without unpickling
anything but tensors.
"""

from poredesign.learn.data import DataConfig, PoreDataModule, StructureViews, split_indices
from poredesign.learn.diffusivity import DiffusivityCNN, predict
from poredesign.learn.experiments import repeated_runs, search_latent_size
from poredesign.learn.factory import MODELS
from poredesign.learn.fit import TrainSettings, fit
from poredesign.learn.io import MODEL_CLASSES, load_model, load_state_dict, save_model
from poredesign.learn.metrics import mape, mse, r2
from poredesign.learn.permeability import PermeabilityCNN
from poredesign.learn.pvae import PHASES, PropertyVAE
from poredesign.learn.train import train
from poredesign.learn.transfer import TransferRegressor
from poredesign.learn.transforms import Augment, pool2, rotate_to_x, to_input, to_input_torch
from poredesign.learn.vae import VAE3D

__all__ = [
    "MODELS",
    "MODEL_CLASSES",
    "PHASES",
    "Augment",
    "DataConfig",
    "DiffusivityCNN",
    "PermeabilityCNN",
    "PoreDataModule",
    "PropertyVAE",
    "StructureViews",
    "TrainSettings",
    "TransferRegressor",
    "VAE3D",
    "fit",
    "load_model",
    "load_state_dict",
    "mape",
    "mse",
    "pool2",
    "predict",
    "r2",
    "repeated_runs",
    "rotate_to_x",
    "save_model",
    "search_latent_size",
    "split_indices",
    "to_input",
    "to_input_torch",
    "train",
]
