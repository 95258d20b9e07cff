"""Feasibility maps: what each generator reaches in its property planes, beside the design
targets of bench/design_engine.py (their flags from its --json output, when given).

    uv run python bench/design_reach.py [--count 120] [--size 32] [--designs rows.json ...] \
        [--out results/bench/design]

Writes reach-<generator>.png and reach-<generator>.json (the sampled structures) into --out.
Note: the maps are drawn at --size; the targets at their own design size (48^3).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from poredesign.design.engine import get_generator
from poredesign.design.engine.reach import plot_reach, sample_reach
from poredesign.jsonable import write_json

PLANES = {
    "spinodoid": [("porosity", "eta_x"), ("eta_x", "eta_z"), ("porosity", "tau_z")],
    "voronoi": [("porosity", "tau_z"), ("tau_x", "tau_z"), ("porosity", "eta_z")],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--designs", nargs="*", default=[])
    parser.add_argument("--out", default="results/bench/design")
    args = parser.parse_args()
    rows = [r for f in args.designs for r in json.loads(Path(f).read_text())]
    for name, planes in PLANES.items():
        keys = sorted({k for plane in planes for k in plane})
        t0 = time.perf_counter()
        samples = sample_reach(get_generator(name), keys, args.size, args.count, seed=0)
        write_json(Path(args.out) / f"reach-{name}.json", samples)
        targets = [
            (r["target_set"], r["target"], r["flag"]) for r in rows if r["generator"] == name
        ]
        title = f"{name}: {args.count} structures of {args.size}^3 uniform in the box; targets"
        plot_reach(samples, planes, targets, title, Path(args.out) / f"reach-{name}.png")
        print(f"{name}: {args.count} samples in {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
