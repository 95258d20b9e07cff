"""Structures per second for each generator at paper size (prints a table; not a test).

    uv run python bench/generate.py [--repeats 5]

Spinodoid: 192^3 with both acceptance checks (numpy/scipy path used for datasets), and the batched
torch path (CUDA when present). Voronoi: 200^3 membrane plus the resize to 128^3. Squares: 100^3.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from poredesign.devices import resolve_device, synchronize, torch_cuda_available
from poredesign.structures import (
    SpinodoidSampler,
    both_phases_percolate,
    spinodoid,
    spinodoid_batch,
    square_pores,
)


def rate(fn, repeats: int, device: str = "cpu") -> float:
    """Calls of ``fn`` per second after one warm-up call (FFT plans, JIT, CUDA context)."""
    fn(0)
    start = time.perf_counter()
    for i in range(repeats):
        fn(i + 1)
    synchronize(device)  # queued CUDA work belongs to the timing
    return repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    sampler = SpinodoidSampler(size=192)
    thetas = [sampler.draw_params(np.random.default_rng(i)) for i in range(args.repeats + 1)]
    rows = []

    def spinodoid_checked(i: int) -> None:
        solid = spinodoid(192, thetas[i][:3], thetas[i][3], seed=i)
        both_phases_percolate(solid)

    rows.append(("spinodoid 192^3 + checks (numpy)", rate(spinodoid_checked, args.repeats)))
    rows.append(
        (
            "spinodoid 192^3, no checks (numpy)",
            rate(lambda i: spinodoid(192, thetas[i][:3], thetas[i][3], seed=i), args.repeats),
        )
    )
    for device in sorted({"cpu", resolve_device("auto")}):
        batch = args.batch if device == "cuda" else 2
        a = np.stack([t[:3] for t in thetas[:1]] * batch)
        eps = [thetas[0][3]] * batch

        def batched(i: int, device=device, batch=batch, a=a, eps=eps) -> None:
            spinodoid_batch(192, a, eps, seeds=range(i * batch, (i + 1) * batch), device=device)

        rows.append(
            (
                f"spinodoid 192^3 batched torch ({device}, batch {batch})",
                batch * rate(batched, max(1, args.repeats // 2), device),
            )
        )
    try:
        from poredesign.structures import resize_binary, voronoi_membrane
    except ImportError:
        rows.append(("voronoi 200^3", float("nan")))
    else:
        rows.append(
            (
                "voronoi 200^3 (n=100, r=3.4, e_x=0.6)",
                rate(
                    lambda i: voronoi_membrane(200, 100, 3.4, stretch=(0.6, 1.0, 1.0), seed=i),
                    args.repeats,
                ),
            )
        )
        membrane = voronoi_membrane(200, 100, 3.4, stretch=(0.6, 1.0, 1.0), seed=0)
        rows.append(
            ("resize 200^3 -> 128^3", rate(lambda i: resize_binary(membrane, 128), args.repeats))
        )
    rows.append(
        ("squares 100^3 (40 pores)", rate(lambda i: square_pores(40, seed=i), args.repeats))
    )

    gpu = ", no GPU"
    if torch_cuda_available():
        import torch

        gpu = f", GPU {torch.cuda.get_device_name()}"
    print(f"# generators on {os.cpu_count()} CPU cores{gpu}")
    print(f"{'generator':58s} {'structures/s':>12s} {'s/structure':>12s}")
    for name, value in rows:
        print(f"{name:58s} {value:12.2f} {1 / value:12.3f}")


if __name__ == "__main__":
    main()
