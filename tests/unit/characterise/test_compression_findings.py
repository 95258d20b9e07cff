"""The measures of the compression findings: nearest-neighbour separation against chance, the
tensor per strain level, monotonicity along a path."""

import numpy as np
import pytest

from poredesign.characterise.compression import (
    monotonicity,
    nearest_neighbour_accuracy,
    paper_cluster,
    tensor_by_strain,
)


def test_separated_groups_are_found_and_mixed_ones_score_chance():
    rng = np.random.default_rng(0)
    groups = np.repeat([0, 1, 2], 100)
    apart = rng.normal(size=(300, 2)) * 0.1 + groups[:, None] * 5.0
    found = nearest_neighbour_accuracy(apart, groups)
    assert found["accuracy"] == 1.0 and found["chance"] == pytest.approx(1 / 3)
    assert found["majority"] == pytest.approx(1 / 3) and found["n"] == 300
    mixed = nearest_neighbour_accuracy(rng.normal(size=(300, 2)), groups)
    assert abs(mixed["accuracy"] - 1 / 3) < 0.1  # no information: about chance


def test_chance_counts_unequal_groups():
    found = nearest_neighbour_accuracy(np.arange(4.0)[:, None], np.array([0, 0, 0, 1]))
    assert found["chance"] == pytest.approx(0.75**2 + 0.25**2) and found["majority"] == 0.75


def test_paper_clusters():
    assert paper_cluster(np.array([0, 0.15, 0.25, 0.35, 0.5])).tolist() == [0, 1, 1, 1, 2]


def test_tensor_by_strain_means_spreads_and_flags():
    strain = np.array([0, 0, 0.5, 0.5, 0.5])
    porosity = np.array([0.8, 0.7, 0.6, 0.5, 0.4])
    k = np.array([[2, 2, 1], [4, 4, 3], [1, 1, 0.5], [1, 3, 1], [np.nan, 2, 1.5]])
    levels = tensor_by_strain(strain, porosity, k)
    assert [e["strain"] for e in levels] == [0, 0.5] and [e["n"] for e in levels] == [2, 3]
    assert levels[0]["k_x"]["mean"] == 3 and levels[0]["k_x"]["std"] == pytest.approx(np.sqrt(2))
    assert levels[1]["k_x"]["finite"] == 2 and levels[1]["k_x"]["mean"] == 1
    assert levels[0]["porosity"]["mean"] == pytest.approx(0.75)
    assert levels[0]["anisotropy"] == pytest.approx((0.5 + 0.75) / 2)


def test_monotonicity():
    assert monotonicity(np.linspace(1, 0, 10)) | {"rho": 0} == {
        "rho": 0,
        "trend": -1,
        "reversals": 0,
        "monotone": True,
        "n": 10,
    }
    assert monotonicity(np.linspace(1, 0, 10))["rho"] == pytest.approx(-1)
    bumpy = monotonicity(np.array([0, 1, 0.5, 2, 3, np.nan, 4]))
    assert bumpy["reversals"] == 1 and not bumpy["monotone"] and bumpy["n"] == 6
    assert not monotonicity(np.ones(5))["monotone"]
