"""Outputs of the Bayesian optimisation stage [Z23] (SPEC 4.2): ``bo.json``, the convergence
figure (matplotlib, Agg backend, PNG) and the summary table of recovered against true parameters.

The figure and the table read only the ``bo.json`` records (:func:`poredesign.design.bo.run_bo`).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from poredesign.design.bo import PARAMS  # noqa: E402
from poredesign.jsonable import write_json  # noqa: E402

SUMMARY_COLUMNS = (
    "target",
    "row",
    "repeat",
    *PARAMS,
    "porosity",
    "distance",
    "candidate_seed",
    "n_trials",
)


def write_result(result: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write a ``bo.json`` record (NaN/inf as null), through a temporary file and a rename."""
    write_json(path, result, indent=1)


def read_result(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``bo.json`` record; a clear error names the file if it is not one."""
    data = json.loads(Path(path).read_text())
    missing = {"target", "true_params", "repeats", "median", "best"} - set(data)
    if missing:
        raise ValueError(f"{path} is not a BO result: missing {sorted(missing)}")
    return data


def plot_convergence(result: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Best distance so far against the trial number, one line per repeat; the median repeat
    bold, the best dashed; the end of the random startup trials marked."""
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    median, best = result["median"]["repeat"], result["best"]["repeat"]
    positive = []
    for rep in result["repeats"]:
        y = np.array([np.nan if v is None else v for v in rep["best_so_far"]], dtype=float)
        x = np.arange(1, len(y) + 1)
        positive.append(bool(np.nanmin(y, initial=np.inf) > 0))
        style = {"lw": 0.8, "alpha": 0.6, "color": "0.5"}
        label = None
        if rep["repeat"] == best:
            style, label = {"lw": 1.6, "ls": "--", "color": "C1"}, f"best (repeat {best})"
        if rep["repeat"] == median:
            style, label = {"lw": 2.0, "color": "C0"}, f"median (repeat {median})"
        ax.step(x, y, where="post", label=label, **style)
    n_startup = result["sampler"]["n_startup_trials"]
    ax.axvline(n_startup + 0.5, color="k", lw=0.6, ls=":", label=f"{n_startup} random trials")
    if positive and all(positive):
        ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel("best latent distance ||mu - mu*||")
    true = result["true_params"]
    ax.set_title(
        f"{result['target']}: r={true['radius']:.2f}, n={true['n_points']}, "
        f"e=({true['e_x']:.2f}, {true['e_y']:.2f}, {true['e_z']:.2f}); "
        f"seed {result['candidate_seed']}",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summary_rows(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per target three rows, as the paper tabulates: the true parameters (with the target's
    porosity), the median repeat's and the best repeat's recovered parameters and distances."""
    rows = []
    for res in results:
        common = {
            "target": res["target"],
            "candidate_seed": res["candidate_seed"],
            "n_trials": res["n_trials"],
        }
        rows.append(
            {**common, "row": "true", "repeat": "", **res["true_params"],
             "porosity": res["target_porosity"], "distance": 0.0}
        )  # fmt: skip
        for which in ("median", "best"):
            pick = res[which]
            rows.append(
                {**common, "row": which, "repeat": pick["repeat"], **pick["best_params"],
                 "porosity": pick["best_porosity"], "distance": pick["best_distance"]}
            )  # fmt: skip
    return rows


def write_summary(
    paths: Sequence[str | os.PathLike], names: Sequence[str], out: str | os.PathLike
) -> list[dict[str, Any]]:
    """The summary table (CSV, :data:`SUMMARY_COLUMNS`) of the ``bo.json`` files ``paths``, in
    the order of the target ``names``; returns its rows."""
    results = {res["target"]: res for res in map(read_result, paths)}
    missing = [n for n in names if n not in results]
    if missing:
        raise ValueError(f"BO summary: no bo.json for target(s) {missing} among {list(paths)}")
    rows = summary_rows([results[n] for n in names])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows
