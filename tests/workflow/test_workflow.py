"""The Snakemake workflow: every config dry-runs, the default generate stage runs for real."""

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT, run_snakemake

from poredesign.store import StructureStore

STUDIES = sorted((ROOT / "config" / "studies").glob("*.yaml"))


def test_there_is_a_study_per_generator():
    generators = {yaml.safe_load(p.read_text())["generator"] for p in STUDIES}
    assert generators >= {"spinodoid", "voronoi", "squares", "imported"}


# the rules each stage must schedule on a fresh run (written here, apart from the rule files, so
# that a stage whose rules vanish or stop being requested fails the test)
STAGE_RULES = {
    "generate": {"generate_shard", "gather_structures", "plot_structures"},
    "simulate": {"simulate_shard", "gather_transport", "plot_transport"},
    "train": {"train_model"},
    "latent": {"latent_space"},
    "estimate": {"estimate_test"},
    "bo": {"bo_target", "bo_summary"},
    "transfer": {"generate_transfer", "simulate_transfer", "transfer_learning"},
    "imports": {"import_scan", "simulate_scan", "estimate_scan"},
    "design": {"abc_posterior", "validate_design", "upscale_design", "refine_design"},
    "report": {"summary_report"},
}
# the square-pore study [A25]: its design stage is the latent gradient design, and it has slerp
SQUARES_STAGE_RULES = {**STAGE_RULES, "design": {"latent_design"}, "slerp": {"slerp"}}
# crops of a scan [A25]: generate imports the scan (rendered first when synthetic) and copies
# its crops into the shards
IMPORTED_STAGE_RULES = {
    **SQUARES_STAGE_RULES,
    "generate": STAGE_RULES["generate"] | {"import_scan"},
}
GENERATOR_RULES = {"squares": SQUARES_STAGE_RULES, "imported": IMPORTED_STAGE_RULES}


def planned_jobs(output: str) -> dict[str, int]:
    """Job counts per rule from the table ``snakemake -n --quiet rules`` prints."""
    jobs = {}
    for line in output.splitlines():
        match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if match and match[1] != "total":
            jobs[match[1]] = int(match[2])
    return jobs


