"""The SPEC 3 models: exact sizes at paper scale, forward/backward at small scale, each overfits a
tiny batch with a reproducible loss curve, the pVAE phases freeze their parts, each model's own
evaluation (predict_step, split_report), the ABC inference helper, safe loading.

Overfitting runs use the paper architectures at reduced width (channels are a parameter) so the
whole module stays a few seconds per model on two CPU cores; the exact paper widths are checked by
the parameter-count tests and by forward/backward at the smallest input each accepts.
"""

from __future__ import annotations

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from torch import nn
from torch.utils.data import DataLoader, Dataset

from poredesign.learn import (
    VAE3D,
    DiffusivityCNN,
    PermeabilityCNN,
    PropertyVAE,
    TransferRegressor,
    load_model,
    load_state_dict,
    predict,
    rotate_to_x,
    save_model,
    to_input,
)
from poredesign.learn.base import TargetScaler, concat_outputs
from poredesign.structures import spinodoid

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def volumes(n: int, size: int, scale: str) -> torch.Tensor:
    v = np.stack(
        [spinodoid(size, (0.15 + 0.05 * i, 0.2, 0.25), 0.5 + 0.05 * i, seed=i) for i in range(n)]
    )
    return torch.from_numpy(np.stack([to_input(s, False, scale) for s in v]))[:, None]


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------
# sizes at paper scale (meta device: shapes without memory)


def test_diffusivity_cnn_has_the_papers_8_8_million_weights_at_96():
    with torch.device("meta"):
        model = DiffusivityCNN(96)
        out = model(torch.empty(2, 1, 96, 96, 96))
    assert n_params(model) == 8_797_249
    assert model.feature_size == 8 and tuple(out.shape) == (2, 1)


def test_vae3d_matches_table_1_layer_by_layer_at_128():
    with torch.device("meta"):
        model = VAE3D(128)
    expected = [
        ("encoder.convs.0", "Conv3d", (16, 1, 4, 4, 4)),
        ("encoder.convs.2", "Conv3d", (32, 16, 4, 4, 4)),
        ("encoder.convs.4", "Conv3d", (64, 32, 4, 4, 4)),
        ("encoder.convs.6", "Conv3d", (128, 64, 4, 4, 4)),
        ("encoder.fc", "Linear", (2048, 65536)),
        ("encoder.mu", "Linear", (256, 2048)),
        ("encoder.logvar", "Linear", (256, 2048)),
        ("decoder.fc", "Linear", (65536, 256)),
        ("decoder.deconvs.0", "ConvTranspose3d", (128, 64, 4, 4, 4)),
        ("decoder.deconvs.2", "ConvTranspose3d", (64, 32, 4, 4, 4)),
        ("decoder.deconvs.4", "ConvTranspose3d", (32, 16, 4, 4, 4)),
        ("decoder.deconvs.6", "ConvTranspose3d", (16, 1, 4, 4, 4)),
    ]
    assert [row[:3] for row in model.layer_table()] == expected
    for conv in model.encoder.convs:
        if isinstance(conv, nn.Conv3d):
            assert (conv.stride, conv.padding) == ((2, 2, 2), (1, 1, 1))
    # activations: 128 -> 64 -> 32 -> 16 -> 8 and back, ReLU between, sigmoid applied on decode
    assert model.encoder.sizes == [128, 64, 32, 16, 8]
    shapes = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
        for m in [*model.encoder.convs[::2], *model.decoder.deconvs[::2]]
    ]
    with torch.device("meta"):
        logits, mu, logvar = model.eval()(torch.empty(1, 1, 128, 128, 128))
    for h in hooks:
        h.remove()
    assert shapes == [
        (1, 16, 64, 64, 64),
        (1, 32, 32, 32, 32),
        (1, 64, 16, 16, 16),
        (1, 128, 8, 8, 8),
        (1, 64, 16, 16, 16),
        (1, 32, 32, 32, 32),
        (1, 16, 64, 64, 64),
        (1, 1, 128, 128, 128),
    ]
    assert tuple(mu.shape) == tuple(logvar.shape) == (1, 256)
    assert sum(row[3] for row in model.layer_table()) == n_params(model) == 153_490_273


