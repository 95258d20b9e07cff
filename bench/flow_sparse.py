"""Dense vs pore-only (sparse) D3Q19 TRT flow lattice: throughput and memory on the same volume.

    uv run python bench/flow_sparse.py [--sizes 64 96] [--porosities 0.25 0.4] [--steps 40]
        [--rounds 3] [--device auto|cpu|cuda] [--threads T] [--converge]

Per spinodoid (a = 0.1, seed 1; the domain the solver runs on: closed pores filled): MLUPS
(million updates of all voxels per second), MFLUPS (fluid voxels per second), bytes of lattice
state per pore voxel and the state's memory relative to the dense lattice, for the dense step
(two buffers + mask, 156 B per voxel) and the sparse AA (one buffer, 152 B per pore voxel) and
pull (two buffers, 228 B) patterns; the fastest of ``--rounds`` interleaved rounds.
``--converge`` also runs :func:`permeability` to steady state with each storage and prints k,
steps and wall time. CPU seconds per wall second show how many cores the run got on a shared
machine.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _domain(n: int, porosity: float, axis: int = 0) -> np.ndarray:
    """Spinodoid of edge ``n`` with its closed pores filled (what the solver marches on)."""
    from poredesign.structures import spinodoid
    from poredesign.transport.connectivity import winding_mask

    return ~winding_mask(~spinodoid(n, (0.1, 0.1, 0.1), porosity, seed=1), axis)


def _timed(step, steps: int) -> tuple[float, float]:
    """Wall and CPU seconds of ``steps`` calls of ``step`` (after two warm-up calls: the AA
    pattern compiles one kernel for even and one for odd steps)."""
    import taichi as ti

    step()
    step()
    ti.sync()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    ti.sync()
    return time.perf_counter() - wall, time.process_time() - cpu


def steppers(
    solid: np.ndarray, kinds: tuple[str, ...], device: str, threads: int | None
) -> dict[str, tuple]:
    """For each lattice kind (``"dense"``, ``"sparse aa"``, ``"sparse pull"``) on ``solid``: a
    function doing one step (populations start at zero; the force makes them move) and the bytes
    of lattice state per pore voxel."""
    import taichi as ti

    from poredesign.transport import backend
    from poredesign.transport import flow_kernels as fk
    from poredesign.transport.flow_dense import DENSE_BYTES_PER_VOXEL
    from poredesign.transport.flow_sparse import SPARSE_BYTES_PER_PORE_VOXEL, SparseLattice

    active = backend.ensure_backend(device, threads)
    nv, nf = solid.size, int((~solid).sum())
    lp, lm = 1.0, 1.0 / (0.5 + 0.1875 / 0.5)
    g = (1e-6, 0.0, 0.0)
    out: dict[str, tuple] = {}
    for kind in kinds:
        if kind == "dense":
            kernel = fk.step_kernel(active)
            pair = [ti.ndarray(ti.f32, 19 * nv), ti.ndarray(ti.f32, 19 * nv)]
            mask = ti.ndarray(ti.u32, nv)
            mask.from_numpy(fk.neighbour_mask(solid))
            for buf in pair:
                fk.fill_zero(buf)

            def dense_step(pair=pair, mask=mask, kernel=kernel):
                kernel(pair[0], pair[1], mask, *solid.shape, *g, lp, lm)
                pair.reverse()

            out[kind] = (dense_step, DENSE_BYTES_PER_VOXEL * nv / nf)
        elif kind.startswith("sparse "):
            pattern = kind.split()[1]
            lattice = SparseLattice(solid, 0, g[0], device, threads, pattern=pattern)
            bufs = [lattice.buf.src, lattice.buf.dst]

            def sparse_step(lattice=lattice, bufs=bufs):
                lattice.step(bufs[0], bufs[1], lp, lm)
                bufs.reverse()

            out[kind] = (sparse_step, SPARSE_BYTES_PER_PORE_VOXEL[pattern])
        else:
            raise ValueError(f"lattice kind {kind!r}: use dense, 'sparse aa' or 'sparse pull'")
    return out


def throughput(
    solid: np.ndarray,
    steps: int,
    device: str,
    threads: int | None,
    rounds: int = 3,
    kinds: tuple[str, ...] = ("dense", "sparse aa", "sparse pull"),
) -> list[dict]:
    """Time ``steps`` steps of each lattice kind on ``solid``, interleaved over ``rounds``
    rounds; the fastest round of each (a shared machine's load varies). Per kind: MLUPS (all
    voxels), MFLUPS (fluid voxels), CPU seconds per wall second, bytes per pore voxel and the
    state's memory relative to the dense lattice."""
    from poredesign.transport.flow_dense import DENSE_BYTES_PER_VOXEL

    nv, nf = solid.size, int((~solid).sum())
    stepping = steppers(solid, kinds, device, threads)
    best: dict[str, tuple[float, float]] = {}
    for _ in range(rounds):
        for kind, (step, _) in stepping.items():
            wall, cpu = _timed(step, steps)
            if kind not in best or wall < best[kind][0]:
                best[kind] = (wall, cpu)
    rows = []
    for kind, (wall, cpu) in best.items():
        per_pore = stepping[kind][1]
        rows.append(
            dict(
                kind=kind,
                mlups=steps * nv / wall / 1e6,
                mflups=steps * nf / wall / 1e6,
                cores=cpu / wall,
                bytes_pore=per_pore,
                memory=per_pore * nf / (DENSE_BYTES_PER_VOXEL * nv),
            )
        )
    return rows


def converge(solid: np.ndarray, device: str, threads: int | None) -> None:
    """k, steps and wall seconds of the full solve with each storage."""
    from poredesign.transport import permeability

    for storage in ("dense", "sparse"):
        r = permeability(solid, "x", storage=storage, device=device, threads=threads)
        print(
            f"    converge {storage:<7} k {r.k:.8g}  steps {r.iterations}  "
            f"wall {r.wall_time:.2f} s",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[64, 96])
    parser.add_argument("--porosities", type=float, nargs="*", default=[0.25, 0.4])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; best kept")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--converge", action="store_true")
    args = parser.parse_args()
    from poredesign.transport import backend

    device = backend.ensure_backend(args.device, args.threads)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {device}")
    print(
        f"{'volume':<22} {'porosity':>8} {'lattice':<12} {'MLUPS':>7} {'MFLUPS':>7} "
        f"{'B/pore':>7} {'memory':>7} {'cores':>5}"
    )
    for n in args.sizes:
        for eps in args.porosities:
            solid = _domain(n, eps)
            flowing = 1.0 - solid.mean()
            for r in throughput(solid, args.steps, args.device, args.threads, args.rounds):
                print(
                    f"{f'spinodoid {eps} {n}^3':<22} {flowing:8.3f} {r['kind']:<12} "
                    f"{r['mlups']:7.1f} {r['mflups']:7.1f} {r['bytes_pore']:7.0f} "
                    f"{r['memory']:7.1%} {r['cores']:5.2f}",
                    flush=True,
                )
            if args.converge:
                converge(solid, args.device, args.threads)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
