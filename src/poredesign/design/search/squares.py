"""Solver-in-the-loop search in square-pore generator space.

A design is what the generator makes: ``n`` squares of ``pore`` x ``pore`` pixels at integer
top-left corners in an ``image`` x ``image`` plate, in bounds, never overlapping (they may touch),
extruded along z (:func:`poredesign.structures.squares.square_pores`). Its porosity is exact on
the generator's levels n / (pores per full image), ``image^2 / pore^2``: the search works at
the level nearest the target's porosity, so the porosity error is that of the level (zero for a
target on the levels). The objective is the solver's k error at that porosity,
``|log(k / k_target)|``, measured by the lattice Boltzmann solver
(:func:`poredesign.transport.permeability`, along z; an extrusion is solved on two slices).

The method: simulated annealing whose proposals are ranked by a physics proxy, decided by the
solver.

1. Start: the given squares (e.g. the training structure nearest the target) or a random
   placement; when the start has another count than the level, squares are added (at random free
   positions) or removed (at random) first, without solver calls.
2. Each step builds ``keep`` proposals from the current state. A proposal is a chain of up to
   ``max_moves`` elementary moves: *shift* a square by up to ``shift`` pixels, *relocate* it
   (remove it, add it at a uniformly drawn free position) or *attach* it (remove it, add it at a
   free position sharing a side with another square). Each link of the chain is the best of
   ``proposals`` drawn moves by the proxy; the chain ends when the proxy predicts no further
   improvement, so proposals are long far from the target and single moves near it. Every move
   keeps the no-overlap rule and the bounds: every candidate is an image the generator can make.
3. The proxy is a Kozeny-type estimate, the sum over the pore clusters (4-connected, periodic)
   of area^3 / perimeter^2, scaled to k by the log-mean ratio k / proxy of the last three solved
   states. Of the ``keep`` proposals the one whose predicted k is nearest the target is solved:
   one solver call.
4. The solver decides: the candidate becomes the current state when its error is lower, or with
   the annealing probability exp(-(e_new - e_cur) / T), T from ``temperature`` cooled
   geometrically to 1 % of it over the budget. The best solved state is kept; the search stops
   when its relative k error is within ``tolerance`` or after ``budget`` solver calls.

Why this and not a population method: a solve of a 50 x 50 extrusion takes ~0.1 s, so the budget
of ~100 calls per target is spent best on one chain that each call moves towards the target; the
proxy makes a call count (large, multi-square changes far from the target, small ones near it).
All draws come from one generator (``seed``); with the same seed, start and solver the search is
repeated exactly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from scipy import ndimage

from poredesign.config import Settings
from poredesign.structures.squares import _free_positions
from poredesign.transport.results import Flag, flag_names

FLOW_AXIS = 2


@dataclass(frozen=True)
class SearchSettings(Settings):
    """The ``design.benchmark.search`` section: the generator-space search's settings."""

    SECTION: ClassVar[str] = "design.benchmark.search"

    budget: int = 100
    tolerance: float = 0.005
    proposals: int = 16
    keep: int = 3
    max_moves: int = 8
    shift: int = 2
    temperature: float = 0.02


