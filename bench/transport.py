"""Transport benchmarks: flow dense vs sparse lattice; diffusivity vs TauFactor and porespy.

    uv run python bench/transport.py [--device auto|cpu|cuda] [--threads T]
        [--volume TF-500x500x500-1x2x6-v3.tiff] [--flow-sizes 100 200 500]
        [--converge-sizes 100] [--rounds 3] [--diffusion-sizes 100 200 500] [--axes 0 1 2]
        [--lateral closed|periodic] [--skip-taufactor] [--taufactor-max 200]
        [--steady-sizes 100 200 500] [--cascade 2] [--steady-axis 1] [--rest-max 200]
        [--skip-porespy] [--porespy-max 200] [--timeout 1800] [--skip-flow] [--skip-diffusion]
        [--skip-steady]

Flow (D3Q19 TRT, float32), per volume and lattice in its own process: the dense lattice (two
population buffers + mask over every voxel, 156 B per voxel) and the pore-only sparse lattice
(one in-place AA buffer + int32 neighbour table, 152 B per pore voxel) on the domain the solver
marches on (closed pore clusters along x filled). Printed: million updates of all voxels per
second (MLUPS) and of the fluid voxels (MFLUPS, fluid-node updates), bytes of lattice state per
pore voxel, the state in GB, the process's peak RSS, CPU seconds per wall second (how many cores
the run got on a shared machine) and the load average; the best of ``--rounds`` timed rounds of
2e8 / N^3 steps (at least 6). A lattice whose state exceeds 85 % of the available memory is
skipped and said so. Then k, steps and wall time of the full solve with each lattice
(``--converge-sizes``). Volumes: with ``--volume``, its n^3 corner crops (default 100, 200, 500;
converged at 100); without, a slit (97 % pore, the dense worst case) and a spinodoid of porosity
0.5, a = 0.1, at 64 and 128 (CPU) or 128 and 256 (CUDA).

Flow to steady state (``--steady-sizes``, default 100 200 500 with ``--volume``): the converged
k of each crop along ``--steady-axis`` (y), sparse lattice, ``--lateral`` sides, as ``poredesign
simulate`` solves it, from rest (today's path; up to ``--rest-max``) and started from
``--cascade`` coarse levels (:mod:`poredesign.transport.flow_cascade`), each in its own process:
k and its difference from the start from rest, steps on the full grid and on each coarse level,
wall seconds, peak RSS and the load average.

Diffusivity: per size and axis, our Krylov path (CG + matrix-free geometric multigrid), TauFactor
2 on the CPU (``taufactor.Solver``, its default 1 % flux criterion; run through ``uv run --with
taufactor``, a throwaway environment) and porespy's ``tortuosity_fd`` (OpenPNM), each in its own
process: tau, its difference to ours, wall and CPU seconds, the process's peak RSS and the load
average before / after. The volume is the n^3 corner crop of TauFactor's public 500^3 test
volume (``--volume``; docs/paper/TF-500x500x500-1x2x6-v3.tiff.zip in tldr-group/taufactor; pore =
255, porosity 0.3; read as ``poredesign simulate`` reads a TIFF: x = columns, y = rows, z = pages,
so the page axis of TauFactor's published tau 4.2431 is z here) or, without it, a spinodoid of
porosity 0.3. Closed lateral faces by default
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


FLOW_LATTICES = ("dense", "sparse aa")  # the workflow's two storages (sparse = AA pattern)


def _flow_domain(case: str, n: int, path: str | None) -> np.ndarray:
    """The domain the flow solver marches on (closed pore clusters along x filled) for a slit
    (97 % pore, the dense worst case), a spinodoid of porosity 0.5 or the volume's n^3 crop."""
    from poredesign.transport.connectivity import winding_mask

    if case == "slit":
        solid = np.zeros((n, n, n), dtype=bool)
        solid[:, :, : max(2, n // 32)] = True
    elif case == "spinodoid":
        solid = _spinodoid(n)
    else:
        solid = _volume(n, path)
    return ~winding_mask(~solid, 0)


def flow_worker(args) -> dict:
    """One lattice on one domain in this process: throughput of ``args.steps`` steps (best of
    ``args.rounds``), bytes per pore voxel, the lattice state (GB) and, with ``--converge``, the
    full solve's k, steps and wall time. A lattice whose state would not fit in 85 % of the
    available memory is not allocated."""
    from flow_sparse import throughput

    from poredesign.transport.flow_dense import dense_lattice_bytes
    from poredesign.transport.flow_sparse import resolve_storage, sparse_lattice_bytes

    solid = _flow_domain(args.case, args.size, args.volume)
    porosity = 1.0 - float(solid.mean())
    storage = args.lattice.split()[0]
    state = (
        dense_lattice_bytes(solid.shape)
        if storage == "dense"
        else sparse_lattice_bytes(solid, args.lattice.split()[1])
    )
    out = {"porosity": porosity, "state_gb": state / 1e9}
    try:
        resolve_storage(storage, solid)  # refuses a dense lattice too large to index
    except ValueError as err:
        out["skipped"] = f"state {state / 1e9:.1f} GB; {str(err).split(';')[0]}"
        return out
    from poredesign.devices import available_memory

    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    available = available_memory() or total
    if state > 0.85 * available:
        out["skipped"] = f"state {state / 1e9:.1f} GB > 85 % of {available / 1e9:.1f} GB free"
        return out
    if args.converge:
        from poredesign.transport import permeability

        res = permeability(solid, "x", storage=storage, device=args.device, threads=args.threads)
        out.update(
            k=res.k, iterations=res.iterations, relax=res.relaxation_time, wall=res.wall_time
        )
        return out
    (row,) = throughput(
        solid, args.steps, args.device, args.threads, args.rounds, kinds=(args.lattice,)
    )
    out.update(row)
    return out


def _flow_cases(args, sizes) -> list[tuple[str, int]]:
    if args.volume:
        return [("volume", n) for n in sizes]
    return [(case, n) for n in sizes for case in ("slit", "spinodoid")]


def bench_flow(args, sizes, device) -> None:
    from poredesign.transport import backend

    active = backend.ensure_backend(device, args.threads)
    source = f"{args.volume} corner crops (pore = 255)" if args.volume else "slit, spinodoid 0.5"
    print(f"\n## Flow (D3Q19 TRT, float32) on {active}, {backend.active_threads() or '-'} threads")
    print(f"{source}; closed pores along x filled; one process per lattice (peak RSS)")
    header = (
        f"{'case':<18} {'porosity':>8} {'lattice':<10} {'steps':>5} {'MLUPS':>8} {'MFLUPS':>8} "
        f"{'B/pore':>6} {'state GB':>8} {'RSS GB':>6} {'cores':>5} {'load':>9}"
    )
    print(header)
    print("-" * len(header))
    for case, n in _flow_cases(args, sizes):
        nv = n**3
        steps = max(6, int(2e8 / nv)) if active == "cpu" else max(200, int(2e10 / nv))
        steps += steps % 2  # the AA pattern alternates even and odd steps
        for lattice in FLOW_LATTICES:
            extra = ("--case", case, "--lattice", lattice, "--steps", str(steps))
            r = _run_worker("flow", n, 0, args, extra)
            name = f"{case} {n}^3"
            if "error" in r or "skipped" in r:
                why = r.get("error") or f"{r['porosity']:8.3f} {lattice:<10} {r['skipped']}"
                print(f"{name:<18} {why}", flush=True)
                continue
            print(
                f"{name:<18} {r['porosity']:8.3f} {lattice:<10} {steps:>5} {r['mlups']:8.1f} "
                f"{r['mflups']:8.1f} {r['bytes_pore']:6.0f} {r['state_gb']:8.2f} "
                f"{r['rss_gb']:6.2f} {r['cores']:5.2f} {r['load'][0]:4.1f}-{r['load'][1]:<4.1f}",
                flush=True,
            )
    print(
        f"\n{'time to converge (x)':<18} {'lattice':<10} {'k':>10} {'steps':>7} {'relax':>6} "
        f"{'wall s':>8} {'MLUPS':>8} {'RSS GB':>6}"
    )
    for case, n in _flow_cases(args, args.converge_sizes or sizes):
        if case == "slit":
            continue
        for lattice in FLOW_LATTICES:
            r = _run_worker(
                "flow", n, 0, args, ("--case", case, "--lattice", lattice, "--converge")
            )
            name = f"{case} {n}^3"
            if "error" in r or "skipped" in r:
                print(f"{name:<18} {lattice:<10} {r.get('error') or r['skipped']}", flush=True)
                continue
            mlups = r["iterations"] * n**3 / r["wall"] / 1e6
            print(
                f"{name:<18} {lattice:<10} {r['k']:10.5f} {r['iterations']:7d} {r['relax']:6.3f} "
                f"{r['wall']:8.2f} {mlups:8.1f} {r['rss_gb']:6.2f}",
                flush=True,
            )


def steady_worker(args) -> dict:
    """One converged permeability (sparse lattice, axis ``args.axis``, ``args.lateral`` sides)
    of the volume's n^3 crop as ``poredesign simulate`` solves it: from rest (``--cascade 0``)
    or started from the coarse levels; k, steps on the full grid and per coarse level, wall."""
    from poredesign.transport import permeability

    solid = _volume(args.size, args.volume)
    wall = time.perf_counter()
    res = permeability(
        solid,
        args.axis,
        lateral=args.lateral,
        storage="sparse",
        cascade=args.cascade,
        device=args.device,
        threads=args.threads,
    )
    return {
        "k": res.k,
        "steps": res.iterations,
        "flag": int(res.flag),
        "levels": [[list(shape), steps, seconds] for shape, steps, seconds in res.cascade],
        "relax": res.relaxation_time,
        "wall": time.perf_counter() - wall,
    }


def bench_steady(args, sizes) -> None:
    """Converged k from rest and from the coarse-level cascade, each in its own process."""
    axis = "xyz"[args.steady_axis]
    print(
        f"\n## Flow to steady state: from rest vs started from {args.cascade} coarse level(s)"
        f" (sparse lattice, axis {axis}, {args.lateral} sides, tol 1e-4)"
    )
    header = (
        f"{'case':<14} {'start':<10} {'k':>10} {'dk %':>7} {'steps':>6} {'coarse steps':<18} "
        f"{'wall s':>8} {'RSS GB':>6} {'load':>9}"
    )
    print(header)
    print("-" * len(header))
    for n in sizes:
        rest = None
        for cascade in (0, args.cascade):
            name = f"crop {n}^3" if args.volume else f"spinodoid {n}^3"
            start = "rest" if cascade == 0 else f"cascade {cascade}"
            if cascade == 0 and n > args.rest_max:
                print(f"{name:<14} {start:<10} skipped (above --rest-max {args.rest_max})")
                continue
            extra = ("--cascade", str(cascade))
            r = _run_worker("steady", n, args.steady_axis, args, extra)
            if "error" in r:
                print(f"{name:<14} {start:<10} {r['error']}", flush=True)
                continue
            if cascade == 0:
                rest = r["k"]
            dk = "" if rest is None or cascade == 0 else f"{100 * (r['k'] / rest - 1):+.3f}"
            coarse = "+".join(str(steps) for _, steps, _ in r["levels"]) or "-"
            print(
                f"{name:<14} {start:<10} {r['k']:10.6g} {dk:>7} {r['steps']:6d} {coarse:<18} "
                f"{r['wall']:8.1f} {r['rss_gb']:6.2f} {r['load'][0]:4.1f}-{r['load'][1]:<4.1f}",
                flush=True,
            )


def _volume(n: int, path: str | None) -> np.ndarray:
    """Solid (True) of the n^3 corner crop of TauFactor's test volume (pore = 255), or a
    spinodoid of porosity 0.3 (a = 0.1) without one. The TIFF is read as ``poredesign
    simulate`` reads it (x = columns, y = rows, z = pages), so that the axes mean the same."""
    if path:
        from poredesign.structures.volume_io import read_tiff

        volume = read_tiff(path)
        if min(volume.shape) < n:
            raise SystemExit(f"{path}: shape {volume.shape} is smaller than {n}^3")
        return np.ascontiguousarray(volume[:n, :n, :n] != 255)
    return _spinodoid(n, porosity=0.3)


def worker(args) -> None:
    """One solve (or one flow lattice) in this process; prints one JSON line (eta, tau, wall,
    cpu, peak RSS, load average before / after)."""
    import json
    import resource

    load = os.getloadavg()[0]
    if args.worker in ("flow", "steady"):
        out = flow_worker(args) if args.worker == "flow" else steady_worker(args)
        out["rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        out["load"] = [load, os.getloadavg()[0]]
        print("RESULT " + json.dumps(out), flush=True)
        return
    solid = _volume(args.size, args.volume)
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


def _run_worker(kind: str, n: int, axis: int, args, extra: tuple[str, ...] = ()) -> dict:
    """Run ``worker`` in a fresh process (its own peak RSS); TauFactor through ``uv run --with``
    (a throwaway environment: TauFactor is a comparison, not a dependency)."""
    import json
    import subprocess
    import sys

    cmd = [sys.executable, __file__]
    if kind == "taufactor":
        cmd = ["uv", "run", "--with", "taufactor", "python", __file__]
    cmd += ["--worker", kind, "--size", str(n), "--axis", str(axis), "--lateral", args.lateral]
    cmd += ["--device", args.device, "--rounds", str(args.rounds), *extra]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
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
    parser.add_argument(
        "--flow-sizes",
        type=int,
        nargs="*",
        default=None,
        help="default 100 200 500 with --volume, else 64 128 (CPU) / 128 256 (CUDA)",
    )
    parser.add_argument(
        "--converge-sizes",
        type=int,
        nargs="*",
        default=None,
        help="sizes solved to steady state per lattice; default 100 with --volume, else the"
        " flow sizes",
    )
    parser.add_argument("--rounds", type=int, default=3, help="flow: timed rounds, best kept")
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
    parser.add_argument(
        "--steady-sizes",
        type=int,
        nargs="*",
        default=None,
        help="converged k from rest vs the cascade; default 100 200 500 with --volume, else 64",
    )
    parser.add_argument("--cascade", type=int, default=2, help="coarse levels of the cascade")
    parser.add_argument("--steady-axis", type=int, default=1, help="0/1/2 (default y)")
    parser.add_argument(
        "--rest-max", type=int, default=200, help="largest size solved from rest (hours above)"
    )
    parser.add_argument("--skip-steady", action="store_true")
    kinds = ("ours", "taufactor", "porespy", "flow", "steady")
    parser.add_argument("--worker", choices=kinds, help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--lattice", choices=FLOW_LATTICES, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--converge", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--axis", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    from poredesign.transport import backend

    device = backend.resolve_device(args.device)
    if args.flow_sizes:
        sizes = args.flow_sizes
    elif args.volume:
        sizes = [100, 200, 500]
    else:
        sizes = [64, 128] if device == "cpu" else [128, 256]
    if args.converge_sizes is None and args.volume:
        args.converge_sizes = [100]
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    if not args.skip_flow:
        bench_flow(args, sizes, device)
    if not args.skip_steady:
        steady = args.steady_sizes or ([100, 200, 500] if args.volume else [64])
        bench_steady(args, steady)
    if not args.skip_diffusion:
        bench_diffusion(args)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
