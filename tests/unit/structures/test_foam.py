"""A dataset of crops of a scan ([A25]'s CT foams): the synthetic foam, the crop shards of
`generator: imported`, the config checks, and the 3D pVAE through the latent design's steps."""

import json

import numpy as np
import pytest
import torch
import yaml
from conftest import ROOT

from poredesign.config import ConfigError, validate_config
from poredesign.design.gradient.descent import latent_descent, reencoded_objective
from poredesign.design.gradient.evaluate import decode_binary, solver_properties
from poredesign.design.gradient.figures import plot_slerp
from poredesign.learn.pvae import PropertyVAE
from poredesign.store import StructureStore, atomic_group, gather_structures, write_array
from poredesign.structures.foam import synthetic_foam
from poredesign.structures.scan_dataset import scan_crop_count, select_crops, write_crop_shard
from poredesign.structures.scans import import_scan

FOAM = yaml.safe_load((ROOT / "config" / "studies" / "foam-pvae-small.yaml").read_text())
POROSITY, PORE_GRAY, SOLID_GRAY = 0.6, 60.0, 190.0


@pytest.fixture(scope="module")
def foam_crops(tmp_path_factory):
    """A 48^3 synthetic foam imported as crops of 16^3 every 8 voxels (5^3 = 125), kept at 16^3."""
    root = tmp_path_factory.mktemp("foam")
    gray = synthetic_foam(48, (0.12, 0.12, 0.12), POROSITY, seed=3)
    np.save(root / "foam.npy", gray)
    options = {"path": str(root / "foam.npy"), "porosity": POROSITY, "crop": 16, "stride": 8}
    result = import_scan(options, 16, root / "crops.zarr", name="foam")
    return root, gray, options, result


def test_the_synthetic_foam_has_dark_pores_at_the_requested_porosity(foam_crops):
    _, gray, _, _ = foam_crops
    assert gray.shape == (48, 48, 48) and gray.dtype == np.uint8
    # without blur and noise the same foam is two gray values: pores dark, at the porosity
    sharp = synthetic_foam(48, (0.12, 0.12, 0.12), POROSITY, seed=3, blur_sigma=0, noise=0)
    assert set(np.unique(sharp)) == {PORE_GRAY, SOLID_GRAY}
    assert abs((sharp == PORE_GRAY).mean() - POROSITY) < 1 / sharp.size
    # the blurred, noisy scan still shows it: pores are darker on average by most of the contrast
    assert gray[sharp == SOLID_GRAY].mean() - gray[sharp == PORE_GRAY].mean() > 0.5 * (
        SOLID_GRAY - PORE_GRAY
    )
    # the same seed gives the same bytes; another seed another foam
    assert np.array_equal(gray, synthetic_foam(48, (0.12, 0.12, 0.12), POROSITY, seed=3))
    assert not np.array_equal(gray, synthetic_foam(48, (0.12, 0.12, 0.12), POROSITY, seed=4))


def test_the_imported_foam_keeps_its_porosity_in_every_crop_on_average(foam_crops):
    root, gray, options, result = foam_crops
    assert abs(result.scan_porosity - POROSITY) < 1 / gray.size
    assert result.n_crops == 125 == scan_crop_count(options)
    assert abs(result.porosity.mean() - POROSITY) < 0.02
    # smoothing and thresholding at the porosity recover the foam under the blur and noise
    sharp = synthetic_foam(48, (0.12, 0.12, 0.12), POROSITY, seed=3, blur_sigma=0, noise=0)
    crops = StructureStore(root / "crops.zarr")
    agree = [
        np.mean(crops[i] == (sharp[x : x + 16, y : y + 16, z : z + 16] == SOLID_GRAY))
        for i, (x, y, z) in enumerate(result.origins)
    ]
    assert np.mean(agree) > 0.9


def test_crop_shards_gather_into_the_seeded_subset_of_crops(foam_crops, tmp_path):
    root, _, _, result = foam_crops
    chosen = select_crops(125, 100, seed=7)
    assert len(np.unique(chosen)) == 100 and np.all(np.diff(chosen) > 0)
    assert np.array_equal(chosen, select_crops(125, 100, seed=7))
    assert not np.array_equal(chosen, select_crops(125, 100, seed=8))
    assert np.array_equal(select_crops(125, 125, seed=7), np.arange(125))
    shards = [tmp_path / "s0.zarr", tmp_path / "s1.zarr"]
    for path, (start, stop) in zip(shards, [(0, 60), (60, 100)], strict=True):
        write_crop_shard(root / "crops.zarr", path, n=100, seed=7, start=start, stop=stop)
    gather_structures(shards, tmp_path / "structures.zarr")
    dataset = StructureStore(tmp_path / "structures.zarr")
    crops = StructureStore(root / "crops.zarr")
    assert len(dataset) == 100 and dataset.size == (16, 16, 16)
    assert dataset.param_names == ["porosity", "strain"]
    assert np.all(dataset.params[:, 1] == 0)  # an uncompressed scan: strain 0
    assert dataset.attrs["generator"] == "imported" and dataset.attrs["periodic"] is False
    for j in (0, 59, 60, 99):
        assert np.array_equal(dataset[j], crops[int(chosen[j])])
    assert np.allclose(dataset.params[:, 0], result.porosity[chosen])
    with pytest.raises(ValueError, match="yields 125 crops"):
        select_crops(125, 126, seed=7)


