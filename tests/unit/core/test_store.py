"""The zarr store layout: round trips, gather, atomic writes, shard independence."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import zarr

from poredesign import store
from poredesign.structures import SpinodoidSampler, generate_dataset


def _tiny(tmp_path, name, start, stop, seed=3):
    path = tmp_path / name
    generate_dataset(
        path, SpinodoidSampler(size=16), seed=seed, start=start, stop=stop, generator="spinodoid"
    )
    return path


def test_structure_store_layout(tmp_path):
    path = _tiny(tmp_path, "s.zarr", 0, 4)
    s = store.StructureStore(path)
    assert len(s) == 4 and s.size == (16, 16, 16)
    assert s.param_names == ["a_x", "a_y", "a_z", "porosity"]
    assert s.params.shape == (4, 4) and np.all(np.isfinite(s.params))
    assert s[0].dtype == bool
    assert s.structures.chunks == (1, 16, 16, 16)
    assert s.attrs["generator"] == "spinodoid" and s.attrs["seed"] == 3
    assert s.attrs["code_version"] and s.attrs["complete"] is True
    assert np.all(s.attempts >= 1)
    # the porosity parameter is the porosity of the stored structure
    assert np.allclose([1 - s[i].mean() for i in range(4)], s.params[:, 3], atol=1 / 16**3)
    # zarr v3 on disk, compressed
    assert (path / "zarr.json").exists()
    assert zarr.open_group(str(path), mode="r").metadata.zarr_format == 3


def test_structures_do_not_depend_on_sharding(tmp_path):
    whole = store.StructureStore(_tiny(tmp_path, "whole.zarr", 0, 6))
    parts = [_tiny(tmp_path, "a.zarr", 0, 2), _tiny(tmp_path, "b.zarr", 2, 6)]
    store.gather_structures(parts, tmp_path / "gathered.zarr")
    gathered = store.StructureStore(tmp_path / "gathered.zarr")
    assert np.array_equal(whole[:], gathered[:])
    assert np.array_equal(whole.params, gathered.params)
    assert gathered.attrs["n"] == 6 and gathered.attrs["shards"] == 2
    assert gathered.attrs["draws"] == int(whole.attempts.sum())


def test_gather_rejects_mismatched_shards(tmp_path):
    a = _tiny(tmp_path, "a.zarr", 0, 1)
    b = tmp_path / "b.zarr"
    generate_dataset(b, SpinodoidSampler(size=12), seed=1, start=1, stop=2)
    with pytest.raises(ValueError, match="size"):
        store.gather_structures([a, b], tmp_path / "out.zarr")


def test_exception_inside_atomic_group_leaves_nothing(tmp_path):
    target = tmp_path / "x.zarr"
    with pytest.raises(RuntimeError), store.atomic_group(target) as group:
        store.write_array(group, "a", np.arange(3))
        raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_group_replaces_an_older_store(tmp_path):
    target = tmp_path / "x.zarr"
    for value in (1, 2):
        with store.atomic_group(target) as group:
            store.write_array(group, "a", np.full(3, value))
    assert store.open_group(target)["a"][0] == 2


def test_killed_writer_leaves_no_complete_looking_store(tmp_path):
    """SIGKILL in the middle of a dataset write: the final path never appears."""
    target = tmp_path / "killed.zarr"
    code = textwrap.dedent(f"""
        from poredesign.structures import SpinodoidSampler, generate_dataset
        generate_dataset({str(target)!r}, SpinodoidSampler(size=32), seed=0, start=0, stop=10000)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            partial = [p for p in tmp_path.iterdir() if p.name.startswith(".killed.zarr.tmp")]
            if partial and any((partial[0] / "structures").rglob("c/*")):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the writer never started writing chunks")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not target.exists()
    with pytest.raises(store.IncompleteStoreError):
        store.open_group(partial[0])
    with pytest.raises(FileNotFoundError):
        store.StructureStore(target)


def _rewrite_metadata(path, edit):
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            lambda m: m.update(data_type="int64", fill_value=0),
            "has dtype int64 but was written with float64",
        ),
        (
            lambda m: m["chunk_grid"]["configuration"].update(chunk_shape=[1, 3]),
            "has chunk_shape [1, 3] but was written with [2, 3]",
        ),
        (lambda m: m["codecs"][0]["configuration"].update(endian="big"), "checksum differs"),
    ],
)
def test_a_rewritten_array_metadata_is_refused_naming_the_store(tmp_path, edit, expected):
    """Chunks untouched, metadata rewritten: the same bytes would decode as other numbers."""
    path = tmp_path / "t.zarr"
    with store.atomic_group(path) as group:
        store.write_array(group, "a", np.arange(6.0).reshape(2, 3))
    _rewrite_metadata(path / "a" / "zarr.json", edit)
    for check in (store.open_group, store.verify_store):
        with pytest.raises(store.CorruptStoreError) as info:
            check(path)
        message = str(info.value)
        assert f"store {path}" in message and "'a'" in message and expected in message
        assert "\n" not in message


def test_a_structure_store_with_a_rewritten_dtype_is_refused(tmp_path):
    path = _tiny(tmp_path, "s.zarr", 0, 2)
    _rewrite_metadata(
        path / "params" / "zarr.json", lambda m: m.update(data_type="int64", fill_value=0)
    )
    with pytest.raises(store.CorruptStoreError, match="'params' has dtype int64"):
        store.StructureStore(path)


@pytest.mark.parametrize("where", ["zarr.json", "a/zarr.json"])
def test_a_truncated_zarr_json_is_an_error_naming_the_store(tmp_path, capsys, where):
    path = tmp_path / "t.zarr"
    with store.atomic_group(path) as group:
        store.write_array(group, "a", np.arange(3.0))
    meta = path / where
    meta.write_bytes(meta.read_bytes()[:40])
    with pytest.raises(store.CorruptStoreError) as info:
        store.verify_store(path)
    message = str(info.value)
    assert f"store {path}" in message and str(meta) in message and "unreadable" in message
    from poredesign.cli import main

    assert main(["verify", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(meta) in err and "JSONDecodeError" in err
