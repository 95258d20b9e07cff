"""The property-VAE study's summary [A25] (square pores, and crops of a scan): labels and their
cost, the permeability CNN and the pVAE, the latent design against its baseline, the design
benchmark, slerp."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from poredesign.report.compression import compression_lines
from poredesign.report.markdown import baseline_warnings, fmt, r2_warnings, read_optional_json

#: how the solver treated each dataset's structures, for the label section
SOLVED_AS = {
    "squares": "extrusions solved on two slices",
    "imported": "crops mirrored along z, as they are not periodic",
}


def _label_lines(
    labels: str | os.PathLike, generator: str = "squares", paper: bool = True
) -> list[str]:
    """Where the labels came from, what the solver cost, and the dataset's statistics (SPEC 1.3;
    with ``paper``, the paper's square-pore statistics beside them)."""
    from poredesign.store import open_group

    group = open_group(labels)
    k = np.asarray(group["k"][:, 2], dtype=float)
    porosity = np.asarray(group["porosity"][...], dtype=float)
    seconds = np.asarray(group["seconds_k"][:, 2], dtype=float)
    solved = np.isfinite(seconds)
    source = np.asarray(group["source_k"][...]) if "source_k" in group else np.zeros(len(k))
    ok = np.isfinite(k)
    q1, median, q3 = np.quantile(k[ok], [0.25, 0.5, 0.75]) if ok.any() else [np.nan] * 3
    lines = [
        "## Labels",
        "",
        f"{len(k)} structures: {int(np.sum(source == 0))} k_z by the lattice Boltzmann solver, "
        f"{int(np.sum(source == 1))} by the permeability CNN. Solver cost: "
        f"{fmt(float(seconds[solved].mean()) if solved.any() else None, 3)} s per structure "
        f"({fmt(float(seconds[solved].sum()) if solved.any() else None, 1)} s in all, "
        f"{SOLVED_AS.get(generator, 'periodic')}).",
        "",
        "| | mean | std | min | Q1 | median | Q3 | max |",
        "|---|---|---|---|---|---|---|---|",
        f"| porosity | {fmt(float(porosity.mean()))} | {fmt(float(porosity.std()))} | "
        f"{fmt(float(porosity.min()))} | | | | {fmt(float(porosity.max()))} |",
        f"| k_z (voxel^2) | {fmt(float(k[ok].mean()))} | {fmt(float(k[ok].std()))} | "
        f"{fmt(float(k[ok].min()))} | {fmt(float(q1))} | {fmt(float(median))} | "
        f"{fmt(float(q3))} | {fmt(float(k[ok].max()))} |",
    ]
    if paper:
        lines.append(
            "| paper [A25] k_z (100 x 100 images) | 0.981 | 0.385 | 0.343 | 0.647 | 0.963 | "
            "1.292 | 2.029 |"
        )
    lines.append("")
    surrogate = group.attrs.get("surrogate_test")
    if surrogate:
        lines += [
            f"The CNN that labelled the rest, on {surrogate.get('n', '?')} held-out solver labels: "
            f"R^2 {fmt(surrogate.get('r2'), 4)}, MAPE {fmt(surrogate.get('mape'), 3)} %.",
            "",
            *r2_warnings({"the labelling CNN (held-out solver labels)": surrogate.get("r2")}),
        ]
    return lines


def _porosity_only_lines(test: Mapping[str, Any], model: str, n_column: bool = False) -> list[str]:
    """The porosity-only baseline row for k (a quadratic in the true porosity fitted on the
    training labels) and a warning when the model's k is not better."""
    base = test.get("porosity_only")
    if not base:
        return []
    n = f" {test.get('n', '?')} |" if n_column else ""
    lines = [
        f"| k from porosity alone (baseline) |{n} {fmt(base.get('r2_k'), 4)} | "
        f"{fmt(base.get('mape_k'), 3)} |"
    ]
    ours, theirs = test.get("mape_k"), base.get("mape_k")
    if ours is not None and theirs is not None and ours >= theirs:
        lines += [
            "",
            f"> **Warning:** the {model}'s k (MAPE {fmt(ours, 3)} %) is no better than k "
            f"predicted from the true porosity alone ({fmt(theirs, 3)} %): it has learned "
            f"nothing about k beyond porosity.",
        ]
    return lines


