"""Permeability from the D3Q19 TRT lattice Boltzmann solver: analytical and reference checks.

References: plane Poiseuille flow (k = h^2 / 12 in the gap); square duct (k = 0.0351443 h^2 in the
duct); Zick & Homsy (1982), J. Fluid Mech. 115, Table 2: simple cubic arrays of spheres, drag
F = 6 pi mu R K U per sphere with U the superficial velocity and F = (pressure gradient) x (cell
volume a^3), so k = mu U / G = a^3 / (6 pi R K).
"""

import math
import warnings

import numpy as np
import pytest

from poredesign.structures import spinodoid
from poredesign.transport import Flag, backend, permeability

# Zick & Homsy (1982), Table 2, simple cubic: solid fraction c -> dimensionless drag K
ZICK_HOMSY_C = np.array([0.027, 0.064, 0.125, 0.216, 0.343, 0.45, 0.5236])
ZICK_HOMSY_K = np.array([2.008, 2.810, 4.292, 7.442, 15.4, 28.1, 42.1])


def slit(h: int, walls: int = 4, lateral: int = 2) -> np.ndarray:
    """Flow along x between plates normal to z; gap h voxels, periodic."""
    solid = np.zeros((lateral, lateral, h + walls), dtype=bool)
    solid[:, :, h:] = True
    return solid


def sphere_cell(a: int, c: float) -> np.ndarray:
    """A sphere of nominal solid fraction c centred in a periodic cube of edge a."""
    x = np.arange(a) + 0.5 - a / 2
    r2 = x[:, None, None] ** 2 + x[None, :, None] ** 2 + x[None, None, :] ** 2
    radius = (3 * c / (4 * math.pi)) ** (1 / 3) * a
    return r2 <= radius**2


@pytest.mark.parametrize("h", [8, 12])
def test_slit_matches_plane_poiseuille(h):
    solid = slit(h)
    result = permeability(solid, "x")
    assert result.ok and result.converged
    k_gap = result.k * solid.shape[2] / h  # superficial -> within the gap
    assert k_gap == pytest.approx(h * h / 12, rel=0.01)
    # a second axis in the plane gives the same; normal to the plates there is no path
    assert permeability(solid, "y").k == pytest.approx(result.k, rel=1e-3)
    blocked = permeability(solid, "z")
    assert blocked.k == 0.0 and blocked.flag == Flag.NO_PATH


@pytest.mark.parametrize("h", [10, 13, 16])
def test_square_duct(h):
    solid = np.ones((2, h + 2, h + 2), dtype=bool)
    solid[:, :h, :h] = False
    result = permeability(solid, 0)
    area_fraction = h * h / (h + 2) ** 2
    assert result.k == pytest.approx(0.0351443 * h * h * area_fraction, rel=0.02)


@pytest.mark.slow
@pytest.mark.parametrize("c", [0.125, 0.216])
def test_simple_cubic_spheres_match_zick_homsy(c):
    a = 40
    solid = sphere_cell(a, c)
    # compare at the solid fraction of the voxelised sphere (within 0.5 % of the nominal one)
    c_voxel = solid.mean()
    assert c_voxel == pytest.approx(c, rel=0.005)
    drag = math.exp(np.interp(c_voxel, ZICK_HOMSY_C, np.log(ZICK_HOMSY_K)))
    radius = (3 * c_voxel / (4 * math.pi)) ** (1 / 3) * a
    k_reference = a**3 / (6 * math.pi * radius * drag)
    result = permeability(solid, "x", tol=1e-5)
    assert result.ok
    assert result.k == pytest.approx(k_reference, rel=0.03)


def test_k_does_not_depend_on_the_relaxation_time():
    # a tight, under-resolved structure (1-2 voxel pores): the hard case for convergence, with
    # voxels whose populations along x all bounce back (undamped period-2 momentum)
    solid = spinodoid(16, (0.1, 0.1, 0.1), 0.3, seed=3)
    low = permeability(solid, "x", relaxation_time=0.6, tol=1e-5)
    high = permeability(solid, "x", relaxation_time=2.0, tol=1e-5, max_steps=40000)
    assert low.ok and high.ok
    assert high.k == pytest.approx(low.k, rel=0.01)
    # and on a well-resolved one
    solid = spinodoid(32, (0.12, 0.12, 0.12), 0.6, seed=5)
    assert permeability(solid, "y", relaxation_time=0.8).k == pytest.approx(
        permeability(solid, "y", relaxation_time=1.5).k, rel=0.01
    )


def test_axis_permutation_permutes_k_and_cubic_symmetry_gives_equal_components():
    solid = spinodoid(24, (0.08, 0.12, 0.2), 0.6, seed=4)
    k = [permeability(solid, a, tol=1e-6).k for a in range(3)]
    swapped = np.transpose(solid, (2, 0, 1))  # new x = old z, new y = old x, new z = old y
    k_swapped = [permeability(swapped, a, tol=1e-6).k for a in range(3)]
    assert k_swapped == pytest.approx([k[2], k[0], k[1]], rel=2e-3)
    assert k[0] < k[1] < k[2]  # longer features along z conduct better along z
    cube = sphere_cell(20, 0.2)
    k_cube = [permeability(cube, a, tol=1e-6).k for a in range(3)]
    assert max(k_cube) - min(k_cube) < 1e-4 * k_cube[0]


