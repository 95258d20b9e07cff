"""Transport properties of binary structures (True = solid, indexed x, y, z) [SPEC 2].

- :func:`permeability`: D3Q19 two-relaxation-time lattice Boltzmann, body-force driven Stokes flow.
- :func:`diffusivity`: steady diffusion, effective diffusivity eta = D_eff / D and tortuosity
  factor tau = porosity / eta; Krylov (CG + algebraic multigrid) or D3Q7 lattice Boltzmann.
- :func:`properties`: porosity, effective porosity, specific surface, k, eta, tau per axis.

Taichi is imported and initialised lazily, on the first solve (see :mod:`.backend`).
"""

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
    "diffusivity",
    "flag_names",
    "permeability",
    "properties",
]


def __getattr__(name):  # lazy: importing the package must not import taichi
    if name == "permeability":
        from poredesign.transport.flow import permeability

        return permeability
    if name == "diffusivity":
        from poredesign.transport.diffusion import diffusivity

        return diffusivity
    if name == "properties":
        from poredesign.transport.properties import properties

        return properties
    raise AttributeError(f"module 'poredesign.transport' has no attribute {name!r}")
