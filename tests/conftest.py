"""Shared fixtures: paths and a helper to run the workflow in a scratch copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# Cache compiled bytecode even where the environment disables it: otherwise every Snakemake
# subprocess recompiles torch and Lightning from source (~25 s of CPU each on 2 cores).
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_PARTS = ("Snakefile", "workflow", "config", "profiles", "envs", "resources")


def copy_workflow(destination: Path) -> Path:
    """Copy the workflow (no results) into ``destination`` to run Snakemake there."""
    for part in WORKFLOW_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, destination / part)
        elif src.exists():
            shutil.copy2(src, destination / part)
    return destination


@pytest.fixture
def workflow_copy(tmp_path: Path) -> Path:
    """A scratch copy of the workflow (no results) to run Snakemake in."""
    return copy_workflow(tmp_path)


def run_snakemake(
    directory: Path, *args: str, check: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess:
    """Run ``snakemake`` from this environment in ``directory``; show its output on failure."""
    cmd = [sys.executable, "-m", "snakemake", "--directory", str(directory), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=directory)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def run_reduced_study(directory: Path, config: dict) -> Path:
    """Run the workflow on ``config`` in a scratch copy under ``directory`` (2 cores); return the
    study's results folder."""
    root = copy_workflow(directory)
    configfile = f"{config['study']}.yaml"
    (root / configfile).write_text(yaml.safe_dump(config))
    run_snakemake(root, "--cores", "2", "--configfile", configfile, timeout=1800)
    return root / "results" / config["study"]


@pytest.fixture(scope="module")
def torch_one_thread():
    """Torch on one thread for a test module: tiny convolutions run faster on one thread, and far
    faster when other jobs share the cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
