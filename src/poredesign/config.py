"""Study configuration: JSON Schema validation with defaults and messages that name the key, and
the typed settings built from the validated sections.

The schema (config/schema.yaml) is the one source of defaults. :func:`validate_config` fills them
in; a settings type (a frozen dataclass deriving from :class:`Settings`) is built from a validated
section with ``Cls.from_config(section)`` (:func:`settings_from_section`: key -> field, unknown
keys refused), and its field defaults equal the schema's (tests/unit/core/test_settings_defaults.py
compares them), so a library caller gets what the workflow gets.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import typing
from collections.abc import Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "schema.yaml"


class ConfigError(ValueError):
    """An invalid study configuration; the message names the key, the value and what is allowed."""


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


#: stages that exist only for some generators (the design of [R22] is ABC over spinodoid parameters)
DESIGN_STAGE_GENERATORS: dict[str, tuple[str, ...]] = {
    "design": ("spinodoid", "squares", "imported"),
    "slerp": ("squares", "imported"),
    "latent": ("voronoi",),
    "estimate": ("voronoi",),
    "bo": ("voronoi",),
    "transfer": ("voronoi",),
    "imports": ("voronoi",),
    "report": ("spinodoid", "voronoi", "squares", "imported"),
}

#: generators whose design stage is the [A25] latent gradient design with the pVAE (and slerp)
LATENT_DESIGN_GENERATORS = ("squares", "imported")


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
    _check_consistency(config)
    return config


def _check_consistency(config: MutableMapping[str, Any]) -> None:
    """Rules a JSON Schema cannot state: ranges ordered, sizes compatible, input files readable
    (a shard size above the dataset's size is lowered to it)."""
    problems = []

    def check_range(section: str, key: str) -> None:
        value = config.get(section, {}).get(key)
        if value is not None and value[0] > value[1]:
            problems.append(f"config key '{section}.{key}': range {value} has min > max")

    for section, keys in (
        ("spinodoid", ("m_range", "beta_range", "porosity_range")),
        ("squares", ("n_pores_range",)),
        ("voronoi", ("n_points_range", "stretch_range")),
    ):
        for key in keys:
            check_range(section, key)
    dataset = config.get("dataset", {})
    if dataset.get("shard_size", 1) > dataset.get("n_structures", 1):
        # a shard size is an upper bound: a dataset smaller than one shard is one shard
        dataset["shard_size"] = dataset["n_structures"]
    study = str(config.get("study", "default"))
    results = Path("results").resolve()
    if (results / study).resolve().parent != results:
        problems.append(
            f"config key 'study': {study!r} would write outside results/; allowed: a plain "
            f"folder name"
        )
    for section in ("learn", "transfer_data"):
        split = config.get(section, {}).get("split")
        if split is not None and not math.isclose(sum(split), 1.0, abs_tol=1e-9):
            problems.append(
                f"config key '{section}.split': {split} sums to {sum(split):g}; allowed: train, "
                f"validation and test fractions that sum to 1"
            )
    design = config.get("design", {})
    for key, tolerances in (
        ("design.abc.tolerances", design.get("abc", {}).get("tolerances")),
        ("design.refine.abc_tolerances", design.get("refine", {}).get("abc_tolerances")),
    ):
        if tolerances and any(b >= a for a, b in zip(tolerances, tolerances[1:], strict=False)):
            problems.append(
                f"config key '{key}': {tolerances} does not decrease; allowed: a "
                f"strictly decreasing schedule (one ABC generation per value)"
            )
    problems += _model_input_problems(config)
    search = config.get("learn", {}).get("pvae", {}).get("search", {})
    lo_hi = search.get("latent_range")
    if lo_hi is not None and lo_hi[0] > lo_hi[1]:
        problems.append(f"config key 'learn.pvae.search.latent_range': range {lo_hi} has min > max")
    problems += _import_problems(config)
    for key, value in config.get("design", {}).get("bo", {}).get("bounds", {}).items():
        if value[0] > value[1]:
            problems.append(f"config key 'design.bo.bounds.{key}': range {value} has min > max")
    squares, size = config.get("squares", {}), dataset.get("size")
    if config.get("generator") == "squares" and squares and size is not None:
        pore = squares.get("pore", 1)
        capacity = (size // pore) ** 2
        most = squares.get("n_pores_range", [0, 0])[1]
        if pore > size or most > capacity:
            problems.append(
                f"config key 'squares.n_pores_range': up to {most} pores of {pore}x{pore} do not "
                f"fit a {size}x{size} image (dataset.size); allowed: at most {capacity}"
            )
    problems += _dims_problems(config)
    problems += _label_problems(config)
    problems += _latent_design_problems(config)
    latent_targets = config.get("design", {}).get("latent", {}).get("targets", {})
    for key in ("porosity", "k"):
        value = latent_targets.get(key)
        if value is not None and value[0] > value[1]:
            problems.append(
                f"config key 'design.latent.targets.{key}': range {value} has min > max"
            )
    stages_with_design = DESIGN_STAGE_GENERATORS.keys() & set(config.get("stages", []))
    for stage in sorted(stages_with_design):
        generators = DESIGN_STAGE_GENERATORS[stage]
        if config.get("generator", "spinodoid") not in generators:
            problems.append(
                f"config key 'stages': stage {stage!r} is not available for generator "
                f"{config.get('generator')!r}; allowed for generators: {', '.join(generators)}"
            )
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))


