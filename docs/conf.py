"""Sphinx configuration of the poredesign manual.

Two reference pages are generated at build time so they cannot drift from the code: the config
reference from the schema the workflow validates against, and the command-line reference from
the parser ``poredesign`` itself uses.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))
sys.path.insert(0, str(DOCS.parent / "src"))

from generate_reference import write_cli_reference, write_config_reference  # noqa: E402

project = "poredesign"
author = "poredesign developers"
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []

# The API pages document the package faces; heavy optional imports stay real (they are installed).
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_inherit_docstrings = False  # Lightning hooks would bring Lightning's own docstrings
suppress_warnings = ["myst.header"]


def _generate(app) -> None:  # noqa: ANN001 - Sphinx's application object
    write_config_reference(DOCS / "reference" / "config.md")
    write_cli_reference(DOCS / "reference" / "cli.md")


def setup(app) -> None:  # noqa: ANN001
    app.connect("builder-inited", _generate)
