"""Voronoi-edge membranes (SPEC 1.2) and the cubic-spline resize."""

import itertools

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import Voronoi, cKDTree

from poredesign.structures import make_sampler, porosity
from poredesign.structures.resize import binarise, resize_binary, resize_gray
from poredesign.structures.sampling import draw_structure
from poredesign.structures.voronoi import (
    VoronoiSampler,
    paint_capsules,
    voronoi_edges,
    voronoi_membrane,
)

SHIFTS = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=float)


def mean_chord(phase: np.ndarray, axis: int) -> float:
    """Mean run length of True voxels along ``axis`` (periodic)."""
    starts = np.count_nonzero(phase & ~np.roll(phase, 1, axis=axis))
    return np.count_nonzero(phase) / max(starts, 1)


# ---------------------------------------------------------------------------------------------
# geometry


@pytest.mark.parametrize("stretch", [(1.0, 1.0, 1.0), (0.55, 1.0, 0.8)])
def test_edges_match_scipy_voronoi_of_full_tiling(stretch):
    n, rng = 50, np.random.default_rng(3)
    seeds = rng.uniform(0, n, (25, 3))
    e = np.asarray(stretch)
    edges = voronoi_edges(n, seeds, e)

    # independent reference: ridge polygons of the Voronoi diagram of all 27 periodic copies
    vor = Voronoi((seeds[None] + SHIFTS[:, None] * n).reshape(-1, 3) * e)
    pairs = set()
    for ridge in vor.ridge_vertices:
        for a, b in zip(ridge, ridge[1:] + ridge[:1], strict=True):
            if a >= 0 and b >= 0:
                pairs.add((min(a, b), max(a, b)))
    pairs = np.array(sorted(pairs))
    mid = 0.5 * (vor.vertices[pairs[:, 0]] + vor.vertices[pairs[:, 1]]) / e
    ref = mid[np.all((mid >= 0) & (mid < n), axis=1)]
    ours = edges.segments.mean(axis=1)
    assert len(ours) == len(ref) == 2 * len(edges.vertices)
    dist, match = cKDTree(ref).query(ours)
    assert dist.max() < 1e-6 and len(np.unique(match)) == len(ref)


def test_edges_are_equidistant_to_three_nearest_seeds_in_the_metric():
    n, e = 60, np.array([0.5, 1.0, 0.7])
    seeds = np.random.default_rng(5).uniform(0, n, (40, 3))
    edges = voronoi_edges(n, seeds, e)
    tree = cKDTree((seeds[None] + SHIFTS[:, None] * n).reshape(-1, 3) * e)
    t = np.random.default_rng(0).uniform(0.05, 0.95, len(edges.segments))[:, None]
    points = edges.segments[:, 0] + t * (edges.segments[:, 1] - edges.segments[:, 0])
    d, _ = tree.query(points * e, k=4)
    np.testing.assert_allclose(d[:, 1], d[:, 0], rtol=1e-7)
    np.testing.assert_allclose(d[:, 2], d[:, 0], rtol=1e-7)
    assert np.all(d[:, 3] > d[:, 0] * (1 + 1e-9))


def test_paint_capsules_matches_brute_force_distance_with_wrap():
    n, r = 24, 2.3
    rng = np.random.default_rng(1)
    a = rng.uniform(-5, n + 5, (6, 3))
    b = a + rng.normal(0, 10, (6, 3))
    b[0] = a[0]  # a ball
    ours = paint_capsules(np.zeros((n, n, n), bool), a, b, r)

    grid = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), axis=-1).reshape(-1, 1, 3)
    best = np.full(n**3, np.inf)
    for shift in SHIFTS * n:  # nearest periodic copy of every voxel
        p = grid + shift - a[None]
        ab = (b - a)[None]
        t = np.clip((p * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-300), 0, 1)
        d = np.linalg.norm(p - t[..., None] * ab, axis=-1).min(axis=1)
        best = np.minimum(best, d)
    assert np.array_equal(ours.ravel(), best <= r)


