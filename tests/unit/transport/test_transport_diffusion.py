"""Diffusion: D3Q7 lattice Boltzmann vs Krylov, porespy's tortuosity_fd, properties(), the CLI.

The Krylov path's own analytical checks live in tests/unit/transport/test_diffusion.py.
"""

import json
import logging
import math

import numpy as np
import pytest

from poredesign.cli import main as cli_main
from poredesign.store import write_structures
from poredesign.structures import spinodoid
from poredesign.structures.imported import write_raw, write_tiff
from poredesign.transport import Flag, diffusivity, properties
from poredesign.transport.properties import specific_surface


def _channels(n: int = 16) -> np.ndarray:
    solid = np.ones((n, n, n), dtype=bool)
    solid[:, 2:5, 3:7] = False  # a duct along x
    solid[:, 10, :] = False  # a slit along x and z
    return solid


@pytest.mark.parametrize("lateral", ["periodic", "closed"])
@pytest.mark.parametrize("seed, eps", [(1, 0.5), (2, 0.35)])
def test_lattice_boltzmann_and_krylov_agree(seed, eps, lateral):
    solid = spinodoid(24, (0.12, 0.1, 0.15), eps, seed=seed)
    for axis in ("x", "z"):
        krylov = diffusivity(solid, axis, lateral=lateral)
        lbm = diffusivity(solid, axis, method="lbm", lateral=lateral)
        assert krylov.ok and lbm.ok and lbm.method == "lbm"
        assert lbm.eta == pytest.approx(krylov.eta, rel=5e-3)  # required: 0.5 %
        assert lbm.eta == pytest.approx(krylov.eta, rel=1e-5)  # same discrete problem
        assert lbm.porosity_eff == krylov.porosity_eff


def test_lattice_boltzmann_is_independent_of_its_relaxation_time():
    solid = spinodoid(20, (0.15, 0.15, 0.15), 0.5, seed=3)
    etas = [
        diffusivity(solid, "y", method="lbm", relaxation_time_minus=t).eta for t in (1.0, 5.0, 20.0)
    ]
    assert max(etas) - min(etas) < 1e-5 * etas[0]


def test_lattice_boltzmann_channels_blocked_axis_and_budget():
    solid = _channels()
    straight = diffusivity(solid, "x", method="lbm")
    assert straight.eta == pytest.approx(1 - solid.mean(), abs=1e-4)
    blocked = diffusivity(solid, "y", method="lbm")
    assert blocked.eta == 0.0 and blocked.flag == Flag.NO_PATH
    with pytest.warns(RuntimeWarning, match="structure 3.*not converged"):
        short = diffusivity(
            spinodoid(20, (0.15,) * 3, 0.5, seed=3),
            "x",
            method="lbm",
            max_iterations=20,
            name="structure 3",
        )
    assert math.isnan(short.eta) and short.flag == Flag.NOT_CONVERGED


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_random_spinodoids_match_porespy_tortuosity_fd(seed):
    """porespy: c = 1 / 0 on the first / last voxel layer, D_eff = rate (L - 1) / A, closed
    lateral faces, tortuosity = effective porosity / D_eff (non-percolating pores removed)."""
    porespy = pytest.importorskip("porespy")
    pytest.importorskip("openpnm")
    logging.getLogger("porespy").setLevel(logging.ERROR)
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.06, 0.15, size=3)
    solid = spinodoid(40, tuple(a), rng.uniform(0.35, 0.7), seed=seed)
    axis = int(rng.integers(3))
    ours = diffusivity(solid, axis, lateral="closed")
    reference = porespy.simulations.tortuosity_fd(~solid, axis=axis)
    assert ours.eta == pytest.approx(1 / reference.formation_factor, rel=0.015)
    assert ours.porosity_eff == pytest.approx(reference.effective_porosity, abs=1e-12)
    assert ours.porosity_eff / ours.eta == pytest.approx(reference.tortuosity, rel=0.015)
    # the default, periodic lateral boundaries, can only add paths
    assert diffusivity(solid, axis).eta >= ours.eta * (1 - 1e-9)


