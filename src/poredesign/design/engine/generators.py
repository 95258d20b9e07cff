"""The generator registry of the design engine: each generator is one registered class.

A generator states its parameter box (:class:`Param`: bounds and the scale the search moves on),
draws a structure from parameters, a seed and a size (bool (size, size, size) or the generator's
own shape, True = solid, indexed x, y, z), and says which target keys are meaningful for it. It
may give a physical proxy start (:meth:`Generator.start`: no solver call) and the porosity it
makes exactly (spinodoids: the threshold is the porosity quantile). A generator whose designs are
not (parameters, seed) pairs supplies its own search (:meth:`Generator.design`; square pores:
the placement search of :mod:`poredesign.design.search.squares`).

To add a generator: subclass :class:`Generator`, set ``name``, ``params`` and ``keys``,
implement ``draw`` (and ``start`` for a better first guess), and decorate it with
:func:`register`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from poredesign.design.engine.targets import AXES, KEYS


@dataclass(frozen=True)
class Param:
    """One generator parameter: its box [low, high], the scale the search moves on
    (``log``, ``logit`` for fractions or ``linear``), and whether it is a whole number."""

    name: str
    low: float
    high: float
    scale: str = "log"
    integer: bool = False

    def to_search(self, value: float) -> float:
        v = min(max(float(value), self.low), self.high)
        if self.scale == "log":
            return math.log(v)
        if self.scale == "logit":
            return math.log(v / (1 - v))
        return v

    def from_search(self, u: float) -> float:
        if self.scale == "log":
            v = math.exp(u)
        elif self.scale == "logit":
            v = 1 / (1 + math.exp(-u))
        else:
            v = u
        v = min(max(v, self.low), self.high)
        return float(round(v)) if self.integer else v


class Generator:
    """Base class: see the module docstring."""

    name: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()
    keys: ClassVar[tuple[str, ...]] = KEYS  # the target keys meaningful for this generator
    porosity_param: ClassVar[str | None] = None  # the parameter that is the porosity exactly
    default_size: ClassVar[int] = 48

    def draw(self, params: Mapping[str, Any], seed: int, size: int) -> np.ndarray:
        """bool structure, True = solid, indexed x, y, z; ValueError for parameters the
        generator cannot realise (the search treats that point as out of reach)."""
        raise NotImplementedError

    def start(self, target: Mapping[str, float], size: int) -> dict[str, float]:
        """A first guess from physical proxies (no solver call); default: the box centre."""
        return {
            p.name: p.from_search(0.5 * (p.to_search(p.low) + p.to_search(p.high)))
            for p in self.params
        }

    def infeasible(self, target: Mapping[str, float]) -> list[str]:
        """The generator's own a-priori bounds that ``target`` violates, in words."""
        out = []
        if self.porosity_param and "porosity" in target:
            p = next(p for p in self.params if p.name == self.porosity_param)
            if not p.low <= target["porosity"] <= p.high:
                out.append(
                    f"porosity={target['porosity']:g} lies outside this generator's "
                    f"[{p.low:g}, {p.high:g}]"
                )
        return out

    def check_size(self, size: int) -> None:
        if int(size) != size or size < 8:
            raise ValueError(f"--size {size}: the {self.name} generator needs a whole number >= 8")


REGISTRY: dict[str, type[Generator]] = {}


def register(cls: type[Generator]) -> type[Generator]:
    """Class decorator: add a generator to the registry under its ``name``."""
    if cls.name in REGISTRY:
        raise ValueError(f"generator {cls.name!r} is registered twice")
    REGISTRY[cls.name] = cls
    return cls


