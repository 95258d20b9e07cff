"""Permeability from steady Stokes flow: the driver around the D3Q19 TRT kernels.

Method (SPEC 2.1, [A25])
    A uniform body force g drives the flow along one axis in a periodic box; solid voxels are
    halfway bounce-back walls; the collision is two-relaxation-time with the magic parameter
    Lambda = 3/16 (see :mod:`poredesign.transport.flow_kernels`), so k does not depend on the
    relaxation time. The equilibrium is linear in the velocity (Stokes), which makes the discrete
    problem linear in g: k is exactly independent of the force, and the force only sets the Mach
    number (chosen so that a slit spanning the whole box would reach Ma ~ 0.02).

    k = nu <u> / g  (lattice units, voxel^2), nu = (tau_+ - 1/2) / 3,

    with <u> the superficial velocity: the mean over the whole domain, solid voxels counting as
    zero.

Convergence control
    Every ``check_every`` steps the mean velocity U is measured. Approaching steady state, the
    changes of U shrink geometrically by a ratio r per check; the remaining error is then
    about |dU| r / (1 - r). The run stops when that estimate and the last relative change are
    both below ``tol``. A NaN or a lattice Mach number above ``mach_limit`` stops it as diverged;
    reaching ``max_steps`` first gives NaN with the NOT_CONVERGED flag and a warning that names
    the structure.

Pore clusters that cannot carry a net periodic flow (closed in the periodic domain) are filled
before the run: they hold fluid at rest in the steady state, so this changes nothing but the
time to converge. A volume whose slices along the flow axis are all equal (an extrusion, as the
square-pore structures of [A25]) is solved on two slices: its periodic steady flow is uniform
along the axis, so k is the same, at a fraction of the cost.

The mean velocity is averaged over two consecutive steps: a fluid voxel whose neighbours in every
direction with a component along the axis are solid holds that momentum component in an undamped
period-2 oscillation (0, -g, 0, -g, ...: every population with that component bounces back each
step and the collision conserves momentum), so single-step samples are biased by nu / 2 per such
voxel, a bias that grows with the relaxation time; the two-step average is exactly zero there.
"""

from __future__ import annotations

import logging
import math
import time
import warnings

import numpy as np

from poredesign.transport import backend
from poredesign.transport.connectivity import winding_mask
from poredesign.transport.inputs import as_solid
from poredesign.transport.lattice import MAGIC_FLOW, trt_rates
from poredesign.transport.results import AXES, Flag, PermeabilityResult, axis_index

log = logging.getLogger(__name__)

Q = 19
DEFAULT_RELAXATION_TIME = "auto"
RELAXATION_TIME_RANGE = (0.55, 2.5)
TARGET_MACH_SCALE = 0.01  # u_max of a slit spanning the box, lattice units


class _Buffers:
    """Taichi arrays for one grid size, reused for a batch of equal-sized structures."""

    def __init__(self, shape: tuple[int, int, int]):
        import taichi as ti

        self.shape = shape
        self.generation = backend.generation()
        nv = int(np.prod(shape))
        self.src = ti.ndarray(ti.f32, Q * nv)
        self.dst = ti.ndarray(ti.f32, Q * nv)
        self.mask = ti.ndarray(ti.u32, nv)
        self.partial = ti.ndarray(ti.f64, 5 * shape[0] * shape[1])

    def valid_for(self, shape) -> bool:
        return self.shape == tuple(shape) and self.generation == backend.generation()