def _squares_model_lines(
    permeability: Mapping | None, pvae: Mapping | None, paper: bool = True
) -> list[str]:
    """The CNN's and the pVAE's test errors (``paper``: with the paper's figures beside them)."""
    lines = []
    if permeability is not None:
        test = permeability.get("test", {})
        lines += [
            f"## Permeability CNN ({permeability.get('parameters', '?')} weights, "
            f"{permeability.get('epochs', '?')} epochs)",
            "",
            "| test split | n | R^2 | MAPE (%) |",
            "|---|---|---|---|",
        ]
        for name in ("k", "porosity"):
            lines.append(
                f"| {name} | {test.get('n', '?')} | {fmt(test.get(f'r2_{name}'), 4)} | "
                f"{fmt(test.get(f'mape_{name}'), 3)} |"
            )
        lines += _porosity_only_lines(test, "CNN", n_column=True)
        lines += ["", "Paper: R^2 about 0.99 on unseen data.", ""] if paper else [""]
        lines += r2_warnings(
            {f"the CNN's {n} (test)": test.get(f"r2_{n}") for n in ("k", "porosity")}
        )
    if pvae is not None:
        test = pvae.get("test", {})
        search = pvae.get("latent_search")
        chosen = f", latent size {search['best_latent_dim']} by Optuna" if search else ""
        lines += [
            f"## Property VAE ({pvae.get('parameters', '?')} weights, "
            f"{pvae.get('epochs', '?')} epochs over the three phases{chosen})",
            "",
            f"Test split ({test.get('n', '?')} structures): voxel accuracy of the decoded, "
            f"binarised image {fmt(test.get('voxel_accuracy'), 4)}; its porosity against the "
            f"input's MAPE {fmt(test.get('mape_porosity_reconstruction'), 3)} %, R^2 "
            f"{fmt(test.get('r2_porosity_reconstruction'), 4)}; BCE per voxel "
            f"{fmt(test.get('bce'), 4)} against {fmt(test.get('bce_porosity_only'), 4)} for the "
            f"porosity-only reconstruction (ratio {fmt(test.get('bce_ratio_to_porosity_only'), 3)}"
            f"); blurry voxels (solid probability in (0.1, 0.9)) "
            f"{fmt(test.get('blurry_fraction'), 3)}.",
            "",
            *baseline_warnings(test, "pVAE"),
            "| regressor (test) | R^2 | MAPE (%) |",
            "|---|---|---|",
        ]
        for name in ("porosity", "k"):
            r2, error = test.get(f"r2_{name}"), test.get(f"mape_{name}")
            lines.append(f"| {name} | {fmt(r2, 4)} | {fmt(error, 3)} |")
        lines += _porosity_only_lines(test, "pVAE regressor")
        lines += ["", "Paper: regressor R^2 about 0.998.", ""] if paper else [""]
        scores = {
            f"the pVAE regressor's {n} (test)": test.get(f"r2_{n}") for n in ("porosity", "k")
        }
        scores["the pVAE's decoded porosity (test)"] = test.get("r2_porosity_reconstruction")
        lines += r2_warnings(scores)
    return lines


def _design_lines(design: Mapping[str, Any], paper: bool = True) -> list[str]:
    lines = [
        "## Latent gradient design",
        "",
        f"{design['targets']['count']} targets (porosity {fmt(design['targets']['porosity'])}, "
        f"k {fmt(design['targets']['k'])} voxel^2), {design['feasible']} feasible and "
        f"{design['infeasible']} outside the dataset's porosity-k band; {design['starts']} starts "
        f"per target; {design['descent']['steps']} steps, "
        f"{fmt(design['descent']['candidate_steps_per_second'], 4)} candidate-steps/s.",
        "",
        "| evaluator | targets | R^2 porosity | R^2 k | MAPE porosity (%) | MAPE k (%) |",
        "|---|---|---|---|---|---|",
    ]
    for who, key in (("design", "design"), ("baseline (nearest training)", "baseline")):
        for evaluator, entry in design[key].items():
            for subset in ("feasible", "all"):
                s = entry[subset]
                lines.append(
                    f"| {who}: {evaluator} | {subset} ({s['n']['k']}) | "
                    f"{fmt(s['r2']['porosity'], 3)} | {fmt(s['r2']['k'], 3)} | "
                    f"{fmt(s['mape']['porosity'], 3)} | {fmt(s['mape']['k'], 3)} |"
                )
    beats = design.get("latent_design_beats_baseline", {}).get("solver", {})
    verdict = {True: "beats", False: "does not beat", None: "cannot be compared with"}
    lines += [
        "",
        f"By the solver on feasible targets, latent design {verdict[beats.get('k')]} the nearest "
        f"training structure in k and {verdict[beats.get('porosity')]} it in porosity (MAPE). "
        f"{design.get('designs_without_pore_path', 0)} designs have no pore path along z (k = 0), "
        f"{design.get('designs_without_solid', 0)} no solid voxel (k unbounded, not scored)."
        + (" Paper (CNN only): R^2 0.999 for k, 0.71 for porosity." if paper else ""),
        "",
    ]
    rec = design.get("reconstruction") or {}
    if rec.get("n"):
        lines += [
            f"The decoder's own limit: the solver on the reconstructions of {rec['n']} test "
            f"images (latent mean decoded, binarised; {rec.get('flagged', 0)} flagged) against "
            f"the images' own values: k MAPE {fmt(rec.get('mape_k'), 3)} % (R^2 "
            f"{fmt(rec.get('r2_k'), 3)}), porosity MAPE {fmt(rec.get('mape_porosity'), 3)} % "
            f"(R^2 {fmt(rec.get('r2_porosity'), 3)}). No latent design comes nearer a target "
            f"than this.",
            "",
        ]
        lines += r2_warnings({"the reconstructions' k by the solver": rec.get("r2_k")})
    solver = design["design"].get("solver", {}).get("feasible", {}).get("r2", {})
    lines += r2_warnings(
        {f"the designs' {n} by the solver (feasible)": solver.get(n) for n in solver}
    )
    return lines


