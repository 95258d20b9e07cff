"""The study summary (Markdown): surrogate error, and per design target its posterior, the
validated properties against the target and the cost."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _fmt(values: Any, digits: int = 3) -> str:
    if values is None:
        return "n/a"
    if isinstance(values, (list, tuple)):
        return "(" + ", ".join(_fmt(v, digits) for v in values) + ")"
    if isinstance(values, float):
        return (
            f"{values:.{digits}g}"
            if abs(values) < 1e-2 or abs(values) >= 1e3
            else f"{values:.{digits}f}"
        )
    return str(values)


def _read(path: str | os.PathLike | None) -> dict[str, Any] | None:
    return None if path is None else json.loads(Path(path).read_text())


def surrogate_table(metrics: Mapping[str, Any], target: str = "eta") -> list[str]:
    """Train/validation/test errors of the surrogate, as in [R22] Table 1 (MSE on the training
    scale, the logit for eta; MAPE in percent on the linear scale)."""
    lines = [
        "| split | structures x axes | MSE (logit) | MAPE (%) | R^2 |",
        "|---|---|---|---|---|",
    ]
    for split in ("train", "val", "test"):
        m = metrics.get(split, {})
        lines.append(
            f"| {split} | {m.get('n', '?')} | {_fmt(m.get(f'mse_scaled_{target}'), 3)} | "
            f"{_fmt(m.get(f'mape_{target}'), 3)} | {_fmt(m.get(f'r2_{target}'), 4)} |"
        )
    return lines


def spread_lines(spread: Mapping[str, Any] | None) -> list[str]:
    """The surrogate's calibrated spread and its coverage of the test labels."""
    if not spread:
        return []
    test = spread.get("test_calibration") or {}
    return [
        f"Predictive spread (Gaussian on logit(eta), fitted on the validation split): sigma "
        f"(x, y, z) = {_fmt(spread['sigma_logit'])}; test labels inside 1 sigma: "
        f"{_fmt(100 * test['inside_1sigma'], 3) if test else 'n/a'} % (nominal 68.3 %), inside "
        f"2 sigma: {_fmt(100 * test['inside_2sigma'], 3) if test else 'n/a'} % (nominal 95.4 %).",
        "",
    ]


def _eta_with_se(validation: Mapping[str, Any]) -> str:
    mean, se = validation["eta_solver_mean"], validation.get("eta_solver_se") or []
    if not se:
        return _fmt(mean)
    return "(" + ", ".join(f"{m:.4f} ± {e:.4f}" for m, e in zip(mean, se, strict=False)) + ")"


