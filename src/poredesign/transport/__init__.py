"""Transport properties of binary structures (True = solid, indexed x, y, z) [SPEC 2].

- :func:`permeability`: D3Q19 two-relaxation-time lattice Boltzmann, body-force driven Stokes flow;
  :func:`permeability_axes` the diagonal tensor from one set-up; :func:`permeability_extrapolated`
  k at refined resolutions and its Richardson limit.
- :func:`diffusivity`: steady diffusion, effective diffusivity eta = D_eff / D and tortuosity
  factor tau = porosity / eta; Krylov (CG with a matrix-free geometric multigrid
  preconditioner) or D3Q7 lattice Boltzmann.
- :func:`properties`: porosity, effective porosity, specific surface, k, eta, tau per axis (the
  one loop that solves each requested property along each requested axis).
- :func:`label_structures`: the simulate stage, :func:`properties` on every structure of a store
  into a transport store (:mod:`.labels`).

Modules: :mod:`.inputs` (input check), :mod:`.connectivity` (spanning and winding pore space),
:mod:`.backend` (Taichi initialisation), :mod:`.lattice`, :mod:`.streaming` (periodic offsets,
pull streaming with halfway bounce-back), :mod:`.flow_kernels`, :mod:`.flow`,
:mod:`.flow_dense` (every voxel), :mod:`.flow_sparse_kernels` and :mod:`.flow_sparse` (pore-only
storage), :mod:`.flow_checkpoint`
(resumable runs), :mod:`.flow_cascade` (the start from a coarser grid), :mod:`.flow_refine`,
:mod:`.diffusion_kernels`, :mod:`.diffusion` (the shared front end),
:mod:`.diffusion_krylov` and :mod:`.diffusion_lbm` (one solver each), :mod:`.results`,
:mod:`.properties`, :mod:`.labels`.

Taichi is imported and initialised lazily, on the first lattice Boltzmann solve
(see :mod:`.backend`); importing this package does not import it.
"""

from poredesign.transport.diffusion import diffusivity
from poredesign.transport.flow import permeability, permeability_axes
from poredesign.transport.flow_refine import permeability_extrapolated
from poredesign.transport.labels import label_structures
from poredesign.transport.properties import TransportProperties, properties
from poredesign.transport.results import (
    FLAG_DESCRIPTIONS,
    DiffusivityResult,
    Flag,
    PermeabilityResult,
    flag_names,
)

__all__ = [
    "FLAG_DESCRIPTIONS",
    "DiffusivityResult",
    "Flag",
    "PermeabilityResult",
    "TransportProperties",
    "diffusivity",
    "flag_names",
    "label_structures",
    "permeability",
    "permeability_axes",
    "permeability_extrapolated",
    "properties",
]
