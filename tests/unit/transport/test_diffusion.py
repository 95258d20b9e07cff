"""Krylov diffusion solver: analytical cases, symmetry, bounds, faults (SPEC 2.2)."""

import numpy as np
import pytest

from poredesign.structures import spinodoid
from poredesign.transport import Flag
from poredesign.transport.diffusion import diffusivity


def _channels(n: int = 16) -> np.ndarray:
    solid = np.ones((n, n, n), dtype=bool)
    solid[:, 2:5, 3:7] = False  # a duct along x
    solid[:, 10, :] = False  # a slit along x and z
    return solid


def test_straight_channels_give_eta_equal_to_porosity():
    solid = _channels()
    result = diffusivity(solid, "x")
    assert result.ok and result.converged
    assert result.eta == pytest.approx(1 - solid.mean(), abs=1e-4)
    assert result.tau == pytest.approx(1.0, abs=1e-3)
    # along z only the slit conducts (it spans z); the duct is a dead end
    along_z = diffusivity(solid, 2)
    assert along_z.eta == pytest.approx(16 * 16 / 16**3, abs=1e-4)
    assert along_z.porosity_eff == pytest.approx(16 * 16 / 16**3)


def test_blocked_axis_gives_zero_and_a_flag():
    result = diffusivity(_channels(), "y")
    assert result.eta == 0.0 and result.flag == Flag.NO_PATH and "no pore path" in result.message


def test_all_pore_is_eta_one_and_flagged():
    result = diffusivity(np.zeros((8, 8, 8), dtype=bool), 0)
    assert result.eta == 1.0 and result.flag == Flag.NO_SOLID


def test_axis_permutation_permutes_eta():
    solid = spinodoid(24, (0.08, 0.12, 0.2), 0.6, seed=4)
    eta = [diffusivity(solid, a).eta for a in range(3)]
    swapped = np.transpose(solid, (2, 0, 1))  # new x = old z, new y = old x, new z = old y
    eta_swapped = [diffusivity(swapped, a).eta for a in range(3)]
    assert eta_swapped == pytest.approx([eta[2], eta[0], eta[1]], rel=1e-6)
    # longer features along z -> easier transport along z
    assert eta[0] < eta[1] < eta[2]


def test_cubic_symmetric_structure_gives_equal_components():
    n = 20
    x, y, z = np.meshgrid(*[np.arange(n)] * 3, indexing="ij")
    r2 = (x - n / 2 + 0.5) ** 2 + (y - n / 2 + 0.5) ** 2 + (z - n / 2 + 0.5) ** 2
    solid = r2 < 7.0**2  # a sphere in a periodic cell
    eta = [diffusivity(solid, a).eta for a in range(3)]
    assert max(eta) - min(eta) < 1e-8
    assert 0 < eta[0] < 1 - solid.mean()


@pytest.mark.parametrize("seed", [1, 2])
def test_isotropic_structures_obey_the_hashin_shtrikman_bound(seed):
    eps = 0.5
    solid = spinodoid(32, (0.12, 0.12, 0.12), eps, seed=seed)
    for axis in range(3):
        eta = diffusivity(solid, axis).eta
        assert 0 < eta <= 2 * eps / (3 - eps)


@pytest.mark.parametrize(
    "volume, message",
    [(np.full((4, 4, 4), 0.5), "binary"), (np.zeros((4, 4), dtype=bool), "3-D")],
)
def test_bad_inputs_are_named(volume, message):
    with pytest.raises(ValueError, match=message):
        diffusivity(volume, 0)
    with pytest.raises(ValueError, match="method"):
        diffusivity(np.zeros((4, 4, 4), dtype=bool), 0, method="magic")
