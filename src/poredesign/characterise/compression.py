"""What the crops of a foam at several compression levels show ([A25]'s foam section, SPEC 1.4).

:func:`compression_findings` reads the dataset (crops with their ``strain`` parameter), the
solver's diagonal permeability tensor (k_x, k_y, k_z) and the trained pVAE, and measures:

1. the tensor per strain level: mean and standard deviation of each component and of porosity,
   and the anisotropy k_z / mean(k_x, k_y);
2. the latent PCA (fitted on the pVAE's training crops, every crop projected): how well the strain
   levels separate in PC1-PC2, as the leave-one-out nearest-neighbour accuracy of the strain level
   (and of [A25]'s three clusters 0 %, 15-35 %, 50 %) against chance, beside the same accuracy in
   the plane of the crop's own standardised porosity and log k_z (the baseline: no model);
3. the Pearson correlation matrix of the first 10 PCs with porosity and k_x, k_y, k_z, beside the
   baseline r(porosity, k_z) of the crops themselves;
4. the slerp between the latent means of the highest- and the lowest-porosity test crop, every
   step decoded, binarised and solved for the tensor (and its porosity); how monotone porosity and
   each k are along the path (Spearman's rho against the step, and the steps that reverse the
   overall trend).

Chance of a nearest-neighbour classifier: the accuracy it has when the labels carry no
information about position, sum_g p_g^2 (p_g the share of group g); the majority share is
reported too. Permeabilities are in voxel^2 of the stored (resized) crops; flagged solves
(no solid: k unbounded; not converged) are NaN and left out of means and correlations.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

from poredesign import store
from poredesign.characterise.pca import fit_pca, pearson
from poredesign.characterise.space import TRAIN
from poredesign.jsonable import write_json
from poredesign.learn.encode import encode_store, load_vae, split_labels
from poredesign.runlog import progress

log = logging.getLogger(__name__)

#: components whose correlations are reported
N_COMPONENTS = 10
#: the columns correlated with the PCs
PROPERTIES = ("porosity", "k_x", "k_y", "k_z")
#: [A25]'s clusters of strain levels in its latent PCA
PAPER_CLUSTERS = ("0 %", "15-35 %", "50 %")
TEST = 2


def paper_cluster(strain: np.ndarray) -> np.ndarray:
    """[A25]'s three latent clusters of its strain levels: 0 (strain 0), 1 (0 < strain < 0.5),
    2 (strain >= 0.5)."""
    strain = np.asarray(strain, dtype=float)
    return np.where(strain <= 0, 0, np.where(strain < 0.5, 1, 2))


def nearest_neighbour_accuracy(points: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Leave-one-out 1-nearest-neighbour accuracy (Euclidean) of ``groups`` (n,) from ``points``
    (n, d), beside chance (sum of squared group shares) and the majority share."""
    points = np.asarray(points, dtype=float)
    groups = np.asarray(groups)
    if len(points) < 2:
        raise ValueError("nearest_neighbour_accuracy needs at least two points")
    squared = (points**2).sum(axis=1)
    distance = squared[:, None] + squared[None, :] - 2 * points @ points.T
    np.fill_diagonal(distance, np.inf)
    nearest = np.argmin(distance, axis=1)
    _, counts = np.unique(groups, return_counts=True)
    share = counts / counts.sum()
    return {
        "accuracy": float(np.mean(groups[nearest] == groups)),
        "chance": float((share**2).sum()),
        "majority": float(share.max()),
        "n": int(len(points)),
    }


def _standardised(columns: Sequence[np.ndarray]) -> np.ndarray:
    x = np.column_stack(columns).astype(float)
    return (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)


def tensor_by_strain(strain: np.ndarray, porosity: np.ndarray, k: np.ndarray) -> list[dict]:
    """Per strain level (ascending): n, porosity and k_x, k_y, k_z mean and standard deviation
    (finite values only), the finite count of each component and the anisotropy
    k_z / mean(k_x, k_y) (mean over crops)."""
    out = []
    for level in np.unique(strain):
        at = strain == level
        entry: dict[str, Any] = {"strain": float(level), "n": int(at.sum())}
        columns = {"porosity": porosity[at], **{f"k_{a}": k[at, i] for i, a in enumerate("xyz")}}
        for name, values in columns.items():
            ok = values[np.isfinite(values)]
            entry[name] = {
                "mean": float(ok.mean()) if len(ok) else None,
                "std": float(ok.std(ddof=1)) if len(ok) > 1 else None,
                "finite": int(len(ok)),
            }
        lateral = k[at, :2].mean(axis=1)
        ratio = k[at, 2] / np.where(lateral > 0, lateral, np.nan)
        ratio = ratio[np.isfinite(ratio)]
        entry["anisotropy"] = float(ratio.mean()) if len(ratio) else None
        out.append(entry)
    return out