def test_permeability_cnn_and_pvae_at_the_papers_100_cubed():
    with torch.device("meta"):
        cnn = PermeabilityCNN(100)
        pvae = PropertyVAE(100)
        out = cnn(torch.empty(2, 1, 100, 100, 100))
        recon, mu, logvar, props = pvae(torch.empty(2, 1, 100, 100, 100))
    assert cnn.feature_size == 6 and tuple(out.shape) == (2, 2)
    kernels = [m.kernel_size[0] for m in cnn.features if isinstance(m, nn.Conv3d)]
    channels = [m.out_channels for m in cnn.features if isinstance(m, nn.Conv3d)]
    assert kernels == [3, 3, 5, 7] and channels == [32, 64, 128, 256]
    assert pvae.encoder.sizes == [100, 50, 25, 12, 6]
    assert tuple(recon.shape) == (2, 1, 100, 100, 100) and tuple(props.shape) == (2, 2)
    assert [m.out_features for m in pvae.regressor if isinstance(m, nn.Linear)] == [16, 16, 2]


def test_too_small_inputs_are_refused_with_the_minimum():
    with pytest.raises(ValueError, match="36"):
        DiffusivityCNN(35)
    DiffusivityCNN(36)
    with pytest.raises(ValueError, match="16"):
        VAE3D(8)


# ----------------------------------------------------------------------------------------------
# forward and backward at the smallest sizes, full paper widths


@pytest.mark.parametrize(
    "make,size,scale,out_shape",
    [
        (lambda: DiffusivityCNN(36), 36, "centered", (2, 1)),
        (lambda: PermeabilityCNN(16), 16, "centered", (2, 2)),
        (lambda: TransferRegressor(16, pretrained=False), 16, "binary", (2, 1)),
    ],
)
def test_regressors_forward_backward(make, size, scale, out_shape):
    torch.manual_seed(0)
    model = make()
    x = volumes(2, size, scale)
    out = model(x)
    assert tuple(out.shape) == out_shape
    out.sum().backward()
    assert all(
        p.grad is not None and torch.isfinite(p.grad).all()
        for p in model.parameters()
        if p.requires_grad
    )


@pytest.mark.parametrize("cls", [VAE3D, PropertyVAE])
def test_vaes_forward_backward(cls):
    torch.manual_seed(0)
    model = cls(16)
    x = volumes(2, 16, "binary")
    batch = (x, torch.tensor([[0.5, 1.0], [0.6, 2.0]]))
    if cls is PropertyVAE:
        model.phase = "joint"
        model.set_target_range([0.5, 1.0], [0.6, 2.0])
        out = model.losses(batch)
    else:
        out = model.losses(x)
    assert set(out) >= {"loss", "bce", "kl"}
    out["loss"].backward()
    assert model.decode(model.encode(x)).shape == x.shape
    assert 0.0 <= float(model.decode(model.encode(x)).min()) <= 1.0


# ----------------------------------------------------------------------------------------------
# overfitting a tiny batch, reproducibly


class _Repeat(Dataset):
    def __init__(self, batch, steps):
        self.batch, self.steps = batch, steps

    def __len__(self):
        return self.steps

    def __getitem__(self, i):
        return self.batch


class _Losses(Callback):
    def __init__(self):
        self.values = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.values.append(float(outputs["loss"]))


def overfit(make, x, y, steps, seed=0, model=None, phase=None, validate=False):
    """Train on the same batch ``steps`` times through a Lightning Trainer; the per-step losses."""
    pl.seed_everything(seed, verbose=False)
    if model is None:
        model = make()
        if getattr(model, "needs_target_range", False):
            model.set_target_range(y.min(0).values, y.max(0).values)
    if phase is not None:
        model.phase = phase
    loader = DataLoader(_Repeat((x, y), steps), batch_size=None)
    losses = _Losses()
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        callbacks=[losses],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1 if validate else 0,
    )
    trainer.fit(model, loader, loader if validate else None)
    return losses.values, model


