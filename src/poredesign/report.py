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


def write_study_summary(
    path: str | os.PathLike,
    study: str,
    surrogate_metrics: str | os.PathLike | None,
    targets: Mapping[str, Mapping[str, str | os.PathLike | None]],
) -> None:
    """Write ``summary.md``. ``targets`` maps a target name to the paths of its ``abc`` summary,
    ``validation`` and (optional) ``upscaling`` JSON files."""
    lines = [f"# Study `{study}`: summary", ""]
    metrics = _read(surrogate_metrics)
    if metrics is not None:
        lines += [
            f"## Surrogate ({metrics.get('class', metrics.get('model', ''))}, "
            f"{metrics.get('parameters', '?')} weights, {metrics.get('epochs', '?')} epochs)",
            "",
            *surrogate_table(metrics),
            "",
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
    Path(path).write_text("\n".join(lines))
