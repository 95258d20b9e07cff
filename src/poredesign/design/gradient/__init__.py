"""Latent gradient design and interpolation with the property VAE [A25] (SPEC 4.4): the
``design`` and ``slerp`` stages of the square-pore study (2D pVAE) and of crops of a scan (3D).

- :mod:`.targets`: target draw, the dataset's reachable porosity-k band, nearest structures;
- :mod:`.descent`: batched gradient descent on latent codes through decode and re-encode;
- :mod:`.evaluate`: designs evaluated by the regressor, the permeability CNN and the solver;
- :mod:`.slerp`: spherical linear interpolation;
- :mod:`.run`: the two stages (``designs.zarr``, ``latent_design.json``, ``slerp.json``) and
  the design's settings (:class:`.run.LatentDesignSettings`, the ``design.latent`` section);
- :mod:`.figures`: design parity and the slerp strip.
"""

from poredesign.design.gradient.descent import (
    DescentResult,
    latent_descent,
    reencoded_objective,
)
from poredesign.design.gradient.evaluate import EVALUATORS, PROPERTIES, score
from poredesign.design.gradient.run import (
    LatentDesignSettings,
    LatentTargets,
    latent_design,
    read_properties,
    slerp_stage,
)
from poredesign.design.gradient.slerp import slerp
from poredesign.design.gradient.targets import (
    ReachableBand,
    draw_targets,
    nearest_by_k,
    nearest_structures,
)

__all__ = [
    "EVALUATORS",
    "PROPERTIES",
    "DescentResult",
    "LatentDesignSettings",
    "LatentTargets",
    "ReachableBand",
    "draw_targets",
    "latent_descent",
    "latent_design",
    "nearest_by_k",
    "nearest_structures",
    "read_properties",
    "reencoded_objective",
    "score",
    "slerp",
    "slerp_stage",
]