class FlowSolver:
    """Holds the Taichi arrays of the last grid size; kernels compile once per process.

    The kernels take ndarrays and the grid size as arguments, so one compilation serves every
    size; the arrays of a size are kept for the next structure of the same size (a batch) and
    released when a different size comes.
    """

    def __init__(self, device: str = "auto", threads: int | None = None):
        self.device_request = device
        self.threads = threads
        self._buffers: _Buffers | None = None

    def _buffers_for(self, shape) -> _Buffers:
        if self._buffers is None or not self._buffers.valid_for(shape):
            self._buffers = None  # release the old arrays before allocating new ones
            self._buffers = _Buffers(tuple(int(s) for s in shape))
        return self._buffers

    def release(self) -> None:
        self._buffers = None

    def solve(
        self,
        solid,
        axis: int | str,
        *,
        relaxation_time: float | str = DEFAULT_RELAXATION_TIME,
        magic: float = MAGIC_FLOW,
        force: float | None = None,
        tol: float = 1e-4,
        max_steps: int | None = None,
        check_every: int | None = None,
        min_steps: int = 0,
        mirror: bool = False,
        voxel_size: float | None = None,
        mach_limit: float = 0.1,
        name: str = "structure",
        keep_velocity: bool = False,
        reduce_extrusion: bool = True,
    ) -> PermeabilityResult:
        t0 = time.perf_counter()
        solid = as_solid(solid, name)
        ax = axis_index(axis)
        if mirror:
            solid = np.concatenate([solid, np.flip(solid, axis=ax)], axis=ax)
        shape = solid.shape
        base = dict(axis=ax, magic=magic, mirrored=mirror, shape=tuple(shape))

        def finish(k, iterations, converged, flag, message, **extra):
            k_m2 = None if voxel_size is None else k * float(voxel_size) ** 2
            return PermeabilityResult(
                k=float(k),
                iterations=int(iterations),
                converged=bool(converged),
                wall_time=time.perf_counter() - t0,
                flag=flag,
                message=message,
                k_m2=k_m2,
                device=backend.active_device() or "",
                **base,
                **extra,
            )

        if solid.all():
            return finish(0.0, 0, True, Flag.NO_PATH, "all solid: no pore path")
        if not solid.any():
            return finish(
                math.inf, 0, True, Flag.NO_SOLID, "no solid voxel: permeability is unbounded"
            )
        flowing = winding_mask(~solid, ax)
        if not flowing.any():
            return finish(
                0.0, 0, True, Flag.NO_PATH, f"no pore path along {AXES[ax]} (periodic): k = 0"
            )
        solid = ~flowing  # fill closed pore clusters (fluid at rest in the steady state)
        full_length = shape[ax]
        extruded = (
            reduce_extrusion
            and full_length > 2
            and bool((solid == np.take(solid, [0], axis=ax)).all())
        )
        if extruded:
            # every slice along the flow is the same (an extrusion): the periodic steady flow is
            # uniform along the axis, so two slices give exactly the same k
            solid = np.repeat(np.take(solid, [0], axis=ax), 2, axis=ax)
            shape = solid.shape
        base["extruded"] = extruded

        if relaxation_time == "auto":
            relaxation_time = auto_relaxation_time(solid, ax)
        relaxation_time = float(relaxation_time)
        lp, lm = trt_rates(relaxation_time, magic)
        nu = (relaxation_time - 0.5) / 3.0
        lateral = max(s for a, s in enumerate(shape) if a != ax)
        g = float(force) if force else TARGET_MACH_SCALE * 8.0 * nu / lateral**2
        base.update(relaxation_time=relaxation_time, force=g)

        device = backend.ensure_backend(self.device_request, self.threads)
        from poredesign.transport import flow_kernels as fk

        step = fk.step_kernel(device)
        cell_major = fk.cell_major(device)

        n_check = check_every or max(10, min(200, int(round(max(shape) / 2))))
        budget = max_steps or default_max_steps(shape)
        buf = self._buffers_for(shape)
        nx, ny, nz = shape
        gvec = [0.0, 0.0, 0.0]
        gvec[ax] = g
        buf.mask.from_numpy(fk.neighbour_mask(solid))
        fk.fill_zero(buf.src)
        fk.fill_zero(buf.dst)
        nv = solid.size
        cs = 1.0 / math.sqrt(3.0)

        def measure(arr) -> tuple[float, float, bool]:
            fk.flow_measure(arr, buf.mask, nx, ny, nz, *gvec, buf.partial, cell_major)
            part = buf.partial.to_numpy().reshape(-1, 5)
            bad = part[:, 4].sum() > 0
            mean = part[:, ax].sum() / nv
            mach = math.sqrt(part[:, 3].max()) / cs
            return mean, mach, bool(bad or not math.isfinite(mean))

        history: list[tuple[int, float]] = []
        steps = 0
        a, b = buf.src, buf.dst
        converged = False
        reason = ""
        mean = math.nan
        mach = math.nan
        while steps < budget:
            todo = max(2, min(n_check, budget - steps))
            for _ in range(todo - 1):
                step(a, b, buf.mask, nx, ny, nz, *gvec, lp, lm)
                a, b = b, a
            # average two consecutive states: voxels whose populations along the axis all
            # bounce back hold an undamped period-2 oscillation of that momentum (0, -g, 0, ...)
            mean_1, mach_1, bad_1 = measure(a)
            step(a, b, buf.mask, nx, ny, nz, *gvec, lp, lm)
            a, b = b, a
            steps += todo
            mean_2, mach_2, bad_2 = measure(a)
            mean, mach, bad = 0.5 * (mean_1 + mean_2), max(mach_1, mach_2), bad_1 or bad_2
            history.append((steps, mean))
            if bad:
                reason = f"NaN in the velocity after {steps} steps"
                break
            if mach > mach_limit:
                reason = f"lattice Mach number {mach:.3g} above {mach_limit} after {steps} steps"
                break
            if steps >= min_steps and _converged(history, tol):
                converged = True
                break
        velocity = None
        if keep_velocity:
            import taichi as ti

            out = ti.ndarray(ti.f32, 3 * nv)
            fk.velocity_field(a, buf.mask, nx, ny, nz, *gvec, out, cell_major)
            velocity = out.to_numpy().reshape(3, *shape)
            if extruded:
                velocity = np.repeat(np.take(velocity, [0], axis=ax + 1), full_length, axis=ax + 1)
        extra = dict(mean_velocity=mean, max_mach=mach, history=history)
        if reason:
            log.warning("%s: permeability along %s diverged: %s", name, AXES[ax], reason)
            warnings.warn(
                f"{name}: permeability along {AXES[ax]} diverged ({reason})",
                RuntimeWarning,
                stacklevel=3,
            )
            result = finish(math.nan, steps, False, Flag.DIVERGED, reason, **extra)
        elif not converged:
            msg = f"not converged after {steps} steps (tol {tol:g}); last mean velocity {mean:.6g}"
            warnings.warn(
                f"{name}: permeability along {AXES[ax]} {msg}", RuntimeWarning, stacklevel=3
            )
            result = finish(math.nan, steps, False, Flag.NOT_CONVERGED, msg, **extra)
        else:
            k = nu * mean / g
            note = " (extruded along the axis: solved on 2 slices)" if extruded else ""
            result = finish(
                k, steps, True, Flag.OK, f"converged after {steps} steps{note}", **extra
            )
        result.velocity = velocity
        log.debug(
            "%s: k_%s = %.6g (%d steps, %.2f s, %s)",
            name,
            AXES[ax],
            result.k,
            result.iterations,
            result.wall_time,
            device,
        )
        return result


