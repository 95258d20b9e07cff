"""The membrane study's summary [Z23]: VAE, latent space, estimation, Bayesian optimisation,
transfer learning and scans."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from poredesign.report.markdown import (
    baseline_warnings,
    fmt,
    r2_warnings,
    read_optional_json,
    transfer_test_mses,
    transfer_warning,
)

#: the bounds the recovered parameters are judged by: relative for n and r, absolute for each e
RECOVERY = {"n_points": 0.10, "radius": 0.10, "e": 0.05}


def _recovered(params: Mapping[str, Any], true: Mapping[str, Any]) -> str:
    """Which of n, r, e a BO result recovers within :data:`RECOVERY` ("n r e", "-" for none)."""
    hits = [
        key
        for key, name in (("n", "n_points"), ("r", "radius"))
        if abs(float(params[name]) - float(true[name])) <= RECOVERY[name] * abs(float(true[name]))
    ]
    if all(abs(float(params[e]) - float(true[e])) <= RECOVERY["e"] for e in ("e_x", "e_y", "e_z")):
        hits.append("e")
    return " ".join(hits) or "-"


def _ratio(variants: Mapping[str, Any]) -> float | None:
    """Mean test MSE of the pretrained (transfer) variant over scratch's, None when missing."""
    pretrained, scratch = transfer_test_mses(variants)
    return pretrained / scratch if pretrained is not None and scratch else None


def _scan_summary(table_path: str | os.PathLike) -> tuple[int, dict[str, Any], list[str]]:
    """Crop count, the estimation summary (the stage's own :func:`summarise`) and the estimated
    directions of a scan's ``estimate/<scan>.csv``."""
    from poredesign.characterise.estimate import read_table, summarise

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


