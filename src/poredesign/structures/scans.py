"""The ``imports`` stage: a measured scan -> a structure store of crops (SPEC 1.4, [Z23] Sec. 4).

:func:`import_scan` reads a scan (TIFF stack, raw or .npy via
:func:`~poredesign.structures.imported.read_volume`), chooses its pore phase
(:func:`~poredesign.structures.imported.choose_pore_phase`: ``pore_value`` for segmented scans, or
Gaussian smoothing and the threshold matching a measured ``porosity`` for gray ones), crops cubes of
edge ``crop`` every ``stride`` voxels, resizes each to the VAE's input edge ``size`` (cubic spline,
mirror boundaries: scans are not periodic), checks the pore phase for percolation and writes a
structure store the rest of the workflow reads like a generated dataset.

Units: the scan's voxels for ``crop``, ``stride``, ``sigma`` and the crop ``origins``; the stored
structures are in voxels of the resized crop, ``scale = crop / size`` scan voxels each.

Store layout (beside ``structures``, ``params``, ``attempts`` of every structure store):

- ``params``: the study generator's parameter names (so the latent and estimation stages line up
  columns), all NaN except ``porosity``, measured on the resized crop, and ``strain`` (where the
  names hold it: generator imported), the compression level the crop was cut from.
- ``origins`` (n, 3) int64: the crop's corner (x, y, z) in scan voxels (of the compressed scan).
- ``strain`` (n,) float64: the compressive strain along z of the scan the crop was cut from
  (``strains``: the scan compressed by :func:`~poredesign.structures.compression.compress_z`, its
  lateral faces constrained; crops of every level in the order of ``strains``).
- ``percolates`` (n, 3) bool: the pore phase connects the two faces normal to x, y, z (6-neighbour,
  no wrap-around). All crops are kept; the transport solver gives eta = 0 where it is False.
- ``chord_lengths`` (n, 3) float64: mean pore chord length along x, y, z in voxels of the resized
  crop (:func:`mean_chord_lengths`), a direct measure of the stretch direction: cells elongated
  along an axis have longer chords along it.
- ``slice_gray`` and ``slice_solid`` (nx, ny): the scan's middle z slice as read and as the chosen
  phase (True = solid), for the figure.
- attrs: ``name``, ``source`` (path), ``options`` (the scan's options), ``size``, ``crop``,
  ``stride``, ``scale``, ``scan_shape``, ``scan_porosity`` (of the whole binarised scan),
  ``generator = "imported"``, ``study_generator``, ``periodic = False``, ``seed``.

Choice where [Z23] is silent: crops that do not percolate are kept and flagged, not dropped, so the
crop indices match the scan's tiling; downstream stages decide whether to use them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from poredesign.runlog import progress
from poredesign.store import atomic_group, create_structure_arrays, provenance, write_array
from poredesign.structures.checks import pore_percolates, porosity
from poredesign.structures.compression import check_strain, compress_z
from poredesign.structures.imported import (
    check_phase_options,
    choose_pore_phase,
    cube_origins,
    read_volume,
)
from poredesign.structures.resize import resize_binary

log = logging.getLogger(__name__)

PathLike = str | os.PathLike

# the config schema's keys (imports.<name>) and the raw reader's extra keys, with their defaults
SCAN_DEFAULTS: dict[str, Any] = {
    "shape": None,
    "dtype": None,
    "pore_value": None,
    "porosity": None,
    "pore": "dark",
    "sigma": 1.0,
    "crop": 200,
    "stride": None,
    "byte_order": "little",
    "offset": 0,
    "order": "F",
    "strains": None,
}


@dataclass(frozen=True)
class ScanOptions:
    """One scan of the config's ``imports`` section (units: voxels of the scan)."""

    name: str
    path: str
    shape: tuple[int, int, int] | None = None
    dtype: str | None = None
    pore_value: float | None = None
    porosity: float | None = None
    pore: str = "dark"
    sigma: float = 1.0
    crop: int = 200
    stride: int | None = None
    byte_order: str = "little"
    offset: int = 0
    order: str = "F"
    strains: tuple[float, ...] = (0.0,)

    @classmethod
    def from_mapping(cls, name: str, options: Mapping[str, Any]) -> ScanOptions:
        """Validate one ``imports.<name>`` entry; errors name the scan and the key."""
        unknown = set(options) - set(SCAN_DEFAULTS) - {"path"}
        if unknown:
            raise ValueError(
                f"imports.{name}: unknown keys {sorted(unknown)}; allowed: path, "
                f"{', '.join(SCAN_DEFAULTS)}"
            )
        if not options.get("path"):
            raise ValueError(f"imports.{name}: path is required (.npy, .tif/.tiff or raw file)")
        merged = SCAN_DEFAULTS | {k: v for k, v in options.items() if v is not None or k == "path"}
        check_phase_options(f"imports.{name}", merged["pore_value"], merged["porosity"])
        if merged["porosity"] is not None and not 0.0 < merged["porosity"] < 1.0:
            raise ValueError(
                f"imports.{name}: porosity must lie in (0, 1); got {merged['porosity']!r}"
            )
        if merged["pore"] not in ("dark", "bright"):
            raise ValueError(f"imports.{name}: pore must be dark or bright; got {merged['pore']!r}")
        if merged["sigma"] < 0:
            raise ValueError(f"imports.{name}: sigma must be >= 0 voxels; got {merged['sigma']!r}")
        for key in ("crop", "stride"):
            value = merged[key]
            if value is not None and (int(value) != value or value < 1):
                raise ValueError(f"imports.{name}: {key} must be a positive integer; got {value!r}")
        strains = merged["strains"]
        strains = (0.0,) if strains is None else strains
        if isinstance(strains, (int, float)) or len(strains) == 0:
            raise ValueError(f"imports.{name}: strains must be a non-empty list; got {strains!r}")
        strains = tuple(check_strain(v, f"imports.{name}.strains") for v in strains)
        if len(set(strains)) != len(strains):
            raise ValueError(f"imports.{name}: strains {list(strains)} repeat a level")
        shape = merged["shape"]
        return cls(
            name=name,
            path=str(merged["path"]),
            shape=None if shape is None else tuple(int(s) for s in shape),
            dtype=merged["dtype"],
            pore_value=merged["pore_value"],
            porosity=merged["porosity"],
            pore=merged["pore"],
            sigma=float(merged["sigma"]),
            crop=int(merged["crop"]),
            stride=None if merged["stride"] is None else int(merged["stride"]),
            byte_order=merged["byte_order"],
            offset=int(merged["offset"]),
            order=merged["order"],
            strains=strains,
        )

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("path", *SCAN_DEFAULTS)}
        return out | {"strains": list(self.strains)}


