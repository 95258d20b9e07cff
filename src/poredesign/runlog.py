"""Logging for workflow scripts: everything, progress bars included, goes to the rule's log file."""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO


def setup_logging(path: str | os.PathLike | None, level: int = logging.INFO) -> TextIO:
    """Send the ``poredesign`` loggers (and warnings) to ``path``; return the open stream.

    Pass the returned stream as ``progress_file`` to long loops so their progress lands in the log.
    Without a path, logs go to standard error.
    """
    stream: TextIO = open(path, "a", buffering=1) if path else sys.stderr  # noqa: SIM115
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
    return stream
