"""Latent stage and nearest-neighbour estimation [Z23] (SPEC 4.3): PCA properties on synthetic
latents, estimation where the answer is known, and a tiny end-to-end run (Voronoi store, untrained
VAE) through the library entry points and the three scripts."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from poredesign import store
from poredesign.characterise import (
    COLUMNS,
    build_latent_set,
    estimate_from_neighbours,
    estimate_scan,
    estimate_test,
    fit_pca,
    latent_space,
    nearest,
    pearson,
    porosity_component,
    read_latent,
    read_table,
    stretch_direction,
    stretch_intensity,
    stretched_axes,
    summarise,
    write_latent,
    write_pca_json,
)
from poredesign.characterise.estimate import build_table, read_tau
from poredesign.characterise.reference import reference_summary
from poredesign.characterise.stretch import (
    chord_directions,
    leave_one_out_direction_accuracy,
    majority_share,
)
from poredesign.learn.data import split_indices
from poredesign.learn.encode import split_labels

ROOT = Path(__file__).resolve().parents[3]
NAMES = ["n_points", "radius", "e_x", "e_y", "e_z", "porosity"]


# ------------------------------------------------------------------------------------------
# PCA


def _latents(n: int, d: int = 12, seed: int = 0):
    """Latent means with known structure: variances 25, 9, 4, 1, ... along a random orthonormal
    basis Q; porosity is a linear function of the third coordinate (variance 4)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    scale = np.array([5.0, 3.0, 2.0] + [1.0 / (k + 1) for k in range(d - 3)])
    coords = rng.normal(size=(n, d)) * scale
    porosity = 0.7 + 0.05 * coords[:, 2]
    return coords @ q.T + 1.5, porosity, q


def test_pca_variance_projection_and_porosity_pc():
    mu, porosity, q = _latents(400)
    pca = fit_pca(mu)
    ratio = pca.explained_variance_ratio
    assert pca.components.shape == (12, 12)
    assert ratio.sum() <= 1.0 + 1e-12 and ratio.sum() == pytest.approx(1.0)
    assert np.all(np.diff(ratio) <= 0)
    assert np.all(np.diff(pca.explained_variance) <= 0)
    # components are orthonormal and the leading ones recover the known axes (up to sign)
    np.testing.assert_allclose(pca.components @ pca.components.T, np.eye(12), atol=1e-10)
    assert abs(pca.components[0] @ q[:, 0]) > 0.99
    assert abs(pca.components[2] @ q[:, 2]) > 0.95
    # 25 / (25 + 9 + 4 + sum of 1/k^2 for k=1..9) = 0.60 in expectation
    assert ratio[0] == pytest.approx(25 / (38 + sum(1 / k**2 for k in range(1, 10))), abs=0.05)
    # projecting the training data reproduces the SVD scores and round-trips
    scores = pca.transform(mu)
    u, s, vt = np.linalg.svd(mu - mu.mean(0), full_matrices=False)
    np.testing.assert_allclose(np.abs(scores), np.abs(u * s), atol=1e-9)
    np.testing.assert_allclose(pca.inverse_transform(scores), mu, atol=1e-9)
    np.testing.assert_allclose(scores.mean(0), 0.0, atol=1e-10)
    # the known porosity direction is the third PC, with |r| = 1 up to the axis recovery
    assert porosity_component(scores, porosity) == 2
    assert abs(pearson(scores[:, 2], porosity)) > 0.95
    # fewer samples than dimensions: k = n_train
    small = fit_pca(mu[:5])
    assert small.n_components == 5 and small.explained_variance_ratio[-1] < 1e-20
    with pytest.raises(ValueError, match="at least two"):
        fit_pca(mu[:1])
    with pytest.raises(ValueError, match="cannot be projected"):
        pca.transform(mu[:, :3])


def test_fit_is_deterministic_in_sign():
    mu, _, _ = _latents(50, seed=3)
    a, b = fit_pca(mu), fit_pca(mu[::-1].copy())
    np.testing.assert_allclose(a.components, b.components, atol=1e-9)
    pivot = np.argmax(np.abs(a.components), axis=1)
    assert np.all(a.components[np.arange(12), pivot] > 0)


