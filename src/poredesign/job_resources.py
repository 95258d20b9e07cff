"""What one job of a rule needs (memory, runtime, a GPU), from the study's sizes and the table
``config/resources.yaml``; and the dry run's refusal of a study whose jobs cannot fit in memory.

The cluster profile turns a rule's ``resources`` into SLURM's ``--mem``, ``--time`` and
``--gpus``; the rules take all three from :class:`JobResources` (no rule holds a number of its
own). A job is one shard, one model or one target: the memory is what one job holds at once
(one structure in generation and simulation, one batch in training), never the whole store,
which is written chunk by chunk.

GPUs: a rule whose table row says ``device: true`` runs on the study's ``device`` and asks one
GPU when that is a GPU: ``device: cuda``, or ``device: auto`` with ``cluster.gpus: true`` (the
default ``false`` suits a cluster or workstation without GPUs: a job then never waits for, or
is refused, a GPU it cannot get; on ``auto`` it still uses a GPU where its node has one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

#: shipped with the package beside the schema (config/resources.yaml links to it)
TABLE_PATH = Path(__file__).resolve().parent / "config" / "resources.yaml"

#: the rules whose jobs the dry run checks against the memory of a node (the stages' big jobs)
CHECKED_RULES = {
    "generate": ("generate_shard",),
    "simulate": ("simulate_shard",),
    "train": ("train_model",),
}


#: generators whose models see 2-D images (extrusions; learn.data.EXTRUSION_AXIS, not imported
#: here: the Snakefile reads this module at parse time, before any job, without torch)
EXTRUDED_GENERATORS = ("squares",)


@cache
def load_table(path: str | Path = TABLE_PATH) -> dict[str, Any]:
    """The table: ``rules`` (rows by rule name), ``gpu_speedup`` and ``max_runtime_min``."""
    with open(path) as fh:
        return dict(yaml.safe_load(fh))


def _per_voxel(value: Any, model: str | None) -> float:
    """A per-voxel figure, or its entry for ``model`` (the largest one without a model)."""
    if isinstance(value, Mapping):
        return float(value[model] if model in value else max(value.values()))
    return float(value or 0)


class JobResources:
    """Requests of the rules' jobs for one validated study config."""

    def __init__(self, config: Mapping[str, Any], table: Mapping[str, Any] | None = None):
        self.config = config
        self.table = load_table() if table is None else table
        self.rows = self.table["rules"]

    def _row(self, rule: str) -> Mapping[str, Any]:
        if rule not in self.rows:
            raise KeyError(f"rule {rule!r} has no row in {TABLE_PATH} (its cluster requests)")
        return self.rows[rule]

    # -- sizes --------------------------------------------------------------------------------
    def _generation_voxels(self) -> int:
        size = int(self.config["dataset"]["size"])
        voxels = size**3
        if self.config.get("generator") == "voronoi":
            generation = self.config.get("voronoi", {}).get("generation_size") or size
            voxels = max(voxels, int(generation) ** 3)
        return voxels

    def _model(self, model: str | None) -> Mapping[str, Any]:
        learn = self.config.get("learn", {})
        if model is None:  # the largest batch of the study's models
            models = [learn.get(m, {}) for m in learn.get("models", [])]
            return max(models, key=lambda s: int(s.get("batch_size", 16)), default={})
        return learn.get(model, {})

    def voxels(self, of: str | None, model: str | None = None) -> int:
        """The voxels a job of scale ``of`` holds or processes (see the table's header)."""
        dataset = self.config["dataset"]
        section = self._model(model)
        size = int(dataset["size"])
        structure = size**3
        extruded = self.config.get("generator") in EXTRUDED_GENERATORS
        view = size**2 if extruded and section.get("dims", "auto") != 3 else size**3
        view = view // 8 if section.get("pool") else view
        if of in (None, "none"):
            return 0
        if of == "structure":
            return structure
        if of == "generation":
            return self._generation_voxels()
        if of == "shard":
            return int(dataset["shard_size"]) * structure
        if of == "dataset":
            return int(dataset["n_structures"]) * structure
        if of == "batch":
            return int(section.get("batch_size", 16)) * view
        if of == "training":
            axes = len(section.get("axes") or [0])
            epochs = int(section.get("epochs", 1))
            return epochs * int(dataset["n_structures"]) * axes * view
        raise ValueError(f"{TABLE_PATH}: unknown scale {of!r}")

    # -- requests -----------------------------------------------------------------------------
    def mem_mb(self, rule: str, model: str | None = None) -> int:
        """Memory one job of ``rule`` needs, in MB (``model``: the train rule's wildcard)."""
        mem = self._row(rule)["mem"]
        per_voxel = _per_voxel(mem.get("bytes_per_voxel"), model)
        return int(math.ceil(mem["base_mb"] + per_voxel * self.voxels(mem.get("of"), model) / 1e6))

    def runtime(self, rule: str, model: str | None = None) -> int:
        """Wall time one job of ``rule`` may take, in minutes."""
        runtime = self._row(rule)["runtime"]
        per_voxel = _per_voxel(runtime.get("ns_per_voxel"), model)
        extra = per_voxel * self.voxels(runtime.get("of"), model) / 6e10
        if self.gpu(rule):
            extra /= float(self.table.get("gpu_speedup", 1))
        minutes = math.ceil(runtime["base_min"] + extra)
        return int(min(minutes, self.table.get("max_runtime_min", minutes)))

    def gpu(self, rule: str) -> int:
        """1 where a job of ``rule`` runs on a GPU it should ask for, else 0."""
        if not self._row(rule).get("device"):
            return 0
        device = self.config.get("device", "auto")
        wanted = device == "cuda" or (
            device == "auto" and bool(self.config.get("cluster", {}).get("gpus"))
        )
        return int(wanted)

    # -- the dry run's check ------------------------------------------------------------------
    def memory_problems(self, node_bytes: int | None) -> list[str]:
        """One line per checked rule of the study's stages whose job needs more than
        ``node_bytes`` (the memory of the node a job runs on; None = unknown, no check)."""
        if node_bytes is None:
            return []
        stages = set(self.config.get("stages", []))
        models = self.config.get("learn", {}).get("models", [])
        problems = []
        for stage, rules in CHECKED_RULES.items():
            if stage not in stages:
                continue
            for rule in rules:
                for model in models if rule == "train_model" else [None]:
                    need = self.mem_mb(rule, model) * 1e6
                    if need > node_bytes:
                        problems.append(self._refusal(rule, model, need, node_bytes))
        return problems

    def _refusal(self, rule: str, model: str | None, need: float, node_bytes: int) -> str:
        dataset = self.config["dataset"]
        size = int(dataset["size"])
        mem = self._row(rule)["mem"]
        per_voxel = _per_voxel(mem.get("bytes_per_voxel"), model)
        job = f"one {rule} job" + (f" ({model})" if model else "")
        key = "dataset.size"
        if mem.get("of") == "batch":
            key = f"learn.{model}.batch_size and dataset.size"
        return (
            f"config key '{key}': {job} on {size}^3 structures needs about {need / 1e9:.1f} GB "
            f"({per_voxel:g} B per voxel of one {mem.get('of')} + "
            f"{mem['base_mb'] / 1e3:.1f} GB, {TABLE_PATH.name}), more than the "
            f"{node_bytes / 1e9:.1f} GB of a node (cluster.memory_gb, or this machine's); "
            f"allowed: a smaller size or batch, or a larger cluster.memory_gb where the nodes "
            f"have it"
        )


def node_memory(config: Mapping[str, Any]) -> int | None:
    """The memory of the node a job runs on, in bytes: ``cluster.memory_gb`` or this machine's
    total memory (None where it cannot be read)."""
    given = config.get("cluster", {}).get("memory_gb")
    if given is not None:
        return int(float(given) * 1e9)
    from poredesign.devices import total_memory

    return total_memory()


def memory_problems(config: Mapping[str, Any]) -> list[str]:
    """The config check: jobs of the study's stages that cannot fit in a node's memory."""
    if "dataset" not in config or "size" not in config.get("dataset", {}):
        return []
    return JobResources(config).memory_problems(node_memory(config))


__all__ = ["CHECKED_RULES", "TABLE_PATH", "JobResources", "load_table", "memory_problems"]