def generator_param_names(generator: str) -> tuple[str, ...]:
    """The parameter names of a study generator's structure stores (spinodoid, voronoi, squares),
    so a scan's store lines up its ``params`` columns with the study's dataset; a dataset of
    crops (``imported``) has the measured porosity and the compression level (``strain``)."""
    from poredesign.structures.sampling import make_sampler

    if generator == "imported":
        return ("porosity", "strain")
    return tuple(make_sampler(generator, 16).param_names)


def mean_chord_lengths(phase: np.ndarray) -> np.ndarray:
    """Mean chord length of the True voxels of ``phase`` along x, y, z, in voxels (shape (3,)).

    A chord is a maximal run of True voxels along an axis line; runs cut by the box faces count
    as they are (no wrap-around, as for crops). The mean is (True voxels) / (runs); NaN where the
    phase is empty. For a membrane, the pore chords are longest along the axis its cells are
    elongated in (the smallest stretch factor e_i).
    """
    phase = np.asarray(phase, dtype=bool)
    if phase.ndim != 3:
        raise ValueError(f"mean_chord_lengths needs a 3-D array; got shape {phase.shape}")
    count = np.count_nonzero(phase)
    out = np.full(3, np.nan)
    for axis in range(3):
        before = np.zeros_like(phase)
        index = [slice(None)] * 3
        index[axis] = slice(1, None)
        shifted = [slice(None)] * 3
        shifted[axis] = slice(None, -1)
        before[tuple(index)] = phase[tuple(shifted)]
        runs = np.count_nonzero(phase & ~before)
        if runs:
            out[axis] = count / runs
    return out


