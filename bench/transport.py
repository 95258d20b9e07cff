"""Transport benchmarks (issue 3): flow MLUPS and time to converge; diffusivity vs porespy.

    uv run python bench/transport.py [--device auto|cpu|cuda] [--threads T]
                                     [--flow-sizes 64 128] [--diffusion-size 100] [--skip-porespy]

Flow: million lattice updates per second of the fused D3Q19 TRT kernel (float32), counting every
voxel (MLUPS) and the fluid voxels only (MFLUPS; solid voxels are skipped), on (a) a slit (97 %
pore, the dense worst case) and (b) a spinodoid of porosity 0.5, a = 0.1 (feature length 0.1 N),
then the time to converge (default tolerance, automatic relaxation time) on the spinodoid.
CPU seconds per wall second is printed too: on a shared machine it shows how many cores the run
actually got. Defaults: sizes 64 and 128 on the CPU, 128 and 256 on CUDA.

Diffusivity: wall time per axis at 100^3 (spinodoid, porosity 0.5, a = 0.1) of the Krylov path
(CG + geometric-aggregation AMG) with porespy's lateral convention (closed faces) and the default
(periodic), side by side with ``porespy.simulations.tortuosity_fd`` (which needs openpnm) in the
same run, with the relative difference of eta (porespy: 1 / formation_factor). With ``--lbm`` the
D3Q7 lattice Boltzmann path is timed as well (slow on the CPU).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings

import numpy as np


def _spinodoid(n: int, porosity: float = 0.5, a: float = 0.1, seed: int = 1) -> np.ndarray:
    from poredesign.structures import spinodoid

    return spinodoid(n, (a, a, a), porosity, seed=seed)


def flow_throughput(solid: np.ndarray, steps: int, device: str, threads: int | None) -> dict:
    """Time ``steps`` fused steps on ``solid`` (after one warm-up step)."""
    from poredesign.transport import backend

    active = backend.ensure_backend(device, threads)
    import taichi as ti

    from poredesign.transport import flow_kernels as fk

    step = fk.step_kernel(active)

    n = solid.shape
    nv = solid.size
    src = ti.ndarray(ti.f32, 19 * nv)
    dst = ti.ndarray(ti.f32, 19 * nv)
    mask = ti.ndarray(ti.u32, nv)
    mask.from_numpy(fk.neighbour_mask(solid))
    fk.fill_zero(src)
    fk.fill_zero(dst)
    args = (*n, 1e-6, 0.0, 0.0, 1.0, 1.0 / (0.5 + 0.1875 / 0.5))
    step(src, dst, mask, *args)
    ti.sync()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps // 2):
        step(src, dst, mask, *args)
        step(dst, src, mask, *args)
    ti.sync()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    steps = 2 * (steps // 2)
    fluid = int((~solid).sum())
    return {
        "mlups": steps * nv / wall / 1e6,
        "mflups": steps * fluid / wall / 1e6,
        "cores": cpu / wall,
        "porosity": fluid / nv,
    }


def bench_flow(sizes, device, threads) -> None:
    from poredesign.transport import backend, permeability

    active = backend.ensure_backend(device, threads)
    print(f"\n## Flow (D3Q19 TRT, float32) on {active}, {backend.active_threads() or '-'} threads")
    print(f"{'case':<26} {'MLUPS':>8} {'MFLUPS':>8} {'cores':>6}")
    for n in sizes:
        steps = max(20, int(4e8 / n**3)) if active == "cpu" else max(200, int(2e10 / n**3))
        slit = np.zeros((n, n, n), dtype=bool)
        slit[:, :, : max(2, n // 32)] = True
        for name, solid in ((f"slit {n}^3", slit), (f"spinodoid 0.5 {n}^3", _spinodoid(n))):
            r = flow_throughput(solid, steps, device, threads)
            print(f"{name:<26} {r['mlups']:8.1f} {r['mflups']:8.1f} {r['cores']:6.2f}")
    print(
        f"\n{'time to converge':<26} {'k':>10} {'steps':>7} {'relax':>6} {'wall s':>8} {'MLUPS':>8}"
    )
    for n in sizes:
        solid = _spinodoid(n)
        for axis in ("x",):
            res = permeability(solid, axis, device=device, threads=threads)
            mlups = res.iterations * solid.size / res.wall_time / 1e6
            print(
                f"{'spinodoid 0.5 ' + str(n) + '^3 ' + axis:<26} {res.k:10.5f} "
                f"{res.iterations:7d} {res.relaxation_time:6.3f} {res.wall_time:8.2f} {mlups:8.1f}"
            )


def bench_diffusion(n: int, porespy: bool, lbm: bool, device: str, threads) -> None:
    from poredesign.transport import diffusivity

    solid = _spinodoid(n)
    print(f"\n## Diffusivity at {n}^3 (spinodoid, porosity {1 - solid.mean():.3f}, a = 0.1)")
    print(
        f"{'axis':<5} {'ours closed s':>13} {'eta closed':>11} {'porespy s':>10} "
        f"{'eta porespy':>12} {'rel diff':>9} {'speed-up':>9} {'ours periodic s':>15} "
        f"{'eta periodic':>12}"
    )
    if porespy:
        import porespy as ps

        logging.getLogger("porespy").setLevel(logging.ERROR)
        logging.getLogger("openpnm").setLevel(logging.ERROR)
    speedups = []
    for axis in range(3):
        closed = diffusivity(solid, axis, lateral="closed")
        periodic = diffusivity(solid, axis)
        ps_time, ps_eta = float("nan"), float("nan")
        if porespy:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                ref = ps.simulations.tortuosity_fd(~solid, axis=axis)
                ps_time = time.perf_counter() - t0
            ps_eta = 1.0 / ref.formation_factor
            speedups.append(ps_time / closed.wall_time)
        print(
            f"{'xyz'[axis]:<5} {closed.wall_time:13.2f} {closed.eta:11.6f} {ps_time:10.2f} "
            f"{ps_eta:12.6f} {closed.eta / ps_eta - 1:9.1e} {ps_time / closed.wall_time:9.1f} "
            f"{periodic.wall_time:15.2f} {periodic.eta:12.6f}"
        )
    if speedups:
        print(f"mean speed-up over porespy: {np.mean(speedups):.1f}x")
    if lbm:
        res = diffusivity(solid, 0, method="lbm", device=device, threads=threads)
        print(
            f"lbm x: eta {res.eta:.6f} in {res.wall_time:.1f} s, {res.iterations} steps "
            f"({res.iterations * solid.size / res.wall_time / 1e6:.1f} MLUPS)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--flow-sizes", type=int, nargs="*", default=None)
    parser.add_argument("--diffusion-size", type=int, default=100)
    parser.add_argument("--skip-porespy", action="store_true")
    parser.add_argument("--lbm", action="store_true", help="also time the D3Q7 LBM path")
    parser.add_argument("--skip-flow", action="store_true")
    parser.add_argument("--skip-diffusion", action="store_true")
    args = parser.parse_args()
    from poredesign.transport import backend

    device = backend.resolve_device(args.device)
    sizes = args.flow_sizes or ([64, 128] if device == "cpu" else [128, 256])
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    if not args.skip_flow:
        bench_flow(sizes, device, args.threads)
    if not args.skip_diffusion:
        bench_diffusion(args.diffusion_size, not args.skip_porespy, args.lbm, device, args.threads)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
