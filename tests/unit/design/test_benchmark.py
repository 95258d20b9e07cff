"""The design benchmark (design.benchmark, issue 19): target sets, flags, scoring."""

from __future__ import annotations

import numpy as np
import pytest

from poredesign.design.benchmark import (
    SETS,
    BenchmarkSettings,
    draw_benchmark_targets,
    is_generator_image,
    level_reach,
    run_benchmark,
)
from poredesign.design.gradient import ReachableBand
from poredesign.design.search import SearchSettings
from poredesign.structures.squares import square_pores
from poredesign.transport import permeability

IMAGE, PORE = 24, 4  # 36 pores per full image
SOLVER = {"device": "cpu", "threads": 1}


@pytest.fixture(scope="module")
def dataset():
    images, properties = [], []
    for i in range(30):
        solid = square_pores(4 + i % 8, seed=i, image=IMAGE, pore=PORE, depth=2)
        k = permeability(solid, 2, **SOLVER).k
        images.append(solid[:, :, 0])
        properties.append((1.0 - solid.mean(), k))
    return np.array(images), np.array(properties)


def fake_latent(goal, starts):
    """Candidates no solver can score: all pore (no solid) and all solid (no pore path)."""
    images = np.zeros((len(goal), starts, IMAGE, IMAGE), dtype=bool)
    images[:, 1::2] = True
    return images, np.arange(starts, dtype=float)[None].repeat(len(goal), 0), 0.0


def test_every_design_carries_its_solver_k_and_a_flag_and_flagged_ones_are_not_scored(dataset):
    images, properties = dataset
    band = ReachableBand.from_dataset(properties[:, 0], properties[:, 1])
    settings = BenchmarkSettings(
        in_band=2, beyond_band=2, infeasible=1, budget=4, latent_starts=2,
        search=SearchSettings(proposals=4, keep=2, max_moves=2),
    )  # fmt: skip
    out = run_benchmark(images, properties, band, PORE, 3, settings, fake_latent, SOLVER)
    assert [t["set"] for t in out["targets"]].count("beyond_band") == 2
    assert {d["method"] for d in out["designs"]} == {
        "nearest",
        "latent",
        "latent_best_of_starts",
        "search",
    }
    for d in out["designs"]:
        assert "k" in d and "flag" in d and "flag_name" in d
        assert d["solver_calls"] <= settings.budget
        if d["flag"] != 0:
            assert not d["scored"] and d["k_error"] is None
        if d["set"] == "infeasible":
            assert not d["scored"]
        if d["method"] == "search":
            assert d["generator_image"] and d["porosity_error"] < 1e-12
    latent = [d for d in out["designs"] if d["method"].startswith("latent")]
    assert all(d["flag_name"] in ("NO_SOLID", "NO_PATH") for d in latent)
    scores = out["scores"]
    for name in SETS:
        assert scores[name]["latent"]["scored"] == 0
        assert scores[name]["latent"]["flagged"] == scores[name]["latent"]["n"]
        assert scores[name]["search"]["porosity_mape"] in (None, pytest.approx(0.0, abs=1e-9))
    assert scores["infeasible"]["search"]["scored"] == 0
    assert scores["infeasible"]["search"]["within_success"] is None


def test_targets_are_seeded_off_the_training_labels_and_the_infeasible_below_the_bound(dataset):
    images, properties = dataset
    band = ReachableBand.from_dataset(properties[:, 0], properties[:, 1])
    counts = sorted({int(round(p * 36)) for p in band.porosity})
    reach = level_reach(counts, IMAGE, PORE, SOLVER)
    settings = BenchmarkSettings(in_band=5, beyond_band=4, infeasible=3)
    draws = [draw_benchmark_targets(settings, band, reach, 36.0, properties, 9) for _ in range(2)]
    assert draws[0] == draws[1]
    other = draw_benchmark_targets(settings, band, reach, 36.0, properties, 10)
    assert draws[0] != other
    for t in draws[0]:
        assert t["count"] / 36.0 == pytest.approx(t["porosity"])
        assert not np.any(
            np.isclose(properties[:, 0], t["porosity"]) & (properties[:, 1] == t["k"])
        )
        low, high = (
            np.interp(t["porosity"], band.porosity, band.k_low),
            np.interp(t["porosity"], band.porosity, band.k_high),
        )
        bound = reach[t["count"]]["lower_bound"]
        if t["set"] == "in_band":
            assert low <= t["k"] <= high
        elif t["set"] == "beyond_band":
            assert t["k"] >= 1.2 * high or bound < t["k"] < low
        else:
            assert t["k"] < bound


def test_generator_images_are_unions_of_squares():
    solid = square_pores(6, seed=1, image=IMAGE, pore=PORE, depth=1)[:, :, 0]
    assert is_generator_image(solid, PORE)
    blob = np.ones((IMAGE, IMAGE), dtype=bool)
    blob[2:5, 2:5] = False  # a 3 x 3 pore is no union of 4 x 4 squares
    assert not is_generator_image(blob, PORE)
