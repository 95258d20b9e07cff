"""Flow runs at scan scale: the tensor from one set-up, resumable runs, the lattice size limit."""

import json
import os
import signal
import warnings

import numpy as np
import pytest

from poredesign.cli import main
from poredesign.structures import spinodoid
from poredesign.transport import Flag, flow, flow_sparse, permeability
from poredesign.transport.flow import permeability_axes
from poredesign.transport.flow_checkpoint import FlowInterrupted, checkpoint_path


def _volume():
    return spinodoid(20, (0.2, 0.3, 0.4), 0.5, seed=11)


@pytest.mark.parametrize("storage", ["dense", "sparse"])
def test_the_tensor_axes_equal_three_single_axis_runs_from_one_set_up(storage, monkeypatch):
    solid = _volume()
    single = {ax: permeability(solid, ax, storage=storage) for ax in range(3)}
    built = []
    for name in ("SparseLattice", "DenseLattice"):
        original = getattr(flow, name)

        def counting(*args, _original=original, **kwargs):
            built.append(1)
            return _original(*args, **kwargs)

        monkeypatch.setattr(flow, name, counting)
    tensor = permeability_axes(solid, "xyz", storage=storage)
    assert len(built) == 1  # one fluid index and neighbour table (or mask) for the three axes
    for ax in range(3):
        assert tensor[ax].ok and tensor[ax].storage == storage
        assert tensor[ax].k == pytest.approx(single[ax].k, rel=1e-6)
        assert tensor[ax].iterations == single[ax].iterations
    assert len({round(r.k, 6) for r in tensor.values()}) == 3  # anisotropic: three values


def test_axes_with_different_domains_get_their_own_lattice():
    # a slit: no path normal to the plates, so that axis is a trivial result; two axes share
    solid = np.zeros((4, 4, 12), dtype=bool)
    solid[:, :, 8:] = True
    tensor = permeability_axes(solid, "xyz", storage="sparse")
    assert tensor[2].flag == Flag.NO_PATH and tensor[2].k == 0.0
    assert tensor[0].k == pytest.approx(tensor[1].k, rel=1e-6)


def test_a_run_stopped_by_its_step_budget_continues_from_its_checkpoint(tmp_path):
    solid = _volume()
    full = permeability(solid, "y", storage="sparse")
    assert full.ok and full.iterations >= 60
    options = dict(storage="sparse", checkpoint_dir=tmp_path, name="scan")
    budget = full.iterations // 20 * 10  # about half way, on the check grid (every 10 steps)
    with pytest.warns(RuntimeWarning, match="not converged"):
        first = permeability(solid, "y", max_steps=budget, **options)
    path = checkpoint_path(tmp_path, "scan", 1)
    assert first.flag == Flag.NOT_CONVERGED and first.checkpoint == str(path) and path.exists()
    again = permeability(solid, "y", **options)
    assert again.ok and again.resumed_from == first.iterations == budget
    # the same checks at the same steps: the same k after the same total number of steps
    assert again.iterations == full.iterations
    assert again.k == pytest.approx(full.k, rel=1e-6)
    assert not path.exists()  # a converged run leaves nothing behind


@pytest.mark.parametrize("storage", ["dense", "sparse"])
def test_sigterm_saves_the_state_and_a_rerun_continues(tmp_path, storage, monkeypatch):
    solid = _volume()
    full = permeability(solid, "x", storage=storage)
    options = dict(storage=storage, checkpoint_dir=tmp_path, checkpoint_every=1e9)
    lattice = flow.SparseLattice if storage == "sparse" else flow.DenseLattice
    step, steps = lattice.step, []

    def step_then_sigterm(self, *args):
        step(self, *args)
        steps.append(1)
        if len(steps) == 25:  # between two convergence checks (every 10 steps here)
            os.kill(os.getpid(), signal.SIGTERM)  # as SLURM does before a time limit

    monkeypatch.setattr(lattice, "step", step_then_sigterm)
    with pytest.raises(FlowInterrupted, match="rerun the same command") as stopped:
        permeability(solid, "x", **options)
    assert stopped.value.steps == 25 and stopped.value.path.exists()
    monkeypatch.setattr(lattice, "step", step)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back
    again = permeability(solid, "x", **options)
    assert again.resumed_from == stopped.value.steps
    assert again.iterations == full.iterations
    assert again.k == pytest.approx(full.k, rel=1e-6)


