"""Transport labels of a whole structure store: the ``simulate`` stage of the workflow.

A transport store (``transport.zarr``) holds, per structure i and axis j (x, y, z):

- ``eta`` (n, 3): D_eff / D; ``tau`` (n, 3): tortuosity factor porosity / eta;
- ``k`` (n, 3): permeability in lattice units (voxel^2);
- ``porosity`` (n,), ``porosity_eff`` (n, 3): pore fraction connected inlet to outlet per axis;
- ``flags_eta``, ``flags_k`` (n, 3): :class:`~poredesign.transport.Flag` bits (16 = not requested);
- ``iterations_eta``, ``iterations_k``, ``seconds_eta``, ``seconds_k`` (n, 3);
- attrs: the solver settings, the structure store and its index range.

Values not requested are NaN with the SKIPPED flag.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

from poredesign import store
from poredesign.transport.results import Flag, axis_index

log = logging.getLogger(__name__)

PROPERTIES = ("diffusivity", "permeability")


def simulate_store(
    structures_path: str | os.PathLike,
    out_path: str | os.PathLike,
    properties: Sequence[str] = ("diffusivity",),
    axes: Sequence[int | str] = (0, 1, 2),
    diffusion: Mapping[str, Any] | None = None,
    flow: Mapping[str, Any] | None = None,
    progress_file: Any = None,
) -> dict[str, int]:
    """Solve every requested property along every requested axis for each structure of a store.

    Returns counts of flagged results per property.
    """
    unknown = set(properties) - set(PROPERTIES)
    if unknown:
        raise ValueError(f"unknown transport properties {sorted(unknown)}; allowed: {PROPERTIES}")
    structures = store.StructureStore(structures_path)
    axes = sorted({axis_index(a) for a in axes})
    n = len(structures)
    table = {
        name: np.full((n, 3), np.nan)
        for name in ("eta", "tau", "k", "porosity_eff", "seconds_eta", "seconds_k")
    }
    table |= {name: np.zeros((n, 3), dtype=np.int32) for name in ("iterations_eta", "iterations_k")}
    table |= {
        name: np.full((n, 3), int(Flag.SKIPPED), dtype=np.int32)
        for name in ("flags_eta", "flags_k")
    }
    porosity = np.empty(n)
    first = int(structures.attrs.get("first_index", 0))
    solvers = {}
    if "diffusivity" in properties:
        from poredesign.transport.diffusion import diffusivity

        solvers["eta"] = (diffusivity, dict(diffusion or {}))
    if "permeability" in properties:
        from poredesign.transport import permeability

        solvers["k"] = (permeability, dict(flow or {}))

    for i in tqdm(
        range(n),
        desc=f"simulate {', '.join(properties)}",
        file=progress_file,
        mininterval=5.0,
        unit="structure",
    ):
        solid = structures[i]
        porosity[i] = 1.0 - solid.mean()
        for key, (solve, options) in solvers.items():
            for axis in axes:
                result = solve(solid, axis, name=f"structure {first + i}", **options)
                table[key][i, axis] = result.eta if key == "eta" else result.k
                table[f"flags_{key}"][i, axis] = int(result.flag)
                table[f"iterations_{key}"][i, axis] = result.iterations
                table[f"seconds_{key}"][i, axis] = result.wall_time
                if key == "eta":
                    table["tau"][i, axis] = result.tau
                    table["porosity_eff"][i, axis] = result.porosity_eff
    with store.atomic_group(out_path) as group:
        for name, data in table.items():
            store.write_array(group, name, data)
        store.write_array(group, "porosity", porosity)
        group.attrs.update(
            store.provenance(
                structures=str(structures_path),
                first_index=first,
                n=n,
                properties=list(properties),
                axes=axes,
                diffusion=dict(diffusion or {}),
                flow=dict(flow or {}),
                units={"eta": "D_eff / D", "k": "voxel^2 (lattice units)"},
            )
        )
    flagged = {key: int(np.count_nonzero(table[f"flags_{key}"][:, axes])) for key in solvers}
    log.info("simulated %d structures of %s: flagged %s", n, structures_path, flagged)
    return flagged
