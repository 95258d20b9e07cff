"""Import of real volumes (SPEC 1.4): readers, porosity-matched threshold, cropping, resize."""

import json

import numpy as np
import pytest
import tifffile
from scipy import ndimage

from poredesign import cli
from poredesign.cli import main as cli_main
from poredesign.structures import porosity
from poredesign.structures.imported import (
    check_phase_options,
    choose_pore_phase,
    crop_cubes,
    cube_origins,
    import_volume,
    pore_phase_by_value,
    read_npy,
    read_raw,
    read_tiff,
    read_volume,
    render_gray,
    threshold_porosity,
    write_raw,
    write_tiff,
)


def gray_volume(shape=(40, 36, 30), seed=0, dtype=np.uint16):
    """A smooth random gray volume in the range of the dtype, like a tomogram."""
    field = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal(shape), 2.0)
    field = (field - field.min()) / (field.max() - field.min())
    if np.issubdtype(dtype, np.integer):
        return (field * np.iinfo(dtype).max).astype(dtype)
    return field.astype(dtype)


# ---------------------------------------------------------------------------------------------
# readers


def test_tiff_multipage_round_trip_pages_are_z(tmp_path):
    volume = gray_volume((7, 5, 3))
    write_tiff(tmp_path / "stack.tif", volume)
    assert tifffile.imread(tmp_path / "stack.tif").shape == (3, 5, 7)  # (pages=z, rows=y, cols=x)
    back = read_tiff(tmp_path / "stack.tif")
    assert back.dtype == volume.dtype and np.array_equal(back, volume)
    assert np.array_equal(read_volume(tmp_path / "stack.tif"), volume)


def test_tiff_folder_of_slices_in_natural_order(tmp_path):
    volume = gray_volume((6, 4, 12), dtype=np.uint8)
    for z in range(volume.shape[2]):
        tifffile.imwrite(tmp_path / f"slice_{z + 1}.tif", volume[:, :, z].T)  # rows y, cols x
    (tmp_path / "notes.txt").write_text("ignored")
    assert np.array_equal(read_tiff(tmp_path), volume)
    assert np.array_equal(read_volume(tmp_path), volume)


def test_tiff_bool_is_written_as_0_255(tmp_path):
    solid = np.random.default_rng(1).random((8, 8, 8)) < 0.4
    write_tiff(tmp_path / "b.tiff", solid)
    back = read_tiff(tmp_path / "b.tiff")
    assert back.dtype == np.uint8 and np.array_equal(back == 255, solid)


def test_tiff_errors(tmp_path):
    tifffile.imwrite(tmp_path / "single.tif", np.zeros((5, 5), np.uint8))
    with pytest.raises(ValueError, match="single 2-D image"):
        read_tiff(tmp_path / "single.tif")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .tif"):
        read_tiff(tmp_path / "empty")
    (tmp_path / "mixed").mkdir()
    tifffile.imwrite(tmp_path / "mixed" / "a1.tif", np.zeros((5, 5), np.uint8))
    tifffile.imwrite(tmp_path / "mixed" / "a2.tif", np.zeros((5, 6), np.uint8))
    with pytest.raises(ValueError, match="one shape"):
        read_tiff(tmp_path / "mixed")
    with pytest.raises(FileNotFoundError):
        read_tiff(tmp_path / "missing.tif")
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((4, 5, 6, 3), np.uint8), photometric="rgb")
    with pytest.raises(ValueError, match="colour"):
        read_tiff(tmp_path / "rgb.tif")


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32", "float64"])
@pytest.mark.parametrize("byte_order", ["little", "big"])
@pytest.mark.parametrize("order", ["F", "C"])
def test_raw_round_trip(tmp_path, dtype, byte_order, order):
    volume = gray_volume((9, 7, 5), dtype=np.dtype(dtype).type)
    path = tmp_path / "v.raw"
    write_raw(path, volume, byte_order=byte_order, order=order)
    back = read_raw(path, (9, 7, 5), dtype, byte_order=byte_order, order=order)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert np.array_equal(back, volume)