@dataclass
class Squares:
    """Square pores in an image: corners (n, 2) int, ``pore`` and ``image`` in pixels."""

    corners: np.ndarray
    pore: int
    image: int

    @property
    def capacity(self) -> int:
        """Squares that fit at most: (image // pore)^2."""
        return (self.image // self.pore) ** 2

    @property
    def per_full_image(self) -> float:
        """image^2 / pore^2: the porosity levels are n / this."""
        return self.image**2 / self.pore**2

    @property
    def porosity(self) -> float:
        return len(self.corners) * self.pore**2 / self.image**2

    def mask(self, skip: int | None = None) -> np.ndarray:
        """(image, image) bool, True = pore (the square ``skip`` left out)."""
        pores = np.zeros((self.image, self.image), dtype=bool)
        p = self.pore
        for s, (i, j) in enumerate(self.corners):
            if s != skip:
                pores[i : i + p, j : j + p] = True
        return pores

    def solid(self, depth: int = 2) -> np.ndarray:
        """The extruded structure (image, image, depth), True = solid."""
        return np.repeat((~self.mask())[:, :, None], depth, axis=2)

    def copy(self) -> Squares:
        return Squares(self.corners.copy(), self.pore, self.image)


def check_squares(squares: Squares) -> None:
    """Raise ValueError when a square is out of bounds or two overlap."""
    c, p, n = np.asarray(squares.corners), squares.pore, squares.image
    if len(c) and (c.min() < 0 or c.max() > n - p):
        raise ValueError("a square lies out of bounds")
    if len(c) and int(squares.mask().sum()) != len(c) * p * p:
        raise ValueError("two squares overlap")


def squares_from_image(pores: np.ndarray, pore: int) -> Squares:
    """The squares of a pore image (True = pore), read in raster order: the first pore pixel is a
    square's top-left corner (nothing above or left of it is pore). ValueError when the image is
    not a union of non-overlapping ``pore`` x ``pore`` squares."""
    left = np.array(pores, dtype=bool)
    n, corners = left.shape[0], []
    while left.any():
        i, j = np.unravel_index(np.argmax(left), left.shape)
        block = left[i : i + pore, j : j + pore]
        if block.shape != (pore, pore) or not block.all():
            raise ValueError(f"pore pixel ({i}, {j}) is not the corner of a {pore}^2 square")
        left[i : i + pore, j : j + pore] = False
        corners.append((i, j))
    return Squares(np.array(corners, dtype=np.int64).reshape(-1, 2), pore, n)


def level_count(porosity: float, image: int, pore: int) -> int:
    """The square count of the porosity level nearest ``porosity`` (1 .. capacity)."""
    capacity = (image // pore) ** 2
    return int(np.clip(round(porosity * image**2 / pore**2), 1, capacity))


def proxy_k(pores: np.ndarray) -> float:
    """Kozeny-type estimate of k (up to a shape factor): the sum over 4-connected, periodic pore
    clusters of area^3 / perimeter^2, per pixel of the image."""
    labels, count = ndimage.label(pores)
    if count == 0:
        return 0.0
    # merge clusters that touch across the periodic edges
    parent = np.arange(count + 1)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a_edge, b_edge in ((labels[0], labels[-1]), (labels[:, 0], labels[:, -1])):
        both = (a_edge > 0) & (b_edge > 0)
        for a, b in zip(a_edge[both], b_edge[both], strict=True):
            ra, rb = find(int(a)), find(int(b))
            if ra != rb:
                parent[ra] = rb
    roots = np.array([find(a) for a in range(count + 1)])
    merged = roots[labels]
    merged[labels == 0] = 0
    area = np.bincount(merged.ravel(), minlength=count + 1).astype(float)
    # perimeter: pore pixels' sides facing solid (periodic)
    perimeter = np.zeros(count + 1)
    solid = ~pores
    for axis in (0, 1):
        for shift in (1, -1):
            faces = pores & np.roll(solid, shift, axis=axis)
            perimeter += np.bincount(merged[faces], minlength=count + 1)
    ok = (area > 0) & (perimeter > 0)
    ok[0] = False
    if not ok.any():  # no solid: one infinite cluster
        return math.inf
    return float(np.sum(area[ok] ** 3 / perimeter[ok] ** 2) / pores.size)


@dataclass
class Solve:
    """One solver call: k_z (voxel^2), its flag, seconds."""

    k: float
    flag: int
    seconds: float


def solve_squares(squares: Squares, flow: Mapping[str, Any] | None = None) -> Solve:
    """k_z of the extruded squares by the solver (two slices: an extrusion)."""
    from poredesign.transport import permeability

    options = dict(flow or {})
    options.setdefault("device", "cpu")
    t0 = time.perf_counter()
    result = permeability(squares.solid(2), FLOW_AXIS, name="search candidate", **options)
    return Solve(float(result.k), int(result.flag), time.perf_counter() - t0)


def error(k: float, target: float) -> float:
    """|log(k / target)|; infinite for a flagged or non-finite k."""
    if not (np.isfinite(k) and k > 0):
        return math.inf
    return abs(math.log(k / target))


@dataclass
class SearchResult:
    """The best solved design, its solver k and flag, and the search's record."""

    squares: Squares
    k: float
    flag: int
    target: tuple[float, float]
    solver_calls: int
    solver_seconds: float
    seconds: float
    history: list[float] = field(default_factory=list)  # best relative k error after each call
    k_solved: list[float] = field(default_factory=list)  # the solver's k of every call

    @property
    def porosity(self) -> float:
        return self.squares.porosity

    @property
    def k_error(self) -> float:
        """|k - k_target| / k_target."""
        return abs(self.k - self.target[1]) / self.target[1]

    def record(self) -> dict[str, Any]:
        return {
            "porosity": self.porosity,
            "k": self.k,
            "flag": self.flag,
            "flag_name": flag_names(self.flag),
            "target": list(self.target),
            "k_error": self.k_error,
            "solver_calls": self.solver_calls,
            "solver_seconds": self.solver_seconds,
            "seconds": self.seconds,
            "corners": self.squares.corners.tolist(),
            "pore": self.squares.pore,
            "image": self.squares.image,
        }


def _touching(squares: Squares, s: int, free: np.ndarray) -> np.ndarray:
    """Free corners (rows of ``free``) where square ``s`` would share a side with another."""
    p = squares.pore
    others = np.delete(squares.corners, s, axis=0)
    if len(others) == 0 or len(free) == 0:
        return free[:0]
    di = free[:, None, 0] - others[None, :, 0]
    dj = free[:, None, 1] - others[None, :, 1]
    side_i = (np.abs(di) == p) & (np.abs(dj) < p)
    side_j = (np.abs(dj) == p) & (np.abs(di) < p)
    return free[(side_i | side_j).any(axis=1)]


def _move(squares: Squares, rng: np.random.Generator, shift: int) -> bool:
    """One elementary move in place (shift, relocate or attach a random square); False when the
    drawn move had no free position."""
    n = len(squares.corners)
    if n == 0:
        return False
    s = int(rng.integers(n))
    kind = rng.integers(3)
    free = _free_positions(squares.mask(skip=s), squares.pore)
    if kind == 0:  # shift within `shift` pixels
        d = np.abs(free - squares.corners[s]).max(axis=1)
        free = free[(d > 0) & (d <= shift)]
    elif kind == 2:  # attach to another square
        free = _touching(squares, s, free)
    else:  # relocate anywhere free
        free = free[(free != squares.corners[s]).any(axis=1)]
    if len(free) == 0:
        return False
    squares.corners[s] = free[rng.integers(len(free))]
    return True


def _to_count(squares: Squares, count: int, rng: np.random.Generator) -> Squares:
    """Add squares at random free positions, or remove random ones, until there are ``count``."""
    squares = squares.copy()
    while len(squares.corners) > count:
        squares.corners = np.delete(squares.corners, rng.integers(len(squares.corners)), axis=0)
    while len(squares.corners) < count:
        free = _free_positions(squares.mask(), squares.pore)
        if len(free) == 0:
            raise ValueError(f"{count} squares do not fit from this start")
        squares.corners = np.vstack([squares.corners, free[rng.integers(len(free))][None]])
    return squares


def _chain(
    squares: Squares, rng: np.random.Generator, settings: SearchSettings, predicted
) -> tuple[Squares, float, float] | None:
    """A proposal: up to ``max_moves`` moves from ``squares``, each the best by ``predicted``
    (the proxy's k error) of ``proposals`` drawn single moves; the chain stops at the first move
    that predicts no improvement (the first move is always made). Returns (candidate, proxy,
    predicted error) or None when no move could be drawn."""
    chain, proxy, score = squares, math.nan, math.inf
    for step in range(int(settings.max_moves)):
        best = None
        for _ in range(int(settings.proposals)):
            candidate = chain.copy()
            if not _move(candidate, rng, int(settings.shift)):
                continue
            p = proxy_k(candidate.mask())
            e = predicted(p)
            if best is None or e < best[2]:
                best = (candidate, p, e)
        if best is None:
            break
        if step > 0 and best[2] >= score:
            break
        chain, proxy, score = best
    return None if chain is squares else (chain, proxy, score)


def random_squares(
    count: int, image: int, pore: int, rng: np.random.Generator, restarts: int = 20
) -> Squares:
    """``count`` squares placed as the generator places them (uniform among free positions,
    restarted when jammed); after ``restarts`` jams, the first ``count`` cells of the regular
    grid (the placement that always fits)."""
    empty = Squares(np.zeros((0, 2), dtype=np.int64), pore, image)
    for _ in range(restarts):
        try:
            return _to_count(empty, count, rng)
        except ValueError:
            continue
    cells = image // pore
    if count > cells**2:
        raise ValueError(f"{count} squares of {pore}^2 do not fit in {image}^2")
    grid = np.array([(pore * (c // cells), pore * (c % cells)) for c in range(count)])
    return Squares(grid.astype(np.int64).reshape(-1, 2), pore, image)


def search(
    target: Sequence[float],
    image: int,
    pore: int,
    rng: np.random.Generator,
    settings: SearchSettings = SearchSettings(),
    start: Squares | None = None,
    flow: Mapping[str, Any] | None = None,
    budget: int | None = None,
) -> SearchResult:
    """The search of the module docstring for ``target`` (porosity, k in voxel^2); ``budget``
    (solver calls) overrides the settings'. Returns the best solved design."""
    t0 = time.perf_counter()
    budget = int(settings.budget if budget is None else budget)
    if budget < 1:
        raise ValueError("the search needs a budget of at least one solver call")
    k_target = float(target[1])
    count = level_count(float(target[0]), image, pore)
    if start is None:
        current = random_squares(count, image, pore, rng)
    else:
        if (start.pore, start.image) != (pore, image):
            raise ValueError("the start's pore and image sizes differ from the search's")
        current = _to_count(start, count, rng)
    solves: list[Solve] = []

    def solved(squares: Squares) -> tuple[float, Solve]:
        result = solve_squares(squares, flow)
        solves.append(result)
        ok = result.flag == int(Flag.OK)
        return (error(result.k, k_target) if ok else math.inf), result

    e_cur, s_cur = solved(current)
    p_cur = proxy_k(current.mask())
    calibration = [math.log(s_cur.k / p_cur)] if np.isfinite(e_cur) and p_cur > 0 else []
    best, e_best, s_best = current.copy(), e_cur, s_cur
    history = [abs(math.expm1(e_best)) if np.isfinite(e_best) else math.inf]
    tol = math.log1p(float(settings.tolerance))
    cooling = 0.01 ** (1.0 / max(budget - 1, 1))
    temperature = float(settings.temperature)
    while len(solves) < budget and e_best > tol:
        # the proxy's scale from the last solves (log-mean of k / proxy)
        ratio = math.exp(float(np.mean(calibration[-3:]))) if calibration else 1.0
        chains = [
            _chain(current, rng, settings, lambda p, r=ratio: error(p * r, k_target))
            for _ in range(int(settings.keep))
        ]
        chains = [c for c in chains if c is not None]
        if not chains:
            break
        candidate, proxy = chains[int(np.argmin([c[2] for c in chains]))][:2]
        e_new, s_new = solved(candidate)
        if np.isfinite(e_new) and proxy > 0:
            calibration.append(math.log(s_new.k / proxy))
        if e_new < e_cur or (
            np.isfinite(e_new) and rng.random() < math.exp(-(e_new - e_cur) / temperature)
        ):
            current, e_cur, s_cur = candidate, e_new, s_new
        if e_new < e_best:
            best, e_best, s_best = candidate.copy(), e_new, s_new
        temperature *= cooling
        history.append(abs(math.expm1(e_best)) if np.isfinite(e_best) else math.inf)
    check_squares(best)
    return SearchResult(
        squares=best,
        k=s_best.k,
        flag=s_best.flag,
        target=(float(target[0]), k_target),
        solver_calls=len(solves),
        solver_seconds=float(sum(s.seconds for s in solves)),
        seconds=time.perf_counter() - t0,
        history=history,
        k_solved=[s.k for s in solves],
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
