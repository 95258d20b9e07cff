"""Throughput of the [A25] square-pore chain: solver labels per second and latent design steps.

    uv run python bench/latent_design.py                      # CPU (or CUDA if present)
    uv run python bench/latent_design.py --device cuda --targets 100 --starts 100

- solver labels/s: k_z of 100 x 100 square-pore extrusions (10..40 pores of 10 x 10, the paper's
  set) by the D3Q19 TRT solver, which solves an extrusion on two slices (first solve, which
  compiles the kernels, left out), with 1 and 2 Taichi threads;
- designs/s: candidate-steps per second (targets x starts x steps / s) of the batched latent
  descent through decode and re-encode (:func:`poredesign.design.gradient.latent_descent`),
  for the small study's narrow 2D pVAE and the default-width 2D pVAE with the paper's latent size
  250 (untrained weights: only the speed means anything). The descent never stops early here
  (loss bound 0, patience above the step count).

Prints a table; ``--json`` writes the numbers.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from poredesign.design.gradient import latent_descent, reencoded_objective
from poredesign.devices import torch_device
from poredesign.jsonable import write_json
from poredesign.learn import PropertyVAE
from poredesign.structures.sampling import draw_structure, make_sampler
from poredesign.transport.flow import permeability

PVAES = {
    "narrow (8-32 ch, hidden 128, latent 16)": dict(
        channels=(8, 16, 32, 32), hidden=128, latent_dim=16
    ),
    "default width (16-128 ch, hidden 512, latent 250)": dict(latent_dim=250),
}


def solver_rate(n: int, threads: int, device: str) -> tuple[float, float]:
    """Labels per second and mean k over ``n`` structures (after one warm-up solve)."""
    sampler = make_sampler("squares", 100, {"n_pores_range": [10, 40], "pore": 10, "depth": 100})
    solids = [draw_structure(sampler, 7, i).solid for i in range(n + 1)]
    permeability(solids[0], 2, device=device, threads=threads)
    start = time.perf_counter()
    ks = [permeability(s, 2, device=device, threads=threads).k for s in solids[1:]]
    return n / (time.perf_counter() - start), float(np.mean(ks))


def design_rate(hparams: dict, targets: int, starts: int, steps: int, device) -> float:
    torch.manual_seed(0)
    model = PropertyVAE(100, dims=2, **hparams).to(device).eval().requires_grad_(False)
    model.set_target_range([0.1, 0.3], [0.4, 2.0])
    z0 = torch.randn(targets, starts, model.hparams.latent_dim, device=device)
    y = torch.rand(targets, 2, device=device)
    result = latent_descent(
        z0,
        y,
        reencoded_objective(model, [1.0, 1.0]),
        max_steps=steps,
        patience=steps + 1,
        loss_bound=0.0,
        chunk=targets * starts,
        log_every=0,
    )
    return result.candidate_steps_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--structures", type=int, default=20)
    parser.add_argument("--targets", type=int, default=10)
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--json")
    args = parser.parse_args()
    device = torch_device(args.device)
    solver_device = "cuda" if device.type == "cuda" else "cpu"
    rows = {}
    for threads in (1, 2):
        rate, k = solver_rate(args.structures, threads, solver_device)
        rows[f"solver labels/s, 100x100 extrusion, {threads} thread(s)"] = rate
        print(f"solver, {threads} thread(s): {rate:.2f} labels/s (mean k {k:.3f} voxel^2)")
    for name, hparams in PVAES.items():
        rate = design_rate(hparams, args.targets, args.starts, args.steps, device)
        rows[f"designs/s (candidate-steps), {name}"] = rate
        print(f"descent, {name}: {rate:.1f} candidate-steps/s on {device}")
    print(f"\n| measure ({device}, torch threads {torch.get_num_threads()}) | value |\n|---|---:|")
    for name, value in rows.items():
        print(f"| {name} | {value:.2f} |")
    if args.json:
        write_json(args.json, rows)


if __name__ == "__main__":
    main()
