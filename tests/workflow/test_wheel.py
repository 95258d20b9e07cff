"""The package as a user installs it: the wheel built from this tree, installed into a fresh
environment (the locked dependencies, offline from uv's cache), runs ``poredesign simulate`` and
loads and validates a study file that lies outside the repository (the schema ships inside the
package)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from poredesign.config import schema_default

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv to build and install"),
]


def run(cmd: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=600, env={**os.environ, **env}
    )
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The ``bin`` folder of a fresh environment holding the built wheel."""
    tmp = tmp_path_factory.mktemp("wheel")
    run(["uv", "build", "--wheel", "--offline", "-q", "-o", str(tmp / "dist")], ROOT)
    (wheel,) = (tmp / "dist").glob("poredesign-*.whl")
    env = tmp / "env"
    # the locked dependencies only, not the project: the package comes from the wheel
    run(
        ["uv", "sync", "--frozen", "--no-dev", "--no-install-project", "--offline", "-q"],
        ROOT,
        UV_PROJECT_ENVIRONMENT=str(env),
    )
    python = env / "bin" / "python"
    run(
        ["uv", "pip", "install", "--offline", "--no-deps", "-q", "-p", str(python), str(wheel)], tmp
    )
    return env / "bin"


def test_installed_package_loads_a_study_file_outside_the_repository(installed, tmp_path):
    (tmp_path / "study.yaml").write_text(
        "study: outside\nseed: 3\nlearn: {split: [0.6, 0.2, 0.2]}\n"
    )
    (tmp_path / "bad.yaml").write_text("study: outside\ndataset: {size: 0}\n")
    script = (
        "import json, poredesign.config as c\n"
        "config = c.load_config('study.yaml')\n"
        "try:\n"
        "    c.load_config('bad.yaml'); error = None\n"
        "except c.ConfigError as err:\n"
        "    error = str(err)\n"
        "print(json.dumps({'schema': str(c.SCHEMA_PATH), 'seed': config['seed'],\n"
        "    'split': config['learn']['split'],\n"
        "    'epochs': config['learn']['pvae']['phase_epochs'],\n"
        "    'error': error}))\n"
    )
    out = json.loads(run([str(installed / "python"), "-c", script], tmp_path).stdout)
    # the schema read is the installed copy, not the repository's
    assert Path(out["schema"]).is_relative_to(installed.parent)
    assert not Path(out["schema"]).is_relative_to(ROOT)
    assert (out["seed"], out["split"]) == (3, [0.6, 0.2, 0.2])
    # the schema's defaults were filled in, as the repository's schema gives them
    assert out["epochs"] == schema_default("learn.pvae.phase_epochs")
    assert "dataset.size" in out["error"]


def test_installed_simulate_solves_a_slit(installed, tmp_path):
    """Flow along z between walls one voxel thick (periodic in x): plane Poiseuille flow,
    k = phi h^2 / 12 over the whole volume with h = 7 pore voxels and phi = 7/8."""
    solid = np.zeros((8, 8, 8), dtype=bool)
    solid[0] = True
    np.save(tmp_path / "slit.npy", solid)
    proc = run(
        [
            str(installed / "poredesign"),
            "simulate",
            "slit.npy",
            "--property",
            "permeability",
            "--axis",
            "z",
            "--device",
            "cpu",
            "--json",
            "--quiet",
        ],
        tmp_path,
    )
    result = json.loads(proc.stdout)
    assert result["porosity"] == pytest.approx(7 / 8)
    (row,) = result["axes"]
    k = row["permeability"]["k"]
    assert row["permeability"]["converged"]
    # a sanity check of the installed solver (tests/unit/transport holds the tight ones)
    assert k == pytest.approx(7 / 8 * 7**2 / 12, rel=0.02)
