"""The design engine on every generator: in-band, beyond-band and infeasible targets, each beside
random search in the same parameter box at the same number of solver calls.

    uv run python bench/design_engine.py [--only spinodoid|voronoi|squares|parameters] [--json F]
        [--size N --fresh M]   (parameters mode: [R22]'s targets at N^3, judged on M fresh seeds)

Targets that a generator reaches are made by solving one of its structures (parameters inside
the [R22]/[Z23] data band, or outside it, and a seed the search never tries), plus [R22]'s two
written targets; infeasible targets break a physical bound or lie beyond the parameter box.
Prints one line per target: flag, solver calls, CPU seconds, the largest relative error over the
target's keys (the solver's), the proxy start's error and random search's at equal calls (not
for infeasible targets, which are never scored).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from poredesign.design.engine import Problem, Solver, design, get_generator
from poredesign.design.engine.search import random_search
from poredesign.jsonable import write_json

SIZE = 48
ETA = ("eta_x", "eta_y", "eta_z")
K = ("porosity", "k_x", "k_y", "k_z")


def solved(generator: str, params: dict, keys, seed: int = 987_654, size: int = SIZE) -> dict:
    values = Solver(keys)(get_generator(generator).draw(params, seed, size))
    return {k: round(values[k], 5) for k in keys}


def spinodoid_targets() -> list[tuple[str, dict]]:
    def spin(ax, ay, az, eps):
        return {"a_x": ax, "a_y": ay, "a_z": az, "porosity": eps}

    rng = np.random.default_rng(2026)
    band = []
    for _ in range(3):  # [R22]'s dataset distribution (SPEC 1.1)
        beta = rng.uniform(1, 3)
        v = np.array([1, rng.uniform(1, beta), beta])
        v *= rng.uniform(0.05, 0.2) / v.mean()
        band.append(spin(*rng.permutation(v), rng.uniform(0.3, 0.85)))
    return [
        ("in-band R22 eta1", {"eta_x": 0.40, "eta_y": 0.50, "eta_z": 0.60}),
        ("in-band R22 eta2", {"eta_x": 0.25, "eta_y": 0.375, "eta_z": 0.50}),
        *[(f"in-band drawn {i}", solved("spinodoid", p, ETA)) for i, p in enumerate(band)],
        ("in-band k + porosity", solved("spinodoid", band[0], K)),
        ("beyond eps 0.25", solved("spinodoid", spin(0.1, 0.15, 0.2, 0.25), ETA)),
        ("beyond anisotropy 8", solved("spinodoid", spin(0.04, 0.1, 0.32, 0.5), ETA)),
        (
            "beyond eps 0.9 + tau",
            solved("spinodoid", spin(0.3, 0.2, 0.06, 0.9), ("tau_x", "tau_z")),
        ),
        ("infeasible eta > porosity", {"porosity": 0.5, "eta_x": 0.55}),
        ("infeasible eta 0.93", {"eta_x": 0.93, "eta_y": 0.93, "eta_z": 0.93}),
    ]


def voronoi_targets() -> list[tuple[str, dict]]:
    def vor(n, r, ex, ey, ez):
        return {"n_points": n, "radius": r, "e_x": ex, "e_y": ey, "e_z": ez}

    return [
        ("porosity + tau_z", {"porosity": 0.8, "tau_z": 1.3}),
        (
            "porosity + tau_x, stretched",
            solved("voronoi", vor(40, 2.2, 0.6, 1, 1), ("porosity", "tau_x")),
        ),
        ("porosity + k_z", {"porosity": 0.85, "k_z": 3.0}),
        (
            "porosity + k_z, stretched",
            solved("voronoi", vor(30, 1.8, 1, 1, 0.6), ("porosity", "k_z")),
        ),
        ("infeasible tau < 1", {"porosity": 0.8, "tau_z": 0.9}),
    ]


def squares_targets() -> list[tuple[str, dict]]:
    from poredesign.design.benchmark import level_reach
    from poredesign.structures.squares import square_pores

    reach = level_reach([25], 50, 5, {"device": "cpu"})[25]
    k_random = Solver(["k_z"])(square_pores(25, 3, 50, 5, 2))["k_z"]
    return [
        ("in-band (a random placement's k)", {"porosity": 0.25, "k_z": round(k_random, 5)}),
        ("beyond (3 x a random placement's k)", {"porosity": 0.25, "k_z": round(3 * k_random, 5)}),
        (
            "far beyond (0.95 x the compact block)",
            {"porosity": 0.25, "k_z": round(0.95 * reach["compact_block"], 5)},
        ),
        (
            "infeasible (k below n k_1)",
            {"porosity": 0.25, "k_z": round(0.5 * reach["lower_bound"], 5)},
        ),
    ]


def run(
    generator: str,
    targets,
    mode: str = "structure",
    budget: int = 200,
    size: int = SIZE,
    fresh: int = 16,
):
    rows = []
    gen = get_generator(generator)
    for name, target in targets:
        problem = Problem(gen, target, size, budget, seed=0, mode=mode, fresh=fresh)
        t0 = time.perf_counter()
        result = design(problem)
        wall = time.perf_counter() - t0
        row = {
            "generator": generator,
            "target_set": name,
            "target": target,
            "mode": mode,
            "flag": result.flag,
            "calls": result.calls,
            "cpu_s": round(result.cpu_seconds, 1),
            "wall_s": round(wall, 1),
            "max_error": result.max_error,
            # squares: the placement search's own measure, |expm1(|log(k / k_target)|)|
            "start_error": result.history[0] if result.history else None,
            "values": result.values,
            "stderr": result.stderr,
            "params": result.params,
            "seed": result.seed,
        }
        if generator != "squares" and mode == "structure" and result.flag != "infeasible":
            base = random_search(problem, result.calls)
            row["random_error"] = base.max_error
        rows.append(row)
        print(
            f"{generator:9s} {name:36s} {result.flag:11s} calls {result.calls:3d} "
            f"cpu {result.cpu_seconds:6.1f} s  error {result.max_error:7.2%}  "
            f"start {row['start_error'] or float('nan'):7.2%}  "
            f"random {row.get('random_error', float('nan')):7.2%}",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("spinodoid", "voronoi", "squares", "parameters"))
    parser.add_argument("--json", default=None)
    parser.add_argument("--size", type=int, default=SIZE, help="parameters mode: edge (voxels)")
    parser.add_argument("--fresh", type=int, default=16, help="parameters mode: fresh seeds")
    args = parser.parse_args()
    rows = []
    if args.only in (None, "spinodoid"):
        rows += run("spinodoid", spinodoid_targets())
    if args.only in (None, "voronoi"):
        rows += run("voronoi", voronoi_targets())
    if args.only in (None, "squares"):
        rows += run("squares", squares_targets(), budget=100, size=50)
    if args.only in (None, "parameters"):
        r22 = spinodoid_targets()[:2]  # the written targets, solved at any size
        budget = 184 + args.fresh
        rows += run("spinodoid", r22, "parameters", budget, args.size, args.fresh)
    if args.json:
        write_json(args.json, rows)


if __name__ == "__main__":
    main()
