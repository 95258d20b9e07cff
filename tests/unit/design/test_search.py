"""The solver-in-the-loop search in square-pore generator space (design.search, issue 19)."""

from __future__ import annotations

import numpy as np
import pytest

from poredesign.design.search import (
    SearchSettings,
    Squares,
    check_squares,
    level_count,
    proxy_k,
    random_squares,
    search,
    squares_from_image,
)
from poredesign.design.search.squares import _chain, _move, error
from poredesign.seeds import stream_rng
from poredesign.structures.squares import square_pores

IMAGE, PORE = 40, 4  # the reduced study test's scale: 100 pores per full image
SOLVER = {"device": "cpu", "threads": 1}


def test_moves_and_chains_keep_squares_in_bounds_and_apart():
    rng = np.random.default_rng(3)
    for count in (1, 25, 60, 100):  # 100: the grid (random jams)
        squares = random_squares(count, IMAGE, PORE, rng)
        check_squares(squares)
        for _ in range(200):
            _move(squares, rng, shift=2)
            check_squares(squares)
            assert len(squares.corners) == count
        chained = _chain(squares, rng, SearchSettings(), lambda p: error(p, 0.5))
        if chained is not None:
            check_squares(chained[0])
            assert len(chained[0].corners) == count


def test_check_squares_refuses_overlap_and_out_of_bounds():
    with pytest.raises(ValueError, match="overlap"):
        check_squares(Squares(np.array([[0, 0], [2, 2]]), PORE, IMAGE))
    with pytest.raises(ValueError, match="out of bounds"):
        check_squares(Squares(np.array([[0, IMAGE - PORE + 1]]), PORE, IMAGE))


def test_squares_read_back_from_a_generator_image():
    solid = square_pores(30, seed=5, image=IMAGE, pore=PORE, depth=2)
    squares = squares_from_image(~solid[:, :, 0], PORE)
    assert len(squares.corners) == 30
    assert np.array_equal(squares.mask(), ~solid[:, :, 0])
    with pytest.raises(ValueError, match="not the corner"):
        squares_from_image(np.pad(np.ones((3, 3), bool), 2), PORE)


def test_porosity_levels_and_the_proxy_ranks_merged_pores_higher():
    assert level_count(0.25, IMAGE, PORE) == 25
    assert level_count(0.999, IMAGE, PORE) == 100
    apart = Squares(np.array([[0, 0], [10, 10]]), PORE, IMAGE)
    merged = Squares(np.array([[0, 0], [0, PORE]]), PORE, IMAGE)
    assert proxy_k(merged.mask()) > proxy_k(apart.mask()) > 0


def test_a_seeded_search_repeats_exactly():
    runs = [
        search((0.2, 0.3), IMAGE, PORE, stream_rng(7, "square_search", 0), flow=SOLVER, budget=6)
        for _ in range(2)
    ]
    assert np.array_equal(runs[0].squares.corners, runs[1].squares.corners)
    assert runs[0].k == runs[1].k and runs[0].solver_calls == runs[1].solver_calls
    check_squares(runs[0].squares)


def test_a_beyond_band_target_is_reached_within_a_small_budget():
    # at porosity 0.25 random placements give k ~0.15-0.2 voxel^2 here; 0.6 is 3x beyond
    result = search(
        (0.25, 0.6), IMAGE, PORE, stream_rng(11, "square_search", 0), flow=SOLVER, budget=40
    )
    check_squares(result.squares)
    assert result.porosity == 0.25  # exact on the level
    assert result.flag == 0
    assert result.k_error <= 0.05
    assert result.solver_calls <= 40
    assert len(result.history) == result.solver_calls
