"""The outputs of an ABC run: the posterior zarr store and the JSON summary (and the figure)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from poredesign import store
from poredesign.design.abc.figures import plot_marginals
from poredesign.design.abc.result import AbcResult
from poredesign.jsonable import write_json


def write_posterior_store(result: AbcResult, path: str | os.PathLike) -> None:
    """The posterior per generation as a zarr store (atomic).

    Arrays (G completed generations, n particles, p parameters, d statistics):
    ``params`` (G, n, p) with ``attrs["names"]``, ``weights`` (G, n) (each row sums to 1),
    ``distances`` (G, n), ``stats`` (G, n, d), ``epsilons``, ``acceptance_rates``,
    ``nr_evaluations``, ``model_evaluations``, ``wall_time`` (G,; seconds), ``theta_hat``,
    ``theta_std`` (p,), ``target`` (d,). Attrs: the summary (:meth:`AbcResult.summary`).
    """
    gens = result.generations
    n, p = result.population, len(result.param_names)
    d = result.target.size
    names = result.param_names
    with store.atomic_group(path) as group:
        write = store.write_array
        params = np.array([g.params for g in gens]).reshape(len(gens), n, p)
        write(group, "params", params, names=names)
        write(group, "weights", np.array([g.weights for g in gens]).reshape(len(gens), n))
        write(group, "distances", np.array([g.distances for g in gens]).reshape(len(gens), n))
        stats = np.array([g.stats for g in gens]).reshape(len(gens), n, d)
        write(group, "stats", stats, name=result.stat_name)
        write(group, "epsilons", np.array([g.epsilon for g in gens], dtype=float))
        write(group, "acceptance_rates", np.array([g.acceptance_rate for g in gens], float))
        write(group, "nr_evaluations", np.array([g.nr_evaluations for g in gens], np.int64))
        write(group, "model_evaluations", np.array([g.model_evaluations for g in gens], np.int64))
        write(group, "wall_time", np.array([g.wall_time for g in gens], dtype=float))
        write(group, "theta_hat", result.theta_hat, names=names)
        write(group, "theta_std", result.theta_std, names=names)
        write(group, "target", result.target, name=result.stat_name)
        group.attrs.update(store.provenance(kind="abc_posterior", **result.summary()))


def read_posterior_store(path: str | os.PathLike) -> dict[str, Any]:
    """All arrays of a posterior store as numpy arrays, plus ``param_names`` and ``attrs``."""
    group = store.open_group(path)
    out: dict[str, Any] = {name: np.asarray(array[...]) for name, array in group.arrays()}
    out["param_names"] = list(group["params"].attrs["names"])
    out["attrs"] = dict(group.attrs)
    return out


def write_summary(result: AbcResult, path: str | os.PathLike) -> None:
    """The acceptance/evaluation summary as JSON (:meth:`AbcResult.summary`; atomically)."""
    write_json(path, result.summary())


def save_outputs(
    result: AbcResult,
    store_path: str | os.PathLike | None = None,
    figure_path: str | os.PathLike | None = None,
    summary_path: str | os.PathLike | None = None,
) -> None:
    """Write whichever of the posterior store, the marginal figure and the summary are given."""
    if store_path is not None:
        write_posterior_store(result, store_path)
    if figure_path is not None:
        plot_marginals(result, figure_path)
    if summary_path is not None:
        write_summary(result, summary_path)
