"""Cluster requests follow the study: a GPU only where a rule runs on a GPU device, memory and
time from the study's sizes (config/resources.yaml), and a study whose jobs cannot fit in a
node's memory is refused at the dry run."""

import re

import pytest
import yaml
from conftest import ROOT, run_snakemake

from poredesign.job_resources import JobResources, load_table

#: rules that run torch or Taichi on the study's device in the default study
DEVICE_RULES = {
    "simulate_shard",
    "train_model",
    "abc_posterior",
    "validate_design",
    "refine_design",
}


def dry_run_resources(root, *config):
    """{rule: [resources of each of its jobs]} of the default study's dry run."""
    proc = run_snakemake(root, "-n", "--config", *config)
    out = proc.stdout + proc.stderr
    jobs = {}
    for block in re.split(r"\n(?=rule \w+:)", out):
        rule = re.match(r"rule (\w+):", block)
        found = re.search(r"resources: (.*)", block)
        if rule and found:
            pairs = (item.split("=", 1) for item in found.group(1).split(", "))
            jobs.setdefault(rule.group(1), []).append(dict(pairs))
    return jobs


@pytest.mark.parametrize(
    "config, gpu_rules",
    [
        ([], set()),  # device auto on a cluster without GPUs (cluster.gpus false): none asked
        (["device=cuda"], DEVICE_RULES),
        (["cluster={gpus: true}"], DEVICE_RULES),
        (["device=cpu", "cluster={gpus: true}"], set()),
    ],
    ids=["auto", "cuda", "auto-with-gpus", "cpu"],
)
def test_a_gpu_is_asked_only_where_a_rule_runs_on_one(workflow_copy, config, gpu_rules):
    jobs = dry_run_resources(workflow_copy, *config)
    asking = {rule for rule, each in jobs.items() for r in each if r.get("gpu") == "1"}
    assert asking == gpu_rules
    assert "upscale_design" in jobs and "generate_shard" in jobs


def test_memory_and_time_follow_the_study_sizes(workflow_copy):
    small = dry_run_resources(workflow_copy)
    large = dry_run_resources(workflow_copy, "dataset={size: 80}")
    for rule in ("train_model", "simulate_shard", "generate_shard", "upscale_design"):
        assert int(large[rule][0]["mem_mb"]) > int(small[rule][0]["mem_mb"]), rule
    assert int(large["train_model"][0]["runtime"]) > int(small["train_model"][0]["runtime"])
    # the default study's training peaks at 1.7 GB: no fixed 32 GB / 24 h request
    assert int(small["train_model"][0]["mem_mb"]) < 8000
    assert int(small["train_model"][0]["runtime"]) < 24 * 60


def test_every_rule_reads_its_requests_from_the_table():
    table = load_table()["rules"]
    text = "\n".join(p.read_text() for p in (ROOT / "workflow" / "rules").glob("*.smk"))
    rules = set(re.findall(r"^\s*rule (\w+):", text, re.M)) - {"all"}
    assert rules <= set(table), sorted(rules - set(table))
    assert not re.search(r"^\s*(mem_mb|runtime|gpu)=\d", text, re.M)  # no numbers in rule files
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    jobs = JobResources({"device": "auto", **config})
    assert jobs.gpu("train_model") == 0 and jobs.gpu("generate_shard") == 0


@pytest.mark.parametrize(
    "extra, expected",
    [
        (
            "stages: [generate]\ndataset: {size: 1024, n_structures: 100000, shard_size: 100}\n",
            "config key 'dataset.size': one generate_shard job on 1024^3 structures needs about "
            "104.1 GB",
        ),
        (
            "stages: [generate, simulate, train]\ncluster: {memory_gb: 32}\n"
            "dataset: {size: 192, n_structures: 100}\n"
            "learn: {models: [diffusivity], diffusivity: {batch_size: 64}}\n",
            "config key 'learn.diffusivity.batch_size and dataset.size': one train_model job "
            "(diffusivity) on 192^3 structures needs about 58.1 GB",
        ),
    ],
    ids=["generate-1024", "train-batch"],
)
def test_a_study_whose_jobs_cannot_fit_in_memory_is_refused_at_the_dry_run(
    workflow_copy, extra, expected
):
    (workflow_copy / "study.yaml").write_text(f"study: huge\n{extra}")
    proc = run_snakemake(workflow_copy, "-n", "--configfile", "study.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and expected in out, out
    assert "more than the" in out and "allowed: a smaller size or batch" in out
    assert "Traceback" not in out and not (workflow_copy / "results").exists()
    # a node with the memory it needs: accepted
    (workflow_copy / "big.yaml").write_text(
        f"study: huge\n{extra}".replace("cluster: {memory_gb: 32}\n", "")
    )
    proc = run_snakemake(
        workflow_copy, "-n", "--configfile", "big.yaml", "--config", "cluster={memory_gb: 2000}"
    )
    assert proc.returncode == 0
