"""The ``design`` and ``slerp`` stages of the [A25] studies, SPEC 4.4: square pores with a 2D
pVAE on their images, or crops of a scan (``generator: imported``) with a 3D pVAE on the volumes.
The designs are images or volumes accordingly; everything else is the same.

:func:`latent_design`:

1. encode every structure with the pVAE (latent means; the pVAE's own split says which trained);
2. draw the targets (:func:`.targets.draw_targets`) and flag those outside the dataset's
   porosity-k band (:class:`.targets.ReachableBand`);
3. per target take the ``starts`` training codes nearest by k and run the batched descent
   (:func:`.descent.latent_descent` on :func:`.descent.reencoded_objective`);
4. decode each target's best code, binarise at 0.5 and evaluate it by the regressor, the
   permeability CNN and the solver (:func:`.evaluate.evaluate_images`); the baseline, the training
   structure nearest each target in (porosity, k), is evaluated the same way;
5. write ``designs.zarr`` and ``latent_design.json`` (R^2 and MAPE per evaluator and property,
   over all and over feasible targets, for the designs and the baseline) and a parity figure.

The labels (porosity, k_z) come from the label store the pVAE trained on: the solver's for every
structure, or the solver's and the CNN's in the solver-subset mode.

:func:`slerp_stage`: the codes of two structures (default: the lowest- and highest-porosity test
structures), :func:`.slerp.slerp` between them, each step decoded and binarised, its exact
porosity and the solver's k, and the regressor's properties at the code; ``slerp.json`` and a
figure (a strip of decoded images above the property curves).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from poredesign import store
from poredesign.config import Settings
from poredesign.design.gradient.descent import latent_descent, reencoded_objective
from poredesign.design.gradient.evaluate import (
    EVALUATORS,
    FLOW_AXIS,
    PROPERTIES,
    decode_binary,
    evaluate_images,
    model_properties,
    reconstruction_check,
    score,
    solver_properties,
    target_columns,
)
from poredesign.design.gradient.slerp import slerp
from poredesign.design.gradient.targets import (
    ReachableBand,
    draw_targets,
    nearest_by_k,
    nearest_structures,
)
from poredesign.jsonable import write_json
from poredesign.learn.encode import encode_store, load_vae, split_labels
from poredesign.learn.io import load_model
from poredesign.transport.results import Flag

log = logging.getLogger(__name__)

TRAIN, TEST = 0, 2


@dataclass(frozen=True)
class LatentTargets(Settings):
    """The ``design.latent.targets`` section: how many targets, their uniform porosity and k
    ranges (k in voxel^2), and whether only feasible ones are drawn (``band``) or all (``box``)."""

    SECTION: ClassVar[str] = "design.latent.targets"

    count: int = 1000
    porosity: tuple[float, float] = (0.1, 0.5)
    k: tuple[float, float] = (0.2, 2.5)
    draw: str = "box"


@dataclass(frozen=True)
class LatentDesignSettings(Settings):
    """The ``design.latent`` config section (see config/schema.yaml, whose defaults these are)."""

    SECTION: ClassVar[str] = "design.latent"

    targets: LatentTargets = LatentTargets()
    starts: int = 100
    max_steps: int = 5000
    patience: int = 400
    loss_bound: float = 1.0e-5
    lr: float = 0.01
    straight_through: bool = False
    exact_porosity: bool = False
    weights: tuple[float, float] = (1.0, 1.0)
    band_quantile: float = 0.0
    batch_size: int = 64
    reconstruction_check: int = 100


def read_properties(labels_path: str | os.PathLike, n: int) -> np.ndarray:
    """(n, 2) porosity and k_z of the first n structures from a label store (NaN where flagged)."""
    group = store.open_group(labels_path)
    k = np.asarray(group["k"][:n, FLOW_AXIS], dtype=float)
    flags = np.asarray(group["flags_k"][:n, FLOW_AXIS])
    k = np.where(flags == 0, k, np.nan)
    return np.column_stack([np.asarray(group["porosity"][:n], dtype=float), k])


def _designs_like(structures: store.StructureStore, indices: np.ndarray, dims: int) -> np.ndarray:
    """The structures at ``indices`` as the pVAE's designs are: their z = 0 slices (the images
    of extrusions) for a 2D pVAE, the volumes for a 3D one."""
    return np.stack(
        [np.asarray(structures[int(i)])[(..., 0) if dims == 2 else ...] for i in indices]
    )


@dataclass
class TrainedLatent:
    """A trained pVAE with the dataset it learned: every structure's labels (porosity, k_z), the
    pVAE's own split, the latent means, and the training rows with finite labels."""

    pvae: Any
    structures: store.StructureStore
    labelled: np.ndarray
    split: np.ndarray
    mu: np.ndarray
    train: np.ndarray

    @property
    def dims(self) -> int:
        """2 for a pVAE on the images of extrusions, 3 for one on volumes."""
        return int(self.pvae.hparams.get("dims", 3))

    @property
    def device(self) -> torch.device:
        return next(self.pvae.parameters()).device


