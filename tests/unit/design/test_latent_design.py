"""Latent gradient design and slerp [A25] (SPEC 4.4): the batched descent reaches a known optimum,
the decode-encode step is inside the gradient, infeasible targets are flagged, slerp's ends and
norms, nearest starts and scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from poredesign.design.gradient import (
    ReachableBand,
    draw_targets,
    latent_descent,
    nearest_by_k,
    nearest_structures,
    reencoded_objective,
    score,
    slerp,
)
from poredesign.learn import PropertyVAE

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def quadratic(map_z):
    """Squared error of the first two coordinates of map_z(z) against the targets."""

    def objective(z, y):
        return ((map_z(z)[:, :2] - y) ** 2).sum(dim=1)

    return objective


def test_batched_descent_reaches_a_known_optimum_for_every_target_and_start():
    generator = torch.Generator().manual_seed(0)
    targets = torch.rand(5, 2, generator=generator)
    starts = torch.randn(5, 4, 6, generator=generator)  # 5 targets x 4 starts x 6 dimensions
    result = latent_descent(
        starts, targets, quadratic(lambda z: z), lr=0.05, max_steps=3000, loss_bound=1e-10
    )
    assert result.z.shape == (5, 6) and result.candidate_loss.shape == (5, 4)
    assert np.allclose(result.z[:, :2], targets.numpy(), atol=1e-4)
    assert np.all(result.candidate_loss < 1e-8)  # every start, not only the best one
    # untouched coordinates keep their start value: only the loss moved z
    chosen = starts[torch.arange(5), torch.as_tensor(result.start)]
    assert np.allclose(result.z[:, 2:], chosen[:, 2:].numpy(), atol=1e-5)
    assert result.steps < 3000  # every candidate reached the bound and stopped


def test_the_decode_encode_step_is_inside_the_gradient():
    """With E(D(z)) = 2 z the optimum of the re-encoded error is z = y / 2, not z = y."""
    decode_encode = lambda z: 2.0 * z  # noqa: E731
    targets = torch.tensor([[0.4, 0.8], [1.0, -0.6]])
    result = latent_descent(
        torch.zeros(2, 3, 4),
        targets,
        quadratic(decode_encode),
        lr=0.05,
        max_steps=3000,
        loss_bound=1e-12,
    )
    assert np.allclose(result.z[:, :2], targets.numpy() / 2, atol=1e-3)
    # and on a pVAE the objective's gradient reaches z through the decoder and the encoder
    torch.manual_seed(0)
    model = PropertyVAE(16, channels=(4, 8), hidden=16, latent_dim=3, dims=2)
    model.set_target_range([0.0, 0.0], [1.0, 1.0])
    model.requires_grad_(False).eval()
    z = torch.randn(2, 3, requires_grad=True)
    reencoded_objective(model, [1.0, 1.0])(z, torch.full((2, 2), 0.5)).sum().backward()
    through = z.grad.clone()
    z.grad = None
    ((model.regressor(z) - 0.5) ** 2).mean(dim=1).sum().backward()  # the regressor alone
    assert torch.isfinite(through).all() and through.abs().sum() > 0
    assert not torch.allclose(through, z.grad)


def test_straight_through_reencodes_the_binarised_design_with_the_soft_gradient():
    """The straight-through loss equals the error of E(binarised D(z)), the structure the design
    becomes, and its gradient is the one that flows through the probabilities."""
    torch.manual_seed(0)
    model = PropertyVAE(16, channels=(4, 8), hidden=16, latent_dim=3, dims=2)
    model.set_target_range([0.0, 0.0], [1.0, 1.0])
    model.requires_grad_(False).eval()
    z = torch.randn(2, 3, requires_grad=True)
    y = torch.full((2, 2), 0.5)
    hard = reencoded_objective(model, [1.0, 1.0], straight_through=True)(z, y)
    with torch.no_grad():
        binary = (torch.sigmoid(model.voxel_logits(z)) > 0.5).float()
        expected = ((model.regressor(model.encoder(binary)[0]) - y) ** 2).mean(dim=1)
    assert torch.allclose(hard, expected, atol=1e-6)
    soft = reencoded_objective(model, [1.0, 1.0])(z, y)
    assert not torch.allclose(hard, soft)  # a blurred decoding is not its binarised image
    hard.sum().backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_exact_porosity_scores_the_decoded_images_own_pore_fraction():
    """With exact_porosity the porosity term is the binarised decoding's pore fraction on the
    regressor's scale; the k term stays the regressor's."""
    torch.manual_seed(1)
    model = PropertyVAE(16, channels=(4, 8), hidden=16, latent_dim=3, dims=2)
    model.set_target_range([0.2, 0.0], [0.6, 2.0])  # porosity 0.2-0.6, k 0-2
    model.requires_grad_(False).eval()
    z = torch.randn(2, 3, requires_grad=True)
    y = torch.full((2, 2), 0.5)
    loss = reencoded_objective(model, [1.0, 0.0], straight_through=True, exact_porosity=True)
    with torch.no_grad():
        binary = (torch.sigmoid(model.voxel_logits(z)) > 0.5).float()
        porosity = 1.0 - binary.flatten(1).mean(dim=1)
    assert torch.allclose(loss(z, y), ((porosity - 0.2) / 0.4 - 0.5) ** 2, atol=1e-6)
    k_only = reencoded_objective(model, [0.0, 1.0], straight_through=True, exact_porosity=True)
    k_regressor = reencoded_objective(model, [0.0, 1.0], straight_through=True)
    assert torch.allclose(k_only(z, y), k_regressor(z, y))
    model.targets = ["k"]
    with pytest.raises(ValueError, match="porosity output"):
        reencoded_objective(model, [1.0], exact_porosity=True)


def test_stopped_candidates_hold_their_best_code_and_patience_stops_the_run():
    # a flat objective never improves after the first step: patience ends the run
    flat = lambda z, y: (z * 0.0).sum(dim=1) + 1.0  # noqa: E731
    starts = torch.randn(2, 2, 3)
    result = latent_descent(starts, torch.zeros(2, 2), flat, lr=0.1, patience=5, max_steps=100)
    assert result.steps == 6
    assert np.allclose(result.z, starts[:, 0].numpy())


def test_infeasible_targets_are_flagged():
    # a square-pore-like dataset: porosity 0.1..0.4, k grows with porosity within a band
    porosity = np.repeat(np.linspace(0.1, 0.4, 31), 20)
    rng = np.random.default_rng(0)
    k = 4 * porosity**1.5 * rng.uniform(0.8, 1.2, len(porosity))
    band = ReachableBand.from_dataset(porosity, k)
    targets = np.array(
        [
            [0.25, 4 * 0.25**1.5],  # inside
            [0.45, 4 * 0.45**1.5],  # porosity above what square pores reach
            [0.25, 2.4],  # k far above the band at this porosity
            [0.15, 0.01],  # k below it
        ]
    )
    assert band.feasible(targets).tolist() == [True, False, False, False]
    draws = draw_targets(500, [0.1, 0.5], [0.2, 2.5], seed=3)
    assert np.array_equal(draws, draw_targets(500, [0.1, 0.5], [0.2, 2.5], seed=3))
    flagged = ~band.feasible(draws)
    assert flagged[draws[:, 0] > 0.4].all() and 0 < flagged.mean() < 1
    # draw: band keeps only reachable targets, uniform over the box's part inside the band
    inside = draw_targets(50, [0.1, 0.5], [0.2, 2.5], seed=3, band=band)
    assert inside.shape == (50, 2) and band.feasible(inside).all()
    assert np.array_equal(inside, draw_targets(50, [0.1, 0.5], [0.2, 2.5], seed=3, band=band))
    with pytest.raises(ValueError, match="porosity-k band"):
        draw_targets(5, [0.45, 0.5], [0.2, 2.5], seed=3, band=band, max_rounds=3)
    # scoring keeps the infeasible targets out of the feasible subset
    values = {e: draws.copy() for e in ("regressor", "cnn", "solver")}
    values["solver"][flagged, 1] *= 3.0  # wrong only on infeasible targets
    scores = score(values, draws, ~flagged)
    assert scores["solver"]["feasible"]["mape"]["k"] == pytest.approx(0.0)
    assert scores["solver"]["all"]["mape"]["k"] > 10
    assert scores["solver"]["feasible"]["n"]["k"] == int((~flagged).sum())


def test_nearest_starts_and_baseline():
    k = np.array([0.5, 1.0, 1.5, 2.0, 0.9])
    assert nearest_by_k(k, np.array([1.05]), 3).tolist() == [[1, 4, 2]]
    properties = np.array([[0.1, 0.3], [0.2, 0.6], [0.4, 2.0]])
    assert nearest_structures(properties, np.array([[0.19, 0.65], [0.5, 2.5]])).tolist() == [1, 2]


def test_slerp_ends_reproduce_the_codes_and_norms_follow_the_sphere():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=8), rng.normal(size=8)
    b *= np.linalg.norm(a) / np.linalg.norm(b)  # equal norms: slerp stays on that sphere
    path = slerp(a, b, 11)
    assert np.array_equal(path[0], a) and np.array_equal(path[-1], b)
    assert np.allclose(np.linalg.norm(path, axis=1), np.linalg.norm(a))
    omega = np.arccos(a @ b / np.linalg.norm(a) ** 2)
    angles = np.arccos(np.clip(path @ a / np.linalg.norm(path, axis=1) / np.linalg.norm(a), -1, 1))
    assert np.allclose(angles, np.linspace(0, omega, 11), atol=1e-7)  # constant angular rate
    # unequal norms: the path stays in the plane of the two codes and ends exactly at them
    c = 3.0 * b
    other = slerp(a, c, 21)
    basis = np.linalg.qr(np.stack([a, c], axis=1))[0]
    assert np.allclose(other, other @ basis @ basis.T) and np.array_equal(other[-1], c)
    # decoded ends are the decodings of the two codes
    torch.manual_seed(0)
    model = PropertyVAE(16, channels=(4, 8), hidden=16, latent_dim=8, dims=2).eval()
    ends = model.decode(torch.as_tensor(path[[0, -1]], dtype=torch.float32))
    codes = model.decode(torch.as_tensor(np.stack([a, b]), dtype=torch.float32))
    assert torch.equal(ends, codes)
    with pytest.raises(ValueError, match="2 steps"):
        slerp(a, b, 1)


def test_descent_on_a_toy_linear_regressor_with_a_decoder():
    """A toy pVAE-shaped chain whose optimum is known: decoder and encoder linear maps with
    E(D(z)) = z on the first coordinates; the regressor reads them directly."""

    class Toy(nn.Module):
        def __init__(self):
            super().__init__()
            self.targets = ["porosity", "k"]

        def voxel_logits(self, z):
            return torch.cat([z, -z], dim=1)  # "image" from which the code is recoverable

        def encoder(self, probabilities):
            x = torch.logit(probabilities.clamp(1e-6, 1 - 1e-6))
            half = x.shape[1] // 2
            return 0.5 * (x[:, :half] - x[:, half:]), None

        def regressor(self, mu):
            return mu[:, :2]

    targets = torch.tensor([[0.3, 0.7], [0.1, 0.2], [0.9, 0.4]])
    result = latent_descent(
        torch.zeros(3, 2, 4),
        targets,
        reencoded_objective(Toy(), [1.0, 1.0]),
        lr=0.05,
        max_steps=4000,
        loss_bound=1e-12,
    )
    assert np.allclose(result.z[:, :2], targets.numpy(), atol=1e-3)
