"""The [Z23] membrane chain end to end through Snakemake, on a reduced copy of
config/studies/voronoi-vae-small.yaml: generate -> simulate -> VAE -> latent PCA -> estimation
-> Bayesian optimisation -> transfer learning -> the synthetic scan -> summary (about 2-3 minutes
on 2 cores)."""

import csv
import importlib.util
import json

import numpy as np
import pytest
import yaml
from conftest import ROOT, run_reduced_study

from poredesign.store import open_group
from poredesign.structures.imported import crop_cubes
from poredesign.structures.resize import resize_binary

pytestmark = pytest.mark.slow
SMALL = yaml.safe_load((ROOT / "config" / "studies" / "voronoi-vae-small.yaml").read_text())


def reduced_config() -> dict:
    config = json.loads(json.dumps(SMALL))  # a deep copy
    config["study"] = "membranes"
    config["dataset"].update(n_structures=60, shard_size=30)
    config["learn"]["vae"]["epochs"] = 8
    config["learn"]["transfer"].update(epochs=2, repeats=2)
    config["design"]["bo"].update(
        targets={"A": SMALL["design"]["bo"]["targets"]["A"]},
        n_startup_trials=3,
        n_trials=6,
        repeats=2,
    )
    config["transfer_data"]["n_structures"] = 12
    return config


@pytest.fixture(scope="module")
def membranes(tmp_path_factory):
    return run_reduced_study(tmp_path_factory.mktemp("membranes"), reduced_config())


def test_the_latent_pca_is_a_pca_and_finds_porosity(membranes):
    pca = json.loads((membranes / "latent" / "pca.json").read_text())
    ratio = np.asarray(pca["explained_variance_ratio"])
    assert ratio.sum() <= 1 + 1e-9 and np.all(np.diff(ratio) <= 1e-12)
    # a VAE trained for 8 epochs on 48 structures already orders them by porosity along one PC
    assert abs(pca["porosity_pc_correlation"]) > 0.8
    # the direction diagnostics: accuracies are shares, chance is the most frequent of 3 directions
    nn = pca["direction_nearest_neighbour"]
    assert 0 <= nn["pc12"] <= 1 and 0 <= nn["latent"] <= 1 and 1 / 3 <= nn["majority"] <= 1
    assert nn["n_strong"] <= pca["n_train"] and 0 <= pca["direction_pore_chord"]["all"] <= 1
    latent = open_group(membranes / "latent" / "latent.zarr")
    assert latent["mu"].shape[0] == 60 and set(np.unique(latent["split"][...])) == {0, 1, 2}


def test_the_vae_beats_the_porosity_only_bce_and_reports_it(membranes):
    metrics = json.loads((membranes / "models" / "vae" / "metrics.json").read_text())
    test = metrics["test"]
    assert 0 < test["blurry_fraction"] <= 1 and test["bce_porosity_only"] > 0.5
    # the grid code leaves the mean image even after 8 epochs on 48 structures
    assert test["bce_ratio_to_porosity_only"] < 0.95
    assert test["bce_ratio_to_porosity_only"] == pytest.approx(
        test["bce"] / test["bce_porosity_only"]
    )


def test_the_estimation_table_parses(membranes):
    with open(membranes / "estimate" / "test.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    summary = json.loads((membranes / "estimate" / "summary.json").read_text())
    assert len(rows) == summary["n"] == 6
    assert all(float(r["porosity_estimated"]) > 0 for r in rows)
    assert 0 <= summary["direction_accuracy"] <= 1 and summary["porosity_mape_percent"] < 10
    directions = [r["direction"] for r in rows]
    assert summary["direction_majority"] == max(map(directions.count, set(directions))) / 6


def test_bo_repeats_never_lose_their_best_and_stay_in_bounds(membranes):
    result = json.loads((membranes / "design" / "bo" / "A" / "bo.json").read_text())
    bounds = result["bounds"]
    assert len(result["repeats"]) == 2
    for repeat in result["repeats"]:
        best = np.asarray(repeat["best_so_far"], dtype=float)
        assert repeat["n_trials"] == 6 and np.all(np.diff(best) <= 0)
        for name, value in repeat["best_params"].items():
            assert bounds[name][0] <= value <= bounds[name][1]
    assert (membranes / "design" / "bo" / "summary.csv").stat().st_size > 0


def test_transfer_runs_both_variants_with_distinct_seeds(membranes):
    result = json.loads((membranes / "design" / "transfer" / "transfer.json").read_text())
    seeds = [run["seed"] for run in result["runs"]]
    assert len(seeds) == 4 == len(set(seeds))
    assert {run["variant"] for run in result["runs"]} == {"pretrained", "scratch"}
    assert all(
        run["encoder_change"] == 0 for run in result["runs"] if run["variant"] == "pretrained"
    )


def test_the_synthetic_scan_comes_back_with_its_porosity_and_stretch(membranes):
    spec = importlib.util.spec_from_file_location(
        "make_synthetic_membrane", ROOT / "resources" / "scans" / "make_synthetic_membrane.py"
    )
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    truth, _ = maker.synthetic_membrane()
    scan = SMALL["imports"]["synthetic-membrane"]
    crops = open_group(membranes / "imports" / "synthetic-membrane.zarr")
    porosity = np.asarray(crops["params"][...])[:, -1]
    # the true structure cropped and resized as the import does: every crop within 1 point
    true_crops = [
        resize_binary(cube, SMALL["dataset"]["size"], periodic=False)
        for cube in crop_cubes(truth, scan["crop"], scan["stride"])
    ]
    true_porosity = np.array([1 - c.mean() for c in true_crops])
    assert len(porosity) == len(true_porosity) == 8
    assert np.max(np.abs(porosity - true_porosity)) < 0.01
    chords = np.asarray(crops["chord_lengths"][...]).mean(axis=0)
    assert np.argmax(chords) == int(np.argmin(maker.STRETCH))  # stretched along y
    with open(membranes / "estimate" / "synthetic-membrane.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(porosity)


def test_the_summary_has_a_section_per_stage(membranes):
    text = (membranes / "summary.md").read_text()
    for heading in (
        "## VAE",
        "## Latent space",
        "## Nearest-neighbour estimation",
        "## Bayesian optimisation",
        "## Transfer learning",
        "## Scan `synthetic-membrane`",
    ):
        assert heading in text
    assert "(chance: " in text and "| PC1-PC2 | full latent | chance | pore chord |" in text
    # the synthetic scan is stretched along y: its crops' pore chords say so in the summary
    assert "Longest mean pore chord (geometry, no VAE): y in 8 of 8" in text
