"""The shared homes: device and precision resolution, JSON conversion, the one MAPE."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from poredesign import devices
from poredesign.jsonable import jsonable
from poredesign.learn.metrics import mape


def test_auto_resolves_to_what_each_framework_finds():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert devices.resolve_device("auto") == devices.resolve_device(None) == expected
    assert devices.resolve_device("cpu", "taichi") == "cpu"
    assert devices.torch_device("cpu") == torch.device("cpu")


def test_bad_device_names_and_missing_cuda_are_errors():
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        devices.resolve_device("gpu")
    with pytest.raises(ValueError):
        devices.resolve_device("cpu:1")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            devices.resolve_device("cuda")


def test_precision_is_bf16_on_cuda_and_fp32_on_the_cpu():
    assert devices.lightning_accelerator("cpu") == "cpu"
    assert devices.lightning_precision("cpu") == "32-true"
    assert devices.lightning_precision("cpu", "16-mixed") == "16-mixed"
    with devices.autocast("cpu"):
        assert torch.ones(2).dtype == torch.float32
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_jsonable_converts_numpy_torch_and_paths():
    value = {
        1: (np.float32(0.5), np.arange(3)),
        "t": torch.tensor([1.0, 2.0]),
        "p": Path("a/b"),
        "nan": math.nan,
    }
    out = jsonable(value)
    assert out == {"1": [0.5, [0, 1, 2]], "t": [1.0, 2.0], "p": "a/b", "nan": out["nan"]}
    assert math.isnan(out["nan"])
    strict = jsonable({"x": [np.nan, np.float64(np.inf), 1.0]}, nan_as_none=True)
    assert json.dumps(strict, allow_nan=False) == '{"x": [null, null, 1.0]}'


def test_mape_per_column_per_row_and_overall():
    pred = np.array([[1.1, 2.0], [0.9, 3.0]])
    true = np.array([[1.0, 2.0], [1.0, 2.0]])
    assert np.allclose(mape(pred, true), [10.0, 25.0])
    assert np.allclose(mape(pred, true, axis=1), [5.0, 30.0])
    assert np.isclose(mape(pred, true, axis=None), 17.5)
    # broadcasting a target row, and the torch path used for logging gives the same number
    assert np.allclose(mape(pred, true[0], axis=1), [5.0, 30.0])
    assert float(mape(torch.tensor(pred), torch.tensor(true), axis=None)) == pytest.approx(17.5)


def test_write_json_is_atomic_and_writes_nan_as_null(tmp_path):
    from poredesign.jsonable import write_json

    path = write_json(tmp_path / "sub" / "r.json", {"x": np.float64("nan"), "y": (1, 2)})
    assert json.loads(path.read_text()) == {"x": None, "y": [1, 2]}
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.json"]  # no temporary left


def test_write_json_keeps_the_older_formats_and_read_json_reads_them(tmp_path):
    from poredesign.jsonable import read_json, write_json

    value = {"x": float("nan"), "y": [1.5, float("inf")]}
    strict = write_json(tmp_path / "a.json", value)
    assert strict.read_text() == json.dumps({"x": None, "y": [1.5, None]}, indent=2) + "\n"
    legacy = write_json(tmp_path / "b.json", value, nan_as_none=False, newline=False)
    assert legacy.read_text() == json.dumps(value, indent=2)  # NaN/Infinity, no final newline
    back = read_json(legacy)
    assert math.isnan(back["x"]) and back["y"] == [1.5, math.inf]
    assert read_json(strict) == {"x": None, "y": [1.5, None]}