def _import_problems(config: Mapping[str, Any]) -> list[str]:
    """Each scan has a file or a synthetic rendering and exactly one pore-phase rule; a dataset of
    crops (generator imported) names a scan that yields enough crops for the split."""
    from poredesign.structures.imported import check_phase_options  # the library's own check

    problems, imports = [], config.get("imports") or {}
    for name, scan in imports.items():
        key = f"config key 'imports.{name}'"
        try:
            check_phase_options(key, scan.get("pore_value"), scan.get("porosity"))
        except ValueError as err:
            problems.append(str(err))
        if bool(scan.get("path")) == bool(scan.get("synthetic")):
            problems.append(
                f"{key}: give exactly one of path (the scan's file) and synthetic (a foam "
                f"rendered to results/<study>/imports/{name}-gray.npy)"
            )
        if scan.get("path") and not scan.get("synthetic"):
            problems += _scan_file_problems(name, scan)
        dense = [s for s in scan.get("strains") or [] if s >= (scan.get("porosity") or 1.0)]
        if dense:
            problems.append(
                f"{key}.strains: {dense} compress a scan of porosity {scan['porosity']} beyond "
                f"full density (the solid volume is conserved); allowed: strains < porosity"
            )
        if scan.get("synthetic") and scan.get("porosity") is None:
            problems.append(
                f"{key}.synthetic: the foam is rendered at the scan's porosity; give "
                f"imports.{name}.porosity (a gray scan), not pore_value"
            )
    dataset = config.get("dataset", {})
    scan_name = dataset.get("scan")
    if config.get("generator") != "imported":
        if scan_name is not None:
            problems.append(
                f"config key 'dataset.scan': {scan_name!r} is read by generator imported only; "
                f"got generator {config.get('generator')!r}"
            )
        return problems
    if scan_name not in imports:
        names = ", ".join(sorted(imports)) or "none (add a scan under imports)"
        problems.append(
            f"config key 'dataset.scan': {scan_name!r} is not an entry of imports; generator "
            f"imported needs one of: {names}"
        )
        return problems
    from poredesign.structures.scan_dataset import scan_crop_count

    crops, n = scan_crop_count(imports[scan_name]), dataset.get("n_structures", 0)
    if crops is not None and crops < n:
        scan = imports[scan_name]
        problems.append(
            f"config key 'dataset.n_structures': {n}, but the scan {scan_name!r} yields {crops} "
            f"crops of {scan.get('crop')}^3 every {scan.get('stride') or scan.get('crop')} voxels; "
            f"allowed: at most {crops} (or a smaller imports.{scan_name}.stride)"
        )
    split = config.get("learn", {}).get("split", [0.8, 0.1, 0.1])
    parts = zip(("train", "validation", "test"), split, strict=False)
    empty = [part for part, f in parts if f > 0 and round(f * n) < 1]
    if empty:
        problems.append(
            f"config key 'dataset.n_structures': {n} crops leave the {', '.join(empty)} split of "
            f"learn.split {split} empty; allowed: enough crops for every split"
        )
    return problems


def _scan_file_problems(name: str, scan: Mapping[str, Any]) -> list[str]:
    """The scan's file exists and reads as a volume (headers and sizes only) that holds one crop."""
    from poredesign.structures.volume_io import volume_shape

    key = f"config key 'imports.{name}.path'"
    try:
        shape = volume_shape(
            scan["path"],
            shape=scan.get("shape"),
            dtype=scan.get("dtype"),
            byte_order=scan.get("byte_order", "little"),
            offset=scan.get("offset", 0),
            order=scan.get("order", "F"),
        )
    except FileNotFoundError:
        return [
            f"{key}: {scan['path']!r} does not exist (relative paths are read from "
            f"{Path.cwd()}, where snakemake runs)"
        ]
    except (ValueError, OSError) as err:
        return [f"{key}: {str(err).strip()}"]
    crop = scan.get("crop", 200)
    if crop is not None and crop > min(shape):
        return [
            f"config key 'imports.{name}.crop': {crop} voxels is larger than the scan "
            f"{scan['path']} of shape {tuple(shape)}; allowed: crop <= {min(shape)}"
        ]
    return []