# ------------------------------------------------------------------------------------------
# stretch labels and splits


def test_stretch_labels():
    e = np.array([[0.6, 1, 1], [1, 0.8, 1], [1, 1, 0.55], [1, 1, 1], [0.7, 0.9, 1], [np.nan, 1, 1]])
    assert stretch_direction(e).tolist() == [0, 1, 2, 3, 0, -1]
    np.testing.assert_allclose(stretch_intensity(e)[:5], [0.4, 0.2, 0.45, 0.0, 0.3])
    assert np.isnan(stretch_intensity(e)[5])
    assert stretched_axes(e) == ["x", "y", "z", "isotropic", "xy", ""]


def test_split_labels_match_the_vae_split():
    config = {"split": [0.6, 0.2, 0.2], "seed": 11, "max_structures": 20}
    labels = split_labels(25, config)
    train, val, test = split_indices(20, [0.6, 0.2, 0.2], 11)
    assert np.flatnonzero(labels == 0).tolist() == train.tolist()
    assert np.flatnonzero(labels == 1).tolist() == val.tolist()
    assert np.flatnonzero(labels == 2).tolist() == test.tolist()
    assert labels[20:].tolist() == [-1] * 5


# ------------------------------------------------------------------------------------------
# nearest-neighbour estimation on a synthetic latent set


def _branch_set(n: int, seed: int, d: int = 10):
    """Three branches 120 degrees apart in a latent plane (direction x, y, z; distance from the
    centre = 10 * intensity), porosity along a third axis, small noise elsewhere."""
    rng = np.random.default_rng(seed)
    axis = rng.integers(0, 3, n)
    intensity = rng.uniform(0.1, 0.5, n)
    porosity = rng.uniform(0.6, 0.9, n)
    angle = np.radians(90 + 120 * axis)
    coords = np.zeros((n, d))
    coords[:, 0] = 10 * intensity * np.cos(angle)
    coords[:, 1] = 10 * intensity * np.sin(angle)
    coords[:, 2] = 6 * (porosity - 0.75)
    coords[:, 3:] = rng.normal(scale=0.01, size=(n, d - 3))
    e = np.ones((n, 3))
    e[np.arange(n), axis] = 1 - intensity
    params = np.column_stack([np.full(n, 50), np.full(n, 3.4), e, porosity])
    return coords, params, porosity


def test_nearest_neighbour_estimation_known_answer(tmp_path):
    coords, params, porosity = _branch_set(600, seed=5)
    split = np.zeros(600, dtype=np.int8)
    split[500:] = 2
    latent = build_latent_set(coords, split, params, NAMES, porosity)
    assert latent.porosity_pc == 2  # the branch plane carries more variance than porosity
    summary = latent.summary()
    assert abs(summary["porosity_pc_correlation"]) > 0.99
    assert np.abs(summary["correlation_porosity"][:2]).max() < 0.2
    # the branches carry the direction in PC1-PC2 (and in the full latent), far above chance
    nn = summary["direction_nearest_neighbour"]
    assert nn["pc12"] > 0.98 and nn["latent"] > 0.98
    train_dirs = latent.direction[:500]
    assert nn["majority"] == np.bincount(train_dirs).max() / 500 < 0.4

    test = np.flatnonzero(split == 2)
    estimates = estimate_from_neighbours(latent, latent.scores[test])
    assert np.all(latent.split[estimates["neighbour_pc12"]] == 0)
    transport = tmp_path / "transport.zarr"
    with store.atomic_group(transport) as group:
        store.write_array(group, "tau", np.arange(600 * 3, dtype=float).reshape(600, 3))
    table = build_table(
        test,
        latent.porosity[test],
        latent.direction[test],
        latent.intensity[test],
        read_tau(transport, test),
        estimates,
    )
    result = summarise(table)
    assert result["direction_accuracy"] == 1.0
    assert result["direction_majority"] == np.bincount(latent.direction[test]).max() / 100
    assert result["porosity_mape_percent"] < 0.5
    assert result["intensity_mae"] < 0.01
    assert result["n"] == 100
    np.testing.assert_array_equal(table["tau_y"], 3 * test + 1)

    # the same through the stored files
    write_latent(tmp_path / "latent.zarr", latent)
    write_pca_json(tmp_path / "pca.json", summary)
    table2, summary2 = estimate_test(tmp_path / "latent.zarr", transport, tmp_path / "pca.json")
    assert summary2 == result
    np.testing.assert_array_equal(table2["neighbour_porosity"], table["neighbour_porosity"])


