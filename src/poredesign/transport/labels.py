"""Transport labels of a whole structure store: the ``simulate`` stage of the workflow.

:func:`label_structures` runs :func:`~poredesign.transport.properties` (the one per-axis solve
loop) on every structure of a structure store and writes what it returns into a transport store
(``transport.zarr``), per structure i and axis j (x, y, z):

- ``eta`` (n, 3): D_eff / D; ``tau`` (n, 3): tortuosity factor porosity / eta;
- ``k`` (n, 3): permeability in lattice units (voxel^2);
- ``porosity`` (n,), ``porosity_eff`` (n, 3): pore fraction connected inlet to outlet per axis;
- ``flags_eta``, ``flags_k`` (n, 3): :class:`~poredesign.transport.Flag` bits (16 = not requested);
- ``iterations_eta``, ``iterations_k``, ``seconds_eta``, ``seconds_k`` (n, 3);
- attrs: the solver settings, the solver's code fingerprint
  (:func:`~poredesign.solver_fingerprint.solver_fingerprint`), the structure store and its
  index range.

Values not requested are NaN with the SKIPPED flag. ``stop`` labels only the first structures of
a store: the solver-subset mode of [A25] (``labels.solver_subset``), where a surrogate trained on
these labels the rest (:mod:`poredesign.learn.surrogate_labels`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from poredesign import store
from poredesign.runlog import progress
from poredesign.solver_fingerprint import solver_fingerprint
from poredesign.transport.properties import properties
from poredesign.transport.results import Flag, axis_index

log = logging.getLogger(__name__)

PROPERTIES = ("diffusivity", "permeability")
# store key of each property's value, and the per-axis results it is read from
_KEYS = {"diffusivity": "eta", "permeability": "k"}


def label_structures(
    structures_path: str | os.PathLike,
    out_path: str | os.PathLike,
    which: Sequence[str] = ("diffusivity",),
    axes: Sequence[int | str] = (0, 1, 2),
    diffusion: Mapping[str, Any] | None = None,
    flow: Mapping[str, Any] | None = None,
    progress_file: Any = None,
    stop: int | None = None,
) -> dict[str, int]:
    """Solve every requested property along every requested axis for each structure of a store
    (the first ``stop`` structures when given).

    ``which``: any of ``diffusivity, permeability``; ``diffusion`` / ``flow``: solver options as
    for :func:`~poredesign.transport.properties`. Writes the transport store ``out_path``
    atomically; returns counts of flagged results per stored key (``eta``, ``k``).
    """
    unknown = set(which) - set(PROPERTIES)
    if unknown:
        raise ValueError(f"unknown transport properties {sorted(unknown)}; allowed: {PROPERTIES}")
    structures = store.StructureStore(structures_path)
    axes = sorted({axis_index(a) for a in axes})
    n = len(structures) if stop is None else min(len(structures), int(stop))
    if n < 1:
        raise ValueError(f"nothing to label in {structures_path}: stop = {stop}")
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
    solved = [p for p in PROPERTIES if p in which]  # the order properties() solves them in

    for i in progress(range(n), f"simulate {', '.join(which)}", progress_file):
        props = properties(
            structures[i],
            axes=axes,
            which=("porosity", *solved),
            flow=flow,
            diffusion=diffusion,
            name=f"structure {first + i}",
        )
        porosity[i] = props.porosity
        for axis, result in props.diffusivity_results.items():
            table["eta"][i, axis] = result.eta
            table["tau"][i, axis] = result.tau
            table["porosity_eff"][i, axis] = result.porosity_eff
        for axis, result in props.permeability_results.items():
            table["k"][i, axis] = result.k  # lattice units: no voxel size is given
        for prop in solved:
            key = _KEYS[prop]
            for axis, result in getattr(props, f"{prop}_results").items():
                table[f"flags_{key}"][i, axis] = int(result.flag)
                table[f"iterations_{key}"][i, axis] = result.iterations
                table[f"seconds_{key}"][i, axis] = result.wall_time
    with store.atomic_group(out_path) as group:
        for name, data in table.items():
            store.write_array(group, name, data)
        store.write_array(group, "porosity", porosity)
        group.attrs.update(
            store.provenance(
                structures=str(structures_path),
                first_index=first,
                n=n,
                properties=list(which),
                axes=axes,
                diffusion=dict(diffusion or {}),
                flow=dict(flow or {}),
                units={"eta": "D_eff / D", "k": "voxel^2 (lattice units)"},
                solver_fingerprint=solver_fingerprint(),
            )
        )
    flagged = {_KEYS[p]: int(np.count_nonzero(table[f"flags_{_KEYS[p]}"][:, axes])) for p in solved}
    log.info("simulated %d structures of %s: flagged %s", n, structures_path, flagged)
    return flagged
