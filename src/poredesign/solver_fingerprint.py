"""A fingerprint of the solver code: what a transport label store was computed with.

The package version alone does not change when the solver's code does (an editable install, a
fix between releases), so every label store records :func:`solver_fingerprint` and the workflow
passes it to the rules that run the solver as a parameter: a changed solver changes the
parameter, and Snakemake's rerun trigger on changed parameters recomputes the labels (and,
through their new files, everything trained and designed from them).

What counts is the code of the :mod:`poredesign.transport` modules as Python parses it (the AST
without docstrings), plus the versions of the libraries that compute the numbers (Taichi, SciPy,
NumPy): a change of a comment, a docstring or the formatting keeps the labels; any change of a
statement, a constant or a kernel reruns them. To keep labels made by an older solver on
purpose, run Snakemake with ``--rerun-triggers mtime`` (it then ignores changed parameters).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

#: libraries whose numerics the labels depend on
SOLVER_LIBRARIES = ("taichi", "scipy", "numpy")


def _code_of(source: str) -> str:
    """The source's AST without docstrings (comments and formatting are not in an AST)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False)


def _library_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def code_fingerprint(package_dir: str | Path) -> str:
    """A short hash of the code of every ``.py`` module under ``package_dir`` (sorted by path)."""
    package_dir = Path(package_dir)
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(package_dir.rglob("*.py")):
        digest.update(str(path.relative_to(package_dir)).encode() + b"\0")
        digest.update(_code_of(path.read_text()).encode() + b"\0")
    return digest.hexdigest()


@cache
def solver_fingerprint() -> str:
    """The fingerprint of the installed solver: code hash of :mod:`poredesign.transport` and the
    versions of :data:`SOLVER_LIBRARIES`, e.g. ``"3f2a...-taichi1.7.3-scipy1.15.2-numpy2.2.6"``."""
    # located, not imported: the Snakefile computes this at parse time, and importing the
    # solver package takes seconds (this module lives outside it for the same reason)
    spec = importlib.util.find_spec("poredesign.transport")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    versions = "-".join(f"{name}{_library_version(name)}" for name in SOLVER_LIBRARIES)
    return f"{code_fingerprint(package_dir)}-{versions}"


__all__ = ["SOLVER_LIBRARIES", "code_fingerprint", "solver_fingerprint"]
