"""Reading study files: YAML read strictly (a key given twice is refused), validated, and the
Snakefile's check that ends a run with one line per problem."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import yaml

from poredesign.config.errors import ConfigError
from poredesign.config.schema import SCHEMA_PATH, validate_config


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep=False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ConfigError(
                f"{key_node.start_mark.name}, line {line}: key {key!r} is given twice (first "
                f"on line {seen[key]}); YAML would keep the last silently, remove one"
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def read_yaml(path: str | os.PathLike) -> Any:
    """A YAML file's content; a key given twice in a mapping, or a YAML syntax error, is a
    :class:`ConfigError` of one line naming the file, the line and the key."""
    try:
        with open(path) as fh:
            return yaml.load(fh, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML ({problem})") from err


def debug_wanted(verbose: bool = False) -> bool:
    """Whether errors show their traceback: ``--verbose`` (``verbose``) or POREDESIGN_DEBUG=1."""
    return bool(verbose) or os.environ.get("POREDESIGN_DEBUG", "") not in ("", "0")


def validate_workflow_config(
    config: MutableMapping[str, Any], configfiles: Iterable[str | os.PathLike], verbose=False
) -> MutableMapping[str, Any]:
    """The Snakefile's check: each config file read strictly (:func:`read_yaml`: a key given
    twice is refused), then :func:`validate_config`. A :class:`ConfigError` ends the run with
    its lines on stderr and exit status 1, with no traceback unless ``verbose`` (snakemake
    --verbose) or POREDESIGN_DEBUG=1."""
    try:
        for path in configfiles:
            read_yaml(path)
        return validate_config(config)
    except ConfigError as err:
        if debug_wanted(verbose):
            raise
        print(f"Error: {err}", file=sys.stderr)
        raise SystemExit(1) from None


def load_config(path: str | os.PathLike, schema_path: str | os.PathLike = SCHEMA_PATH) -> dict:
    """Read a YAML study config and validate it (defaults filled)."""
    config = read_yaml(path) or {}
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: a study config is a mapping of keys; got {config!r}")
    return dict(validate_config(config, schema_path))
