"""[A25]'s crops chain end to end through Snakemake, on a reduced copy of
config/studies/foam-pvae-small.yaml (a 56^3 synthetic foam at two compression levels, 0 and 50 %;
120 of its 150 crops of 24^3 resized to 16^3): synthetic scan -> import and compression -> crop
shards -> solver tensor labels (mirrored along the flow axis) -> 3D permeability CNN and 3D pVAE
-> latent gradient design checked three ways against the baseline -> slerp -> compression
findings -> summary."""

import json

import numpy as np
import pytest
import yaml
from conftest import ROOT, run_reduced_study

from poredesign.design.gradient import EVALUATORS, PROPERTIES
from poredesign.store import StructureStore, open_group
from poredesign.transport.results import Flag

pytestmark = pytest.mark.slow
SMALL = yaml.safe_load((ROOT / "config" / "studies" / "foam-pvae-small.yaml").read_text())
N, TARGETS, STEPS = 120, 6, 5
STRAINS = [0.0, 0.5]
NO_SOLID = int(Flag.NO_SOLID)


def reduced_config() -> dict:
    config = json.loads(json.dumps(SMALL))  # a deep copy
    config["study"] = "foam"
    config["dataset"].update(n_structures=N, shard_size=60)
    # the same pore size in scan voxels as the study's (size * a), on a smaller scan
    synthetic = config["imports"]["foam"]["synthetic"]
    synthetic.update(size=56, a=[a * synthetic["size"] / 56 for a in synthetic["a"]])
    config["imports"]["foam"]["strains"] = STRAINS
    config["learn"]["permeability"].update(
        epochs=3, hparams={"channels": [4, 8, 8], "kernels": [3, 3, 3], "hidden": [16]}
    )
    # the study's grid code, narrower: 1 channel on the 4^3 grid
    hparams = {**SMALL["learn"]["pvae"]["hparams"], "channels": [8, 16], "latent_dim": 64}
    config["learn"]["pvae"].update(phase_epochs=[4, 2, 2], hparams=hparams)
    config["design"]["latent"].update(
        targets={**SMALL["design"]["latent"]["targets"], "count": TARGETS},
        starts=3,
        max_steps=30,
        patience=10,
    )
    config["design"]["slerp"].update(steps=STEPS, strip=3)
    return config


@pytest.fixture(scope="module")
def foam(tmp_path_factory):
    return run_reduced_study(tmp_path_factory.mktemp("foam"), reduced_config())


def test_the_dataset_is_crops_of_the_rendered_scan(foam):
    crops = StructureStore(foam / "imports" / "foam.zarr")
    dataset = StructureStore(foam / "structures.zarr")
    # 5 x 5 x 5 crops of the scan, 5 x 5 x 1 of the 28 voxels the 50 % level leaves along z
    assert len(crops) == 150 and len(dataset) == N and dataset.size == (16, 16, 16)
    assert dataset.attrs["generator"] == "imported" and dataset.attrs["periodic"] is False
    assert abs(crops.attrs["scan_porosity"] - SMALL["imports"]["foam"]["porosity"]) < 1e-4
    # every structure is one of the scan's crops
    crop_bytes = {crops[i].tobytes() for i in range(len(crops))}
    assert all(dataset[j].tobytes() in crop_bytes for j in range(0, N, 17))


def test_every_crop_has_its_strain_and_a_mirrored_solver_tensor(foam):
    dataset = StructureStore(foam / "structures.zarr")
    assert dataset.param_names == ["porosity", "strain"]
    strain = dataset.params[:, 1]
    assert set(strain) == set(STRAINS)
    transport = open_group(foam / "transport.zarr")
    k = np.asarray(transport["k"][...])
    assert k.shape == (N, 3) and np.all(np.isfinite(k)) and np.all(k > 0)
    porosity = np.asarray(transport["porosity"][...])
    assert np.corrcoef(porosity, k[:, 2])[0, 1] > 0.5  # more pore space, more flow
    # compression: less pore space and less flow along every axis
    low, high = strain == 0, strain == 0.5
    assert porosity[high].mean() < porosity[low].mean()
    assert np.all(k[high].mean(axis=0) < k[low].mean(axis=0))


def test_both_models_are_3d_and_report_their_errors(foam):
    for model in ("permeability", "pvae"):
        meta = json.loads((foam / "models" / model / "model.json").read_text())
        assert meta["hparams"]["dims"] == 3 and meta["data"]["dims"] == 3
        assert meta["data"]["periodic"] is not True  # no circular shifts of crops
    pvae = json.loads((foam / "models" / "pvae" / "metrics.json").read_text())["test"]
    assert 0.5 < pvae["voxel_accuracy"] <= 1 and pvae["r2_k"] is not None


