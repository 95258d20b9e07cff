"""The imports stage (SPEC 1.4, [Z23]): a synthetic membrane scan (a Voronoi membrane of known
stretch rendered as blurred, noisy gray values) through import_scan, the store it writes, its
figure and script, and the solver on its crops."""

import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from poredesign.store import StructureStore, open_group, verify_store
from poredesign.structures import porosity, resize_binary
from poredesign.structures.checks import pore_percolates
from poredesign.structures.figures import plot_scan_import
from poredesign.structures.imported import cube_origins, render_gray, write_raw, write_tiff
from poredesign.structures.scans import (
    ScanOptions,
    generator_param_names,
    import_scan,
    mean_chord_lengths,
)
from poredesign.structures.voronoi import voronoi_membrane

SCRIPT = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "import_scan.py"
VORONOI_NAMES = ("n_points", "radius", "e_x", "e_y", "e_z", "porosity")


@pytest.fixture(scope="module", params=[0, 2], ids=["stretch_x", "stretch_z"])
def membrane(request):
    """Ground truth (64^3, True = solid) with cells elongated along one axis (e = 0.5 there)."""
    stretch = np.ones(3)
    stretch[request.param] = 0.5
    truth = voronoi_membrane(64, 40, 2.0, stretch=stretch, seed=3)
    return request.param, truth


def test_mean_chord_lengths():
    phase = np.zeros((10, 8, 6), dtype=bool)
    phase[2:7, 3, 1] = True  # one chord of 5 along x: chords of 1 along y and z
    phase[0, 0, :] = True  # one chord of 6 along z
    assert mean_chord_lengths(phase) == pytest.approx([(5 + 6) / 7, 1.0, (5 + 6) / 6])
    assert np.isnan(mean_chord_lengths(np.zeros((4, 4, 4), bool))).all()


def test_synthetic_scan_comes_back_with_porosity_and_stretch(tmp_path, membrane):
    axis, truth = membrane
    eps = porosity(truth)
    gray = render_gray(truth, blur_sigma=1.0, noise=0.15, seed=1)  # pores dark, uint8
    write_tiff(tmp_path / "membrane.tif", gray)
    options = {"path": str(tmp_path / "membrane.tif"), "porosity": eps, "sigma": 1.0, "crop": 32}
    out = tmp_path / "membrane.zarr"
    result = import_scan(options, 24, out, name="membrane", param_names=VORONOI_NAMES, seed=5)

    assert result.n_crops == 8 and abs(result.scan_porosity - eps) < 1e-4
    for i, (x, y, z) in enumerate(cube_origins(truth.shape, 32)):
        true_crop = resize_binary(truth[x : x + 32, y : y + 32, z : z + 32], 24, periodic=False)
        assert abs(result.porosity[i] - porosity(true_crop)) < 0.01  # within 1 percentage point
    # the crops keep the stretch: pore chords are longest along the elongated axis, in every crop
    assert np.all(np.argmax(result.chord_lengths, axis=1) == axis)
    others = np.delete(result.chord_lengths, axis, axis=1)
    ratio = result.chord_lengths[:, axis].mean() / others.mean()
    truth_chords = mean_chord_lengths(~truth)
    truth_ratio = truth_chords[axis] / np.delete(truth_chords, axis).mean()
    assert ratio > 1.15 and truth_ratio > 1.15


def test_store_layout(tmp_path, membrane):
    _, truth = membrane
    np.save(tmp_path / "seg.npy", np.where(truth, 0, 255).astype(np.uint8))  # 255 = pore
    options = {"path": str(tmp_path / "seg.npy"), "pore_value": 255, "crop": 40, "stride": 12}
    out = tmp_path / "seg.zarr"
    import_scan(
        options, 16, out, "seg", param_names=VORONOI_NAMES, study_generator="voronoi", seed=7
    )
    assert verify_store(out) > 0
    store = StructureStore(out)
    origins = np.asarray(store.group["origins"][...])
    assert np.array_equal(origins, cube_origins((64,) * 3, 40, 12)) and len(store) == 3**3
    assert store.size == (16, 16, 16) and store.param_names == list(VORONOI_NAMES)
    params = store.params
    assert np.isnan(params[:, :5]).all()
    for i in (0, 13, 26):
        crop = store[i]
        x, y, z = origins[i]
        expected = resize_binary(truth[x : x + 40, y : y + 40, z : z + 40], 16, periodic=False)
        assert np.array_equal(crop, expected)  # pore_value: the phase is exactly the truth's
        assert params[i, 5] == pytest.approx(porosity(crop))
        assert tuple(store.group["percolates"][i]) == pore_percolates(crop)
    attrs = store.attrs
    assert attrs["periodic"] is False and attrs["generator"] == "imported"
    assert attrs["study_generator"] == "voronoi" and attrs["seed"] == 7
    assert attrs["scale"] == pytest.approx(2.5) and attrs["stride"] == 12
    assert attrs["options"]["pore_value"] == 255 and attrs["options"]["porosity"] is None
    assert attrs["scan_porosity"] == pytest.approx(porosity(truth))
    assert np.array_equal(store.group["slice_solid"][...], truth[:, :, 32])


