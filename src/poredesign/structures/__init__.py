"""Structure generators, checks and dataset samplers (True = solid, indexed x, y, z).

Modules: :mod:`.spinodoid`, :mod:`.voronoi`, :mod:`.squares`, :mod:`.foam` (generators);
:mod:`.imported` (the import of a real volume: :mod:`.volume_io` readers and writers,
:mod:`.segment` pore phase and porosity-matched threshold, :mod:`.crop` cubes) and
:mod:`.resize` (cubic-spline resize and :func:`binarise`, the one threshold of a soft image);
:mod:`.checks` (the binary-input check, porosity, percolation and the connectivity labelling the
transport solvers share); datasets: :mod:`.sampling` (dataset samplers, sharded generation),
:mod:`.scans` (the imports stage), :mod:`.scan_dataset` (a scan's crops as the dataset),
:mod:`.transfer_dataset` (the transfer stage's second Voronoi set); :mod:`.figures`.
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
from poredesign.structures.resize import binarise, resize_binary, resize_gray
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
    "binarise",
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
