"""A synthetic gray-value foam: a stand-in for a CT scan of a foam (tests, runnable examples).

[A25]'s second dataset is crops of CT foams; no such scan is available here, so the foam study
imports a spinodoid (:func:`poredesign.structures.spinodoid.spinodoid`, SPEC 1.1) rendered as an
absorption image (:func:`poredesign.structures.imported.render_gray`): dark pores, bright solid,
a Gaussian point-spread blur and Gaussian noise. The import stage then has to recover the phases
by smoothing and thresholding at the measured porosity (SPEC 1.4), as for a real scan, and
its crops are not periodic (the crops of a periodic volume are not).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from poredesign.structures.imported import render_gray
from poredesign.structures.spinodoid import spinodoid


def synthetic_foam(
    size: int,
    a: Sequence[float],
    porosity: float,
    seed: int | Sequence[int],
    blur_sigma: float = 1.0,
    noise: float = 0.15,
    values: Sequence[float] = (60.0, 190.0),
) -> np.ndarray:
    """A gray-value scan (uint8, shape (size, size, size), indexed x, y, z) of a spinodoid foam.

    size: edge in voxels. a: the spinodoid's (a_x, a_y, a_z), dimensionless; the pore and strut
    wavelength along axis i is about size * a_i voxels. porosity: pore volume fraction of the
    rendered structure, in (0, 1); give it to the import as the measured porosity. seed: an
    integer or integers (numpy SeedSequence entropy); the structure's and the noise's streams
    both derive from it. blur_sigma: Gaussian point-spread
    sigma in voxels. noise: standard deviation of the Gaussian noise as a fraction of the
    contrast |solid - pore|. values: gray values of (pore, solid) before blur and noise (pores
    darker than solid, as in absorption tomography).
    """
    structure_seed, noise_seed = np.random.SeedSequence(seed).spawn(2)
    solid = spinodoid(int(size), a, porosity, seed=np.random.default_rng(structure_seed))
    return render_gray(
        solid,
        blur_sigma=blur_sigma,
        noise=noise,
        seed=np.random.default_rng(noise_seed),
        values=(float(values[0]), float(values[1])),
        dtype=np.uint8,
    )


__all__ = ["synthetic_foam"]