def test_too_few_seeds_raise():
    with pytest.raises(ValueError, match="too few"):
        voronoi_membrane(40, 1, 2.0, seed=0)
    with pytest.raises(ValueError, match="stretch"):
        voronoi_membrane(40, 20, 2.0, stretch=(1.0, 0.0, 1.0), seed=0)
    with pytest.raises(ValueError, match="radius"):
        voronoi_membrane(40, 20, -1.0, seed=0)


# ---------------------------------------------------------------------------------------------
# structures


def test_same_seed_identical_bytes_other_seed_differs():
    a = voronoi_membrane(48, 30, 2.0, (0.7, 1, 1), seed=11)
    b = voronoi_membrane(48, 30, 2.0, (0.7, 1, 1), seed=11)
    c = voronoi_membrane(48, 30, 2.0, (0.7, 1, 1), seed=12)
    assert a.dtype == bool and a.shape == (48, 48, 48)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_periodic_translating_seeds_rolls_the_structure():
    n, r, e = 48, 2.5, (0.6, 1.0, 0.9)
    seeds = np.random.default_rng(2).uniform(0, n, (30, 3))
    shift = np.array([17, 5, 31])

    def build(s):
        edges = voronoi_edges(n, s, e)
        return paint_capsules(
            np.zeros((n, n, n), bool), edges.segments[:, 0], edges.segments[:, 1], r
        )

    base = build(seeds)
    moved = build(np.mod(seeds + shift, n))
    rolled = np.roll(base, tuple(shift), axis=(0, 1, 2))
    # identical up to voxel centres lying within rounding error of the strut surface
    assert np.count_nonzero(moved != rolled) <= 3


def test_periodic_statistics_across_the_wrap_equal_those_inside():
    solid = voronoi_membrane(64, 40, 2.5, seed=4)
    for axis in range(3):
        first, last = np.take(solid, 0, axis=axis), np.take(solid, -1, axis=axis)
        wrap = np.mean(first == last)
        inside = np.mean(solid == np.roll(solid, 1, axis=axis))
        assert abs(wrap - inside) < 0.02
        # a non-periodic structure would agree across the wrap at chance level only
        chance = porosity(solid) ** 2 + (1 - porosity(solid)) ** 2
        assert wrap > chance + 0.05


def test_porosity_falls_as_points_or_radius_grow():
    def mean_porosity(n_points, radius):
        return np.mean([porosity(voronoi_membrane(64, n_points, radius, seed=s)) for s in range(3)])

    by_points = [mean_porosity(k, 2.0) for k in (15, 45, 135)]
    assert by_points[0] > by_points[1] > by_points[2]
    thin = voronoi_membrane(64, 45, 1.5, seed=7)
    thick = voronoi_membrane(64, 45, 3.0, seed=7)
    assert np.all(thick[thin])  # same seeds: thicker struts contain thinner ones
    assert porosity(thick) < porosity(thin) - 0.05


@pytest.mark.parametrize("axis", [0, 2])
def test_stretch_makes_that_axis_the_longest_chord_direction(axis):
    e = np.ones(3)
    e[axis] = 0.5
    solid = voronoi_membrane(96, 60, 2.5, e, seed=8)
    for phase in (solid, ~solid):
        chords = [mean_chord(phase, ax) for ax in range(3)]
        others = [c for ax, c in enumerate(chords) if ax != axis]
        assert chords[axis] > 1.2 * max(others), chords


def test_isotropic_chords_about_equal():
    pore = ~voronoi_membrane(96, 60, 2.5, seed=9)
    chords = [mean_chord(pore, ax) for ax in range(3)]
    assert max(chords) < 1.2 * min(chords), chords


def test_spheres_and_smoothing():
    base = voronoi_membrane(64, 30, 2.0, seed=3)
    solid_spheres = voronoi_membrane(
        64, 30, 2.0, seed=3, spheres={"count": 20, "median_radius": 4.0, "sigma": 0.2}
    )
    pore_spheres = voronoi_membrane(
        64,
        30,
        2.0,
        seed=3,
        spheres={"count": 20, "median_radius": 4.0, "phase": "pore", "centres": "random"},
    )
    assert np.all(solid_spheres[base]) and porosity(solid_spheres) < porosity(base)
    assert not np.any(pore_spheres & ~base) and porosity(pore_spheres) > porosity(base)
    smooth = voronoi_membrane(64, 30, 2.0, seed=3, smooth_sigma=1.0)
    assert abs(porosity(smooth) - porosity(base)) < 0.03 and np.any(smooth != base)
    with pytest.raises(ValueError, match="unknown sphere option"):
        voronoi_membrane(64, 30, 2.0, seed=3, spheres={"radius": 3})


