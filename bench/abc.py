"""ABC model throughput: evaluations per second (spinodoid generation + diffusivity CNN).

    uv run python bench/abc.py                       # default size N = 48, CPU (or CUDA if present)
    uv run python bench/abc.py --size 192 --device cuda --batch 256 --chunk 64

Measures (1) the model alone: :func:`poredesign.design.abc.spinodoid_cnn_model` on batches of
parameters from the flat spinodoid prior, split into generation (``spinodoid_batch``, torch FFT)
and prediction (``poredesign.learn.predict`` with an untrained ``DiffusivityCNN`` of the real
architecture: three axis rotations per structure; at N = 192 the 2x2x2-pooled 96^3 input, below
that the unpooled N^3 input, since the unpadded network needs >= 36 voxels per edge); and (2) a
short ABC-SMC run through ``run_abc`` and the batched sampler (pyABC overhead, History writes and
importance weights included). Weights are random, so only the speed is meaningful. Prints a
table and writes ``--json`` if given.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from poredesign.design.abc import run_abc, spinodoid_cnn_model, spinodoid_prior
from poredesign.devices import resolve_device
from poredesign.jsonable import write_json
from poredesign.learn import DiffusivityCNN, predict


def make_predictor(size: int, device: str, chunk: int, channels=(32, 48, 64)):
    """structures (B, N, N, N) bool -> eta (B, 3), and a label for the table."""
    pool = size >= 72  # paper: 192 -> 96 by 2x2x2 sums; the network needs >= 36 per edge
    input_size = size // 2 if pool else size
    model = DiffusivityCNN(input_size=input_size, channels=channels).to(device).eval()
    n_weights = sum(p.numel() for p in model.parameters())

    def predict_structures(solid):
        return predict(model, solid, pool=pool, batch_size=chunk)

    return predict_structures, (
        f"poredesign.learn.DiffusivityCNN{tuple(channels)}, input "
        f"{input_size}^3"
        f"{' (2x2x2-pooled)' if pool else ''}, {n_weights:,} weights"
    )


def bench_model(size, device, batch, chunk, repeats, channels, seed=0):
    predict_structures, label = make_predictor(size, device, chunk, channels)
    prior = spinodoid_prior()
    np.random.seed(seed)  # noqa: NPY002
    model = spinodoid_cnn_model(predict_structures, size, seed, batch_size=chunk, device=device)
    model(prior.rvs(size=min(batch, chunk)).to_numpy())  # warm-up (plans, kernels, allocator)
    model.timings.update(generate_s=0.0, predict_s=0.0, structures=0)
    thetas = [prior.rvs(size=batch).to_numpy() for _ in range(repeats)]
    start = time.perf_counter()
    for theta in thetas:
        eta = model(theta)
    wall = time.perf_counter() - start
    assert eta.shape == (batch, 3) and np.all(np.isfinite(eta))
    n = model.timings["structures"]
    return {
        "predictor": label,
        "structures": n,
        "wall_s": wall,
        "evals_per_s": n / wall,
        "generate_per_s": n / model.timings["generate_s"],
        "predict_per_s": n / model.timings["predict_s"],
    }, predict_structures


def bench_abc(size, device, chunk, predict_structures, population, tolerances, batch, seed=0):
    model = spinodoid_cnn_model(predict_structures, size, seed, batch_size=chunk, device=device)
    with tempfile.TemporaryDirectory() as tmp:
        # the untrained CNN predicts about the same eta for every structure: aim at that value so
        # the tolerances are reachable and the run is not dominated by rejections
        np.random.seed(seed)  # noqa: NPY002
        probe = model(spinodoid_prior().rvs(size=min(chunk, 16)).to_numpy())
        target = np.clip(np.median(probe, axis=0), 1e-3, None)
        model.counter = 0
        model.timings.update(generate_s=0.0, predict_s=0.0, structures=0)
        start = time.perf_counter()
        result = run_abc(
            model,
            target,
            spinodoid_prior(),
            population=population,
            tolerances=tolerances,
            db_path=Path(tmp) / "bench.db",
            seed=seed,
            batch_size=batch,
            min_batch_size=min(batch, chunk),
            min_acceptance_rate=0.01,
        )
        wall = time.perf_counter() - start
    return {
        "status": result.status,
        "generations": len(result.generations),
        "population": population,
        "model_evaluations": result.model_evaluations,
        "pyabc_evaluations": result.total_evaluations,
        "wall_s": wall,
        "evals_per_s": result.model_evaluations / wall,
        "model_share": (model.timings["generate_s"] + model.timings["predict_s"]) / wall,
    }


def bench_overhead(population=512, tolerances=(100.0, 30.0, 10.0, 5.0, 3.0), batch=4096, seed=0):
    """pyABC + BatchSampler cost per evaluation with a free model (what a fast GPU model sees)."""

    def null_model(theta):  # smooth, cheap, reaches the target: eta ~ porosity-weighted a_i
        a, eps = theta[:, :3], theta[:, 3:4]
        return eps * np.sqrt(a / a.max(axis=1, keepdims=True))

    start = time.perf_counter()
    result = run_abc(
        null_model,
        [0.4, 0.5, 0.6],
        spinodoid_prior(),
        population=population,
        tolerances=list(tolerances),
        db_path=None,
        seed=seed,
        batch_size=batch,
        min_acceptance_rate=1e-4,
    )
    wall = time.perf_counter() - start
    return {
        "population": population,
        "generations": len(result.generations),
        "model_evaluations": result.model_evaluations,
        "wall_s": wall,
        "evals_per_s": result.model_evaluations / wall,
        "status": result.status,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--batch", type=int, default=64, help="proposals per model call")
    parser.add_argument("--chunk", type=int, default=16, help="structures per GPU/CPU pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--population", type=int, default=64)
    parser.add_argument("--tolerances", type=float, nargs="+", default=[100.0, 30.0, 10.0])
    parser.add_argument(
        "--channels",
        type=int,
        nargs=3,
        default=[32, 48, 64],
        help="conv filters per block (paper: 32 48 64)",
    )
    parser.add_argument("--skip-abc", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.device = resolve_device(args.device)
    device_name = (
        torch.cuda.get_device_name()
        if args.device.startswith("cuda")
        else f"CPU ({torch.get_num_threads()} torch threads, {os.cpu_count()} cores)"
    )
    model_row, predictor = bench_model(
        args.size, args.device, args.batch, args.chunk, args.repeats, tuple(args.channels)
    )
    out = {
        "size": args.size,
        "device": device_name,
        "batch": args.batch,
        "chunk": args.chunk,
        "model": model_row,
    }
    print(f"# ABC model throughput, N = {args.size}, {device_name}")
    print(f"# {model_row['predictor']}")
    print(f"{'stage':44s} {'evals/s':>10s}")
    print(f"{'generation (spinodoid_batch)':44s} {model_row['generate_per_s']:10.2f}")
    print(f"{'CNN prediction (3 axes)':44s} {model_row['predict_per_s']:10.2f}")
    print(f"{'model = generation + CNN':44s} {model_row['evals_per_s']:10.2f}")
    if not args.skip_abc:
        abc_row = bench_abc(
            args.size,
            args.device,
            args.chunk,
            predictor,
            args.population,
            args.tolerances,
            args.batch,
        )
        out["abc"] = abc_row
        label = (
            f"ABC-SMC run (pop {args.population}, {abc_row['generations']} gen, "
            f"{abc_row['model_evaluations']} evals)"
        )
        print(
            f"{label:44s} {abc_row['evals_per_s']:10.2f}"
            f"   (model {100 * abc_row['model_share']:.0f} % of wall time, {abc_row['status']})"
        )
    overhead = bench_overhead()
    out["sampler_overhead"] = overhead
    label = (
        f"sampler only, free model (pop {overhead['population']}, "
        f"{overhead['model_evaluations']} evals)"
    )
    print(f"{label:44s} {overhead['evals_per_s']:10.0f}")
    if args.json:
        write_json(args.json, out)


if __name__ == "__main__":
    main()
