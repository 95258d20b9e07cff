"""Nearest-neighbour estimation of structure properties in the latent PCA [Z23] (SPEC 4.3).

As in the paper, an unseen structure (a test structure, or a crop of a scan) takes its properties
from its nearest *training* structure in the PCA of the latent means:

- stretch direction and intensity (:mod:`.stretch`) from the nearest training structure in the
  (PC1, PC2) plane, by Euclidean distance;
- porosity from the nearest training structure along the porosity PC alone, by |difference| of
  that score (the porosity PC of :mod:`.pca`).

Ties go to the lowest training index. The estimates are compared with the calculated values:
porosity MAPE (percent, :func:`poredesign.learn.metrics.mape`), direction accuracy (fraction of
structures with a known direction whose estimate is right) and intensity mean absolute error.

The tables (``estimate/test.csv``, ``estimate/<scan>.csv``) have one row per structure with the
columns of :data:`COLUMNS`: ``index`` (in the structure store estimated), calculated
``porosity`` (measured on the structure) and ``porosity_estimated``, ``direction`` /
``direction_estimated`` (x, y, z, isotropic), ``intensity`` / ``intensity_estimated``
(1 - min e), the solver's tortuosity factor per axis ``tau_x, tau_y, tau_z`` from the transport
store (``tau`` (n, 3), empty where absent), and the training neighbours used
(``neighbour_pc12``, ``neighbour_porosity``: indices in the study's structure store). Unknown
values (a scan has no true direction) are empty cells.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from poredesign import store
from poredesign.characterise.space import SPLITS, TRAIN, LatentSet, read_latent
from poredesign.characterise.stretch import DIRECTIONS, UNKNOWN, direction_names, majority_share
from poredesign.jsonable import read_json
from poredesign.learn.encode import encode_store, load_vae
from poredesign.learn.metrics import mape

COLUMNS = (
    "index",
    "porosity",
    "porosity_estimated",
    "direction",
    "direction_estimated",
    "intensity",
    "intensity_estimated",
    "tau_x",
    "tau_y",
    "tau_z",
    "neighbour_pc12",
    "neighbour_porosity",
)


def nearest(points: np.ndarray, queries: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Index (n,) of the nearest row of ``points`` (m, k) to each row of ``queries`` (n, k),
    Euclidean; exhaustive, ``chunk`` queries at a time (memory chunk x m)."""
    points = np.asarray(points, dtype=np.float64)
    queries = np.asarray(queries, dtype=np.float64)
    if points.ndim != 2 or queries.ndim != 2 or points.shape[1] != queries.shape[1]:
        raise ValueError(
            f"nearest neighbours: points {points.shape} and queries {queries.shape} must be 2-d "
            f"with the same number of columns"
        )
    if len(points) == 0:
        raise ValueError("nearest neighbours: there are no reference points")
    out = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        q = queries[start : start + chunk]
        d2 = ((q[:, None, :] - points[None, :, :]) ** 2).sum(axis=2)
        out[start : start + len(q)] = np.argmin(d2, axis=1)  # first minimum on ties
    return out


def estimate_from_neighbours(
    latent: LatentSet, scores: np.ndarray, porosity_pc: int | None = None
) -> dict[str, np.ndarray]:
    """Estimates for PC ``scores`` (n, k) from the training structures of ``latent``.

    Returns ``direction_estimated`` (codes), ``intensity_estimated``, ``porosity_estimated`` and
    ``neighbour_pc12``, ``neighbour_porosity`` (indices into ``latent``'s structures).
    """
    pc = latent.porosity_pc if porosity_pc is None else int(porosity_pc)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] <= max(pc, 1):
        raise ValueError(
            f"scores of shape {scores.shape} lack PC1, PC2 or the porosity PC {pc + 1}"
        )
    train = np.flatnonzero(latent.split == TRAIN)
    if len(train) == 0:
        raise ValueError("the latent set has no training structure to take neighbours from")
    ref = latent.scores[train]
    by_pc12 = train[nearest(ref[:, :2], scores[:, :2])]
    by_porosity = train[nearest(ref[:, pc : pc + 1], scores[:, pc : pc + 1])]
    return {
        "direction_estimated": latent.direction[by_pc12],
        "intensity_estimated": latent.intensity[by_pc12],
        "porosity_estimated": latent.porosity[by_porosity],
        "neighbour_pc12": by_pc12,
        "neighbour_porosity": by_porosity,
    }


def read_tau(path: str | os.PathLike, index: np.ndarray) -> np.ndarray:
    """Tortuosity factors (len(index), 3) of structures ``index`` from a transport store's
    ``tau``; NaN where the store has no such row or no ``tau`` array."""
    index = np.asarray(index, dtype=np.int64)
    out = np.full((len(index), 3), np.nan)
    group = store.open_group(path)
    if "tau" not in group:
        return out
    tau = np.asarray(group["tau"][...], dtype=np.float64).reshape(-1, 3)
    present = index < len(tau)
    out[present] = tau[index[present]]
    return out


def _porosity_pc(latent: LatentSet, pca_path: str | os.PathLike | None) -> int:
    if pca_path is None:
        return latent.porosity_pc
    recorded = read_json(pca_path).get("porosity_pc")
    if recorded is None or int(recorded) != latent.porosity_pc:
        raise ValueError(
            f"{pca_path} names porosity PC {recorded} but the latent store was written with "
            f"{latent.porosity_pc}: rerun the latent stage"
        )
    return int(recorded)


