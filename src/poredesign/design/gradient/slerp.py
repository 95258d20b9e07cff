"""Spherical linear interpolation between two latent codes [A25], SPEC 4.4.

slerp(z0, z1; t) = sin((1 - t) w) / sin(w) z0 + sin(t w) / sin(w) z1, with w the angle between
z0 and z1: for ends of equal norm the path stays on that sphere and turns at a constant angular
rate (the angle to z0 is t w); for ends of different norms it stays in their plane. Nearly
parallel ends (w < 1e-6) fall back to linear interpolation. In a
VAE's Gaussian latent space slerp stays in the shell where codes live, where a straight line
would cut through the low-norm centre.
"""

from __future__ import annotations

import numpy as np


def slerp(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` codes (steps, d) from ``z0`` to ``z1`` inclusive, t evenly spaced in [0, 1]."""
    z0, z1 = np.asarray(z0, dtype=np.float64), np.asarray(z1, dtype=np.float64)
    if z0.shape != z1.shape or z0.ndim != 1:
        raise ValueError(f"slerp needs two codes of the same length; got {z0.shape}, {z1.shape}")
    if steps < 2:
        raise ValueError(f"slerp needs at least 2 steps (both ends); got {steps}")
    t = np.linspace(0.0, 1.0, int(steps))[:, None]
    n0, n1 = np.linalg.norm(z0), np.linalg.norm(z1)
    cos = np.dot(z0, z1) / (n0 * n1) if n0 > 0 and n1 > 0 else 1.0
    omega = float(np.arccos(np.clip(cos, -1.0, 1.0)))
    if omega < 1e-6:
        path = (1.0 - t) * z0 + t * z1
    else:
        path = (np.sin((1.0 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)
    path[0], path[-1] = z0, z1  # exact ends (no rounding in the sines)
    return path


__all__ = ["slerp"]