def test_leave_one_out_direction_accuracy():
    # two interleaved lines: every point's nearest other point lies on its own line...
    line = np.arange(10.0)
    points = np.concatenate(
        [np.column_stack([line, np.zeros(10)]), np.column_stack([line, 5 + np.zeros(10)])]
    )
    labels = np.repeat([0, 1], 10)
    assert leave_one_out_direction_accuracy(points, labels, chunk=3) == 1.0
    # ...and on the other line when the labels alternate along each line
    alternating = np.tile([0, 1], 10)
    assert leave_one_out_direction_accuracy(points, alternating, chunk=7) == 0.0
    # unknown directions are left out as queries and as neighbours
    with_unknown = labels.copy()
    with_unknown[::2] = -1
    assert leave_one_out_direction_accuracy(points, with_unknown) == 1.0
    assert leave_one_out_direction_accuracy(points[:1], labels[:1]) is None
    assert majority_share([0, 0, 2, -1, 1]) == 0.5 and majority_share([-1]) is None
    # scoring a subset: its rows' neighbours still come from every known row
    mixed = labels.copy()
    mixed[[3, 15]] = 1 - mixed[[3, 15]]  # two points labelled like the other line
    scored = np.zeros(20, bool)
    scored[[3, 4]] = True  # the first of 3's nearest (2, 4) and of 4's (3, 5) disagree
    assert leave_one_out_direction_accuracy(points, mixed, scored=scored) == 0.0
    scored[[3, 4]], scored[[0, 1]] = False, True  # 0's and 1's nearest (1 and 0) agree
    assert leave_one_out_direction_accuracy(points, mixed, scored=scored) == 1.0
    assert leave_one_out_direction_accuracy(points, mixed, scored=np.zeros(20, bool)) is None


def test_chord_directions_find_the_axis_pores_run_along():
    solid = np.ones((4, 12, 12, 12), bool)
    solid[0, :, 4:8, 4:8] = False  # a pore channel along x
    solid[1, 4:8, :, 4:8] = False  # along y
    solid[2, 4:8, 4:8, :] = False  # along z
    solid[3, 2:6, 2:6, 1:4] = False  # a short pore, longest along x and y, not z
    directions = chord_directions(solid)
    assert directions[:3].tolist() == [0, 1, 2] and directions[3] != 2
    assert chord_directions(np.ones((1, 4, 4, 4), bool)).tolist() == [-1]  # no pore


def test_nearest_and_tau_edges(tmp_path):
    points = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    assert nearest(points, np.array([[0.9, 0.1], [-5.0, 0.0]]), chunk=1).tolist() == [1, 0]
    with pytest.raises(ValueError, match="no reference points"):
        nearest(np.zeros((0, 2)), np.zeros((1, 2)))
    path = tmp_path / "t.zarr"
    with store.atomic_group(path) as group:
        store.write_array(group, "tau", np.ones((2, 3)))
    tau = read_tau(path, np.array([1, 5]))
    assert tau[0].tolist() == [1.0, 1.0, 1.0] and np.isnan(tau[1]).all()


def test_reference_summary_between_parents():
    coords, params, porosity = _branch_set(300, seed=2)
    reference = build_latent_set(coords, np.zeros(300, dtype=np.int8), params, NAMES, porosity)
    branches = {
        name: reference.scores[reference.direction == code, :2].mean(0)
        for code, name in enumerate("xyz")
    }
    # two-axes structures placed halfway between the x and y branch centroids
    scores = np.tile((branches["x"] + branches["y"]) / 2, (4, 1))
    two = np.tile([50, 3.4, 0.7, 0.8, 1.0, 0.7], (4, 1))
    out = reference_summary(scores, two, NAMES, reference, "one-axis")
    assert out["groups"]["xy"]["between"] is True and out["groups"]["xy"]["n"] == 4
    far = np.tile(branches["z"], (4, 1))
    assert reference_summary(far, two, NAMES, reference)["groups"]["xy"]["between"] is False


