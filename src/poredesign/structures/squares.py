"""Square-pore extrusions [A25].

An ``image`` x ``image`` solid plate receives ``n_pores`` square pores of ``pore`` x ``pore``
pixels at random integer positions; pores may touch but never overlap. Each pore is placed
uniformly among the positions still free (found exactly with a summed-area table), so the
placement never jams silently.
The image is extruded along z; flow runs along z, and porosity = n_pores * pore^2 / image^2.
"""

from __future__ import annotations

import numpy as np

from poredesign.structures.spinodoid import SeedLike, _as_rng


def _free_positions(pore_mask: np.ndarray, pore: int) -> np.ndarray:
    """Top-left corners (i, j) where a pore x pore square touches no existing pore pixel."""
    table = np.pad(pore_mask.astype(np.int32).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    p = pore
    window = table[p:, p:] - table[:-p, p:] - table[p:, :-p] + table[:-p, :-p]
    return np.argwhere(window == 0)


def square_pores(
    n_pores: int,
    seed: SeedLike = None,
    image: int = 100,
    pore: int = 10,
    depth: int | None = None,
    max_restarts: int = 100,
) -> np.ndarray:
    """Extruded square-pore structure, bool (image, image, depth), True = solid.

    ``depth`` defaults to ``image`` (a cube). Raises if ``n_pores`` squares cannot fit.
    """
    depth = image if depth is None else int(depth)
    if pore < 1 or image < pore or depth < 1:
        raise ValueError(
            f"square_pores needs 1 <= pore <= image and depth >= 1; got "
            f"pore={pore}, image={image}, depth={depth}"
        )
    capacity = (image // pore) ** 2
    if not 0 <= n_pores <= capacity:
        raise ValueError(
            f"square_pores: n_pores={n_pores} does not fit; allowed 0..{capacity} "
            f"for {pore}x{pore} pores in a {image}x{image} image"
        )
    rng = _as_rng(seed)
    for _ in range(max_restarts):
        pores = np.zeros((image, image), dtype=bool)
        for _ in range(n_pores):
            free = _free_positions(pores, pore)
            if len(free) == 0:
                break  # jammed: start over with fresh positions
            i, j = free[rng.integers(len(free))]
            pores[i : i + pore, j : j + pore] = True
        else:
            return np.repeat((~pores)[:, :, None], depth, axis=2)
    raise RuntimeError(f"square_pores: could not place {n_pores} pores in {max_restarts} restarts")