def _latent_design_problems(config: Mapping[str, Any]) -> list[str]:
    """The [A25] design and slerp stages read the pVAE (and the design the CNN too): 2D on the
    images of square pores, 3D on crops of a scan; both read k along z."""
    generator = config.get("generator")
    if generator not in LATENT_DESIGN_GENERATORS:
        return []
    stages, learn = set(config.get("stages", [])), config.get("learn", {})
    needed = {"design": ("pvae", "permeability"), "slerp": ("pvae",)}
    problems = []
    for stage, models in needed.items():
        missing = [m for m in models if stage in stages and m not in learn.get("models", [])]
        if missing:
            problems.append(
                f"config key 'stages': stage {stage!r} of the square-pore study needs the models "
                f"{missing}; add them to learn.models"
            )
    pvae = learn.get("pvae", {})
    if stages & set(needed) and not {"porosity", "k"} <= set(pvae.get("targets", [])):
        problems.append(
            f"config key 'learn.pvae.targets': {pvae.get('targets')}; the latent design and "
            f"slerp need porosity and k"
        )
    if not stages & set(needed):
        return problems
    if generator == "squares" and (pvae.get("dims") == 3 or pvae.get("axes", [2]) != [2]):
        problems.append(
            "config key 'learn.pvae.dims': the latent design decodes images of square-pore "
            "extrusions; allowed: dims 2 or auto with axes [2]"
        )
    if generator == "imported" and (pvae.get("dims") == 2 or pvae.get("axes", [2]) != [2]):
        problems.append(
            "config key 'learn.pvae.dims': the latent design decodes crops of a scan (volumes); "
            "allowed: dims 3 or auto, with axes [2] (k along z)"
        )
    transport = config.get("transport", {})
    if "permeability" not in transport.get("properties", []) or "z" not in transport.get(
        "axes", []
    ):
        problems.append(
            "config key 'transport': the latent design and slerp read k along z; allowed: "
            "properties with permeability and axes with z"
        )
    return problems


def _label_problems(config: Mapping[str, Any]) -> list[str]:
    """The solver-subset mode needs the solver's permeability and the CNN that labels the rest."""
    subset = config.get("labels", {}).get("solver_subset")
    if subset is None:
        return []
    problems, n = [], config.get("dataset", {}).get("n_structures", 0)
    if subset > n:
        problems.append(
            f"config key 'labels.solver_subset': {subset} exceeds dataset.n_structures = {n}; "
            f"allowed: at most n_structures (null = the solver labels all)"
        )
    if "permeability" not in config.get("learn", {}).get("models", []):
        problems.append(
            "config key 'labels.solver_subset': the rest is labelled by the permeability CNN; "
            "add permeability to learn.models"
        )
    if "permeability" not in config.get("transport", {}).get("properties", []):
        problems.append(
            "config key 'labels.solver_subset': the subset is labelled by the flow solver; add "
            "permeability to transport.properties"
        )
    return problems


def _dims_problems(config: Mapping[str, Any]) -> list[str]:
    """2D models see the image of an extrusion along their one axis; 3D models need cubes."""
    learn, problems = config.get("learn", {}), []
    extruded = config.get("generator") == "squares"
    depth = config.get("squares", {}).get("depth")
    size = config.get("dataset", {}).get("size")
    for model in learn.get("models", []):
        section = learn.get(model, {})
        dims = section.get("dims", "auto")
        axes, pool = section.get("axes", []), bool(section.get("pool", False))
        if dims == 2 and (len(axes) != 1 or pool):
            problems.append(
                f"config key 'learn.{model}.dims': 2 (images of extrusions) needs one axis and no "
                f"pooling; got axes {axes}, pool {pool}"
            )
        if dims == 2 and extruded and axes != [2]:
            problems.append(
                f"config key 'learn.{model}.dims': square pores are extruded along z; a 2D model "
                f"needs learn.{model}.axes: [2], got {axes}"
            )
        auto_3d = dims == "auto" and (axes != [2] or pool)
        if extruded and depth not in (None, size) and (dims == 3 or auto_3d):
            problems.append(
                f"config key 'learn.{model}.dims': {dims} trains on volumes, which must be cubic, "
                f"but squares.depth {depth} differs from dataset.size {size}; allowed: dims 2 or "
                f"auto with axes [2] (the image), or squares.depth null"
            )
    return problems