def _slerp_lines(slerp: Mapping[str, Any]) -> list[str]:
    path = slerp["path"]
    picks = sorted({round(i * (len(path) - 1) / 4) for i in range(5)})
    lines = [
        "## Slerp",
        "",
        f"Between structures {slerp['endpoints'][0]} and {slerp['endpoints'][1]} (angle "
        f"{fmt(slerp['angle'], 3)} rad), {slerp['steps']} steps:",
        "",
        "| t | porosity (image) | porosity (regressor) | k solver | k regressor |",
        "|---|---|---|---|---|",
    ]
    for i in picks:
        r = path[i]
        lines.append(
            f"| {fmt(r['t'], 2)} | {fmt(r['porosity'])} | {fmt(r['porosity_regressor'])} | "
            f"{fmt(r['k_solver'])} | {fmt(r['k_regressor'])} |"
        )
    return [*lines, ""]


def _benchmark_lines(bench: Mapping[str, Any]) -> list[str]:
    """The design benchmark: per target set and method, scored designs, k and porosity
    MAPE by the solver, successes, solver calls and CPU seconds per target; the goals."""
    counts = {name: sum(t["set"] == name for t in bench["targets"]) for name in bench["scores"]}
    success = 100 * float(bench["settings"]["success"])
    lines = [
        "## Design benchmark",
        "",
        f"{len(bench['targets'])} targets at the dataset's porosity levels "
        f"({', '.join(f'{n} {name}' for name, n in counts.items())}); at most "
        f"{bench['budget']['solver_calls_per_target']} solver calls per target for every method. "
        f"Infeasible: {bench['infeasible_criterion']}; never scored as success. Designs the "
        "solver flags (no pore path, no solid) are counted, not scored.",
        "",
        f"| targets | method | scored / n | flagged | square-pore images | k MAPE (%) | "
        f"porosity MAPE (%) | within {fmt(success, 2)} % | solver calls (mean / max) | "
        "CPU s per target |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, methods in bench["scores"].items():
        for method, e in methods.items():
            k = fmt(e["k_mape"]) if name != "infeasible" else f"gap {fmt(e.get('k_gap_median'))}"
            lines.append(
                f"| {name} | {method} | {e['scored']} / {e['n']} | {e['flagged']} | "
                f"{e['generator_images']} | {k} | {fmt(e['porosity_mape'])} | "
                f"{fmt(e['within_success'])} | {fmt(e['solver_calls_mean'], 3)} / "
                f"{e['solver_calls_max']} | {fmt(e['cpu_seconds_mean'], 3)} |"
            )
    goals = bench.get("goals", {})
    verdict = {True: "met", False: "not met", None: "n/a"}
    lines += [
        "",
        "Goals of the search: beyond-band k MAPE <= 2 %: "
        f"{verdict[goals.get('beyond_band_k_mape_le_2')]}; porosity exact: "
        f"{verdict[goals.get('beyond_band_porosity_exact')]}; <= 100 solver calls: "
        f"{verdict[goals.get('solver_calls_le_100')]}; in-band k MAPE <= 1 %: "
        f"{verdict[goals.get('in_band_k_mape_le_1')]}. Whole benchmark: "
        f"{fmt(bench['seconds'], 3)} s.",
        "",
    ]
    return lines


def write_squares_summary(
    path: str | os.PathLike,
    study: str,
    labels: str | os.PathLike,
    permeability: str | os.PathLike | None = None,
    pvae: str | os.PathLike | None = None,
    design: str | os.PathLike | None = None,
    slerp: str | os.PathLike | None = None,
    generator: str = "squares",
    benchmark: str | os.PathLike | None = None,
    compression: str | os.PathLike | None = None,
) -> None:
    """Write ``summary.md`` of an [A25] study (square pores, or crops of a scan with
    ``generator="imported"``): label cost and dataset statistics, the CNN's and the pVAE's test
    errors, the design table (three evaluators and the baseline), the slerp path and, for crops
    at several compression levels, the compression findings (each section only when its stage
    ran)."""
    paper = generator == "squares"  # the paper's figures are of its square-pore set
    lines = [f"# Study `{study}`: summary", "", *_label_lines(labels, generator, paper)]
    lines += _squares_model_lines(read_optional_json(permeability), read_optional_json(pvae), paper)
    if design is not None:
        lines += _design_lines(read_optional_json(design), paper)
    if benchmark is not None:
        lines += _benchmark_lines(read_optional_json(benchmark))
    if slerp is not None:
        lines += _slerp_lines(read_optional_json(slerp))
    if compression is not None:
        lines += compression_lines(read_optional_json(compression))
    Path(path).write_text("\n".join(lines))
