"""Import of real volumes (tomography) as binary structures (SPEC 1.4, following [Z23]).

Pipeline (:func:`import_volume`): read gray values -> Gaussian smoothing (``sigma`` voxels) ->
threshold chosen so that the porosity equals a measured porosity -> crop into cubes -> resize.
The result, like every structure here, is bool with True = solid, indexed (x, y, z).

Readers (:func:`read_volume` dispatches on the path):

- TIFF: one multi-page file or a folder of single-page slices (``*.tif``/``*.tiff``, sorted in
  natural order, so ``slice_2`` comes before ``slice_10``). Pages are z slices, rows y, columns x,
  as in ImageJ/Fiji; the array is returned transposed to (x, y, z). :func:`write_tiff` writes the
  same layout (bool as 0/255 uint8).
- raw binaries: ``shape=(nx, ny, nz)``, ``dtype``, ``byte_order`` ("little"/"big"), an optional
  header ``offset`` in bytes and the memory ``order``: "F" (default) = x varies fastest, the layout
  of ImageJ/Fiji, Avizo and most tomography software, i.e. a C-order (nz, ny, nx) array; "C" = z
  varies fastest (``numpy.ndarray.tofile`` of an (x, y, z) array). The file size must match.
- ``.npy``: taken as stored, already (x, y, z).

Pore phase (:func:`choose_pore_phase`): exactly one of two rules. Binary (segmented) scans give
``pore_value``: pore = voxels equal to it, everything else solid (:func:`pore_phase_by_value`), so a
0/255 TIFF whose 255 voxels are pore is read the right way round. Gray scans give the measured
``porosity``: Gaussian smoothing, then :func:`threshold_porosity`.

Thresholding (:func:`threshold_porosity`): pore = low gray values ("dark", as in absorption
tomography of a polymer or metal with empty pores) unless ``pore="bright"``. With k = round(eps N)
the threshold T is the k-th smallest (smoothed) value, and pore = values below T or below-or-equal
T, whichever count is closer to k; after smoothing the values are practically tie-free and the
porosity is met to a voxel. Unsmoothed integer images can have many voxels at T; then the
porosity cannot be met exactly without splitting ties arbitrarily, which would scatter noise, so
the closer of the two is taken and a warning is issued when it misses by more than 0.5
percentage points. The threshold is chosen on the whole volume (the measured porosity is that of
the sample), before cropping, with mirror boundaries for the smoothing (real volumes are not
periodic), and cropped cubes are resized with mirror boundaries too.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage

from poredesign.structures.resize import resize_binary

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
TIFF_SUFFIXES = (".tif", ".tiff")
RAW_SUFFIXES = (".raw", ".bin", ".dat", ".img", ".vol")
_BYTE_ORDERS = {"little": "<", "<": "<", "big": ">", ">": ">", "native": "=", "=": "="}


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _check_gray(volume: np.ndarray, source: str) -> np.ndarray:
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise ValueError(f"{source}: expected a 3-D gray-value volume; got shape {volume.shape}")
    if volume.dtype.kind not in "biuf":
        raise ValueError(
            f"{source}: expected integer, float or bool gray values; got dtype {volume.dtype}"
        )
    if min(volume.shape) < 1:
        raise ValueError(f"{source}: the volume is empty (shape {volume.shape})")
    return volume


def _read_tiff_gray(path: Path) -> np.ndarray:
    """All pages of a TIFF file as gray values (pages, rows, columns) or (rows, columns)."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        axes, shape = series.axes, series.shape
        if "S" in axes and shape[axes.index("S")] > 1:
            raise ValueError(
                f"{path}: colour or multi-channel TIFF (axes {axes}, shape {shape}); "
                f"convert it to gray values first"
            )
        data = series.asarray()
    return np.squeeze(data)


def read_tiff(path: PathLike) -> np.ndarray:
    """A TIFF stack (multi-page file, or a folder of slices) as an (x, y, z) array."""
    path = Path(path)
    if path.is_dir():
        files = sorted(
            (p for p in path.iterdir() if p.suffix.lower() in TIFF_SUFFIXES), key=_natural_key
        )
        if not files:
            raise ValueError(f"{path}: no .tif/.tiff slices in this folder")
        slices = [_read_tiff_gray(f) for f in files]
        shapes = {s.shape for s in slices}
        if len(shapes) != 1 or slices[0].ndim != 2:
            raise ValueError(
                f"{path}: the slices must be 2-D gray images of one shape; found "
                f"shapes {sorted(shapes)}"
            )
        stack = np.stack(slices)
    elif path.is_file():
        stack = _read_tiff_gray(path)
        if stack.ndim == 2:
            raise ValueError(
                f"{path}: a single 2-D image (shape {stack.shape}), not a stack; "
                f"give a multi-page TIFF or a folder of slices"
            )
    else:
        raise FileNotFoundError(f"{path}: no such TIFF file or folder")
    if stack.ndim != 3:
        raise ValueError(
            f"{path}: expected a stack of gray images (pages, rows, columns); got "
            f"shape {stack.shape}"
        )
    return _check_gray(np.ascontiguousarray(stack.transpose(2, 1, 0)), str(path))


