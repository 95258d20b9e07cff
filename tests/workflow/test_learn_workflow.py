"""The train rule runs for real through Snakemake on a tiny dataset, and a re-run with another
epoch budget trains from scratch (the model is a function of the config, not of the checkpoint
an earlier budget left)."""

from __future__ import annotations

import csv
import json

import pytest
import torch
import yaml
from conftest import run_snakemake
from learn_stores import make_stores

from poredesign.learn import DiffusivityCNN, load_model, predict

pytestmark = pytest.mark.slow


def tiny_config(epochs: int) -> dict:
    return {
        "study": "tiny",
        "stages": ["train"],
        "device": "cpu",
        "dataset": {"size": 36, "n_structures": 8, "shard_size": 8},
        "learn": {
            "models": ["diffusivity"],
            "log_every_n_steps": 1,
            "diffusivity": {
                "epochs": epochs,
                "batch_size": 8,
                "pool": False,
                # the paper's layers at reduced width keep the CPU test short
                "hparams": {
                    "channels": [4, 6, 8],
                    "hidden": [16, 8, 8, 8],
                    "optimizer": "adam",
                    "lr": 1e-3,
                },
            },
        },
    }


def epochs_in(path):
    with open(path, newline="") as fh:
        return sorted({int(r["epoch"]) for r in csv.DictReader(fh) if r.get("train_loss")})


def test_train_rule_runs_and_resumes(workflow_copy):
    results = workflow_copy / "results" / "tiny"
    results.mkdir(parents=True)
    make_stores(results, n=8, size=36)
    config = workflow_copy / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(epochs=2)))
    model_dir = results / "models" / "diffusivity"

    run_snakemake(workflow_copy, "--cores", "2", "--configfile", str(config))
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["resumed_from_epoch"] is None
    assert metrics["test"]["n"] == 3  # one test structure seen along three axes
    for key in ("loss", "mse_eta", "mape_eta", "r2_eta", "mse_scaled_eta"):
        assert key in metrics["train"] and key in metrics["val"] and key in metrics["test"]
    for name in ("model.pt", "model.json", "loss.png", "parity.png"):
        assert (model_dir / name).stat().st_size > 0
    log = (results / "logs" / "train" / "diffusivity.log").read_text()
    assert "epoch 2/2" in log
    model = load_model(model_dir / "model.pt")
    assert isinstance(model, DiffusivityCNN) and model.hparams.input_size == 36
    eta = predict(model, torch.zeros(2, 36, 36, 36, dtype=torch.bool))
    assert eta.shape == (2, 3)
    steps_per_epoch = -(-metrics["train"]["n"] // 8)

    # a larger epoch budget re-runs the rule (params changed) and trains from scratch: resuming
    # at epoch 2 would give another model than 4 epochs from scratch
    config.write_text(yaml.safe_dump(tiny_config(epochs=4)))
    run_snakemake(workflow_copy, "--cores", "2", "--configfile", str(config))
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] is None and metrics["epochs"] == 4
    assert not (model_dir / "logs" / "metrics-000.csv").exists()
    assert epochs_in(model_dir / "history.csv") == [0, 1, 2, 3]
    state = torch.load(model_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["global_step"] == 4 * steps_per_epoch
    log = (results / "logs" / "train" / "diffusivity.log").read_text()
    assert "trained with other settings" in log and "epoch 4/4" in log
    assert "resuming DiffusivityCNN" not in log


def test_a_lost_label_chunk_stops_training_naming_the_store(workflow_copy):
    results = workflow_copy / "results" / "tiny"
    results.mkdir(parents=True)
    make_stores(results, n=8, size=36)
    chunk = next(
        f
        for f in (results / "transport.zarr" / "eta").rglob("*")
        if f.is_file() and f.name != "zarr.json"
    )
    chunk.unlink()
    config = workflow_copy / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(epochs=1)))
    proc = run_snakemake(workflow_copy, "--cores", "2", "--configfile", str(config), check=False)
    assert proc.returncode != 0
    log = (results / "logs" / "train" / "diffusivity.log").read_text()
    error = next(line for line in log.splitlines() if " ERROR " in line)
    assert "transport.zarr" in error and "'eta'" in error and "lost its chunk" in error
    assert not (results / "models" / "diffusivity" / "model.pt").exists()


def test_a_truncated_checkpoint_is_moved_aside_and_training_starts_fresh(workflow_copy):
    results = workflow_copy / "results" / "tiny"
    results.mkdir(parents=True)
    make_stores(results, n=8, size=36)
    config = workflow_copy / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(epochs=1)))
    run_snakemake(workflow_copy, "--cores", "2", "--configfile", str(config))
    model_dir = results / "models" / "diffusivity"
    last = model_dir / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])  # a job killed while writing it

    # the same config again (a changed one would not try the checkpoint at all)
    run_snakemake(
        workflow_copy, "--cores", "2", "--forcerun", "train_model", "--configfile", str(config)
    )
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] is None and metrics["epochs"] == 1
    assert len(list(model_dir.glob("last.ckpt.unusable-*"))) == 1
    log = (results / "logs" / "train" / "diffusivity.log").read_text()
    assert f"checkpoint {last.relative_to(workflow_copy)} cannot be resumed" in log
