"""Batched gradient descent on latent codes [A25], SPEC 4.4.

Every target t starts from S codes (the training codes nearest by k); all T x S candidates are one
tensor z (T * S, d) optimised together by Adam (its updates are element-wise, so candidates do
not interact). The objective of a candidate is the regressor's weighted squared error, on its
min-max training scale, of the properties of E(D(z)): decode z to voxel probabilities, encode them
again, regress from the latent mean (:func:`reencoded_objective`). Decoding and re-encoding inside
the loss is the paper's loop; it keeps z where the decoder makes structures the encoder recognises,
rather than where the regressor alone extrapolates.

A candidate stops once its loss is below ``loss_bound`` or after ``patience`` steps without a new
best (paper 400); the run ends when every candidate has stopped or after ``max_steps``. Each
candidate keeps its best code; stopped candidates are held at it. Forward passes go through
``chunk`` candidates at a time, so memory is bounded whatever T x S is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from poredesign.structures.resize import binarise

log = logging.getLogger(__name__)

#: objective(z (B, d), targets on the regressor's scale (B, p)) -> loss per candidate (B,)
Objective = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class DescentResult:
    """Per target: the best candidate's code ``z`` (T, d), loss (T,), start (T,) (its position
    among the target's starts); per candidate: best loss (T, S) and steps run (T, S); the steps
    of the whole run and its wall time (s)."""

    z: np.ndarray
    loss: np.ndarray
    start: np.ndarray
    candidate_loss: np.ndarray
    candidate_steps: np.ndarray
    steps: int
    seconds: float

    @property
    def candidate_steps_total(self) -> int:
        """Candidate-steps computed (T x S x steps for a run where nothing stops early)."""
        return int(self.candidate_steps.sum())

    @property
    def candidate_steps_per_second(self) -> float:
        """The descent's speed: candidate-steps per second of wall time."""
        return self.candidate_steps_total / max(self.seconds, 1e-9)


