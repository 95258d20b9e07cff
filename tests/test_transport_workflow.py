"""The simulate stage through Snakemake with both properties (per-shard jobs, gather)."""

import numpy as np
import pytest
import yaml
from conftest import copy_workflow, run_snakemake

from poredesign.store import StructureStore, open_group
from poredesign.transport import Flag, diffusivity, permeability

pytestmark = pytest.mark.slow


def test_simulate_stage_writes_k_eta_tau_for_requested_axes(tmp_path):
    (tmp_path / "wf").mkdir()
    root = copy_workflow(tmp_path / "wf")
    config = {
        "study": "flowtiny",
        "seed": 3,
        "generator": "spinodoid",
        "device": "cpu",
        "stages": ["generate", "simulate"],
        "dataset": {"size": 16, "n_structures": 4, "shard_size": 2, "max_attempts": 100},
        "spinodoid": {
            "m_range": [0.15, 0.25],
            "beta_range": [1.0, 2.0],
            "porosity_range": [0.5, 0.8],
        },
        "transport": {
            "properties": ["diffusivity", "permeability"],
            "axes": ["x", "z"],
            "flow": {"tol": 1.0e-5},
        },
    }
    path = tmp_path / "flowtiny.yaml"
    path.write_text(yaml.safe_dump(config))
    run_snakemake(root, "--cores", "2", "--configfile", str(path))
    results = root / "results" / "flowtiny"
    structures = StructureStore(results / "structures.zarr")
    transport = open_group(results / "transport.zarr")
    k = np.asarray(transport["k"][...])
    eta = np.asarray(transport["eta"][...])
    tau = np.asarray(transport["tau"][...])
    flags_k = np.asarray(transport["flags_k"][...])
    assert k.shape == eta.shape == tau.shape == (4, 3)
    # y was not requested: NaN with the SKIPPED flag
    assert np.isnan(k[:, 1]).all() and (flags_k[:, 1] == int(Flag.SKIPPED)).all()
    assert (flags_k[:, [0, 2]] == 0).all()
    porosity = np.asarray(transport["porosity"][...])
    assert np.allclose(tau[:, [0, 2]], porosity[:, None] / eta[:, [0, 2]])
    # the stored labels are the library's results on the stored structures
    for i in (0, 3):
        assert k[i, 2] == pytest.approx(permeability(structures[i], "z", tol=1e-5).k, rel=1e-6)
        assert eta[i, 0] == pytest.approx(diffusivity(structures[i], "x").eta, rel=1e-4)
    assert transport.attrs["flow"]["tol"] == 1.0e-5
