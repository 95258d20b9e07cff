"""The JSON Schema of a study config: validation that fills in the defaults and names the key of
every problem, and look-ups of a key's schema and default.

The schema (``schema.yaml`` beside this module, shipped with the package) is the one source of
defaults.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from poredesign.config.errors import ConfigError
from poredesign.config.rules import check_consistency

SCHEMA_PATH = Path(__file__).resolve().with_name("schema.yaml")

#: keys that were renamed: old dotted key -> (new dotted key, why)
RENAMED_KEYS: dict[str, tuple[str, str]] = {
    "transport.flow.tau": (
        "transport.flow.relaxation_time",
        "tau is the tortuosity factor; the lattice relaxation time has its own name",
    ),
    "learn.pvae.stage_epochs": (
        "learn.pvae.phase_epochs",
        "the pVAE trains in phases; a stage is a workflow stage",
    ),
    "learn.pvae.search.stage_epochs": (
        "learn.pvae.search.phase_epochs",
        "the pVAE trains in phases; a stage is a workflow stage",
    ),
    "latent": (
        "characterise",
        "the latent-space characterisation has its own section; design.latent is the latent design",
    ),
}


def _renamed_keys(config: Mapping[str, Any]) -> list[str]:
    """A message per old key name present in ``config``, naming its new name."""
    found = []
    for old, (new, why) in RENAMED_KEYS.items():
        node: Any = config
        for part in old.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
            if node is None:
                break
        else:
            found.append(f"config key '{old}' was renamed to '{new}' ({why})")
    return found


def _with_defaults(validator_class: type) -> type:
    """A validator that fills in ``default`` values of properties before checking them."""
    check_properties = validator_class.VALIDATORS["properties"]

    def fill_defaults(validator, properties, instance, schema):
        if isinstance(instance, MutableMapping):
            for key, subschema in properties.items():
                if "default" in subschema and key not in instance:
                    instance[key] = _copy(subschema["default"])
                elif subschema.get("type") == "object" and key not in instance:
                    # materialise nested sections so their own defaults get filled too
                    instance[key] = {}
        yield from check_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": fill_defaults})


def _copy(value: Any) -> Any:
    return yaml.safe_load(yaml.safe_dump(value))


_JSON_TYPES = {
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _schema_types(schema: Mapping[str, Any]) -> list[str]:
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    for option in schema.get("oneOf", []) + schema.get("anyOf", []):
        types += _schema_types(option)
    return types


def _coerce_value(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` with YAML-looking strings read where ``schema`` wants a non-string type."""
    if isinstance(value, MutableMapping):
        _coerce_overrides(value, schema)
        return value
    if isinstance(value, list):
        items = schema.get("items", {})
        return [_coerce_value(v, items) for v in value] if isinstance(items, Mapping) else value
    if not isinstance(value, str):
        return value
    types = _schema_types(schema)
    if not types or not set(types) - {"string"}:
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    if any(_JSON_TYPES.get(t, lambda v: False)(parsed) for t in types):
        return _coerce_value(parsed, schema)
    return value


def _coerce_overrides(config: MutableMapping[str, Any], schema: Mapping[str, Any]) -> None:
    """Read YAML-looking strings where the schema wants a number, boolean, list or mapping.

    Snakemake's ``--config section='{key: 5}'`` hands nested values over as strings ('5');
    a string is replaced only when it parses to a value of a type the schema allows there.
    """
    properties = schema.get("properties", {})
    for key, value in list(config.items()):
        if key in properties:
            config[key] = _coerce_value(value, properties[key])


def _non_finite(node: Any, path: tuple = ()) -> list[str]:
    """A message per NaN or infinite number in the config (YAML's .nan, .inf): JSON Schema's
    ranges let NaN through (every comparison with it is false), and no key takes either."""
    if isinstance(node, Mapping):
        return [m for key, value in node.items() for m in _non_finite(value, (*path, key))]
    if isinstance(node, list):
        return [m for i, value in enumerate(node) for m in _non_finite(value, (*path, i))]
    if isinstance(node, float) and not math.isfinite(node):
        return [
            f"config key '{_key(path)}': value {node!r} is not valid; allowed: a finite number "
            f"(no key takes NaN or infinity)"
        ]
    return []


def _key(path: Any) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    key = _key(error.absolute_path)
    schema = error.schema
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        where = "" if key == "<top level>" else f" in '{key}'"
        return (
            f"unknown config key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(u) for u in unknown)}{where}; allowed keys: {', '.join(allowed)}"
        )
    if "propertyNames" in error.relative_schema_path:
        return (
            f"config key '{key}': the name {error.instance!r} is not allowed; allowed: "
            f"names matching {schema.get('pattern')} (they name files under results/<study>/)"
        )
    allowed = []
    for word, text in (
        ("enum", "one of {}"),
        ("minimum", ">= {}"),
        ("maximum", "<= {}"),
        ("exclusiveMinimum", "> {}"),
        ("exclusiveMaximum", "< {}"),
        ("type", "of type {}"),
        ("minItems", "at least {} items"),
        ("maxItems", "at most {} items"),
        ("pattern", "matching {}"),
    ):
        if word in schema:
            allowed.append(text.format(schema[word]))
    what = f"; allowed: {', '.join(allowed)}" if allowed else ""
    description = f" ({schema['description']})" if "description" in schema else ""
    return (
        f"config key '{key}'{description}: value {error.instance!r} is not valid{what} "
        f"[{error.message}]"
    )


def validate_config(
    config: MutableMapping[str, Any], schema_path: str | os.PathLike = SCHEMA_PATH
) -> MutableMapping[str, Any]:
    """Check ``config`` against the schema, fill in defaults in place and return it.

    Raises :class:`ConfigError` listing every problem, each naming its key.
    """
    schema = load_schema(schema_path)
    validator_class = _with_defaults(jsonschema.validators.validator_for(schema))
    validator = validator_class(schema)
    _coerce_overrides(config, schema)
    renamed = _renamed_keys(config) + _non_finite(config)
    if renamed:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(renamed))
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = "\n  - ".join(_describe(e) for e in errors)
        raise ConfigError(f"invalid configuration:\n  - {lines}")
    check_consistency(config)
    return config


def load_schema(schema_path: str | os.PathLike = SCHEMA_PATH) -> dict[str, Any]:
    """The config schema as a mapping."""
    with open(schema_path) as fh:
        return yaml.safe_load(fh)


def schema_node(key: str, schema: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """The schema of the dotted config key ``key`` (``design.refine.rounds``)."""
    node: Mapping[str, Any] = load_schema() if schema is None else schema
    for part in key.split("."):
        properties = node.get("properties", {})
        if part not in properties:
            raise KeyError(f"config key {key!r} is not in the schema (no {part!r})")
        node = properties[part]
    return node


def schema_default(key: str, schema: Mapping[str, Any] | None = None) -> Any:
    """The default :func:`validate_config` fills in for ``key``: its ``default``, or for a section
    without one the mapping of its keys' defaults; KeyError when it has none."""
    node = schema_node(key, schema)
    if "default" in node:
        return _copy(node["default"])
    if node.get("type") == "object" and "properties" in node:
        out = {}
        for name in node["properties"]:
            try:
                out[name] = schema_default(name, node)
            except KeyError:
                continue
        return out
    raise KeyError(f"config key {key!r} has no default in the schema")
