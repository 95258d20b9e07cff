"""The inverse-design benchmark of square-pore studies: targets in and beyond the data
band, methods compared at an equal, recorded solver budget per target.

Targets (porosity, k in voxel^2), drawn from the study seed (stream ``benchmark_targets``), all
at porosity levels the dataset holds (n squares: porosity n / (pores per full image), exact):

- ``in_band``: k uniform inside the dataset's band at the level (:class:`ReachableBand`);
- ``beyond_band``: half above the band, k = (``beyond_factor`` in [1.2, 3]) x the band maximum,
  half below it, k uniform between the lower bound below and the band minimum;
- ``infeasible``: k = U(0.3, 0.8) x the lower bound. The stated criterion: n squares cannot have
  k below n k_1, the solver's k of n isolated squares (k_1: one square in the image). Isolated
  squares are disjoint channels; in any other arrangement the same fluid region joined (Stokes
  flow's variational principle: the flow of the disjoint squares is an admissible field of the
  union, whose flux is therefore at least theirs). These are flagged and never scored as success.

A drawn k within 1e-6 (relative) of a training structure's label at that level is drawn again,
so no target is a training structure. Each level's lower bound and its most compact arrangement
(the squares packed row by row into a near-square block, the largest k the generator is known
to reach there) are solved once and recorded (``reach``).

Methods, each with at most ``budget`` solver calls per target, every call counted:

- ``nearest``: the training structure nearest in min-max scaled (porosity, k) (1 call);
- ``latent``: the paper's latent descent [A25], the best candidate by the descent's own loss,
  decoded and binarised (1 call);
- ``latent_best_of_starts``: the same descent's ``latent_starts`` candidates all solved, the
  best by the solver (relative porosity and k errors, squared and summed) kept (S calls);
- ``search``: :func:`poredesign.design.search.search` from the training structure at the level
  nearest in k (``budget`` calls at most, the start's solve included).

Every design carries its solver k, porosity, flag, whether it is an image the generator can make
(a union of non-overlapping squares), its solver calls and its wall and CPU seconds. A design
whose flag is not OK (no pore path, no solid, not converged) is flagged and not scored.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from poredesign.config import Settings
from poredesign.design.gradient.targets import ReachableBand, nearest_structures
from poredesign.design.search import (
    SearchSettings,
    Squares,
    search,
    squares_from_image,
)
from poredesign.seeds import stream_rng
from poredesign.transport.results import Flag, flag_names

log = logging.getLogger(__name__)

SETS = ("in_band", "beyond_band", "infeasible")
METHODS = ("nearest", "latent", "latent_best_of_starts", "search")
FLOW_AXIS = 2

#: (targets (T, 2), S) -> candidate solid images (T, S, N, N), their descent losses (T, S) and the
#: descent's wall seconds (all targets)
LatentMethod = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray, float]]


@dataclass(frozen=True)
class BenchmarkSettings(Settings):
    """The ``design.benchmark`` section (config/schema.yaml, whose defaults these are)."""

    SECTION: ClassVar[str] = "design.benchmark"

    enabled: bool = True
    in_band: int = 10
    beyond_band: int = 10
    infeasible: int = 4
    beyond_factor: tuple[float, float] = (1.2, 3.0)
    budget: int = 100
    latent_starts: int = 8
    success: float = 0.02
    search: SearchSettings = SearchSettings()


@dataclass
class Evaluation:
    """The solver's porosity and k_z of one design, its flag and cost."""

    porosity: float
    k: float
    flag: int
    seconds: float


def solve_image(solid: np.ndarray, flow: Mapping[str, Any] | None = None) -> Evaluation:
    """Exact porosity and solver k_z of a solid image (N, N), extruded (two slices suffice)."""
    from poredesign.transport import permeability

    solid = np.asarray(solid, dtype=bool)
    options = dict(flow or {})
    options.setdefault("device", "cpu")
    t0 = time.perf_counter()
    result = permeability(np.repeat(solid[:, :, None], 2, axis=2), FLOW_AXIS, **options)
    return Evaluation(
        1.0 - float(solid.mean()), float(result.k), int(result.flag), time.perf_counter() - t0
    )


