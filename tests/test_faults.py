"""Fault injection: every failure a user can cause is one clear line naming the file or key."""

import subprocess
import sys

import numpy as np
import pytest

from poredesign.cli import main as cli_main


@pytest.fixture
def volume(tmp_path):
    solid = np.zeros((8, 8, 8), dtype=bool)
    solid[:, :, 0] = True
    np.save(tmp_path / "v.npy", solid)
    return tmp_path


@pytest.mark.parametrize(
    "name, content",
    [
        ("empty.npy", b""),  # numpy: EOFError
        ("garbage.tif", b"II*\x00" + b"garbage" * 8),  # tifffile: IndexError
        ("short.npy", np.lib.format.MAGIC_PREFIX + b"\x01\x00"),  # truncated header
    ],
)
def test_damaged_files_are_one_line_naming_the_file(tmp_path, capsys, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SystemExit) as info:
        cli_main(["simulate", str(path)])
    message = str(info.value.code)
    assert str(path) in message and "\n" not in message


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--voxel-size", "-1", "not a positive number"),
        ("--voxel-size", "nan", "not a positive number"),
        ("--max-steps", "-5", "below the minimum 1"),
        ("--threads", "0", "below the minimum 1"),
        ("--index", "-1", "below the minimum 0"),
    ],
)
def test_cli_numbers_are_validated(volume, capsys, option, value, expected):
    with pytest.raises(SystemExit) as info:
        cli_main(["simulate", str(volume / "v.npy"), option, value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert option in err and expected in err


def test_an_error_inside_a_command_is_one_line_with_exit_status_1(volume, capsys, monkeypatch):
    import poredesign.transport

    def broken(*args, **kwargs):
        raise RuntimeError("device 'cuda' was asked for, but taichi finds no CUDA device here")

    monkeypatch.setattr(poredesign.transport, "properties", broken)
    assert cli_main(["simulate", str(volume / "v.npy")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert str(volume / "v.npy") in err and "no CUDA device" in err and "--debug" in err
    with pytest.raises(RuntimeError):
        cli_main(["--debug", "simulate", str(volume / "v.npy")])


def test_a_failing_rule_script_writes_its_error_into_the_rule_log(tmp_path):
    log = tmp_path / "logs" / "rule.log"
    log.parent.mkdir()
    script = (
        "from poredesign.runlog import setup_logging\n"
        f"setup_logging({str(log)!r})\n"
        "raise ValueError('structure 3 of shards/s.zarr: chunk 3 is missing')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 1
    text = log.read_text()
    first_error = next(line for line in text.splitlines() if " ERROR " in line)
    assert first_error.endswith("structure 3 of shards/s.zarr: chunk 3 is missing [ValueError]")
    assert "Traceback" in text
    assert "chunk 3 is missing" in proc.stderr  # Snakemake's and SLURM's own logs keep it too
