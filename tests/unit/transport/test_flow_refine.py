"""Refined lattices and the Richardson estimate of k's refinement limit."""

import numpy as np
import pytest
from test_transport_flow import slit, sphere_cell

from poredesign.cli import main
from poredesign.transport import permeability
from poredesign.transport.flow_refine import permeability_extrapolated, refine, richardson


def test_refining_splits_each_voxel_and_keeps_the_geometry():
    solid = np.random.default_rng(0).random((3, 4, 5)) < 0.4
    fine = refine(solid, 2)
    assert fine.shape == (6, 8, 10)
    assert np.array_equal(fine[::2, ::2, ::2], solid) and np.array_equal(
        fine[1::2, 1::2, 1::2], solid
    )
    assert fine.mean() == solid.mean()
    with pytest.raises(ValueError, match="whole number >= 1"):
        refine(solid, 0)


@pytest.mark.parametrize("order", [1.0, 1.3, 2.0])
def test_richardson_recovers_a_known_limit_and_order(order):
    levels = (1, 2, 3)
    ks = [2.0 + 0.5 / n**order for n in levels]
    k0, uncertainty, p, measured = richardson(levels, ks)
    assert measured and p == pytest.approx(order, rel=1e-6)
    assert k0 == pytest.approx(2.0, rel=1e-9) and uncertainty > 0
    # two levels: the order is assumed (exact when it is the true one)
    k0_two, _, p_two, measured_two = richardson((2, 3), ks[1:], order=order)
    assert not measured_two and p_two == order and k0_two == pytest.approx(2.0, rel=1e-9)
    with pytest.raises(ValueError, match="increase"):
        richardson((2, 1), ks[:2])


def test_a_refined_slit_converges_to_plane_poiseuille_at_second_order():
    # the walls are exact (halfway bounce-back, magic parameter): only the mean over the
    # lattice nodes of the parabola differs from its integral, by O(h^2)
    solid = slit(4)  # gap 4 of 8 voxels
    e = permeability_extrapolated(solid, "x", levels=(1, 2, 3), tol=1e-6)[0]
    assert e.order_measured and e.order == pytest.approx(2.0, abs=0.05)
    exact = 4**2 / 12 * 4 / 8
    assert e.k[0] == pytest.approx(exact, rel=0.05) and e.k[0] > e.k[1] > e.k[2] > exact
    assert e.k_limit == pytest.approx(exact, rel=2e-3)
    assert abs(e.k_limit - exact) < e.uncertainty


@pytest.mark.slow
def test_the_extrapolated_k_of_a_voxelised_sphere_array_is_its_refinement_limit():
    # a sphere voxelised on an 8^3 cell: its staircase, refined, converges as h^p (p ~ 1.2-1.3);
    # the estimate from N = 1, 2, 3 against N = 6 and the limit from N = 3, 4, 6
    solid = sphere_cell(8, 0.216)
    options = dict(storage="sparse", cascade=1)
    e = permeability_extrapolated(solid, "x", levels=(1, 2, 3), **options)[0]
    assert e.order_measured and 1.0 < e.order < 1.6
    assert e.k[0] > e.k[1] > e.k[2] > e.k_limit  # native resolution overestimates k
    k6 = permeability(solid, "x", refine=6, **options).k
    assert abs(k6 - e.k_limit) < e.uncertainty
    k4 = permeability(solid, "x", refine=4, **options).k
    limit_fine = richardson((3, 4, 6), (e.k[2], k4, k6))[0]
    assert e.k_limit == pytest.approx(limit_fine, rel=0.02)


def test_the_command_prints_the_refinement_limit(tmp_path, capsys):
    np.save(tmp_path / "cell.npy", sphere_cell(8, 0.216))
    args = ["simulate", str(tmp_path / "cell.npy"), "--axis", "x", "--quiet"]
    assert main([*args, "--extrapolate", "1", "2", "--cascade", "1"]) == 0
    out = capsys.readouterr().out
    assert "k_x refined (N=1: " in out and "order 1.00, assumed" in out
    assert main([*args, "--refine", "2", "--json"]) == 0
    import json

    row = json.loads(capsys.readouterr().out)["axes"][0]["permeability"]
    assert row["refine"] == 2 and row["k"] < permeability(sphere_cell(8, 0.216), "x").k
    with pytest.raises(SystemExit, match="two or three increasing levels"):
        main([*args, "--extrapolate", "2", "1"])
