"""The schema is the one source of defaults: what the library does when a caller leaves a setting
out equals what the workflow does for a study file that leaves it out.

The workflow's side goes through the path the Snakefile and the scripts take: a study file read
and validated (:func:`poredesign.config.load_config`, the schema's defaults filled in), its
sections turned into settings the way the workflow scripts do. The library's side is what a caller
gets without a config: a settings type's field defaults, :func:`poredesign.learn.train.train`'s
sample definition and Trainer settings when it is given none.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from poredesign.config import (
    ConfigError,
    Settings,
    load_config,
    load_schema,
    schema_node,
)
from poredesign.design.abc import AbcSettings
from poredesign.design.benchmark import BenchmarkSettings
from poredesign.design.gradient import LatentDesignSettings, LatentTargets
from poredesign.design.refine import RefineSettings
from poredesign.design.search import SearchSettings
from poredesign.learn.data import DataConfig
from poredesign.learn.fit import TrainSettings
from poredesign.learn.registry import MODELS as REGISTRY

SRC = Path(__file__).resolve().parents[3] / "src" / "poredesign"
CONFIGS = sorted(
    [SRC.parents[1] / "config" / "config.yaml", *(SRC.parents[1] / "config" / "studies").glob("*")]
)

#: the settings types of one config section each (fields = the section's keys)
SECTION_TYPES = [
    RefineSettings,
    AbcSettings,
    LatentDesignSettings,
    LatentTargets,
    BenchmarkSettings,
    SearchSettings,
]

#: fields of TrainSettings and DataConfig that are shared config keys, and the key
TRAIN_SHARED = {
    "num_workers": "learn.num_workers",
    "precision": "learn.precision",
    "log_every_n_steps": "learn.log_every_n_steps",
    "device": "device",
}
DATA_SHARED = {"split": "learn.split", "augment": "learn.diffusivity.augment"}

SCHEMA = load_schema()
MODELS = schema_node("learn.models", SCHEMA)["items"]["enum"]


@pytest.fixture(scope="module")
def workflow_config(tmp_path_factory) -> dict:
    """A study file that sets nothing but its name, read and validated as the workflow does."""
    path = tmp_path_factory.mktemp("defaults") / "study.yaml"
    path.write_text("study: defaults\n")
    return load_config(path)


def section_of(config: dict, key: str):
    for part in key.split("."):
        config = config[part]
    return config


def plain(value):
    """Tuples as lists, settings as mappings: the shape of the YAML value."""
    if isinstance(value, Settings):
        value = value.as_record()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@pytest.mark.parametrize("cls", SECTION_TYPES, ids=lambda c: c.__name__)
def test_section_settings_defaults_are_the_workflows(cls, workflow_config):
    keys = set(schema_node(cls.SECTION, SCHEMA)["properties"])
    names = [f.name for f in dataclasses.fields(cls)]
    assert set(names) | set(cls.IGNORED) == keys, f"{cls.__name__} vs the keys of {cls.SECTION}"
    assert not set(names) & set(cls.IGNORED)
    workflow = cls.from_config(section_of(workflow_config, cls.SECTION))
    library = cls()
    for name in names:
        assert getattr(library, name) == getattr(workflow, name), (
            f"{cls.__name__}.{name}: library default {getattr(library, name)!r}, schema default "
            f"of {cls.SECTION}.{name} {getattr(workflow, name)!r}"
        )


@pytest.mark.parametrize("model", MODELS)
def test_training_defaults_are_the_workflows(model, workflow_config):
    """train() without settings trains as the workflow's train rule does (train_model.py)."""
    learn, seed, device = workflow_config["learn"], workflow_config["seed"], "cpu"
    # the workflow: workflow/scripts/train_model.py
    data = DataConfig.for_model(model, learn[model], split=learn["split"], seed=seed)
    settings = TrainSettings.for_model(model, learn[model], learn, seed, device)
    # the library: what train() builds when given no data and no settings
    assert DataConfig.for_model(model, seed=seed) == data, f"learn.{model}: sample definition"
    assert TrainSettings.for_model(model, seed=seed, device=device) == settings, f"learn.{model}"
    # and every key of the section reaches the settings as the schema gives it
    for name in DataConfig.SECTION_KEYS:
        if name in learn[model] and learn[model][name] is not None:
            assert getattr(data, name) == learn[model][name], f"learn.{model}.{name}"
    for name in ("epochs", "batch_size", "early_stopping", "phase_epochs"):
        if name in learn[model]:
            assert getattr(settings, name) == learn[model][name], f"learn.{model}.{name}"


def test_shared_field_defaults_are_the_schemas(workflow_config):
    """The fields a caller may build by hand (TrainSettings(), DataConfig()) default to the
    schema's shared keys."""
    for cls, shared in ((TrainSettings, TRAIN_SHARED), (DataConfig, DATA_SHARED)):
        library = cls()
        for name, key in shared.items():
            assert getattr(library, name) == section_of(workflow_config, key), (
                f"{cls.__name__}.{name}: library default {getattr(library, name)!r}, schema "
                f"default of {key} {section_of(workflow_config, key)!r}"
            )


def test_the_registry_holds_the_schemas_models():
    assert list(REGISTRY) == MODELS
    learn = schema_node("learn", SCHEMA)["properties"]
    assert all(model in learn for model in MODELS)


def test_every_settings_type_is_checked():
    """A new settings type must join the tables above."""
    checked = {c.__name__ for c in SECTION_TYPES} | {"TrainSettings", "DataConfig"}
    found = set()
    for path in SRC.rglob("*.py"):
        for match in re.finditer(
            r"^class (\w+)\(([^)]*)\)|^class (\w+Settings)\b", path.read_text(), re.M
        ):
            name, bases, plain_name = match.groups()
            if plain_name or (bases and "Settings" in bases.split(",")[-1].strip().split(".")[-1]):
                found.add(name or plain_name)
    assert found - {"Settings"} <= checked, f"unchecked settings types: {found - checked}"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_study_builds_its_settings(path):
    config = load_config(path)
    design = config["design"]
    assert RefineSettings.from_config(design["refine"]).loop_record()
    assert AbcSettings.from_config(design["abc"]).sampling()
    latent = LatentDesignSettings.from_config(design["latent"])
    # the record lists the section's keys in its order (latent_design.json as before)
    assert plain(latent.as_record()) == design["latent"]
    assert list(latent.as_record()) == list(design["latent"])
    benchmark = BenchmarkSettings.from_config(design["benchmark"])
    assert plain(benchmark.as_record()) == design["benchmark"]


def test_unknown_keys_are_refused_with_their_section():
    with pytest.raises(ConfigError, match=r"'rouns' in 'design\.refine'.*allowed keys: .*rounds"):
        RefineSettings.from_config({"rouns": 2})
    with pytest.raises(ConfigError, match=r"'cout' in 'design\.latent\.targets'"):
        LatentDesignSettings.from_config({"targets": {"cout": 3}})
    # the design stage's own keys are read elsewhere, not refused
    abc = AbcSettings.from_config({"targets": {}, "population": 8, "batch_size": 100})
    assert abc == AbcSettings(population=8, batch_size=100)
    assert RefineSettings.from_config({"abc_tolerances": [3.0, 2.0]}).abc_tolerances == (3.0, 2.0)
