"""Config validation: defaults filled, errors name the key, the value and what is allowed."""

import numpy as np
import pytest

from poredesign.config import ConfigError, validate_config


def test_defaults_are_filled():
    config = validate_config({"dataset": {"size": 32}})
    assert config["dataset"]["size"] == 32
    assert config["dataset"]["shard_size"] == 32
    assert config["spinodoid"]["porosity_range"] == [0.3, 0.85]
    assert config["generator"] == "spinodoid"


@pytest.mark.parametrize(
    "config, expected",
    [
        ({"dataset": {"size": 5000}}, ["dataset.size", "5000", "<= 1024"]),
        ({"dataset": {"n_structures": 0}}, ["dataset.n_structures", ">= 1"]),
        ({"generator": "cubes"}, ["generator", "cubes", "spinodoid"]),
        ({"datset": {}}, ["unknown config key", "'datset'", "dataset"]),
        ({"dataset": {"sise": 3}}, ["'sise'", "in 'dataset'", "size"]),
        ({"spinodoid": {"porosity_range": [0.5, 1.5]}}, ["spinodoid.porosity_range.1", "< 1"]),
        ({"spinodoid": {"m_range": [0.3, 0.1]}}, ["spinodoid.m_range", "min > max"]),
        (
            {"learn": {"diffusivity": {"hparams": {"chanels": [4, 8, 12]}}}},
            ["'chanels'", "learn.diffusivity.hparams", "channels"],
        ),
        ({"study": ".."}, ["'study'", "'..'"]),
        (
            {"imports": {"scan": {"path": "s.tif", "pore_value": 255, "porosity": 0.5}}},
            ["imports.scan", "exactly one of pore_value", "porosity", "both given"],
        ),
        ({"imports": {"scan": {"path": "s.tif"}}}, ["imports.scan", "neither given"]),
        (
            {"transfer_data": {"split": [0.5, 0.0, 0.4]}},
            ["transfer_data.split", "sums to 0.9"],
        ),
        (
            {"design": {"bo": {"bounds": {"radius": [6.0, 2.0]}}}},
            ["design.bo.bounds.radius", "min > max"],
        ),
        (
            {
                "generator": "squares",
                "dataset": {"size": 40},
                "squares": {"n_pores_range": [1, 20]},
            },
            ["squares.n_pores_range", "20 pores of 10x10", "at most 16"],
        ),
        (
            {"learn": {"pvae": {"search": {"latent_range": [64, 8]}}}},
            ["learn.pvae.search.latent_range", "min > max"],
        ),
        ({"study": "."}, ["'study'", "'.'"]),
        ({"learn": {"split": [0.8, 0.1, 0.2]}}, ["learn.split", "sums to 1.1", "sum to 1"]),
        (
            {"design": {"abc": {"tolerances": [10.0, 20.0, 5.0]}}},
            ["design.abc.tolerances", "[10.0, 20.0, 5.0]", "decreasing"],
        ),
        (
            {"design": {"refine": {"abc_tolerances": [4.0, 6.0]}}},
            ["design.refine.abc_tolerances", "[4.0, 6.0]", "decreasing"],
        ),
        ({"design": {"refine": {"rounds": 0}}}, ["design.refine.rounds", "0"]),
        ({"design": {"refine": {"tolerance": -1}}}, ["design.refine.tolerance", "-1"]),
        (
            {"generator": "voronoi", "stages": ["generate", "design"]},
            ["'stages'", "'design'", "'voronoi'", "spinodoid"],
        ),
    ],
)
def test_invalid_values_are_reported_with_key_value_and_allowed(config, expected):
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    for text in expected:
        assert text in str(info.value)


@pytest.mark.parametrize(
    "config, old, new",
    [
        ({"transport": {"flow": {"tau": 0.8}}}, "transport.flow.tau", "relaxation_time"),
        ({"learn": {"pvae": {"stage_epochs": [1, 1, 1]}}}, "learn.pvae.stage_epochs", "phase"),
        (
            {"learn": {"pvae": {"search": {"stage_epochs": [1, 1, 1]}}}},
            "learn.pvae.search.stage_epochs",
            "learn.pvae.search.phase_epochs",
        ),
    ],
)
def test_a_renamed_key_names_its_new_name(config, old, new):
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    assert f"'{old}' was renamed" in str(info.value) and new in str(info.value)


def test_the_new_key_names_validate():
    config = validate_config(
        {
            "transport": {"flow": {"relaxation_time": 0.8}},
            "learn": {"pvae": {"phase_epochs": [2, 1, 1]}},
        }
    )
    assert config["transport"]["flow"]["relaxation_time"] == 0.8
    assert config["learn"]["pvae"]["search"]["phase_epochs"] == [50, 50, 50]


def test_nested_command_line_overrides_are_read_by_the_schema_types():
    """snakemake --config dataset='{n_structures: 5}' passes nested values as strings."""
    config = validate_config(
        {
            "study": "007",
            "dataset": {"n_structures": "5", "shard_size": "5"},
            "learn": {"split": ["0.5", "0.25", "0.25"]},
            "transport": {"flow": {"relaxation_time": "0.9"}},
        }
    )
    assert config["study"] == "007"  # a string key stays a string
    assert config["dataset"]["n_structures"] == 5 and config["dataset"]["shard_size"] == 5
    assert config["learn"]["split"] == [0.5, 0.25, 0.25]
    assert config["transport"]["flow"]["relaxation_time"] == 0.9
    with pytest.raises(ConfigError, match="dataset.n_structures"):
        validate_config({"dataset": {"n_structures": "five"}})