def test_a_checkpoint_of_another_problem_is_reported_and_not_used(tmp_path):
    solid = _volume()
    options = dict(storage="sparse", checkpoint_dir=tmp_path, name="scan")
    with pytest.warns(RuntimeWarning, match="not converged"):
        permeability(solid, "z", max_steps=40, **options)
    other = spinodoid(20, (0.2, 0.3, 0.4), 0.5, seed=12)  # another volume, same name and axis
    fresh = permeability(other, "z", storage="sparse")
    with pytest.warns(RuntimeWarning, match="not used: written for another problem"):
        result = permeability(other, "z", **options)
    assert result.resumed_from == 0 and result.k == pytest.approx(fresh.k, rel=1e-6)


def test_the_command_continues_a_run_it_could_not_finish(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "scan.npy", _volume())
    command = ["simulate", "scan.npy", "--axis", "all", "--json", "--quiet"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert main([*command, "--max-steps", "40"]) == 0
    assert "saved in" in capsys.readouterr().err
    assert len(list(tmp_path.glob("*.flowstate"))) == 3
    assert main(command) == 0

    rows = json.loads(capsys.readouterr().out)["axes"]
    assert [r["permeability"]["resumed_from"] for r in rows] == [40, 40, 40]
    reference = permeability_axes(_volume(), "xyz", storage="auto")
    for ax, row in enumerate(rows):
        assert row["permeability"]["k"] == pytest.approx(reference[ax].k, rel=1e-6)
    assert not list(tmp_path.glob("*.flowstate"))


def test_more_pore_voxels_than_the_lattice_indexes_are_refused_before_any_work(
    tmp_path, monkeypatch, capsys
):
    # Taichi's int32 index caps the lattice at MAX_LATTICE_NODES pore voxels (113 M: a 1000^3
    # scan at porosity 0.11); patched small so that this volume trips it
    solid = _volume()
    pores = int(np.count_nonzero(~solid))
    monkeypatch.setattr(flow_sparse, "MAX_LATTICE_NODES", pores - 1)

    def no_work(*args, **kwargs):
        raise AssertionError("work started")

    monkeypatch.setattr(flow, "winding_mask", no_work)
    with pytest.raises(ValueError, match=rf"{pores:,} pore voxels: .* at most {pores - 1:,}"):
        permeability(solid, "x", storage="auto", cascade=2)
    np.save(tmp_path / "big.npy", solid)
    with pytest.raises(SystemExit, match=r"pore voxels.*would need about [0-9.]+ GB"):
        main(["simulate", str(tmp_path / "big.npy"), "--axis", "x", "--quiet"])


def test_the_relaxation_time_is_a_lever_for_steps_not_for_k(tmp_path, capsys):
    np.save(tmp_path / "scan.npy", _volume())
    args = ["simulate", str(tmp_path / "scan.npy"), "--axis", "x", "--json", "--quiet"]
    ks = []
    for tau in ("0.6", "1.2"):
        assert main([*args, "--relaxation-time", tau, "--checkpoint-every", "0"]) == 0
        row = json.loads(capsys.readouterr().out)["axes"][0]["permeability"]
        assert row["relaxation_time"] == float(tau)
        ks.append(row["k"])
    assert ks[0] == pytest.approx(ks[1], rel=2e-3)
    with pytest.raises(SystemExit):
        main([*args, "--relaxation-time", "0.5"])
    assert "not in (0.5, 2.5]" in capsys.readouterr().err


def test_an_interrupted_tensor_run_does_not_solve_its_finished_axes_again(tmp_path, monkeypatch):
    solid = _volume()
    full = permeability_axes(solid, "xyz", storage="sparse")
    options = dict(storage="sparse", checkpoint_dir=tmp_path, name="scan")
    step, steps = flow.SparseLattice.step, []
    stop_at = full[0].iterations + full[1].iterations + 15  # mid-way through axis z

    def step_then_sigterm(self, *args):
        step(self, *args)
        steps.append(1)
        if len(steps) == stop_at:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(flow.SparseLattice, "step", step_then_sigterm)
    with pytest.raises(FlowInterrupted):
        permeability_axes(solid, "xyz", **options)
    monkeypatch.setattr(flow.SparseLattice, "step", step)
    again = permeability_axes(solid, "xyz", **options)
    for ax in range(3):
        assert again[ax].k == pytest.approx(full[ax].k, rel=1e-6)
        assert again[ax].iterations == full[ax].iterations
    assert again[0].resumed_from == full[0].iterations  # finished: not solved again
    assert again[2].resumed_from == 15
    assert not list(tmp_path.iterdir())