def write_tiff(path: PathLike, volume: np.ndarray) -> None:
    """Write an (x, y, z) volume as a multi-page TIFF (pages = z); bool becomes 0/255 uint8."""
    import tifffile

    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise ValueError(f"write_tiff needs a 3-D (x, y, z) array; got shape {volume.shape}")
    if volume.dtype == bool:
        volume = volume.astype(np.uint8) * 255
    tifffile.imwrite(
        path, np.ascontiguousarray(volume.transpose(2, 1, 0)), photometric="minisblack"
    )


def _raw_dtype(dtype, byte_order: str) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise ValueError(
            f"raw dtype {dtype!r} is not a numpy dtype (e.g. uint8, uint16, float32)"
        ) from err
    if dt.kind not in "biuf" or dt.itemsize > 8:
        raise ValueError(f"raw dtype must be bool, integer or float (at most 8 bytes); got {dt}")
    if byte_order not in _BYTE_ORDERS:
        raise ValueError(
            f"raw byte_order must be one of {sorted(_BYTE_ORDERS)}; got {byte_order!r}"
        )
    return dt.newbyteorder(_BYTE_ORDERS[byte_order]) if dt.itemsize > 1 else dt


def _check_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    if shape is None or len(shape) != 3 or any(int(s) != s or s < 1 for s in shape):
        raise ValueError(f"raw shape must be three positive integers (nx, ny, nz); got {shape!r}")
    return tuple(int(s) for s in shape)


def read_raw(
    path: PathLike,
    shape: Sequence[int],
    dtype,
    byte_order: str = "little",
    offset: int = 0,
    order: str = "F",
) -> np.ndarray:
    """A raw binary volume as an (x, y, z) array in native byte order.

    shape: (nx, ny, nz); dtype: e.g. "uint8", "uint16", "float32"; byte_order: "little" or "big";
    offset: header bytes to skip; order: "F" = x fastest (ImageJ/Avizo), "C" = z fastest.
    """
    path = Path(path)
    shape = _check_shape(shape)
    dt = _raw_dtype(dtype, byte_order)
    if order not in ("F", "C"):
        raise ValueError(f"raw order must be 'F' (x fastest) or 'C' (z fastest); got {order!r}")
    if int(offset) != offset or offset < 0:
        raise ValueError(f"raw offset must be a non-negative number of bytes; got {offset!r}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such raw file")
    count = int(np.prod(shape))
    expected = int(offset) + count * dt.itemsize
    actual = path.stat().st_size
    if actual != expected:
        hint = ""
        payload = actual - int(offset)
        if payload > 0 and payload % count == 0:
            fits = [
                name
                for name in ("uint8", "uint16", "float32", "float64")
                if np.dtype(name).itemsize == payload // count
            ]
            if fits:
                hint = f"; the size fits {count} voxels of {' or '.join(fits)}"
        raise ValueError(
            f"{path}: file has {actual} bytes, but shape {shape} of {dt.name} with a "
            f"{int(offset)}-byte header needs {expected}{hint}"
        )
    data = np.fromfile(path, dtype=dt, count=count, offset=int(offset))
    volume = data.reshape(shape, order=order)
    return np.ascontiguousarray(volume, dtype=dt.newbyteorder("="))


def write_raw(
    path: PathLike, volume: np.ndarray, dtype=None, byte_order: str = "little", order: str = "F"
) -> None:
    """Write an (x, y, z) volume as raw bytes (the inverse of :func:`read_raw`)."""
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise ValueError(f"write_raw needs a 3-D (x, y, z) array; got shape {volume.shape}")
    if order not in ("F", "C"):
        raise ValueError(f"raw order must be 'F' (x fastest) or 'C' (z fastest); got {order!r}")
    dt = _raw_dtype(volume.dtype if dtype is None else dtype, byte_order)
    Path(path).write_bytes(volume.astype(dt).tobytes(order=order))