def _foam_config(**changes) -> dict:
    config = json.loads(json.dumps(FOAM))
    for dotted, value in changes.items():
        node = config
        *parents, last = dotted.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    return config


def test_the_foam_study_validates_and_its_scan_yields_enough_crops():
    config = validate_config(_foam_config())
    assert scan_crop_count(config["imports"]["foam"]) >= config["dataset"]["n_structures"]
    assert config["imports"]["foam"]["synthetic"]["values"] == [60, 190]  # the schema default


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"dataset.scan": "ct"}, "'ct' is not an entry of imports"),
        ({"dataset.n_structures": 2000}, "yields 1664 crops"),  # over the five strain levels
        ({"imports.foam.strains": [0, 0.8]}, "beyond full density"),
        ({"dataset.n_structures": 4, "dataset.shard_size": 4}, "validation and test set empty"),
        ({"imports.foam.path": "scan.npy"}, "exactly one of path"),
        ({"imports.foam.porosity": None, "imports.foam.pore_value": 0}, "rendered at the scan"),
        ({"generator": "squares"}, "read by generator imported only"),
        ({"learn.pvae.dims": 2}, "decodes crops of a scan"),
        ({"transport.axes": ["x"]}, "read k along z"),
    ],
)
def test_a_dataset_of_crops_that_cannot_work_is_refused(changes, expected):
    with pytest.raises(ConfigError, match=expected):
        validate_config(_foam_config(**changes))


@pytest.fixture
def pvae3d(torch_one_thread):
    torch.manual_seed(0)
    model = PropertyVAE(16, channels=(4, 8, 8), hidden=32, latent_dim=6, dims=3).eval()
    model.set_target_range(np.array([0.4, 0.1]), np.array([0.8, 1.5]))
    model.data_config = {"dims": 3, "axes": [2], "pool": False, "scale": "binary"}
    return model.requires_grad_(False)


def test_the_3d_pvae_designs_volumes_through_decode_and_reencode(pvae3d):
    starts = torch.randn(3, 2, 6)
    targets = pvae3d.scaler.encode(torch.tensor([[0.5, 0.3], [0.6, 0.8], [0.7, 1.2]]))
    objective = reencoded_objective(pvae3d, [1.0, 1.0])
    before = objective(starts.reshape(-1, 6), targets.repeat_interleave(2, dim=0))
    result = latent_descent(starts, targets, objective, lr=0.05, max_steps=15, patience=15)
    assert result.z.shape == (3, 6)
    # each target's best candidate is no worse than its best start
    assert np.all(result.loss <= before.reshape(3, 2).min(1).values.numpy() + 1e-7)
    volumes = decode_binary(pvae3d, result.z)
    assert volumes.shape == (3, 16, 16, 16) and volumes.dtype == bool
    assert decode_binary(pvae3d, np.zeros((0, 6))).shape == (0, 16, 16, 16)
    assert pvae3d.latent_means(volumes).shape == (3, 6)


def test_the_solver_takes_designed_volumes_as_they_are():
    rng = np.random.default_rng(0)
    volumes = np.ones((2, 12, 12, 12), dtype=bool)
    volumes[:, 4:8, 4:8, :] = False  # a straight square duct along z
    volumes[1] = rng.random((12, 12, 12)) < 0.2  # a random porous volume
    values, flags, seconds = solver_properties(volumes, depth=0, flow={"mirror": True})
    assert np.allclose(values[:, 0], 1 - volumes.reshape(2, -1).mean(1))
    assert np.all(values[:, 1] > 0) and np.all(flags == 0) and np.all(seconds > 0)
    # the same duct as an image extruded along z (the square-pore path) gives the same k
    image, _, _ = solver_properties(volumes[:1, :, :, 0], depth=12)
    assert np.isclose(image[0, 1], values[0, 1], rtol=1e-3)


def test_the_slerp_figure_shows_the_middle_slice_of_volumes(tmp_path):
    path = [
        {"t": t, "porosity": 0.5, "k_solver": 0.4, "porosity_regressor": 0.5, "k_regressor": 0.4}
        for t in np.linspace(0, 1, 4)
    ]
    result = {"path": path, "endpoints": [0, 1], "steps": 4}
    (tmp_path / "slerp.json").write_text(json.dumps(result))
    with atomic_group(tmp_path / "slerp.zarr") as group:
        write_array(group, "images", np.zeros((4, 8, 8, 8), dtype=bool))
    plot_slerp(tmp_path / "slerp.json", tmp_path / "slerp.zarr", tmp_path / "slerp.png", strip=3)
    assert (tmp_path / "slerp.png").stat().st_size > 1000
