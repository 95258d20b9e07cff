"""``poredesign design --target porosity=P,k=K``: the generator-space search for one target.

Runs :func:`poredesign.design.search.search` on square pores (default: the reduced [A25]
study's 50 x 50 images with 5 x 5 pores, 100 pores per full image, the k scale of the
README's example targets; ``--image 100 --pore 10`` for the paper's) from a random placement at the
target's porosity level, and writes into ``--out``: ``design.npy`` and ``design.tif`` (the
extruded volume, True/255 = solid, indexed x, y, z; TIFF pages are z slices), ``design.json``
(the search's record: squares, solver k, flag, calls, seconds) and ``check.json`` (the written
volume solved again by :func:`poredesign.transport.properties`, and whether the target is below
the lower bound n k_1 that no arrangement of n squares goes under).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from poredesign.jsonable import write_json


def parse_target(text: str) -> tuple[float, float]:
    """``porosity=P,k=K`` (either order) as (P, K)."""
    values = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        try:
            values[name.strip()] = float(value)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"{part!r} is not name=number") from err
    if set(values) != {"porosity", "k"}:
        raise argparse.ArgumentTypeError(f"{text!r}: expected porosity=P,k=K")
    if not (0 < values["porosity"] < 1 and values["k"] > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: porosity must be in (0, 1) and k > 0")
    return values["porosity"], values["k"]


def add_design_command(commands) -> None:
    """The ``design`` subcommand on the CLI's subparsers."""
    p = commands.add_parser(
        "design",
        help="design square pores for a (porosity, k) target by a solver-in-the-loop search",
        description=(
            "Search square-pore arrangements for a (porosity, k) target, the lattice Boltzmann "
            "solver deciding, starting from a random placement at the target's porosity. The "
            "default images are 50 x 50 pixels with 5 x 5 pores (--image 100 --pore 10 for the "
            "paper's). Writes into --out: design.npy and design.tif (the extruded volume, "
            "solid = True/255, indexed x, y, z; TIFF pages are z slices), design.json (squares, "
            "solver k, calls, seconds) and check.json (the written volume solved again, and "
            "whether the target lies below the least k any arrangement of its squares reaches)."
        ),
    )
    p.add_argument("--target", required=True, type=parse_target, help="porosity=P,k=K (voxel^2)")
    p.add_argument("--image", type=int, default=50, help="image edge in pixels (default 50)")
    p.add_argument("--pore", type=int, default=5, help="square edge in pixels (default 5)")
    p.add_argument("--depth", type=int, default=4, help="slices of the written extrusion")
    p.add_argument("--budget", type=int, default=None, help="solver calls (default: settings')")
    p.add_argument("--seed", type=int, default=0, help="seed of the search (default 0)")
    p.add_argument("--out", default=None, help="output folder (default design-P-K)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads of the solver")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.set_defaults(func=run_design_command)


def run_design_command(args: argparse.Namespace) -> int:
    import tifffile

    from poredesign.design.benchmark import level_reach
    from poredesign.design.search import SearchSettings, level_count, search
    from poredesign.seeds import stream_rng
    from poredesign.transport import properties

    porosity, k = args.target
    if not 1 <= args.pore <= args.image:
        raise ValueError(f"--pore {args.pore} must be between 1 and --image {args.image}")
    flow = {"device": args.device, "threads": args.threads}
    out = Path(args.out or f"design-{porosity:g}-{k:g}")
    out.mkdir(parents=True, exist_ok=True)
    count = level_count(porosity, args.image, args.pore)
    bound = level_reach([count], args.image, args.pore, flow)[count]
    result = search(
        (porosity, k),
        args.image,
        args.pore,
        stream_rng(args.seed, "square_search", 0),
        SearchSettings(),
        flow=flow,
        budget=args.budget,
    )
    solid = result.squares.solid(args.depth)
    np.save(out / "design.npy", solid)
    tifffile.imwrite(out / "design.tif", np.moveaxis(solid, 2, 0).astype(np.uint8) * 255)
    write_json(out / "design.json", result.record() | {"history": result.history})
    again = properties(np.load(out / "design.npy"), axes=[2], which=("permeability",), flow=flow)
    check = {
        "target": {"porosity": porosity, "k": k},
        "porosity": again.porosity,
        "k": float(again.k[2]),
        "flag": int(again.flags_k[2]),
        "k_error": abs(float(again.k[2]) - k) / k,
        "porosity_error": abs(again.porosity - porosity) / porosity,
        "level": {"squares": count, "porosity": count * args.pore**2 / args.image**2},
        "lower_bound_k": bound["lower_bound"],
        "compact_block_k": bound["compact_block"],
        "infeasible": bool(k < bound["lower_bound"]),
        "solver_calls": result.solver_calls,
        "seconds": result.seconds,
    }
    write_json(out / "check.json", check)
    print(json.dumps(check, indent=1))
    return 0
