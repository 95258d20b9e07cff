"""The generate stage through the SLURM profile, on a real one-node cluster started for the test.

Opt-in: the test starts SLURM and munge daemons as root, so ``uv run pytest`` skips it (saying
so) unless ``POREDESIGN_SLURM_TEST`` is set: ``1`` runs it with the SLURM installed here,
``install`` also installs slurm-wlm and munge from Debian when missing (``.ci/run`` does). The
cluster (tests/slurm_cluster.py) has no accounting database, so job status comes from
``squeue``. Once opted in, when the daemons cannot start, the test fails and says why (daemon log
tails); it never skips.

Environment: ``POREDESIGN_SLURM_KEEP=1`` leaves the cluster running after the session (the next run
reuses it); ``POREDESIGN_SLURM_DIR`` moves its files (default /tmp/poredesign-slurm).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from poredesign.store import StructureStore
from poredesign.structures.sampling import draw_structure, make_sampler

try:  # tests/ as a package or as a plain directory on sys.path (pytest's default)
    from .slurm_cluster import SlurmCluster, SlurmClusterError
except ImportError:
    from slurm_cluster import SlurmCluster, SlurmClusterError

REPO = Path(__file__).resolve().parents[2]
TINY = Path(__file__).parent / "data" / "tiny-slurm.yaml"
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "profiles", "envs")
RUN_TIMEOUT_S = 600

#: POREDESIGN_SLURM_TEST: unset = skip, 1 = run with the SLURM installed, install = install it too
OPT_IN = os.environ.get("POREDESIGN_SLURM_TEST", "").strip().lower()
OPTED_IN = OPT_IN in ("1", "true", "yes", "install")

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.slow,
    pytest.mark.skipif(
        not OPTED_IN,
        reason="starts a one-node SLURM cluster as root: set POREDESIGN_SLURM_TEST=1 to run it "
        "(=install also installs slurm-wlm and munge)",
    ),
]


@pytest.fixture(scope="module")
def slurm_cluster():
    cluster = SlurmCluster(install=OPT_IN == "install")
    try:
        cluster.start()
    except SlurmClusterError as e:
        cluster.stop(remove=False)  # keep its logs for a look; the next start wipes them
        pytest.fail(f"could not start the local SLURM cluster: {e}", pytrace=False)
    yield cluster
    if os.environ.get("POREDESIGN_SLURM_KEEP", "") not in ("1", "true", "yes"):
        cluster.stop()


def _copy_workflow(dest: Path) -> None:
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    shutil.copy2(TINY, dest / TINY.name)


def _squeue(cluster: SlurmCluster, run_id: str) -> list[list[str]]:
    """Jobs of this run as [jobid, state, partition, name] (finished ones stay for MinJobAge)."""
    out = subprocess.run(
        ["squeue", "--noheader", "--states=all", "--name", run_id, "--format=%i|%T|%P|%j"],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return [line.split("|") for line in out.splitlines() if line.strip()]


def _diagnostics(workdir: Path, cluster: SlurmCluster, output: str) -> str:
    parts = [f"snakemake output (tail):\n{output[-6000:]}"]
    for log in sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))[:8]:
        parts.append(f"--- {log.relative_to(workdir)} (tail):\n{log.read_text()[-2000:]}")
    parts.append(f"daemon logs:\n{cluster.logs()}")
    return "\n".join(parts)


def test_generate_stage_through_slurm_profile(slurm_cluster: SlurmCluster, tmp_path: Path):
    _copy_workflow(tmp_path)
    config = yaml.safe_load(TINY.read_text())
    study, n, size = config["study"], config["dataset"]["n_structures"], config["dataset"]["size"]
    n_shards = -(-n // config["dataset"]["shard_size"])

    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(tmp_path / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--profile",
        str(tmp_path / "profiles" / "slurm"),
        "--configfile",
        str(tmp_path / TINY.name),
        # no accounting database: poll squeue (MinJobAge=300 keeps finished jobs listed)
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "8",  # polls at 8, 26, 54 s
        "--slurm-keep-successful-logs",
        "--retries",
        "0",
        # one CPU per shard, so both shards run side by side on the 2-core test node
        "--set-threads",
        "generate_shard=1",
    ]
    env = {**slurm_cluster.env, "POREDESIGN_SLURM_PARTITION": slurm_cluster.partition}
    env.pop("SNAKEMAKE_PROFILE", None)
    try:
        proc = subprocess.run(
            cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as e:
        subprocess.run(
            ["scancel", "--full", f"--partition={slurm_cluster.partition}"],
            env=slurm_cluster.env,
            timeout=30,
            check=False,
        )
        out = (
            (e.stdout or b"").decode(errors="replace")
            if isinstance(e.stdout, bytes)
            else (e.stdout or "")
        )
        pytest.fail(
            f"snakemake did not finish in {RUN_TIMEOUT_S} s\n"
            f"{_diagnostics(tmp_path, slurm_cluster, out)}"
        )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, _diagnostics(tmp_path, slurm_cluster, output)

    # --- the jobs went through SLURM: sbatch submissions, squeue records, one log per job
    match = re.search(r"SLURM run ID: (\S+)", output)
    assert match, f"no SLURM run ID in the snakemake output\n{output[-3000:]}"
    run_id = match.group(1)
    assert run_id.startswith("poredesign_"), run_id  # slurm-jobname-prefix of the profile
    submitted = re.findall(r"submitted with SLURM jobid (\d+)", output)
    expected_jobs = n_shards + 2  # generate_shard x shards, gather_structures, plot_structures
    assert len(submitted) == expected_jobs, output[-3000:]
    jobs = _squeue(slurm_cluster, run_id)
    assert sorted(j[0] for j in jobs) == sorted(submitted), (jobs, submitted)
    assert {j[1] for j in jobs} == {"COMPLETED"}, jobs
    assert {j[2] for j in jobs} == {slurm_cluster.partition}, jobs  # POREDESIGN_SLURM_PARTITION
    slurm_logs = tmp_path / ".snakemake" / "slurm_logs"
    for rule, count in (
        ("generate_shard", n_shards),
        ("gather_structures", 1),
        ("plot_structures", 1),
    ):
        logs = sorted((slurm_logs / f"rule_{rule}").rglob("*.log"))
        assert len(logs) == count, (rule, logs)
        for log in logs:
            assert log.stem in submitted, log
            assert f"rule {rule}" in log.read_text(), log  # the job ran this rule

    # --- the outputs: a complete store with the study's shape, attrs and parameters
    results = tmp_path / "results" / study
    store = StructureStore(results / "structures.zarr")
    assert len(store) == n
    assert store.size == (size, size, size)
    assert store.structures.dtype == np.bool_
    attrs = store.attrs
    assert attrs["generator"] == "spinodoid"
    assert attrs["seed"] == config["seed"]
    assert attrs["n"] == n and attrs["shards"] == n_shards
    assert attrs["complete"] is True and attrs["code_version"]
    assert attrs["generator_config"]["porosity_range"] == config["spinodoid"]["porosity_range"]
    assert store.param_names == ["a_x", "a_y", "a_z", "porosity"]
    params = store.params
    assert params.shape == (n, 4) and np.isfinite(params).all()
    lo, hi = config["spinodoid"]["porosity_range"]
    assert ((params[:, 3] >= lo) & (params[:, 3] <= hi)).all(), params[:, 3]
    porosity = 1.0 - store[:].reshape(n, -1).mean(axis=1)
    np.testing.assert_allclose(porosity, params[:, 3], atol=1.0 / size**3 + 1e-9)

    # sharded on the cluster == drawn here in one process (structure i depends on (seed, i) only)
    sampler = make_sampler("spinodoid", size, config["spinodoid"])
    for i in (0, n - 1):
        draw = draw_structure(sampler, config["seed"], i, config["dataset"]["max_attempts"])
        np.testing.assert_array_equal(store[i], draw.solid)
        np.testing.assert_allclose(store.params[i], draw.params)

    figure = results / "figures" / "structures.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for log in [results / "logs" / "generate" / f"{i:04d}.log" for i in range(n_shards)] + [
        results / "logs" / "gather_structures.log",
        results / "logs" / "plot_structures.log",
    ]:
        assert log.exists(), log