def test_raw_layout_x_fastest_and_header(tmp_path):
    volume = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4)
    path = tmp_path / "v.raw"
    # ImageJ/Avizo layout: x fastest = C order of the (z, y, x) array; big-endian; 16-byte header
    path.write_bytes(b"H" * 16 + volume.transpose(2, 1, 0).astype(">u2").tobytes())
    back = read_volume(path, shape=(2, 3, 4), dtype="uint16", byte_order="big", offset=16)
    assert np.array_equal(back, volume)


def test_raw_errors_name_the_problem(tmp_path):
    path = tmp_path / "v.raw"
    np.zeros(10 * 10 * 10, np.uint16).tofile(path)
    with pytest.raises(ValueError, match=r"2000 bytes.*needs 1000.*fits 1000 voxels of uint16"):
        read_raw(path, (10, 10, 10), "uint8")
    with pytest.raises(ValueError, match="needs 2016"):
        read_raw(path, (10, 10, 10), "uint16", offset=16)
    with pytest.raises(ValueError, match="dtype"):
        read_raw(path, (10, 10, 10), "complex64")
    with pytest.raises(ValueError, match="not a numpy dtype"):
        read_raw(path, (10, 10, 10), "voxel16")
    with pytest.raises(ValueError, match="shape"):
        read_raw(path, (10, 100), "uint16")
    with pytest.raises(ValueError, match="byte_order"):
        read_raw(path, (10, 10, 10), "uint16", byte_order="middle")
    with pytest.raises(ValueError, match="shape=.*dtype"):
        read_volume(path)
    with pytest.raises(FileNotFoundError):
        read_raw(tmp_path / "missing.raw", (10, 10, 10), "uint8")


def test_npy_round_trip_and_errors(tmp_path):
    volume = gray_volume((6, 5, 4), dtype=np.float32)
    np.save(tmp_path / "v.npy", volume)
    assert np.array_equal(read_volume(tmp_path / "v.npy"), volume)
    np.save(tmp_path / "flat.npy", np.zeros((4, 4)))
    with pytest.raises(ValueError, match="3-D"):
        read_npy(tmp_path / "flat.npy")
    np.save(tmp_path / "text.npy", np.array([["a"]] * 2))
    with pytest.raises(ValueError):
        read_npy(tmp_path / "text.npy")


# ---------------------------------------------------------------------------------------------
# threshold, crop, resize


@pytest.mark.parametrize("target", [0.2, 0.45, 0.8])
@pytest.mark.parametrize("sigma", [None, 1.5])
def test_threshold_hits_target_porosity(target, sigma):
    gray = gray_volume((40, 40, 40), seed=3, dtype=np.float32)
    solid = threshold_porosity(gray, target, sigma=sigma)
    assert solid.dtype == bool and solid.shape == gray.shape
    assert abs(porosity(solid) - target) < 0.005


def test_threshold_pore_is_dark_by_default_and_bright_inverts():
    gray = gray_volume((30, 30, 30), seed=4, dtype=np.float32)
    dark = threshold_porosity(gray, 0.3)
    assert gray[~dark].max() <= gray[dark].min()  # pores: the darkest 30 %
    bright = threshold_porosity(gray, 0.3, pore="bright")
    assert gray[~bright].min() >= gray[bright].max()
    assert abs(porosity(bright) - 0.3) < 0.005


def test_threshold_smoothing_breaks_ties_of_integer_images():
    gray = np.random.default_rng(0).integers(0, 4, (30, 30, 30)).astype(np.uint8)  # heavy ties
    with pytest.warns(UserWarning, match="share the threshold"):
        threshold_porosity(gray, 0.4)
    solid = threshold_porosity(gray, 0.4, sigma=1.0)
    assert abs(porosity(solid) - 0.4) < 0.005


