"""Solver-in-the-loop search in generator space: for square pores,
:mod:`.squares` (simulated annealing over square moves, proxy-ranked proposals, the solver
decides)."""

from poredesign.design.search.squares import (
    SearchResult,
    SearchSettings,
    Squares,
    check_squares,
    level_count,
    proxy_k,
    random_squares,
    search,
    solve_squares,
    squares_from_image,
)

__all__ = [
    "SearchResult",
    "SearchSettings",
    "Squares",
    "check_squares",
    "level_count",
    "proxy_k",
    "random_squares",
    "search",
    "solve_squares",
    "squares_from_image",
]
