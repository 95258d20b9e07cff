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

Storage
    ``storage="dense"`` (the default) marches every voxel
    (:class:`~.flow_dense.DenseLattice`, 156 B per voxel);
    ``"sparse"`` only the pore voxels of the prepared domain (:class:`.flow_sparse.SparseLattice`,
    152 B per pore voxel: one population buffer updated in place, an int32 neighbour table),
    the same physics and march, so the same k to float32 round-off; ``"auto"`` picks sparse when
    the porosity of the prepared domain is at most 0.5.

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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poredesign.transport import backend
from poredesign.transport.connectivity import winding_mask
from poredesign.transport.flow_cascade import coarse_starts
from poredesign.transport.flow_checkpoint import (
    DEFAULT_EVERY,
    Checkpoint,
    FlowInterrupted,
    checkpoint_path,
    problem_key,
)
from poredesign.transport.flow_dense import (
    DenseBuffers,
    DenseLattice,
)
from poredesign.transport.flow_refine import refine as refine_volume
from poredesign.transport.flow_sparse import (
    STORAGES,
    SparseLattice,
    lattice_limit_error,
    resolve_storage,
)
from poredesign.transport.inputs import as_solid
from poredesign.transport.lattice import MAGIC_FLOW, trt_rates
from poredesign.transport.results import AXES, Flag, PermeabilityResult, axis_index

log = logging.getLogger(__name__)

Q = 19
DEFAULT_RELAXATION_TIME = "auto"
RELAXATION_TIME_RANGE = (0.55, 2.5)
TARGET_MACH_SCALE = 0.01  # u_max of a slit spanning the box, lattice units