def test_bright_pores_from_raw(tmp_path, membrane):
    _, truth = membrane
    gray = render_gray(truth, 1.0, 0.1, seed=2, values=(40000, 9000), dtype=np.uint16)
    write_raw(tmp_path / "scan.raw", gray, byte_order="big")
    options = {
        "path": str(tmp_path / "scan.raw"),
        "shape": [64, 64, 64],
        "dtype": "uint16",
        "byte_order": "big",
        "porosity": porosity(truth),
        "pore": "bright",
        "crop": 64,
    }
    result = import_scan(options, 32, tmp_path / "b.zarr", "bright")
    expected = porosity(resize_binary(truth, 32, periodic=False))
    assert result.n_crops == 1 and abs(result.porosity[0] - expected) < 0.01
    assert StructureStore(tmp_path / "b.zarr").param_names == ["porosity"]


def test_options_errors_name_the_scan(tmp_path):
    volume = np.zeros((20, 20, 20), np.uint8)
    volume[0, 0, 0] = 1
    np.save(tmp_path / "v.npy", volume)
    base = {"path": str(tmp_path / "v.npy")}
    with pytest.raises(ValueError, match=r"imports\.foam: give exactly one.*neither"):
        import_scan(base, 16, tmp_path / "a.zarr", "foam")
    with pytest.raises(ValueError, match=r"imports\.foam: give exactly one.*both"):
        import_scan(base | {"pore_value": 0, "porosity": 0.5}, 16, tmp_path / "a.zarr", "foam")
    with pytest.raises(ValueError, match=r"imports\.foam: crop 200 voxels.*crop <= 20"):
        import_scan(base | {"pore_value": 0}, 16, tmp_path / "a.zarr", "foam")
    with pytest.raises(
        ValueError, match=r"imports\.foam \(.*v\.npy\): no voxel equals pore_value 9"
    ):
        import_scan(base | {"pore_value": 9, "crop": 10}, 8, tmp_path / "a.zarr", "foam")
    with pytest.raises(ValueError, match=r"imports\.foam: unknown keys \['thresh'\]"):
        ScanOptions.from_mapping("foam", base | {"thresh": 3})
    with pytest.raises(ValueError, match=r"imports\.foam: porosity must lie"):
        ScanOptions.from_mapping("foam", base | {"porosity": 1.0})
    with pytest.raises(FileNotFoundError, match=r"imports\.foam: .*missing\.npy"):
        import_scan({"path": "missing.npy", "pore_value": 0}, 8, tmp_path / "a.zarr", "foam")
    with pytest.raises(ValueError, match=r"imports\.foam: .*raw volume needs shape"):
        import_scan({"path": str(tmp_path / "v.raw"), "pore_value": 0}, 8, tmp_path / "a", "foam")
    assert not (tmp_path / "a.zarr").exists()  # nothing half-written