def _vae_section(m: Mapping[str, Any]) -> list[str]:
    """The VAE's reconstruction per split beside the porosity-only reconstruction."""
    test = m.get("test", {})
    lines = [
        f"## VAE ({m.get('parameters', '?')} weights, {m.get('epochs', '?')} epochs)",
        "",
        "| split | structures | BCE / voxel | porosity-only BCE | ratio | blurry voxels "
        "| KL / voxel | voxel accuracy | porosity R^2 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for split in ("train", "val", "test"):
        s = m.get(split, {})
        lines.append(
            f"| {split} | {s.get('n', '?')} | {fmt(s.get('bce'), 4)} "
            f"| {fmt(s.get('bce_porosity_only'), 4)} "
            f"| {fmt(s.get('bce_ratio_to_porosity_only'), 3)} "
            f"| {fmt(s.get('blurry_fraction'), 3)} | {fmt(s.get('kl'), 4)} "
            f"| {fmt(s.get('voxel_accuracy'), 4)} | "
            f"{fmt(s.get('r2_porosity_reconstruction'), 4)} |"
        )
    lines += [
        "",
        "The porosity-only BCE is what a decoder that knows only each structure's porosity "
        "scores (the Bernoulli entropy at its solid fraction); blurry voxels are decoded with "
        "a solid probability in (0.1, 0.9).",
        "",
        f"Test loss (BCE + beta KL per voxel): {fmt(test.get('loss'), 4)}.",
        "",
    ]
    lines += baseline_warnings(test, "VAE")
    lines += r2_warnings(
        {"the VAE's reconstructed porosity (test)": test.get("r2_porosity_reconstruction")}
    )
    return lines


def _direction_table(p: Mapping[str, Any], nn: Mapping[str, Any]) -> list[str]:
    """Leave-one-out stretch direction in PC1-PC2 and the full latent, beside chance and the
    pore-chord ceiling."""
    chord = p.get("direction_pore_chord") or {}
    lines = [
        "",
        "Stretch direction of the nearest other training structure (leave one out), "
        "beside chance (the most frequent direction) and the geometric ceiling (the axis "
        "of the longest mean pore chord, no model):",
        "",
        "| structures | n | PC1-PC2 | full latent | chance | pore chord |",
        "|---|---|---|---|---|---|",
        f"| all | {p.get('n_train', '?')} | {fmt(nn.get('pc12'))} | "
        f"{fmt(nn.get('latent'))} | {fmt(nn.get('majority'))} | "
        f"{fmt(chord.get('all'))} |",
    ]
    if "n_strong" in nn:
        lines.append(
            f"| min(e) < {fmt(1 - float(nn['strong_stretch']))} | {nn['n_strong']} | "
            f"{fmt(nn.get('pc12_strong'))} | {fmt(nn.get('latent_strong'))} | "
            f"{fmt(nn.get('majority_strong'))} | {fmt(chord.get('strong'))} |"
        )
    return lines + [
        "",
        "[Z23] reads direction and intensity in PC1-PC2 (three branches about 120 "
        "degrees apart, isotropic structures at the centre: latent/pc12.png) and porosity "
        "along one PC.",
    ]


def _pca_section(p: Mapping[str, Any]) -> list[str]:
    """The latent PCA: explained variance, the porosity PC, direction from the latent."""
    ratio = p.get("explained_variance_ratio", [])
    lines = [
        "## Latent space (PCA of the training latent means)",
        "",
        f"- explained variance ratio of PC1-PC5: {fmt(list(ratio[:5]))}",
        f"- porosity PC: PC{p.get('porosity_pc_number', '?')} (correlation with porosity "
        f"{fmt(p.get('porosity_pc_correlation'))})",
        f"- correlation of PC1-PC3 with porosity: {fmt(p.get('correlation_porosity'))}; "
        f"with stretch intensity 1 - e: {fmt(p.get('correlation_intensity'))}",
    ]
    nn = p.get("direction_nearest_neighbour")
    if nn:
        lines += _direction_table(p, nn)
    reference = p.get("reference")
    if reference:
        lines.append(
            f"- projected into the PCA of `{reference.get('study', '?')}`: see "
            f"latent/reference.png and pca.json (reference)"
        )
    return lines + [""]


def _estimate_section(e: Mapping[str, Any]) -> list[str]:
    """Nearest-neighbour estimates of the test split beside chance."""
    return [
        "## Nearest-neighbour estimation (test split)",
        "",
        f"{e.get('n', '?')} test structures: porosity MAPE "
        f"{fmt(e.get('porosity_mape_percent'), 3)} %, stretch direction accuracy "
        f"{fmt(e.get('direction_accuracy'))} (chance: {fmt(e.get('direction_majority'))}), "
        f"intensity mean absolute error "
        f"{fmt(e.get('intensity_mae'), 3)}.",
        "",
    ]


def _bo_rows(name: str, res: Mapping[str, Any]) -> list[str]:
    """One target's table rows: the true parameters, the median and the best repeat."""
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
    lines = []
    for label, params, porosity, distance in rows:
        recovered = "" if label == "true" else _recovered(params, res["true_params"])
        lines.append(
            f"| {name} | {label} | {int(round(float(params['n_points'])))} | "
            f"{fmt(float(params['radius']))} | {fmt(float(params['e_x']))} | "
            f"{fmt(float(params['e_y']))} | {fmt(float(params['e_z']))} | "
            f"{fmt(porosity)} | {fmt(distance, 4)} | {recovered} |"
        )
    return lines


def _bo_section(bo: Mapping[str, str | os.PathLike]) -> list[str]:
    """BO's recovered generation parameters per target, with the recovery verdict."""
    lines = [
        "## Bayesian optimisation of the generation parameters",
        "",
        "| target | row | n | r | e_x | e_y | e_z | porosity | latent distance | recovered |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    results = {name: read_optional_json(bo_path) for name, bo_path in bo.items()}
    for name, res in results.items():
        lines += _bo_rows(name, res)
    first = next(iter(results.values()))
    return lines + [
        "",
        f"Optuna GPSampler (Matern 5/2, log expected improvement), "
        f"{first.get('n_trials', '?')} trials per repeat; candidates built with the "
        f"`{first.get('candidate_seed', '?')}` seed. Recovered: the parameters within "
        f"{int(100 * RECOVERY['n_points'])} % (n), {int(100 * RECOVERY['radius'])} % (r) "
        f"and {RECOVERY['e']} (every e) of the target's.",
        "",
    ]


def _transfer_section(t: Mapping[str, Any]) -> list[str]:
    """Transfer against scratch: train and test MSE, Welch's test, the paper's figures."""
    lines = [
        "## Transfer learning (tortuosity on the second dataset)",
        "",
        "| variant | runs | train MSE | test MSE |",
        "|---|---|---|---|",
    ]
    for variant, v in t.get("variants", {}).items():
        lines.append(
            f"| {variant} | {v.get('runs')} | {fmt(v.get('train_mse_mean'), 3)} "
            f"+- {fmt(v.get('train_mse_std'), 2)} | {fmt(v.get('test_mse_mean'), 3)} "
            f"+- {fmt(v.get('test_mse_std'), 2)} |"
        )
    return lines + [
        "",
        f"Welch test of the test MSEs: p = {fmt(t.get('welch_p_value'), 3)}; test MSE "
        f"transfer / scratch = {fmt(_ratio(t.get('variants', {})), 3)} (paper 0.885: "
        "transfer 0.00401 / 0.00502, scratch 0.00460 / 0.00567).",
        "",
        *transfer_warning(t.get("variants", {})),
    ]


def _scan_section(
    name: str, table: str | os.PathLike, crops: str | os.PathLike | None
) -> list[str]:
    """A scan's latent estimates, and the pore-chord direction of its crops when given."""
    n_crops, summary, directions = _scan_summary(table)
    lines = [
        f"## Scan `{name}`",
        "",
        f"{n_crops} crops: porosity estimated from the latent space within "
        f"{fmt(summary['porosity_mape_percent'], 3)} % (MAPE) of the porosity measured on the "
        f"crops; stretch direction estimated from the latent space: {_counts(directions)} "
        f"(table: estimate/{name}.csv).",
    ]
    if crops is not None:
        lines.append(
            f"Longest mean pore chord (geometry, no VAE): {_counts(_chord_directions(crops))} "
            f"(imports/{name}.zarr, chord_lengths)."
        )
    return lines + [""]


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
    sections = (
        (read_optional_json(vae_metrics), _vae_section),
        (read_optional_json(pca), _pca_section),
        (read_optional_json(estimate), _estimate_section),
        (bo or None, _bo_section),
        (read_optional_json(transfer), _transfer_section),
    )
    for content, section in sections:
        if content is not None:
            lines += section(content)
    for name, table in (scans or {}).items():
        lines += _scan_section(name, table, (scan_crops or {}).get(name))
    Path(path).write_text("\n".join(lines))
