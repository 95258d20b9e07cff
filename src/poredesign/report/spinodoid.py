"""The spinodoid study's summary [R22]: surrogate error and spread, per design target its
posterior, the validated properties against the target, the cost and the refinement rounds."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from poredesign.report.markdown import fmt, r2_warnings, read_optional_json


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
            f"| {split} | {m.get('n', '?')} | {fmt(m.get(f'mse_scaled_{target}'), 3)} | "
            f"{fmt(m.get(f'mape_{target}'), 3)} | {fmt(m.get(f'r2_{target}'), 4)} |"
        )
    test = metrics.get("test", {})
    warnings = r2_warnings({f"the surrogate's {target} (test split)": test.get(f"r2_{target}")})
    return lines + ([""] + warnings[:-1] if warnings else [])


def spread_lines(spread: Mapping[str, Any] | None) -> list[str]:
    """The surrogate's calibrated spread and its coverage of the test labels."""
    if not spread:
        return []
    test = spread.get("test_calibration") or {}
    return [
        f"Predictive spread (Gaussian on logit(eta), fitted on the validation split): sigma "
        f"(x, y, z) = {fmt(spread['sigma_logit'])}; test labels inside 1 sigma: "
        f"{fmt(100 * test['inside_1sigma'], 3) if test else 'n/a'} % (nominal 68.3 %), inside "
        f"2 sigma: {fmt(100 * test['inside_2sigma'], 3) if test else 'n/a'} % (nominal 95.4 %).",
        "",
    ]


def _eta_with_se(validation: Mapping[str, Any]) -> str:
    mean, se = validation["eta_solver_mean"], validation.get("eta_solver_se") or []
    if not se:
        return fmt(mean)
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
                f"| {name} | {row['round']} | {fmt(row['theta_hat'])} | {_eta_with_se(val)} | "
                f"{fmt(val['mape_solver_percent'], 2)} ± "
                f"{fmt(val.get('mape_solver_se_percent'), 2)} | "
                f"{fmt(err['mape_percent'], 2) if err else 'n/a'} | "
                f"{row['solver_evaluations']} | {row['abc'].get('model_evaluations', 'n/a')} | "
                f"{fmt((row.get('wall_time_s') or {}).get('total'), 1)} |"
            )
    lines += ["", "Rounds per target:"]
    for name, record in refined.items():
        mapes = ", ".join(
            f"{fmt(r['validation']['mape_solver_percent'], 2)}" for r in record["rounds"]
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
    metrics = read_optional_json(surrogate_metrics)
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
        abc = read_optional_json(files["abc"])
        val = read_optional_json(files.get("validation"))
        theta = [abc["theta_hat"][p] for p in abc["param_names"]]
        lines.append(
            f"| {name} | {fmt(abc['target_vector'])} | {abc['status']} | {fmt(theta)} | "
            f"{fmt(val.get('eta_surrogate_mean')) if val else 'n/a'} | "
            f"{fmt(val['eta_solver_mean']) if val else 'n/a'} | "
            f"{fmt(val.get('mape_solver_percent'), 2) if val else 'n/a'} | "
            f"{abc['model_evaluations']} | {fmt(abc['wall_time_s'], 1)} |"
        )
        if not abc["converged"]:
            notes.append(f"- **{name}**: {abc['message']}")
        up = read_optional_json(files.get("upscaling"))
        if up is not None:
            notes.append(
                f"- **{name}**, upscaling check at {up['size']}^3 with a/{up.get('factor', '?')} "
                f"({up['n_structures']} structures, solver): eta = {fmt(up['eta_solver_mean'])}, "
                f"MAPE {fmt(up.get('mape_solver_percent'), 2)} % against the target"
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
    refined = {name: read_optional_json(files.get("refine")) for name, files in targets.items()}
    if any(refined.values()):
        lines += refinement_table({k: v for k, v in refined.items() if v})
    Path(path).write_text("\n".join(lines))
