"""Issue 22: a VAE that learns shapes, not the mean image.

A tiny synthetic set whose volumes differ by one known factor (the axis along which square rods
run, at a random offset, so every volume has the same porosity): a grid-code VAE must beat the
porosity-only BCE and its descriptors of codes drawn from q(z|x) must separate the axis by nearest
neighbour. A collapsed
model (a KL weight so large that the codes carry nothing) fails both, so the test can fail.
"""

from __future__ import annotations

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from poredesign.learn.vae import (
    VAE3D,
    blurry_fraction,
    grid_statistics,
    porosity_only_bce,
    reparameterize,
)

EDGE, PERIOD, WIDTH = 16, 8, 4


def rods(axis: int, offset: tuple[int, int]) -> np.ndarray:
    """Solid square rods (True = solid) running along ``axis``: WIDTH x WIDTH every PERIOD."""
    inside = (np.arange(EDGE)[:, None] + np.array(offset)) % PERIOD < WIDTH  # (EDGE, 2)
    section = inside[:, 0][:, None] & inside[:, 1][None, :]
    return np.expand_dims(section, axis).repeat(EDGE, axis=axis)


def rod_set(n: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    rng = np.random.default_rng(seed)
    axes = rng.integers(0, 3, n)
    x = np.stack([rods(int(a), tuple(rng.integers(0, PERIOD, 2))) for a in axes])
    return torch.from_numpy(x[:, None].astype(np.float32)), axes


def fit(model: VAE3D, x: torch.Tensor, epochs: int) -> VAE3D:
    pl.seed_everything(0, verbose=False)
    loader = DataLoader(TensorDataset(x), batch_size=16, shuffle=True)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, loader)
    return model.eval()


def evaluate(model: VAE3D, x: torch.Tensor, axes: np.ndarray, x_ref, axes_ref) -> dict:
    torch.manual_seed(0)
    with torch.no_grad():
        out, _ = model.reconstruction_outputs(x)
        # codes drawn from q(z|x): what the latent transmits; a collapsed model's are noise
        ref, code = (model.descriptor(reparameterize(*model.encoder(v))) for v in (x_ref, x))
    nearest = torch.cdist(code, ref).argmin(1).numpy()
    return {
        "bce": float(out["bce"].mean()),
        "baseline": float(out["bce_porosity_only"].mean()),
        "axis_accuracy": float(np.mean(axes_ref[nearest] == axes)),
    }


GRID_VAE = {
    "channels": (8, 16),
    "hidden": 8,
    "latent_dim": 128,  # 2 channels on the 4^3 grid
    "lr": 3e-3,
    "latent": "grid",
    "batch_norm": True,
    "periodic": True,
    "kl_warmup": 4,
}


@pytest.fixture(scope="module")
def rod_data():
    return rod_set(96, 0), rod_set(48, 1)


def test_a_grid_vae_beats_the_porosity_only_bce_and_its_latent_separates_the_factor(rod_data):
    (x, axes), (x_test, axes_test) = rod_data
    model = fit(VAE3D(EDGE, **GRID_VAE), x, 16)
    scores = evaluate(model, x_test, axes_test, x, axes)
    assert scores["bce"] < 0.5 * scores["baseline"], scores
    assert scores["axis_accuracy"] >= 0.9, scores  # chance 1/3


def test_a_collapsed_vae_fails_both_checks(rod_data):
    (x, axes), (x_test, axes_test) = rod_data
    model = fit(VAE3D(EDGE, **{**GRID_VAE, "beta": 1e4, "kl_warmup": 0}), x, 16)
    scores = evaluate(model, x_test, axes_test, x, axes)
    assert scores["bce"] > 0.95 * scores["baseline"], scores
    assert scores["axis_accuracy"] < 0.9, scores


def test_porosity_only_bce_is_the_bernoulli_entropy_and_blur_counts_the_middle_band():
    x = torch.zeros(2, 1, 4, 4, 4)
    x[0, :, :2] = 1.0  # half solid
    x[1, :, :1] = 1.0  # a quarter solid
    h = porosity_only_bce(x).numpy()
    assert h == pytest.approx([np.log(2.0), -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))])
    logits = torch.tensor([[-5.0, -1.0, 0.0, 1.0, 5.0, 9.0]])
    assert float(blurry_fraction(logits)) == pytest.approx(3 / 6)  # p 0.27, 0.5, 0.73


def test_grid_statistics_do_not_see_a_periodic_shift_but_see_the_axis():
    rng = torch.Generator().manual_seed(0)
    grid = torch.randn(1, 3, 6, 6, 6, generator=rng)
    shifted = torch.roll(grid, (2, 5, 1), dims=(2, 3, 4))
    a = grid_statistics(grid.flatten(1), 3, 3)
    b = grid_statistics(shifted.flatten(1), 3, 3)
    assert torch.allclose(a, b, atol=1e-6)
    smooth_x = (grid + torch.roll(grid, 1, dims=2)) / 2  # correlated neighbours along x only
    stats = grid_statistics(smooth_x.flatten(1), 3, 3).reshape(5, 3)
    assert torch.all(stats[2] > 0.3) and torch.all(stats[3:].abs() < 0.3)


def test_the_porosity_only_baseline_is_a_fit_on_porosity_alone():
    from poredesign.learn.metrics import porosity_only_baseline

    rng = np.random.default_rng(0)
    phi = rng.uniform(0.1, 0.5, 200)
    k = 3.0 * phi**2 + 0.1  # k a function of porosity alone: the baseline is exact
    truth = np.column_stack([phi, k])
    exact = porosity_only_baseline(truth[:150], truth[150:], ["porosity", "k"])
    assert exact["mape_k"] < 1e-6 and exact["r2_k"] == pytest.approx(1.0)
    noisy = np.column_stack([phi, k * rng.uniform(0.8, 1.2, 200)])  # what porosity cannot say
    report = porosity_only_baseline(noisy[:150], noisy[150:], ["porosity", "k"])
    assert 3 < report["mape_k"] < 15
    assert porosity_only_baseline(truth, truth, ["k"]) is None
