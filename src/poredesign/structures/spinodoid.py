"""Spinodoid structures from anisotropic Gaussian random fields [R22].

White noise on an N^3 periodic grid is filtered in Fourier space with the spectral density

    gamma(q) = [1 + ((a_x q_x)^2 + (a_y q_y)^2 + (a_z q_z)^2)^4]^(-2),

q being the integer wavenumber in cycles per domain edge, and thresholded at its porosity quantile
(pore where Psi < T). The spectrum falls off beyond |a_i q_i| ~ 1, so the dominant wavelength along
axis i is about N * a_i voxels. gamma is even in q, so filtering a real field with a real-to-complex
FFT gives exactly the real part of the complex filtering described in the paper.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.fft

from poredesign.devices import resolve_device

SeedLike = int | np.random.Generator | np.random.SeedSequence | None


def _as_rng(seed: SeedLike) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_params(n: int, a: Sequence[float], porosity: float) -> tuple[float, float, float]:
    if int(n) != n or n < 4:
        raise ValueError(f"spinodoid size n must be an integer >= 4; got {n!r}")
    if len(a) != 3 or any(not np.isfinite(v) or v <= 0 for v in a):
        raise ValueError(f"spinodoid a must be three positive numbers (a_x, a_y, a_z); got {a!r}")
    if not 0.0 < porosity < 1.0:
        raise ValueError(f"spinodoid porosity must lie in (0, 1); got {porosity!r}")
    return tuple(float(v) for v in a)


def _sqrt_spectrum(n: int, a: Sequence[float], dtype: np.dtype = np.float32) -> np.ndarray:
    """sqrt(gamma) on the rfftn grid (n, n, n//2 + 1)."""
    q_full = (np.fft.fftfreq(n) * n).astype(dtype)
    q_half = (np.fft.rfftfreq(n) * n).astype(dtype)
    s = (
        (a[0] * q_full)[:, None, None] ** 2
        + (a[1] * q_full)[None, :, None] ** 2
        + (a[2] * q_half)[None, None, :] ** 2
    )
    return (1.0 / (1.0 + s**4)).astype(dtype)  # sqrt([1 + s^4]^-2)


def gaussian_random_field(
    n: int, a: Sequence[float], seed: SeedLike = None, workers: int = -1
) -> np.ndarray:
    """The filtered periodic field Psi (float32, shape (n, n, n)) before thresholding."""
    a = _check_params(n, a, 0.5)
    noise = _as_rng(seed).standard_normal((n, n, n), dtype=np.float32)
    spectrum = scipy.fft.rfftn(noise, workers=workers, overwrite_x=True)
    spectrum *= _sqrt_spectrum(n, a)
    return scipy.fft.irfftn(spectrum, s=(n, n, n), workers=workers, overwrite_x=True)


def threshold_at_porosity(field: np.ndarray, porosity: float) -> np.ndarray:
    """Solid = field >= T, T the porosity-quantile: exactly round(porosity * size) pore voxels."""
    flat = field.ravel()
    n_pore = int(round(porosity * flat.size))
    if n_pore <= 0:
        return np.ones(field.shape, dtype=bool)
    if n_pore >= flat.size:
        return np.zeros(field.shape, dtype=bool)
    threshold = np.partition(flat, n_pore)[n_pore]
    solid = field >= threshold
    if field.size - np.count_nonzero(solid) == n_pore:
        return solid
    # ties at the threshold: pick exactly n_pore pore voxels by rank instead
    order = np.argpartition(flat, n_pore)
    solid = np.ones(flat.size, dtype=bool)
    solid[order[:n_pore]] = False
    return solid.reshape(field.shape)


def spinodoid(
    n: int, a: Sequence[float], porosity: float, seed: SeedLike = None, workers: int = -1
) -> np.ndarray:
    """One spinodoid structure, bool (n, n, n), True = solid, periodic in x, y, z.

    Parameters
    ----------
    n: edge length in voxels.
    a: (a_x, a_y, a_z), dimensionless; dominant feature wavelength along i is about n * a_i voxels.
    porosity: pore volume fraction eps in (0, 1), met to one voxel.
    seed: int, SeedSequence or numpy Generator; the same seed gives identical bytes.
    """
    _check_params(n, a, porosity)
    return threshold_at_porosity(gaussian_random_field(n, a, seed, workers), porosity)


def spinodoid_batch(
    n: int,
    a: np.ndarray | Sequence[Sequence[float]],
    porosity: np.ndarray | Sequence[float],
    seeds: Sequence[int],
    device: str | None = None,
):
    """A batch of spinodoids on the GPU when present (torch FFT); returns a torch bool tensor.

    ``a`` is (B, 3), ``porosity`` (B,), ``seeds`` B integers; structure b depends only on seeds[b]
    (torch's generator on the chosen device, so the noise differs from the numpy path). Used where
    throughput matters (ABC model evaluations); datasets use :func:`spinodoid`. ``device``:
    ``"auto"`` or None (CUDA when torch sees it), ``"cpu"``, ``"cuda"``, by
    :func:`poredesign.devices.resolve_device`.
    """
    import torch

    device = resolve_device(device, framework="torch")
    a = torch.as_tensor(np.asarray(a, dtype=np.float32), device=device).reshape(-1, 3)
    eps = torch.as_tensor(np.asarray(porosity, dtype=np.float64), device=device).reshape(-1)
    batch = a.shape[0]
    if eps.shape[0] != batch or len(seeds) != batch:
        raise ValueError(
            f"spinodoid_batch needs as many porosities and seeds as rows of a ({batch}); "
            f"got {eps.shape[0]} porosities and {len(seeds)} seeds"
        )
    if bool((a <= 0).any()) or bool(((eps <= 0) | (eps >= 1)).any()):
        raise ValueError("spinodoid_batch: a must be positive and porosity in (0, 1)")

    noise = torch.empty((batch, n, n, n), dtype=torch.float32, device=device)
    generator = torch.Generator(device=device)
    for b, seed in enumerate(seeds):
        generator.manual_seed(int(seed))
        noise[b].normal_(generator=generator)

    q_full = torch.fft.fftfreq(n, device=device) * n
    q_half = torch.fft.rfftfreq(n, device=device) * n
    s = (
        (a[:, 0, None, None, None] * q_full[None, :, None, None]) ** 2
        + (a[:, 1, None, None, None] * q_full[None, None, :, None]) ** 2
        + (a[:, 2, None, None, None] * q_half[None, None, None, :]) ** 2
    )
    field = torch.fft.irfftn(
        torch.fft.rfftn(noise, dim=(1, 2, 3)) / (1.0 + s**4), s=(n, n, n), dim=(1, 2, 3)
    )
    del noise, s
    flat = field.reshape(batch, -1)
    n_pore = torch.round(eps * flat.shape[1]).long().clamp(1, flat.shape[1] - 1)
    # threshold per structure: the n_pore-th smallest value is the first solid one
    sorted_values = torch.sort(flat, dim=1).values
    threshold = sorted_values.gather(1, n_pore[:, None])
    del sorted_values
    return (flat >= threshold).reshape(batch, n, n, n)
