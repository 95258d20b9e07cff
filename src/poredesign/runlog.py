"""Logging for workflow scripts: everything, progress bars and the final error included, goes to
the rule's log file."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any, TextIO, TypeVar

from tqdm import tqdm

T = TypeVar("T")

log = logging.getLogger("poredesign")


def error_line(error: BaseException) -> str:
    """One line for an error: its message, then its type (the message is what a user acts on)."""
    message = str(error).strip().replace("\n", " ") or "(no message)"
    return f"{message} [{type(error).__name__}]"


def progress(
    items: Iterable[T], desc: str, file: Any = None, unit: str = "structure"
) -> Iterator[T]:
    """``items`` with a progress bar written to ``file`` (a rule log) at most every 5 s."""
    return iter(tqdm(items, desc=desc, file=file, mininterval=5.0, unit=unit))


def setup_logging(path: str | os.PathLike | None, level: int = logging.INFO) -> TextIO:
    """Send the ``poredesign`` loggers (and warnings) to ``path``; return the open stream.

    Pass the returned stream as ``progress_file`` to long loops so their progress lands in the log.
    Without a path, logs go to standard error. An uncaught exception is written to the log as
    one ``ERROR`` line (message first, then its type), and that line to standard error too, so
    the rule log Snakemake (or SLURM) points to says why the job failed; with POREDESIGN_DEBUG=1
    both also get the traceback.
    """
    stream: TextIO = open(path, "a", buffering=1) if path else sys.stderr  # noqa: SIM115
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
    if path:
        sys.excepthook = _log_then_raise(sys.__excepthook__)
    return stream


def debug_wanted() -> bool:
    """POREDESIGN_DEBUG=1: errors show their traceback (in the rule log and on stderr)."""
    return os.environ.get("POREDESIGN_DEBUG", "") not in ("", "0")


def _log_then_raise(default_hook):
    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt) or debug_wanted():
            if not issubclass(kind, KeyboardInterrupt):
                log.error("%s", error_line(error))
                log.error("%s", "".join(traceback.format_exception(kind, error, tb)).rstrip())
            default_hook(kind, error, tb)
            return
        log.error("%s", error_line(error))
        hint = "POREDESIGN_DEBUG=1 shows the traceback"
        print(f"Error: {error_line(error)} ({hint})", file=sys.stderr)

    return hook