def test_latent_design_makes_volumes_and_the_solver_checked_each(foam):
    summary = json.loads((foam / "design" / "latent" / "latent_design.json").read_text())
    designs = open_group(foam / "design" / "latent" / "designs.zarr")
    volumes = np.asarray(designs["designs"][...])
    assert volumes.shape == (TARGETS, 16, 16, 16) and volumes.dtype == bool
    assert np.asarray(designs["feasible"][...]).all()  # draw: band
    solver = np.asarray(designs["solver"][...])
    assert np.allclose(solver[:, 0], 1 - volumes.reshape(TARGETS, -1).mean(axis=1))
    # a briefly trained decoder may make all-pore volumes: k unbounded, flagged, not scored
    empty = solver[:, 0] == 1
    assert np.all(np.isinf(solver[empty, 1])) and np.all(solver[~empty, 1] >= 0)
    assert np.all(np.isfinite(solver[~empty, 1]))
    assert summary["designs_without_solid"] == int(empty.sum())
    assert summary["design"]["solver"]["all"]["n"]["k"] == TARGETS - int(empty.sum())
    for key in ("design", "baseline"):
        for evaluator in EVALUATORS:
            entry = summary[key][evaluator]["all"]
            assert set(entry["r2"]) == set(entry["mape"]) == set(PROPERTIES)
    for evaluator in EVALUATORS:
        entry = summary["baseline"][evaluator]["all"]
        assert entry["n"]["k"] == TARGETS and entry["mape"]["k"] is not None
    # the baseline crops are solved as their labels were (mirrored along z): same k
    baseline = np.asarray(designs["baseline_solver"][...])
    chosen = np.asarray(designs["baseline_index"][...])
    labels = np.asarray(open_group(foam / "transport.zarr")["k"][...])[chosen, 2]
    assert np.allclose(baseline[:, 1], labels, rtol=1e-6)


def test_slerp_decodes_volumes_and_the_summary_has_every_section(foam):
    result = json.loads((foam / "design" / "slerp" / "slerp.json").read_text())
    assert len(result["path"]) == STEPS and result["path"][-1]["t"] == 1
    for step in result["path"]:  # all-pore steps are flagged NO_SOLID (k unbounded, null)
        empty = step["solver_flag"] & NO_SOLID
        if empty:
            assert step["porosity"] == 1
        elif step["k_solver"] is None:  # a briefly trained decoder's step may not converge
            assert step["solver_flag"] != 0
        else:
            assert np.isfinite(step["k_solver"])
    images = open_group(foam / "design" / "slerp" / "slerp.zarr")["images"]
    assert images.shape == (STEPS, 16, 16, 16)
    text = (foam / "summary.md").read_text()
    for heading in (
        "## Labels",
        "## Permeability CNN",
        "## Property VAE",
        "## Slerp",
        "## Compression levels",
    ):
        assert heading in text
    assert "crops mirrored along z" in text and "100 x 100 images" not in text
    assert "Paper" not in text  # the paper's figures are of its square-pore set


def test_compression_findings_measure_the_strain_levels(foam):
    found = json.loads((foam / "compression" / "compression.json").read_text())
    assert found["strains"] == STRAINS and found["n"] == N
    assert [e["strain"] for e in found["tensor"]] == STRAINS
    assert found["k_finite"] == {"k_x": N, "k_y": N, "k_z": N}
    assert found["tensor"][1]["k_z"]["mean"] < found["tensor"][0]["k_z"]["mean"]
    for plane in ("latent", "baseline"):
        entry = found["separation"]["levels"][plane]
        assert 0 <= entry["accuracy"] <= 1 and 0 < entry["chance"] < 1
    correlations = np.array(found["pca"]["correlations"], dtype=float)
    assert correlations.shape == (10, 4) and np.all(np.abs(correlations) <= 1)
    slerp = found["slerp"]
    assert len(slerp["porosity"]) == STEPS and np.array(slerp["k"]).shape == (STEPS, 3)
    flags = np.array(slerp["flags"])
    missing = np.array([[k is None for k in row] for row in slerp["k"]])
    assert np.all(flags[missing] != 0)  # no k left out without the solver's reason
    porosity = [found["slerp"]["endpoint_labels"][i]["porosity"] for i in (0, 1)]
    assert porosity[0] > porosity[1]  # from the high- to the low-porosity crop
    store = open_group(foam / "compression" / "compression.zarr")
    assert store["scores"].shape == (N, 10)
    for figure in ("latent.png", "properties.png"):
        assert (foam / "compression" / figure).stat().st_size > 0
