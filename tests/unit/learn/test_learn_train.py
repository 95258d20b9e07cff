"""Training entry points: outputs, reproducibility, resume semantics, the pVAE latent search and
the transfer regressor on the VAE's encoder (tiny stores, tiny widths, one thread; the transfer
stage's repeated comparison is tested in test_transfer.py)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from learn_stores import make_stores

from poredesign.learn import PoreDataModule, PropertyVAE, TransferRegressor, load_model
from poredesign.learn.base import concat_outputs
from poredesign.learn.fit import TrainSettings, evaluate, predict_split
from poredesign.learn.pvae_training import resolve_phase_epochs
from poredesign.learn.train import train

SMALL = {"channels": [4, 8, 8, 16], "hidden": 32, "latent_dim": 8}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    return make_stores(tmp_path_factory.mktemp("learn-train"), n=10, size=16)


def history(path):
    with open(path / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [(int(r["epoch"]), float(r["train_loss"])) for r in rows if r.get("train_loss")]


def train_vae(structures, out, seed=3):
    """The small VAE, two epochs."""
    return train(
        "vae",
        structures,
        None,
        out,
        model_kwargs={**SMALL, "lr": 1e-3},
        settings={"epochs": 2, "batch_size": 4, "seed": seed},
    )


@pytest.fixture(scope="module")
def vae_run(stores, tmp_path_factory):
    structures, _ = stores
    out = tmp_path_factory.mktemp("vae")
    metrics = train_vae(structures, out)
    return out, metrics


def test_training_writes_weights_metrics_and_figures(vae_run):
    out, metrics = vae_run
    for name in (
        "model.pt",
        "model.json",
        "metrics.json",
        "loss.png",
        "parity.png",
        "history.csv",
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
    ):
        assert (out / name).exists(), name
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["epochs"] == metrics["epochs"] == 2
    for split, n in (("train", 8), ("val", 1), ("test", 1)):
        assert on_disk[split]["n"] == n
        assert on_disk[split]["loss"] == pytest.approx(on_disk[split]["bce"] + on_disk[split]["kl"])
        assert 0 <= on_disk[split]["voxel_accuracy"] <= 1
    model = load_model(out / "model.pt")
    assert model.hparams.latent_dim == 8 and model.data_config["scale"] == "binary"
    assert [e for e, _ in history(out)] == [0, 1]


def test_a_fixed_seed_reproduces_the_loss_curve(stores, vae_run, tmp_path):
    structures, _ = stores
    out, _ = vae_run
    train_vae(structures, tmp_path)
    assert history(tmp_path) == history(out)
    other = tmp_path / "other-seed"
    train_vae(structures, other, seed=4)
    assert history(other) != history(out)


PERMEABILITY = {
    "model_kwargs": {"channels": [4, 4, 8, 8], "hidden": [8, 8], "lr": 3e-3},
    "data": {"axes": [0, 1, 2]},
}


def train_permeability(stores, out, epochs, **kwargs):
    structures, properties = stores
    return train(
        "permeability",
        structures,
        properties,
        out,
        settings={"epochs": epochs, "batch_size": 8},
        **{**PERMEABILITY, **kwargs},
    )


def weights(out):
    return torch.load(out / "model.pt", weights_only=True)


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_an_interrupted_run_resumes_to_the_weights_of_an_uninterrupted_one(
    stores, tmp_path, monkeypatch
):
    from poredesign.learn import fit as fit_module

    clean = train_permeability(stores, tmp_path / "clean", 3)

    def interrupt(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            raise RuntimeError("killed")

    with monkeypatch.context() as patch:
        patch.setattr(fit_module._EpochLog, "on_train_epoch_end", interrupt)
        with pytest.raises(RuntimeError, match="killed"):
            train_permeability(stores, tmp_path / "killed", 3)
    assert not (tmp_path / "killed" / "metrics.json").exists()
    resumed = train_permeability(stores, tmp_path / "killed", 3)
    assert resumed["resumed_from_epoch"] in (1, 2) and resumed["epochs"] == clean["epochs"]
    assert same_weights(weights(tmp_path / "killed"), weights(tmp_path / "clean"))
    assert resumed["test"] == clean["test"]


@pytest.mark.parametrize("before, after", [(3, 2), (2, 3)])
def test_a_changed_epoch_count_trains_from_scratch(stores, tmp_path, caplog, before, after):
    """Lowering the budget must not return the longer-trained checkpoint, raising it must not
    continue a run whose schedule and best-model choice belonged to the other budget."""
    train_permeability(stores, tmp_path / "changed", before)
    changed = train_permeability(stores, tmp_path / "changed", after)
    assert "trained with other settings" in caplog.text and "training from scratch" in caplog.text
    assert changed["resumed_from_epoch"] is None and changed["epochs"] == after
    assert [e for e, _ in history(tmp_path / "changed")] == list(range(after))
    train_permeability(stores, tmp_path / "scratch", after)
    assert same_weights(weights(tmp_path / "changed"), weights(tmp_path / "scratch"))
    state = torch.load(tmp_path / "changed" / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["epoch"] == after - 1


def test_resume_continues_and_a_changed_setting_restarts(stores, tmp_path):
    structures, properties = stores
    kwargs = PERMEABILITY
    first = train(
        "permeability",
        structures,
        properties,
        tmp_path,
        settings={"epochs": 2, "batch_size": 8},
        **kwargs,
    )
    assert first["resumed_from_epoch"] is None
    # last.ckpt is the latest epoch, whether or not it was the best one
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 1
    steps_per_epoch = -(-first["train"]["n"] // 8)
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["global_step"] == 2 * steps_per_epoch
    assert set(first["test"]) >= {"loss", "mse_k", "mape_k", "r2_k", "mse_porosity", "r2_porosity"}
    with open(tmp_path / "predictions.csv") as fh:
        assert fh.readline().strip() == "index,axis,true_k,true_porosity,pred_k,pred_porosity"
    changed = {**kwargs, "model_kwargs": {**kwargs["model_kwargs"], "lr": 1e-3}}
    fresh = train(
        "permeability",
        structures,
        properties,
        tmp_path,
        settings={"epochs": 1, "batch_size": 8},
        **changed,
    )
    assert fresh["resumed_from_epoch"] is None and [e for e, _ in history(tmp_path)] == [0]


def test_pvae_latent_search_then_phased_training(stores, tmp_path):
    structures, properties = stores
    search = {"trials": 2, "latent_range": [2, 16], "phase_epochs": [1, 1, 1]}
    settings = {"batch_size": 4, "phase_epochs": [2, 1, 1]}
    metrics = train(
        "pvae",
        structures,
        properties,
        tmp_path,
        model_kwargs=SMALL,
        settings=settings,
        search=search,
    )
    found = metrics["latent_search"]
    assert len(found["trials"]) == 2
    assert found["best_latent_dim"] in [t["latent_dim"] for t in found["trials"]]
    model = load_model(tmp_path / "model.pt")
    assert isinstance(model, PropertyVAE) and model.hparams.latent_dim == found["best_latent_dim"]
    assert metrics["epochs"] == 4
    phases = {}
    with open(tmp_path / "history.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            phases.setdefault(row["phase"], set()).add(int(row["epoch"]))
    assert phases == {"vae": {0, 1}, "regressor": {2}, "joint": {3}}
    assert all((tmp_path / f"phase-{p}" / "checkpoints" / "last.ckpt").exists() for p in phases)
    assert set(metrics["test"]) >= {"bce", "kl", "mse_porosity", "r2_k", "loss"}
    # the search resumes from its SQLite store: one more trial only
    more = train(
        "pvae",
        structures,
        properties,
        tmp_path,
        model_kwargs=SMALL,
        settings=settings,
        search={**search, "trials": 3},
    )
    assert [t["trial"] for t in more["latent_search"]["trials"]] == [0, 1, 2]
    assert (
        more["resumed_from_epoch"] is not None
        or more["latent_search"]["best_latent_dim"] != found["best_latent_dim"]
    )


def test_transfer_regressor_uses_the_vae_encoder(stores, vae_run, tmp_path):
    structures, properties = stores
    vae_dir, _ = vae_run
    metrics = train(
        "transfer",
        structures,
        properties,
        tmp_path,
        encoder=vae_dir / "model.pt",
        settings={"epochs": 2, "batch_size": 4},
    )
    model = load_model(tmp_path / "model.pt")
    vae = load_model(vae_dir / "model.pt")
    assert isinstance(model, TransferRegressor) and model.hparams.pretrained
    assert torch.equal(model.encoder.fc.weight, vae.encoder.fc.weight)
    assert metrics["trainable_parameters"] < metrics["parameters"]
    with pytest.raises(ValueError, match="encoder"):
        train("transfer", structures, properties, tmp_path / "none", settings={"epochs": 1})


def test_unknown_hyperparameters_are_named(stores, tmp_path):
    structures, properties = stores
    with pytest.raises(ValueError, match=r"learn\.diffusivity\.hparams.*'lrate'"):
        train(
            "diffusivity",
            structures,
            properties,
            tmp_path,
            model_kwargs={"lrate": 1},
            data={"pool": False},
        )


def test_evaluation_through_the_trainer_equals_a_pass_over_the_split(stores):
    structures, properties = stores
    dm = PoreDataModule(structures, properties, {"targets": ["k", "porosity"]}, batch_size=3)
    torch.manual_seed(0)
    model = PropertyVAE(16, **SMALL)
    model.set_target_range(*dm.target_range())
    model.phase = "joint"
    settings = TrainSettings(device="cpu")
    through_trainer = predict_split(model, dm, "train", settings)
    model.eval()
    with torch.no_grad():
        by_hand = concat_outputs(
            [model.predict_step(b, i) for i, b in enumerate(dm.eval_dataloader("train"))]
        )
    assert through_trainer.keys() == by_hand.keys()
    assert all(np.array_equal(through_trainer[k], by_hand[k]) for k in by_hand)
    assert evaluate(model, dm, "train", settings) == model.split_report(by_hand)


def test_settings_resolve_devices_and_read_the_phase_epochs():
    cpu = TrainSettings(device="cpu")
    assert (cpu.accelerator(), cpu.resolved_precision(), str(cpu.torch_device())) == (
        "cpu",
        "32-true",
        "cpu",
    )
    assert TrainSettings(device="cpu", precision="bf16-mixed").resolved_precision() == "bf16-mixed"
    with pytest.raises(ValueError, match="device"):
        TrainSettings(device="tpu").accelerator()
    settings = TrainSettings.from_config({"epochs": 5, "phase_epochs": [3, 2, 1]}, {}, seed=1)
    assert settings.phase_epochs == [3, 2, 1] and resolve_phase_epochs(settings) == [3, 2, 1]
    assert resolve_phase_epochs(TrainSettings(epochs=4)) == [4, 4, 4]
    with pytest.raises(ValueError, match=r"learn\.pvae\.phase_epochs"):
        resolve_phase_epochs(TrainSettings(phase_epochs=[1, 2]))
