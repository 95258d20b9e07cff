"""Taichi backend selection: initialise once per process, lazily, on CUDA when present.

``ti.init`` resets every Taichi field and kernel of the process, so this module calls it at most
once unless a *different device* is asked for, and never at import. Solvers call
:func:`ensure_backend` before they allocate; they keep their arrays as Taichi ndarrays tagged with
:func:`generation`, which changes whenever Taichi is re-initialised, so nothing stale is reused.

Device names: ``"auto"`` (CUDA when a CUDA driver and a CUDA-enabled Taichi are present, else
CPU), ``"cpu"``, ``"cuda"``, resolved by :func:`poredesign.devices.resolve_device`. The CPU
thread count comes from the ``threads`` argument, else the environment variable
``POREDESIGN_THREADS``, else the CPUs this process may run on.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import warnings

from poredesign import devices
from poredesign.devices import DEVICES

log = logging.getLogger(__name__)

_lock = threading.Lock()
_state: dict[str, object] = {"device": None, "threads": None, "generation": 0, "prog": None}


def resolve_device(device: str | None = "auto") -> str:
    """``"cpu"`` or ``"cuda"`` for a device name, by :func:`poredesign.devices.resolve_device`
    with Taichi's CUDA check; Taichi runs on one device, so an index (``"cuda:1"``) is refused."""
    if device is not None and ":" in str(device):
        raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    return devices.resolve_device(device, framework="taichi")


def default_threads() -> int:
    env = os.environ.get("POREDESIGN_THREADS")
    if env:
        try:
            value = int(env)
        except ValueError as err:
            raise ValueError(f"POREDESIGN_THREADS must be a positive integer; got {env!r}") from err
        if value < 1:
            raise ValueError(f"POREDESIGN_THREADS must be a positive integer; got {env!r}")
        return value
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _running_arch():
    """The arch of a Taichi program already running in this process (ours or someone else's)."""
    devices.import_taichi()
    from taichi.lang import impl

    if impl.get_runtime().prog is None:
        return None
    return impl.current_cfg().arch


def ensure_backend(device: str = "auto", threads: int | None = None) -> str:
    """Initialise Taichi for ``device`` if needed; return the active device (``cpu``/``cuda``).

    A second call with the same device is free. A call asking for another device re-initialises
    Taichi (with a warning), which invalidates every Taichi array of the process; solvers notice
    through :func:`generation`. ``threads`` only takes effect on the first initialisation.
    """
    want = resolve_device(device)
    ti = devices.import_taichi()
    from taichi.lang import impl

    with _lock:
        current = _state["device"]
        running = _running_arch()
        if running is not None and impl.get_runtime().prog is not _state.get("prog"):
            # someone else (re-)initialised Taichi: adopt it; arrays made before are gone
            current = "cuda" if running == ti.cuda else "cpu"
            _state.update(device=current, prog=impl.get_runtime().prog, threads=None)
            _state["generation"] = int(_state["generation"]) + 1
        if running is not None and current == want:
            return want
        if running is not None:
            warnings.warn(
                f"re-initialising Taichi on {want} (was {current}); "
                "existing Taichi arrays are lost",
                RuntimeWarning,
                stacklevel=2,
            )
        n_threads = int(threads) if threads else default_threads()
        level = os.environ.get("TI_LOG_LEVEL", "error")
        if want == "cuda":
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # ti.init prints a banner
                    ti.init(arch=ti.cuda, enable_fallback=False, default_fp=ti.f32, log_level=level)
            except Exception as err:
                raise RuntimeError(
                    f"device 'cuda' requested but Taichi cannot run on CUDA here ({err}); "
                    "use device='cpu' or 'auto'"
                ) from err
        else:
            with contextlib.redirect_stdout(io.StringIO()):
                ti.init(
                    arch=ti.cpu, cpu_max_num_threads=n_threads, default_fp=ti.f32, log_level=level
                )
        _state.update(
            device=want, threads=n_threads if want == "cpu" else None, prog=impl.get_runtime().prog
        )
        _state["generation"] = int(_state["generation"]) + 1
        log.info(
            "Taichi initialised on %s%s",
            want,
            f" with {n_threads} threads" if want == "cpu" else "",
        )
        return want


def generation() -> int:
    """Changes each time Taichi is (re-)initialised, by this module or (noticed at the next
    :func:`ensure_backend`) by someone else."""
    return int(_state["generation"])


def active_device() -> str | None:
    """``cpu``/``cuda`` once initialised, else None."""
    return _state["device"]  # type: ignore[return-value]


def active_threads() -> int | None:
    return _state["threads"]  # type: ignore[return-value]


def sync() -> None:
    devices.import_taichi().sync()