def test_threshold_errors():
    gray = gray_volume((8, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="porosity"):
        threshold_porosity(gray, 1.5)
    with pytest.raises(ValueError, match="dark"):
        threshold_porosity(gray, 0.5, pore="black")
    gray[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        threshold_porosity(gray, 0.5)


def test_crop_cubes_shapes_and_positions():
    volume = np.arange(45 * 41 * 23).reshape(45, 41, 23)
    cubes = crop_cubes(volume, 20)
    assert len(cubes) == 2 * 2 * 1 and all(c.shape == (20, 20, 20) for c in cubes)
    assert cube_origins(volume.shape, 20) == [(0, 0, 0), (0, 20, 0), (20, 0, 0), (20, 20, 0)]
    assert np.array_equal(cubes[1], volume[0:20, 20:40, 0:20])
    assert len(crop_cubes(volume, 20, stride=10)) == 3 * 3 * 1
    with pytest.raises(ValueError, match="smaller than one 30"):
        crop_cubes(volume, 30)


def test_import_volume_pipeline_from_tiff(tmp_path):
    gray = gray_volume((90, 60, 45), seed=6)
    write_tiff(tmp_path / "scan.tif", gray)
    cubes = import_volume(tmp_path / "scan.tif", porosity=0.4, sigma=1.0, cube=40, size=32)
    assert len(cubes) == 2 * 1 * 1
    assert all(c.shape == (32, 32, 32) and c.dtype == bool for c in cubes)
    whole = import_volume(gray, porosity=0.4, sigma=1.0, cube=None, size=None)[0]
    assert abs(porosity(whole) - 0.4) < 0.005
    unresized = import_volume(gray, porosity=0.4, sigma=1.0, cube=40, size=None)
    for small, big in zip(cubes, unresized, strict=True):
        assert abs(porosity(small) - porosity(big)) < 0.01


def test_import_volume_from_raw_passes_reader_options(tmp_path):
    gray = gray_volume((24, 24, 24), seed=7)
    write_raw(tmp_path / "scan.raw", gray, byte_order="big")
    cubes = import_volume(
        tmp_path / "scan.raw",
        porosity=0.5,
        cube=24,
        size=16,
        shape=(24, 24, 24),
        dtype="uint16",
        byte_order="big",
    )
    assert len(cubes) == 1 and cubes[0].shape == (16, 16, 16)


# ---------------------------------------------------------------------------------------------
# pore phase by value, the both/neither rule, synthetic gray scans, the CLI's phase options


def test_pore_phase_by_value_and_errors():
    volume = np.array([0, 255, 255, 7] * 16, dtype=np.uint8).reshape(4, 4, 4)
    solid = pore_phase_by_value(volume, 255)
    assert solid.dtype == bool and np.array_equal(solid, volume != 255)
    assert porosity(solid) == 0.5
    assert np.array_equal(pore_phase_by_value(volume, 0), volume != 0)
    with pytest.raises(ValueError, match=r"scan\.tif: no voxel equals pore_value 128.*0, 7, 255"):
        pore_phase_by_value(volume, 128, "scan.tif")


def test_choose_pore_phase_needs_exactly_one_rule():
    gray = gray_volume((12, 12, 12), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"membrane: give exactly one.*both given"):
        choose_pore_phase(gray, pore_value=0, porosity=0.5, name="membrane")
    with pytest.raises(ValueError, match=r"membrane: give exactly one.*neither given"):
        choose_pore_phase(gray, name="membrane")
    with pytest.raises(ValueError, match="neither"):
        check_phase_options("m", None, None)
    check_phase_options("m", 255, None)
    by_threshold = choose_pore_phase(gray, porosity=0.35, sigma=1.0)
    assert np.array_equal(by_threshold, threshold_porosity(gray, 0.35, sigma=1.0))
    with pytest.raises(ValueError, match="membrane: porosity must lie"):
        choose_pore_phase(gray, porosity=1.5, name="membrane")


def test_render_gray_contrast_noise_and_dtype():
    solid = np.zeros((20, 20, 20), dtype=bool)
    solid[:10] = True
    clean = render_gray(solid, blur_sigma=0, noise=0, values=(50, 200))
    assert clean.dtype == np.uint8
    assert set(np.unique(clean)) == {50, 200} and np.array_equal(clean == 200, solid)
    noisy = render_gray(solid, blur_sigma=1.0, noise=0.1, seed=3, values=(50, 200))
    assert np.array_equal(noisy, render_gray(solid, 1.0, 0.1, seed=3, values=(50, 200)))
    interior = noisy[14:, :, :].astype(float)  # pore, away from the blurred interface
    assert abs(interior.mean() - 50) < 1.0 and abs(interior.std() - 15) < 1.0  # 0.1 * contrast
    bright_pores = render_gray(solid, 0, 0, values=(200, 50), dtype=np.float32)
    assert bright_pores.dtype == np.float32 and np.all(bright_pores[~solid] == 200)
    with pytest.raises(ValueError, match="bool"):
        render_gray(solid.astype(np.uint8))


@pytest.mark.parametrize("fmt", ["tif", "raw", "npy"])
@pytest.mark.parametrize("convention", ["pore_255", "solid_255"])
def test_import_volume_formats_with_both_phase_conventions(tmp_path, fmt, convention):
    """A segmented 0/255 scan read through the phase choice by value, whichever value is pore."""
    truth = np.random.default_rng(8).random((18, 16, 14)) < 0.45  # True = solid
    pore_value = 255 if convention == "pore_255" else 0
    scan = np.where(truth, 255 - pore_value, pore_value).astype(np.uint8)
    path = tmp_path / f"scan.{fmt}"
    read = {}
    if fmt == "tif":
        write_tiff(path, scan)
    elif fmt == "raw":
        write_raw(path, scan)
        read = {"shape": scan.shape, "dtype": "uint8"}
    else:
        np.save(path, scan)
    solid = choose_pore_phase(read_volume(path, **read), pore_value=pore_value, name=str(path))
    assert np.array_equal(solid, truth)
    assert porosity(solid) == pytest.approx(1 - truth.mean())


def _cli_eta(args, capsys) -> dict:
    assert (
        cli_main(["simulate", *args, "--property", "diffusivity", "--axis", "all", "--json"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    return {"porosity": out["porosity"], "eta": [a["diffusivity"]["eta"] for a in out["axes"]]}


def test_cli_pore_value_and_invert(tmp_path, capsys):
    solid = np.ones((12, 12, 12), dtype=bool)
    solid[:, 3:6, 2:8] = False  # a duct along x
    solid[4:9, :, 5] = False  # a slit open along y
    np.save(tmp_path / "solid.npy", solid)
    write_tiff(tmp_path / "pore255.tif", ~solid)  # bool -> 0/255: the 255 voxels are pore
    reference = _cli_eta([str(tmp_path / "solid.npy")], capsys)
    assert reference["porosity"] == pytest.approx(1 - solid.mean())
    assert reference["eta"][0] > 0.05 and reference["eta"][1] > 0.01
    # the default reading (two values: pore = the lower) takes the 255 pores for solid
    default = _cli_eta([str(tmp_path / "pore255.tif")], capsys)
    assert default["porosity"] == pytest.approx(solid.mean())
    by_value = _cli_eta([str(tmp_path / "pore255.tif"), "--pore-value", "255"], capsys)
    assert by_value["porosity"] == pytest.approx(reference["porosity"])
    assert by_value["eta"] == pytest.approx(reference["eta"], rel=1e-9)
    inverted = _cli_eta([str(tmp_path / "pore255.tif"), "--invert"], capsys)
    assert inverted["eta"] == pytest.approx(reference["eta"], rel=1e-9)
    flipped = _cli_eta([str(tmp_path / "solid.npy"), "--invert"], capsys)
    assert flipped["porosity"] == pytest.approx(solid.mean())
    both = _cli_eta([str(tmp_path / "pore255.tif"), "--pore-value", "0", "--invert"], capsys)
    assert both["eta"] == pytest.approx(reference["eta"], rel=1e-9)
    with pytest.raises(SystemExit, match="no voxel equals pore_value 7"):
        cli_main(["simulate", str(tmp_path / "pore255.tif"), "--pore-value", "7"])
    with pytest.raises(SystemExit):
        cli_main(["simulate", "--help"])
    help_text = capsys.readouterr().out
    assert "--pore-value V" in help_text and "--invert" in help_text
    assert "--pore-value" in cli.__doc__ and "--invert" in cli.__doc__
