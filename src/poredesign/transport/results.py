"""Result objects and fault flags of the transport solvers.

Faults are results, not exceptions: every solver returns a result whose ``flag`` says what
happened (an :class:`Flag` bit set, ``Flag.OK`` when all went well) and whose ``message`` says it
in words. Only inputs that are not a binary 3-D volume raise.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

AXES = ("x", "y", "z")


class Flag(enum.IntFlag):
    """Fault bits of one solve; stored as integers in ``transport.zarr``."""

    OK = 0
    NO_PATH = 1  # no pore path connects the inlet and outlet faces: k = 0, eta = 0
    NOT_CONVERGED = 2  # step budget spent before the convergence test passed: value NaN
    DIVERGED = 4  # NaN, or lattice Mach number above the limit: value NaN
    NO_SOLID = 8  # all pore: k unbounded (inf), eta = 1
    SKIPPED = 16  # not requested / not computed: value NaN


FLAG_DESCRIPTIONS = {
    int(Flag.OK): "ok",
    int(Flag.NO_PATH): "no percolating pore path along the axis (value 0)",
    int(Flag.NOT_CONVERGED): "not converged within the step budget (value NaN)",
    int(Flag.DIVERGED): "diverged: NaN or lattice Mach number above the limit (value NaN)",
    int(Flag.NO_SOLID): "no solid voxel: permeability unbounded (inf), eta = 1",
    int(Flag.SKIPPED): "not requested (value NaN)",
}


def flag_names(flag: int) -> str:
    """``'ok'`` or the fault names joined by ``|``, e.g. ``'NOT_CONVERGED'``."""
    flag = Flag(int(flag))
    if flag == Flag.OK:
        return "ok"
    return "|".join(f.name for f in Flag if f and f in flag)


def axis_index(axis: int | str) -> int:
    """0, 1, 2 from 0/1/2 or 'x'/'y'/'z'."""
    if isinstance(axis, str):
        key = axis.strip().lower()
        if key in AXES:
            return AXES.index(key)
    elif isinstance(axis, (int,)) and not isinstance(axis, bool) and 0 <= int(axis) <= 2:
        return int(axis)
    else:
        try:
            import numpy as np

            if isinstance(axis, np.integer) and 0 <= int(axis) <= 2:
                return int(axis)
        except ImportError:  # pragma: no cover
            pass
    raise ValueError(f"axis must be 0, 1, 2 or 'x', 'y', 'z'; got {axis!r}")


@dataclass
class PermeabilityResult:
    """Permeability along one axis from the D3Q19 TRT solver.

    ``k`` is in lattice units (voxel^2): k = nu <u> / g with <u> the superficial (Darcy) velocity,
    the mean over the whole domain, solid voxels counting as zero. ``k_m2`` is k * voxel_size^2
    when a voxel size (metres) was given, else None. ``relaxation_time`` is the lattice relaxation
    time tau_+ the run used (k does not depend on it), ``force`` the body force g (lattice units).
    """

    axis: int
    k: float
    iterations: int
    converged: bool
    wall_time: float
    flag: Flag = Flag.OK
    message: str = ""
    k_m2: float | None = None
    mean_velocity: float = math.nan
    max_mach: float = math.nan
    relaxation_time: float = math.nan  # tau_+ of the TRT collision (dimensionless)
    magic: float = math.nan
    force: float = math.nan
    mirrored: bool = False
    extruded: bool = False
    lateral: str = "periodic"  # "closed": solid walls on the lateral faces
    storage: str = "dense"  # lattice solved on: "dense", "sparse" (pore voxels); trivial: "dense"
    shape: tuple[int, int, int] = (0, 0, 0)
    device: str = ""
    history: list[tuple[int, float]] = field(default_factory=list, repr=False)
    velocity: Any = field(default=None, repr=False)  # (3, x, y, z) when asked for
    density: Any = field(default=None, repr=False)  # rho' (x, y, z), with the velocity
    resumed_from: int = 0  # steps continued from a checkpoint (0: from the start)
    checkpoint: str = ""  # the state left for a rerun when the step budget ran out
    refine: int = 1  # each voxel split into refine^3 before solving (k in the volume's voxel^2)
    cascade: list = field(default_factory=list)  # coarse levels solved first: (shape, steps, s)

    @property
    def ok(self) -> bool:
        return self.flag == Flag.OK

    def as_dict(self) -> dict[str, Any]:
        arrays = ("history", "velocity", "density")
        out = {k: v for k, v in self.__dict__.items() if k not in arrays}
        out["flag"] = int(self.flag)
        out["flag_names"] = flag_names(self.flag)
        out["shape"] = list(self.shape)
        return out


@dataclass
class DiffusivityResult:
    """Effective diffusivity along one axis.

    ``eta`` = D_eff / D = <J> (N - 1) / (c_in - c_out) / D, the flux averaged over the whole cross
    section; ``tau`` = porosity / eta (tortuosity factor, total porosity); ``porosity_eff`` is the
    volume fraction of pore voxels connected from inlet to outlet (lateral periodicity included).
    """

    axis: int
    eta: float
    tau: float
    iterations: int
    converged: bool
    wall_time: float
    flag: Flag = Flag.OK
    message: str = ""
    porosity: float = math.nan
    porosity_eff: float = math.nan
    method: str = ""
    residual: float = math.nan
    shape: tuple[int, int, int] = (0, 0, 0)
    device: str = ""

    @property
    def ok(self) -> bool:
        return self.flag == Flag.OK

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["flag"] = int(self.flag)
        out["flag_names"] = flag_names(self.flag)
        out["shape"] = list(self.shape)
        return out