def is_generator_image(solid: np.ndarray, pore: int) -> bool:
    """Whether a solid image is a union of non-overlapping pore x pore squares."""
    try:
        squares_from_image(~np.asarray(solid, dtype=bool), pore)
    except ValueError:
        return False
    return True


def compact_block(count: int, image: int, pore: int) -> Squares:
    """``count`` squares packed row by row into a near-square block from the corner."""
    cols = min(int(math.ceil(math.sqrt(count))), image // pore)
    corners = [(pore * (c // cols), pore * (c % cols)) for c in range(count)]
    return Squares(np.array(corners, dtype=np.int64).reshape(-1, 2), pore, image)


def level_reach(
    counts: Sequence[int], image: int, pore: int, flow: Mapping[str, Any] | None
) -> dict[int, dict[str, float]]:
    """Per square count: the lower bound n k_1 and the compact block's k (solver)."""
    one = solve_image(~Squares(np.zeros((1, 2), np.int64), pore, image).mask(), flow).k
    reach = {}
    for n in counts:
        block = solve_image(~compact_block(int(n), image, pore).mask(), flow)
        reach[int(n)] = {"lower_bound": float(n * one), "compact_block": block.k}
    return reach


def draw_benchmark_targets(
    settings: BenchmarkSettings,
    band: ReachableBand,
    reach: Mapping[int, Mapping[str, float]],
    per_full_image: float,
    train: np.ndarray,
    seed: int,
    max_tries: int = 10000,
) -> list[dict[str, Any]]:
    """The three target sets of the module docstring: dicts with set, side (above/below for
    beyond_band), porosity, k, count (squares)."""
    levels = np.asarray(band.porosity, dtype=float)
    counts = np.rint(levels * per_full_image).astype(int)
    on_level = np.isclose(counts / per_full_image, levels)
    levels, counts = levels[on_level], counts[on_level]
    low = np.interp(levels, band.porosity, band.k_low)
    high = np.interp(levels, band.porosity, band.k_high)
    targets: list[dict[str, Any]] = []
    sizes = {"in_band": settings.in_band, "beyond_band": settings.beyond_band}
    sizes["infeasible"] = settings.infeasible
    for s, name in enumerate(SETS):
        rng = stream_rng(seed, "benchmark_targets", s)
        made = 0
        for _ in range(max_tries):
            if made == sizes[name]:
                break
            i = int(rng.integers(len(levels)))
            n = int(counts[i])
            bound, block = reach[n]["lower_bound"], reach[n]["compact_block"]
            side = None
            if name == "in_band":
                k = rng.uniform(low[i], high[i])
            elif name == "beyond_band":
                side = "above" if made % 2 == 0 else "below"
                if side == "above":
                    k = high[i] * rng.uniform(*settings.beyond_factor)
                    if k > block:  # beyond what the generator is known to reach: not this set
                        continue
                else:
                    if bound * 1.01 >= low[i]:
                        continue
                    k = rng.uniform(bound * 1.01, low[i])
            else:
                k = bound * rng.uniform(0.3, 0.8)
            same = np.isclose(train[:, 0], levels[i])
            if np.any(np.abs(train[same, 1] - k) <= 1e-6 * k):
                continue  # a training structure's label: draw again
            targets.append(
                {"set": name, "side": side, "porosity": float(levels[i]), "k": float(k), "count": n}
            )
            made += 1
        if made < sizes[name]:
            raise ValueError(f"design.benchmark: could not draw {sizes[name]} {name} targets")
    return targets


def _record(
    method: str,
    target: Mapping[str, Any],
    evaluation: Evaluation,
    pore: int,
    solid: np.ndarray,
    calls: int,
    seconds: float,
    cpu_seconds: float,
    **extra: Any,
) -> dict[str, Any]:
    ok = evaluation.flag == int(Flag.OK)
    k_error = abs(evaluation.k - target["k"]) / target["k"] if ok else None
    porosity_error = abs(evaluation.porosity - target["porosity"]) / target["porosity"]
    return {
        "method": method,
        "set": target["set"],
        "target": [target["porosity"], target["k"]],
        "porosity": evaluation.porosity,
        "k": evaluation.k,
        "flag": evaluation.flag,
        "flag_name": flag_names(evaluation.flag),
        "scored": bool(ok and target["set"] != "infeasible"),
        "generator_image": is_generator_image(solid, pore),
        "k_error": k_error,
        "porosity_error": porosity_error,
        "solver_calls": int(calls),
        "seconds": float(seconds),
        "cpu_seconds": float(cpu_seconds),
        **extra,
    }


def _combined_error(e: Evaluation, target: Mapping[str, Any]) -> float:
    if e.flag != int(Flag.OK):
        return math.inf
    return ((e.porosity - target["porosity"]) / target["porosity"]) ** 2 + (
        (e.k - target["k"]) / target["k"]
    ) ** 2


def run_benchmark(
    train_images: np.ndarray,
    train_properties: np.ndarray,
    band: ReachableBand,
    pore: int,
    seed: int,
    settings: BenchmarkSettings = BenchmarkSettings(),
    latent: LatentMethod | None = None,
    flow: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The benchmark of the module docstring on the training structures (solid images (n, N, N)
    and their (porosity, k)); ``latent`` makes the latent candidates (None: those methods are
    left out). Returns the content of benchmark.json."""
    t_all = time.perf_counter()
    image = int(train_images.shape[1])
    per_full_image = image**2 / pore**2
    budget = int(settings.budget)
    counts = sorted({int(round(p * per_full_image)) for p in band.porosity})
    reach = level_reach(counts, image, pore, flow)
    targets = draw_benchmark_targets(
        settings, band, reach, per_full_image, np.asarray(train_properties), seed
    )
    goal = np.array([[t["porosity"], t["k"]] for t in targets])
    nearest = nearest_structures(train_properties, goal)
    designs = _nearest_designs(targets, nearest, train_images, pore, flow)
    if latent is not None:
        designs += _latent_designs(targets, goal, latent, pore, budget, settings, flow)
    search_designs, search_runs = _search_designs(
        targets, nearest, train_images, train_properties, pore, seed, settings, flow, progress
    )
    designs += search_designs
    methods = [m for m in METHODS if any(d["method"] == m for d in designs)]
    out = {
        "image": image,
        "pore": pore,
        "levels": {"per_full_image": per_full_image, "counts": counts},
        "budget": {"solver_calls_per_target": budget},
        "settings": settings.as_record(),
        "infeasible_criterion": (
            "k below n k_1, the solver's k of n isolated squares (disjoint channels): no "
            "arrangement of n squares has a lower k (Stokes flow's variational principle)"
        ),
        "band": band.as_dict(),
        "reach": {str(n): v for n, v in reach.items()},
        "targets": targets,
        "designs": designs,
        "search_runs": search_runs,
        "scores": score_designs(designs, methods, float(settings.success)),
        "seconds": time.perf_counter() - t_all,
    }
    out["goals"] = goals(out["scores"], budget)
    return out


def _nearest_designs(
    targets: list[dict[str, Any]],
    nearest: np.ndarray,
    train_images: np.ndarray,
    pore: int,
    flow: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """The baseline: per target the training structure nearest it, solved (one call)."""
    designs = []
    for t, target in enumerate(targets):
        t0, c0 = time.perf_counter(), time.process_time()
        solid = train_images[nearest[t]]
        e = solve_image(solid, flow)
        designs.append(
            _record(
                "nearest",
                target,
                e,
                pore,
                solid,
                1,
                time.perf_counter() - t0,
                time.process_time() - c0,
                train_position=int(nearest[t]),
                target_index=t,
            )
        )
    return designs


def _latent_designs(
    targets: list[dict[str, Any]],
    goal: np.ndarray,
    latent: LatentMethod,
    pore: int,
    budget: int,
    settings: BenchmarkSettings,
    flow: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """The latent descent's pick by its loss (the paper's) and the best of its starts by the
    solver, each with the descent's time shared over the targets."""
    starts = max(1, min(int(settings.latent_starts), budget))
    t0, c0 = time.perf_counter(), time.process_time()
    images, losses, _ = latent(goal, starts)
    share, cpu_share = (
        (time.perf_counter() - t0) / len(targets),
        (time.process_time() - c0) / len(targets),
    )
    designs = []
    for t, target in enumerate(targets):
        t1, c1 = time.perf_counter(), time.process_time()
        evaluations = [solve_image(img, flow) for img in images[t]]
        solver_s = [time.perf_counter() - t1, time.process_time() - c1]
        paper = int(np.argmin(losses[t]))
        per_call = [solver_s[0] / len(evaluations), solver_s[1] / len(evaluations)]
        designs.append(
            _record(
                "latent",
                target,
                evaluations[paper],
                pore,
                images[t, paper],
                1,
                share + per_call[0],
                cpu_share + per_call[1],
                target_index=t,
            )
        )
        best = int(np.argmin([_combined_error(e, target) for e in evaluations]))
        designs.append(
            _record(
                "latent_best_of_starts",
                target,
                evaluations[best],
                pore,
                images[t, best],
                len(evaluations),
                share + solver_s[0],
                cpu_share + solver_s[1],
                target_index=t,
            )
        )
    return designs


def _search_designs(
    targets: list[dict[str, Any]],
    nearest: np.ndarray,
    train_images: np.ndarray,
    train_properties: np.ndarray,
    pore: int,
    seed: int,
    settings: BenchmarkSettings,
    flow: Mapping[str, Any] | None,
    progress: Callable[[str], None] | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The search in square-pore space per target, from the training structure of the target's
    porosity nearest its k; its designs and its runs' solved states."""
    image, budget = int(train_images.shape[1]), int(settings.budget)
    designs, search_runs = [], []
    for t, target in enumerate(targets):
        same = np.flatnonzero(np.isclose(train_properties[:, 0], target["porosity"]))
        pick = (
            same[np.argmin(np.abs(train_properties[same, 1] - target["k"]))]
            if len(same)
            else nearest[t]
        )
        start = squares_from_image(~train_images[pick], pore)
        t0, c0 = time.perf_counter(), time.process_time()
        result = search(
            (target["porosity"], target["k"]),
            image,
            pore,
            stream_rng(seed, "square_search", t),
            settings.search,
            start=start,
            flow=flow,
            budget=budget,
        )
        e = Evaluation(result.porosity, result.k, result.flag, result.solver_seconds)
        designs.append(
            _record(
                "search",
                target,
                e,
                pore,
                ~result.squares.mask(),
                result.solver_calls,
                time.perf_counter() - t0,
                time.process_time() - c0,
                target_index=t,
                start_train_position=int(pick),
                corners=result.squares.corners.tolist(),
            )
        )
        search_runs.append({"porosity": result.porosity, "k": result.k_solved})
        if progress is not None:
            progress(
                f"search {t + 1}/{len(targets)} ({target['set']}): k error "
                f"{100 * result.k_error:.2f} % in {result.solver_calls} calls"
            )
    return designs, search_runs


def _mape(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return 100.0 * float(np.mean(kept)) if kept else None


def score_designs(
    designs: Sequence[Mapping[str, Any]], methods: Sequence[str], success: float
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per target set and method: designs, scored and flagged ones, k and porosity MAPE (%) over
    the scored, the share within ``success`` of the target k, solver calls and seconds per
    target. Infeasible targets are never scored: their entry gives the k gap left instead."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name in SETS:
        out[name] = {}
        for method in methods:
            rows = [d for d in designs if d["set"] == name and d["method"] == method]
            if not rows:
                continue
            scored = [d for d in rows if d["scored"]]
            ok = [d for d in rows if d["flag"] == int(Flag.OK)]
            entry = {
                "n": len(rows),
                "scored": len(scored),
                "flagged": len(rows) - len(ok),
                "generator_images": int(sum(d["generator_image"] for d in rows)),
                "k_mape": _mape([d["k_error"] for d in scored]),
                "porosity_mape": _mape([d["porosity_error"] for d in scored]),
                "within_success": (
                    float(np.mean([d["k_error"] <= success for d in scored])) if scored else None
                ),
                "solver_calls_mean": float(np.mean([d["solver_calls"] for d in rows])),
                "solver_calls_max": int(max(d["solver_calls"] for d in rows)),
                "seconds_mean": float(np.mean([d["seconds"] for d in rows])),
                "cpu_seconds_mean": float(np.mean([d["cpu_seconds"] for d in rows])),
            }
            if name == "infeasible":
                entry["k_gap_median"] = (
                    100.0 * float(np.median([d["k_error"] for d in ok])) if ok else None
                )
            out[name][method] = entry
    return out


def goals(scores: Mapping[str, Any], budget: int) -> dict[str, Any]:
    """The goals of the search: beyond-band k MAPE <= 2 %, porosity exact, <= 100 calls;
    in-band k MAPE <= 1 %."""
    beyond = scores.get("beyond_band", {}).get("search")
    inside = scores.get("in_band", {}).get("search")

    def met(value, bound):
        return None if value is None else bool(value <= bound)

    return {
        "beyond_band_k_mape_le_2": met(beyond and beyond["k_mape"], 2.0),
        "beyond_band_porosity_exact": met(beyond and beyond["porosity_mape"], 1e-9),
        "solver_calls_le_100": met(beyond and beyond["solver_calls_max"], min(100, budget)),
        "in_band_k_mape_le_1": met(inside and inside["k_mape"], 1.0),
    }


__all__ = [
    "METHODS",
    "SETS",
    "BenchmarkSettings",
    "draw_benchmark_targets",
    "goals",
    "is_generator_image",
    "level_reach",
    "pvae_latent_method",
    "run_benchmark",
    "score_designs",
    "solve_image",
]


def pvae_latent_method(
    pvae: Any,
    mu: np.ndarray,
    train: np.ndarray,
    train_k: np.ndarray,
    latent: Any,
) -> LatentMethod:
    """The latent descent of the design stage (``latent``: its LatentDesignSettings) as a
    benchmark method: per target the S training codes nearest by k, each descended on its own
    (the descent's candidates are independent), decoded and binarised."""
    import torch

    from poredesign.design.gradient.descent import latent_descent, reencoded_objective
    from poredesign.design.gradient.evaluate import PROPERTIES, decode_binary, target_columns
    from poredesign.design.gradient.targets import nearest_by_k

    columns = target_columns(pvae)
    device = next(pvae.parameters()).device

    def method(goal: np.ndarray, starts: int) -> tuple[np.ndarray, np.ndarray, float]:
        t0 = time.perf_counter()
        chosen = train[nearest_by_k(train_k, goal[:, 1], starts)]  # (T, S)
        n_targets, n_starts = chosen.shape
        in_model = np.zeros((n_targets, len(pvae.targets)))
        weights = np.zeros(len(pvae.targets))
        for j, name in zip(columns, PROPERTIES, strict=True):
            in_model[:, j] = goal[:, PROPERTIES.index(name)]
            weights[j] = float(latent.weights[PROPERTIES.index(name)])
        scaled = pvae.scaler.encode(torch.as_tensor(in_model, dtype=torch.float32))
        rows = torch.as_tensor(mu[chosen.ravel()], dtype=torch.float32, device=device)
        result = latent_descent(
            rows[:, None, :],
            scaled.repeat_interleave(n_starts, dim=0).to(device),
            reencoded_objective(
                pvae,
                weights,
                straight_through=bool(latent.straight_through),
                exact_porosity=bool(latent.exact_porosity),
            ),
            lr=float(latent.lr),
            max_steps=int(latent.max_steps),
            patience=int(latent.patience),
            loss_bound=float(latent.loss_bound),
            chunk=int(latent.batch_size),
        )
        images = decode_binary(pvae, result.z, int(latent.batch_size))
        images = images.reshape(n_targets, n_starts, *images.shape[1:])
        return images, result.loss.reshape(n_targets, n_starts), time.perf_counter() - t0

    return method