def refinement_table(refined: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Per target: the design stage's ABC (round 0) and the final refinement round, validated by
    the solver (mean ± standard error per axis, MAPE ± its standard error)."""
    lines = [
        "## Solver-in-the-loop refinement",
        "",
        "| target | round | theta_hat (a_x, a_y, a_z, porosity) | eta solver (mean ± SE) | "
        "MAPE solver (%) | surrogate MAPE on new labels (%) | solver runs | model "
        "evaluations | wall time (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, record in refined.items():
        rows = [record["first"]] + ([record["final"]] if record["rounds_run"] else [])
        for row in rows:
            val, err = row["validation"], row.get("surrogate_error")
            lines.append(
                f"| {name} | {row['round']} | {_fmt(row['theta_hat'])} | {_eta_with_se(val)} | "
                f"{_fmt(val['mape_solver_percent'], 2)} ± "
                f"{_fmt(val.get('mape_solver_se_percent'), 2)} | "
                f"{_fmt(err['mape_percent'], 2) if err else 'n/a'} | "
                f"{row['solver_evaluations']} | {row['abc'].get('model_evaluations', 'n/a')} | "
                f"{_fmt((row.get('wall_time_s') or {}).get('total'), 1)} |"
            )
    lines += ["", "Rounds per target:"]
    for name, record in refined.items():
        mapes = ", ".join(
            f"{_fmt(r['validation']['mape_solver_percent'], 2)}" for r in record["rounds"]
        )
        lines.append(
            f"- **{name}**: {record['rounds_run']} round(s), stopped on {record['stop']} "
            f"(tolerance {record['settings']['tolerance']} %); validated MAPE per round: "
            f"{mapes} %; {record['solver_evaluations']} solver runs in all"
        )
    lines += [
        "",
        "Round 0 is the design stage's ABC posterior and validation; the final row is the "
        "design this study reports. SE: standard error over the validation structures (per "
        "axis: std / sqrt(n); MAPE: bootstrap over structures).",
        "",
    ]
    return lines


def write_study_summary(
    path: str | os.PathLike,
    study: str,
    surrogate_metrics: str | os.PathLike | None,
    targets: Mapping[str, Mapping[str, str | os.PathLike | None]],
) -> None:
    """Write ``summary.md``. ``targets`` maps a target name to the paths of its ``abc`` summary,
    ``validation`` and (optional) ``upscaling`` and ``refine`` JSON files."""
    lines = [f"# Study `{study}`: summary", ""]
    metrics = _read(surrogate_metrics)
    if metrics is not None:
        lines += [
            f"## Surrogate ({metrics.get('class', metrics.get('model', ''))}, "
            f"{metrics.get('parameters', '?')} weights, {metrics.get('epochs', '?')} epochs)",
            "",
            *surrogate_table(metrics),
            "",
            *spread_lines(metrics.get("spread")),
        ]
    lines += [
        "## Inverse design (ABC) and validation",
        "",
        "| target | eta* | status | theta_hat (a_x, a_y, a_z, porosity) | eta CNN | "
        "eta solver | MAPE solver (%) | evaluations | wall time (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for name, files in targets.items():
        abc = _read(files["abc"])
        val = _read(files.get("validation"))
        theta = [abc["theta_hat"][p] for p in abc["param_names"]]
        lines.append(
            f"| {name} | {_fmt(abc['target_vector'])} | {abc['status']} | {_fmt(theta)} | "
            f"{_fmt(val.get('eta_surrogate_mean')) if val else 'n/a'} | "
            f"{_fmt(val['eta_solver_mean']) if val else 'n/a'} | "
            f"{_fmt(val.get('mape_solver_percent'), 2) if val else 'n/a'} | "
            f"{abc['model_evaluations']} | {_fmt(abc['wall_time_s'], 1)} |"
        )
        if not abc["converged"]:
            notes.append(f"- **{name}**: {abc['message']}")
        up = _read(files.get("upscaling"))
        if up is not None:
            notes.append(
                f"- **{name}**, upscaling check at {up['size']}^3 with a/{up.get('factor', '?')} "
                f"({up['n_structures']} structures, solver): eta = {_fmt(up['eta_solver_mean'])}, "
                f"MAPE {_fmt(up.get('mape_solver_percent'), 2)} % against the target"
            )
    if notes:
        lines += ["", *notes]
    lines += [
        "",
        "eta = D_eff / D along (x, y, z); MAPE = 100 mean_i |eta_i - eta*_i| / eta*_i "
        "of the mean over the validation structures. theta_hat is the posterior mean of the "
        "last ABC generation.",
        "",
    ]
    refined = {name: _read(files.get("refine")) for name, files in targets.items()}
    if any(refined.values()):
        lines += refinement_table({k: v for k, v in refined.items() if v})
    Path(path).write_text("\n".join(lines))


def _scan_summary(table_path: str | os.PathLike) -> tuple[int, dict[str, Any], list[str]]:
    """Crop count, the estimation summary (the stage's own :func:`summarise`) and the estimated
    directions of a scan's ``estimate/<scan>.csv``."""
    from poredesign.design.latent.estimate import read_table, summarise

    table = read_table(table_path)

    def numbers(column: str) -> list[float]:
        return [float(v) if v != "" else float("nan") for v in table[column]]

    columns = {
        "porosity": numbers("porosity"),
        "porosity_estimated": numbers("porosity_estimated"),
        "direction": table["direction"],
        "direction_estimated": table["direction_estimated"],
        "intensity": numbers("intensity"),
        "intensity_estimated": numbers("intensity_estimated"),
    }
    return len(table["porosity"]), summarise(columns), list(table["direction_estimated"])


def _counts(directions: Sequence[str]) -> str:
    """``"y in 6 of 8, x in 2 of 8"``: how often each direction occurs, most frequent first."""
    names = [d or "?" for d in directions]
    order = sorted(set(names), key=lambda d: (-names.count(d), d))
    return ", ".join(f"{d} in {names.count(d)} of {len(names)}" for d in order) or "none"


def _chord_directions(crops_path: str | os.PathLike) -> list[str]:
    """The axis of the longest mean pore chord of each crop of a scan's crop store."""
    from poredesign.store import open_group

    chords = np.asarray(open_group(crops_path)["chord_lengths"][...], dtype=np.float64)
    return ["xyz"[int(np.nanargmax(row))] if np.isfinite(row).any() else "" for row in chords]


def write_membrane_summary(
    path: str | os.PathLike,
    study: str,
    vae_metrics: str | os.PathLike | None = None,
    pca: str | os.PathLike | None = None,
    estimate: str | os.PathLike | None = None,
    bo: Mapping[str, str | os.PathLike] | None = None,
    transfer: str | os.PathLike | None = None,
    scans: Mapping[str, str | os.PathLike] | None = None,
    scan_crops: Mapping[str, str | os.PathLike] | None = None,
) -> None:
    """Write ``summary.md`` of a [Z23] membrane study from the files its stages wrote: the VAE's
    reconstruction, the latent PCA, the nearest-neighbour estimation of the test split, the BO
    recovery per target, transfer learning and the scans' estimates (each section only when its
    stage ran). ``scan_crops`` (the imports' crop stores) add the direction the crops' mean pore
    chords show, a check of the VAE's estimate that needs no model."""
    lines = [f"# Study `{study}`: summary", ""]
    m = _read(vae_metrics)
    if m is not None:
        test = m.get("test", {})
        lines += [
            f"## VAE ({m.get('parameters', '?')} weights, {m.get('epochs', '?')} epochs)",
            "",
            "| split | structures | BCE / voxel | KL / voxel | voxel accuracy | porosity R^2 |",
            "|---|---|---|---|---|---|",
        ]
        for split in ("train", "val", "test"):
            s = m.get(split, {})
            lines.append(
                f"| {split} | {s.get('n', '?')} | {_fmt(s.get('bce'), 4)} | {_fmt(s.get('kl'), 4)} "
                f"| {_fmt(s.get('voxel_accuracy'), 4)} | "
                f"{_fmt(s.get('r2_porosity_reconstruction'), 4)} |"
            )
        lines += ["", f"Test loss (BCE + beta KL per voxel): {_fmt(test.get('loss'), 4)}.", ""]
    p = _read(pca)
    if p is not None:
        ratio = p.get("explained_variance_ratio", [])
        lines += [
            "## Latent space (PCA of the training latent means)",
            "",
            f"- explained variance ratio of PC1-PC5: {_fmt(list(ratio[:5]))}",
            f"- porosity PC: PC{p.get('porosity_pc_number', '?')} (correlation with porosity "
            f"{_fmt(p.get('porosity_pc_correlation'))})",
            f"- correlation of PC1-PC3 with porosity: {_fmt(p.get('correlation_porosity'))}; "
            f"with stretch intensity 1 - e: {_fmt(p.get('correlation_intensity'))}",
        ]
        nn = p.get("direction_nearest_neighbour")
        if nn:
            lines.append(
                f"- stretch direction of the nearest other training structure (leave one out): "
                f"right for {_fmt(nn.get('pc12'))} in PC1-PC2, {_fmt(nn.get('latent'))} in the "
                f"full latent mean; chance (most frequent direction) {_fmt(nn.get('majority'))}"
            )
        reference = p.get("reference")
        if reference:
            lines.append(
                f"- projected into the PCA of `{reference.get('study', '?')}`: see "
                f"latent/reference.png and pca.json (reference)"
            )
        lines.append("")
    e = _read(estimate)
    if e is not None:
        lines += [
            "## Nearest-neighbour estimation (test split)",
            "",
            f"{e.get('n', '?')} test structures: porosity MAPE "
            f"{_fmt(e.get('porosity_mape_percent'), 3)} %, stretch direction accuracy "
            f"{_fmt(e.get('direction_accuracy'))} (chance: {_fmt(e.get('direction_majority'))}), "
            f"intensity mean absolute error "
            f"{_fmt(e.get('intensity_mae'), 3)}.",
            "",
        ]
    if bo:
        lines += [
            "## Bayesian optimisation of the generation parameters",
            "",
            "| target | row | n | r | e_x | e_y | e_z | porosity | latent distance |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, bo_path in bo.items():
            res = _read(bo_path)
            rows = [("true", res["true_params"], res.get("target_porosity"), 0.0)]
            for which in ("median", "best"):
                pick = res[which]
                rows.append(
                    (
                        f"{which} (repeat {pick['repeat']})",
                        pick["best_params"],
                        pick.get("best_porosity"),
                        pick["best_distance"],
                    )
                )
            for label, params, porosity, distance in rows:
                lines.append(
                    f"| {name} | {label} | {int(round(float(params['n_points'])))} | "
                    f"{_fmt(float(params['radius']))} | {_fmt(float(params['e_x']))} | "
                    f"{_fmt(float(params['e_y']))} | {_fmt(float(params['e_z']))} | "
                    f"{_fmt(porosity)} | {_fmt(distance, 4)} |"
                )
        first = _read(next(iter(bo.values())))
        lines += [
            "",
            f"Optuna GPSampler (Matern 5/2, log expected improvement), "
            f"{first.get('n_trials', '?')} trials per repeat; candidates built with the "
            f"`{first.get('candidate_seed', '?')}` seed.",
            "",
        ]
    t = _read(transfer)
    if t is not None:
        lines += [
            "## Transfer learning (tortuosity on the second dataset)",
            "",
            "| variant | runs | train MSE | test MSE |",
            "|---|---|---|---|",
        ]
        for variant, v in t.get("variants", {}).items():
            lines.append(
                f"| {variant} | {v.get('runs')} | {_fmt(v.get('train_mse_mean'), 3)} "
                f"+- {_fmt(v.get('train_mse_std'), 2)} | {_fmt(v.get('test_mse_mean'), 3)} "
                f"+- {_fmt(v.get('test_mse_std'), 2)} |"
            )
        lines += [
            "",
            f"Welch test of the test MSEs: p = {_fmt(t.get('welch_p_value'), 3)} (paper means: "
            "transfer 0.00401 / 0.00502, scratch 0.00460 / 0.00567).",
            "",
        ]
    for name, table in (scans or {}).items():
        n_crops, summary, directions = _scan_summary(table)
        lines += [
            f"## Scan `{name}`",
            "",
            f"{n_crops} crops: porosity estimated from the latent space within "
            f"{_fmt(summary['porosity_mape_percent'], 3)} % (MAPE) of the porosity measured on the "
            f"crops; stretch direction estimated from the latent space: {_counts(directions)} "
            f"(table: estimate/{name}.csv).",
        ]
        if scan_crops and name in scan_crops:
            chords = _chord_directions(scan_crops[name])
            lines.append(
                f"Longest mean pore chord (geometry, no VAE): {_counts(chords)} "
                f"(imports/{name}.zarr, chord_lengths)."
            )
        lines.append("")
    Path(path).write_text("\n".join(lines))


# -- [A25] square-pore study (and crops of a scan) ---------------------------------------------

#: how the solver treated each dataset's structures, for the label section
SOLVED_AS = {
    "squares": "extrusions solved on two slices",
    "imported": "crops mirrored along z, as they are not periodic",
}


def _label_lines(labels: str | os.PathLike, generator: str = "squares") -> list[str]:
    """Where the labels came from, what the solver cost, and the dataset's statistics (SPEC 1.3;
    the paper's square-pore statistics beside them for square pores)."""
    import numpy as np

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
        f"{_fmt(float(seconds[solved].mean()) if solved.any() else None, 3)} s per structure "
        f"({_fmt(float(seconds[solved].sum()) if solved.any() else None, 1)} s in all, "
        f"{SOLVED_AS.get(generator, 'periodic')}).",
        "",
        "| | mean | std | min | Q1 | median | Q3 | max |",
        "|---|---|---|---|---|---|---|---|",
        f"| porosity | {_fmt(float(porosity.mean()))} | {_fmt(float(porosity.std()))} | "
        f"{_fmt(float(porosity.min()))} | | | | {_fmt(float(porosity.max()))} |",
        f"| k_z (voxel^2) | {_fmt(float(k[ok].mean()))} | {_fmt(float(k[ok].std()))} | "
        f"{_fmt(float(k[ok].min()))} | {_fmt(float(q1))} | {_fmt(float(median))} | "
        f"{_fmt(float(q3))} | {_fmt(float(k[ok].max()))} |",
    ]
    if generator == "squares":
        lines.append(
            "| paper [A25] k_z (100 x 100 images) | 0.981 | 0.385 | 0.343 | 0.647 | 0.963 | "
            "1.292 | 2.029 |"
        )
    lines.append("")
    surrogate = group.attrs.get("surrogate_test")
    if surrogate:
        lines += [
            f"The CNN that labelled the rest, on {surrogate.get('n', '?')} held-out solver labels: "
            f"R^2 {_fmt(surrogate.get('r2'), 4)}, MAPE {_fmt(surrogate.get('mape'), 3)} %.",
            "",
        ]
    return lines


def _squares_model_lines(
    permeability: Mapping | None, pvae: Mapping | None, generator: str = "squares"
) -> list[str]:
    paper = generator == "squares"  # the paper's figures below are of its square-pore set
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
                f"| {name} | {test.get('n', '?')} | {_fmt(test.get(f'r2_{name}'), 4)} | "
                f"{_fmt(test.get(f'mape_{name}'), 3)} |"
            )
        lines += ["", "Paper: R^2 about 0.99 on unseen data.", ""] if paper else [""]
    if pvae is not None:
        test = pvae.get("test", {})
        search = pvae.get("latent_search")
        chosen = f", latent size {search['best_latent_dim']} by Optuna" if search else ""
        lines += [
            f"## Property VAE ({pvae.get('parameters', '?')} weights, "
            f"{pvae.get('epochs', '?')} epochs over the three phases{chosen})",
            "",
            f"Test split ({test.get('n', '?')} structures): voxel accuracy of the decoded, "
            f"binarised image {_fmt(test.get('voxel_accuracy'), 4)}; its porosity against the "
            f"input's MAPE {_fmt(test.get('mape_porosity_reconstruction'), 3)} %, R^2 "
            f"{_fmt(test.get('r2_porosity_reconstruction'), 4)}.",
            "",
            "| regressor (test) | R^2 | MAPE (%) |",
            "|---|---|---|",
        ]
        for name in ("porosity", "k"):
            r2, error = test.get(f"r2_{name}"), test.get(f"mape_{name}")
            lines.append(f"| {name} | {_fmt(r2, 4)} | {_fmt(error, 3)} |")
        lines += ["", "Paper: regressor R^2 about 0.998.", ""] if paper else [""]
    return lines


def _design_lines(design: Mapping[str, Any], generator: str = "squares") -> list[str]:
    lines = [
        "## Latent gradient design",
        "",
        f"{design['targets']['count']} targets (porosity {_fmt(design['targets']['porosity'])}, "
        f"k {_fmt(design['targets']['k'])} voxel^2), {design['feasible']} feasible and "
        f"{design['infeasible']} outside the dataset's porosity-k band; {design['starts']} starts "
        f"per target; {design['descent']['steps']} steps, "
        f"{_fmt(design['descent']['candidate_steps_per_second'], 4)} candidate-steps/s.",
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
                    f"{_fmt(s['r2']['porosity'], 3)} | {_fmt(s['r2']['k'], 3)} | "
                    f"{_fmt(s['mape']['porosity'], 3)} | {_fmt(s['mape']['k'], 3)} |"
                )
    beats = design.get("latent_design_beats_baseline", {}).get("solver", {})
    verdict = {True: "beats", False: "does not beat", None: "cannot be compared with"}
    lines += [
        "",
        f"By the solver on feasible targets, latent design {verdict[beats.get('k')]} the nearest "
        f"training structure in k and {verdict[beats.get('porosity')]} it in porosity (MAPE). "
        f"{design.get('designs_without_pore_path', 0)} designs have no pore path along z (k = 0), "
        f"{design.get('designs_without_solid', 0)} no solid voxel (k unbounded, not scored)."
        + (
            " Paper (CNN only): R^2 0.999 for k, 0.71 for porosity."
            if generator == "squares"
            else ""
        ),
        "",
    ]
    return lines


def _slerp_lines(slerp: Mapping[str, Any]) -> list[str]:
    path = slerp["path"]
    picks = sorted({round(i * (len(path) - 1) / 4) for i in range(5)})
    lines = [
        "## Slerp",
        "",
        f"Between structures {slerp['endpoints'][0]} and {slerp['endpoints'][1]} (angle "
        f"{_fmt(slerp['angle'], 3)} rad), {slerp['steps']} steps:",
        "",
        "| t | porosity (image) | porosity (regressor) | k solver | k regressor |",
        "|---|---|---|---|---|",
    ]
    for i in picks:
        r = path[i]
        lines.append(
            f"| {_fmt(r['t'], 2)} | {_fmt(r['porosity'])} | {_fmt(r['porosity_regressor'])} | "
            f"{_fmt(r['k_solver'])} | {_fmt(r['k_regressor'])} |"
        )
    return [*lines, ""]


def write_squares_summary(
    path: str | os.PathLike,
    study: str,
    labels: str | os.PathLike,
    permeability: str | os.PathLike | None = None,
    pvae: str | os.PathLike | None = None,
    design: str | os.PathLike | None = None,
    slerp: str | os.PathLike | None = None,
    generator: str = "squares",
) -> None:
    """Write ``summary.md`` of an [A25] study (square pores, or crops of a scan with
    ``generator="imported"``): label cost and dataset statistics, the CNN's and the pVAE's test
    errors, the design table (three evaluators and the baseline) and the slerp path (each
    section only when its stage ran)."""
    lines = [f"# Study `{study}`: summary", "", *_label_lines(labels, generator)]
    lines += _squares_model_lines(_read(permeability), _read(pvae), generator)
    if design is not None:
        lines += _design_lines(_read(design), generator)
    if slerp is not None:
        lines += _slerp_lines(_read(slerp))
    Path(path).write_text("\n".join(lines))
