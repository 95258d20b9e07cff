"""Write resources/scans/synthetic-membrane.tif: a stand-in for a membrane scan (no public one).

A Voronoi-edge membrane of known parameters (96^3 voxels at the scale of the small study's
generation_size 64: 186 seeds, i.e. 55 per 64^3, strut radius 2.5, stretched along y with
e_y = 0.6) rendered as an absorption scan: dark pores, Gaussian blur sigma 1 voxel, noise 10 % of
the contrast, uint8. Its true porosity is printed (use it as the import's measured porosity).

    uv run python resources/scans/make_synthetic_membrane.py
"""

from pathlib import Path

import numpy as np

from poredesign.structures.imported import render_gray, write_tiff
from poredesign.structures.voronoi import voronoi_membrane

SEED = 20230603
STRETCH = (1.0, 0.6, 1.0)


def synthetic_membrane() -> tuple[np.ndarray, np.ndarray]:
    """The true structure (bool, True = solid) and its rendered gray scan (uint8)."""
    solid = voronoi_membrane(96, 186, 2.5, stretch=STRETCH, seed=SEED)
    return solid, render_gray(solid, blur_sigma=1.0, noise=0.1, seed=SEED + 1)


if __name__ == "__main__":
    solid, gray = synthetic_membrane()
    out = Path(__file__).with_name("synthetic-membrane.tif")
    write_tiff(out, gray)
    print(f"{out}: {gray.shape} {gray.dtype}, true porosity {1 - solid.mean():.4f}")
