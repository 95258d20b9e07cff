"""Label stores record the solver's code fingerprint, and a changed solver reruns them."""

import os
import shutil
import subprocess
import sys

import yaml
from conftest import ROOT, run_snakemake

from poredesign.solver_fingerprint import code_fingerprint, solver_fingerprint
from poredesign.store import open_group

TRANSPORT_SRC = ROOT / "src" / "poredesign" / "transport"


def _edited_copy(destination, text):
    """A copy of the library whose diffusion solver module ends with ``text``."""
    shutil.copytree(ROOT / "src", destination)
    module = destination / "poredesign" / "transport" / "diffusion_krylov.py"
    module.write_text(module.read_text() + text)
    return destination


def test_the_fingerprint_follows_the_code_not_its_comments(tmp_path):
    before = code_fingerprint(TRANSPORT_SRC)
    comment = _edited_copy(tmp_path / "comment", '\n# a note\ndef f():\n    """Say."""\n')
    docstring = _edited_copy(tmp_path / "docstring", '\ndef f():\n    """Say more."""\n')
    assert code_fingerprint(comment / "poredesign" / "transport") == code_fingerprint(
        docstring / "poredesign" / "transport"
    )
    code = _edited_copy(tmp_path / "code", "\nTOLERANCE_SCALE = 2.0\n")
    assert code_fingerprint(code / "poredesign" / "transport") != before


def _dry_run(root, config, pythonpath=None):
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    cmd = [sys.executable, "-m", "snakemake", "-n", "--directory", str(root)]
    proc = subprocess.run(
        [*cmd, "--configfile", str(config)], capture_output=True, text=True, env=env, cwd=root
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_a_changed_solver_reruns_the_labels(workflow_copy, tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "study": "tiny",
                "device": "cpu",
                "stages": ["generate", "simulate"],
                "dataset": {"size": 12, "n_structures": 2, "shard_size": 2, "max_attempts": 100},
                "transport": {"properties": ["diffusivity"], "axes": ["x"]},
            }
        )
    )
    run_snakemake(workflow_copy, "--cores", "2", "--configfile", str(config))
    labels = open_group(workflow_copy / "results" / "tiny" / "transport.zarr")
    assert labels.attrs["solver_fingerprint"] == solver_fingerprint()
    assert "Nothing to be done" in _dry_run(workflow_copy, config)
    # a comment in the solver keeps the labels; a statement reruns them (and what reads them)
    comment = _edited_copy(tmp_path / "comment", "\n# a comment only\n")
    assert "Nothing to be done" in _dry_run(workflow_copy, config, comment)
    changed = _edited_copy(tmp_path / "changed", "\nTOLERANCE_SCALE = 2.0\n")
    out = _dry_run(workflow_copy, config, changed)
    assert "simulate_shard" in out and "gather_transport" in out, out
    assert "generate_shard" not in out, out
    assert "Params have changed" in out or "params" in out.lower(), out


def test_every_rule_that_labels_with_the_solver_takes_the_fingerprint():
    rules = (ROOT / "workflow" / "rules").glob("*.smk")
    text = "\n".join(p.read_text() for p in rules)
    blocks = text.split("rule ")[1:]
    labelling = [b for b in blocks if '"../scripts/simulate_shard.py"' in b]
    assert len(labelling) == 3  # simulate_shard, simulate_scan, simulate_transfer
    assert all("solver=SOLVER_FINGERPRINT" in b for b in labelling)
