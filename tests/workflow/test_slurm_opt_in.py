"""`uv run pytest` suits a user's machine: the SLURM test runs (and installs system packages) only
when asked."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


def test_the_slurm_test_skips_with_its_reason_and_installs_nothing_unless_asked(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    marker = tmp_path / "apt-get-called"
    for name in ("apt-get", "sudo"):
        (fake / name).write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
        (fake / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "POREDESIGN_SLURM_TEST"}
    env["PATH"] = f"{fake}{os.pathsep}{env.get('PATH', '')}"
    env["POREDESIGN_SLURM_DIR"] = str(tmp_path / "slurm")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         str(TESTS / "workflow" / "test_slurm.py")],
        capture_output=True, text=True, env=env, cwd=TESTS.parent, timeout=300,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "1 skipped" in out and "set POREDESIGN_SLURM_TEST=1 to run it" in out, out
    assert not marker.exists() and not (tmp_path / "slurm").exists()


def test_missing_slurm_is_named_not_installed_unless_asked(monkeypatch):
    sys.path.insert(0, str(TESTS))
    try:
        import slurm_cluster
    finally:
        sys.path.remove(str(TESTS))
    monkeypatch.setattr(slurm_cluster, "_which", lambda name: None)
    ran = []
    monkeypatch.setattr(slurm_cluster, "_run", lambda cmd, **kw: ran.append(cmd))
    with pytest.raises(slurm_cluster.SlurmClusterError) as info:
        slurm_cluster.ensure_packages()
    assert "POREDESIGN_SLURM_TEST=install" in str(info.value) and "slurm-wlm" in str(info.value)
    assert ran == []