class FlowSolver:
    """Holds the Taichi arrays of the last grid size; kernels compile once per process.

    The kernels take ndarrays and the grid size as arguments, so one compilation serves every
    size; the arrays of a size are kept for the next structure of the same size (a batch) and
    released when a different size comes.
    """

    def __init__(self, device: str = "auto", threads: int | None = None):
        self.device_request = device
        self.threads = threads
        self._buffers: DenseBuffers | None = None

    def _buffers_for(self, shape) -> DenseBuffers:
        if self._buffers is None or not self._buffers.valid_for(shape):
            self._buffers = None  # release the old arrays before allocating new ones
            self._buffers = DenseBuffers(tuple(int(s) for s in shape))
        return self._buffers

    def release(self) -> None:
        self._buffers = None

    def solve(self, solid, axis: int | str, **options) -> PermeabilityResult:
        """Permeability of ``solid`` along ``axis``: k in lattice units (voxel^2), see
        :func:`permeability` for the arguments (:meth:`solve_axes` with one axis)."""
        start = options.pop("start", None)
        report = options.pop("progress", None)
        options["progress"] = None if report is None else (lambda _axis: report)
        ax = axis_index(axis)
        starts = None if start is None else {ax: start}
        return self.solve_axes(solid, (ax,), starts=starts, **options)[ax]

    def solve_axes(
        self,
        solid,
        axes,
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
        progress=None,
        storage: str = "dense",
        starts: dict | None = None,
        checkpoint_dir=None,
        checkpoint_every: float = DEFAULT_EVERY,
    ) -> dict[int, PermeabilityResult]:
        """Permeability along each of ``axes``: {axis: result}. Four steps per axis:
        :meth:`_prepare` (the domain), :meth:`_parameters` (relaxation time, rates, force),
        :meth:`_iterate` (the time march to steady state) and :meth:`_result`. Axes whose
        prepared domains are the same voxels share one lattice (fluid index, neighbour table or
        mask), set back to rest between axes. ``progress(axis)`` gives the progress callback
        of an axis (or None)."""
        if storage not in STORAGES:
            raise ValueError(f"{name}: storage must be one of {STORAGES}; got {storage!r}")
        solid = as_solid(solid, name)
        too_big = lattice_limit_error(solid, storage, 2 if mirror else 1)
        if too_big:
            raise ValueError(f"{name}: {too_big}")
        results: dict[int, PermeabilityResult] = {}
        shared: tuple[np.ndarray, str, Any] | None = None  # (domain, storage, lattice)
        for axis in sorted({axis_index(a) for a in axes}):
            run = _Run(name=name, t0=time.perf_counter(), voxel_size=voxel_size)
            trivial = self._prepare(run, solid, axis, magic, mirror, reduce_extrusion)
            if trivial is not None:
                results[axis] = trivial
                continue
            run.base["storage"] = run.storage = resolve_storage(storage, run.solid)
            params = self._parameters(run, relaxation_time, magic, force)
            reuse = (
                shared is not None
                and shared[1] == run.storage
                and shared[0].shape == run.solid.shape
                and np.array_equal(shared[0], run.solid)
            )
            if reuse:
                lattice = shared[2]
                lattice.restart(axis, params.force)
            else:
                shared = None  # release the previous lattice before building the next
                lattice = self._lattice(run, params.force)
                shared = (run.solid, run.storage, lattice)
            start = (starts or {}).pop(axis, None)  # released once applied (coarse fields)
            if start is not None:
                start.apply(lattice, lattice.buf.src, params.force, params.nu)
                run.started = True
                del start
            checkpoint = None
            if checkpoint_dir is not None and not keep_velocity:  # (a record holds no field)
                key = problem_key(
                    run.solid,
                    axis,
                    relaxation_time=params.relaxation_time,
                    magic=magic,
                    force=params.force,
                    storage=run.storage,
                )
                path = checkpoint_path(checkpoint_dir, name, axis)
                checkpoint = Checkpoint(path, key, float(checkpoint_every))
            report = progress(axis) if callable(progress) else None
            march = self._iterate(
                run,
                params,
                lattice,
                tol,
                max_steps,
                check_every,
                min_steps,
                mach_limit,
                report,
                checkpoint,
            )
            results[axis] = self._result(run, params, march, tol, keep_velocity)
        return results

    @staticmethod
    def _prepare(
        run: _Run, solid, axis, magic: float, mirror: bool, reduce_extrusion: bool
    ) -> PermeabilityResult | None:
        """Check the input and set up the domain in ``run`` (lengths in voxels): mirror along
        the axis if asked, fill the pore clusters that cannot carry a periodic flow, and reduce an
        extrusion along the axis to two slices. Returns the result of a trivial case (all solid,
        no solid, no pore path: no run needed), else None."""
        solid = as_solid(solid, run.name)
        ax = run.ax = axis_index(axis)
        if mirror:
            solid = np.concatenate([solid, np.flip(solid, axis=ax)], axis=ax)
        shape = solid.shape
        run.base = dict(axis=ax, magic=magic, mirrored=mirror, shape=tuple(shape))
        if solid.all():
            return run.finish(0.0, 0, True, Flag.NO_PATH, "all solid: no pore path")
        if not solid.any():
            return run.finish(
                math.inf, 0, True, Flag.NO_SOLID, "no solid voxel: permeability is unbounded"
            )
        flowing = winding_mask(~solid, ax)
        if not flowing.any():
            return run.finish(
                0.0, 0, True, Flag.NO_PATH, f"no pore path along {AXES[ax]} (periodic): k = 0"
            )
        solid = ~flowing  # fill closed pore clusters (fluid at rest in the steady state)
        run.full_length = shape[ax]
        extruded = (
            reduce_extrusion
            and run.full_length > 2
            and bool((solid == np.take(solid, [0], axis=ax)).all())
        )
        if extruded:
            # every slice along the flow is the same (an extrusion): the periodic steady flow is
            # uniform along the axis, so two slices give exactly the same k
            solid = np.repeat(np.take(solid, [0], axis=ax), 2, axis=ax)
        run.base["extruded"] = run.extruded = extruded
        run.solid = solid
        return None

    @staticmethod
    def _parameters(
        run: _Run, relaxation_time: float | str, magic: float, force: float | None
    ) -> _Parameters:
        """Relaxation time tau_+ (dimensionless; ``"auto"``: :func:`auto_relaxation_time`), the
        TRT rates, the viscosity nu = (tau_+ - 1/2) / 3 (lattice units, voxel^2 per step) and the
        body force g (lattice units; by default the force that gives a slit spanning the box a
        peak velocity of TARGET_MACH_SCALE)."""
        solid, ax = run.solid, run.ax
        shape = solid.shape
        if relaxation_time == "auto":
            relaxation_time = auto_relaxation_time(solid, ax)
        relaxation_time = float(relaxation_time)
        lp, lm = trt_rates(relaxation_time, magic)
        nu = (relaxation_time - 0.5) / 3.0
        lateral = max(s for a, s in enumerate(shape) if a != ax)
        g = float(force) if force else TARGET_MACH_SCALE * 8.0 * nu / lateral**2
        run.base.update(relaxation_time=relaxation_time, force=g)
        return _Parameters(relaxation_time=relaxation_time, lp=lp, lm=lm, nu=nu, force=g)

    def _iterate(
        self,
        run: _Run,
        params: _Parameters,
        lattice,
        tol: float,
        max_steps: int | None,
        check_every: int | None,
        min_steps: int,
        mach_limit: float,
        progress=None,
        checkpoint: Checkpoint | None = None,
    ) -> _March:
        """March the D3Q19 populations in time (lattice units: one step = one time unit) until
        the mean velocity passes :func:`_converged`, diverges (NaN, lattice Mach number above
        ``mach_limit``) or the step budget (total steps) is spent. The mean velocity is measured
        every ``check_every`` steps as the average of two consecutive states (module docstring);
        ``progress(steps, relative change of the mean velocity, tol)`` after every check. With a
        ``checkpoint`` the march continues from its file when it holds this problem's state,
        saves the state every ``checkpoint.every`` seconds, when the budget runs out and on
        SIGTERM (then raises :class:`FlowInterrupted`), and removes it when the run ends."""
        shape = run.solid.shape
        n_check = check_every or max(10, min(200, int(round(max(shape) / 2))))
        budget = max_steps or default_max_steps(shape)
        march = _March(lattice=lattice, populations=lattice.buf.src)
        a, b = lattice.buf.src, lattice.buf.dst
        lp, lm = params.lp, params.lm
        if checkpoint is not None:
            restored = checkpoint.load(lattice, a)
            if restored is not None:
                march.steps, march.history, march.converged = restored
                march.resumed_from = march.steps
                if march.history:
                    march.mean = march.history[-1][1]
            checkpoint.watch_sigterm()
        try:
            while march.steps < budget and not march.converged:
                # checks fall on multiples of n_check (also across a resumed run), or at the
                # end of the budget
                target = (march.steps // n_check + 1) * n_check
                target = max(march.steps + 2, min(target, budget))
                while march.steps < target - 1:
                    if checkpoint is not None and checkpoint.terminated:
                        checkpoint.save(lattice, a, march.steps, march.history)
                        raise FlowInterrupted(checkpoint.path, march.steps)
                    lattice.step(a, b, lp, lm)
                    a, b = b, a
                    march.steps += 1
                # average two consecutive states: voxels whose populations along the axis all
                # bounce back hold an undamped period-2 oscillation of that momentum (0, -g, ...)
                mean_1, mach_1, bad_1 = lattice.measure(a)
                lattice.step(a, b, lp, lm)
                a, b = b, a
                march.steps += 1
                mean_2, mach_2, bad_2 = lattice.measure(a)
                mean, mach, bad = 0.5 * (mean_1 + mean_2), max(mach_1, mach_2), bad_1 or bad_2
                march.mean, march.mach = mean, mach
                march.history.append((march.steps, mean))
                if progress is not None:
                    # from rest, the first check's change is from a zero velocity
                    previous = march.history[-2][1] if len(march.history) > 1 else 0.0
                    change = abs(mean - previous) / max(abs(mean), 1e-300)
                    progress(march.steps, change, tol)
                if bad:
                    march.reason = f"NaN in the velocity after {march.steps} steps"
                    break
                if mach > mach_limit:
                    march.reason = (
                        f"lattice Mach number {mach:.3g} above {mach_limit} after "
                        f"{march.steps} steps"
                    )
                    break
                passed = march.steps >= min_steps and _converged(march.history, tol)
                # from a start near the steady state, the fast transient can die out and change
                # sign before the slow modes show: a started run must pass two checks running
                if passed and (march.passed or not run.started):
                    march.converged = True
                    break
                march.passed = passed
                if checkpoint is not None and checkpoint.due():
                    checkpoint.save(lattice, a, march.steps, march.history)
        finally:
            if checkpoint is not None:
                checkpoint.release_sigterm()
        march.populations = a
        if checkpoint is not None:
            if march.reason:
                checkpoint.remove()
            elif march.converged:  # until the other axes of the run are done (permeability_axes)
                checkpoint.save(lattice, a, march.steps, march.history, converged=True)
            else:  # budget spent: a rerun with a larger budget continues from here
                checkpoint.save(lattice, a, march.steps, march.history)
                march.checkpoint = str(checkpoint.path)
        return march

    def _lattice(self, run: _Run, g: float) -> DenseLattice | SparseLattice:
        """The lattice of ``run.storage``: dense (every voxel) or sparse (pore voxels only)."""
        if run.storage == "sparse":
            self._buffers = None  # the dense arrays of an earlier run are not needed
            return SparseLattice(run.solid, run.ax, g, self.device_request, self.threads)
        return DenseLattice(self, run, g)

    @staticmethod
    def _result(
        run: _Run, params: _Parameters, march: _March, tol: float, keep_velocity: bool
    ) -> PermeabilityResult:
        """The result of the run: k = nu <u> / g (lattice units, voxel^2; ``k_m2`` in m^2 with a
        voxel size), or NaN with the DIVERGED or NOT_CONVERGED flag and a warning naming the
        structure; the velocity field (3, x, y, z; lattice units) when ``keep_velocity``."""
        ax, name, steps, mean = run.ax, run.name, march.steps, march.mean
        velocity = density = None
        if keep_velocity:
            velocity, density = march.lattice.fields(march.populations)
            if run.extruded:
                velocity = np.repeat(
                    np.take(velocity, [0], axis=ax + 1), run.full_length, axis=ax + 1
                )
                density = np.repeat(np.take(density, [0], axis=ax), run.full_length, axis=ax)
        extra = dict(mean_velocity=mean, max_mach=march.mach, history=march.history)
        extra.update(resumed_from=march.resumed_from, checkpoint=march.checkpoint)
        if march.reason:
            reason = march.reason
            log.warning("%s: permeability along %s diverged: %s", name, AXES[ax], reason)
            warnings.warn(
                f"{name}: permeability along {AXES[ax]} diverged ({reason})",
                RuntimeWarning,
                stacklevel=4,
            )
            result = run.finish(math.nan, steps, False, Flag.DIVERGED, reason, **extra)
        elif not march.converged:
            msg = f"not converged after {steps} steps (tol {tol:g}); last mean velocity {mean:.6g}"
            warnings.warn(
                f"{name}: permeability along {AXES[ax]} {msg}", RuntimeWarning, stacklevel=4
            )
            result = run.finish(math.nan, steps, False, Flag.NOT_CONVERGED, msg, **extra)
        else:
            k = params.nu * mean / params.force
            note = " (extruded along the axis: solved on 2 slices)" if run.extruded else ""
            result = run.finish(
                k, steps, True, Flag.OK, f"converged after {steps} steps{note}", **extra
            )
        result.velocity = velocity
        result.density = density
        log.debug(
            "%s: k_%s = %.6g (%d steps, %.2f s, %s)",
            name,
            AXES[ax],
            result.k,
            result.iterations,
            result.wall_time,
            march.lattice.device,
        )
        return result


@dataclass
class _Run:
    """The domain of one solve (lengths in voxels) and what every result of it carries."""

    name: str
    t0: float  # perf_counter at the start, for the wall time
    voxel_size: float | None  # metres, for k_m2
    ax: int = 0
    base: dict = field(default_factory=dict)  # result fields set before the run
    solid: np.ndarray | None = None  # the domain solved: closed pores filled, extrusion reduced
    full_length: int = 0  # voxels along the axis before the extrusion was reduced
    extruded: bool = False
    storage: str = "dense"  # the lattice solved on: "dense" or "sparse" (pore voxels only)
    started: bool = False  # from a coarse solution (flow_cascade), not from rest

    def finish(self, k, iterations, converged, flag, message, **extra) -> PermeabilityResult:
        """A :class:`PermeabilityResult` with k in voxel^2 (and m^2 when a voxel size is set)."""
        k_m2 = None if self.voxel_size is None else k * float(self.voxel_size) ** 2
        return PermeabilityResult(
            k=float(k),
            iterations=int(iterations),
            converged=bool(converged),
            wall_time=time.perf_counter() - self.t0,
            flag=flag,
            message=message,
            k_m2=k_m2,
            device=backend.active_device() or "",
            **self.base,
            **extra,
        )


@dataclass
class _Parameters:
    """Lattice parameters of one run (lattice units)."""

    relaxation_time: float  # tau_+, dimensionless
    lp: float  # TRT rate lambda+ = 1 / tau_+
    lm: float  # TRT rate lambda- (from the magic parameter)
    nu: float  # kinematic viscosity, voxel^2 per step
    force: float  # body force g along the axis, voxel per step^2


@dataclass
class _March:
    """State of the time march: steps taken, the last measurement, how it ended."""

    lattice: DenseLattice | SparseLattice
    populations: Any  # the Taichi array holding the latest state
    steps: int = 0
    mean: float = math.nan  # mean velocity along the axis, lattice units
    mach: float = math.nan
    history: list[tuple[int, float]] = field(default_factory=list)
    converged: bool = False
    reason: str = ""  # why it diverged; empty otherwise
    resumed_from: int = 0  # steps restored from a checkpoint
    checkpoint: str = ""  # the checkpoint left for a rerun (budget spent)
    passed: bool = False  # the last check passed the convergence test


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
    progress=None,
    lateral: str = "periodic",
    storage: str = "dense",
    cascade: int = 0,
    checkpoint_dir=None,
    checkpoint_every: float = DEFAULT_EVERY,
    refine: int = 1,
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
    it. ``progress(steps, relative change of the mean velocity, tol)`` is called after every
    convergence check. ``lateral="closed"`` puts a solid wall around the four lateral faces (the
    sample in a sealed sleeve, as a permeameter and TauFactor's closed sides), by one solid layer
    on the far side of each lateral axis of the periodic box, and reports k over the sample's own
    cross section. ``storage``: ``"dense"`` (every voxel, the default), ``"sparse"`` (the pore
    voxels only, :mod:`.flow_sparse`: less memory at low porosity, the same k) or ``"auto"``
    (sparse when the porosity of the domain solved is at most 0.5). ``cascade``: number of
    coarser levels solved first, each the start of the next (:mod:`.flow_cascade`: fewer steps,
    the same steady state). ``checkpoint_dir``: save the state there every
    ``checkpoint_every`` seconds and on SIGTERM, and continue from it when the same problem is
    run again (:mod:`.flow_checkpoint`). ``refine=N`` splits each voxel into N^3 before
    solving (:mod:`.flow_refine`; k stays in voxel^2 of the volume given). See the module
    docstring for the method and the convergence test.
    """
    report = None if progress is None else (lambda _axis: progress)
    ax = axis_index(axis)
    return permeability_axes(
        solid,
        (ax,),
        voxel_size=voxel_size,
        relaxation_time=relaxation_time,
        tol=tol,
        max_steps=max_steps,
        check_every=check_every,
        mirror=mirror,
        force=force,
        mach_limit=mach_limit,
        device=device,
        threads=threads,
        name=name,
        magic=magic,
        keep_velocity=keep_velocity,
        reduce_extrusion=reduce_extrusion,
        progress=report,
        lateral=lateral,
        storage=storage,
        cascade=cascade,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
        refine=refine,
    )[ax]


def permeability_axes(
    solid,
    axes=("x", "y", "z"),
    *,
    lateral: str = "periodic",
    cascade: int = 0,
    device: str = "auto",
    threads: int | None = None,
    name: str = "structure",
    progress=None,
    refine: int = 1,
    **options,
) -> dict[int, PermeabilityResult]:
    """The diagonal of the permeability tensor: {axis: :class:`PermeabilityResult`} for each
    of ``axes``, one run per axis with the set-up shared (fluid index and neighbour table, or
    the dense mask, built once when the axes solve the same domain: periodic sides, no mirror, no
    extrusion along an axis, the same closed pores). ``progress(axis)`` returns the progress
    callback of an axis (or None). The other options are those of :func:`permeability`; with
    ``lateral="closed"`` each axis has its own walled domain (no sharing). ``refine=N`` splits
    each voxel into N^3 first (:mod:`.flow_refine`); k stays in voxel^2 of the volume given."""
    if lateral not in ("periodic", "closed"):
        raise ValueError(f"{name}: lateral must be 'periodic' or 'closed'; got {lateral!r}")
    solid = as_solid(solid, name)
    axes = sorted({axis_index(a) for a in axes})
    copies = (2 if options.get("mirror") else 1) * int(refine) ** 3
    too_big = lattice_limit_error(solid, options.get("storage", "dense"), copies)
    if too_big:  # before any work, also before the coarse levels
        raise ValueError(f"{name}: {too_big}")
    if refine != 1:
        results = permeability_axes(
            refine_volume(solid, refine),
            axes,
            lateral=lateral,
            cascade=cascade,
            device=device,
            threads=threads,
            name=name,
            progress=progress,
            **dict(options, voxel_size=_finer(options.get("voxel_size"), refine)),
        )
        for result in results.values():  # k in voxel^2 of the volume given (k_m2 unchanged)
            result.k /= refine**2
            result.refine = refine
        return results
    solver = _solver(device, threads)
    starts, levels = {}, {}
    if cascade > 0:

        def coarse_level(coarse, coarse_axes, cascade, tol):
            coarse_options = dict(options, tol=tol, keep_velocity=True, checkpoint_dir=None)
            coarse_options.pop("max_steps", None)
            return permeability_axes(
                coarse,
                coarse_axes,
                lateral=lateral,
                cascade=cascade,
                device=device,
                threads=threads,
                name=f"{name} (coarse)",
                **coarse_options,
            )

        starts, levels = coarse_starts(solid, axes, cascade, coarse_level, options.get("tol", 1e-4))
    if lateral == "closed":
        results = {
            ax: _closed_sides(
                solver,
                solid,
                ax,
                name,
                start=starts.get(ax),
                progress=None if progress is None else progress(ax),
                **options,
            )
            for ax in axes
        }
    else:
        results = solver.solve_axes(
            solid, axes, name=name, starts=starts, progress=progress, **options
        )
    for ax, result in results.items():
        result.cascade = levels.get(ax, [])
        result.wall_time += sum(seconds for _, _, seconds in result.cascade[-1:])
    if options.get("checkpoint_dir") is not None:  # every axis done: no record left behind
        for ax, result in results.items():
            if not result.checkpoint:  # (a run that spent its budget keeps its state)
                checkpoint_path(options["checkpoint_dir"], name, ax).unlink(missing_ok=True)
    return results


def _finer(voxel_size: float | None, refine: int) -> float | None:
    return None if voxel_size is None else voxel_size / refine


def _closed_sides(solver: FlowSolver, solid, axis, name: str, **options) -> PermeabilityResult:
    """:meth:`FlowSolver.solve` with solid walls on the lateral faces: one solid layer appended
    on each lateral axis (the periodic wrap makes it the wall of both faces), k rescaled from the
    padded box's cross section to the sample's."""
    ax = axis_index(axis)
    pad = [(0, 0) if a == ax else (0, 1) for a in range(3)]
    walled = np.pad(solid, pad, constant_values=True)
    result = solver.solve(walled, ax, name=name, **options)
    area = math.prod(s for a, s in enumerate(solid.shape) if a != ax)
    scale = math.prod(s for a, s in enumerate(walled.shape) if a != ax) / area
    result.k *= scale
    result.mean_velocity *= scale
    if result.k_m2 is not None:
        result.k_m2 *= scale
    nx, ny, nz = solid.shape
    if result.velocity is not None:
        result.velocity = result.velocity[:, :nx, :ny, :nz]
    if result.density is not None:
        result.density = result.density[:nx, :ny, :nz]
    result.lateral = "closed"
    return result