# ------------------------------------------------------------------------------------------
# end to end: tiny Voronoi store, untrained tiny VAE


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    import torch

    from poredesign.learn import VAE3D, save_model
    from poredesign.structures.sampling import generate_dataset
    from poredesign.structures.voronoi import VoronoiSampler

    root = tmp_path_factory.mktemp("latent")
    sampler = VoronoiSampler(size=16, generation_size=24, n_points_range=(14, 24), radius=1.5)
    generate_dataset(
        root / "structures.zarr", sampler, seed=1, start=0, stop=12, generator="voronoi"
    )
    torch.manual_seed(0)
    vae = VAE3D(input_size=16, channels=[2, 4], hidden=16, latent_dim=6)
    save_model(
        vae,
        root / "vae" / "model.pt",
        data={"split": [0.5, 0.25, 0.25], "seed": 7, "scale": "binary", "pool": False},
    )
    with store.atomic_group(root / "transport.zarr") as group:
        store.write_array(group, "tau", 1.0 + np.arange(36, dtype=float).reshape(12, 3) / 100)
    crops = store.StructureStore(root / "structures.zarr")
    store.write_structures(root / "scan.zarr", crops[:3], np.full((3, 1), np.nan), ["porosity"])
    with store.atomic_group(root / "scan-transport.zarr") as group:
        store.write_array(group, "tau", np.full((3, 3), 1.5))
    return root


def test_latent_space_end_to_end(tiny_study):
    root = tiny_study
    latent = latent_space(
        root / "structures.zarr",
        root / "vae" / "model.pt",
        root / "latent.zarr",
        root / "pca.json",
        batch_size=5,
        device="cpu",
    )
    assert store.verify_store(root / "latent.zarr") > 0
    stored = read_latent(root / "latent.zarr")
    train, val, test = split_indices(12, [0.5, 0.25, 0.25], 7)
    assert np.flatnonzero(stored.split == 0).tolist() == train.tolist()
    assert np.flatnonzero(stored.split == 2).tolist() == test.tolist()
    assert stored.mu.shape == (12, 6) and stored.scores.shape == (12, 6)
    np.testing.assert_allclose(stored.scores, stored.pca.transform(stored.mu), atol=1e-10)
    source = store.StructureStore(root / "structures.zarr")
    np.testing.assert_allclose(stored.porosity, source.params[:, 5], atol=1e-12)
    np.testing.assert_array_equal(stored.params, source.params)
    assert stored.param_names == NAMES
    summary = json.loads((root / "pca.json").read_text())
    ratio = np.array(summary["explained_variance_ratio"])
    assert ratio.sum() <= 1 + 1e-9 and np.all(np.diff(ratio) <= 1e-15)
    assert summary["n_train"] == 6 and len(summary["correlation_porosity"]) == 3
    assert summary["porosity_pc"] == stored.porosity_pc == latent.porosity_pc
    assert 0 <= summary["porosity_pc"] < 5

    table, result = estimate_test(root / "latent.zarr", root / "transport.zarr", root / "pca.json")
    assert list(table) == list(COLUMNS)
    assert table["index"].tolist() == test.tolist()
    np.testing.assert_allclose(table["tau_x"], 1.0 + 3 * test / 100)
    assert result["n"] == 3 and 0 <= result["direction_accuracy"] <= 1
    assert set(table["neighbour_pc12"]) <= set(train.tolist())

    scan, scan_summary = estimate_scan(
        root / "latent.zarr",
        root / "vae" / "model.pt",
        root / "scan.zarr",
        root / "scan-transport.zarr",
        root / "pca.json",
        batch_size=2,
        device="cpu",
    )
    # the crops are structures 0..2 of the study: the same latent means, so the same estimates
    same = estimate_from_neighbours(stored, stored.scores[:3])
    np.testing.assert_array_equal(scan["neighbour_pc12"], same["neighbour_pc12"])
    np.testing.assert_allclose(scan["porosity"], stored.porosity[:3])
    assert list(scan["direction"]) == ["", "", ""] and np.isnan(scan["intensity"]).all()
    assert scan_summary["direction_accuracy"] is None and scan_summary["porosity_mape_percent"] >= 0