def read_npy(path: PathLike) -> np.ndarray:
    """A .npy volume, taken as (x, y, z)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such .npy file")
    return _check_gray(np.load(path, allow_pickle=False), str(path))


def read_volume(
    path: PathLike,
    shape: Sequence[int] | None = None,
    dtype=None,
    byte_order: str = "little",
    offset: int = 0,
    order: str = "F",
) -> np.ndarray:
    """Read gray values from a TIFF stack (file or folder), a .npy file or a raw binary (any other
    suffix; needs ``shape`` and ``dtype``). Returns an (x, y, z) array."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir() or suffix in TIFF_SUFFIXES:
        return read_tiff(path)
    if suffix == ".npy":
        return read_npy(path)
    if shape is None or dtype is None:
        raise ValueError(
            f"{path}: a raw volume needs shape=(nx, ny, nz) and dtype (e.g. uint8, "
            f"uint16, float32); TIFF stacks (.tif/.tiff, or a folder) and .npy files "
            f"carry their own"
        )
    return read_raw(path, shape, dtype, byte_order=byte_order, offset=offset, order=order)


def threshold_porosity(
    gray: np.ndarray, porosity: float, sigma: float | None = None, pore: str = "dark"
) -> np.ndarray:
    """Binary structure (True = solid) from gray values, with the threshold chosen so that the pore
    fraction equals ``porosity``; optional Gaussian smoothing first (``sigma`` voxels, mirror
    boundaries). ``pore="dark"``: pores are the low values; ``"bright"``: the high ones."""
    gray = _check_gray(gray, "gray volume")
    if not 0.0 <= porosity <= 1.0:
        raise ValueError(f"porosity must lie in [0, 1]; got {porosity!r}")
    if pore not in ("dark", "bright"):
        raise ValueError(f"pore must be 'dark' (low gray values) or 'bright'; got {pore!r}")
    values = gray.astype(np.float32)
    if not np.isfinite(values).all():
        raise ValueError("gray volume contains NaN or infinite values")
    if sigma:
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0 voxels; got {sigma!r}")
        values = ndimage.gaussian_filter(values, float(sigma), mode="reflect")
    if pore == "bright":
        values = np.negative(values, out=values)
    size = values.size
    k = int(round(porosity * size))
    if k <= 0:
        return np.ones(gray.shape, dtype=bool)
    if k >= size:
        return np.zeros(gray.shape, dtype=bool)
    threshold = np.partition(values.ravel(), k)[k]
    below = values < threshold
    n_below = int(np.count_nonzero(below))
    n_at = int(np.count_nonzero(values == threshold))
    if abs(n_below + n_at - k) < abs(n_below - k):
        pore_mask = values <= threshold
        achieved = (n_below + n_at) / size
    else:
        pore_mask = below
        achieved = n_below / size
    if abs(achieved - porosity) > 0.005:
        warnings.warn(
            f"porosity {achieved:.4f} instead of {porosity:.4f}: {n_at} voxels share the threshold "
            f"gray value; smooth first (sigma > 0) to break the ties",
            stacklevel=2,
        )
    log.info("threshold %.6g gives porosity %.5f (target %.5f)", threshold, achieved, porosity)
    return ~pore_mask


def pore_phase_by_value(volume: np.ndarray, pore_value: float, name: str = "volume") -> np.ndarray:
    """Binary structure (True = solid) from a segmented volume: pore = voxels equal to
    ``pore_value``, solid = every other value. Raises ``ValueError`` naming ``name`` when no voxel
    holds ``pore_value`` (a wrong value would otherwise give an all-solid volume and eta = 0)."""
    volume = _check_gray(volume, name)
    if not np.isfinite(pore_value):
        raise ValueError(f"{name}: pore_value must be a finite number; got {pore_value!r}")
    pore_mask = volume == pore_value
    if not pore_mask.any():
        values = np.unique(volume)
        shown = ", ".join(f"{v:g}" for v in values[:8]) + (", ..." if len(values) > 8 else "")
        raise ValueError(
            f"{name}: no voxel equals pore_value {pore_value:g}; the volume holds {shown}"
        )
    return ~pore_mask


def check_phase_options(name: str, pore_value: float | None, porosity: float | None) -> None:
    """Exactly one of ``pore_value`` and ``porosity``; otherwise a ``ValueError`` naming ``name``
    (the scan) and saying which was given."""
    if (pore_value is None) == (porosity is None):
        given = "both" if pore_value is not None else "neither"
        raise ValueError(
            f"{name}: give exactly one of pore_value (the gray value of pore voxels, for "
            f"segmented scans) and porosity (the measured porosity the threshold reproduces, for "
            f"gray scans); {given} given"
        )


def choose_pore_phase(
    gray: np.ndarray,
    *,
    pore_value: float | None = None,
    porosity: float | None = None,
    sigma: float | None = 1.0,
    pore: str = "dark",
    name: str = "volume",
) -> np.ndarray:
    """Binary structure (True = solid) from a scan by exactly one of two rules (SPEC 1.4):
    ``pore_value`` (segmented scans: pore = voxels equal to it; ``sigma`` and ``pore`` unused) or
    ``porosity`` (gray scans: smoothing by ``sigma`` voxels, then the threshold that reproduces the
    measured porosity, pore = ``"dark"`` or ``"bright"`` values). Both or neither is an error
    naming ``name``."""
    check_phase_options(name, pore_value, porosity)
    if pore_value is not None:
        return pore_phase_by_value(gray, pore_value, name)
    try:
        return threshold_porosity(gray, porosity, sigma=sigma, pore=pore)
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from err


