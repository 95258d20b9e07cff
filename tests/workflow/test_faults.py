"""Fault injection: every failure a user can cause is one clear line naming the file or key."""

import os
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
def test_damaged_files_are_one_line_naming_the_file(tmp_path, capfd, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SystemExit) as info:
        cli_main(["simulate", str(path)])
    message = str(info.value.code)
    assert str(path) in message and "\n" not in message
    assert "not a readable" in message and "list index out of range" not in message
    assert capfd.readouterr().err == ""  # no reader's warnings beside the one line


def _tiff(path, volume):
    from poredesign.structures.imported import write_tiff

    write_tiff(path, volume)
    return path


def test_a_gray_tiff_read_with_pore_value_warns_that_it_is_not_segmented(tmp_path, capfd):
    gray = np.random.default_rng(0).integers(0, 256, (12, 12, 12)).astype(np.uint8)
    path = _tiff(tmp_path / "gray.tif", gray)
    script = (
        "from poredesign.cli import build_parser, load_volume\n"
        f"args = build_parser().parse_args(['simulate', {str(path)!r}, '--pore-value', '255'])\n"
        "solid, _ = load_volume(args)\n"
        "assert solid.mean() > 0.99\n"  # what was asked; but the user is told
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert err.count("\n") == 1 and str(path) in err and "not a segmented" in err


@pytest.mark.parametrize("value", [0, 255])
def test_a_blank_tiff_is_refused_not_read_as_one_phase(tmp_path, value):
    path = _tiff(tmp_path / "blank.tif", np.full((8, 8, 8), value, np.uint8))
    with pytest.raises(SystemExit) as info:
        cli_main(["simulate", str(path)])
    message = str(info.value.code)
    assert str(path) in message and f"every voxel holds the value {value}" in message
    from poredesign.structures.segment import choose_pore_phase

    with pytest.raises(ValueError, match="imports.ct: every voxel holds"):
        choose_pore_phase(np.zeros((8, 8, 8)), porosity=0.5, name="imports.ct")


@pytest.mark.parametrize("suffix", [".tif", ".npy", ".raw"])
def test_nan_voxels_are_refused_not_read_as_pore(tmp_path, capsys, suffix):
    """A float export with NaN for pore (true porosity about 0.48) must not read as all pore."""
    from poredesign.structures.imported import write_raw

    gray = np.random.default_rng(1).random((10, 10, 10)).astype(np.float32)
    gray[gray < 0.48] = np.nan
    path = tmp_path / f"nan{suffix}"
    extra = []
    if suffix == ".tif":
        _tiff(path, gray)
    elif suffix == ".npy":
        np.save(path, gray)
    else:
        write_raw(path, gray)
        extra = ["--shape", "10", "10", "10", "--dtype", "float32"]
    with pytest.raises(SystemExit) as info:
        cli_main(["simulate", str(path), *extra])
    message = str(info.value.code)
    nan = int(np.isnan(gray).sum())
    assert message.startswith(f"{path}: {nan} NaN and 0 infinite voxels of 1000")
    assert "must be finite" in message and "\n" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # nothing written


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
    assert "chunk 3 is missing" in proc.stderr  # Snakemake's and SLURM's own logs keep it too
    # one line, in the log and on stderr; the traceback only with POREDESIGN_DEBUG=1
    assert "Traceback" not in text and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    env = {**os.environ, "POREDESIGN_DEBUG": "1"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode == 1 and "Traceback" in log.read_text() and "Traceback" in proc.stderr


# -- stores that prove they are whole ---------------------------------------------------------
def _labels(tmp_path, name="t.zarr", n=4):
    from poredesign import store

    path = tmp_path / name
    with store.atomic_group(path) as group:
        store.write_array(group, "eta", np.linspace(0.1, 0.4, 3 * n).reshape(n, 3))
        store.write_array(group, "flags", np.zeros((n, 3), dtype=np.int32))
    return path


def _structures(tmp_path, name="s.zarr", n=3):
    from poredesign import store

    rng = np.random.default_rng(0)
    path = tmp_path / name
    store.write_structures(
        path, rng.random((n, 8, 8, 8)) > 0.5, rng.random((n, 2)), ["a", "porosity"]
    )
    return path


def test_a_deleted_chunk_is_an_error_naming_store_array_and_chunk(tmp_path):
    from poredesign import store

    path = _labels(tmp_path)
    # zarr stores no chunk that holds only the fill value (flags are all 0): one chunk recorded
    assert store.verify_store(path) == 1
    chunk = next((path / "eta" / "c").rglob("*"))
    while chunk.is_dir():
        chunk = next(chunk.iterdir())
    chunk.unlink()
    with pytest.raises(store.CorruptStoreError) as info:
        store.open_group(path)
    message = str(info.value)
    assert str(path) in message and "'eta'" in message and "c/" in message


def test_a_truncated_chunk_fails_verification_and_reading(tmp_path, capsys):
    from poredesign import store

    path = _structures(tmp_path)
    chunk = sorted((path / "structures" / "c").rglob("*"))[-1]
    chunk.write_bytes(chunk.read_bytes()[:5])
    with pytest.raises(store.CorruptStoreError, match="'structures', chunk .* is damaged"):
        store.verify_store(path)
    with pytest.raises(store.CorruptStoreError, match=f"{path}: structure 2 cannot be read"):
        store.StructureStore(path)[2]
    assert cli_main(["verify", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "damaged" in err


def test_float_arrays_fill_with_nan_not_zero(tmp_path):
    from poredesign import store

    with store.atomic_group(tmp_path / "f.zarr") as group:
        array = store.write_array(group, "k", np.ones((2, 3)))
    assert np.isnan(array.metadata.fill_value)


def test_wrong_or_empty_stores_are_named(tmp_path):
    from poredesign import store

    with pytest.raises(ValueError, match="is not a structure store: it holds arrays eta, flags"):
        store.StructureStore(_labels(tmp_path))
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(store.IncompleteStoreError, match="empty.zarr is not a zarr store"):
        store.open_group(tmp_path / "empty.zarr")


def test_a_killed_writers_temporary_store_is_removed_by_the_next_writer(tmp_path):
    stale = tmp_path / ".t.zarr.tmp-12345-deadbeef"
    (stale / "eta").mkdir(parents=True)
    _labels(tmp_path)
    assert not stale.exists() and (tmp_path / "t.zarr").exists()


def test_gathered_stores_list_every_shard(tmp_path):
    from poredesign import store

    shards = []
    for i in range(3):
        path = tmp_path / f"t{i}.zarr"
        with store.atomic_group(path) as group:
            store.write_array(group, "eta", np.full((2, 3), 0.1 * (i + 1)))
            group.attrs.update({"structures": f"s{i}.zarr", "first_index": 2 * i, "axes": [0]})
        shards.append(path)
    store.gather_arrays(shards, tmp_path / "all.zarr")
    attrs = dict(store.open_group(tmp_path / "all.zarr").attrs)
    assert attrs["structures"] == ["s0.zarr", "s1.zarr", "s2.zarr"] and attrs["axes"] == [0]
    assert attrs["shard_stores"] == [str(p) for p in shards]
    store.gather_structures(
        [_structures(tmp_path, f"s{i}.zarr") for i in range(2)], tmp_path / "s.zarr"
    )
    assert len(store.StructureStore(tmp_path / "s.zarr").attrs["shard_stores"]) == 2


# -- checkpoints ------------------------------------------------------------------------------
def test_an_unusable_checkpoint_is_moved_aside_and_a_good_one_resumes(tmp_path, caplog):
    import torch

    from poredesign.learn import DiffusivityCNN
    from poredesign.learn.fit import _resume_epoch

    model = DiffusivityCNN(input_size=36, channels=[2, 2, 2], hidden=[4])
    last = tmp_path / "checkpoints" / "last.ckpt"
    last.parent.mkdir()
    torch.save({"epoch": 4, "state_dict": model.state_dict()}, last)
    assert _resume_epoch(last, model, tmp_path) == 5

    last.write_bytes(last.read_bytes()[:100])  # truncated by a killed job or a full disk
    assert _resume_epoch(last, model, tmp_path) is None
    assert not last.exists() and len(list(tmp_path.glob("last.ckpt.unusable-*"))) == 1
    assert str(last) in caplog.text and "cannot be resumed" in caplog.text

    other = DiffusivityCNN(input_size=36, channels=[2, 2, 3], hidden=[4])
    torch.save({"epoch": 1, "state_dict": other.state_dict()}, last)
    assert _resume_epoch(last, model, tmp_path) is None
    assert "do not fit the model" in caplog.text


# -- generation -------------------------------------------------------------------------------
class _Refusing:
    """A sampler whose generator refuses the first ``refusals`` draws (as Voronoi does for seed
    sets too sparse for a periodic tessellation)."""

    param_names = ("a",)

    def __init__(self, refusals: int):
        self.refusals = refusals

    def draw_params(self, rng):
        return np.array([rng.random()])

    def build(self, params, rng):
        if self.refusals > 0:
            self.refusals -= 1
            raise ValueError("voronoi: 3 seeds are too few for a periodic tessellation")
        return np.zeros((4, 4, 4), dtype=bool)

    def accept(self, solid):
        return True


def test_a_refused_draw_is_a_rejected_attempt_not_a_failed_job():
    from poredesign.structures.sampling import RejectionLimitError, draw_structure

    assert draw_structure(_Refusing(2), seed=1, index=0).attempts == 3
    with pytest.raises(RejectionLimitError, match="last refusal: voronoi: 3 seeds are too few"):
        draw_structure(_Refusing(10), seed=1, index=0, max_attempts=5)


def test_simulating_a_structure_whose_chunk_was_deleted_names_the_chunk(tmp_path, capsys):
    path = _structures(tmp_path)
    chunk = sorted((path / "structures" / "c").rglob("*"))[-1]
    while chunk.is_dir():
        chunk = next(chunk.iterdir())
    chunk.unlink()
    assert cli_main(["simulate", str(path), "--index", "2", "--property", "diffusivity"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "'structures' lost its chunk" in err


# -- config faults stop the dry run, one line each, no traceback (issue 20) ------------------------
TINY = "study: tiny\nstages: [generate]\ndataset: {size: 16, n_structures: 4, shard_size: 2}\n"
SCAN = "resources/scans/synthetic-membrane.tif"


@pytest.mark.parametrize(
    "extra, expected",
    [
        ("voronoi: {radius: .nan}\n", "config key 'voronoi.radius': value nan is not valid"),
        ("imports: {ct: {path: scans/ct.tif, porosity: 0.5}}\n", "'scans/ct.tif' does not exist"),
        (f"imports: {{'../../x': {{path: {SCAN}, porosity: 0.5}}}}\n", "the name '../../x'"),
        (f"imports: {{'$(touch y)': {{path: {SCAN}, porosity: 0.5}}}}\n", "the name '$(touch y)'"),
        ("seed: 1\nseed: 2\n", "line 5: key 'seed' is given twice (first on line 4)"),
    ],
    ids=["nan", "missing-scan", "dotdot-scan-name", "shell-scan-name", "duplicate-key"],
)
def test_config_faults_stop_the_dry_run_in_one_line_without_traceback(
    workflow_copy, extra, expected
):
    from conftest import run_snakemake

    (workflow_copy / "study.yaml").write_text(TINY + extra)
    proc = run_snakemake(workflow_copy, "-n", "--configfile", "study.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert expected in out, out
    assert "Traceback" not in out and 'File "' not in out
    problems = [line for line in out.splitlines() if line.strip()]
    assert len(problems) <= 2, out  # "Error: invalid configuration:" and the one problem
    assert not (workflow_copy / "results").exists() and not (workflow_copy.parent / "x").exists()
    assert not (workflow_copy / "y").exists()
    verbose = run_snakemake(
        workflow_copy, "-n", "--verbose", "--configfile", "study.yaml", check=False
    )
    assert verbose.returncode == 1 and "Traceback" in verbose.stdout + verbose.stderr


@pytest.mark.parametrize(
    "study, expected",
    [
        (
            "stages: [generate, simulate, train]\ndataset: {size: 16, n_structures: 2}\n"
            "learn: {split: [0.5, 0.25, 0.25]}\n",
            "config key 'learn.split': [0.5, 0.25, 0.25] of 2 structures (dataset.n_structures) "
            "leaves the validation and test set empty (train 2, validation 0, test 0)",
        ),
        (
            "generator: voronoi\nstages: [generate, simulate, train, latent]\n"
            "dataset: {size: 16, n_structures: 20}\nlearn: {models: [vae], split: [0.9, 0.1, 0]}\n",
            "config key 'learn.split': [0.9, 0.1, 0] of 20 structures (dataset.n_structures) "
            "leaves the test set empty (train 18, validation 2, test 0)",
        ),
        (
            "generator: squares\nstages: [generate, simulate, train]\n"
            "dataset: {size: 40, n_structures: 100}\nlabels: {solver_subset: 10}\n"
            "learn: {models: [permeability], split: [0.9, 0.05, 0.05]}\n"
            "transport: {properties: [permeability]}\n",
            "of 10 structures (labels.solver_subset) leaves the validation and test set empty",
        ),
        (
            "generator: voronoi\nstages: [generate, simulate, train, transfer]\n"
            "dataset: {size: 16, n_structures: 20}\nlearn: {models: [vae]}\n"
            "transfer_data: {n_structures: 3, split: [0.9, 0, 0.1]}\n",
            "config key 'transfer_data.split': [0.9, 0, 0.1] of 3 structures "
            "(transfer_data.n_structures) leaves the test set empty",
        ),
    ],
    ids=["two-structures", "no-test-set", "solver-subset", "transfer"],
)
def test_a_split_with_an_empty_set_is_refused_at_the_dry_run(workflow_copy, study, expected):
    """Every set a stage uses holds a structure, whatever the generator: an empty validation set
    reported a best validation loss of nothing, an empty test set no metrics, without a word."""
    from conftest import run_snakemake

    (workflow_copy / "study.yaml").write_text(f"study: tiny\n{study}")
    proc = run_snakemake(workflow_copy, "-n", "--configfile", "study.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and expected in out, out
    assert "allowed: fractions (or more structures) that give each of" in out
    assert "Traceback" not in out and not (workflow_copy / "results").exists()


def test_the_readme_override_of_n_structures_dry_runs_on_a_study_with_larger_shards(
    workflow_copy,
):
    from conftest import ROOT, run_snakemake

    study = ROOT / "config" / "studies" / "voronoi-vae-small.yaml"
    proc = run_snakemake(
        workflow_copy, "-n", "--configfile", str(study), "--config", "dataset={n_structures: 10}"
    )
    assert "generate_shard" in proc.stdout + proc.stderr


# -- the command line: lateral boundaries, axes of a TIFF (issue 20) -----------------------------
def test_closed_lateral_sides_make_an_open_box_a_square_duct():
    """Closed sides (TauFactor's and porespy's convention): an empty 16^2 cross section is the
    square duct, k = 0.03514 a^2 (Poiseuille in a square duct), not an unbounded flow."""
    from poredesign.transport.flow import permeability

    result = permeability(np.zeros((16, 16, 4), bool), "z", lateral="closed", device="cpu")
    assert result.ok and result.lateral == "closed"
    assert result.k / 16**2 == pytest.approx(0.03514, rel=0.01)


def test_the_cli_passes_the_lateral_choice_to_both_solvers(volume, monkeypatch):
    import poredesign.transport

    seen = {}

    def record(solid, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("recorded")

    monkeypatch.setattr(poredesign.transport, "properties", record)
    cli_main(["simulate", str(volume / "v.npy"), "--lateral", "closed"])
    assert seen["flow"]["lateral"] == seen["diffusion"]["lateral"] == "closed"
    cli_main(["simulate", str(volume / "v.npy")])
    assert seen["flow"]["lateral"] == seen["diffusion"]["lateral"] == "periodic"


def test_help_says_which_tiff_axis_becomes_x_y_z(capsys):
    with pytest.raises(SystemExit):
        cli_main(["simulate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "columns are x, its rows y and its pages" in text and "--lateral" in text


def test_a_tiff_stack_is_read_columns_x_rows_y_pages_z(tmp_path):
    import tifffile

    from poredesign.structures.imported import read_tiff

    pages = np.zeros((5, 4, 3), np.uint8)  # (pages, rows, columns) as tifffile writes them
    pages[4, 0, 0] = 9  # last page, first row, first column
    tifffile.imwrite(tmp_path / "s.tif", pages, photometric="minisblack")
    volume = read_tiff(tmp_path / "s.tif")
    assert volume.shape == (3, 4, 5) and volume[0, 0, 4] == 9


# -- runtime faults (issue 20) ---------------------------------------------------------------------
@pytest.fixture
def full_disk(tmp_path):
    """A 1 MiB tmpfs (needs root and mount); skipped, saying why, where it cannot be mounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_while_writing_a_store_names_it_and_keeps_nothing_half_written(full_disk):
    import errno

    from poredesign import store

    path = full_disk / "t.zarr"
    with store.atomic_group(path) as group:  # an earlier, complete store
        store.write_array(group, "eta", np.full((4, 3), 0.5))
    noise = np.random.default_rng(0).random((200_000,))  # 1.6 MB, incompressible
    with pytest.raises(OSError) as info:
        with store.atomic_group(path) as group:
            store.write_array(group, "eta", noise)
    assert info.value.errno == errno.ENOSPC
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert sorted(p.name for p in full_disk.iterdir()) == ["t.zarr"]  # no temporary left
    assert store.open_group(path)["eta"][0, 0] == 0.5  # the earlier store is untouched