def _model_input_problems(config: Mapping[str, Any]) -> list[str]:
    """Each model of ``learn.models`` must take the dataset's structures as input (checked when
    a stage that trains or uses the models is asked for)."""
    from poredesign.learn.shapes import input_edge_problem

    if not {"train", "design", "report"} & set(config.get("stages", [])):
        return []
    size = config.get("dataset", {}).get("size")
    learn = config.get("learn", {})
    problems = []
    for model in learn.get("models", []):
        section = learn.get(model, {})
        hparams = section.get("hparams", {})
        pool = bool(section.get("pool", False))
        key = f"learn.{model}"
        if size is None:
            continue
        if pool and size % 2:
            problems.append(
                f"config key '{key}.pool': 2x2x2 pooling needs an even dataset.size; got {size}"
            )
            continue
        edge = size // 2 if pool else size
        given = hparams.get("input_size")
        if given is not None and given != edge:
            problems.append(
                f"config key '{key}.hparams.input_size': {given}, but dataset.size {size}"
                f"{' pooled 2x2x2' if pool else ''} gives inputs of {edge} voxels per edge"
            )
        problem = input_edge_problem(model, edge, hparams)
        if problem is not None:
            pooled = f" (pooled to {edge})" if pool else ""
            unpool = f", or {key}.pool: false" if pool else ""
            problems.append(
                f"config key 'dataset.size': {size}{pooled} is too small: {problem}; allowed: a "
                f"larger dataset.size, fewer {key}.hparams.channels{unpool}"
            )
    return problems


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


S = TypeVar("S", bound="Settings")


class Settings:
    """Base of the typed settings: a frozen dataclass whose fields are the keys of the config
    section :attr:`SECTION` (dotted), with the schema's defaults.

    ``from_config(section)`` builds one from the validated section; keys the section holds for
    other readers are named in :attr:`IGNORED` (anything else is refused). :meth:`as_record` gives
    the fields as a mapping in the order of the section they were built from (the study file's
    keys, then the schema's), as results record their settings.
    """

    SECTION: ClassVar[str] = ""
    IGNORED: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_config(cls: type[S], section: Mapping[str, Any]) -> S:
        """The settings of the validated config section ``section`` (:attr:`SECTION`)."""
        return settings_from_section(cls, section)

    def as_record(self) -> dict[str, Any]:
        """The fields (nested settings as mappings), in the order of the section they were read
        from, fields it did not name after them."""
        names = [f.name for f in dataclasses.fields(self)]  # type: ignore[arg-type]
        order = [n for n in getattr(self, "_key_order", ()) if n in names]
        record = {}
        for name in order + [n for n in names if n not in order]:
            value = getattr(self, name)
            record[name] = value.as_record() if isinstance(value, Settings) else value
        return record


def _frozen(value: Any) -> Any:
    """Lists as tuples (nested too), so frozen settings hold no mutable sequence."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def _settings_type(hint: Any) -> type[Settings] | None:
    """The settings type a field annotation names (``X`` or ``X | None``), else None."""
    options = typing.get_args(hint) or (hint,)
    for option in options:
        if isinstance(option, type) and issubclass(option, Settings):
            return option
    return None


def settings_from_section(cls: type[S], section: Mapping[str, Any], key: str | None = None) -> S:
    """An instance of the settings dataclass ``cls`` from the config section ``section`` (dotted
    name ``key``, default ``cls.SECTION``): each key sets the field of its name (values as given,
    lists as tuples, nested sections as their own settings types); a key that is neither a
    field nor in ``cls.IGNORED`` raises :class:`ConfigError` naming it; fields the section omits
    keep their defaults (the schema's)."""
    key = key if key is not None else cls.SECTION
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    if not isinstance(section, Mapping):
        raise ConfigError(f"config key '{key}': expected a mapping, got {section!r}")
    unknown = sorted(set(section) - set(fields) - set(cls.IGNORED))
    if unknown:
        raise ConfigError(
            f"config key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(u) for u in unknown)} in '{key}' "
            f"{'are' if len(unknown) > 1 else 'is'} not settings of {cls.__name__}; allowed keys: "
            f"{', '.join(sorted(set(fields) | set(cls.IGNORED)))}"
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in section.items():
        if name not in fields:
            continue
        nested = _settings_type(hints.get(name))
        if nested is not None and isinstance(value, Mapping):
            values[name] = settings_from_section(nested, value, f"{key}.{name}")
        else:
            values[name] = _frozen(value)
    settings = cls(**values)
    object.__setattr__(settings, "_key_order", tuple(n for n in section if n in fields))
    return settings


def load_config(path: str | os.PathLike, schema_path: str | os.PathLike = SCHEMA_PATH) -> dict:
    """Read a YAML study config and validate it (defaults filled)."""
    config = read_yaml(path) or {}
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: a study config is a mapping of keys; got {config!r}")
    return dict(validate_config(config, schema_path))
