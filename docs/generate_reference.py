"""Write the manual's generated reference pages: the config keys (from the schema) and the CLI."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any


def _schema_rows(node: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Mapping]]:
    """Every key of the schema, depth first, with its schema node."""
    for name, child in node.get("properties", {}).items():
        key = f"{prefix}{name}"
        yield key, child
        yield from _schema_rows(child, f"{key}.")
        extra = child.get("additionalProperties")
        if isinstance(extra, Mapping) and "properties" in extra:
            yield from _schema_rows(extra, f"{key}.<name>.")


def _allowed(node: Mapping[str, Any]) -> str:
    """The allowed values of one key, in words."""
    parts = []
    if "enum" in node:
        parts.append("one of " + ", ".join(f"`{v}`" for v in node["enum"]))
    kinds = node.get("type")
    if kinds:
        parts.append(" or ".join(kinds) if isinstance(kinds, list) else kinds)
    for word, bound in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<=")):
        if word in node:
            parts.append(f"{bound} {node[word]}")
    if "exclusiveMaximum" in node:
        parts.append(f"< {node['exclusiveMaximum']}")
    return "; ".join(parts)


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def write_config_reference(path: Path) -> None:
    """The config reference: every key, its meaning, its allowed values and its default."""
    from poredesign.config import load_schema

    schema = load_schema()
    lines = [
        "# Config reference",
        "",
        "Generated from the schema every study file is validated against; a key left out takes",
        "the default shown. Values are in voxels (lattice units) unless a key says otherwise.",
        "",
        "| key | meaning | allowed | default |",
        "|---|---|---|---|",
    ]
    for key, node in _schema_rows(schema):
        default = json.dumps(node["default"]) if "default" in node else ""
        lines.append(
            f"| `{key}` | {_cell(node.get('description', ''))} | {_cell(_allowed(node))} "
            f"| {_cell(default)} |"
        )
    _write_if_changed(path, "\n".join(lines) + "\n")


def write_cli_reference(path: Path) -> None:
    """The command-line reference: the help of ``poredesign`` and of each command."""
    import os

    from poredesign.cli import build_parser

    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: fix it for a stable page
    parser = build_parser()
    lines = ["# Command line", "", "```text", parser.format_help().rstrip(), "```", ""]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                lines += [f"## poredesign {name}", "", "```text", sub.format_help().rstrip()]
                lines += ["```", ""]
    _write_if_changed(path, "\n".join(lines))


def _write_if_changed(path: Path, text: str) -> None:
    """Rewrite only on change, so Sphinx does not rebuild unchanged pages."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