def reencoded_objective(
    model: torch.nn.Module,
    weights: Sequence[float],
    straight_through: bool = False,
    exact_porosity: bool = False,
) -> Objective:
    """The pVAE objective: weighted mean over properties of (r(E(D(z))) - y)^2 on the regressor's
    min-max scale, with D the steep-sigmoid decoder, E the encoder's mean and r the regressor.
    ``weights`` follow the model's targets (e.g. porosity, k).

    ``straight_through``: E reads the decoded image binarised at 0.5, the structure the design
    becomes and the solver checks, while the gradient passes through the probabilities as if
    the threshold were the identity (the straight-through estimator). Without it E reads the
    probabilities, and a blurred decoding can satisfy the regressor while its binarised image
    does not.

    ``exact_porosity``: the porosity term is the decoded image's own pore fraction (of the
    binarised image with ``straight_through``, else of the probabilities), on the regressor's
    min-max scale, instead of the regressor's prediction: porosity needs no surrogate, and the
    regressor misjudges it on decodings unlike its training images."""
    w = torch.as_tensor(np.asarray(weights, dtype=np.float32))
    w = w / w.sum()
    if exact_porosity and "porosity" not in model.targets:
        raise ValueError(
            f"exact_porosity needs a model with a porosity output; its targets: {model.targets}"
        )
    column = model.targets.index("porosity") if exact_porosity else None

    def objective(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        probabilities = torch.sigmoid(model.voxel_logits(z))
        if straight_through:
            binary = binarise(probabilities).to(probabilities.dtype)
            probabilities = probabilities + (binary - probabilities).detach()
        mu = model.encoder(probabilities)[0]
        predicted = model.regressor(mu).float()
        if column is not None:
            porosity = 1.0 - probabilities.flatten(1).float().mean(dim=1, keepdim=True)
            # the regressor's own scaler puts it on the training scale (every column, keep one)
            scaled = model.scaler.encode(porosity.expand_as(predicted))[:, column : column + 1]
            predicted = torch.cat([predicted[:, :column], scaled, predicted[:, column + 1 :]], 1)
        return ((predicted - y) ** 2 * w.to(predicted.device)).sum(dim=1)

    return objective


def latent_descent(
    starts: torch.Tensor,
    targets: torch.Tensor,
    objective: Objective,
    *,
    lr: float = 0.01,
    max_steps: int = 5000,
    patience: int = 400,
    loss_bound: float = 1e-5,
    chunk: int = 4096,
    log_every: int = 100,
) -> DescentResult:
    """Minimise ``objective`` from ``starts`` (T, S, d) towards ``targets`` (T, p), all candidates
    in one tensor; see the module docstring for the stopping rules."""
    if starts.ndim != 3 or targets.ndim != 2 or len(starts) != len(targets):
        raise ValueError(
            f"starts must be (T, S, d) and targets (T, p) with the same T; got "
            f"{tuple(starts.shape)} and {tuple(targets.shape)}"
        )
    n_targets, n_starts, width = starts.shape
    t0 = time.perf_counter()
    z = starts.reshape(-1, width).detach().clone().float().requires_grad_(True)
    y = targets.float().to(z.device).repeat_interleave(n_starts, dim=0)
    best = torch.full((len(z),), float("inf"), device=z.device)
    best_z = z.detach().clone()
    since = torch.zeros(len(z), dtype=torch.long, device=z.device)
    steps_run = torch.zeros(len(z), dtype=torch.long, device=z.device)
    active = torch.ones(len(z), dtype=torch.bool, device=z.device)
    optimizer = torch.optim.Adam([z], lr=lr)
    step = 0
    while step < max_steps and bool(active.any()):
        optimizer.zero_grad(set_to_none=False)
        loss = torch.empty(len(z), device=z.device)
        for lo in range(0, len(z), chunk):
            part = objective(z[lo : lo + chunk], y[lo : lo + chunk])
            part.sum().backward()  # candidates are independent: the sum's gradient is each one's
            loss[lo : lo + chunk] = part.detach()
        with torch.no_grad():
            improved = active & (loss < best)
            best = torch.where(improved, loss, best)
            best_z[improved] = z.detach()[improved]
            since = torch.where(improved, torch.zeros_like(since), since + 1)
            steps_run += active.long()
            active &= (best > loss_bound) & (since < patience)
            z.grad[~active] = 0.0
        optimizer.step()
        with torch.no_grad():
            z[~active] = best_z[~active]  # stopped candidates stay at their best code
        step += 1
        if log_every and step % log_every == 0:
            log.info(
                "descent step %d: %d of %d candidates active, best loss median %.3g",
                step,
                int(active.sum()),
                len(z),
                float(best.median()),
            )
    # the last step's update was not scored: score the codes once more
    with torch.no_grad():
        for lo in range(0, len(z), chunk):
            part = objective(z[lo : lo + chunk], y[lo : lo + chunk])
            sel = slice(lo, lo + len(part))
            better = part < best[sel]
            best[sel] = torch.where(better, part, best[sel])
            best_z[sel][better] = z[sel][better]
    per_candidate = best.reshape(n_targets, n_starts)
    start = per_candidate.argmin(dim=1)
    chosen = best_z.reshape(n_targets, n_starts, width)[torch.arange(n_targets), start]
    return DescentResult(
        z=chosen.cpu().numpy().astype(np.float64),
        loss=per_candidate.min(dim=1).values.cpu().numpy().astype(np.float64),
        start=start.cpu().numpy(),
        candidate_loss=per_candidate.cpu().numpy().astype(np.float64),
        candidate_steps=steps_run.reshape(n_targets, n_starts).cpu().numpy(),
        steps=step,
        seconds=time.perf_counter() - t0,
    )


__all__ = ["DescentResult", "Objective", "latent_descent", "reencoded_objective"]