def render_gray(
    solid: np.ndarray,
    blur_sigma: float = 1.0,
    noise: float = 0.1,
    seed: int | np.random.Generator | None = 0,
    values: tuple[float, float] = (60.0, 190.0),
    dtype: np.dtype | type = np.uint8,
) -> np.ndarray:
    """A synthetic gray scan of a bool structure (True = solid), to test an import pipeline.

    values: gray values of (pore, solid) before blur and noise; the default renders pores dark, as
    in absorption tomography; swap them for bright pores. blur_sigma: Gaussian point-spread sigma
    in voxels (mirror boundaries; 0 = none). noise: standard deviation of added Gaussian noise as
    a fraction of the contrast ``|solid - pore|``. seed: the noise stream. dtype: integer dtypes
    are rounded and clipped to their range.
    """
    solid = np.asarray(solid)
    if solid.ndim != 3 or solid.dtype != bool:
        raise ValueError(
            f"render_gray needs a 3-D bool structure; got {solid.dtype} of shape {solid.shape}"
        )
    if blur_sigma < 0 or noise < 0:
        raise ValueError(f"blur_sigma and noise must be >= 0; got {blur_sigma!r}, {noise!r}")
    pore_gray, solid_gray = (float(v) for v in values)
    gray = np.where(solid, solid_gray, pore_gray).astype(np.float32)
    if blur_sigma:
        gray = ndimage.gaussian_filter(gray, float(blur_sigma), mode="reflect")
    if noise:
        rng = np.random.default_rng(seed)
        contrast = abs(solid_gray - pore_gray)
        gray += (noise * contrast * rng.standard_normal(gray.shape)).astype(np.float32)
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        gray = np.clip(np.rint(gray), info.min, info.max)
    return gray.astype(dtype)


def cube_origins(
    shape: Sequence[int], cube: int, stride: int | None = None
) -> list[tuple[int, int, int]]:
    """Corners of the cubes of edge ``cube`` that fit in ``shape``, every ``stride`` voxels
    (default ``cube``: non-overlapping), starting at the origin, x slowest."""
    stride = cube if stride is None else int(stride)
    if int(cube) != cube or cube < 1 or stride < 1:
        raise ValueError(
            f"cube edge and stride must be positive integers; got cube={cube!r}, stride={stride!r}"
        )
    if any(s < cube for s in shape):
        raise ValueError(f"a volume of shape {tuple(shape)} is smaller than one {cube}^3 cube")
    ranges = [range(0, s - cube + 1, stride) for s in shape]
    return [(i, j, k) for i in ranges[0] for j in ranges[1] for k in ranges[2]]


def crop_cubes(volume: np.ndarray, cube: int, stride: int | None = None) -> list[np.ndarray]:
    """Cubes of edge ``cube`` cut from ``volume`` (copies), as placed by :func:`cube_origins`;
    voxels beyond the last whole cube are left out."""
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise ValueError(f"crop_cubes needs a 3-D array; got shape {volume.shape}")
    return [
        volume[i : i + cube, j : j + cube, k : k + cube].copy()
        for i, j, k in cube_origins(volume.shape, cube, stride)
    ]


def import_volume(
    path: PathLike | np.ndarray,
    porosity: float,
    sigma: float | None = 1.0,
    cube: int | None = 200,
    size: int | None = 128,
    pore: str = "dark",
    stride: int | None = None,
    **read_options,
) -> list[np.ndarray]:
    """Real volume -> list of bool cubes (True = solid), SPEC 1.4.

    path: a file or folder for :func:`read_volume` (``read_options``: shape, dtype, byte_order,
    offset, order for raw files), or an (x, y, z) gray array. porosity: the measured porosity the
    threshold must reproduce (whole volume). sigma: Gaussian smoothing in voxels (None/0 = off).
    cube: edge of the cubes cropped out (None = the whole volume, one item). size: edge after
    resizing (None = no resize; cubic spline, mirror boundaries, re-threshold at 0.5).
    pore: "dark" (low values are pore) or "bright".
    """
    gray = read_volume(path, **read_options) if not isinstance(path, np.ndarray) else path
    solid = threshold_porosity(gray, porosity, sigma=sigma, pore=pore)
    cubes = [solid] if cube is None else crop_cubes(solid, cube, stride)
    if size is not None:
        cubes = [resize_binary(c, size, periodic=False) for c in cubes]
    return cubes