@pytest.mark.parametrize("configfile", [None, *STUDIES], ids=lambda p: p.stem if p else "default")
def test_every_config_dry_runs_the_rules_of_its_stages(workflow_copy, configfile):
    path = configfile or ROOT / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    args = ["-n", "--quiet", "rules"]
    if configfile is not None:
        args += ["--configfile", str(configfile)]
    proc = run_snakemake(workflow_copy, *args)
    jobs = planned_jobs(proc.stdout + proc.stderr)
    stages = [s for s in config["stages"] if s != "imports" or config.get("imports")]
    rules = GENERATOR_RULES.get(config["generator"], STAGE_RULES)
    expected = set().union(*(rules[stage] for stage in stages)) | {"all"}
    if config["generator"] == "imported":
        scan = config["imports"][config["dataset"]["scan"]]
        expected |= {"synthetic_scan"} if scan.get("synthetic") else set()
        # crops at several compression levels: the compression findings feed the summary
        if len(scan.get("strains") or [0]) > 1 and "report" in stages:
            expected.add("compression_findings")
    benchmark = (config.get("design") or {}).get("benchmark") or {}
    if config["generator"] == "squares" and "design" in stages and benchmark.get("enabled", True):
        expected.add("design_benchmark")  # issue 19's benchmark, on by default for square pores
    if "train" in stages and (config.get("labels") or {}).get("solver_subset"):
        expected.add("surrogate_labels")
    assert set(jobs) == expected
    dataset = config["dataset"]
    shards = -(-dataset["n_structures"] // dataset["shard_size"])
    assert jobs["generate_shard"] == shards
    if "simulate" in config["stages"]:
        assert jobs["simulate_shard"] == shards
    if "train" in config["stages"]:
        assert jobs["train_model"] == len(config["learn"]["models"])
    if "design" in config["stages"] and config["generator"] == "spinodoid":
        n_targets = len(config["design"]["abc"]["targets"])
        assert jobs["abc_posterior"] == jobs["validate_design"] == n_targets
        # refinement is on unless the study turns it off (schema default: on)
        assert config["design"].get("refine", {}).get("enabled", True)
        assert jobs["refine_design"] == n_targets
    if "bo" in config["stages"]:
        assert jobs["bo_target"] == len(config["design"]["bo"]["targets"])


def test_the_solver_subset_mode_schedules_the_surrogate_labels(workflow_copy):
    """labels.solver_subset: the solver runs on the shards holding the subset only, the CNN
    labels the rest before the pVAE trains."""
    path = ROOT / "config" / "studies" / "squares-pvae-small.yaml"
    proc = run_snakemake(
        workflow_copy,
        "-n",
        "--quiet",
        "rules",
        "--configfile",
        str(path),
        "--config",
        "labels={solver_subset: 500}",
        "dataset={n_structures: 2000, shard_size: 400, size: 100, max_attempts: 1}",
    )
    jobs = planned_jobs(proc.stdout + proc.stderr)
    assert jobs["generate_shard"] == 5 and jobs["simulate_shard"] == 2
    assert jobs["surrogate_labels"] == 1 and jobs["latent_design"] == jobs["slerp"] == 1


def test_planned_jobs_reads_the_rules_table():
    table = "job  count\n---  -----\nall  1\ntrain_model 2\ntotal 3\n"
    assert planned_jobs(table) == {"all": 1, "train_model": 2}


@pytest.mark.slow
def test_default_generate_stage_runs_for_real(workflow_copy):
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    study = config["study"]
    run_snakemake(
        workflow_copy,
        "--cores",
        "2",
        f"results/{study}/structures.zarr",
        f"results/{study}/figures/structures.png",
    )
    s = StructureStore(workflow_copy / "results" / study / "structures.zarr")
    n, size = config["dataset"]["n_structures"], config["dataset"]["size"]
    assert len(s) == n and s.size == (size, size, size)
    assert s.attrs["generator"] == config["generator"] and s.attrs["seed"] == config["seed"]
    assert s.attrs["shards"] == -(-n // config["dataset"]["shard_size"])
    assert 0 <= s.attrs["rejection_rate"] < 1
    eps = 1 - s[: min(n, 8)].mean(axis=(1, 2, 3))
    assert np.allclose(eps, s.params[: len(eps), -1], atol=1e-3)
    log = (workflow_copy / "results" / study / "logs" / "generate" / "0000.log").read_text()
    assert "structure" in log and "rejection rate" in log
    assert (workflow_copy / "results" / study / "figures" / "structures.png").stat().st_size > 1000


def test_invalid_config_stops_the_run_naming_the_key(workflow_copy: Path):
    bad = workflow_copy / "bad.yaml"
    bad.write_text("dataset:\n  size: 4\n")
    proc = run_snakemake(workflow_copy, "-n", "--configfile", str(bad), check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "dataset.size" in out and ">= 8" in out
    bad.write_text("spinodoid:\n  porosity: 0.5\n")
    proc = run_snakemake(workflow_copy, "-n", "--configfile", str(bad), check=False)
    assert proc.returncode != 0 and "'porosity'" in proc.stdout + proc.stderr


def test_a_study_file_does_not_inherit_the_default_study(workflow_copy: Path):
    """--configfile replaces config/config.yaml: keys it leaves out take the schema defaults."""
    study = workflow_copy / "lone.yaml"
    study.write_text("study: lone\ndataset: {size: 16, n_structures: 4, shard_size: 4}\n")
    proc = run_snakemake(workflow_copy, "-n", "--configfile", str(study))
    out = proc.stdout + proc.stderr
    assert "results/lone/structures.zarr" in out
    # the default study asks for training and design; the schema default stages are [generate]
    assert "train_model" not in out and "abc_posterior" not in out
