"""The schema is the one source of defaults: every settings type's field defaults equal the
schema default of its key (config/schema.yaml), so a library caller gets what the workflow gets.

A settings type of one config section (:class:`poredesign.config.Settings`) maps every field to
the key of its name; the two learn types are built from a model section and the shared learn
keys, and their per-model fields are checked through ``from_config`` on each model's section.
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
    schema_default,
    schema_node,
)
from poredesign.design.benchmark import BenchmarkSettings
from poredesign.design.gradient import LatentDesignSettings, LatentTargets
from poredesign.design.refine import AbcSettings, RefineSettings
from poredesign.design.search import SearchSettings
from poredesign.learn.data import DataConfig
from poredesign.learn.factory import DATA_DEFAULTS
from poredesign.learn.fit import TrainSettings

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

#: TrainSettings: shared keys, per-model keys (learn.<model>.<field>) and what is always passed
TRAIN_SHARED = {
    "num_workers": "learn.num_workers",
    "precision": "learn.precision",
    "log_every_n_steps": "learn.log_every_n_steps",
    "device": "device",
}
TRAIN_PER_MODEL = ("epochs", "batch_size", "early_stopping", "phase_epochs")
#: DataConfig: shared keys, per-model keys, and fields that are not config keys
DATA_SHARED = {"split": "learn.split"}
DATA_PER_MODEL = DataConfig.SECTION_KEYS
DATA_NOT_CONFIG = ("scale", "periodic")  # the model's paper value (DATA_DEFAULTS), the store's
#: the study seed: from_config takes it as an argument (no section holds it)
PASSED = ("seed",)

SCHEMA = load_schema()
MODELS = schema_node("learn.models", SCHEMA)["items"]["enum"]


def default_of(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise AssertionError(f"field {f.name} has no default")


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
def test_section_settings_have_a_field_per_key_with_the_schema_default(cls):
    keys = set(schema_node(cls.SECTION, SCHEMA)["properties"])
    names = [f.name for f in dataclasses.fields(cls)]
    assert set(names) | set(cls.IGNORED) == keys, f"{cls.__name__} vs the keys of {cls.SECTION}"
    assert not set(names) & set(cls.IGNORED)
    for f in dataclasses.fields(cls):
        key = f"{cls.SECTION}.{f.name}"
        assert plain(default_of(f)) == schema_default(key, SCHEMA), f"{cls.__name__}.{f.name}"
    # the schema's defaults read back as the defaults
    assert cls.from_config(schema_default(cls.SECTION, SCHEMA)) == cls()


def test_train_settings_defaults_are_the_schemas():
    names = {f.name for f in dataclasses.fields(TrainSettings)}
    assert names == set(TRAIN_SHARED) | set(TRAIN_PER_MODEL) | set(PASSED)
    for f in dataclasses.fields(TrainSettings):
        if f.name in TRAIN_SHARED:
            assert default_of(f) == schema_default(TRAIN_SHARED[f.name], SCHEMA), f.name
    common = {k: v for k, v in schema_default("learn", SCHEMA).items() if not isinstance(v, dict)}
    for model in MODELS:
        section = schema_default(f"learn.{model}", SCHEMA)
        settings = TrainSettings.from_config(section, common, seed=7, device="cpu")
        for name in TRAIN_PER_MODEL:
            if name in section:
                assert getattr(settings, name) == section[name], f"learn.{model}.{name}"
        assert (settings.seed, settings.device) == (7, "cpu")


def test_data_config_defaults_are_the_schemas():
    names = {f.name for f in dataclasses.fields(DataConfig)}
    assert names == set(DATA_SHARED) | set(DATA_PER_MODEL) | set(DATA_NOT_CONFIG) | set(PASSED)
    for f in dataclasses.fields(DataConfig):
        if f.name in DATA_SHARED:
            assert default_of(f) == schema_default(DATA_SHARED[f.name], SCHEMA), f.name
    # the shared augmentation default (one YAML anchor for every section that has the key)
    assert DataConfig().augment == schema_default("learn.diffusivity.augment", SCHEMA)
    common = schema_default("learn", SCHEMA)
    for model in MODELS:
        section = schema_default(f"learn.{model}", SCHEMA)
        data = DataConfig.from_config(model, section, common, seed=7)
        for name in DATA_PER_MODEL:
            expected = section.get(name)
            if expected is None:  # not a key of this section (or null): the model's paper value
                expected = DATA_DEFAULTS[model].get(
                    name, default_of(DataConfig.__dataclass_fields__[name])
                )
            assert getattr(data, name) == expected, f"learn.{model}.{name}"
        assert (data.seed, data.split) == (7, common["split"])


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
    assert abc == AbcSettings(batch_size=100)
    assert RefineSettings.from_config({"abc_tolerances": [3.0, 2.0]}).abc_tolerances == (3.0, 2.0)
