"""Runtime faults proven on a tiny study run for real (issue 20): a SIGKILL during training and a
rerun that resumes; a second `snakemake` on the same study while one runs; a truncated checkpoint;
a chunk deleted in results/ and a downstream rerun; a gray scan imported with `pore_value`.

One scratch copy of the workflow and one run per module; each test reads what the earlier left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import copy_workflow, run_snakemake

pytestmark = pytest.mark.slow

TINY = Path(__file__).parent / "data" / "tiny-faults.yaml"
STUDY = yaml.safe_load(TINY.read_text())["study"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = copy_workflow(tmp_path_factory.mktemp("faults"))
    (root / "tiny.yaml").write_text(TINY.read_text())
    run_snakemake(
        root, "--cores", "2", f"results/{STUDY}/transport.zarr", "--configfile", "tiny.yaml"
    )
    return root


def _start(root: Path, *args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args, "--configfile", "tiny.yaml"]
    out = open(root / f"run-{time.monotonic_ns()}.log", "w")  # noqa: SIM115
    return subprocess.Popen(
        cmd, cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait_for(predicate, timeout: float = 900) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        time.sleep(1)


def _train_log(root: Path) -> str:
    path = root / "results" / STUDY / "logs" / "train" / "diffusivity.log"
    return path.read_text() if path.exists() else ""


def test_sigkill_during_training_then_a_second_run_is_refused_and_a_rerun_resumes(study):
    model_dir = study / "results" / STUDY / "models" / "diffusivity"
    first = _start(study)
    _wait_for(
        lambda: (
            (model_dir / "checkpoints" / "last.ckpt").exists() and "epoch 5/" in _train_log(study)
        )
    )
    # a second run on the same study while the first trains: refused at once, nothing touched
    second = run_snakemake(study, "--cores", "1", "--configfile", "tiny.yaml", check=False)
    assert second.returncode == 1 and "Directory cannot be locked" in second.stdout + second.stderr
    assert first.poll() is None
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert not (model_dir / "model.pt").exists()
    # a killed Snakemake leaves its lock: --unlock, then the rerun resumes the training
    run_snakemake(study, "--unlock", "--configfile", "tiny.yaml")
    run_snakemake(study, "--cores", "2", "--configfile", "tiny.yaml")
    assert "resuming DiffusivityCNN from" in _train_log(study)
    assert (model_dir / "model.pt").exists() and (model_dir / "metrics.json").exists()
    assert not list((study / "results" / STUDY).rglob(".*.tmp-*"))  # nothing half-written


def test_a_truncated_checkpoint_is_moved_aside_named_in_the_log_and_training_starts_again(study):
    model_dir = study / "results" / STUDY / "models" / "diffusivity"
    last = model_dir / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:200])
    run_snakemake(study, "--cores", "2", "--forcerun", "train_model", "--configfile", "tiny.yaml")
    log = _train_log(study)
    # the rule's paths are relative to the study's working directory
    named = f"checkpoint {last.relative_to(study)} cannot be resumed"
    assert named in log and "training from scratch" in log
    assert len(list(model_dir.glob("last.ckpt.unusable-*"))) == 1
    assert (model_dir / "model.pt").exists()


def test_a_chunk_deleted_in_results_refuses_the_downstream_rerun_naming_the_store(study):
    store = study / "results" / STUDY / "structures.zarr"
    chunk = next(p for p in sorted((store / "structures" / "c").rglob("*")) if p.is_file())
    chunk.unlink()
    proc = run_snakemake(
        study,
        "--cores",
        "1",
        "--forcerun",
        "plot_structures",
        "--configfile",
        "tiny.yaml",
        check=False,
    )
    assert proc.returncode == 1
    log = (study / "results" / STUDY / "logs" / "plot_structures.log").read_text()
    error = [line for line in log.splitlines() if " ERROR " in line]
    assert len(error) == 1 and str(store.relative_to(study)) in error[0] and "Traceback" not in log


def test_imported_gray_scan_read_with_pore_value_warns_in_the_rule_log(study):
    from poredesign.structures.imported import render_gray, write_tiff

    gray = render_gray(np.random.default_rng(0).random((24, 24, 24)) > 0.5, 1.0, 0.1, seed=0)
    write_tiff(study / "gray.tif", gray)
    config = yaml.safe_load(TINY.read_text())
    config["stages"] = ["generate"]
    commonest = int(np.bincount(gray.ravel()).argmax())  # a gray level the scan does hold
    config["imports"] = {"ct": {"path": "gray.tif", "pore_value": commonest, "crop": 16}}
    (study / "scan.yaml").write_text(yaml.safe_dump(config))
    target = f"results/{STUDY}/imports/ct.zarr"
    run_snakemake(study, "--cores", "1", target, "--configfile", "scan.yaml")
    log = (study / "results" / STUDY / "logs" / "imports" / "ct.log").read_text()
    assert "not a segmented (two-valued) scan" in log
    del config["imports"]["ct"]["pore_value"]
    (study / "scan.yaml").write_text(yaml.safe_dump(config))
    proc = run_snakemake(study, "-n", target, "--configfile", "scan.yaml", check=False)
    assert proc.returncode == 1 and "imports.ct" in proc.stderr and "neither given" in proc.stderr
