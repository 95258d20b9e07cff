"""Command line: ``poredesign simulate FILE --property ... --axis ...`` and
``poredesign verify STORE ...`` (chunk checksums of zarr stores) and
``poredesign design --generator G --target KEY=VALUE,...`` (a design for a property target on
squares, spinodoids or Voronoi membranes, the solver deciding: :mod:`poredesign.design.engine`).

``--property permeability|diffusivity|all``, ``--axis x|y|z|all``.

FILE is a binary volume (True/1 = solid, indexed x, y, z): ``.npy``; a TIFF stack (a multi-page
``.tif``/``.tiff`` or a folder of slices; pages are z slices as in ImageJ); a raw binary (any other
suffix, with ``--shape NX NY NZ --dtype uint8``); or a structure store ``*.zarr`` with
``--index I``. A volume holding exactly two values (e.g. 0/255 from a TIFF) is read as
pore = the lower, solid = the higher value. Prints a table (or JSON with ``--json``).

``--crop x0:x1,y0:y1,z0:z1`` solves a sub-volume (voxel ranges, end exclusive, Python slices:
an empty bound is the volume's edge) and ``--crop N`` the centred cube of edge N. Long solves
report progress on stderr (iterations, residual, ETA; ``--quiet`` turns it off). A volume whose
flow lattice would not fit in the available memory, or has more pore voxels than the lattice can
index, is refused before any work with the memory it needs.

Permeability along ``--axis all`` is the diagonal tensor from one set-up shared by the three
axes. A long flow run saves its state every ``--checkpoint-every`` seconds, when the step budget
runs out and on SIGTERM, in ``--checkpoint-dir``; the same command run again continues from it
(a state saved for another volume, crop, axis or solver setting is never used). ``--cascade N``
starts the flow from its solution on the volume coarsened by 2 (recursively, N levels).

Pore phase: ``--pore-value V`` reads voxels equal to V as pore and every other value as solid
(e.g. ``--pore-value 255`` for a segmented TIFF whose white voxels are pore, which the default
would read as solid and give eta = 0); ``--invert`` swaps pore and solid after reading (after
``--pore-value`` when both are given).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from poredesign.devices import available_memory
from poredesign.jsonable import jsonable
from poredesign.runlog import error_line

PROPERTIES = ("permeability", "diffusivity")


def load_volume(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    """The volume named on the command line (bool, True = solid, after ``--pore-value`` and
    ``--invert``) and a label for messages."""
    solid, label = _read_volume(args)
    if getattr(args, "invert", False):
        solid = ~solid
    return solid, label


def _read_volume(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    pore_value = getattr(args, "pore_value", None)
    path = Path(args.file)
    if path.suffix.lower() == ".zarr":
        from poredesign.store import StructureStore

        structures = StructureStore(path)
        if args.index is None:
            raise SystemExit(
                f"{path} is a structure store: give --index (0..{len(structures) - 1})"
            )
        if not 0 <= args.index < len(structures):
            raise SystemExit(
                f"--index {args.index} is out of range 0..{len(structures) - 1} for {path}"
            )
        first = int(structures.attrs.get("first_index", 0))
        label = f"structure {first + args.index} of {path}"
        solid = structures[args.index]
        if pore_value is not None:
            from poredesign.structures.imported import pore_phase_by_value

            try:
                solid = pore_phase_by_value(solid, pore_value, label)
            except ValueError as err:
                raise SystemExit(str(err)) from err
        return solid, label
    if not path.exists():
        raise SystemExit(f"{path}: no such file or folder")
    from poredesign.structures.checks import validate_binary
    from poredesign.structures.imported import pore_phase_by_value, read_volume
    from poredesign.structures.segment import check_not_blank

    try:
        volume = read_volume(
            path,
            shape=args.shape,
            dtype=args.dtype,
            byte_order=args.byte_order,
            offset=args.offset,
            order=args.order,
        )
        check_not_blank(volume, str(path))
        if pore_value is not None:
            volume = pore_phase_by_value(volume, pore_value, str(path))
        else:
            # two values other than 0/1 (e.g. 0/255 from a TIFF) are read as pore/solid
            volume = validate_binary(volume, str(path), two_values=True)
    except ValueError as err:
        message = str(err) if str(path) in str(err) else f"{path}: {err}"
        raise SystemExit(message) from err
    except Exception as err:  # a damaged or foreign file: name it, whatever the reader raised
        raise SystemExit(f"{path}: cannot read a volume from it ({error_line(err)})") from err
    return volume, str(path)


def parse_crop(text: str, shape: Sequence[int]) -> tuple[slice, slice, slice]:
    """The slices of ``--crop``: ``x0:x1,y0:y1,z0:z1`` (end exclusive, empty = edge) or one
    integer N (the centred cube of edge N). Raises ValueError naming what is wrong."""
    shape = tuple(int(s) for s in shape)
    text = text.strip()
    if ":" not in text and "," not in text:
        try:
            edge = int(text)
        except ValueError:
            raise ValueError(
                f"--crop {text!r}: give x0:x1,y0:y1,z0:z1 or a cube edge (an integer)"
            ) from None
        if not 2 <= edge <= min(shape):
            raise ValueError(f"--crop {edge}: a cube edge must be 2..{min(shape)} for {shape}")
        return tuple(slice((n - edge) // 2, (n - edge) // 2 + edge) for n in shape)
    parts = text.split(",")
    if len(parts) != 3:
        raise ValueError(f"--crop {text!r}: give three ranges x0:x1,y0:y1,z0:z1")
    slices = []
    for axis, (part, n) in enumerate(zip(parts, shape, strict=True)):
        bounds = part.split(":")
        try:
            if len(bounds) != 2:
                raise ValueError
            lo = int(bounds[0]) if bounds[0].strip() else 0
            hi = int(bounds[1]) if bounds[1].strip() else n
        except ValueError:
            raise ValueError(f"--crop {text!r}: range {part!r} is not lo:hi") from None
        if not 0 <= lo < hi <= n or hi - lo < 2:
            raise ValueError(
                f"--crop {text!r}: {'xyz'[axis]} range {lo}:{hi} must lie in 0:{n} "
                f"and hold at least 2 voxels (volume shape {shape})"
            )
        slices.append(slice(lo, hi))
    return tuple(slices)


def _check_flow_memory(solid: np.ndarray, label: str, storage: str, factor: int = 1) -> None:
    """Refuse (one line) a flow run whose lattice (``storage``: dense, sparse or auto;
    ``factor`` x: mirroring) would not fit in the available memory."""
    from poredesign.transport.flow_dense import DENSE_BYTES_PER_VOXEL, dense_lattice_bytes
    from poredesign.transport.flow_sparse import (
        SETUP_BYTES_PER_VOXEL,
        SPARSE_BYTES_PER_PORE_VOXEL,
        lattice_limit_error,
        resolve_storage,
        sparse_lattice_bytes,
    )

    too_big = lattice_limit_error(solid, storage, factor)
    if too_big:  # more pore voxels than the lattice can index
        raise SystemExit(f"{label}: {too_big}")
    try:
        chosen = resolve_storage(storage, solid)
    except ValueError as err:  # a dense lattice too large to index
        raise SystemExit(f"{label}: {err}") from err
    if chosen == "sparse":
        need = factor * sparse_lattice_bytes(solid, peak=True)
        what = (
            f"the sparse D3Q19 lattice ({SPARSE_BYTES_PER_PORE_VOXEL['aa']} B per pore voxel,"
            f" + {SETUP_BYTES_PER_VOXEL} B per voxel and a block while it is built)"
        )
    else:
        need = factor * dense_lattice_bytes(solid.shape)
        what = f"the dense D3Q19 lattice ({DENSE_BYTES_PER_VOXEL} B per voxel)"
    available = available_memory()
    if available is not None and need > 0.9 * available:
        raise SystemExit(
            f"{label}: permeability on {tuple(int(n) for n in solid.shape)} needs about "
            f"{need / 1e9:.1f} GB for {what}, {available / 1e9:.1f} GB available: solve a "
            f"sub-volume with --crop"
        )


def _simulate(args: argparse.Namespace) -> int:
    from poredesign.transport import properties
    from poredesign.transport.flow_checkpoint import FlowInterrupted
    from poredesign.transport.progress import ProgressLine
    from poredesign.transport.results import AXES

    if args.extrapolate and (
        len(args.extrapolate) not in (2, 3) or sorted(set(args.extrapolate)) != args.extrapolate
    ):
        raise SystemExit(f"--extrapolate {args.extrapolate}: give two or three increasing levels")
    solid, label = _load_cropped(args)
    wanted = PROPERTIES if args.property == "all" else (args.property,)
    axes = (0, 1, 2) if args.axis == "all" else (AXES.index(args.axis),)
    finest = max(args.extrapolate or [args.refine])
    if "permeability" in wanted and args.device != "cuda":
        copies = (2 if args.mirror else 1) * finest**3
        _check_flow_memory(solid, label, args.storage, copies)

    def progress(what: str, axis: int):
        return None if args.quiet else ProgressLine(f"{what} {AXES[axis]}")

    flow, diffusion = _solver_options(args)
    extrapolated = {}
    try:
        solved_here = wanted if not args.extrapolate else tuple(set(wanted) - {"permeability"})
        props = properties(
            solid,
            axes=axes,
            which=("porosity",) + tuple(solved_here),
            flow=dict(flow, refine=args.refine),
            diffusion=diffusion,
            voxel_size=args.voxel_size,
            name=label,
            progress=progress,
        )
        if args.extrapolate and "permeability" in wanted:
            extrapolated = _extrapolate(solid, axes, args, flow, label, progress, props)
    except ValueError as err:
        message = str(err)  # the input checks already name the input
        raise SystemExit(message if message.startswith(label) else f"{label}: {message}") from err
    except FlowInterrupted as err:
        print(f"{label}: permeability {err}", file=sys.stderr)
        return 128 + signal.SIGTERM
    if args.json:
        _print_json(label, solid.shape, props, axes, wanted, extrapolated)
    else:
        k_unit = "m^2" if args.voxel_size else "voxel^2"
        _print_table(label, solid.shape, props, axes, wanted, extrapolated, k_unit)
    return 0


def _load_cropped(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    """The volume as asked (``--crop`` applied) and how messages name it."""
    solid, label = load_volume(args)
    if args.crop:
        try:
            crop = parse_crop(args.crop, solid.shape)
        except ValueError as err:
            raise SystemExit(f"{label}: {err}") from err
        solid = np.ascontiguousarray(solid[crop])
        ranges = ",".join(f"{c.start}:{c.stop}" for c in crop)
        label = f"{label} [{ranges}]"
    return solid, label


def _solver_options(args: argparse.Namespace) -> tuple[dict, dict]:
    """The flow and diffusion solvers' options from the command line."""
    flow = {"device": args.device, "threads": args.threads, "mirror": args.mirror}
    flow["lateral"] = args.lateral
    flow["storage"] = args.storage
    flow["cascade"] = args.cascade
    flow["relaxation_time"] = args.relaxation_time
    if args.checkpoint_every > 0:
        flow["checkpoint_dir"] = args.checkpoint_dir
        flow["checkpoint_every"] = args.checkpoint_every
    if args.max_steps:
        flow["max_steps"] = args.max_steps
    diffusion = {"method": args.method, "lateral": args.lateral}
    if args.method == "lbm":
        diffusion |= {"device": args.device, "threads": args.threads}
    return flow, diffusion


