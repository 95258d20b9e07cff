"""Resumable flow runs: the lattice state saved to a file during the march, and read back.

A checkpoint holds the populations of every lattice node (float32, 76 B per node, copied from the
device one block of NODE_BLOCK nodes at a time so the host never holds a second whole copy), the
steps taken, the AA parity of the sparse lattice and the convergence history. It is written
every ``every`` seconds of the march, when the step budget runs out, and when the process
receives SIGTERM (as SLURM sends before a time limit); written to a temporary file first and
renamed, so a killed write never leaves a half checkpoint. A converged axis leaves a record of
its history only, so that a rerun of an interrupted several-axis run does not solve it again;
the records are removed when the whole run has finished.

The file is keyed to the problem: a SHA-256 of the domain solved (the prepared volume), the axis
and every parameter that changes the lattice's fixed point or its march (relaxation time, magic
parameter, force, storage). A checkpoint whose key differs (another volume, crop, axis or
parameters) is never used: it is reported and the run starts from rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

NODE_BLOCK = 1 << 21  # lattice nodes per block copied between the device and the file
DEFAULT_EVERY = 300.0  # seconds between checkpoints
SUFFIX = ".flowstate"
_MAGIC = b"PDFLOW01"


class FlowInterrupted(RuntimeError):
    """The march stopped on SIGTERM after saving its state to ``path``."""

    def __init__(self, path: Path, steps: int):
        super().__init__(
            f"stopped by SIGTERM after {steps} steps; the flow state is saved in {path}: rerun the"
            " same command to continue from it"
        )
        self.path = path
        self.steps = steps


def checkpoint_path(directory: str | os.PathLike, name: str, axis: int) -> Path:
    """The checkpoint file of the run labelled ``name`` along ``axis`` in ``directory``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "structure"
    return Path(directory) / f"{slug}.k{'xyz'[axis]}{SUFFIX}"


def problem_key(solid: np.ndarray, axis: int, **parameters) -> str:
    """SHA-256 of the domain ``solid`` (shape and voxels), the axis and ``parameters``."""
    digest = hashlib.sha256()
    digest.update(repr(tuple(int(n) for n in solid.shape)).encode())
    digest.update(np.packbits(np.ascontiguousarray(solid, dtype=bool)).tobytes())
    digest.update(json.dumps(dict(axis=int(axis), **parameters), sort_keys=True).encode())
    return digest.hexdigest()


@dataclass
class Checkpoint:
    """Where and how often the state of one run is saved, and the SIGTERM flag."""

    path: Path
    key: str
    every: float = DEFAULT_EVERY
    last_save: float = field(default_factory=time.perf_counter)
    terminated: bool = False
    _previous: object = None

    def due(self) -> bool:
        return time.perf_counter() - self.last_save >= self.every

    def watch_sigterm(self) -> None:
        """Turn SIGTERM into a flag the march polls every step (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum, frame):
            self.terminated = True

        self._previous = signal.signal(signal.SIGTERM, handler)

    def release_sigterm(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

    def save(
        self, lattice, populations, steps: int, history: list, converged: bool = False
    ) -> None:
        """Write the state (atomically: a temporary file renamed); a ``converged`` run writes
        its history only (no populations): the record that lets a rerun of a several-axis run
        skip this axis until the whole run has finished (:func:`~.flow.permeability_axes`)."""
        from poredesign.transport.flow_kernels import read_state

        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = dict(
            key=self.key,
            nodes=int(lattice.nodes),
            steps=int(steps),
            parity=int(getattr(lattice, "parity", 0)),
            history=[[int(s), float(u)] for s, u in history],
            converged=bool(converged),
        )
        text = json.dumps(header).encode()
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(_MAGIC + len(text).to_bytes(8, "little") + text)
            for start in range(0, 0 if converged else lattice.nodes, NODE_BLOCK):
                count = min(NODE_BLOCK, lattice.nodes - start)
                block = read_state(populations, lattice.nodes, start, count, lattice.cell_major)
                f.write(block.tobytes())
        os.replace(tmp, self.path)
        self.last_save = time.perf_counter()
        log.info("flow state after %d steps saved in %s", steps, self.path)

    def load(self, lattice, populations) -> tuple[int, list, bool] | None:
        """Restore the state into ``populations`` (and the lattice's parity): (steps, history,
        converged), or None when there is no checkpoint or it belongs to another problem
        (reported). A converged record restores no populations."""
        from poredesign.transport.flow_kernels import Q, write_state

        if not self.path.exists():
            return None
        with open(self.path, "rb") as f:
            head = f.read(len(_MAGIC) + 8)
            if len(head) < len(_MAGIC) + 8 or head[: len(_MAGIC)] != _MAGIC:
                return self._ignore("not a flow checkpoint")
            header = json.loads(f.read(int.from_bytes(head[len(_MAGIC) :], "little")))
            if header.get("key") != self.key or header.get("nodes") != lattice.nodes:
                return self._ignore(
                    "written for another problem (volume, crop, axis or solver parameters)"
                )
            converged = bool(header.get("converged"))
            size = os.fstat(f.fileno()).st_size - f.tell()
            if size != (0 if converged else lattice.nodes * Q * 4):
                return self._ignore("truncated")
            for start in range(0, 0 if converged else lattice.nodes, NODE_BLOCK):
                count = min(NODE_BLOCK, lattice.nodes - start)
                block = np.fromfile(f, dtype=np.float32, count=count * Q).reshape(count, Q)
                write_state(populations, lattice.nodes, start, block, lattice.cell_major)
        if hasattr(lattice, "parity"):
            lattice.parity = int(header["parity"])
        history = [(int(s), float(u)) for s, u in header["history"]]
        log.info("continuing from %s after %d steps", self.path, header["steps"])
        return int(header["steps"]), history, converged

    def _ignore(self, why: str) -> None:
        message = f"checkpoint {self.path} not used: {why}; starting from rest"
        log.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=4)
        return None

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