# ---------------------------------------------------------------------------------------------
# resize


@pytest.mark.parametrize("periodic", [True, False])
def test_resize_equals_scipy_zoom(periodic):
    v = np.random.default_rng(0).random((20, 24, 17)).astype(np.float32)
    ours = resize_gray(v, (13, 30, 17), periodic=periodic)
    ref = ndimage.zoom(
        v.astype(np.float64),
        (13 / 20, 30 / 24, 1.0),
        order=3,
        grid_mode=True,
        mode="grid-wrap" if periodic else "reflect",
    )
    assert ours.shape == (13, 30, 17) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_resize_200_to_128_keeps_porosity_and_periodicity():
    solid = voronoi_membrane(200, 100, 3.4, (0.6, 1.0, 1.0), seed=21)
    small = resize_binary(solid, 128)
    assert small.shape == (128, 128, 128) and small.dtype == bool
    assert abs(porosity(small) - porosity(solid)) < 0.01
    # periodic resize commutes with whole-period translations (200 -> 128: 25 -> 16 voxels)
    moved = resize_binary(np.roll(solid, 25, axis=1), 128)
    assert np.array_equal(moved, np.roll(small, 16, axis=1))


# ---------------------------------------------------------------------------------------------
# sampler


@pytest.mark.parametrize("stretched_axes", [1, 2])
def test_sampler_draws_the_paper_distribution(stretched_axes):
    sampler = VoronoiSampler(
        size=32, generation_size=48, n_points_range=(20, 30), stretched_axes=stretched_axes
    )
    rng = np.random.default_rng(0)
    draws = np.array([sampler.draw_params(rng) for _ in range(200)])
    assert sampler.param_names == ("n_points", "radius", "e_x", "e_y", "e_z", "porosity")
    assert set(np.unique(draws[:, 0])) == set(range(20, 31))
    assert np.all(draws[:, 1] == 3.4)
    e = draws[:, 2:5]
    assert np.all((e >= 0.5) & (e <= 1.0))
    assert np.all(np.sum(e < 1.0, axis=1) == stretched_axes)
    assert np.all(np.sum(e < 1.0, axis=0) > 30)  # every axis gets stretched sometimes


def test_sampler_builds_resized_structures_through_make_sampler():
    sampler = make_sampler(
        "voronoi",
        32,
        {"generation_size": 48, "n_points_range": [20, 30], "radius": 2.0, "stretched_axes": 2},
    )
    draw = draw_structure(sampler, seed=5, index=3)
    again = draw_structure(sampler, seed=5, index=3)
    assert draw.solid.shape == (32, 32, 32) and draw.solid.dtype == bool
    assert draw.solid.tobytes() == again.solid.tobytes()
    assert draw.params[5] == pytest.approx(porosity(draw.solid))
    np.testing.assert_array_equal(draw.params, again.params)
    assert sampler.accept(draw.solid)
    blocked = np.ones((32, 32, 32), bool)
    assert not sampler.accept(blocked)


def test_sampler_rejects_bad_options():
    with pytest.raises(ValueError, match="n_points_range"):
        VoronoiSampler(n_points_range=(50, 40))
    with pytest.raises(ValueError, match="stretched_axes"):
        VoronoiSampler(stretched_axes=4)
    with pytest.raises(TypeError):
        VoronoiSampler(bogus=1)


def test_binarise_is_strictly_above_one_half_for_arrays_and_tensors():
    import torch

    half = np.float32(0.5)
    soft = np.array([0, np.nextafter(half, 0), half, np.nextafter(half, 1), 1], np.float32)
    expected = [False, False, False, True, True]
    assert binarise(soft).dtype == bool and binarise(soft).tolist() == expected
    tensor = binarise(torch.from_numpy(soft))
    assert tensor.dtype == torch.bool and tensor.tolist() == expected
    assert binarise(soft, threshold=0.0).tolist() == [False, True, True, True, True]
