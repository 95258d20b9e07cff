"""Refinement variants on a finished default study: what the spread-aware tolerance floor and the
parameter-space correction change (rounds, evaluations, solver-validated MAPE, wall time).

    uv run python bench/refine.py --results results/default --target eta2 \
        --variant spread_aware=false --variant correction=false

Each variant reruns the refine stage of one target from the study's design-stage outputs
(``abc.json``, ``validation.json``, ``abc.db``, the trained CNN) with the study config's
``design.refine`` section changed as given, in its own work folder under ``--out``, and prints
one line per round; ``--json`` keeps the records.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml

from poredesign.config import validate_config
from poredesign.design.abc import AbcSettings
from poredesign.design.refine import RefineSettings
from poredesign.design.refine.spinodoid import RefineInputs, refine_spinodoid_design
from poredesign.jsonable import write_json
from poredesign.learn.fit import TrainSettings


def parse_value(text: str):
    return yaml.safe_load(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results/default")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--target", default="eta2")
    parser.add_argument("--variant", action="append", default=[], help="key=value of refine")
    parser.add_argument("--out", default="/tmp/poredesign-bench-refine")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    parser.add_argument("--no-baseline", action="store_true", help="skip the config's own run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load(Path(args.config).read_text())
    validate_config(config)
    results, design = Path(args.results), Path(args.results) / "design" / args.target
    variants = ([] if args.no_baseline else [{}]) + [
        {k: parse_value(v) for k, v in (item.split("=", 1) for item in spec.split(","))}
        for spec in args.variant
    ]
    records = {}
    for variant in variants:
        name = ",".join(f"{k}={v}" for k, v in variant.items()) or "config"
        refine = {**config["design"]["refine"], **variant}
        start = time.perf_counter()
        record = refine_spinodoid_design(
            config["design"]["abc"]["targets"][args.target],
            RefineInputs(
                model=results / "models" / "diffusivity" / "model.pt",
                structures=results / "structures.zarr",
                transport=results / "transport.zarr",
                summary=design / "abc.json",
                validation=design / "validation.json",
                database=design / "abc.db",
            ),
            Path(args.out) / args.target / name.replace("=", "-").replace(",", "_"),
            settings=RefineSettings.from_config(refine),
            abc=AbcSettings.from_config(config["design"]["abc"]),
            train=TrainSettings.for_model(
                "diffusivity",
                config["learn"]["diffusivity"],
                config["learn"],
                config["seed"],
                config["device"],
            ),
            ranges=config["spinodoid"],
            solver=config["transport"]["diffusion"],
            size=config["dataset"]["size"],
            seed=config["seed"],
            n_validation=config["design"]["validation"]["n_structures"],
            device=config["device"],
        )
        wall = time.perf_counter() - start
        records[name] = record
        for row in record["rounds"]:
            v, abc = row["validation"], row["abc"]
            print(
                f"{args.target} {name:28s} round {row['round']}: MAPE "
                f"{v['mape_solver_percent']:.2f} +- {v['mape_solver_se_percent']:.2f} %, "
                f"floor {abc.get('noise_floor_percent')}, final eps {abc.get('final_epsilon')}, "
                f"model evaluations {abc.get('model_evaluations')}, "
                f"acceptance {abc.get('acceptance_rates')}"
            )
        print(f"{args.target} {name}: {record['rounds_run']} rounds, {wall:.0f} s")
    if args.json:
        write_json(args.json, records)


if __name__ == "__main__":
    main()