def auto_relaxation_time(solid: np.ndarray, axis: int) -> float:
    """Relaxation time that balances the two slow processes of the run to steady state.

    Momentum diffuses across a pore in about 12 k / (pi^2 eps nu) steps, while pressure
    equilibrates over the box (length L) in about L^2 nu eps / (4 pi^2 c_s^2 k) steps. They balance
    at nu ~ 4 k / (eps L); with a Kozeny-Carman estimate of k (eps^3 / (5 S^2), S = pore-solid faces
    per voxel) and an empirical factor (fastest on spinodoids and sphere arrays) we take
    nu = 16 k_KC / (eps L), clipped to tau_+ in [0.55, 2.5]. The steady state, hence k, does not
    depend on this choice (TRT, fixed magic parameter); only the number of steps does.
    """
    eps = 1.0 - float(np.count_nonzero(solid)) / solid.size
    faces = sum(np.count_nonzero(solid != np.roll(solid, 1, axis=a)) for a in range(3))
    if eps <= 0.0 or faces == 0:
        return 1.0
    surface = faces / solid.size
    k_kc = eps**3 / (5.0 * surface**2)
    nu = 16.0 * k_kc / (eps * max(solid.shape))
    return float(np.clip(0.5 + 3.0 * nu, *RELAXATION_TIME_RANGE))