@pytest.mark.parametrize("seed", [5, 6])
def test_isotropic_lattice_boltzmann_obeys_the_hashin_shtrikman_bound(seed):
    eps = 0.55
    solid = spinodoid(24, (0.15, 0.15, 0.15), eps, seed=seed)
    eta = diffusivity(solid, "x", method="lbm").eta
    assert 0 < eta <= 2 * eps / (3 - eps)


def test_properties_of_one_structure():
    n = 24
    x = np.arange(n) + 0.5 - n / 2
    r2 = x[:, None, None] ** 2 + x[None, :, None] ** 2 + x[None, None, :] ** 2
    sphere = r2 <= 8.0**2
    props = properties(sphere, axes=("x", "z"), voxel_size=1e-6)
    assert props.porosity == pytest.approx(1 - sphere.mean())
    assert props.specific_surface == pytest.approx(4 * math.pi * 64 / n**3 / 1e-6, rel=0.02)
    assert np.isnan(props.k[1]) and props.flags_k[1] == Flag.SKIPPED
    assert props.k[0] == pytest.approx(props.k[2], rel=1e-4)  # cubic symmetry
    assert props.k[0] == pytest.approx(props.permeability_results[0].k * 1e-12)
    assert props.tau[0] == pytest.approx(props.porosity / props.eta[0])
    assert props.porosity_eff[0] == pytest.approx(props.porosity)
    slab = np.zeros((20, 20, 20), dtype=bool)
    slab[:, :, :5] = True
    assert specific_surface(slab) == pytest.approx(2 / 20, rel=1e-9)  # two flat walls
    only = properties(slab, axes="y", which=("porosity", "porosity_eff"))
    assert np.isnan(only.eta).all() and only.porosity_eff[1] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="unknown properties"):
        properties(slab, which=("colour",))


@pytest.fixture
def volume(tmp_path):
    solid = spinodoid(16, (0.2, 0.2, 0.2), 0.6, seed=8)
    return solid, tmp_path


def test_cli_reads_npy_tiff_raw_and_stores(volume, capsys):
    solid, tmp = volume
    np.save(tmp / "v.npy", solid)
    write_tiff(tmp / "v.tif", solid)
    write_raw(tmp / "v.raw", solid.astype(np.uint8))
    write_structures(tmp / "s.zarr", [~solid, solid], np.zeros((2, 1)), ["p"])
    expected = diffusivity(solid, "y").eta
    for args in (
        ["v.npy"],
        ["v.tif"],
        ["v.raw", "--shape", "16", "16", "16", "--dtype", "uint8"],
        ["s.zarr", "--index", "1"],
    ):
        args = [str(tmp / args[0]), *args[1:]]
        assert (
            cli_main(["simulate", *args, "--property", "diffusivity", "--axis", "y", "--json"]) == 0
        )
        out = json.loads(capsys.readouterr().out)
        assert out["axes"][0]["diffusivity"]["eta"] == pytest.approx(expected, rel=1e-9)
    assert cli_main(["simulate", str(tmp / "v.npy"), "--property", "all"]) == 0
    table = capsys.readouterr().out
    assert "k [voxel^2]" in table and "eta" in table
    assert sum(line.split()[0] in "xyz" for line in table.splitlines()[3:]) == 3


def test_cli_names_what_is_wrong(volume, capsys):
    solid, tmp = volume
    np.save(tmp / "gray.npy", np.arange(27).reshape(3, 3, 3))
    with pytest.raises(SystemExit, match="binary"):
        cli_main(["simulate", str(tmp / "gray.npy")])
    write_raw(tmp / "v.raw", solid.astype(np.uint8))
    with pytest.raises(SystemExit, match="needs"):
        cli_main(["simulate", str(tmp / "v.raw"), "--shape", "8", "8", "8", "--dtype", "uint8"])
    write_structures(tmp / "s.zarr", [solid], np.zeros((1, 1)), ["p"])
    with pytest.raises(SystemExit, match="--index"):
        cli_main(["simulate", str(tmp / "s.zarr")])
    with pytest.raises(SystemExit, match="out of range"):
        cli_main(["simulate", str(tmp / "s.zarr"), "--index", "4"])
    with pytest.raises(SystemExit, match="no such"):
        cli_main(["simulate", str(tmp / "missing.npy")])