def test_script_figure_and_solver(tmp_path):
    """The rule's interface (params scan, size, generator, seed), the figure, then tortuosity per
    axis from the solver on the crops (the simulate_scan stage)."""
    from poredesign.transport import label_structures

    truth = voronoi_membrane(32, 12, 1.5, stretch=(1.0, 0.5, 1.0), seed=4)
    write_tiff(tmp_path / "m.tif", render_gray(truth, 0.8, 0.05, seed=0))
    out = SimpleNamespace(
        structures=str(tmp_path / "imports" / "m.zarr"), figure=str(tmp_path / "imports" / "m.png")
    )
    snakemake = SimpleNamespace(
        input=SimpleNamespace(),
        output=out,
        log=[str(tmp_path / "import.log")],
        wildcards=SimpleNamespace(scan="m"),
        params=SimpleNamespace(
            scan={"path": str(tmp_path / "m.tif"), "porosity": porosity(truth), "crop": 16},
            size=16,
            generator="voronoi",
            seed=11,
        ),
    )
    runpy.run_path(str(SCRIPT), init_globals={"snakemake": snakemake})
    store = StructureStore(out.structures)
    assert len(store) == 8 and store.param_names == list(generator_param_names("voronoi"))
    assert Path(out.figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "m: 8 crops of 16^3 -> 16^3" in Path(snakemake.log[0]).read_text()
    plot_scan_import(out.structures, tmp_path / "again.png", n_crops=2)
    assert (tmp_path / "again.png").stat().st_size > 5000

    label_structures(
        out.structures,
        tmp_path / "m-transport.zarr",
        diffusion={"method": "krylov", "lateral": "closed"},
    )
    transport = open_group(tmp_path / "m-transport.zarr")
    eta, tau = np.asarray(transport["eta"][...]), np.asarray(transport["tau"][...])
    percolates = np.asarray(store.group["percolates"][...])
    eps = store.params[:, -1]
    assert np.all((eta > 0) == percolates)  # no flux without a spanning pore path
    ok = percolates
    assert np.all(eta[ok] <= eps[:, None].repeat(3, 1)[ok] + 1e-9)
    assert np.allclose(tau[ok], (eps[:, None] / np.where(ok, eta, np.nan))[ok])


def test_a_scan_is_cropped_at_every_compression_level(tmp_path):
    """imports.<scan>.strains: the binarised scan is compressed along z at each level (solid
    volume conserved) and cropped; the strain is each crop's parameter."""
    from poredesign.structures.compression import compress_z
    from poredesign.structures.scan_dataset import scan_crop_count, write_crop_shard
    from poredesign.structures.spinodoid import spinodoid

    solid = spinodoid(32, [0.25] * 3, 0.8, seed=np.random.default_rng(5))
    np.save(tmp_path / "foam.npy", np.where(solid, 0, 255).astype(np.uint8))
    options = {"path": str(tmp_path / "foam.npy"), "pore_value": 255, "crop": 16, "stride": 8}
    options["strains"] = [0, 0.5]
    names = generator_param_names("imported")
    assert names == ("porosity", "strain")
    result = import_scan(options, 8, tmp_path / "crops.zarr", "foam", param_names=names)
    # 3 x 3 x 3 crops of the 32-voxel scan, 3 x 3 x 1 of the 16-voxel compressed one
    raw = options | {"path": "x.raw", "shape": [32] * 3}
    assert result.n_crops == 27 + 9 == scan_crop_count(raw)
    crops = StructureStore(tmp_path / "crops.zarr")
    strain = crops.params[:, names.index("strain")]
    assert np.array_equal(strain, [0.0] * 27 + [0.5] * 9)
    assert np.array_equal(np.asarray(crops.group["strain"][...]), strain)
    # the compressed crops are cut from compress_z of the scan's solid, at conserved solid volume
    squeezed = compress_z(solid, 0.5)
    x, y, z = np.asarray(crops.group["origins"][...])[27]
    cube = squeezed[x : x + 16, y : y + 16, z : z + 16]
    assert np.array_equal(crops[27], resize_binary(cube, 8, periodic=False))
    assert crops.params[27:, 0].mean() < crops.params[:27, 0].mean()  # less pore space
    # a dataset shard keeps (porosity, strain)
    chosen = write_crop_shard(tmp_path / "crops.zarr", tmp_path / "shard.zarr", 36, 1, 0, 36)
    shard = StructureStore(tmp_path / "shard.zarr")
    assert shard.param_names == ["porosity", "strain"]
    assert np.array_equal(shard.params[:, 1], strain[chosen])
    with pytest.raises(ValueError, match=r"imports\.foam\.strains.*0\.9"):
        ScanOptions.from_mapping("foam", options | {"strains": [0, 0.95]})
    with pytest.raises(ValueError, match="full density"):
        import_scan(options | {"strains": [0.85]}, 8, tmp_path / "dense.zarr", "foam")
    assert not (tmp_path / "dense.zarr").exists()