def default_max_steps(shape) -> int:
    """Step budget: generous multiple of the diffusive time of the box (at relaxation time 1)."""
    n = max(shape)
    return int(max(5000, 40 * n * n // 8))


def _converged(history: list[tuple[int, float]], tol: float) -> bool:
    """Geometric-tail test on the mean velocity history (see module docstring)."""
    if len(history) < 3:
        return False
    u2, u1, u0 = history[-1][1], history[-2][1], history[-3][1]
    scale = max(abs(u2), 1e-3 * max(abs(u) for _, u in history))
    if scale == 0.0:
        return False
    d1 = u2 - u1
    d0 = u1 - u0
    rel = abs(d1) / scale
    if rel >= tol:
        return False
    if rel < 1e-2 * tol:  # practically stationary
        return True
    if d0 == 0.0:
        return False
    ratio = d1 / d0
    if not 0.0 < ratio < 1.0:
        return False  # oscillating or not yet decaying
    return rel * ratio / (1.0 - ratio) < tol


_default_solver: FlowSolver | None = None


def _solver(device: str, threads: int | None) -> FlowSolver:
    global _default_solver
    if (
        _default_solver is None
        or _default_solver.device_request != device
        or _default_solver.threads != threads
    ):
        _default_solver = FlowSolver(device, threads)
    return _default_solver


def permeability(
    solid,
    axis: int | str,
    *,
    voxel_size: float | None = None,
    relaxation_time: float | str = DEFAULT_RELAXATION_TIME,
    tol: float = 1e-4,
    max_steps: int | None = None,
    check_every: int | None = None,
    mirror: bool = False,
    force: float | None = None,
    mach_limit: float = 0.1,
    device: str = "auto",
    threads: int | None = None,
    name: str = "structure",
    magic: float = MAGIC_FLOW,
    keep_velocity: bool = False,
    reduce_extrusion: bool = True,
) -> PermeabilityResult:
    """Permeability of ``solid`` (bool (x, y, z), True = solid) along ``axis`` (0/1/2 or x/y/z).

    Returns a :class:`PermeabilityResult`: ``k`` in voxel^2 (``k_m2`` in m^2 when ``voxel_size``
    in metres is given), iterations, converged flag, wall time and a fault flag. The box is
    periodic in all directions; ``mirror=True`` appends the volume mirrored along ``axis`` first
    (for volumes that are not periodic along the flow). ``name`` labels warnings (e.g.
    ``"structure 17"``). ``keep_velocity`` returns the velocity field (3, x, y, z) in
    ``result.velocity``; ``reduce_extrusion=False`` disables the two-slice shortcut for volumes
    whose slices along the axis are all equal. ``relaxation_time`` is the lattice relaxation time
    tau_+ (> 0.5, dimensionless) or ``"auto"`` (:func:`auto_relaxation_time`); k does not depend on
    it. See the module docstring for the method and the convergence test.
    """
    return _solver(device, threads).solve(
        solid,
        axis,
        relaxation_time=relaxation_time,
        magic=magic,
        force=force,
        tol=tol,
        max_steps=max_steps,
        check_every=check_every,
        mirror=mirror,
        voxel_size=voxel_size,
        mach_limit=mach_limit,
        name=name,
        keep_velocity=keep_velocity,
        reduce_extrusion=reduce_extrusion,
    )