def test_force_and_units():
    solid = spinodoid(20, (0.15, 0.15, 0.15), 0.6, seed=1)
    default = permeability(solid, "z", tol=1e-6)
    scaled = permeability(solid, "z", tol=1e-6, force=default.force * 10, voxel_size=2e-6)
    assert scaled.k == pytest.approx(default.k, rel=1e-3)  # Stokes: linear in the force
    assert scaled.k_m2 == pytest.approx(scaled.k * 4e-12)
    assert default.k_m2 is None and default.max_mach < 0.1


def test_mirroring_doubles_the_box_along_the_flow():
    solid = spinodoid(16, (0.2, 0.2, 0.2), 0.6, seed=2)
    mirrored = permeability(solid, "y", mirror=True, tol=1e-6)
    explicit = permeability(np.concatenate([solid, solid[:, ::-1]], axis=1), "y", tol=1e-6)
    assert mirrored.mirrored and mirrored.shape == (16, 32, 16)
    assert mirrored.k == pytest.approx(explicit.k, rel=1e-6)
    straight = slit(8)
    assert permeability(straight, 0, mirror=True).k == pytest.approx(
        permeability(straight, 0).k, rel=1e-4
    )


def test_velocity_field_is_consistent_with_k():
    solid = slit(8)
    result = permeability(solid, "x", keep_velocity=True)
    u = result.velocity
    assert u.shape == (3, *solid.shape)
    assert np.all(u[:, solid] == 0)
    nu = (result.relaxation_time - 0.5) / 3
    assert nu * u[0].mean() / result.force == pytest.approx(result.k, rel=1e-3)
    profile = u[0, 0, 0, :8]
    assert np.allclose(profile, profile[::-1], rtol=1e-4)  # symmetric parabola


def test_faults_are_flagged_results():
    with pytest.warns(RuntimeWarning, match="structure 7.*not converged"):
        slow = permeability(sphere_cell(24, 0.1), "x", max_steps=40, name="structure 7")
    assert math.isnan(slow.k) and slow.flag == Flag.NOT_CONVERGED and not slow.converged
    with pytest.warns(RuntimeWarning, match="diverged"):
        fast = permeability(slit(8), "x", force=0.05)
    assert math.isnan(fast.k) and fast.flag == Flag.DIVERGED
    full = permeability(np.ones((6, 6, 6), dtype=bool), "x")
    assert full.k == 0.0 and full.flag == Flag.NO_PATH
    empty = permeability(np.zeros((6, 6, 6), dtype=bool), "x")
    assert empty.k == math.inf and empty.flag == Flag.NO_SOLID
    wall = np.zeros((8, 8, 8), dtype=bool)
    wall[3] = True
    blocked = permeability(wall, "x")
    assert blocked.k == 0.0 and blocked.flag == Flag.NO_PATH and "no pore path" in blocked.message


@pytest.mark.parametrize(
    "volume, axis, message",
    [
        (np.full((4, 4, 4), 0.5), 0, "binary"),
        (np.zeros((4, 4), dtype=bool), 0, "3-D"),
        (np.zeros((4, 4, 4, 1), dtype=bool), 0, "3-D"),
        (np.zeros((4, 4, 4), dtype=bool), "w", "axis"),
        (np.zeros((4, 4, 4), dtype=bool), 3, "axis"),
    ],
)
def test_bad_inputs_are_named(volume, axis, message):
    with pytest.raises(ValueError, match=message):
        permeability(volume, axis)


def test_backend_initialises_once():
    device = backend.ensure_backend("auto")
    generation = backend.generation()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second call must not re-initialise
        assert backend.ensure_backend("auto") == device
    assert backend.generation() == generation
    assert device in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device"):
        backend.ensure_backend("tpu")


def test_extruded_structures_are_solved_on_two_slices():
    from poredesign.structures import square_pores

    solid = square_pores(12, seed=3, image=40, pore=6, depth=10)
    fast = permeability(solid, "z", tol=1e-6)
    full = permeability(solid, "z", tol=1e-6, reduce_extrusion=False)
    assert fast.extruded and not full.extruded and fast.shape == full.shape == (40, 40, 10)
    assert fast.k == pytest.approx(full.k, rel=1e-4)
    assert fast.k > 0 and permeability(solid, "x").flag in (Flag.OK, Flag.NO_PATH)


def test_a_foreign_reinitialisation_is_noticed():
    import taichi as ti

    solid = slit(8)
    before = permeability(solid, "x").k
    generation = backend.generation()
    ti.init(arch=ti.cpu)  # someone else resets Taichi: every array made before is gone
    assert permeability(solid, "x").k == pytest.approx(before, rel=1e-6)
    assert backend.generation() > generation


def test_progress_is_reported_from_the_first_check():
    # a large scan's first check comes minutes after the start: it is reported (the change from
    # the state of rest, 1), then the relative change of the mean velocity, down to below tol
    calls = []
    solid = spinodoid(24, (0.2, 0.2, 0.2), 0.5, seed=3)
    result = permeability(solid, "x", check_every=20, progress=lambda *a: calls.append(a))
    assert result.converged and calls[0] == (20, pytest.approx(1.0), 1e-4)
    assert [c[0] for c in calls] == list(range(20, result.iterations + 1, 20))
    assert calls[-1][1] < 1e-4 < calls[1][1] < 1.0
