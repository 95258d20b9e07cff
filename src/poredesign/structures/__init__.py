"""Structure generators, checks and dataset samplers (True = solid, indexed x, y, z).

Modules: :mod:`.spinodoid`, :mod:`.voronoi`, :mod:`.squares` (generators), :mod:`.imported` and
:mod:`.resize` (real volumes), :mod:`.checks` (the binary-input check, porosity, percolation and
the connectivity labelling the transport solvers share), :mod:`.sampling` (dataset samplers).
"""

from poredesign.structures.checks import (
    both_phases_percolate,
    percolating_axes,
    percolating_mask,
    periodic_labels,
    pore_percolates,
    porosity,
    solid_percolates,
    spanning_mask,
    validate_binary,
)
from poredesign.structures.imported import (
    crop_cubes,
    import_volume,
    read_volume,
    threshold_porosity,
    write_raw,
    write_tiff,
)
from poredesign.structures.resize import resize_binary, resize_gray
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

# the Voronoi module compiles numba kernels: imported on first use (PEP 562)
_LAZY = {"voronoi_membrane", "voronoi_edges", "VoronoiSampler", "SphereOptions"}


def __getattr__(name: str):
    if name in _LAZY:
        from poredesign.structures import voronoi

        return getattr(voronoi, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SphereOptions",
    "VoronoiSampler",
    "crop_cubes",
    "import_volume",
    "read_volume",
    "resize_binary",
    "resize_gray",
    "threshold_porosity",
    "voronoi_edges",
    "voronoi_membrane",
    "write_raw",
    "write_tiff",
    "SpinodoidSampler",
    "SquaresSampler",
    "both_phases_percolate",
    "draw_structure",
    "gaussian_random_field",
    "generate_dataset",
    "make_sampler",
    "percolating_axes",
    "percolating_mask",
    "periodic_labels",
    "pore_percolates",
    "porosity",
    "solid_percolates",
    "spanning_mask",
    "spinodoid",
    "spinodoid_batch",
    "square_pores",
    "structure_rng",
    "validate_binary",
]