def _print_json(label, shape, props, axes, wanted, extrapolated) -> None:
    """One JSON document on stdout; notes on stderr."""
    from poredesign.transport.results import AXES

    out = {"source": label, "shape": list(shape), "porosity": props.porosity, "axes": []}
    for axis in axes:
        row = {"axis": AXES[axis]}
        if "permeability" in wanted:
            r = props.permeability_results[axis]
            row["permeability"] = r.as_dict()
            if axis in extrapolated:
                row["refinement"] = extrapolated[axis].as_dict()
        if "diffusivity" in wanted:
            row["diffusivity"] = props.diffusivity_results[axis].as_dict()
        out["axes"].append(row)
    print(json.dumps(jsonable(out), indent=2, default=str))
    for message in _checkpoint_notes(props):
        print(f"note: {message}", file=sys.stderr)


def _table_rows(props, axes, wanted) -> list[list[str]]:
    """One row per axis: k, steps and seconds; eta, tau, effective porosity, iterations and
    seconds; the flags."""
    from poredesign.transport.results import AXES, flag_names

    rows = []
    for axis in axes:
        row = [AXES[axis]]
        flags = []
        if "permeability" in wanted:
            r = props.permeability_results[axis]
            row += [_fmt(props.k[axis], ".6g"), str(r.iterations), f"{r.wall_time:.2f}"]
            flags.append(f"k:{flag_names(r.flag)}")
        if "diffusivity" in wanted:
            r = props.diffusivity_results[axis]
            row += [
                _fmt(r.eta, ".6f"),
                _fmt(r.tau, ".4f"),
                _fmt(r.porosity_eff, ".4f"),
                str(r.iterations),
                f"{r.wall_time:.2f}",
            ]
            flags.append(f"eta:{flag_names(r.flag)}")
        row.append(" ".join(flags))
        rows.append(row)
    return rows


