"""``poredesign design --generator G --target KEY=VALUE,...``: one design, certified by the solver.

Runs the design engine (:func:`poredesign.design.engine.design`) for one target on one
generator and writes into ``--out``: ``design.npy`` and ``design.tif`` (the design, True/255 =
solid, indexed x, y, z; TIFF pages are z slices), ``design.json`` (generator, parameters, seed,
the solver's properties, the target, solver calls, CPU seconds, flag) and ``check.json`` (the
written file solved again; with ``--mode parameters`` the files hold the first of the fresh
realisations and ``design.json`` the mean and standard error over all of them). ``-v`` logs each
solver call. Every option is checked before any solve; the files are written
into a temporary folder beside ``--out`` and moved in at the end, so a failed run leaves nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from poredesign.jsonable import write_json

TARGET_HELP = (
    "KEY=VALUE,... over porosity, k_x, k_y, k_z (voxel^2), eta_x, eta_y, eta_z (D_eff / D), "
    "tau_x, tau_y, tau_z (tortuosity factor); squares: porosity and k_z (k = k_z)"
)


def add_design_command(commands) -> None:
    """The ``design`` subcommand on the CLI's subparsers."""
    from poredesign.design.engine.generators import REGISTRY
    from poredesign.design.engine.search import MODES

    p = commands.add_parser(
        "design",
        help="design a structure for a property target by a search the solver decides",
        description=(
            "Search a generator's parameters and realisation seeds for a structure with the "
            "target properties, the solvers deciding every design. Writes into --out: "
            "design.npy and design.tif (the design, solid = True/255, indexed x, y, z; TIFF pages "
            "are z slices), design.json (generator, parameters, seed, the solver's properties, "
            "the target, solver calls, CPU seconds, flag) and check.json (the written file solved "
            "again). With --mode parameters the files hold the first of the fresh realisations "
            "and design.json the mean and standard error over all of them. A target out of reach "
            "ends with the nearest values reached. Every option is checked before any solve, and "
            "a failed run leaves nothing in --out; -v logs each solver call."
        ),
    )
    p.add_argument("--generator", default="squares", choices=sorted(REGISTRY))
    p.add_argument("--target", required=True, help=TARGET_HELP)
    p.add_argument("--size", type=int, default=None, help="edge in voxels (default 48; squares 50)")
    p.add_argument("--mode", default="structure", choices=MODES, help="default structure")
    p.add_argument(
        "--budget", type=int, default=None, help="solver calls (default 200; squares 100)"
    )
    p.add_argument("--tolerance", type=float, default=0.01, help="relative, per key (default 0.01)")
    p.add_argument("--seed", type=int, default=0, help="seed of the search (default 0)")
    p.add_argument("--out", default=None, help="output folder (default design-<generator>-<seed>)")
    p.add_argument("--image", type=int, default=None, help="squares: image edge (= --size)")
    p.add_argument("--pore", type=int, default=5, help="squares: square edge in pixels (default 5)")
    p.add_argument("--depth", type=int, default=4, help="squares: slices of the extrusion")
    p.add_argument("--threads", type=int, default=None, help="CPU threads of the flow solver")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.set_defaults(func=run_design_command)


def build_problem(args: argparse.Namespace):
    """The design problem of the command's options; ValueError naming the option and what is
    allowed (nothing is solved or written before this passes)."""
    from poredesign.design.engine import Problem, get_generator, parse_target

    if args.generator == "squares":
        generator = get_generator("squares", pore=args.pore, depth=args.depth)
        if args.size is not None and args.image is not None and args.size != args.image:
            raise ValueError(f"--size {args.size} and --image {args.image} differ")
        size = args.size or args.image or generator.default_size
        text = ",".join(
            "k_z" + part[1:] if part.strip().startswith("k=") else part
            for part in args.target.split(",")
        )
        target = parse_target(text, (*generator.keys,))
    else:
        generator = get_generator(args.generator)
        size = args.size or generator.default_size
        target = parse_target(args.target, generator.keys)
    budget = (
        args.budget if args.budget is not None else (100 if args.generator == "squares" else 200)
    )
    problem = Problem(
        generator, target, size, budget, args.seed, args.mode, tolerance=args.tolerance
    )
    problem.check()
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads {args.threads}: must be >= 1")
    return problem


def run_design_command(args: argparse.Namespace) -> int:
    import sys

    import tifffile

    from poredesign.design.engine import Solver, design
    from poredesign.design.engine.targets import relative_errors

    problem = build_problem(args)
    flow = {"device": args.device, "threads": args.threads}
    out = Path(args.out or f"design-{problem.generator.name}-{problem.seed}")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder")
    result = design(problem, flow)
    out.parent.mkdir(parents=True, exist_ok=True)
    solid = problem.generator.draw(result.params, result.seed, problem.size)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        np.save(work / "design.npy", np.asarray(solid, dtype=bool))
        tifffile.imwrite(
            work / "design.tif",
            np.moveaxis(solid, 2, 0).astype(np.uint8) * 255,
            photometric="minisblack",
        )
        write_json(work / "design.json", result.record() | {"size": problem.size})
        solver = Solver(problem.target, flow)
        again = solver(np.load(work / "design.npy"), name=str(out / "design.npy"))
        check = {
            "target": problem.target,
            "properties": again,
            "relative_error": relative_errors(again, problem.target),
            "design_flag": result.flag,
            "infeasible": result.flag == "infeasible",
            "reasons": result.reasons,
            "solver_calls": result.calls,
            "cpu_seconds": result.cpu_seconds,
            "seconds": result.seconds,
        }
        if problem.mode == "structure":
            check["matches_design"] = all(
                abs(again[k] - result.values[k]) <= 1e-9 * abs(result.values[k])
                for k in problem.target
            )
        if problem.generator.name == "squares":
            check |= _squares_check(again, result)
        write_json(work / "check.json", check)
        out.mkdir(exist_ok=True)
        for name in ("design.npy", "design.tif", "design.json", "check.json"):
            (work / name).replace(out / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(check, indent=1))
    if result.flag != "reached":
        nearest = ", ".join(f"{k}={again[k]:.4g}" for k in problem.target)
        print(
            f"poredesign design: target {result.flag.replace('_', ' ')} "
            f"({'; '.join(result.reasons)}); nearest reachable: {nearest}",
            file=sys.stderr,
        )
    return 0


def _squares_check(again: dict, result) -> dict:
    """The square-pore fields of ``check.json``: k along z, the level and its lower bound."""
    target = result.target
    return {
        "porosity": again["porosity"],
        "k": again["k_z"],
        "flag": 0 if np.isfinite(again["k_z"]) else 1,
        "k_error": abs(again["k_z"] - target["k_z"]) / target["k_z"],
        "porosity_error": abs(again["porosity"] - target["porosity"]) / target["porosity"],
        "level": result.extra["level"],
        "lower_bound_k": result.extra["lower_bound_k"],
        "compact_block_k": result.extra["compact_block_k"],
    }
