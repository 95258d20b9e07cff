"""``poredesign simulate``: --crop, progress lines, the memory check of the flow lattice."""

import json

import numpy as np
import pytest

from poredesign import cli
from poredesign.cli import main as cli_main
from poredesign.cli import parse_crop
from poredesign.structures import spinodoid
from poredesign.transport import diffusivity


def test_parse_crop_ranges_and_cube():
    shape = (40, 30, 20)
    assert parse_crop("0:10,5:25,:", shape) == (slice(0, 10), slice(5, 25), slice(0, 20))
    assert parse_crop("10", shape) == (slice(15, 25), slice(10, 20), slice(5, 15))
    for text, message in (
        ("0:10,5:25", "three ranges"),
        ("0:10,5:25,a:b", "not lo:hi"),
        ("0:50,0:10,0:10", "x range 0:50 must lie in 0:40"),
        ("0:10,7:7,0:10", "y range 7:7"),
        ("25", "cube edge must be 2..20"),
        ("big", "cube edge"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_crop(text, shape)


def test_cli_crop_solves_the_sub_volume(tmp_path, capsys):
    solid = spinodoid(24, (0.15, 0.15, 0.15), 0.5, seed=9)
    np.save(tmp_path / "v.npy", solid)
    args = ["simulate", str(tmp_path / "v.npy"), "--property", "diffusivity", "--axis", "x"]
    assert cli_main([*args, "--crop", "2:20,0:16,4:", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = diffusivity(solid[2:20, 0:16, 4:], "x").eta
    assert out["shape"] == [18, 16, 20]
    assert out["source"].endswith("[2:20,0:16,4:24]")
    assert out["axes"][0]["diffusivity"]["eta"] == pytest.approx(expected, rel=1e-12)
    assert cli_main([*args, "--crop", "16", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shape"] == [16, 16, 16]
    with pytest.raises(SystemExit, match=r"v.npy: --crop '0:30,:,:': x range 0:30"):
        cli_main([*args, "--crop", "0:30,:,:"])


def test_cli_refuses_a_flow_lattice_that_does_not_fit(tmp_path, monkeypatch):
    np.save(tmp_path / "v.npy", spinodoid(16, (0.2, 0.2, 0.2), 0.5, seed=1))
    monkeypatch.setattr(cli, "available_memory", lambda: 100_000)
    flow = ["simulate", str(tmp_path / "v.npy"), "--property", "permeability"]
    with pytest.raises(SystemExit, match=r"needs about 0.0 GB .*156 B per voxel.*--crop"):
        cli_main([*flow, "--storage", "dense"])
    with pytest.raises(
        SystemExit, match=r"sparse D3Q19 lattice \(152 B per pore voxel, \+ 4 B per voxel"
    ):
        cli_main([*flow, "--storage", "sparse"])
    # 700 kB: the dense lattice (639 kB, over 90 % of it) does not fit, the pore voxels' (half of
    # them, 152 B each + 16 kB for the voxels' numbers + 128 B each for the table's block) do
    monkeypatch.setattr(cli, "available_memory", lambda: 700_000)
    with pytest.raises(SystemExit, match="dense D3Q19"):
        cli_main([*flow, "--storage", "dense"])
    assert cli_main([*flow, "--storage", "sparse", "--axis", "x", "--quiet"]) == 0
    # more voxels than a dense lattice can index: one line, not Taichi's shape error
    from poredesign.transport import flow_sparse

    monkeypatch.setattr(flow_sparse, "MAX_LATTICE_NODES", 1000)
    with pytest.raises(SystemExit, match=r"v.npy: the dense flow lattice holds at most 1,000"):
        cli_main([*flow, "--storage", "dense"])
    monkeypatch.undo()
    # diffusivity alone does not need the lattice
    assert cli_main(["simulate", str(tmp_path / "v.npy"), "--property", "diffusivity"]) == 0


def test_cli_progress_lines(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "v.npy", spinodoid(24, (0.15, 0.15, 0.15), 0.5, seed=2))
    from poredesign.transport import progress

    monkeypatch.setattr(progress.ProgressLine.__init__, "__defaults__", (None, 0.0))
    args = ["simulate", str(tmp_path / "v.npy"), "--property", "diffusivity", "--axis", "y"]
    assert cli_main(args) == 0
    err = capsys.readouterr().err
    assert "diffusivity y: iteration 1, residual" in err and "ETA" in err
    assert cli_main([*args, "--quiet"]) == 0
    assert "iteration" not in capsys.readouterr().err