def build_table(
    index: np.ndarray,
    porosity: np.ndarray,
    direction: np.ndarray,
    intensity: np.ndarray,
    tau: np.ndarray,
    estimates: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """The estimate table as columns (:data:`COLUMNS`), direction codes as names."""
    table = {
        "index": np.asarray(index, dtype=np.int64),
        "porosity": np.asarray(porosity, dtype=np.float64),
        "porosity_estimated": estimates["porosity_estimated"],
        "direction": np.asarray(direction_names(direction), dtype=object),
        "direction_estimated": np.asarray(
            direction_names(estimates["direction_estimated"]), dtype=object
        ),
        "intensity": np.asarray(intensity, dtype=np.float64),
        "intensity_estimated": estimates["intensity_estimated"],
        "tau_x": tau[:, 0],
        "tau_y": tau[:, 1],
        "tau_z": tau[:, 2],
        "neighbour_pc12": estimates["neighbour_pc12"],
        "neighbour_porosity": estimates["neighbour_porosity"],
    }
    return {c: table[c] for c in COLUMNS}


def summarise(table: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """``porosity_mape_percent``, ``direction_accuracy`` (rows with a known direction) and its
    chance level ``direction_majority`` (the share of the most frequent true direction),
    ``intensity_mae`` (rows with a known intensity) and ``n``; None where nothing is known."""
    porosity = np.asarray(table["porosity"], dtype=np.float64)
    estimated = np.asarray(table["porosity_estimated"], dtype=np.float64)
    ok = np.isfinite(porosity) & np.isfinite(estimated) & (porosity != 0)
    known = np.asarray([d != "" for d in table["direction"]], dtype=bool)
    right = np.asarray(table["direction"]) == np.asarray(table["direction_estimated"])
    intensity = np.asarray(table["intensity"], dtype=np.float64)
    error = np.abs(intensity - np.asarray(table["intensity_estimated"], dtype=np.float64))
    finite = np.isfinite(error)
    return {
        "porosity_mape_percent": float(mape(estimated[ok], porosity[ok], axis=None))
        if ok.any()
        else None,
        "direction_accuracy": float(right[known].mean()) if known.any() else None,
        "direction_majority": majority_share(
            [DIRECTIONS.index(d) if d else UNKNOWN for d in table["direction"]]
        ),
        "intensity_mae": float(error[finite].mean()) if finite.any() else None,
        "n": len(porosity),
    }


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    return "" if not np.isfinite(value) else f"{value:.10g}"


def write_table(path: str | os.PathLike, table: Mapping[str, np.ndarray]) -> None:
    """Write the table as CSV (header row; NaN and unknown directions as empty cells)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    columns = list(table)
    n = len(table[columns[0]]) if columns else 0
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for i in range(n):
            writer.writerow([_cell(table[c][i]) for c in columns])


def read_table(path: str | os.PathLike) -> dict[str, list[str]]:
    """A table written by :func:`write_table`, as columns of strings."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise ValueError(f"{path} is empty (no header row)")
    return {name: [r[j] for r in rows[1:]] for j, name in enumerate(rows[0])}


def estimate_test(
    latent_path: str | os.PathLike,
    transport_path: str | os.PathLike,
    pca_path: str | os.PathLike | None = None,
    split: str = "test",
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The ``estimate_test`` stage: estimates for the ``split`` structures of a latent store
    against its training structures; returns the table and its summary."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    latent = read_latent(latent_path)
    pc = _porosity_pc(latent, pca_path)
    index = np.flatnonzero(latent.split == SPLITS.index(split))
    if len(index) == 0:
        raise ValueError(f"{latent_path} holds no {split} structure to estimate")
    estimates = estimate_from_neighbours(latent, latent.scores[index], pc)
    table = build_table(
        index,
        latent.porosity[index],
        latent.direction[index],
        latent.intensity[index],
        read_tau(transport_path, index),
        estimates,
    )
    return table, summarise(table)


def estimate_scan(
    latent_path: str | os.PathLike,
    model_path: str | os.PathLike,
    structures_path: str | os.PathLike,
    transport_path: str | os.PathLike,
    pca_path: str | os.PathLike | None = None,
    batch_size: int = 16,
    device: str | None = "auto",
    progress_file: Any = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The ``estimate_scan`` stage: encode the crops of a scan with the study's VAE, project them
    into its PCA and estimate from the training neighbours. The calculated porosity is measured
    on each crop; a scan has no generation parameters, so the true direction and intensity stay
    unknown (empty). Returns the table and its summary (porosity MAPE only)."""
    latent = read_latent(latent_path)
    pc = _porosity_pc(latent, pca_path)
    crops = store.StructureStore(structures_path)
    model = load_vae(model_path, device)
    mu, porosity = encode_store(
        model, crops, batch_size, progress_file, "encode crops", descriptors=True
    )
    estimates = estimate_from_neighbours(latent, latent.pca.transform(mu), pc)
    index = np.arange(len(crops))
    table = build_table(
        index,
        porosity,
        np.full(len(crops), UNKNOWN, dtype=np.int8),
        np.full(len(crops), np.nan),
        read_tau(transport_path, index),
        estimates,
    )
    return table, summarise(table)