def load_trained_latent(
    pvae_path: str | os.PathLike,
    structures_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    device: str = "auto",
    batch_size: int = 64,
    progress_file: Any = None,
) -> TrainedLatent:
    """Load a pVAE (frozen), encode every structure and read the labels it trained on."""
    pvae = load_vae(pvae_path, device)
    pvae.requires_grad_(False)
    structures = store.StructureStore(structures_path)
    n = len(structures)
    split = split_labels(n, pvae.data_config)
    labelled = read_properties(labels_path, n)
    mu, _ = encode_store(pvae, structures, int(batch_size), progress_file)
    train = np.flatnonzero((split == TRAIN) & np.isfinite(labelled).all(axis=1))
    if len(train) == 0:
        raise ValueError(f"no training structure of {structures_path} has finite labels")
    return TrainedLatent(pvae, structures, labelled, split, mu, train)


def latent_design(
    pvae_path: str | os.PathLike,
    cnn_path: str | os.PathLike,
    structures_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    out_store: str | os.PathLike,
    out_json: str | os.PathLike,
    settings: LatentDesignSettings | Mapping[str, Any],
    seed: int,
    flow: Mapping[str, Any] | None = None,
    device: str = "auto",
    progress_file: Any = None,
) -> dict[str, Any]:
    """Latent gradient design for ``settings`` (the ``design.latent`` config section:
    ``LatentDesignSettings.from_config(config["design"]["latent"])``); writes ``out_store`` and
    ``out_json`` and returns the JSON's content (a mapping is read as the section)."""
    if not isinstance(settings, LatentDesignSettings):
        settings = LatentDesignSettings.from_config(settings)
    data = load_trained_latent(
        pvae_path, structures_path, labels_path, device, settings.batch_size, progress_file
    )
    cnn = load_model(cnn_path).to(data.device)
    band = ReachableBand.from_dataset(
        data.labelled[:, 0], data.labelled[:, 1], float(settings.band_quantile)
    )
    targets, feasible = _draw_targets(settings.targets, band, seed)
    starts, descent = _descend(data, targets, settings)
    batch, depth = int(settings.batch_size), int(data.structures.size[2])
    designs = decode_binary(data.pvae, descent.z, batch)
    evaluations = evaluate_images(designs, data.pvae, cnn, depth, flow, batch, progress_file)
    nearest = data.train[nearest_structures(data.labelled[data.train], targets)]
    baseline = evaluate_images(
        _designs_like(data.structures, nearest, data.dims),
        data.pvae,
        cnn,
        depth,
        flow,
        batch,
        progress_file,
        "baseline",
    )
    test = np.flatnonzero((data.split == TEST) & np.isfinite(data.labelled).all(axis=1))
    test = test[: int(settings.reconstruction_check)]
    reconstruction = reconstruction_check(
        data.pvae, data.mu[test], data.labelled[test], depth, flow, batch, progress_file
    )
    summary = _design_summary(
        settings, targets, feasible, band, starts, descent, evaluations, baseline
    )
    summary["reconstruction"] = reconstruction
    summary["latent_design_beats_baseline"] = _beats(summary["design"], summary["baseline"])
    at_code = data.pvae.regress(torch.as_tensor(descent.z, dtype=torch.float32, device=data.device))
    with store.atomic_group(out_store) as group:
        store.write_array(group, "targets", targets, names=list(PROPERTIES))
        store.write_array(group, "feasible", feasible)
        store.write_array(group, "designs", designs)
        store.write_array(group, "z", descent.z)
        store.write_array(group, "loss", descent.loss)
        store.write_array(group, "start_index", starts[np.arange(len(targets)), descent.start])
        store.write_array(
            group,
            "regressor_at_code",
            at_code.detach().cpu().numpy()[:, target_columns(data.pvae)].astype(np.float64),
            names=list(PROPERTIES),
        )
        store.write_array(group, "baseline_index", nearest)
        _write_evaluations(group, evaluations, baseline)
        group.attrs.update(
            store.provenance(
                pvae=str(pvae_path),
                cnn=str(cnn_path),
                structures=str(structures_path),
                labels=str(labels_path),
                seed=int(seed),
                units={"k": "voxel^2 (lattice units)"},
                convention=(
                    "designs: True = solid, "
                    + ("images (x, y) extruded along z" if data.dims == 2 else "volumes (x, y, z)")
                ),
            )
        )
    write_json(out_json, summary)
    return summary