def _print_table(label, shape, props, axes, wanted, extrapolated, k_unit: str) -> None:
    """The results as a table on stdout; flagged results' messages and the refinement limits
    below it."""
    from poredesign.transport.results import AXES

    print(f"{label}: shape {tuple(shape)}, porosity {props.porosity:.6f}")
    columns = ["axis"]
    if "permeability" in wanted:
        columns += [f"k [{k_unit}]", "steps", "s"]
    if "diffusivity" in wanted:
        columns += ["eta", "tau", "eps_eff", "iter", "s"]
    columns.append("flags")
    rows = _table_rows(props, axes, wanted)
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))
    messages = [
        r.message
        for d in (props.permeability_results, props.diffusivity_results)
        for r in d.values()
        if r.flag
    ]
    for message in messages + _checkpoint_notes(props):
        print(f"note: {message}", file=sys.stderr)
    for axis, e in extrapolated.items():
        ks = ", ".join(f"N={n}: {_fmt(k, '.6g')}" for n, k in zip(e.levels, e.k, strict=True))
        how = "measured" if e.order_measured else "assumed"
        print(
            f"k_{AXES[axis]} refined ({ks}) -> limit {_fmt(e.k_limit, '.6g')} +- "
            f"{_fmt(e.uncertainty, '.2g')} {k_unit} (order {e.order:.2f}, {how})"
        )


