"""Three evaluations of a designed (or any) structure, and their scores against targets.

A design is the decoded best code, binarised at 0.5 (solid where the decoder's probability is
above one half; True = solid): an image (N, N) for a 2D pVAE (square pores, [A25]) or a volume
(N, N, N) for a 3D pVAE (crops of a scan). It is evaluated as a structure, three ways:

- ``regressor``: the pVAE's regressor on the latent mean of the binarised design (what the pVAE
  believes the structure it made has);
- ``cnn``: the permeability CNN on the binarised design (k and porosity; the paper's only check);
- ``solver``: the exact porosity of the design and k_z by the lattice Boltzmann solver
  (:func:`poredesign.transport.properties`) on the image extruded along z (extrusions are solved
  on two slices) or on the volume (with the ``flow`` options of the dataset's labels: crops are
  mirrored along z). A design with no pore path along z has k = 0 (flagged NO_PATH).

:func:`score` gives R^2 and MAPE (the project's one
:func:`~poredesign.learn.metrics.regression_report`) per evaluator and property against the
targets, over all targets and over the feasible ones.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from poredesign.learn.metrics import regression_report
from poredesign.learn.transforms import model_inputs
from poredesign.runlog import progress
from poredesign.structures.resize import binarise
from poredesign.transport import properties

EVALUATORS = ("regressor", "cnn", "solver")
PROPERTIES = ("porosity", "k")
FLOW_AXIS = 2  # square pores are extruded, and flow, along z; crops flow along z too


def target_columns(model: torch.nn.Module, names: Sequence[str] = PROPERTIES) -> list[int]:
    """Positions of ``names`` among a model's targets; a ValueError naming what is missing."""
    missing = [name for name in names if name not in model.targets]
    if missing:
        raise ValueError(
            f"{type(model).__name__} predicts {model.targets}; the latent design needs {missing}"
        )
    return [model.targets.index(name) for name in names]


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def decode_binary(pvae: torch.nn.Module, z: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Decoded codes ``z`` (B, d) binarised at 0.5: bool images (B, N, N) of a 2D pVAE or
    volumes (B, N, N, N) of a 3D one, True = solid."""
    device = _device(pvae)
    images = []
    for lo in range(0, len(z), batch_size):
        codes = torch.as_tensor(np.asarray(z[lo : lo + batch_size]), dtype=torch.float32)
        images.append(binarise(pvae.decode(codes.to(device))[:, 0]).cpu().numpy())
    if not images:
        edge = int(pvae.hparams.input_size)
        return np.zeros((0,) + (edge,) * int(pvae.hparams.get("dims", 3)), bool)
    return np.concatenate(images)


@torch.no_grad()
def model_properties(
    model: torch.nn.Module, images: np.ndarray, batch_size: int = 64
) -> np.ndarray:
    """(B, 2) porosity and k of bool images (B, N, N) or volumes (B, N, N, N) from a model's
    ``predict_properties``: the CNN's prediction, or the pVAE's regressor on the latent mean of
    each."""
    columns = target_columns(model)
    device, out = _device(model), []
    for lo in range(0, len(images), batch_size):
        x = model_inputs(
            torch.from_numpy(images[lo : lo + batch_size]).to(device), model.data_config
        )
        out.append(model.predict_properties(x).float().cpu().numpy()[:, columns])
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 2))


def solver_properties(
    images: np.ndarray,
    depth: int,
    flow: Mapping[str, Any] | None = None,
    progress_file: Any = None,
    first_name: str = "design",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B, 2) exact porosity and solver k_z of bool images (B, N, N) extruded to ``depth``
    slices, or of volumes (B, N, N, N) as they are (``depth`` unused); the solver's flags (B,)
    and seconds per structure (B,)."""
    values = np.full((len(images), 2), np.nan)
    flags = np.zeros(len(images), dtype=np.int32)
    seconds = np.zeros(len(images))
    for i in progress(range(len(images)), f"solver on {len(images)} designs", progress_file):
        t0 = time.perf_counter()
        solid = images[i] if images.ndim == 4 else np.repeat(images[i][:, :, None], depth, axis=2)
        result = properties(
            solid,
            axes=[FLOW_AXIS],
            which=("porosity", "permeability"),
            flow=flow,
            name=f"{first_name} {i}",
        )
        values[i] = result.porosity, result.k[FLOW_AXIS]
        flags[i] = int(result.flags_k[FLOW_AXIS])
        seconds[i] = time.perf_counter() - t0
    return values, flags, seconds


def evaluate_images(
    images: np.ndarray,
    pvae: torch.nn.Module,
    cnn: torch.nn.Module,
    depth: int,
    flow: Mapping[str, Any] | None = None,
    batch_size: int = 64,
    progress_file: Any = None,
    name: str = "design",
) -> dict[str, np.ndarray]:
    """The three evaluations (:data:`EVALUATORS`, each (B, 2): porosity, k) of bool images or
    volumes, with ``solver_flags`` and ``solver_seconds``."""
    solver, flags, seconds = solver_properties(images, depth, flow, progress_file, name)
    return {
        "regressor": model_properties(pvae, images, batch_size),
        "cnn": model_properties(cnn, images, batch_size),
        "solver": solver,
        "solver_flags": flags,
        "solver_seconds": seconds,
    }


def reconstruction_check(
    pvae: torch.nn.Module,
    mu: np.ndarray,
    labels: np.ndarray,
    depth: int,
    flow: Mapping[str, Any] | None = None,
    batch_size: int = 64,
    progress_file: Any = None,
) -> dict[str, Any]:
    """The solver on the reconstructions of images (their latent means ``mu`` decoded and
    binarised) against the images' own (porosity, k) ``labels`` (B, 2): MAPE (%) and R^2 per
    property, ``n`` and the reconstructions flagged (no pore path or no solid). A latent design
    can come no nearer a target than the decoder comes to the images it was trained on."""
    images = decode_binary(pvae, mu, batch_size)
    values, flags, seconds = solver_properties(images, depth, flow, progress_file, "reconstruction")
    ok = (flags == 0) & np.isfinite(values).all(axis=1)
    out: dict[str, Any] = {"n": int(len(mu)), "flagged": int((~ok).sum())}
    out["solver_seconds"] = float(seconds.sum())
    if ok.sum() >= 2:
        out.update(regression_report(values[ok], np.asarray(labels)[ok], list(PROPERTIES)))
    return out


def score(
    evaluations: Mapping[str, np.ndarray], targets: np.ndarray, feasible: np.ndarray
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per evaluator, over ``all`` targets and the ``feasible`` ones: ``r2`` and ``mape`` (%) per
    property, ``n`` (targets with a finite value). A subset of fewer than two targets has no R^2."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for evaluator in EVALUATORS:
        values = np.asarray(evaluations[evaluator], dtype=float)
        out[evaluator] = {}
        for subset, mask in (("all", np.ones(len(targets), bool)), ("feasible", feasible)):
            entry: dict[str, Any] = {"r2": {}, "mape": {}, "n": {}}
            for j, name in enumerate(PROPERTIES):
                ok = mask & np.isfinite(values[:, j])
                entry["n"][name] = int(ok.sum())
                if ok.sum() < 2:
                    entry["r2"][name] = entry["mape"][name] = None
                    continue
                report = regression_report(values[ok, j], targets[ok, j], [name])
                entry["r2"][name] = report[f"r2_{name}"]
                entry["mape"][name] = report[f"mape_{name}"]
            out[evaluator][subset] = entry
    return out


__all__ = [
    "EVALUATORS",
    "FLOW_AXIS",
    "PROPERTIES",
    "decode_binary",
    "evaluate_images",
    "model_properties",
    "reconstruction_check",
    "score",
    "solver_properties",
    "target_columns",
]
