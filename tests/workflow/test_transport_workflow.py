"""The simulate stage: :func:`label_structures` on a store, and through Snakemake with both
properties (per-shard jobs, gather)."""

import numpy as np
import pytest
import yaml
from conftest import copy_workflow, run_snakemake

from poredesign.store import StructureStore, open_group, write_structures
from poredesign.structures import spinodoid
from poredesign.transport import Flag, diffusivity, label_structures, permeability, properties

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


def test_label_structures_stores_what_properties_returns(tmp_path):
    solids = [spinodoid(12, (0.2, 0.25, 0.3), eps, seed=s) for s, eps in ((1, 0.6), (2, 0.7))]
    solids.append(np.ones((12, 12, 12), dtype=bool))  # no pore path: flagged
    write_structures(tmp_path / "s.zarr", solids, np.zeros((3, 1)), ["p"])
    flagged = label_structures(tmp_path / "s.zarr", tmp_path / "t.zarr", axes=["x", "z"])
    assert flagged == {"eta": 2}  # the solid block along x and z
    stored = open_group(tmp_path / "t.zarr")
    for i, solid in enumerate(solids):
        props = properties(solid, axes=("x", "z"), which=("diffusivity",))
        for key in ("eta", "tau", "porosity_eff", "flags_eta"):
            assert np.array_equal(stored[key][i], getattr(props, key), equal_nan=True), key
        assert stored["porosity"][i] == props.porosity
        iterations = [props.diffusivity_results[a].iterations for a in (0, 2)]
        assert list(stored["iterations_eta"][i, [0, 2]]) == iterations
    assert np.isnan(stored["k"][...]).all() and (stored["flags_k"][...] == Flag.SKIPPED).all()
    assert stored.attrs["properties"] == ["diffusivity"] and stored.attrs["axes"] == [0, 2]
    with pytest.raises(ValueError, match="unknown transport properties"):
        label_structures(tmp_path / "s.zarr", tmp_path / "u.zarr", which=["colour"])
