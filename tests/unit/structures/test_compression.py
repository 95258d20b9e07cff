"""Uniaxial compression along z at conserved solid volume (the foam's compression levels)."""

import numpy as np
import pytest

from poredesign.structures.compression import (
    compress_z,
    compressed_height,
    compressed_porosity,
)
from poredesign.structures.scans import mean_chord_lengths
from poredesign.structures.spinodoid import spinodoid


@pytest.fixture(scope="module")
def foam() -> np.ndarray:
    return spinodoid(40, [0.25, 0.25, 0.25], 0.8, seed=np.random.default_rng(3))


@pytest.mark.parametrize("strain", [0.15, 0.25, 0.35, 0.5])
def test_compression_keeps_the_solid_and_the_lateral_faces(foam, strain):
    out = compress_z(foam, strain)
    assert out.dtype == bool
    assert out.shape == (40, 40, round(40 * (1 - strain)))
    assert np.count_nonzero(out) == np.count_nonzero(foam)  # solid volume conserved exactly
    # porosity as the model says, up to the rounding of the height to whole voxels
    expected = 1 - np.count_nonzero(foam) / (40 * 40 * round(40 * (1 - strain)))
    assert 1 - out.mean() == pytest.approx(expected, abs=1e-12)
    assert 1 - out.mean() == pytest.approx(compressed_porosity(1 - foam.mean(), strain), abs=0.01)


def test_zero_strain_is_the_identity(foam):
    assert np.array_equal(compress_z(foam, 0.0), foam)


def test_pores_flatten_along_z_only(foam):
    before = mean_chord_lengths(~foam)
    after = mean_chord_lengths(~compress_z(foam, 0.5))
    shrink = (1 - compress_z(foam, 0.5).mean()) / (1 - foam.mean())  # pore fraction kept
    # same runs per line, fewer pore voxels: lateral chords shrink as the pore fraction does,
    # z chords also by the squeeze (1 - strain); the z / lateral chord ratio halves
    assert after[:2] / before[:2] == pytest.approx([shrink] * 2, rel=0.15)
    assert after[2] / before[2] == pytest.approx(0.5 * shrink, rel=0.15)
    ratio_before, ratio_after = before[2] / before[:2].mean(), after[2] / after[:2].mean()
    assert ratio_after / ratio_before == pytest.approx(0.5, abs=0.08)


def test_porosity_falls_monotonically_with_strain(foam):
    porosities = [1 - compress_z(foam, s).mean() for s in (0, 0.15, 0.25, 0.35, 0.5)]
    assert np.all(np.diff(porosities) < 0)


def test_compression_is_deterministic(foam):
    assert np.array_equal(compress_z(foam, 0.35), compress_z(foam, 0.35))


@pytest.mark.parametrize("strain", [-0.1, 0.9, 1.0, 2.0, float("nan"), "a lot"])
def test_strains_outside_the_range_are_refused(foam, strain):
    with pytest.raises(ValueError, match="strain"):
        compress_z(foam, strain)


def test_compression_beyond_full_density_is_refused():
    dense = np.ones((8, 8, 10), dtype=bool)
    dense[:, :, :3] = False  # porosity 0.3
    compress_z(dense, 0.25)  # below full density: fine
    with pytest.raises(ValueError, match="full density"):
        compress_z(dense, 0.35)


def test_heights_and_porosity_formula():
    assert compressed_height(300, 0.5) == 150 and compressed_height(300, 0.0) == 300
    assert compressed_porosity(0.9, 0.5) == pytest.approx(0.8)
    assert compressed_porosity(0.8, 0.0) == pytest.approx(0.8)
