"""Structure generators, acceptance checks and dataset samplers (True = solid, indexed x, y, z)."""

from poredesign.structures.checks import (
    both_phases_percolate,
    percolating_axes,
    percolating_mask,
    pore_percolates,
    porosity,
    solid_percolates,
    validate_binary,
)
from poredesign.structures.sampling import (
    SpinodoidSampler,
    SquaresSampler,
    draw_structure,
    generate_dataset,
    make_sampler,
    structure_rng,
)
from poredesign.structures.spinodoid import gaussian_random_field, spinodoid, spinodoid_batch
from poredesign.structures.squares import square_pores

__all__ = [
    "SpinodoidSampler",
    "SquaresSampler",
    "both_phases_percolate",
    "draw_structure",
    "gaussian_random_field",
    "generate_dataset",
    "make_sampler",
    "percolating_axes",
    "percolating_mask",
    "pore_percolates",
    "porosity",
    "solid_percolates",
    "spinodoid",
    "spinodoid_batch",
    "square_pores",
    "structure_rng",
    "validate_binary",
]
