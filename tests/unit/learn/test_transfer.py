"""The transfer stage [Z23] (SPEC 3.5): the second Voronoi dataset, the repeated comparison of the
frozen VAE encoder against the same network from scratch, the Welch test, transfer.json and the box
plot. Tiny: 10 structures of 16^3 (rasterised at 24^3), synthetic tortuosity labels, an untrained
VAE with channels [2, 4], 1 epoch, 2 repeats."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import torch

from poredesign.learn import load_model
from poredesign.learn.fit import TrainSettings
from poredesign.learn.io import save_model
from poredesign.learn.transfer_experiment import (
    VARIANTS,
    compare_transfer,
    plot_transfer,
    run_seeds,
    summarize_runs,
    transfer_datamodule,
    transfer_run,
    write_transfer_json,
)
from poredesign.learn.vae import VAE3D
from poredesign.store import StructureStore, atomic_group, write_array
from poredesign.structures.sampling import generate_dataset, make_sampler
from poredesign.structures.transfer_dataset import (
    generate_transfer_dataset,
    transfer_options,
    transfer_seed,
)

SEED = 5
SIZE = 16
VORONOI = {
    "generation_size": 24,
    "n_points_range": [8, 14],
    "radius": 1.2,
    "stretch_range": [0.5, 1.0],
    "stretched_axes": 1,
}
TRANSFER_DATA = {
    "n_structures": 10,
    "split": [0.7, 0.0, 0.3],
    "voronoi": {"n_points_range": [12, 18], "radius": 1.0},
}
SECTION = {
    "epochs": 1,
    "batch_size": 4,
    "pool": False,
    "axes": [0],
    "targets": ["tau"],
    "repeats": 2,
    "hparams": {"lr": 1e-2},
}


@pytest.fixture(scope="module")
def stage(tmp_path_factory, torch_one_thread) -> dict[str, Path]:
    """The second dataset, synthetic tau labels and an untrained tiny VAE saved as the encoder."""
    root = tmp_path_factory.mktemp("transfer")
    structures = root / "transfer" / "structures.zarr"
    stats = generate_transfer_dataset(structures, VORONOI, TRANSFER_DATA, SIZE, SEED, 50)
    store = StructureStore(structures)
    n = len(store)
    porosity = np.array([1.0 - store[i].mean() for i in range(n)])
    # tau along each axis: porosity-driven plus the stretch of that axis (e_x, e_y, e_z)
    e = store.params[:, 2:5]
    tau = 1.0 + 0.8 * (1.0 - porosity)[:, None] + 0.3 * (1.0 - e)
    transport = root / "transfer" / "transport.zarr"
    with atomic_group(transport) as group:
        write_array(group, "tau", tau)
        write_array(group, "eta", porosity[:, None] / tau)
        write_array(group, "porosity", porosity)
        write_array(group, "flags_eta", np.zeros((n, 3), dtype=np.int8))
    torch.manual_seed(0)
    vae = VAE3D(input_size=SIZE, channels=[2, 4], hidden=16, latent_dim=4)
    encoder = root / "vae" / "model.pt"
    save_model(vae, encoder, data={"pool": False, "scale": "binary"}, model_name="vae")
    return {
        "root": root,
        "structures": structures,
        "transport": transport,
        "encoder": encoder,
        "stats": stats,
    }


def test_second_dataset_store(stage):
    store = StructureStore(stage["structures"])
    assert len(store) == 10
    assert store.size == (SIZE,) * 3
    attrs = store.attrs
    assert attrs["dataset"] == "transfer"
    assert attrs["study_seed"] == SEED
    assert attrs["seed"] == transfer_seed(SEED) == stage["stats"]["seed"]
    assert attrs["seed"] != SEED
    # the transfer overrides win over the study's voronoi section; other keys are kept
    assert attrs["generator_config"] == transfer_options(VORONOI, TRANSFER_DATA)
    assert attrs["generator_config"]["radius"] == 1.0
    assert attrs["generator_config"]["generation_size"] == 24
    params = store.params
    assert np.all(params[:, 1] == 1.0)  # radius
    assert np.all((params[:, 0] >= 12) & (params[:, 0] <= 18))  # n_points
    assert np.all((params[:, 5] > 0) & (params[:, 5] < 1))  # porosity measured
    # deterministic: the same seed gives the same dataset
    again = stage["root"] / "again.zarr"
    generate_transfer_dataset(again, VORONOI, TRANSFER_DATA, SIZE, SEED, 50)
    assert np.array_equal(StructureStore(again)[:], store[:])


def test_second_dataset_differs_from_main_dataset(stage, tmp_path):
    """With the same generator options, structure i of the main set (SeedSequence([seed, i]))
    and of the second set (derived seed) differ for every i."""
    options = transfer_options(VORONOI, TRANSFER_DATA)
    main = tmp_path / "structures.zarr"
    generate_dataset(
        main, make_sampler("voronoi", SIZE, options), seed=SEED, start=0, stop=4, max_attempts=50
    )
    main_store, second = StructureStore(main), StructureStore(stage["structures"])
    for i in range(4):
        assert not np.array_equal(main_store[i], second[i]), i
    assert not np.array_equal(main_store.params[:4, :5], second.params[:4, :5])


def test_run_seeds_distinct():
    seeds = run_seeds(SEED, 20)
    flat = [s for v in VARIANTS for s in seeds[v]]
    assert len(flat) == 40 == len(set(flat))
    assert run_seeds(SEED, 20) == seeds  # reproducible
    assert run_seeds(SEED + 1, 2)["pretrained"] != seeds["pretrained"][:2]


def test_frozen_encoder_unchanged_scratch_encoder_trains(stage):
    settings = TrainSettings(epochs=1, batch_size=4, device="cpu", seed=SEED)
    dm = transfer_datamodule(
        stage["structures"], stage["transport"], SECTION, TRANSFER_DATA["split"], SEED, 4
    )
    assert (len(dm.train_idx), len(dm.val_idx), len(dm.test_idx)) == (7, 0, 3)
    vae = load_model(stage["encoder"])
    for variant in VARIANTS:
        model, row = transfer_run(dm, variant, 123, SECTION["hparams"], settings, stage["encoder"])
        same = [
            torch.equal(w.cpu(), vae.encoder.state_dict()[k])
            for k, w in model.encoder.state_dict().items()
        ]
        if variant == "pretrained":
            assert all(same)
            assert row["encoder_change"] == 0.0
            assert not row["encoder_trainable"]
        else:
            # Xavier-initialised, then trained: neither the VAE's weights nor its own start
            assert not any(same[:-2])  # all but the (frozen, unused) log-variance layer
            assert row["encoder_change"] > 0.0
            assert row["encoder_trainable"]
        assert np.isfinite(row["train_mse"]) and np.isfinite(row["test_mse"])


def test_compare_transfer_json_and_figure(stage):
    result = compare_transfer(
        stage["structures"],
        stage["transport"],
        stage["encoder"],
        SECTION,
        {"num_workers": 0, "precision": "32-true"},
        TRANSFER_DATA["split"],
        SEED,
        device="cpu",
    )
    out = stage["root"] / "design" / "transfer"
    path = write_transfer_json(result, out / "transfer.json")
    figure = plot_transfer(result, out / "transfer.png")
    saved = json.loads(path.read_text())
    runs = saved["runs"]
    assert len(runs) == 4
    # every variant's runs in turn: pretrained 0, 1, then scratch 0, 1
    assert [(r["variant"], r["run"]) for r in runs] == [(v, r) for v in VARIANTS for r in (0, 1)]
    for run in runs:
        assert {"variant", "seed", "train_mse", "test_mse", "encoder_change"} <= set(run)
        assert run["train_mse"] > 0 and run["test_mse"] > 0
    seeds = run_seeds(SEED, 2)
    for variant in VARIANTS:
        mine = [r for r in runs if r["variant"] == variant]
        assert [r["seed"] for r in mine] == seeds[variant]
        assert [r["run"] for r in mine] == [0, 1]
        stats = saved["variants"][variant]
        test = [r["test_mse"] for r in mine]
        train = [r["train_mse"] for r in mine]
        assert stats["runs"] == 2
        assert stats["test_mse_mean"] == pytest.approx(np.mean(test))
        assert stats["test_mse_std"] == pytest.approx(np.std(test, ddof=1))
        assert stats["train_mse_mean"] == pytest.approx(np.mean(train))
    assert len({r["seed"] for r in runs}) == 4
    assert all(r["encoder_change"] == 0.0 for r in runs if r["variant"] == "pretrained")
    assert all(r["encoder_change"] > 0.0 for r in runs if r["variant"] == "scratch")
    a = [r["test_mse"] for r in runs if r["variant"] == "pretrained"]
    b = [r["test_mse"] for r in runs if r["variant"] == "scratch"]
    expected = scipy.stats.ttest_ind(a, b, equal_var=False)
    assert saved["welch_p_value"] == pytest.approx(float(expected.pvalue), rel=1e-12)
    assert saved["welch"]["statistic"] == pytest.approx(float(expected.statistic), rel=1e-12)
    assert saved["data"]["train_views"] == 7 and saved["data"]["test_views"] == 3
    assert saved["data"]["target"] == "tau" and saved["data"]["axes"] == [0]
    assert saved["settings"]["epochs"] == 1 and saved["settings"]["repeats"] == 2
    assert saved["paper"]["pretrained"]["test_mse_mean"] == 0.00502
    assert figure.stat().st_size > 5000
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_statistics_and_errors(stage):
    rows = [
        {"variant": "pretrained", "run": 0, "seed": 1, "train_mse": 1.0, "test_mse": 2.0},
        {"variant": "pretrained", "run": 1, "seed": 2, "train_mse": 3.0, "test_mse": 4.0},
        {"variant": "pretrained", "run": 2, "seed": 3, "train_mse": 2.0, "test_mse": 3.0},
        {"variant": "scratch", "run": 0, "seed": 4, "train_mse": 5.0, "test_mse": 6.5},
        {"variant": "scratch", "run": 1, "seed": 5, "train_mse": 6.0, "test_mse": 9.0},
    ]
    summary = summarize_runs(rows)
    assert summary["variants"]["pretrained"]["test_mse_mean"] == pytest.approx(3.0)
    assert summary["variants"]["pretrained"]["test_mse_std"] == pytest.approx(1.0)
    assert summary["variants"]["scratch"]["train_mse_std"] == pytest.approx(np.sqrt(0.5))
    expected = scipy.stats.ttest_ind([2.0, 4.0, 3.0], [6.5, 9.0], equal_var=False)
    assert summary["welch_p_value"] == pytest.approx(expected.pvalue)
    # one run per variant: no spread, no test (null in the JSON)
    single = summarize_runs([rows[0], rows[3]])
    assert single["welch_p_value"] is None
    assert single["variants"]["scratch"]["test_mse_std"] is None
    with pytest.raises(ValueError, match="repeats"):
        compare_transfer(
            stage["structures"],
            stage["transport"],
            stage["encoder"],
            {**SECTION, "repeats": 0},
            {},
            TRANSFER_DATA["split"],
            SEED,
            device="cpu",
        )
    with pytest.raises(KeyError, match="n_structures"):
        generate_transfer_dataset(stage["root"] / "x.zarr", VORONOI, {}, SIZE, SEED)
