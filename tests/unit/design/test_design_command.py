"""``poredesign design``: one design per target on every generator, bad input refused first."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from poredesign.cli import main
from poredesign.design.engine import get_generator


def test_the_squares_design_writes_the_design_and_its_solver_check(tmp_path):
    out = tmp_path / "d"
    argv = ["design", "--target", "k=0.2,porosity=0.25", "--image", "24", "--pore", "4"]
    assert main([*argv, "--budget", "3", "--out", str(out), "--device", "cpu"]) == 0
    solid = np.load(out / "design.npy")
    assert solid.shape == (24, 24, 4) and solid.dtype == bool
    assert (tifffile.imread(out / "design.tif") > 0).sum() == solid.sum()
    check = json.loads((out / "check.json").read_text())
    design = json.loads((out / "design.json").read_text())
    assert check["porosity"] == pytest.approx(9 * 16 / 24**2)  # the level nearest 0.25
    assert check["k"] == pytest.approx(design["search"]["k"], rel=1e-6)  # solved again
    assert check["flag"] == 0 and design["search"]["solver_calls"] <= 3
    assert isinstance(check["infeasible"], bool)
    assert design["generator"] == "squares" and design["flag"] in ("reached", "not_reached")
    # the design is its generator's output: the recorded placement draws the written volume
    again = get_generator("squares", pore=4, depth=4).draw(design["parameters"], 0, 24)
    assert np.array_equal(again, solid)


def test_a_spinodoid_design_is_written_certified_and_reproducible(tmp_path):
    argv = ["design", "--generator", "spinodoid", "--size", "24", "--budget", "20"]
    argv += ["--target", "porosity=0.6,eta_z=0.3"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    design = json.loads((tmp_path / "a" / "design.json").read_text())
    check = json.loads((tmp_path / "a" / "check.json").read_text())
    assert design["flag"] == "reached" and design["solver_calls"] <= 20
    assert check["matches_design"] and check["relative_error"]["eta_z"] <= 0.01
    solid = np.load(tmp_path / "a" / "design.npy")
    drawn = get_generator("spinodoid").draw(design["parameters"], design["seed"], 24)
    assert solid.dtype == bool and np.array_equal(solid, drawn)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--target", "porosity=0.25,k=inf"], ["k_z=inf", "finite"]),
        (["--target", "porosity=0.25,k=0.5,porosity=0.3"], ["'porosity'", "twice"]),
        (["--target", "porosity=0.25,k=0.5", "--depth", "0"], ["--depth 0", ">= 1"]),
        (["--target", "porosity=0.25,k=0.5", "--budget", "0"], ["--budget 0", ">= 1"]),
        (["--target", "porosity=0.25,eta_x=0.5"], ["eta_x", "porosity, k_z"]),
        (["--generator", "spinodoid", "--target", "porosity=1.5"], ["porosity=1.5", "(0, 1)"]),
        (["--generator", "spinodoid", "--target", "kx=1"], ["'kx'", "k_x"]),
        (["--generator", "voronoi", "--target", "tau_z=x"], ["tau_z='x'", "number"]),
        (["--generator", "spinodoid", "--target", "eta_x=0.3", "--size", "4"], ["--size 4"]),
        (
            ["--generator", "spinodoid", "--target", "eta_x=0.3", "--mode", "parameters"]
            + ["--budget", "10"],
            ["--budget 10", ">= 24"],
        ),
    ],
)
def test_bad_input_is_refused_in_one_line_before_any_work(tmp_path, capsys, argv, words):
    out = tmp_path / "out"
    assert main(["design", *argv, "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(w in err[0] for w in words), err
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the folder


def test_an_infeasible_target_is_flagged_with_the_nearest_reachable_values(tmp_path, capsys):
    out = tmp_path / "d"
    argv = ["design", "--generator", "spinodoid", "--size", "24", "--budget", "6"]
    assert main([*argv, "--target", "porosity=0.5,eta_x=0.6", "--out", str(out)]) == 0
    design = json.loads((out / "design.json").read_text())
    assert design["flag"] == "infeasible" and "exceeds porosity" in design["reasons"][0]
    err = capsys.readouterr().err
    assert "target infeasible" in err and "nearest reachable: porosity=0.5" in err