@dataclass
class ScanImport:
    """What :func:`import_scan` wrote (for logging and tests)."""

    path: str
    n_crops: int
    origins: np.ndarray
    porosity: np.ndarray
    percolates: np.ndarray
    chord_lengths: np.ndarray
    scan_porosity: float
    strain: np.ndarray


def _read(opts: ScanOptions) -> np.ndarray:
    try:
        return read_volume(
            opts.path,
            shape=opts.shape,
            dtype=opts.dtype,
            byte_order=opts.byte_order,
            offset=opts.offset,
            order=opts.order,
        )
    except (ValueError, FileNotFoundError) as err:
        raise type(err)(f"imports.{opts.name}: {err}") from err


def import_scan(
    options: Mapping[str, Any] | ScanOptions,
    size: int,
    out_path: PathLike,
    name: str = "scan",
    param_names: Sequence[str] = ("porosity",),
    study_generator: str | None = None,
    seed: int | None = None,
    progress_file: Any = None,
) -> ScanImport:
    """Import one scan into the structure store ``out_path`` (layout in the module docstring).

    options: the ``imports.<name>`` entry (path, shape, dtype, pore_value | porosity, pore, sigma,
    crop, stride; scan voxels) or a :class:`ScanOptions`. size: edge of the stored crops (the
    dataset's ``size``, the VAE input). param_names: the study generator's parameter names; must
    include ``porosity``. seed: recorded for provenance only (the import draws nothing random).
    """
    opts = options if isinstance(options, ScanOptions) else ScanOptions.from_mapping(name, options)
    name = opts.name
    param_names = list(param_names)
    if "porosity" not in param_names:
        raise ValueError(f"imports.{name}: param_names {param_names} lack 'porosity'")
    if int(size) != size or size < 4:
        raise ValueError(f"imports.{name}: size must be an integer >= 4 voxels; got {size!r}")
    gray = _read(opts)
    if opts.crop > min(gray.shape):
        raise ValueError(
            f"imports.{name}: crop {opts.crop} voxels is larger than the scan {gray.shape}; "
            f"choose crop <= {min(gray.shape)}"
        )
    solid = choose_pore_phase(
        gray,
        pore_value=opts.pore_value,
        porosity=opts.porosity,
        sigma=opts.sigma,
        pore=opts.pore,
        name=f"imports.{name} ({opts.path})",
    )
    scan_porosity = porosity(solid)
    log.info("%s: scan %s of %s, porosity %.4f", name, gray.shape, gray.dtype, scan_porosity)
    levels = _compression_levels(solid, opts)
    origins = np.array([o for _, _, found in levels for o in found], dtype=np.int64)
    strains = np.concatenate([np.full(len(found), strain) for strain, _, found in levels])
    n = len(origins)
    params = np.full((n, len(param_names)), np.nan)
    if "strain" in param_names:
        params[:, param_names.index("strain")] = strains
    mid = gray.shape[2] // 2
    with atomic_group(out_path) as group:
        structures, params_array, attempts = create_structure_arrays(group, n, size, param_names)
        percolates, chords = _write_crops(
            structures, params, param_names.index("porosity"), levels, opts, size, progress_file
        )
        params_array[...] = params
        attempts[...] = np.ones(n, dtype=np.int32)
        write_array(group, "strain", strains, units="1", axis="z", sign="compressive")
        write_array(group, "origins", origins, units="scan voxels", axes="x, y, z")
        write_array(group, "percolates", percolates, phase="pore", axes="x, y, z")
        write_array(group, "chord_lengths", chords, phase="pore", units="crop voxels")
        write_array(group, "slice_gray", gray[:, :, mid].astype(np.float32), z=mid)
        write_array(group, "slice_solid", solid[:, :, mid], z=mid)
        group.attrs.update(
            _provenance(opts, n, int(size), gray.shape, scan_porosity, study_generator, seed)
        )
    crop_porosity = params[:, param_names.index("porosity")]
    log.info(
        "%s: %d crops of %d^3 -> %d^3, porosity %.4f +- %.4f, pore percolates along all axes: %d",
        name,
        n,
        opts.crop,
        size,
        np.mean(crop_porosity),
        np.std(crop_porosity),
        int(percolates.all(axis=1).sum()),
    )
    return ScanImport(
        path=str(out_path),
        n_crops=n,
        origins=origins,
        porosity=crop_porosity,
        percolates=percolates,
        chord_lengths=chords,
        scan_porosity=scan_porosity,
        strain=strains,
    )


