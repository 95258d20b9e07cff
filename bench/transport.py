"""Transport benchmarks: flow MLUPS and time to converge; diffusivity vs TauFactor and porespy.

    uv run python bench/transport.py [--device auto|cpu|cuda] [--threads T] [--flow-sizes 64 128]
        [--diffusion-sizes 100 200 500] [--axes 0 1 2] [--volume TF-500x500x500-1x2x6-v3.tiff]
        [--lateral closed|periodic] [--skip-taufactor] [--taufactor-max 200]
        [--skip-porespy] [--porespy-max 200] [--timeout 1800] [--skip-flow] [--skip-diffusion]

Flow: million lattice updates per second of the fused D3Q19 TRT kernel (float32), counting every
voxel (MLUPS) and the fluid voxels only (MFLUPS; solid voxels are skipped), on (a) a slit (97 %
pore, the dense worst case) and (b) a spinodoid of porosity 0.5, a = 0.1 (feature length 0.1 N),
then the time to converge (default tolerance, automatic relaxation time) on the spinodoid.
CPU seconds per wall second is printed too: on a shared machine it shows how many cores the run
actually got. Defaults: sizes 64 and 128 on the CPU, 128 and 256 on CUDA.

Diffusivity: per size and axis, our Krylov path (CG + matrix-free geometric multigrid), TauFactor
2 on the CPU (``taufactor.Solver``, its default 1 % flux criterion; run through ``uv run --with
taufactor``, a throwaway environment) and porespy's ``tortuosity_fd`` (OpenPNM), each in its own
process: tau, its difference to ours, wall and CPU seconds, the process's peak RSS and the load
average before / after. The volume is the n^3 corner crop of TauFactor's public 500^3 test
volume (``--volume``; docs/paper/TF-500x500x500-1x2x6-v3.tiff.zip in tldr-group/taufactor; pore =
255, porosity 0.3) or, without it, a spinodoid of porosity 0.3. Closed lateral faces by default
(TauFactor's and porespy's convention). Sizes above ``--taufactor-max`` / ``--porespy-max`` skip
those (porespy's network does not fit in memory at 500^3; TauFactor's SOR on 2 CPU cores would
take hours there).
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


def _volume(n: int, path: str | None) -> np.ndarray:
    """Solid (True) of the n^3 corner crop of TauFactor's test volume (pore = 255), or a
    spinodoid of porosity 0.3 (a = 0.1) without one."""
    if path:
        import tifffile

        volume = tifffile.imread(path)
        if min(volume.shape) < n:
            raise SystemExit(f"{path}: shape {volume.shape} is smaller than {n}^3")
        return np.ascontiguousarray(volume[:n, :n, :n] != 255)
    return _spinodoid(n, porosity=0.3)


def worker(args) -> None:
    """One solve in this process; prints one JSON line (eta, tau, wall, cpu, peak RSS)."""
    import json
    import resource

    solid = _volume(args.size, args.volume)
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    if args.worker == "ours":
        from poredesign.transport import diffusivity

        res = diffusivity(solid, args.axis, lateral=args.lateral)
        out = {"eta": res.eta, "tau": res.tau, "iterations": res.iterations}
    elif args.worker == "taufactor":
        import taufactor

        img = np.ascontiguousarray(np.moveaxis(~solid, args.axis, 0)).astype(np.uint8)
        solver = taufactor.Solver(img, device="cpu")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            solver.solve(verbose=False)
        tau = float(np.ravel(solver.tau)[0])  # TauFactor gives one tau per batch image
        porosity = float(img.mean())
        out = {"eta": porosity / tau, "tau": tau, "iterations": -1}
    else:
        import porespy as ps

        logging.getLogger("porespy").setLevel(logging.ERROR)
        logging.getLogger("openpnm").setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = ps.simulations.tortuosity_fd(~solid, axis=args.axis)
        eta = 1.0 / ref.formation_factor
        out = {"eta": eta, "tau": float(np.mean(~solid)) / eta, "iterations": -1}
    out["wall"] = time.perf_counter() - wall
    out["cpu"] = time.process_time() - cpu
    out["rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    out["load"] = [load, os.getloadavg()[0]]
    print("RESULT " + json.dumps(out), flush=True)


def _run_worker(kind: str, n: int, axis: int, args) -> dict | None:
    """Run ``worker`` in a fresh process (its own peak RSS); TauFactor through ``uv run --with``
    (a throwaway environment: TauFactor is a comparison, not a dependency)."""
    import json
    import subprocess
    import sys

    cmd = [sys.executable, __file__]
    if kind == "taufactor":
        cmd = ["uv", "run", "--with", "taufactor", "python", __file__]
    cmd += ["--worker", kind, "--size", str(n), "--axis", str(axis), "--lateral", args.lateral]
    if args.volume:
        cmd += ["--volume", args.volume]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=args.timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"over {args.timeout:.0f} s"}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return {"error": tail[0][:80]}


def bench_diffusion(args) -> None:
    source = (
        f"TauFactor's test volume {args.volume} (pore = 255), corner crops"
        if args.volume
        else "spinodoid, porosity 0.3, a = 0.1 (no --volume given)"
    )
    print(f"\n## Diffusivity, {args.lateral} lateral faces: {source}")
    print("one process per solve: wall and CPU seconds, peak RSS of that process (GB)")
    header = (
        f"{'size':>5} {'axis':>4} {'solver':>10} {'tau':>9} {'rel tau':>9} {'iter':>5} "
        f"{'wall s':>8} {'cpu s':>8} {'RSS GB':>7} {'load':>10}"
    )
    print(header)
    print("-" * len(header))
    for n in args.diffusion_sizes:
        for axis in args.axes:
            kinds = ["ours"]
            if not args.skip_taufactor and n <= args.taufactor_max:
                kinds.append("taufactor")
            if not args.skip_porespy and n <= args.porespy_max:
                kinds.append("porespy")
            ours_tau = None
            for kind in kinds:
                r = _run_worker(kind, n, axis, args)
                if "error" in r:
                    print(f"{n:>5} {'xyz'[axis]:>4} {kind:>10} {r['error']}", flush=True)
                    continue
                if kind == "ours":
                    ours_tau = r["tau"]
                rel = r["tau"] / ours_tau - 1 if ours_tau else float("nan")
                print(
                    f"{n:>5} {'xyz'[axis]:>4} {kind:>10} {r['tau']:9.4f} {rel:9.1e} "
                    f"{r['iterations']:>5} {r['wall']:8.1f} {r['cpu']:8.1f} {r['rss_gb']:7.2f} "
                    f"{r['load'][0]:4.1f}-{r['load'][1]:<4.1f}",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--flow-sizes", type=int, nargs="*", default=None)
    parser.add_argument("--diffusion-sizes", type=int, nargs="*", default=[100, 200])
    parser.add_argument("--axes", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument(
        "--volume", help="TauFactor's 500^3 test TIFF (TF-500x500x500-1x2x6-v3.tiff)"
    )
    parser.add_argument("--lateral", default="closed", choices=("closed", "periodic"))
    parser.add_argument("--skip-porespy", action="store_true")
    parser.add_argument("--porespy-max", type=int, default=200, help="largest size for porespy")
    parser.add_argument("--skip-taufactor", action="store_true")
    parser.add_argument("--taufactor-max", type=int, default=200, help="largest for TauFactor")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per solve")
    parser.add_argument("--skip-flow", action="store_true")
    parser.add_argument("--skip-diffusion", action="store_true")
    kinds = ("ours", "taufactor", "porespy")
    parser.add_argument("--worker", choices=kinds, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--axis", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    from poredesign.transport import backend

    device = backend.resolve_device(args.device)
    sizes = args.flow_sizes or ([64, 128] if device == "cpu" else [128, 256])
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    if not args.skip_flow:
        bench_flow(sizes, device, args.threads)
    if not args.skip_diffusion:
        bench_diffusion(args)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
