"""The study summary (Markdown): surrogate error, and per design target its posterior, the
validated properties against the target and the cost."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


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
    return len(table["porosity"]), summarise(columns), sorted(set(table["direction_estimated"]))


def write_membrane_summary(
    path: str | os.PathLike,
    study: str,
    vae_metrics: str | os.PathLike | None = None,
    pca: str | os.PathLike | None = None,
    estimate: str | os.PathLike | None = None,
    bo: Mapping[str, str | os.PathLike] | None = None,
    transfer: str | os.PathLike | None = None,
    scans: Mapping[str, str | os.PathLike] | None = None,
) -> None:
    """Write ``summary.md`` of a [Z23] membrane study from the files its stages wrote: the VAE's
    reconstruction, the latent PCA, the nearest-neighbour estimation of the test split, the BO
    recovery per target, transfer learning and the scans' estimates (each section only when its
    stage ran)."""
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
            f"{_fmt(e.get('direction_accuracy'), 3)}, intensity mean absolute error "
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
            f"crops; estimated stretch directions: {', '.join(d or '?' for d in directions)} "
            f"(table: estimate/{name}.csv).",
            "",
        ]
    Path(path).write_text("\n".join(lines))
