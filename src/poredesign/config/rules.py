"""Cross-key rules a JSON Schema cannot state: ranges ordered, sizes compatible, input files
readable, stages available for the generator, models that fit the data."""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from poredesign.config.errors import ConfigError
from poredesign.config.stages import DESIGN_STAGE_GENERATORS, LATENT_DESIGN_GENERATORS
from poredesign.job_resources import memory_problems
from poredesign.splits import split_problems


def check_consistency(config: MutableMapping[str, Any]) -> None:
    """Rules a JSON Schema cannot state: ranges ordered, sizes compatible, input files readable
    (a shard size above the dataset's size is lowered to it)."""
    dataset = config.get("dataset", {})
    if dataset.get("shard_size", 1) > dataset.get("n_structures", 1):
        # a shard size is an upper bound: a dataset smaller than one shard is one shard
        dataset["shard_size"] = dataset["n_structures"]
    design = config.get("design", {})
    problems = [
        problem
        for section, keys in GENERATOR_RANGES
        for key in keys
        for problem in _range_problems(f"{section}.{key}", config.get(section, {}).get(key))
    ]
    problems += _study_problems(config)
    problems += _split_sum_problems(config)
    problems += _schedule_problems(design)
    problems += _model_input_problems(config)
    search = config.get("learn", {}).get("pvae", {}).get("search", {})
    problems += _range_problems("learn.pvae.search.latent_range", search.get("latent_range"))
    problems += _import_problems(config)
    for key, value in design.get("bo", {}).get("bounds", {}).items():
        problems += _range_problems(f"design.bo.bounds.{key}", value)
    problems += _squares_problems(config)
    problems += _dims_problems(config)
    problems += _label_problems(config)
    problems += _latent_design_problems(config)
    problems += split_problems(config)
    problems += memory_problems(config)
    latent_targets = design.get("latent", {}).get("targets", {})
    for key in ("porosity", "k"):
        problems += _range_problems(f"design.latent.targets.{key}", latent_targets.get(key))
    problems += _stage_problems(config)
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))


#: the generators' parameter ranges, (min, max) each
GENERATOR_RANGES = (
    ("spinodoid", ("m_range", "beta_range", "porosity_range")),
    ("squares", ("n_pores_range",)),
    ("voronoi", ("n_points_range", "stretch_range")),
)


def _range_problems(key: str, value: Any) -> list[str]:
    """A (min, max) range whose min exceeds its max (None: the key is not set)."""
    if value is not None and value[0] > value[1]:
        return [f"config key '{key}': range {value} has min > max"]
    return []


def _study_problems(config: Mapping[str, Any]) -> list[str]:
    """The study name is a plain folder under results/."""
    study = str(config.get("study", "default"))
    results = Path("results").resolve()
    if (results / study).resolve().parent != results:
        return [
            f"config key 'study': {study!r} would write outside results/; allowed: a plain "
            f"folder name"
        ]
    return []


def _split_sum_problems(config: Mapping[str, Any]) -> list[str]:
    """Split fractions sum to 1."""
    problems = []
    for section in ("learn", "transfer_data"):
        split = config.get(section, {}).get("split")
        if split is not None and not math.isclose(sum(split), 1.0, abs_tol=1e-9):
            problems.append(
                f"config key '{section}.split': {split} sums to {sum(split):g}; allowed: train, "
                f"validation and test fractions that sum to 1"
            )
    return problems


def _schedule_problems(design: Mapping[str, Any]) -> list[str]:
    """ABC tolerance schedules decrease strictly (one generation per value)."""
    problems = []
    for key, tolerances in (
        ("design.abc.tolerances", design.get("abc", {}).get("tolerances")),
        ("design.refine.abc_tolerances", design.get("refine", {}).get("abc_tolerances")),
    ):
        if tolerances and any(b >= a for a, b in zip(tolerances, tolerances[1:], strict=False)):
            problems.append(
                f"config key '{key}': {tolerances} does not decrease; allowed: a "
                f"strictly decreasing schedule (one ABC generation per value)"
            )
    return problems


def _squares_problems(config: Mapping[str, Any]) -> list[str]:
    """The largest number of square pores fits the image."""
    squares, size = config.get("squares", {}), config.get("dataset", {}).get("size")
    if config.get("generator") != "squares" or not squares or size is None:
        return []
    pore = squares.get("pore", 1)
    capacity = (size // pore) ** 2
    most = squares.get("n_pores_range", [0, 0])[1]
    if pore > size or most > capacity:
        return [
            f"config key 'squares.n_pores_range': up to {most} pores of {pore}x{pore} do not "
            f"fit a {size}x{size} image (dataset.size); allowed: at most {capacity}"
        ]
    return []


def _stage_problems(config: Mapping[str, Any]) -> list[str]:
    """Each design stage asked for is available for the study's generator."""
    problems = []
    stages_with_design = DESIGN_STAGE_GENERATORS.keys() & set(config.get("stages", []))
    for stage in sorted(stages_with_design):
        generators = DESIGN_STAGE_GENERATORS[stage]
        if config.get("generator", "spinodoid") not in generators:
            problems.append(
                f"config key 'stages': stage {stage!r} is not available for generator "
                f"{config.get('generator')!r}; allowed for generators: {', '.join(generators)}"
            )
    return problems


def _import_problems(config: Mapping[str, Any]) -> list[str]:
    """Each scan has a file or a synthetic rendering and exactly one pore-phase rule; a dataset of
    crops (generator imported) names a scan that yields enough crops (their split is checked with
    every generator's, :func:`poredesign.splits.split_problems`)."""
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