def monotonicity(values: np.ndarray) -> dict[str, Any]:
    """How monotone ``values`` are along a path: Spearman's rho against the step, the direction
    of the overall trend (sign of last - first) and the steps that go against it (NaN steps are
    skipped)."""
    values = np.asarray(values, dtype=float)
    ok = np.flatnonzero(np.isfinite(values))
    if len(ok) < 3:
        return {"rho": None, "trend": 0, "reversals": None, "monotone": False, "n": int(len(ok))}
    v = values[ok]
    rho = pearson(np.arange(len(v), dtype=float), rankdata(v))  # NaN for constant values
    trend = int(np.sign(v[-1] - v[0]))
    steps = np.diff(v)
    reversals = int(np.count_nonzero(steps * trend < 0)) if trend else int(np.count_nonzero(steps))
    return {
        "rho": rho,
        "trend": trend,
        "reversals": reversals,
        "monotone": reversals == 0 and trend != 0,
        "n": int(len(v)),
    }


def _read_labels(transport_path: str | os.PathLike, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Porosity (n,) and k (n, 3) of the label store, NaN where a solve was flagged (a crop
    without a pore path keeps k = 0: it is measured)."""
    group = store.open_group(transport_path)
    k = np.asarray(group["k"][:n], dtype=float)
    flags = np.asarray(group["flags_k"][:n])
    k = np.where((flags == 0) | (flags == 1), k, np.nan)
    return np.asarray(group["porosity"][:n], dtype=float), k


def slerp_tensor(
    pvae: Any,
    structures: store.StructureStore,
    endpoints: tuple[int, int],
    steps: int,
    flow: Mapping[str, Any] | None = None,
    progress_file: Any = None,
) -> dict[str, Any]:
    """Slerp between the latent means of two crops; per step the decoded, binarised volume's
    porosity and its solver tensor (k_x, k_y, k_z; one solve per axis)."""
    from poredesign.design.gradient.evaluate import decode_binary
    from poredesign.design.gradient.slerp import slerp
    from poredesign.transport.properties import properties

    codes = pvae.latent_means(np.stack([structures[int(i)] for i in endpoints]))
    images = decode_binary(pvae, slerp(codes[0], codes[1], steps))
    porosity = np.full(steps, np.nan)
    k = np.full((steps, 3), np.nan)
    flags = np.zeros((steps, 3), dtype=np.int32)
    for i in progress(range(steps), "slerp tensor", progress_file, unit="step"):
        result = properties(
            images[i],
            axes=(0, 1, 2),
            which=("porosity", "permeability"),
            flow=flow,
            name=f"slerp step {i}",
        )
        porosity[i], k[i], flags[i] = result.porosity, result.k, result.flags_k
    finite = np.where((flags == 0) | (flags == 1), k, np.nan)
    return {
        "endpoints": [int(i) for i in endpoints],
        "steps": int(steps),
        "porosity": porosity,
        "k": finite,
        "flags": flags,
        "monotone": {
            "porosity": monotonicity(porosity),
            **{f"k_{a}": monotonicity(finite[:, j]) for j, a in enumerate("xyz")},
        },
    }


def compression_findings(
    pvae_path: str | os.PathLike,
    structures_path: str | os.PathLike,
    transport_path: str | os.PathLike,
    out_json: str | os.PathLike,
    out_store: str | os.PathLike,
    slerp_steps: int = 100,
    flow: Mapping[str, Any] | None = None,
    device: str = "auto",
    progress_file: Any = None,
) -> dict[str, Any]:
    """The findings of the module docstring for a dataset of crops at several strain levels;
    writes ``out_json`` and ``out_store`` (per crop: PC scores, strain, porosity, k; the slerp
    path), which the figures and the summary read."""
    t0 = time.perf_counter()
    structures = store.StructureStore(structures_path)
    names = structures.param_names
    if "strain" not in names:
        raise ValueError(f"{structures_path}: the crops have no 'strain' parameter ({names})")
    n = len(structures)
    strain = np.asarray(structures.params[:, names.index("strain")], dtype=float)
    porosity, k = _read_labels(transport_path, n)
    pvae = load_vae(pvae_path, device)
    mu, _ = encode_store(pvae, structures, progress_file=progress_file, desc="encode crops")
    split = split_labels(n, pvae.data_config)
    pca = fit_pca(mu[split == TRAIN])
    scores = pca.transform(mu)[:, :N_COMPONENTS]
    levels = np.unique(strain, return_inverse=True)[1]
    columns = {"porosity": porosity, **{f"k_{a}": k[:, i] for i, a in enumerate("xyz")}}
    correlations = [
        [pearson(scores[:, j], columns[p]) for p in PROPERTIES] for j in range(scores.shape[1])
    ]
    log_kz = np.log(np.where(k[:, 2] > 0, k[:, 2], np.nan))
    ok = np.isfinite(log_kz)
    baseline_plane = _standardised([porosity[ok], log_kz[ok]])

    def best(prop: str) -> dict[str, Any]:
        r = np.array([row[PROPERTIES.index(prop)] for row in correlations], dtype=float)
        j = int(np.nanargmax(np.abs(r)))
        return {"pc": j + 1, "r": float(r[j])}

    endpoints = _slerp_endpoints(porosity, split)
    path = slerp_tensor(pvae, structures, endpoints, slerp_steps, flow, progress_file)
    result = {
        "n": int(n),
        "strains": [float(s) for s in np.unique(strain)],
        "tensor": tensor_by_strain(strain, porosity, k),
        "k_finite": {f"k_{a}": int(np.isfinite(k[:, i]).sum()) for i, a in enumerate("xyz")},
        "pca": {
            "n_train": int((split == TRAIN).sum()),
            "explained_variance_ratio": pca.explained_variance_ratio[:N_COMPONENTS],
            "correlations": correlations,
            "properties": list(PROPERTIES),
            "best": {p: best(p) for p in PROPERTIES},
        },
        "separation": {
            "levels": {
                "latent": nearest_neighbour_accuracy(scores[:, :2], levels),
                "baseline": nearest_neighbour_accuracy(baseline_plane, levels[ok]),
            },
            "paper_clusters": {
                "latent": nearest_neighbour_accuracy(scores[:, :2], paper_cluster(strain)),
                "baseline": nearest_neighbour_accuracy(baseline_plane, paper_cluster(strain)[ok]),
            },
        },
        "baseline": {
            "r_porosity_k_z": pearson(porosity, k[:, 2]),
            "r_porosity_log_k_z": pearson(porosity, log_kz),
            "r_strain_porosity": pearson(strain, porosity),
            "r_strain_k_z": pearson(strain, k[:, 2]),
        },
        "slerp": {
            key: path[key] for key in ("endpoints", "steps", "porosity", "k", "flags", "monotone")
        }
        | {
            "endpoint_labels": [
                {"strain": strain[i], "porosity": porosity[i], "k": k[i]} for i in endpoints
            ]
        },
    }
    result["seconds"] = time.perf_counter() - t0
    with store.atomic_group(out_store) as group:
        store.write_array(group, "scores", scores)
        store.write_array(group, "strain", strain)
        store.write_array(group, "porosity", porosity)
        store.write_array(group, "k", k, units="voxel^2", axes="x, y, z")
        store.write_array(group, "split", split)
        group.attrs.update(store.provenance(pvae=str(pvae_path), n=int(n)))
    write_json(out_json, result)
    return result


def _slerp_endpoints(porosity: np.ndarray, split: np.ndarray) -> tuple[int, int]:
    """The highest- and the lowest-porosity test crop (every crop when the test split has fewer
    than two)."""
    pool = np.flatnonzero(split == TEST)
    if len(pool) < 2:
        pool = np.arange(len(porosity))
    return int(pool[np.argmax(porosity[pool])]), int(pool[np.argmin(porosity[pool])])


__all__ = [
    "PAPER_CLUSTERS",
    "compression_findings",
    "monotonicity",
    "nearest_neighbour_accuracy",
    "paper_cluster",
    "slerp_tensor",
    "tensor_by_strain",
]