def get_generator(name: str, **options: Any) -> Generator:
    """The registered generator ``name`` (ValueError naming the known ones)."""
    if name not in REGISTRY:
        raise ValueError(f"unknown generator {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name](**options)


# Archie-type proxy eta ~ porosity^ARCHIE_M (tau ~ porosity^(1 - m)), fitted by eye on a few
# solved spinodoids (eps 0.6: eta 0.30-0.39); it only places the first guess.
ARCHIE_M = 2.0


def _porosity_guess(target: Mapping[str, float], default: float, m: float = ARCHIE_M) -> float:
    if "porosity" in target:
        return target["porosity"]
    etas = [target[f"eta_{a}"] for a in AXES if f"eta_{a}" in target]
    taus = [target[f"tau_{a}"] for a in AXES if f"tau_{a}" in target]
    if etas:
        return float(np.exp(np.mean(np.log(etas)) / m))
    if taus:
        return float(np.exp(np.mean(np.log(taus)) / (1 - m)))
    return default


def _anisotropy(target: Mapping[str, float], power: float) -> np.ndarray:
    """Per axis, (eta_i / geometric mean)^power (tau: inverse; k: its square root), 1 where
    the target is silent: longer features along i carry more transport along i."""
    ratio = np.ones(3)
    for i, a in enumerate(AXES):
        if f"eta_{a}" in target:
            ratio[i] = target[f"eta_{a}"]
        elif f"tau_{a}" in target:
            ratio[i] = 1 / target[f"tau_{a}"]
        elif f"k_{a}" in target:
            ratio[i] = math.sqrt(target[f"k_{a}"])
    given = [
        i for i, a in enumerate(AXES) if any(f"{p}_{a}" in target for p in ("eta", "tau", "k"))
    ]
    if len(given) < 2:
        return np.ones(3)
    mean = np.exp(np.mean(np.log(ratio[given])))
    out = np.ones(3)
    out[given] = (ratio[given] / mean) ** power
    return out


@register
class SpinodoidGenerator(Generator):
    """Spinodoids [R22] (:func:`poredesign.structures.spinodoid.spinodoid`): a_x, a_y, a_z (the
    feature wavelength along i is about size * a_i voxels) and the porosity, met exactly."""

    name = "spinodoid"
    params = (
        Param("a_x", 0.03, 0.5),
        Param("a_y", 0.03, 0.5),
        Param("a_z", 0.03, 0.5),
        Param("porosity", 0.15, 0.9, scale="logit"),
    )
    porosity_param = "porosity"

    def draw(self, params: Mapping[str, Any], seed: int, size: int) -> np.ndarray:
        from poredesign.structures.spinodoid import spinodoid

        a = (params["a_x"], params["a_y"], params["a_z"])
        return spinodoid(int(size), a, float(params["porosity"]), seed=int(seed), workers=1)

    def start(self, target: Mapping[str, float], size: int) -> dict[str, float]:
        """Porosity: the target's, else Archie's eta ~ eps^2; a: 0.1 scaled by the per-axis
        ratios (a_i ~ eta_i^1.5, seen on solved spinodoids), and for k by the Kozeny-type
        k ~ (size a)^2 (0.35 voxel^2 at a = 0.11, size 48, eps 0.6)."""
        eps = min(max(_porosity_guess(target, 0.6), 0.2), 0.85)
        scale = 0.1
        ks = [target[f"k_{a}"] for a in AXES if f"k_{a}" in target]
        if ks:
            k_ref = 0.35 * (eps / 0.6) ** 3 * ((1 - 0.6) / (1 - eps)) ** 2
            scale = 0.11 * (48 / size) * math.sqrt(np.exp(np.mean(np.log(ks))) / k_ref)
        a = np.clip(scale * _anisotropy(target, 1.5), 0.04, 0.4)
        return {"a_x": a[0], "a_y": a[1], "a_z": a[2], "porosity": eps}


# Poisson-Voronoi edge length per volume: 5.832 lambda^(2/3) (lambda: seeds per voxel)
VORONOI_EDGE_DENSITY = 5.832


@register
class VoronoiGenerator(Generator):
    """Voronoi-edge membranes [Z23] (:func:`poredesign.structures.voronoi.voronoi_membrane`),
    rasterised at the design size: n_points seeds, strut radius r (voxels), stretch e_x, e_y,
    e_z (smaller e elongates cells along that axis; only the ratios of e matter)."""

    name = "voronoi"
    params = (
        Param("n_points", 8, 400, integer=True),
        Param("radius", 0.6, 8.0),
        Param("e_x", 0.3, 1.0),
        Param("e_y", 0.3, 1.0),
        Param("e_z", 0.3, 1.0),
    )

    def draw(self, params: Mapping[str, Any], seed: int, size: int) -> np.ndarray:
        from poredesign.structures.voronoi import voronoi_membrane

        e = (params["e_x"], params["e_y"], params["e_z"])
        n_points = int(round(params["n_points"]))
        return voronoi_membrane(int(size), n_points, float(params["radius"]), e, seed=int(seed))

    def start(self, target: Mapping[str, float], size: int) -> dict[str, float]:
        """Cells of about 16 voxels (n = size^3 / 16^3, at least 20); the radius from the
        porosity (the target's, else eta ~ eps^1.5 as in open foams) by the Boolean strut model
        eps = exp(-pi r^2 L_V), L_V the Poisson-Voronoi edge length per volume; stretch from
        the per-axis ratios (e_i ~ 1 / ratio_i, scaled so the largest is 1)."""
        eps = min(max(_porosity_guess(target, 0.8, m=1.5), 0.3), 0.97)
        n_points = max(20.0, round(size**3 / 16**3))
        edge_density = VORONOI_EDGE_DENSITY * (n_points / size**3) ** (2 / 3)
        radius = math.sqrt(-math.log(eps) / (math.pi * edge_density))
        e = 1 / _anisotropy(target, 1.0)
        e = np.clip(e / e.max(), 0.35, 1.0)
        return {
            "n_points": n_points,
            "radius": min(max(radius, 0.7), 7.0),
            "e_x": e[0],
            "e_y": e[1],
            "e_z": e[2],
        }


@register
class SquaresGenerator(Generator):
    """Square-pore extrusions [A25] (:mod:`poredesign.structures.squares`): ``pore`` x ``pore``
    squares in a size x size image, extruded ``depth`` slices along z; flow along z. A design is
    a placement (the squares' corners) found by :func:`poredesign.design.search.search`, so
    porosity and k_z are the meaningful keys and this generator brings its own search."""

    name = "squares"
    params = (Param("n_pores", 1, 10_000, integer=True),)
    keys = ("porosity", "k_z")
    default_size = 50

    def __init__(self, pore: int = 5, depth: int = 4):
        if int(pore) != pore or pore < 1:
            raise ValueError(f"--pore {pore}: must be a whole number >= 1")
        if int(depth) != depth or depth < 1:
            raise ValueError(f"--depth {depth}: must be a whole number >= 1")
        self.pore, self.depth = int(pore), int(depth)

    def check_size(self, size: int) -> None:
        if int(size) != size or not self.pore <= size:
            raise ValueError(f"--image {size}: must be a whole number >= --pore {self.pore}")

    def draw(self, params: Mapping[str, Any], seed: int, size: int) -> np.ndarray:
        """The placement ``params['corners']`` when given (a design), else ``n_pores`` squares
        placed by :func:`poredesign.structures.squares.square_pores` from ``seed``."""
        from poredesign.design.search.squares import Squares, check_squares
        from poredesign.structures.squares import square_pores

        if "corners" in params:
            squares = Squares(
                np.asarray(params["corners"], np.int64).reshape(-1, 2), self.pore, size
            )
            check_squares(squares)
            return squares.solid(self.depth)
        return square_pores(int(params["n_pores"]), seed, size, self.pore, self.depth)

    def design(self, problem, flow: Mapping[str, Any]):
        from poredesign.design.engine.squares import design_squares

        return design_squares(self, problem, flow)


__all__ = [
    "REGISTRY",
    "Generator",
    "Param",
    "SpinodoidGenerator",
    "SquaresGenerator",
    "VoronoiGenerator",
    "get_generator",
    "register",
]
