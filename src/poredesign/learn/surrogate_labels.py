"""Labels of a whole dataset from solver labels on a subset and a surrogate on the rest [A25].

[A25] ran its lattice Boltzmann solver on 2,800 of its 48,831 square-pore structures and let its
permeability CNN, trained on those, label the rest. With ``labels.solver_subset`` the simulate
stage solves the first ``solver_subset`` structures only (structures are independent draws, so
the first ones are a random subset), the permeability CNN trains on them (its test split is the
held-out solver labels it is scored on), and :func:`label_with_surrogate` writes the label store
the pVAE and the design stages read:

- ``k`` (n, 3): voxel^2, the solver's value on the subset, the CNN's prediction along the CNN's
  flow axis elsewhere (other axes NaN, flagged SKIPPED); ``flags_k`` (n, 3);
- ``porosity`` (n,): exact, counted from each structure (geometry needs no surrogate);
- ``source_k`` (n,): 0 = solver, 1 = surrogate; ``seconds_k`` (n, 3): the solver's wall time per
  structure (NaN for surrogate labels);
- attrs: the subset size, the model and the model's test metrics against solver labels.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from poredesign import store
from poredesign.devices import torch_device
from poredesign.jsonable import read_json
from poredesign.learn.io import load_model
from poredesign.learn.transforms import model_inputs
from poredesign.runlog import progress
from poredesign.transport.results import Flag

log = logging.getLogger(__name__)

SOLVER, SURROGATE = 0, 1


def label_with_surrogate(
    structures_path: str | os.PathLike,
    transport_path: str | os.PathLike,
    model_path: str | os.PathLike,
    out_path: str | os.PathLike,
    batch_size: int = 64,
    device: str = "auto",
    progress_file: Any = None,
) -> dict[str, Any]:
    """Write the label store ``out_path``: solver labels of the structures ``transport_path``
    covers (the first m of the store), predictions of the permeability model ``model_path`` for
    the rest. Returns counts per source and the model's test metrics."""
    structures = store.StructureStore(structures_path)
    transport = store.open_group(transport_path)
    n, m = len(structures), int(transport["k"].shape[0])
    if m > n:
        raise ValueError(f"{transport_path} labels {m} structures; {structures_path} holds {n}")
    model = load_model(model_path).to(torch_device(device))
    if "k" not in model.targets:
        raise ValueError(f"{model_path} does not predict k (its targets: {model.targets})")
    column = model.targets.index("k")
    axis = int(model.data_config.get("axes", [2])[0])
    k = np.full((n, 3), np.nan)
    flags = np.full((n, 3), int(Flag.SKIPPED), dtype=np.int32)
    seconds = np.full((n, 3), np.nan)
    k[:m] = transport["k"][...]
    flags[:m] = transport["flags_k"][...]
    seconds[:m] = transport["seconds_k"][...]
    porosity = np.empty(n)
    porosity[:m] = transport["porosity"][...]
    source = np.full(n, SURROGATE, dtype=np.int8)
    source[:m] = SOLVER
    device_ = next(model.parameters()).device
    for start in progress(range(m, n, batch_size), "surrogate labels", progress_file):
        stop = min(start + batch_size, n)
        solids = np.asarray(structures[start:stop], dtype=bool)
        porosity[start:stop] = 1.0 - solids.reshape(len(solids), -1).mean(axis=1)
        with torch.no_grad():
            x = model_inputs(torch.from_numpy(solids).to(device_), model.data_config)
            pred = model.predict_properties(x)[:, column].float().cpu().numpy()
        k[start:stop, axis] = pred
        flags[start:stop, axis] = int(Flag.OK)
    metrics_path = Path(model_path).with_name("metrics.json")
    test = read_json(metrics_path).get("test", {}) if metrics_path.exists() else {}
    surrogate_test = {key: test.get(f"{key}_k") for key in ("r2", "mape", "mse")} | {
        "n": test.get("n")
    }
    with store.atomic_group(out_path) as group:
        store.write_array(group, "k", k)
        store.write_array(group, "flags_k", flags)
        store.write_array(group, "seconds_k", seconds)
        store.write_array(group, "porosity", porosity)
        store.write_array(group, "source_k", source)
        group.attrs.update(
            store.provenance(
                structures=str(structures_path),
                transport=str(transport_path),
                model=str(model_path),
                n=n,
                solver_subset=m,
                axis=axis,
                sources={"0": "solver", "1": "surrogate"},
                surrogate_test=surrogate_test,
                units={"k": "voxel^2 (lattice units)"},
            )
        )
    log.info(
        "labels of %d structures: %d by the solver, %d by %s (its test R^2 %s on solver labels)",
        n,
        m,
        n - m,
        model_path,
        surrogate_test.get("r2"),
    )
    return {"solver": m, "surrogate": n - m, "surrogate_test": surrogate_test}


__all__ = ["SOLVER", "SURROGATE", "label_with_surrogate"]
