"""Latent-space characterisation [Z23] (SPEC 4.3): the ``latent`` and ``estimate`` stages.

- :mod:`.pca`: PCA of latent means by numpy SVD, correlations, the porosity PC;
- :mod:`.stretch`: stretch direction and intensity from Voronoi parameters;
- :mod:`.space`: encode a structure store, the VAE's split, ``latent.zarr`` and ``pca.json``;
- :mod:`.reference`: projection into another study's VAE and PCA (two-axes into one-axis);
- :mod:`.run`: the ``latent`` stage (:func:`latent_space`: space, then the reference projection);
- :mod:`.estimate`: nearest-neighbour estimation of direction, intensity and porosity;
- :mod:`.figures`: PC1-PC2, porosity PC, reference projection.
"""

from poredesign.characterise.estimate import (
    COLUMNS,
    estimate_from_neighbours,
    estimate_scan,
    estimate_test,
    nearest,
    read_table,
    read_tau,
    summarise,
    write_table,
)
from poredesign.characterise.pca import (
    Pca,
    component_correlations,
    fit_pca,
    pearson,
    porosity_component,
)
from poredesign.characterise.run import latent_space
from poredesign.characterise.space import (
    SPLITS,
    LatentSet,
    build_latent_set,
    read_latent,
    write_latent,
    write_pca_json,
)
from poredesign.characterise.stretch import (
    DIRECTIONS,
    stretch_direction,
    stretch_factors,
    stretch_intensity,
    stretched_axes,
)
from poredesign.learn.encode import encode_store, load_vae, split_labels

__all__ = [
    "COLUMNS",
    "DIRECTIONS",
    "SPLITS",
    "LatentSet",
    "Pca",
    "build_latent_set",
    "component_correlations",
    "encode_store",
    "estimate_from_neighbours",
    "estimate_scan",
    "estimate_test",
    "fit_pca",
    "latent_space",
    "load_vae",
    "nearest",
    "pearson",
    "porosity_component",
    "read_latent",
    "read_table",
    "read_tau",
    "split_labels",
    "stretch_direction",
    "stretch_factors",
    "stretch_intensity",
    "stretched_axes",
    "summarise",
    "write_latent",
    "write_pca_json",
    "write_table",
]
