"""Square pores through the design engine: the placement search of
:mod:`poredesign.design.search.squares` (simulated annealing over square moves, ranked by a
Kozeny-type proxy, decided by the solver) for a (porosity, k_z) target, as a
:class:`~poredesign.design.engine.search.DesignResult`.

The porosity is met on the generator's levels (n squares); the target is infeasible when its
k_z lies below the lower bound n k_1 of the level (n separate single squares: the least any
arrangement of n squares reaches, two extra solver calls that the record counts).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from poredesign.design.engine.targets import relative_errors
from poredesign.seeds import stream_rng


def design_squares(generator, problem, flow: Mapping[str, Any]):
    from poredesign.design.benchmark import level_reach
    from poredesign.design.engine.search import DesignResult
    from poredesign.design.search import SearchSettings, level_count, search

    if set(problem.target) != {"porosity", "k_z"}:
        raise ValueError("--target: the squares generator needs porosity=P and k_z=K (or k=K)")
    if problem.mode != "structure":
        raise ValueError("--mode parameters: the squares generator designs placements only")
    t0, c0 = time.perf_counter(), time.process_time()
    porosity, k = problem.target["porosity"], problem.target["k_z"]
    image, pore = problem.size, generator.pore
    flow = {"device": "cpu", **dict(flow)}
    count = level_count(porosity, image, pore)
    bound = level_reach([count], image, pore, flow)[count]
    result = search(
        (porosity, k),
        image,
        pore,
        stream_rng(problem.seed, "square_search", 0),
        SearchSettings(),
        flow=flow,
        budget=problem.budget,
    )
    values = {"porosity": result.porosity, "k_z": result.k}
    reasons, flag = [], "reached"
    if k < bound["lower_bound"]:
        flag = "infeasible"
        reasons.append(
            f"k_z={k:g} lies below n k_1 = {bound['lower_bound']:.4g}, the least {count} "
            "squares reach"
        )
    elif max(relative_errors(values, problem.target).values()) > problem.tolerance:
        flag = "not_reached"
        reasons.append(f"not within {problem.tolerance:.2%} in {problem.budget} calls")
    record = result.record()
    return DesignResult(
        generator=generator.name,
        mode="structure",
        params={"corners": record.pop("corners"), "pore": pore, "depth": generator.depth},
        seed=problem.seed,
        values=values,
        target=dict(problem.target),
        flag=flag,
        reasons=reasons,
        calls=result.solver_calls + 2,
        cpu_seconds=time.process_time() - c0,
        seconds=time.perf_counter() - t0,
        history=result.history,
        extra={
            "search": record,
            "level": {"squares": count, "porosity": count * pore**2 / image**2},
            "lower_bound_k": bound["lower_bound"],
            "compact_block_k": bound["compact_block"],
        },
    )


__all__ = ["design_squares"]
