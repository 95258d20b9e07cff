"""Bayesian optimisation cost per trial [Z23] (SPEC 4.2): generation + resize + encode + sampler.

    uv run python bench/bo.py                                   # small: 64^3 from 100^3, CPU
    uv run python bench/bo.py --size 128 --generation-size 200 --radius 3.4   # paper scale

Measures (1) the objective alone, per trial: a Voronoi membrane (n = 100, e = (1, 0.75, 1))
rasterised at ``--generation-size`` and resized to ``--size`` (``VoronoiSampler.build``), and its
latent mean through an untrained ``VAE3D`` of the paper's architecture at ``--size`` (channels
16-32-64-128, dense 2048, latent 256; random weights: only the speed is meaningful);
(2) a short end-to-end run of :func:`poredesign.design.bo.run.run_bo` (``--trials`` trials, SQLite
storage) with the per-trial split it records; (3) the GPSampler's own time per trial at given trial
counts (``--at``, default 100 and 1000): a study is filled with that many completed trials (random
parameters in the default search box, a smooth synthetic distance plus noise), then ``--asks`` GP
proposals are timed (``study.ask()``: GP fit + logEI optimisation), in memory and in SQLite.
Prints a table and writes ``--json`` if given.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

import numpy as np
import optuna
import torch

from poredesign.design.bo import PARAMS, build, gp_sampler, run_bo, search_bounds
from poredesign.devices import torch_device
from poredesign.jsonable import write_json
from poredesign.learn.vae import VAE3D
from poredesign.structures.voronoi import VoronoiSampler


def bench_objective(sampler, vae, reps):
    params = {"radius": sampler.radius, "n_points": 100, "e_x": 1.0, "e_y": 0.75, "e_z": 1.0}
    build(sampler, params, np.random.default_rng(0))  # numba compile / cache load
    vae.latent_means(np.zeros((1,) + (sampler.size,) * 3, bool))
    gen, enc = [], []
    for i in range(reps):
        t0 = time.perf_counter()
        solid, _ = build(sampler, params, np.random.default_rng(i + 1))
        t1 = time.perf_counter()
        vae.latent_means(solid[None], batch_size=1)
        enc.append(time.perf_counter() - t1)
        gen.append(t1 - t0)
    return float(np.median(gen)), float(np.median(enc))


def bench_run(sampler, vae, trials, startup):
    with tempfile.TemporaryDirectory() as tmp:
        res = run_bo(
            lambda s: vae.latent_means(s, batch_size=1),
            sampler,
            {"radius": sampler.radius, "n_points": 100, "stretch": [1.0, 0.75, 1.0]},
            name="bench",
            seed=0,
            db=os.path.join(tmp, "bo.db"),
            n_trials=trials,
            n_startup_trials=startup,
            repeats=1,
        )
    rep = res["repeats"][0]
    return rep["seconds"], res["wall_s"] / trials


def synthetic_trials(n, bounds, rng):
    """``n`` completed trials: uniform parameters, value = a smooth distance plus 1 % noise."""
    dists = {
        k: optuna.distributions.IntDistribution(*map(int, bounds[k]))
        if k == "n_points"
        else optuna.distributions.FloatDistribution(*bounds[k])
        for k in PARAMS
    }
    trials = []
    for _ in range(n):
        u = rng.uniform(size=5)
        params = {
            k: int(round(lo + ui * (hi - lo))) if k == "n_points" else lo + ui * (hi - lo)
            for (k, (lo, hi)), ui in zip(((k, bounds[k]) for k in PARAMS), u, strict=True)
        }
        value = float(np.linalg.norm(np.sin(3 * u) - np.sin(3 * 0.4)) + 0.01 * rng.normal())
        trials.append(optuna.trial.create_trial(params=params, distributions=dists, value=value))
    return trials, dists


def bench_gp(n, asks, storage_url, seed=0):
    bounds = search_bounds(None)
    rng = np.random.default_rng(seed)
    trials, dists = synthetic_trials(n, bounds, rng)
    study = optuna.create_study(
        storage=storage_url, direction="minimize", sampler=gp_sampler(seed, 20, False)
    )
    study.add_trials(trials)
    times = []
    for _ in range(asks):
        t0 = time.perf_counter()
        trial = study.ask(dists)
        times.append(time.perf_counter() - t0)
        u = [(trial.params[k] - bounds[k][0]) / (bounds[k][1] - bounds[k][0]) for k in PARAMS]
        study.tell(trial, float(np.linalg.norm(np.sin(3 * np.array(u)) - np.sin(1.2))))
    return float(np.median(times)), float(np.max(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--generation-size", type=int, default=100)
    ap.add_argument("--radius", type=float, default=1.7, help="strut radius at generation size")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, default=5, help="objective repetitions")
    ap.add_argument("--trials", type=int, default=25, help="end-to-end run_bo trials")
    ap.add_argument("--startup", type=int, default=20)
    ap.add_argument("--at", type=int, nargs="*", default=[100, 1000])
    ap.add_argument("--asks", type=int, default=5)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

    device = torch_device(args.device)
    sampler = VoronoiSampler(
        size=args.size, generation_size=args.generation_size, radius=args.radius
    )
    torch.manual_seed(0)
    vae = VAE3D(args.size).to(device).eval()
    out = {
        "size": args.size,
        "generation_size": args.generation_size,
        "device": str(device),
        "threads": args.threads,
        "load_average": os.getloadavg(),
    }
    out["generate_s"], out["encode_s"] = bench_objective(sampler, vae, args.reps)
    print(
        f"objective at {args.generation_size}^3 -> {args.size}^3 on {device}, "
        f"{args.threads} threads, load {out['load_average'][0]:.2f}"
    )
    print(f"  generate + resize  {out['generate_s']:.3f} s   encode {out['encode_s']:.3f} s")
    if args.trials:
        split, per_trial = bench_run(sampler, vae, args.trials, min(args.startup, args.trials))
        out["run_bo"] = {"trials": args.trials, "per_trial_s": per_trial, "split_s": split}
        print(
            f"run_bo, {args.trials} trials ({args.startup} random): {per_trial:.3f} s/trial; "
            f"build {split['build']:.3f}, encode {split['encode']:.3f}, "
            f"sampler + storage {split['sampler_and_storage']:.3f}"
        )
    out["gp"] = {}
    for n in args.at:
        with tempfile.TemporaryDirectory() as tmp:
            row = {
                "memory": bench_gp(n, args.asks, None),
                "sqlite": bench_gp(n, args.asks, f"sqlite:///{tmp}/gp.db"),
            }
        out["gp"][n] = row
        print(
            f"GPSampler ask() after {n:5d} trials: in memory {row['memory'][0]:.3f} s "
            f"(max {row['memory'][1]:.3f}), SQLite {row['sqlite'][0]:.3f} s "
            f"(max {row['sqlite'][1]:.3f})"
        )
    out["load_average_end"] = os.getloadavg()
    if args.json:
        write_json(args.json, out, indent=1)


if __name__ == "__main__":
    main()