def fell_tenfold(losses):
    return losses[0] >= 10.0 * min(losses[-5:])


def test_diffusivity_cnn_overfits_reproducibly():
    x, y = volumes(2, 36, "centered"), torch.tensor([[0.2], [0.5]])

    def make():
        return DiffusivityCNN(
            36, channels=(8, 12, 16), hidden=(32, 24, 16, 8), optimizer="adam", lr=3e-3
        )

    first, _ = overfit(make, x, y, 45)
    second, _ = overfit(make, x, y, 45)
    assert fell_tenfold(first), first
    assert first == second


def test_permeability_cnn_overfits_reproducibly():
    x, y = volumes(2, 16, "centered"), torch.tensor([[1.0, 0.5], [2.0, 0.55]])

    def make():
        return PermeabilityCNN(16, channels=(8, 8, 16, 16), lr=3e-3)

    first, _ = overfit(make, x, y, 60, validate=True)  # ReduceLROnPlateau reads val_loss
    second, _ = overfit(make, x, y, 60, validate=True)
    assert fell_tenfold(first), first
    assert first == second


SMALL_VAE = {"channels": (8, 16, 32, 64), "hidden": 256, "latent_dim": 16, "lr": 5e-3}


@pytest.fixture(scope="module")
def overfitted_vae():
    x = volumes(1, 16, "binary")
    runs = [overfit(lambda: VAE3D(16, **SMALL_VAE), x, torch.zeros(1, 0), 60) for _ in range(2)]
    return x, runs


def test_vae3d_overfits_reproducibly(overfitted_vae):
    _, ((first, _), (second, _)) = overfitted_vae
    assert fell_tenfold(first), first
    assert first == second


def test_property_vae_phases_overfit_and_freeze_the_right_parts():
    x, y = volumes(1, 16, "binary"), torch.tensor([[0.5, 1.0]])
    y_range = (torch.tensor([0.4, 0.5]), torch.tensor([0.6, 2.0]))

    def make():
        model = PropertyVAE(16, **SMALL_VAE)
        model.set_target_range(*y_range)
        return model

    vae_losses, model = overfit(make, x, y, 60, phase="vae")
    again, _ = overfit(make, x, y, 60, phase="vae")
    assert fell_tenfold(vae_losses), vae_losses
    assert vae_losses == again

    before = {k: v.clone() for k, v in model.state_dict().items()}
    reg_losses, model = overfit(None, x, y, 40, model=model, phase="regressor")
    assert fell_tenfold(reg_losses), reg_losses
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith("regressor.") for k in changed)

    before = {k: v.clone() for k, v in model.state_dict().items()}
    joint, model = overfit(None, x, y, 10, model=model, phase="joint")
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert any(k.startswith("encoder.") for k in changed)
    assert not any(k.startswith("decoder.") for k in changed)
    # one sample fits exactly, so the regressor may not move, but it is trainable in this phase
    assert all(p.requires_grad for p in model.regressor.parameters())
    assert not any(p.requires_grad for p in model.decoder.parameters())
    assert min(joint) < 2 * joint[0]
    with pytest.raises(ValueError, match="phase"):
        model.phase = "decoder"


def test_transfer_regressor_from_scratch_overfits_reproducibly():
    x, y = volumes(2, 16, "binary"), torch.tensor([[1.5], [3.0]])
    kw = {k: v for k, v in SMALL_VAE.items() if k != "lr"}

    def make():
        return TransferRegressor(16, pretrained=False, **kw)

    first, _ = overfit(make, x, y, 40)
    second, _ = overfit(make, x, y, 40)
    assert fell_tenfold(first), first
    assert first == second


