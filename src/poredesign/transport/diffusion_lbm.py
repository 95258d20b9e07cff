"""Steady diffusion by a D3Q7 two-relaxation-time lattice Boltzmann scheme (``method="lbm"``).

Taichi, float64 (:mod:`.diffusion_kernels`), with the magic parameter 1/4, whose steady state is
exactly the finite-volume scheme of :mod:`.diffusion` (lattice units: voxel spacing 1) whatever
the relaxation time; it marches in time from a linear profile until the flux through every layer
pair agrees (spread below ``tol``) and stops changing. Slower on the CPU (O(N^2 / D) steps) but
runs on CUDA; it agrees with the Krylov method (:mod:`.diffusion_krylov`) to about 1e-7.
"""

from __future__ import annotations

import math

import numpy as np

from poredesign.transport.lattice import D3Q7_CS2, MAGIC_DIFFUSION

# relaxation time tau_- of the flux: D = c_s^2 (tau_- - 1/2) = 4.875; tau_+ = 0.5128 from the magic
# parameter
LBM_RELAXATION_TIME_MINUS = 20.0


class _LbmBuffers:
    def __init__(self, shape):
        import taichi as ti

        from poredesign.transport import backend

        self.shape = tuple(shape)
        self.generation = backend.generation()
        nv = int(np.prod(shape))
        self.src = ti.ndarray(ti.f64, 7 * nv)
        self.dst = ti.ndarray(ti.f64, 7 * nv)
        self.mask = ti.ndarray(ti.u8, nv)
        self.partial = ti.ndarray(ti.f64, max(1, (shape[0] - 1) * shape[1]))


_lbm_cache: dict[str, _LbmBuffers] = {}


def _lbm_buffers(shape) -> _LbmBuffers:
    from poredesign.transport import backend

    buf = _lbm_cache.get("last")
    if buf is None or buf.shape != tuple(shape) or buf.generation != backend.generation():
        _lbm_cache.clear()  # free the previous size first
        buf = _LbmBuffers(shape)
        _lbm_cache["last"] = buf
    return buf


def lbm_default_steps(
    shape: tuple[int, ...], relaxation_time_minus: float = LBM_RELAXATION_TIME_MINUS
) -> int:
    """Step budget of the D3Q7 run: a multiple of the diffusive time N^2 / D of the box."""
    n = max(shape)
    d = D3Q7_CS2 * (relaxation_time_minus - 0.5)
    return int(max(2000, 40 * n * n / d))


def solve_lbm(
    connected: np.ndarray,
    lateral_periodic: bool,
    tol: float,
    max_steps: int | None,
    device: str,
    threads: int | None,
    relaxation_time_minus: float,
    check_every: int | None,
):
    """Flux per layer pair (in units of D), steps, converged flag, spread."""
    from poredesign.transport import backend

    active = backend.ensure_backend(device, threads)
    from poredesign.transport import diffusion_kernels as dk

    step = dk.step_kernel(active)

    shape = connected.shape
    nx, ny, nz = shape
    relaxation_time_plus = 0.5 + MAGIC_DIFFUSION / (relaxation_time_minus - 0.5)
    lp, lm = 1.0 / relaxation_time_plus, 1.0 / relaxation_time_minus
    d_lbm = D3Q7_CS2 * (relaxation_time_minus - 0.5)
    buf = _lbm_buffers(shape)
    buf.mask.from_numpy(dk.node_mask(connected, lateral_periodic))
    profile = np.broadcast_to(1.0 - np.arange(nx)[:, None, None] / (nx - 1.0), shape)
    conc0 = np.where(connected, profile, 0.0).ravel()
    init = np.outer(np.asarray(dk.W), conc0).ravel()
    buf.src.from_numpy(init)
    buf.dst.from_numpy(init)
    budget = max_steps or lbm_default_steps(shape, relaxation_time_minus)
    n_check = check_every or max(20, min(500, nx * nx // 8))
    a, b = buf.src, buf.dst
    steps = 0
    history: list[float] = []
    converged = False
    fluxes = np.zeros(nx - 1)
    spread = math.inf
    while steps < budget:
        todo = min(n_check, budget - steps)
        for _ in range(todo):
            step(a, b, buf.mask, nx, ny, nz, lp, lm, 1.0, 0.0)
            a, b = b, a
        steps += todo
        dk.diffusion_layer_flux(a, buf.mask, nx, ny, nz, buf.partial)
        fluxes = buf.partial.to_numpy().reshape(nx - 1, ny).sum(axis=1) / d_lbm
        mean = float(fluxes.mean())
        if not np.isfinite(fluxes).all():
            break
        spread = float((fluxes.max() - fluxes.min()) / abs(mean)) if mean else math.inf
        change = abs(mean - history[-1]) / abs(mean) if history and mean else math.inf
        history.append(mean)
        if spread < tol and change < tol:
            converged = True
            break
    return fluxes, steps, converged, spread