def _provenance(
    opts: ScanOptions,
    n: int,
    size: int,
    scan_shape: Sequence[int],
    scan_porosity: float,
    study_generator: str | None,
    seed: int | None,
) -> dict[str, Any]:
    """The crop store's attributes: where the crops come from and how they were cut."""
    return provenance(
        n=n,
        size=[size] * 3,
        name=opts.name,
        source=opts.path,
        options=opts.as_dict(),
        crop=opts.crop,
        stride=opts.stride or opts.crop,
        scale=opts.crop / size,
        scan_shape=list(scan_shape),
        scan_porosity=scan_porosity,
        strains=list(opts.strains),
        generator="imported",
        study_generator=study_generator,
        periodic=False,
        seed=seed,
    )


def _compression_levels(
    solid: np.ndarray, opts: ScanOptions
) -> list[tuple[float, np.ndarray, list[tuple[int, int, int]]]]:
    """(strain, the scan compressed by it, its crop origins) per compression level."""
    name = opts.name
    levels = []
    for strain in opts.strains:
        level = compress_z(solid, strain, name=f"imports.{name} ({opts.path})")
        if opts.crop > level.shape[2]:
            raise ValueError(
                f"imports.{name}: crop {opts.crop} voxels is taller than the scan compressed by "
                f"strain {strain} ({level.shape[2]} voxels along z); choose a smaller crop"
            )
        levels.append((strain, level, cube_origins(level.shape, opts.crop, opts.stride)))
        if strain:
            log.info(
                "%s: strain %.3f: %s, porosity %.4f", name, strain, level.shape, porosity(level)
            )
    return levels


def _write_crops(
    structures: Any,
    params: np.ndarray,
    porosity_column: int,
    levels: Sequence[tuple[float, np.ndarray, Sequence[tuple[int, int, int]]]],
    opts: ScanOptions,
    size: int,
    progress_file: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut every level's crops, resize them to ``size`` and write them; each crop's porosity
    goes into ``params``. Returns the pore percolation per axis and the mean pore chords."""
    n = len(params)
    percolates = np.zeros((n, 3), dtype=bool)
    chords = np.full((n, 3), np.nan)
    crops = ((level, o) for _, level, found in levels for o in found)
    for i in progress(range(n), f"import {opts.name}", progress_file, unit="crop"):
        level, (x, y, z) = next(crops)
        cube = level[x : x + opts.crop, y : y + opts.crop, z : z + opts.crop]
        crop = resize_binary(cube, int(size), periodic=False)
        structures[i] = crop
        params[i, porosity_column] = porosity(crop)
        percolates[i] = pore_percolates(crop)
        chords[i] = mean_chord_lengths(~crop)
    return percolates, chords