def test_transfer_regressor_keeps_the_pretrained_encoder_frozen(overfitted_vae):
    x, ((_, vae), _) = overfitted_vae
    kw = {k: v for k, v in SMALL_VAE.items() if k != "lr"}
    model = TransferRegressor(16, pretrained=True, **kw)
    model.load_encoder(vae.state_dict())
    assert torch.equal(model.encoder.fc.weight, vae.encoder.fc.weight)
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    head_before = [p.clone() for p in model.head.parameters()]
    losses, model = overfit(None, x, torch.tensor([[2.0]]), 40, model=model)
    assert fell_tenfold(losses), losses
    assert all(torch.equal(v, encoder_before[k]) for k, v in model.encoder.state_dict().items())
    assert not all(
        torch.equal(a, b) for a, b in zip(head_before, model.head.parameters(), strict=True)
    )
    assert all(not p.requires_grad for p in model.encoder.parameters())
    # L2 penalty on the head's kernels only
    expected = 1e-5 * sum(m.weight.pow(2).sum() for m in model.head if isinstance(m, nn.Linear))
    assert float(model.regularization()) == pytest.approx(float(expected))
    with pytest.raises(KeyError, match="encoder"):
        model.load_encoder({"decoder.fc.weight": torch.zeros(1)})


# ----------------------------------------------------------------------------------------------
# each model's own evaluation: predict_step per batch, split_report per split


def evaluated(model, batches):
    """split_report of the concatenated predict_step values (eval mode, no gradients)."""
    model.eval()
    with torch.no_grad():
        return model.split_report(
            concat_outputs([model.predict_step(b, i) for i, b in enumerate(batches)])
        )


def test_regressor_evaluation_gives_both_scales_and_the_training_loss():
    torch.manual_seed(0)
    model = PermeabilityCNN(16, channels=(4, 4, 4, 4), hidden=(8, 8))
    model.set_target_range([1.0, 0.3], [5.0, 0.7])
    x, t = volumes(3, 16, "centered"), torch.tensor([[2.0, 0.4], [3.0, 0.5], [4.0, 0.6]])
    model.eval()
    with torch.no_grad():
        out = model.predict_step((x, t), 0)
        assert torch.equal(out["pred"], model.predict_properties(x))
        assert torch.equal(out["true"], t) and torch.equal(
            out["true_scaled"], model.scaler.encode(t)
        )
        for unlabelled in (x, (x,)):
            assert set(model.predict_step(unlabelled, 0)) == {"pred", "pred_scaled"}
        loss = float(torch.nn.functional.mse_loss(model(x), model.scaler.encode(t)))
    report = evaluated(model, [(x[:2], t[:2]), (x[2:], t[2:])])
    assert report["n"] == 3
    assert report["loss"] == pytest.approx(loss, rel=1e-6)
    assert set(report) == {"n", "loss"} | {
        f"{m}_{name}" for m in ("mse", "mape", "r2", "mse_scaled") for name in ("k", "porosity")
    }
    assert model.split_report({}) == {"n": 0}


@pytest.mark.parametrize("cls", [VAE3D, PropertyVAE])
def test_vae_evaluation_matches_the_loss_at_the_latent_mean(cls):
    torch.manual_seed(0)
    model = cls(16, channels=(4, 4, 8, 8), hidden=16, latent_dim=4)
    x, t = volumes(3, 16, "binary"), torch.tensor([[0.5, 1.0], [0.6, 2.0], [0.55, 1.5]])
    if cls is PropertyVAE:
        model.set_target_range([0.5, 1.0], [0.6, 2.0])
        model.phase = "joint"
    model.eval()  # z = mu, as in the evaluation
    with torch.no_grad():
        losses = model.losses((x, t) if cls is PropertyVAE else x)
    report = evaluated(model, [(x[:2], t[:2]), (x[2:], t[2:])])
    assert report["n"] == 3
    for key in ("bce", "kl", "loss"):
        assert report[key] == pytest.approx(float(losses[key]), rel=1e-5), key
    assert 0.0 <= report["voxel_accuracy"] <= 1.0
    assert {"mse_porosity_reconstruction", "r2_porosity_reconstruction"} <= set(report)
    if cls is PropertyVAE:
        assert report["mse_scaled"] == pytest.approx(float(losses["mse"]), rel=1e-5)
        assert {"mse_k", "mape_porosity", "r2_k", "mse_scaled_k"} <= set(report)
    else:
        assert "mse_scaled" not in report


