"""The study's ABC model: spinodoids from ``spinodoid_batch``, then a surrogate (the CNN).

``theta (B, 4) -> eta (B, d)``: :func:`spinodoid_cnn_model` builds B spinodoids in one
:func:`~poredesign.structures.spinodoid.spinodoid_batch` call (torch FFT, GPU when present) and
predicts eta for all of them with one call of a surrogate. Structures are drawn from the model's
own seeds (``SeedSequence([seed, counter])``), apart from pyABC's random state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from poredesign.devices import resolve_device, synchronize


class SpinodoidModel:
    """``theta (B, 4) -> eta (B, d)``: spinodoids from :func:`spinodoid_batch`, then a surrogate.

    Structure j (counting every structure this object has built) uses the torch seed
    ``SeedSequence([seed, j]).generate_state(1)[0]``; ``batch_size`` structures are built and
    predicted per call of ``predict_structures`` (bounding device memory). ``predict_structures``
    receives a torch bool tensor (b, size, size, size), True = solid, on ``device`` (a config
    value for :func:`poredesign.devices.resolve_device`; None = auto) and returns (b, d) values
    (numpy or torch). Timings (seconds) of both stages accumulate in ``timings``.
    """

    def __init__(
        self,
        predict_structures: Callable[[Any], Any],
        size: int,
        seed: int,
        batch_size: int = 64,
        device: str | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        self.predict_structures = predict_structures
        self.size = int(size)
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.device = device
        self.counter = 0
        self.timings = {"generate_s": 0.0, "predict_s": 0.0, "structures": 0}

    def structure_seed(self, index: int) -> int:
        """The torch seed of structure ``index`` (counted over the model's lifetime)."""
        return int(np.random.SeedSequence([self.seed, int(index)]).generate_state(1)[0])

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        """eta (B, d) for parameters theta (B, 4): a_x, a_y, a_z, porosity."""
        import torch

        from poredesign.structures.spinodoid import spinodoid_batch

        theta = np.array(theta, dtype=np.float64).reshape(-1, 4)  # a writable copy
        device = resolve_device(self.device)
        out = []
        with torch.inference_mode():
            for start in range(0, len(theta), self.batch_size):
                chunk = theta[start : start + self.batch_size]
                seeds = [self.structure_seed(self.counter + i) for i in range(len(chunk))]
                self.counter += len(chunk)
                t0 = time.perf_counter()
                solid = spinodoid_batch(self.size, chunk[:, :3], chunk[:, 3], seeds, device=device)
                synchronize(device)  # so that generate_s holds the generation's GPU time
                t1 = time.perf_counter()
                eta = self.predict_structures(solid)
                eta = eta.detach().cpu().numpy() if hasattr(eta, "detach") else np.asarray(eta)
                self.timings["generate_s"] += t1 - t0
                self.timings["predict_s"] += time.perf_counter() - t1
                self.timings["structures"] += len(chunk)
                out.append(np.asarray(eta, dtype=np.float64).reshape(len(chunk), -1))
        if not out:
            return np.empty((0, 0))
        return np.concatenate(out)


def spinodoid_cnn_model(
    predict_structures: Callable[[Any], Any],
    size: int,
    seed: int,
    batch_size: int = 64,
    device: str | None = None,
) -> SpinodoidModel:
    """Compose :func:`spinodoid_batch` with a structures -> eta callable (the CNN); see
    :class:`SpinodoidModel`. Build a fresh one per ABC run for reproducibility."""
    return SpinodoidModel(predict_structures, size, seed, batch_size, device)
