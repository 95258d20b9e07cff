"""``poredesign design --target porosity=P,k=K`` (issue 19): the search for one target."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import tifffile

from poredesign.cli import main
from poredesign.design.search.command import parse_target


def test_the_design_command_writes_the_design_and_its_solver_check(tmp_path):
    out = tmp_path / "d"
    argv = ["design", "--target", "k=0.2,porosity=0.25", "--image", "24", "--pore", "4"]
    assert main([*argv, "--budget", "3", "--out", str(out), "--device", "cpu"]) == 0
    solid = np.load(out / "design.npy")
    assert solid.shape == (24, 24, 4) and solid.dtype == bool
    assert (tifffile.imread(out / "design.tif") > 0).sum() == solid.sum()
    check = json.loads((out / "check.json").read_text())
    design = json.loads((out / "design.json").read_text())
    assert check["porosity"] == pytest.approx(9 * 16 / 24**2)  # the level nearest 0.25
    assert check["k"] == pytest.approx(design["k"], rel=1e-6)  # the written file, solved again
    assert check["flag"] == 0 and design["solver_calls"] <= 3
    assert isinstance(check["infeasible"], bool)


def test_targets_are_parsed_and_refused_in_words():
    assert parse_target("porosity=0.25,k=0.6") == (0.25, 0.6)
    for bad in ("porosity=0.25", "porosity=1.5,k=1", "porosity=x,k=1"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_target(bad)