def _run_script(name: str, **namespaces):
    """Run a workflow script with a stand-in ``snakemake`` object (dicts become attributes)."""
    fields = {k: SimpleNamespace(**v) if isinstance(v, dict) else v for k, v in namespaces.items()}
    snakemake = SimpleNamespace(threads=1, **fields)
    runpy.run_path(str(ROOT / "workflow" / "scripts" / name), init_globals={"snakemake": snakemake})


def test_scripts(tiny_study, tmp_path):
    root = tiny_study
    out = tmp_path / "latent"
    outputs = {
        "latent": str(out / "latent.zarr"),
        "pca": str(out / "pca.json"),
        "pc_figure": str(out / "pc12.png"),
        "porosity_figure": str(out / "porosity_pc.png"),
        "reference_figure": str(out / "reference.png"),
    }
    inputs = {"structures": str(root / "structures.zarr"), "model": str(root / "vae/model.pt")}
    _run_script(
        "latent_space.py",
        input=inputs,
        output=outputs,
        log=[str(tmp_path / "a.log")],
        params={
            "batch_size": 4,
            "device": "cpu",
            "reference_study": None,
            "reference_model": None,
            "reference_latent": None,
        },
    )
    for key in ("pc_figure", "porosity_figure", "reference_figure"):
        assert Path(outputs[key]).read_bytes()[:4] == b"\x89PNG"
    # the study projected into "another" study's PCA (here: itself, so the scores coincide)
    ref_out = {k: str(tmp_path / "ref" / Path(v).name) for k, v in outputs.items()}
    _run_script(
        "latent_space.py",
        log=[str(tmp_path / "b.log")],
        output=ref_out,
        input=inputs,
        params={
            "batch_size": 4,
            "device": "cpu",
            "reference_study": "one-axis",
            "reference_model": inputs["model"],
            "reference_latent": outputs["latent"],
        },
    )
    projected = read_latent(ref_out["latent"])
    np.testing.assert_allclose(projected.reference_scores, projected.scores, atol=1e-9)
    assert json.loads(Path(ref_out["pca"]).read_text())["reference"]["study"] == "one-axis"

    estimate = tmp_path / "estimate"
    _run_script(
        "estimate_properties.py",
        log=[str(tmp_path / "c.log")],
        input={
            "latent": outputs["latent"],
            "pca": outputs["pca"],
            "transport": str(root / "transport.zarr"),
        },
        output={"table": str(estimate / "test.csv"), "summary": str(estimate / "summary.json")},
    )
    summary = json.loads((estimate / "summary.json").read_text())
    assert set(summary) == {
        "porosity_mape_percent",
        "direction_accuracy",
        "direction_majority",
        "intensity_mae",
        "n",
    }
    assert list(read_table(estimate / "test.csv")) == list(COLUMNS)
    _run_script(
        "estimate_scan.py",
        log=[str(tmp_path / "d.log")],
        wildcards={"scan": "scan"},
        input={
            "latent": outputs["latent"],
            "pca": outputs["pca"],
            "model": inputs["model"],
            "structures": str(root / "scan.zarr"),
            "transport": str(root / "scan-transport.zarr"),
        },
        output={"table": str(estimate / "scan.csv")},
        params={"batch_size": 2, "device": "cpu"},
    )
    scan = read_table(estimate / "scan.csv")
    assert scan["direction"] == ["", "", ""] and scan["tau_z"] == ["1.5"] * 3
    assert all(d in ("x", "y", "z", "isotropic") for d in scan["direction_estimated"])
