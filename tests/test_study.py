"""The spinodoid inverse-design study end to end through Snakemake (every rule, reduced size)."""

import json
import zipfile

import numpy as np
import pytest
import zarr
from conftest import ROOT, copy_workflow, run_snakemake

from poredesign.store import StructureStore, open_group

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    root = copy_workflow(tmp_path_factory.mktemp("study"))
    config = ROOT / "tests" / "data" / "tiny-study.yaml"
    run_snakemake(root, "--cores", "2", "--configfile", str(config))
    return root, root / "results" / "tiny"


def test_every_stage_wrote_its_outputs(tiny_study):
    _, results = tiny_study
    structures = StructureStore(results / "structures.zarr")
    transport = open_group(results / "transport.zarr")
    assert len(structures) == 20
    eta = np.asarray(transport["eta"][...])
    assert eta.shape == (20, 3)
    # labels are physical: 0 <= eta <= porosity, and the solver agrees with the stored structures
    porosity = np.asarray(transport["porosity"][...])
    assert np.all((eta >= 0) & (eta <= porosity[:, None] + 1e-9))
    assert np.allclose(porosity, 1 - structures[:].mean(axis=(1, 2, 3)))
    metrics = json.loads((results / "models" / "diffusivity" / "metrics.json").read_text())
    assert metrics["test"]["n"] > 0 and np.isfinite(metrics["test"]["mse_scaled_eta"])
    for name in ("structures.png", "transport.png"):
        assert (results / "figures" / name).stat().st_size > 1000


def test_abc_posterior_is_stored_per_generation(tiny_study):
    _, results = tiny_study
    target = results / "design" / "near"
    summary = json.loads((target / "abc.json").read_text())
    assert summary["generations_completed"] >= 1
    posterior = zarr.open_group(str(target / "posterior.zarr"), mode="r")
    weights = np.asarray(posterior["weights"][...])
    assert weights.shape[0] == summary["generations_completed"]
    assert np.allclose(weights.sum(axis=1), 1.0)
    theta = [summary["theta_hat"][p] for p in summary["param_names"]]
    lo, hi = summary["prior"]["bounds"]["porosity"]
    assert (lo, hi) == (0.4, 0.8)  # the prior spans the study's porosity range
    assert lo <= theta[3] <= hi
    assert (target / "abc.db").stat().st_size > 0
    assert (target / "marginals.png").stat().st_size > 1000


def test_validation_and_summary_report_the_design_against_the_target(tiny_study):
    _, results = tiny_study
    validation = json.loads((results / "design" / "near" / "validation.json").read_text())
    assert validation["n_structures"] == 2
    assert len(validation["eta_solver_mean"]) == 3 and len(validation["eta_surrogate_mean"]) == 3
    mean = np.asarray(validation["eta_solver_mean"])
    expected = 100 * np.mean(np.abs(mean - [0.4, 0.45, 0.5]) / [0.4, 0.45, 0.5])
    assert validation["mape_solver_percent"] == pytest.approx(expected)
    upscaling = json.loads((results / "design" / "near" / "upscaling.json").read_text())
    assert upscaling["size"] == 72 and upscaling["factor"] == 2
    summary = (results / "summary.md").read_text()
    assert "| near |" in summary and "MSE (logit)" in summary
    assert f"{validation['mape_solver_percent']:.2f}" in summary


def test_snakemake_report_bundles_the_figures(tiny_study):
    root, _ = tiny_study
    config = ROOT / "tests" / "data" / "tiny-study.yaml"
    run_snakemake(root, "--configfile", str(config), "--report", "report.zip")
    names = zipfile.ZipFile(root / "report.zip").namelist()
    for figure in ("marginals.png", "validation.png", "structures.png", "loss.png"):
        assert any(n.endswith(figure) for n in names), (figure, names[:20])