def _extrapolate(solid, axes, args, flow, label, progress, props) -> dict:
    """k at each refinement of --extrapolate and its Richardson limit per axis; the finest
    level's result goes into ``props`` (the table's k)."""
    from poredesign.transport.flow_refine import permeability_extrapolated
    from poredesign.transport.results import Flag

    out = permeability_extrapolated(
        solid,
        axes,
        levels=args.extrapolate,
        voxel_size=args.voxel_size,
        name=label,
        progress=lambda axis: progress("permeability", axis),
        **flow,
    )
    for axis, e in out.items():
        finest = e.results[-1]
        props.permeability_results[axis] = finest
        props.k[axis] = finest.k if finest.k_m2 is None else finest.k_m2
        props.flags_k[axis] = int(Flag(finest.flag))
    return out


def _checkpoint_notes(props) -> list[str]:
    """Where the flow state of a run that spent its step budget was saved."""
    return [
        f"flow state along {'xyz'[axis]} saved in {r.checkpoint}: rerun to continue"
        for axis, r in props.permeability_results.items()
        if r.checkpoint
    ]


def _verify(args: argparse.Namespace) -> int:
    from poredesign.store import verify_store

    for path in args.stores:
        print(f"{path}: {verify_store(path)} chunks verified")
    return 0


