"""Spinodoid generator (SPEC 1.1): porosity, determinism, periodicity, length scales."""

import numpy as np
import pytest

from poredesign.structures import (
    SpinodoidSampler,
    draw_structure,
    gaussian_random_field,
    porosity,
    spinodoid,
    spinodoid_batch,
)


@pytest.mark.parametrize("eps", [0.3, 0.5, 0.85])
def test_porosity_matches_request_to_one_voxel_in_ten_thousand(eps):
    solid = spinodoid(40, (0.1, 0.15, 0.2), eps, seed=3)
    assert solid.dtype == bool and solid.shape == (40, 40, 40)
    assert abs(porosity(solid) - eps) <= 1e-4


def test_same_seed_same_bytes_other_seed_differs():
    a = spinodoid(32, (0.1, 0.1, 0.1), 0.5, seed=11)
    b = spinodoid(32, (0.1, 0.1, 0.1), 0.5, seed=11)
    c = spinodoid(32, (0.1, 0.1, 0.1), 0.5, seed=12)
    assert a.tobytes() == b.tobytes()
    assert (a != c).mean() > 0.2


def _pair_correlations(field: np.ndarray, axis: int) -> tuple[float, np.ndarray]:
    """Correlation of the two slices across the wrap (last, first) and of each interior pair."""
    f = np.moveaxis((field - field.mean()) / field.std(), axis, 0)
    pairs = (f * np.roll(f, -1, axis=0)).mean(axis=(1, 2))
    return float(pairs[-1]), pairs[:-1]


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_field_is_periodic(axis):
    field = gaussian_random_field(48, (0.15, 0.15, 0.15), seed=5)
    wrap, inside = _pair_correlations(field, axis)
    assert inside.mean() > 0.5  # neighbours are strongly correlated for features of ~7 voxels
    # the wrap pair is just another neighbour pair (a seam would decorrelate it to about 0)
    assert abs(wrap - inside.mean()) < 3 * inside.std() + 0.02
    solid = spinodoid(48, (0.15, 0.15, 0.15), 0.5, seed=5)
    seam = (np.take(solid, 0, axis) != np.take(solid, -1, axis)).mean()
    interior = (solid != np.roll(solid, -1, axis)).mean()
    assert abs(seam - interior) < 0.05
    # a non-periodic field (the field cut in half and re-tiled) does show a seam at the cut
    cut = np.concatenate([np.take(field, range(24), axis), np.take(field, range(24), axis)], axis)
    _, cut_pairs = _pair_correlations(cut, axis)
    assert abs(cut_pairs[23] - inside.mean()) > 3 * inside.std()


def _correlation_length(field: np.ndarray, axis: int) -> float:
    """Lag (voxels) where the field's autocorrelation along ``axis`` first falls below 1/e."""
    f = field - field.mean()
    power = np.abs(np.fft.fft(f, axis=axis)) ** 2
    acf = np.real(np.fft.ifft(power, axis=axis)).mean(axis=tuple(i for i in range(3) if i != axis))
    acf /= acf[0]
    below = np.nonzero(acf < np.exp(-1))[0]
    i = below[0]
    # linear interpolation between lags i-1 and i
    return float(i - 1 + (acf[i - 1] - np.exp(-1)) / (acf[i - 1] - acf[i]))


def test_correlation_length_grows_with_a_and_is_equal_for_equal_a():
    n = 64
    lengths = np.mean(
        [
            [
                _correlation_length(gaussian_random_field(n, (0.05, 0.1, 0.2), seed=s), ax)
                for ax in range(3)
            ]
            for s in range(3)
        ],
        axis=0,
    )
    assert lengths[0] < lengths[1] < lengths[2]
    # the length scales with a: doubling a roughly doubles it
    ratios = lengths[1:] / lengths[:-1]
    assert np.all((ratios > 1.6) & (ratios < 2.5)), lengths
    iso = np.mean(
        [
            [
                _correlation_length(gaussian_random_field(n, (0.1, 0.1, 0.1), seed=s), ax)
                for ax in range(3)
            ]
            for s in range(3)
        ],
        axis=0,
    )
    assert iso.max() / iso.min() < 1.15, iso


