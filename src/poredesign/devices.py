"""One place that resolves the compute device and the numeric precision.

Config values (key ``device``): ``"auto"`` (CUDA when present, else the CPU), ``"cpu"``,
``"cuda"``. Torch (generation, training, inference) and Taichi (lattice Boltzmann) each have
their own CUDA check, because either can be built without CUDA; both go through
:func:`resolve_device`. Precision: bf16 autocast on CUDA, fp32 on the CPU.
"""

from __future__ import annotations

import contextlib
import os
from typing import Literal

DEVICES = ("auto", "cpu", "cuda")
Framework = Literal["torch", "taichi"]


def torch_cuda_available() -> bool:
    """Whether torch sees a CUDA device."""
    import torch

    return bool(torch.cuda.is_available())


def import_taichi():
    """The ``taichi`` module, imported quietly (no banner, no warning about a missing CUDA driver
    on CPU machines)."""
    os.environ.setdefault("ENABLE_TAICHI_HEADER_PRINT", "False")
    os.environ.setdefault("TI_LOG_LEVEL", "error")
    import taichi as ti

    return ti


def taichi_cuda_available() -> bool:
    """Whether Taichi can run on CUDA here (driver found and Taichi built with CUDA)."""
    ti = import_taichi()
    try:
        return bool(ti._lib.core.with_cuda())
    except Exception:  # pragma: no cover - defensive: private API changed
        return False


def resolve_device(device: str | None = "auto", framework: Framework = "torch") -> str:
    """``"cpu"`` or ``"cuda"`` for a config value (``None`` means ``"auto"``).

    ``"cuda"`` is checked: asking for it where ``framework`` finds no CUDA device raises.
    A torch device string with an index (``"cuda:1"``) is passed through.
    """
    device = "auto" if device is None else str(device)
    base = device.split(":", 1)[0]
    if base not in DEVICES or (":" in device and base != "cuda"):
        raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    available = torch_cuda_available if framework == "torch" else taichi_cuda_available
    if base == "auto":
        return "cuda" if available() else "cpu"
    if base == "cuda" and not available():
        raise RuntimeError(
            f"device {device!r} was asked for, but {framework} finds no CUDA device here"
        )
    return device


def torch_device(device: str | None = "auto"):
    """The ``torch.device`` for a config value."""
    import torch

    return torch.device(resolve_device(device, "torch"))


def lightning_accelerator(device: str | None = "auto") -> str:
    """Lightning's accelerator name (``"gpu"`` or ``"cpu"``) for a config value."""
    return "gpu" if resolve_device(device, "torch").startswith("cuda") else "cpu"


def lightning_precision(device: str | None = "auto", precision: str = "auto") -> str:
    """``precision`` unless ``"auto"``: then bf16 mixed precision on CUDA, fp32 on the CPU."""
    if precision != "auto":
        return precision
    return "bf16-mixed" if lightning_accelerator(device) == "gpu" else "32-true"


def autocast(device) -> contextlib.AbstractContextManager:
    """bf16 autocast on a CUDA ``torch.device`` (or device string); a no-op elsewhere."""
    import torch

    device = torch.device(device)
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def synchronize(device) -> None:
    """Wait for queued CUDA work on ``device`` (for timings); nothing on the CPU."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _meminfo(key: str) -> int | None:
    """A field of /proc/meminfo in bytes; None where it cannot be read (not Linux)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(f"{key}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def available_memory() -> int | None:
    """Host memory available to a new allocation (MemAvailable of /proc/meminfo, bytes); None
    where it cannot be read (not Linux)."""
    return _meminfo("MemAvailable")


def total_memory() -> int | None:
    """This machine's physical memory (MemTotal of /proc/meminfo, bytes); None where it cannot
    be read."""
    return _meminfo("MemTotal")
    return None