def _fmt(value: float, spec: str) -> str:
    return (
        "nan"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else format(value, spec)
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="poredesign",
        description="Transport properties of one volume (simulate), checksums of structure "
        "stores (verify) and structures designed for a property target on any generator, checked "
        "by the solver (design).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (default: one line)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_simulate_command(commands)
    _add_verify_command(commands)
    from poredesign.design.engine.command import add_design_command

    add_design_command(commands)
    return parser


def _add_simulate_command(commands: Any) -> None:
    """``poredesign simulate``: what to read, how to solve, how to report."""
    sim = commands.add_parser(
        "simulate",
        help="transport properties of one volume",
        description="Permeability (D3Q19 TRT lattice Boltzmann) and/or effective diffusivity "
        "(eta = D_eff / D, tau = porosity / eta) of one binary volume, True/1 = solid. Axes: a "
        "TIFF stack's columns are x, its rows y and its pages (or the files of a folder, in "
        "natural order) z, as in ImageJ/Fiji; a .npy array is (x, y, z) as stored; a raw file "
        "is x fastest (--order F) unless --order C.",
    )
    _add_input_options(sim)
    _add_solver_options(sim)
    _add_flow_options(sim)
    _add_output_options(sim)
    sim.set_defaults(func=_simulate)


def _add_verify_command(commands: Any) -> None:
    """``poredesign verify``: stores against their integrity records."""
    ver = commands.add_parser(
        "verify",
        help="check zarr stores against their recorded chunk checksums",
        description="Check that every chunk of each store is present and unchanged since the "
        "store was written (its integrity record); exit 1 naming the store, array and chunk "
        "otherwise.",
    )
    ver.add_argument("stores", nargs="+", help="zarr stores (.zarr folders)")
    ver.set_defaults(func=_verify)


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    """The volume: file, format, pore phase, crop, which properties along which axes."""
    parser.add_argument(
        "file",
        help=".npy, TIFF (multi-page file or folder of slices: columns x, rows y, pages z), raw "
        "binary, or a structures .zarr",
    )
    parser.add_argument("--property", choices=(*PROPERTIES, "all"), default="permeability")
    parser.add_argument("--axis", choices=("x", "y", "z", "all"), default="all")
    parser.add_argument(
        "--index", type=_at_least(0), help="structure index in a .zarr structure store"
    )
    parser.add_argument(
        "--shape", type=int, nargs=3, metavar=("NX", "NY", "NZ"), help="raw files: shape in voxels"
    )
    parser.add_argument("--dtype", help="raw files: voxel type, e.g. uint8")
    parser.add_argument("--byte-order", default="little", choices=("little", "big"))
    parser.add_argument(
        "--offset", type=_at_least(0), default=0, help="raw files: header bytes to skip"
    )
    parser.add_argument(
        "--order",
        default="F",
        choices=("F", "C"),
        help="raw files: F = x fastest (ImageJ), C = z fastest",
    )
    parser.add_argument(
        "--pore-value",
        type=_finite_float,
        metavar="V",
        help="voxels equal to V are pore, every other value solid (e.g. 255 for a segmented "
        "TIFF with white pores); default: 0/1 volumes as True = solid, two other values as "
        "pore = the lower",
    )
    parser.add_argument(
        "--invert",
        action="store_true",
        help="swap pore and solid after reading (after --pore-value)",
    )
    parser.add_argument(
        "--voxel-size", type=_positive_float, help="voxel edge in metres (k in m^2), > 0"
    )
    parser.add_argument(
        "--crop",
        metavar="X0:X1,Y0:Y1,Z0:Z1|N",
        help="solve a sub-volume: voxel ranges (end exclusive) or N, the centred cube of edge N",
    )


def _add_solver_options(parser: argparse.ArgumentParser) -> None:
    """Device and solver choices shared by both properties."""
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument(
        "--threads", type=_at_least(1), help="CPU threads of the lattice Boltzmann solver"
    )
    parser.add_argument(
        "--method", default="krylov", choices=("krylov", "lbm"), help="diffusion solver"
    )
    parser.add_argument(
        "--mirror",
        action="store_true",
        help="mirror the volume along the flow axis (volumes not periodic)",
    )
    parser.add_argument(
        "--lateral",
        default="periodic",
        choices=("periodic", "closed"),
        help="the four faces parallel to the transport axis: periodic (default, as the "
        "workflow's generated structures) or closed, sealed walls (no flux through them: "
        "TauFactor's and porespy's convention, and a sleeved sample in a permeameter)",
    )


def _add_flow_options(parser: argparse.ArgumentParser) -> None:
    """Permeability only: lattice storage, step budget, start, refinement, checkpoints."""
    parser.add_argument(
        "--storage",
        default="auto",
        choices=("dense", "sparse", "auto"),
        help="flow lattice: dense (every voxel, 156 B each), sparse (pore voxels only, 152 B "
        "each; the same k) or auto (default: sparse at porosity <= 0.5)",
    )
    parser.add_argument(
        "--max-steps", type=_at_least(1), help="flow step budget per axis, in total (>= 1)"
    )
    parser.add_argument(
        "--cascade",
        type=_at_least(0),
        default=0,
        metavar="LEVELS",
        help="flow: first solve the volume coarsened by 2 (and by 4, ... for LEVELS > 1) and "
        "start from that flow: fewer steps to the same steady state (default 0: from rest)",
    )
    parser.add_argument(
        "--relaxation-time",
        type=_relaxation_time,
        default="auto",
        metavar="TAU",
        help="flow: lattice relaxation time tau_+ in (0.5, 2.5], or auto (default); k does not "
        "depend on it (TRT, magic parameter 3/16), the number of steps does",
    )
    parser.add_argument(
        "--refine",
        type=_at_least(1),
        default=1,
        metavar="N",
        help="flow: split each voxel into N^3 before solving (k stays in voxel^2 of the volume;"
        " memory and work grow as N^3)",
    )
    parser.add_argument(
        "--extrapolate",
        type=_at_least(1),
        nargs="+",
        metavar="N",
        help="flow: solve at two or three refinements (e.g. 1 2 3) and print k's refinement "
        "limit (Richardson extrapolation) with its uncertainty",
    )
    parser.add_argument(
        "--checkpoint-dir",
        default=".",
        metavar="DIR",
        help="flow: where the state of a long run is saved (default: the current folder); a "
        "rerun of the same command continues from it",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=_non_negative_float,
        default=300.0,
        metavar="SECONDS",
        help="flow: save the state this often, when the step budget runs out and on SIGTERM "
        "(default 300; 0: never)",
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    """What is printed."""
    parser.add_argument(
        "--quiet", action="store_true", help="no progress lines (iterations, residual, ETA)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; an error a user can cause is one line on stderr and exit status 1."""
    args = build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except Exception as err:
        if args.debug:
            raise
        where = getattr(args, "file", None)
        message = error_line(err)
        if where and str(where) not in message:
            message = f"{where}: {message}"
        print(
            f"poredesign {args.command}: error: {message} (--debug shows the traceback)",
            file=sys.stderr,
        )
        return 1


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from err


def _positive_float(text: str) -> float:
    value = _number(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _relaxation_time(text: str) -> float | str:
    if text == "auto":
        return text
    value = _finite_float(text)
    if not 0.5 < value <= 2.5:
        raise argparse.ArgumentTypeError(f"{text} is not in (0.5, 2.5] (or auto)")
    return value


def _non_negative_float(text: str) -> float:
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is below 0")
    return value


def _finite_float(text: str) -> float:
    value = _number(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    return value


def _at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from err
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum {minimum}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