def test_concat_outputs_keeps_batch_order_as_float32():
    batches = [{"a": torch.tensor([1.0, 2.0])}, {"a": torch.tensor([3.0], dtype=torch.float64)}]
    out = concat_outputs(batches)
    assert out["a"].dtype == np.float32 and out["a"].tolist() == [1.0, 2.0, 3.0]
    assert concat_outputs([]) == {}


# ----------------------------------------------------------------------------------------------
# targets, inference helper, saving and loading


def test_target_scalers_round_trip():
    t = torch.tensor([[0.05, 2.0], [0.5, 4.0], [0.9, 3.0]])
    logit = TargetScaler(2, "logit")
    assert torch.allclose(logit.decode(logit.encode(t[:, :1])), t[:, :1], atol=1e-6)
    minmax = TargetScaler(2, "minmax")
    minmax.set_range(t.min(0).values, t.max(0).values)
    y = minmax.encode(t)
    assert float(y.min()) == 0.0 and float(y.max()) == 1.0
    assert torch.allclose(minmax.decode(y), t)
    assert "lo" in minmax.state_dict()


def test_predict_returns_eta_per_axis_through_the_training_rotation():
    torch.manual_seed(0)
    model = DiffusivityCNN(36, channels=(4, 4, 4), hidden=(8, 8, 8, 8)).eval()
    vols = np.stack([spinodoid(36, (0.3, 0.15, 0.1), 0.6, seed=s) for s in range(3)])
    eta = predict(model, torch.from_numpy(vols))
    assert eta.shape == (3, 3) and float(eta.min()) > 0 and float(eta.max()) < 1
    for axis in range(3):
        x = torch.from_numpy(to_input(np.ascontiguousarray(rotate_to_x(vols[1], axis)), False))
        with torch.no_grad():
            manual = torch.sigmoid(model(x[None, None]))[0, 0]
        assert float(eta[1, axis]) == pytest.approx(float(manual), rel=1e-5)
    # a structure of twice the input edge is 2x2x2 sum-pooled first
    big = np.stack([spinodoid(72, (0.3, 0.15, 0.1), 0.6, seed=0)])
    pooled = predict(model, torch.from_numpy(big))
    assert pooled.shape == (1, 3)
    with pytest.raises(ValueError, match="input_size 36"):
        predict(model, torch.zeros(1, 40, 40, 40, dtype=torch.bool))


def test_save_and_load_round_trip_uses_weights_only(tmp_path):
    torch.manual_seed(0)
    model = PermeabilityCNN(16, channels=(4, 4, 4, 4), hidden=(8, 8))
    model.set_target_range([1.0, 0.3], [5.0, 0.7])
    weights, meta = save_model(model, tmp_path / "model.pt", data={"pool": False, "axes": [2]})
    assert meta.read_text().startswith("{")
    loaded = load_model(weights)
    assert isinstance(loaded, PermeabilityCNN) and not loaded.training
    assert loaded.data_config == {"pool": False, "axes": [2]}
    x = volumes(1, 16, "centered")
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))
    assert torch.equal(loaded.scaler.hi, torch.tensor([5.0, 0.7]))


class _Payload:
    def __reduce__(self):
        return (print, ("this would run on load",))


def test_loading_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(1), "payload": _Payload()}, path)
    with pytest.raises(Exception, match="(?i)weights.only|unsupported|not allowed"):
        load_state_dict(path)