@pytest.mark.parametrize(
    "config, expected",
    [
        (
            {
                "dataset": {"size": 30, "n_structures": 8, "shard_size": 8},
                "learn": {"diffusivity": {"pool": False}},
            },
            ["dataset.size", "30", "at least 36"],
        ),
        (
            {"dataset": {"size": 64}, "learn": {"diffusivity": {"pool": True}}},
            ["dataset.size", "pooled to 32", "at least 36", "pool: false"],
        ),
        (
            {"dataset": {"size": 12}, "learn": {"models": ["vae"]}},
            ["dataset.size", "vae needs inputs of at least 16"],
        ),
        (
            {
                "dataset": {"size": 40},
                "learn": {"diffusivity": {"pool": False, "hparams": {"input_size": 20}}},
            },
            ["learn.diffusivity.hparams.input_size", "20", "40"],
        ),
    ],
)
def test_model_settings_that_cannot_train_are_refused_before_any_job(config, expected):
    validate_config({**config, "stages": ["generate"]})  # nothing is trained: no objection
    with pytest.raises(ConfigError) as info:
        validate_config({**config, "stages": ["generate", "simulate", "train"]})
    for text in expected:
        assert text in str(info.value)


def test_the_schema_lists_exactly_the_models_constructor_arguments():
    """learn.<model>.hparams in the schema and the model classes cannot drift apart."""
    import inspect

    import yaml

    from poredesign.config import SCHEMA_PATH
    from poredesign.learn.registry import MODELS
    from poredesign.learn.shapes import minimum_input_edge

    learn = yaml.safe_load(SCHEMA_PATH.read_text())["properties"]["learn"]["properties"]
    for name, spec in MODELS.items():
        cls = spec.load()
        # targets and dims come from the sample definition (learn.<model>.targets, .dims)
        arguments = set(inspect.signature(cls.__init__).parameters) - {"self", "targets", "dims"}
        assert set(learn[name]["properties"]["hparams"]["properties"]) == arguments, name
        # the torch-free arithmetic matches the model: the smallest input builds, one less fails
        n = len(spec.channels)
        smallest = minimum_input_edge(name, n)
        kwargs = {"pretrained": False} if name == "transfer" else {}
        cls(input_size=smallest, **kwargs)
        with pytest.raises(ValueError, match="too small"):
            cls(input_size=smallest - 1, **kwargs)


# -- round two of the fault probe (issue 20) -----------------------------------------------------
@pytest.mark.parametrize(
    "config, expected",
    [
        ({"voronoi": {"radius": float("nan")}}, ["'voronoi.radius'", "nan", "finite number"]),
        ({"voronoi": {"radius": float("inf")}}, ["'voronoi.radius'", "inf"]),
        ({"spinodoid": {"m_range": [0.1, float("nan")]}}, ["'spinodoid.m_range.1'", "nan"]),
    ],
)
def test_nan_and_infinity_are_refused_naming_the_key(config, expected):
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    assert all(word in str(info.value) for word in expected), str(info.value)


@pytest.mark.parametrize("name", ["a/b", "../../x", "$(touch pwned)", ".hidden", "a b", ""])
def test_scan_and_target_names_that_are_not_plain_file_names_are_refused(name):
    scan = {"path": "resources/scans/synthetic-membrane.tif", "porosity": 0.7}
    with pytest.raises(ConfigError, match=r"config key 'imports': the name .* is not allowed"):
        validate_config({"imports": {name: scan}})
    target = {"radius": 3.0, "n_points": 200, "stretch": [1.0, 1.0, 0.5]}
    with pytest.raises(ConfigError, match=r"'design.bo.targets': the name .* is not allowed"):
        validate_config({"design": {"bo": {"targets": {name: target}}}})


def test_a_scan_file_that_does_not_exist_or_is_no_volume_is_a_config_error(tmp_path):
    missing = {"imports": {"ct": {"path": str(tmp_path / "ct.tif"), "porosity": 0.5}}}
    with pytest.raises(ConfigError, match=r"'imports.ct.path': .*ct.tif' does not exist"):
        validate_config(missing)
    (tmp_path / "ct.tif").write_bytes(b"II*\x00" + b"garbage" * 8)
    with pytest.raises(ConfigError, match=r"'imports.ct.path': .*ct.tif: not a readable TIFF"):
        validate_config(missing)
    np.save(tmp_path / "ct.npy", np.zeros((20, 20, 20), np.uint8))
    small = {"imports": {"ct": {"path": str(tmp_path / "ct.npy"), "pore_value": 0, "crop": 32}}}
    with pytest.raises(ConfigError, match=r"'imports.ct.crop': 32 voxels .* crop <= 20"):
        validate_config(small)
    (tmp_path / "ct.raw").write_bytes(bytes(100))
    raw = {"path": str(tmp_path / "ct.raw"), "shape": [5, 5, 5], "dtype": "uint8", "porosity": 0.5}
    with pytest.raises(ConfigError, match=r"'imports.ct.path': .*has 100 bytes.*needs 125"):
        validate_config({"imports": {"ct": raw}})


def test_a_key_given_twice_in_a_study_file_is_refused_with_its_line(tmp_path):
    from poredesign.config import load_config

    path = tmp_path / "study.yaml"
    path.write_text("study: twice\ndataset:\n  size: 16\n  size: 32\n")
    with pytest.raises(ConfigError, match=r"study.yaml, line 4: key 'size' is given twice"):
        load_config(path)


def test_a_shard_size_above_the_dataset_is_one_shard():
    """`--config dataset='{n_structures: 5}'` on a study whose shard_size is 75 (README)."""
    config = validate_config({"dataset": {"n_structures": 5, "shard_size": 75}})
    assert config["dataset"]["shard_size"] == 5