def test_spectral_cutoff_wavelength_is_about_n_times_a():
    """The radial power spectrum falls to half its plateau at |q| = 0.896 / a (SPEC: |a q| ~ 1)."""
    n, a = 96, 0.1
    power = np.abs(np.fft.fftn(gaussian_random_field(n, (a, a, a), seed=2))) ** 2
    q = np.fft.fftfreq(n) * n
    radius = np.rint(np.sqrt(q[:, None, None] ** 2 + q[None, :, None] ** 2 + q[None, None, :] ** 2))
    shells = np.bincount(radius.astype(int).ravel(), weights=power.ravel())
    shells /= np.bincount(radius.astype(int).ravel())
    plateau = shells[1:4].mean()
    q_half = np.nonzero(shells[1:] < 0.5 * plateau)[0][0] + 1
    assert 0.8 * n * a < n / q_half < 1.4 * n * a


def test_sampler_draws_parameters_from_the_spec_distribution():
    sampler = SpinodoidSampler(size=16)
    rng = np.random.default_rng(0)
    params = np.array([sampler.draw_params(rng) for _ in range(2000)])
    a, eps = params[:, :3], params[:, 3]
    assert np.all((eps >= 0.3) & (eps <= 0.85))
    means = a.mean(axis=1)
    assert np.all((means >= 0.05 - 1e-12) & (means <= 0.2 + 1e-12))
    anisotropy = a.max(axis=1) / a.min(axis=1)
    assert np.all((anisotropy >= 1 - 1e-12) & (anisotropy <= 3 + 1e-12))
    # the permutation puts the largest a on every axis about equally often
    counts = np.bincount(a.argmax(axis=1), minlength=3) / len(a)
    assert np.all(np.abs(counts - 1 / 3) < 0.05)


def test_structure_depends_only_on_seed_and_index():
    sampler = SpinodoidSampler(size=24)
    first = draw_structure(sampler, seed=7, index=5)
    again = draw_structure(sampler, seed=7, index=5)
    other = draw_structure(sampler, seed=7, index=6)
    assert first.solid.tobytes() == again.solid.tobytes()
    assert np.array_equal(first.params, again.params)
    assert not np.array_equal(first.params, other.params)


def test_batched_torch_generator_matches_requested_porosity_and_statistics():
    a = np.array([[0.1, 0.1, 0.1], [0.05, 0.1, 0.2]])
    batch = spinodoid_batch(48, a, [0.4, 0.7], seeds=[1, 2], device="cpu").numpy()
    assert batch.shape == (2, 48, 48, 48) and batch.dtype == bool
    assert abs(porosity(batch[0]) - 0.4) <= 1e-4
    assert abs(porosity(batch[1]) - 0.7) <= 1e-4
    again = spinodoid_batch(48, a, [0.4, 0.7], seeds=[1, 2], device="cpu").numpy()
    assert np.array_equal(batch, again)
    # same spectrum as the numpy path: equal correlation lengths within noise
    torch_len = _correlation_length(batch[1].astype(float), 2)
    numpy_len = _correlation_length(spinodoid(48, a[1], 0.7, seed=3).astype(float), 2)
    assert abs(torch_len - numpy_len) / numpy_len < 0.25


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n=32, a=(0.1, 0.1), porosity=0.5), "three positive"),
        (dict(n=32, a=(0.1, -0.1, 0.1), porosity=0.5), "three positive"),
        (dict(n=32, a=(0.1, 0.1, 0.1), porosity=1.2), "porosity"),
        (dict(n=2, a=(0.1, 0.1, 0.1), porosity=0.5), "size n"),
    ],
)
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        spinodoid(**kwargs, seed=0)


def test_threshold_is_exact_even_with_ties():
    from poredesign.structures.spinodoid import threshold_at_porosity

    field = np.repeat(np.arange(10, dtype=np.float32), 100).reshape(10, 10, 10)  # 100-fold ties
    solid = threshold_at_porosity(field, 0.255)
    assert np.count_nonzero(~solid) == 255
    assert np.all(field[~solid] <= field[solid].min())  # pores are the lowest values
