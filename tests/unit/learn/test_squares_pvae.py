"""The [A25] square-pore chain's models: the 2D path for extrusions (pVAE and permeability CNN
on the image, 3D kept for volumes), staged freezing in 2D, extrusions of any depth train, and a 2D
pVAE trained on extrusions reconstructs held-out images better than the mean image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from poredesign.config import ConfigError, validate_config
from poredesign.learn import PermeabilityCNN, PropertyVAE, load_model
from poredesign.learn.data import PoreDataModule
from poredesign.learn.train import train
from poredesign.learn.transforms import extrusion_image, model_inputs
from poredesign.store import StructureStore, atomic_group, write_array, write_structures
from poredesign.structures.sampling import draw_structure, make_sampler

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def square_stores(root, n=60, size=32, depth=4, seed=3, pore=4, n_pores=(4, 16)):
    """A store of square-pore extrusions of ``depth`` slices and a transport store whose k_z is a
    smooth function of the pore count (synthetic labels: the models' tests need no solver)."""
    sampler = make_sampler(
        "squares", size, {"n_pores_range": list(n_pores), "pore": pore, "depth": depth}
    )
    draws = [draw_structure(sampler, seed, i) for i in range(n)]
    params = np.array([d.params for d in draws])
    structures = root / "structures.zarr"
    write_structures(
        structures, [d.solid for d in draws], params, sampler.param_names, generator="squares"
    )
    porosity = params[:, 1]
    k = np.full((n, 3), np.nan)
    k[:, 2] = 0.05 + 2.0 * porosity**2
    transport = root / "transport.zarr"
    with atomic_group(transport) as group:
        write_array(group, "k", k)
        write_array(group, "porosity", porosity)
    return structures, transport


def test_2d_and_3d_pvae_and_cnn_shapes():
    pvae2 = PropertyVAE(100, latent_dim=250, dims=2)
    recon, mu, logvar, props = pvae2(torch.zeros(3, 1, 100, 100))
    assert pvae2.encoder.sizes == [100, 50, 25, 12, 6]
    assert tuple(recon.shape) == (3, 1, 100, 100) and tuple(mu.shape) == (3, 250)
    assert tuple(props.shape) == (3, 2)
    assert all(not isinstance(m, nn.Conv3d) for m in pvae2.modules())
    cnn2 = PermeabilityCNN(100, dims=2)
    assert tuple(cnn2(torch.zeros(2, 1, 100, 100)).shape) == (2, 2) and cnn2.feature_size == 6
    with torch.device("meta"):
        pvae3 = PropertyVAE(100, dims=3)
        recon3 = pvae3(torch.empty(2, 1, 100, 100, 100))[0]
    assert tuple(recon3.shape) == (2, 1, 100, 100, 100)
    assert any(isinstance(m, nn.ConvTranspose3d) for m in pvae3.modules())
    with pytest.raises(ValueError, match="dims"):
        PropertyVAE(32, dims=1)


def test_2d_pvae_phases_freeze_the_right_parts():
    torch.manual_seed(0)
    model = PropertyVAE(16, channels=(4, 8), hidden=16, latent_dim=4, dims=2)
    model.set_target_range([0.0, 0.0], [1.0, 1.0])
    x = (torch.rand(4, 1, 16, 16) > 0.7).float()
    t = torch.rand(4, 2)
    trainable = {
        "vae": {"encoder", "decoder"},
        "regressor": {"regressor"},
        "joint": {"encoder", "regressor"},
    }
    for phase, parts in trainable.items():
        model.phase = phase
        before = {k: v.clone() for k, v in model.state_dict().items()}
        optimizer = model.configure_optimizers()
        optimizer.zero_grad()
        model.losses((x, t))["loss"].backward()
        optimizer.step()
        changed = {
            k.split(".")[0] for k, v in model.state_dict().items() if not torch.equal(v, before[k])
        }
        assert changed == parts, phase


def test_extrusions_of_any_depth_train_as_images(tmp_path):
    """The squares.depth: 4 study of a new user: validation, then training in 2D (the bug was
    'the models need cubic volumes')."""
    config = {
        "generator": "squares",
        "stages": ["generate", "simulate", "train"],
        "dataset": {"size": 32, "n_structures": 8, "shard_size": 8},
        "squares": {"n_pores_range": [4, 16], "pore": 4, "depth": 4},
        "transport": {"properties": ["permeability"], "axes": ["z"]},
        "learn": {"models": ["permeability", "pvae"]},
    }
    validate_config(config)
    bad = {**config, "learn": {"models": ["pvae"], "pvae": {"dims": 3}}}
    with pytest.raises(ConfigError, match=r"learn.pvae.dims.*squares.depth 4"):
        validate_config(bad)

    structures, transport = square_stores(tmp_path, n=12)
    for name, hparams in (
        ("permeability", {"channels": [4, 8], "kernels": [3, 3], "hidden": [8]}),
        ("pvae", {"channels": [4, 8], "hidden": 16, "latent_dim": 4}),
    ):
        metrics = train(
            name,
            structures,
            transport,
            tmp_path / name,
            hparams,
            settings={"epochs": 1, "phase_epochs": [1, 1, 1], "device": "cpu"},
        )
        assert metrics["test"]["n"] > 0
        model = load_model(tmp_path / name / "model.pt")
        assert model.data_config["dims"] == 2 and model.hparams.dims == 2
        volumes = torch.from_numpy(np.stack([np.zeros((32, 32, 4), bool)] * 2))
        assert tuple(model_inputs(volumes, model.data_config).shape) == (2, 1, 32, 32)
    volume = np.zeros((32, 32, 4), bool)
    volume[0, 0, 1] = True  # one slice differs: not an extrusion
    with pytest.raises(ValueError, match="structure 7 is not an extrusion along axis 2"):
        extrusion_image(volume, 2, "structure 7")


@pytest.mark.slow
def test_2d_pvae_reconstructs_held_out_images_better_than_the_mean_image(tmp_path):
    structures, transport = square_stores(tmp_path, n=160, size=32, pore=8, n_pores=(2, 6))
    train(
        "pvae",
        structures,
        transport,
        tmp_path / "pvae",
        {"channels": [8, 16, 32], "hidden": 64, "latent_dim": 8, "lr": 3e-3},
        # what 20 epochs learn of the images themselves: without the flips, swaps and shifts the
        # library (as the schema) applies by default, which a run this short does not absorb
        data={"augment": {"flip": False, "swap": False, "shift": False}},
        settings={"phase_epochs": [20, 1, 1], "device": "cpu", "batch_size": 16, "seed": 0},
    )
    model = load_model(tmp_path / "pvae" / "model.pt")
    dm = PoreDataModule(structures, transport, model.data_config)
    dm.setup()
    seen = torch.stack([x for x, _ in dm.train_eval_set])
    held_out = torch.stack([x for x, _ in dm.test_set])
    assert tuple(held_out.shape[1:]) == (1, 32, 32) and len(held_out) >= 10
    mean_image = seen.mean(0, keepdim=True)
    with torch.no_grad():
        decoded = model.decode(model.encode(held_out))
    mse_model = float(((decoded - held_out) ** 2).mean())
    mse_mean = float(((mean_image - held_out) ** 2).mean())
    accuracy_model = float(((decoded > 0.5) == (held_out > 0.5)).float().mean())
    accuracy_mean = float(((mean_image > 0.5) == (held_out > 0.5)).float().mean())
    assert mse_model < 0.9 * mse_mean, (mse_model, mse_mean)
    assert accuracy_model > accuracy_mean, (accuracy_model, accuracy_mean)


def test_solver_subset_and_all_solver_labels_agree_on_the_shared_subset(tmp_path):
    """labels.solver_subset: the solver on the first structures gives exactly the labels the
    all-solver mode gives them; the permeability CNN labels the rest, marked as such."""
    from poredesign.learn.surrogate_labels import SOLVER, SURROGATE, label_with_surrogate
    from poredesign.store import open_group
    from poredesign.transport import label_structures

    structures, _ = square_stores(tmp_path, n=10, size=24, depth=3, pore=4, n_pores=(6, 14))
    flow = {"device": "cpu", "threads": 1}
    label_structures(structures, tmp_path / "all.zarr", ["permeability"], ["z"], flow=flow)
    label_structures(
        structures, tmp_path / "subset.zarr", ["permeability"], ["z"], flow=flow, stop=6
    )
    everything, subset = open_group(tmp_path / "all.zarr"), open_group(tmp_path / "subset.zarr")
    assert subset["k"].shape == (6, 3)
    assert np.array_equal(subset["k"][...], everything["k"][:6], equal_nan=True)
    assert np.all(np.asarray(everything["k"][:, 2]) > 0)

    train(
        "permeability",
        structures,
        tmp_path / "subset.zarr",
        tmp_path / "cnn",
        {"channels": [4, 8], "kernels": [3, 3], "hidden": [8]},
        data={"max_structures": 6},
        settings={"epochs": 1, "device": "cpu"},
    )
    counts = label_with_surrogate(
        structures,
        tmp_path / "subset.zarr",
        tmp_path / "cnn" / "model.pt",
        tmp_path / "labels.zarr",
    )
    assert counts["solver"] == 6 and counts["surrogate"] == 4
    labels = open_group(tmp_path / "labels.zarr")
    k = np.asarray(labels["k"][...])
    assert np.array_equal(
        k[:6], everything["k"][:6], equal_nan=True
    )  # the shared subset: the same labels
    assert labels["source_k"][...].tolist() == [SOLVER] * 6 + [SURROGATE] * 4
    assert np.all(np.isfinite(k[6:, 2])) and np.all(np.isnan(k[6:, :2]))
    cnn = load_model(tmp_path / "cnn" / "model.pt")
    volumes = torch.from_numpy(np.asarray(StructureStore(structures)[6:10]))
    expected = cnn.predict_properties(model_inputs(volumes, cnn.data_config))[:, 0].numpy()
    assert np.allclose(k[6:, 2], expected, rtol=1e-5)
    assert np.allclose(labels["porosity"][...], everything["porosity"][...])


def test_the_design_stages_refuse_a_study_without_their_models():
    config = {
        "generator": "squares",
        "stages": ["generate", "simulate", "train", "design", "slerp"],
        "dataset": {"size": 32, "n_structures": 8, "shard_size": 8},
        "squares": {"n_pores_range": [4, 16], "pore": 4},
        "transport": {"properties": ["permeability"], "axes": ["z"]},
        "learn": {"models": ["pvae"]},
        "labels": {"solver_subset": 20},
    }
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    text = str(error.value)
    assert "stage 'design' of the square-pore study needs the models ['permeability']" in text
    assert "'labels.solver_subset': 20 exceeds dataset.n_structures = 8" in text
    assert "add permeability to learn.models" in text
    config = {**config, "learn": {"models": ["pvae", "permeability"]}, "labels": {}}
    validate_config(config)