def _draw_targets(
    spec: LatentTargets, band: ReachableBand, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The (porosity, k) targets from the seed and which lie in the dataset's reachable band."""
    only_feasible = band if spec.draw == "band" else None
    targets = draw_targets(int(spec.count), spec.porosity, spec.k, seed, only_feasible)
    feasible = band.feasible(targets)
    log.info(
        "%d targets, %d feasible (dataset porosity %.3g-%.3g)",
        len(targets),
        int(feasible.sum()),
        band.porosity[0],
        band.porosity[-1],
    )
    return targets, feasible


def _descend(
    data: TrainedLatent, targets: np.ndarray, settings: LatentDesignSettings
) -> tuple[np.ndarray, Any]:
    """Per target the ``starts`` training codes nearest by k, and the batched descent from them."""
    pvae = data.pvae
    starts = data.train[
        nearest_by_k(data.labelled[data.train, 1], targets[:, 1], int(settings.starts))
    ]
    # targets and weights in the regressor's output order (outputs not designed for: weight 0)
    in_model_order = np.zeros((len(targets), len(pvae.targets)))
    weights = np.zeros(len(pvae.targets))
    for j, name in zip(target_columns(pvae), PROPERTIES, strict=True):
        in_model_order[:, j] = targets[:, PROPERTIES.index(name)]
        weights[j] = float(settings.weights[PROPERTIES.index(name)])
    scaled = pvae.scaler.encode(torch.as_tensor(in_model_order, dtype=torch.float32))
    result = latent_descent(
        torch.as_tensor(data.mu[starts], dtype=torch.float32, device=data.device),
        scaled.to(data.device),
        reencoded_objective(
            pvae,
            weights,
            straight_through=bool(settings.straight_through),
            exact_porosity=bool(settings.exact_porosity),
        ),
        lr=float(settings.lr),
        max_steps=int(settings.max_steps),
        patience=int(settings.patience),
        loss_bound=float(settings.loss_bound),
        chunk=int(settings.batch_size),
    )
    log.info(
        "descent: %d steps, %d candidate-steps in %.1f s (%.0f candidate-steps/s)",
        result.steps,
        result.candidate_steps_total,
        result.seconds,
        result.candidate_steps_per_second,
    )
    return starts, result


def _design_summary(
    settings: LatentDesignSettings,
    targets: np.ndarray,
    feasible: np.ndarray,
    band: ReachableBand,
    starts: np.ndarray,
    descent: Any,
    evaluations: Mapping[str, np.ndarray],
    baseline: Mapping[str, np.ndarray],
) -> dict[str, Any]:
    """``latent_design.json``: targets, descent, and the designs' and baseline's scores."""
    spec = settings.targets
    return {
        "targets": {
            "count": len(targets),
            "porosity": spec.porosity,
            "k": spec.k,
            "draw": spec.draw,
        },
        "feasible": int(feasible.sum()),
        "infeasible": int((~feasible).sum()),
        "band": band.as_dict(),
        "settings": settings.as_record(),
        "starts": int(starts.shape[1]),
        "descent": {
            "steps": descent.steps,
            "candidate_steps": descent.candidate_steps_total,
            "seconds": descent.seconds,
            "candidate_steps_per_second": descent.candidate_steps_per_second,
            "loss_median": float(np.median(descent.loss)),
            "reached_bound": int(np.sum(descent.loss <= float(settings.loss_bound))),
        },
        "solver_seconds_per_design": float(np.mean(evaluations["solver_seconds"])),
        # an all-pore design (an under-trained decoder's) has unbounded k: flagged, not scored
        "designs_without_pore_path": _flagged(evaluations["solver_flags"], Flag.NO_PATH),
        "designs_without_solid": _flagged(evaluations["solver_flags"], Flag.NO_SOLID),
        "design": score(evaluations, targets, feasible),
        "baseline": score(baseline, targets, feasible),
    }


def _write_evaluations(
    group: Any, evaluations: Mapping[str, np.ndarray], baseline: Mapping[str, np.ndarray]
) -> None:
    """The designs' and the baseline's evaluations, side by side (``baseline_`` prefix)."""
    for evaluator in EVALUATORS:
        store.write_array(group, evaluator, evaluations[evaluator], names=list(PROPERTIES))
        store.write_array(
            group, f"baseline_{evaluator}", baseline[evaluator], names=list(PROPERTIES)
        )
    for key in ("solver_flags", "solver_seconds"):
        store.write_array(group, key, evaluations[key])
        store.write_array(group, f"baseline_{key}", baseline[key])


def _flagged(flags: np.ndarray, flag: Flag) -> int:
    """How many solver runs carry ``flag``."""
    return int(np.sum((np.asarray(flags) & int(flag)) != 0))


def _beats(design: Mapping[str, Any], baseline: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per evaluator and property: whether the designs' MAPE on the feasible targets is lower
    than the baseline's (None when either is missing)."""
    out: dict[str, dict[str, Any]] = {}
    for evaluator in EVALUATORS:
        out[evaluator] = {}
        for name in PROPERTIES:
            a = design[evaluator]["feasible"]["mape"][name]
            b = baseline[evaluator]["feasible"]["mape"][name]
            out[evaluator][name] = None if a is None or b is None else bool(a < b)
    return out


def slerp_stage(
    pvae_path: str | os.PathLike,
    structures_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    out_json: str | os.PathLike,
    out_store: str | os.PathLike,
    steps: int = 100,
    endpoints: tuple[int, int] | None = None,
    flow: Mapping[str, Any] | None = None,
    device: str = "auto",
    progress_file: Any = None,
) -> dict[str, Any]:
    """Slerp between the codes of two structures; per step the exact porosity and the solver's k
    of the decoded, binarised image (or volume, 3D pVAE) and the regressor's properties at the
    code and of the decoded structure.
    Writes ``out_json`` and, for the figure, ``out_store`` (codes and decoded images)."""
    pvae = load_vae(pvae_path, device)
    columns = target_columns(pvae)
    structures = store.StructureStore(structures_path)
    n = len(structures)
    if endpoints is None:
        split = split_labels(n, pvae.data_config)
        test = np.flatnonzero(split == TEST)
        if len(test) < 2:
            raise ValueError("slerp needs two test structures (design.slerp.endpoints otherwise)")
        porosity = read_properties(labels_path, n)[test, 0]
        endpoints = (int(test[np.argmin(porosity)]), int(test[np.argmax(porosity)]))
    bad = [i for i in endpoints if not 0 <= int(i) < n]
    if bad:
        raise ValueError(f"design.slerp.endpoints {bad} outside the store's 0..{n - 1}")
    codes = pvae.latent_means(np.stack([structures[int(i)] for i in endpoints]))
    path = slerp(codes[0], codes[1], steps)
    t0 = time.perf_counter()
    images = decode_binary(pvae, path)
    depth = int(structures.size[2])
    solver, flags, _ = solver_properties(images, depth, flow, progress_file, "slerp step")
    device_ = next(pvae.parameters()).device
    with torch.no_grad():
        at_code = pvae.regress(torch.as_tensor(path, dtype=torch.float32, device=device_))
    at_code = at_code.cpu().numpy()[:, columns]
    of_image = model_properties(pvae, images)
    result = {
        "endpoints": [int(i) for i in endpoints],
        "steps": int(steps),
        "seconds": time.perf_counter() - t0,
        "angle": float(
            np.arccos(
                np.clip(
                    codes[0] @ codes[1] / (np.linalg.norm(codes[0]) * np.linalg.norm(codes[1])),
                    -1,
                    1,
                )
            )
        ),
        "path": [
            {
                "step": i,
                "t": float(i / (steps - 1)),
                "norm": float(np.linalg.norm(path[i])),
                "porosity": float(solver[i, 0]),
                "k_solver": float(solver[i, 1]),
                "solver_flag": int(flags[i]),
                "porosity_regressor": float(at_code[i, 0]),
                "k_regressor": float(at_code[i, 1]),
                "porosity_regressor_image": float(of_image[i, 0]),
                "k_regressor_image": float(of_image[i, 1]),
            }
            for i in range(steps)
        ],
    }
    with store.atomic_group(out_store) as group:
        store.write_array(group, "images", images)
        store.write_array(group, "codes", path)
        group.attrs.update(
            store.provenance(pvae=str(pvae_path), endpoints=result["endpoints"], steps=int(steps))
        )
    write_json(out_json, result)
    return result


__all__ = [
    "LatentDesignSettings",
    "LatentTargets",
    "TrainedLatent",
    "latent_design",
    "load_trained_latent",
    "read_properties",
    "slerp_stage",
]
