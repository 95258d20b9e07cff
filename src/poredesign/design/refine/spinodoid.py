"""The refinement problem of the spinodoid study: new spinodoids, the diffusion solver, the CNN.

:class:`SpinodoidRefinement` implements :class:`~poredesign.design.refine.loop.RefineProblem`:
labels are new spinodoids at posterior draws (seed stream ``refine_labels`` of
:mod:`poredesign.seeds`) with eta along x, y, z from the solver (the simulate stage's options),
kept per round as a label store
(:func:`~poredesign.learn.finetune.write_label_store`); fine-tuning is
:func:`~poredesign.learn.finetune.fine_tune` (warm start, the round's and earlier rounds' labels
plus as many replayed training views per epoch), then, with ``correct``, the per-axis residual
correction in parameter space refitted on every label so far
(:class:`~poredesign.design.refine.correction.ParameterCorrection`); the ABC model is
:func:`~poredesign.design.abc.spinodoid_cnn_model` with the fine-tuned CNN and a seed per round;
validation is :func:`~poredesign.design.abc.validate.validate_design` (the same validation seeds as
the design stage's, so rounds are compared on the same random fields, which never enter
training).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from poredesign.design.abc import SPINODOID_PARAMS, AbcSettings, spinodoid_cnn_model
from poredesign.design.abc.validate import solve_eta, validate_design
from poredesign.design.refine.correction import ParameterCorrection
from poredesign.design.refine.loop import (
    LabelledRound,
    RefineSettings,
    RoundZero,
    Validation,
    refine,
)
from poredesign.jsonable import read_json, write_json
from poredesign.runlog import progress
from poredesign.seeds import stream_rng, stream_seed
from poredesign.structures.spinodoid import spinodoid

if TYPE_CHECKING:
    from poredesign.learn.fit import TrainSettings


class SpinodoidRefinement:
    """Spinodoids of edge ``size``, the solver with ``solver`` options, the CNN ``cnn`` trained
    on ``data`` (a :class:`~poredesign.learn.data.PoreDataModule`), fine-tuned with
    ``epochs``/``lr`` under ``train_settings``; ``n_validation`` validation structures."""

    def __init__(
        self,
        cnn,
        data,
        size: int,
        seed: int,
        solver: Mapping[str, Any],
        epochs: int,
        lr: float,
        n_validation: int,
        train_settings,
        model_batch_size: int = 64,
        device: str | None = None,
        log_file: Any = None,
        correct: bool = True,
    ):
        self.cnn = cnn
        self.correct = bool(correct)
        self.correction = ParameterCorrection.none(len(SPINODOID_PARAMS))
        self.data = data
        self.size, self.seed = int(size), int(seed)
        self.solver = dict(solver)
        self.epochs, self.lr = int(epochs), float(lr)
        self.n_validation = int(n_validation)
        self.train_settings = train_settings
        self.model_batch_size = int(model_batch_size)
        self.device = device
        self.log_file = log_file

    def predict(self, solid) -> np.ndarray:
        from poredesign.learn import predict

        return predict(self.cnn, solid).cpu().numpy()

    def label(self, thetas: np.ndarray, round_index: int, round_dir: Path) -> LabelledRound:
        from poredesign.learn.finetune import write_label_store

        k = len(thetas)
        structures = np.empty((k, self.size, self.size, self.size), dtype=bool)
        eta, flags, porosity = np.full((k, 3), np.nan), np.zeros((k, 3), np.int32), np.empty(k)
        for j in progress(range(k), f"round {round_index}: solver labels", self.log_file):
            rng = stream_rng(self.seed, "refine_labels", round_index, j)
            structures[j] = spinodoid(self.size, thetas[j, :3], float(thetas[j, 3]), seed=rng)
            eta[j], porosity[j], flags[j], _ = solve_eta(
                structures[j], self.solver, f"refinement label {j} of round {round_index}"
            )
        write_label_store(
            round_dir / "labels.zarr",
            structures,
            thetas,
            SPINODOID_PARAMS,
            eta,
            flags,
            porosity,
            kind="refinement_labels",
            round=int(round_index),
            seed=self.seed,
        )
        return LabelledRound(true=eta, pred=self.correction(thetas, self.predict(structures)))

    def fine_tune(self, round_dirs: Sequence[Path], round_index: int) -> None:
        from poredesign.learn.finetune import fine_tune

        stores = [d / "labels.zarr" for d in round_dirs]
        seed = self.seed + int(round_index)
        self.cnn = fine_tune(
            self.cnn, self.data, stores, self.epochs, self.lr, self.train_settings, seed
        )
        if self.correct:
            from poredesign.store import StructureStore, open_group

            thetas, raw, eta = [], [], []
            for path in stores:
                labels = StructureStore(path)
                thetas.append(labels.params)
                raw.append(self.predict(labels[:]))
                eta.append(np.asarray(open_group(path)["eta"][...]))
            self.correction = ParameterCorrection.fit(
                np.concatenate(thetas), np.concatenate(raw), np.concatenate(eta)
            )

    def save(self, round_dir: Path) -> None:
        from poredesign.learn.io import save_model

        save_model(self.cnn, round_dir / "model.pt", data=getattr(self.cnn, "data_config", {}))
        write_json(round_dir / "correction.json", self.correction.as_dict())

    def load(self, round_dir: Path) -> None:
        from poredesign.learn import load_model

        self.cnn = load_model(round_dir / "model.pt")
        self.correction = ParameterCorrection.from_dict(read_json(round_dir / "correction.json"))

    def model(self, round_index: int):
        seed = stream_seed(self.seed, "refine_model", round_index)
        base = spinodoid_cnn_model(
            lambda solid: self.predict(solid), self.size, seed, self.model_batch_size, self.device
        )
        return lambda theta: self.correction(theta, base(theta))

    def validate(self, theta: np.ndarray) -> Validation:
        result = validate_design(
            theta,
            self.size,
            self.n_validation,
            self.seed,
            predict_structures=lambda solid: self.correction(theta, self.predict(solid)),
            solver_options=self.solver,
            progress_file=self.log_file,
        )
        return Validation(result.eta_solver, result.eta_surrogate, result.solver_seconds)


@dataclass(frozen=True)
class RefineInputs:
    """The files a refinement starts from (the ``refine_design`` rule's inputs): the CNN and the
    training data it was trained on, the design stage's ``abc.json``, ``validation.json`` and
    ``abc.db``."""

    model: str | os.PathLike
    structures: str | os.PathLike
    transport: str | os.PathLike
    summary: str | os.PathLike
    validation: str | os.PathLike
    database: str | os.PathLike


def round_zero(summary: str | os.PathLike, validation: str | os.PathLike, database) -> RoundZero:
    """Round 0 of the loop: the design stage's ``abc.json``, ``validation.json`` and ``abc.db``."""
    abc = read_json(summary)
    val = read_json(validation)
    names = abc["param_names"]
    return RoundZero(
        db_path=Path(database),
        theta_hat=np.array([abc["theta_hat"][p] for p in names], float),
        theta_std=np.array([abc["theta_std"][p] for p in names], float),
        validation=Validation(
            np.asarray(val["eta_solver"], float),
            np.asarray(val.get("eta_surrogate"), float) if val.get("eta_surrogate") else None,
            float(val["solver_seconds"]),
        ),
        abc={
            "status": abc["status"],
            "final_epsilon": abc["final_epsilon"],
            "model_evaluations": abc["model_evaluations"],
            "wall_time_s": abc["wall_time_s"],
        },
    )


def refine_spinodoid_design(
    target: Sequence[float],
    inputs: RefineInputs,
    work_dir: str | os.PathLike,
    *,
    settings: RefineSettings,
    abc: AbcSettings,
    train: TrainSettings,
    ranges: Mapping[str, Sequence[float]],
    solver: Mapping[str, Any],
    size: int,
    seed: int,
    n_validation: int,
    device: str = "auto",
    log_file: Any = None,
) -> dict[str, Any]:
    """What the ``refine_design`` rule calls: round 0 from the design stage's files
    (:func:`round_zero`), the CNN with the training data it was trained on (its stored sample
    definition; batch size and workers of ``train``, the ``learn.diffusivity`` settings it is
    fine-tuned with), ``n_validation`` validation structures per round (as the design stage's
    validation), then :func:`~poredesign.design.refine.loop.refine`. ``ranges``: the dataset's
    spinodoid parameter ranges (the ``spinodoid`` section: ``m_range``, ``beta_range``,
    ``porosity_range``), the reruns' prior; ``solver``: the diffusion solver's options."""
    import hashlib

    from poredesign.design.abc import spinodoid_prior_from_config
    from poredesign.devices import torch_device
    from poredesign.learn import DataConfig, PoreDataModule, load_model
    from poredesign.learn.fit import store_identity

    start = round_zero(inputs.summary, inputs.validation, inputs.database)
    cnn = load_model(inputs.model, map_location=torch_device(device))
    data = PoreDataModule(
        inputs.structures,
        inputs.transport,
        DataConfig(**cnn.data_config),
        batch_size=int(train.batch_size),
        num_workers=int(train.num_workers),
    )
    problem = SpinodoidRefinement(
        cnn,
        data,
        size,
        seed,
        solver,
        settings.epochs,
        settings.lr,
        n_validation,
        train,
        model_batch_size=int(abc.model_batch_size),
        device=str(torch_device(device)),
        log_file=log_file,
        correct=bool(settings.correction),
    )
    # the reruns' prior: the design stage's, or (restrict_prior: false) the dataset's whole box,
    # where the labels correct the surrogate beyond the sampler's support
    prior = spinodoid_prior_from_config(
        ranges, restrict=abc.restrict_prior and settings.restrict_prior
    )
    return refine(
        problem,
        target,
        start,
        prior,
        work_dir,
        settings,
        abc,
        seed,
        identity={
            "model": hashlib.sha256(Path(inputs.model).read_bytes()).hexdigest(),
            "structures": store_identity(inputs.structures),
            "transport": store_identity(inputs.transport),
            "solver": dict(solver),
            "size": size,
            "correction": bool(settings.correction),
            "prior": prior.describe(),
        },
    )
