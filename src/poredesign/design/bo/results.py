"""The records of the BO stage [Z23] (SPEC 4.2): one repeat's record, the median and best repeats,
``bo.json`` (written and read) and the summary table of recovered against true parameters.

Median repeat: the repeat whose best distance is the lower median of the repeats' best distances
(a real run, as the paper tabulates; for an even count the smaller of the two middle). The table
reads only the ``bo.json`` records (:func:`poredesign.design.bo.run.run_bo`).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from poredesign.design.bo.problem import PARAMS
from poredesign.design.bo.storage import counted
from poredesign.jsonable import read_json, write_json

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
    data = read_json(path)
    missing = {"target", "true_params", "repeats", "median", "best"} - set(data)
    if missing:
        raise ValueError(f"{path} is not a BO result: missing {sorted(missing)}")
    return data


def repeat_result(study: optuna.Study, repeat: int, sampler_seed: int) -> dict[str, Any]:
    """One repeat's record: per counted trial the distance (None for a failed build) and the best
    distance so far (non-increasing), the best trial's parameters, distance and porosity."""
    trials = [t for t in study.get_trials(deepcopy=False) if counted(t)]
    distances = [t.value if t.state == TrialState.COMPLETE else None for t in trials]
    finite = [np.inf if d is None else d for d in distances]
    best_so_far = np.minimum.accumulate(finite) if finite else np.zeros(0)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = min(complete, key=lambda t: t.value) if complete else None
    durations = [t.duration.total_seconds() for t in complete if t.duration is not None]
    objective = [t.user_attrs.get("build_s", 0) + t.user_attrs.get("encode_s", 0) for t in complete]
    return {
        "repeat": repeat,
        "study": study.study_name,
        "sampler_seed": sampler_seed,
        "n_trials": len(trials),
        "n_failed": sum(d is None for d in distances),
        "best_trial": None if best is None else best.number,
        "best_params": None if best is None else {k: best.params[k] for k in PARAMS},
        "best_distance": None if best is None else float(best.value),
        "best_porosity": None if best is None else best.user_attrs.get("porosity"),
        "distances": distances,
        "best_so_far": [float(v) if np.isfinite(v) else None for v in best_so_far],
        "seconds": {
            "build": float(np.mean([t.user_attrs["build_s"] for t in complete]))
            if complete
            else None,
            "encode": float(np.mean([t.user_attrs["encode_s"] for t in complete]))
            if complete
            else None,
            "sampler_and_storage": float(np.mean(np.subtract(durations, objective)))
            if durations
            else None,
        },
    }


def median_and_best(repeats: Sequence[Mapping[str, Any]]) -> tuple[dict, dict]:
    """The repeat of the lower-median best distance and the repeat of the smallest one."""
    ranked = sorted(
        (r for r in repeats if r["best_distance"] is not None), key=lambda r: r["best_distance"]
    )
    if not ranked:
        raise ValueError("no BO repeat completed a trial; see the log for the build errors")
    return dict(ranked[(len(ranked) - 1) // 2]), dict(ranked[0])


def pick(repeat: Mapping[str, Any], true: Mapping[str, float]) -> dict[str, Any]:
    """The ``median`` or ``best`` entry of ``bo.json``: the repeat's best parameters, distance and
    porosity, and the error of each parameter against the ``true`` ones."""
    params = repeat["best_params"]
    return {
        "repeat": repeat["repeat"],
        "best_params": params,
        "best_distance": repeat["best_distance"],
        "best_porosity": repeat["best_porosity"],
        "error": {k: params[k] - true[k] for k in PARAMS},
    }


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
