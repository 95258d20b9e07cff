"""Volume I/O of real volumes (tomography): gray values in, (x, y, z) arrays out (SPEC 1.4).

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
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

PathLike = str | os.PathLike
TIFF_SUFFIXES = (".tif", ".tiff")
RAW_SUFFIXES = (".raw", ".bin", ".dat", ".img", ".vol")
_BYTE_ORDERS = {"little": "<", "<": "<", "big": ">", ">": ">", "native": "=", "=": "="}


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def check_gray(volume: np.ndarray, source: str) -> np.ndarray:
    """``volume`` as an array if it is a non-empty 3-D volume of bool, integer or finite float
    gray values; otherwise a ``ValueError`` naming ``source``.

    NaN or infinite voxels are refused, not read: NaN equals no gray value and sorts below none,
    so a NaN-for-pore export would otherwise read as one phase without a word."""
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise ValueError(f"{source}: expected a 3-D gray-value volume; got shape {volume.shape}")
    if volume.dtype.kind not in "biuf":
        raise ValueError(
            f"{source}: expected integer, float or bool gray values; got dtype {volume.dtype}"
        )
    if min(volume.shape) < 1:
        raise ValueError(f"{source}: the volume is empty (shape {volume.shape})")
    if volume.dtype.kind == "f":
        check_finite(volume, source)
    return volume


def check_finite(volume: np.ndarray, source: str) -> None:
    """A ``ValueError`` naming ``source`` and the count of NaN and infinite voxels, if any."""
    nan = int(np.count_nonzero(np.isnan(volume)))
    inf = int(np.count_nonzero(np.isinf(volume)))
    if nan or inf:
        raise ValueError(
            f"{source}: {nan} NaN and {inf} infinite voxels of {volume.size}; gray values must "
            f"be finite numbers (write the pore and solid phases as numbers, e.g. 0 and 1, "
            f"and export again)"
        )


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().strip().replace("\n", " "))


@contextlib.contextmanager
def _tifffile_messages() -> Iterator[list[str]]:
    """tifffile's own warnings (it logs them, and Python prints them on stderr when no handler is
    set), collected instead: they explain a damaged file and belong in its one-line error."""
    logger = logging.getLogger("tifffile")
    handler, propagate = _Collect(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _not_a_tiff(path: Path, err: BaseException, messages: Sequence[str]) -> ValueError:
    said = "; ".join(dict.fromkeys([str(err).strip().replace("\n", " "), *messages]))
    return ValueError(
        f"{path}: not a readable TIFF stack (damaged, truncated or another format; tifffile "
        f"says: {said or type(err).__name__} [{type(err).__name__}])"
    )


def _tiff_series(tif, path: Path) -> tuple[str, tuple[int, ...]]:
    if not tif.series:
        raise ValueError(f"{path}: not a readable TIFF stack (it holds no image)")
    series = tif.series[0]
    axes, shape = series.axes, tuple(series.shape)
    if "S" in axes and shape[axes.index("S")] > 1:
        raise ValueError(
            f"{path}: colour or multi-channel TIFF (axes {axes}, shape {shape}); "
            f"convert it to gray values first"
        )
    return axes, shape


def _read_tiff_gray(path: Path) -> np.ndarray:
    """All pages of a TIFF file as gray values (pages, rows, columns) or (rows, columns)."""
    import tifffile

    with _tifffile_messages() as messages:
        try:
            with tifffile.TiffFile(path) as tif:
                _tiff_series(tif, path)
                data = tif.series[0].asarray()
        except ValueError as err:
            if str(err).startswith(str(path)):
                raise
            raise _not_a_tiff(path, err, messages) from err
        except Exception as err:  # tifffile raises what its parser hits (IndexError, struct...)
            raise _not_a_tiff(path, err, messages) from err
    return np.squeeze(data)


def tiff_shape(path: PathLike) -> tuple[int, ...]:
    """The (x, y, z) shape of a multi-page TIFF file from its header (no pixel data read), or a
    ``ValueError`` naming the file when it is not a readable TIFF."""
    import tifffile

    path = Path(path)
    with _tifffile_messages() as messages:
        try:
            with tifffile.TiffFile(path) as tif:
                _, shape = _tiff_series(tif, path)
        except ValueError as err:
            if str(err).startswith(str(path)):
                raise
            raise _not_a_tiff(path, err, messages) from err
        except Exception as err:
            raise _not_a_tiff(path, err, messages) from err
    shape = tuple(s for s in shape if s != 1) or shape
    return tuple(reversed(shape))  # pages are z: (x, y, z)


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
    return check_gray(np.ascontiguousarray(stack.transpose(2, 1, 0)), str(path))


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


def _check_raw_size(path: Path, shape: tuple[int, int, int], dt: np.dtype, offset: int) -> int:
    """The voxel count of ``shape``; a ``ValueError`` naming the file when its size does not
    match the shape, dtype and header."""
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
    return count


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
    count = _check_raw_size(path, shape, dt, offset)
    data = np.fromfile(path, dtype=dt, count=count, offset=int(offset))
    volume = data.reshape(shape, order=order)
    return check_gray(np.ascontiguousarray(volume, dtype=dt.newbyteorder("=")), str(path))


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
    try:
        volume = np.load(path, allow_pickle=False)
    except Exception as err:  # numpy raises EOFError, ValueError, UnpicklingError...
        raise ValueError(
            f"{path}: not a readable .npy array (damaged, truncated or another format: "
            f"{str(err).strip() or type(err).__name__} [{type(err).__name__}])"
        ) from err
    return check_gray(volume, str(path))


def volume_shape(
    path: PathLike,
    shape: Sequence[int] | None = None,
    dtype=None,
    byte_order: str = "little",
    offset: int = 0,
    order: str = "F",
) -> tuple[int, ...]:
    """The (x, y, z) shape :func:`read_volume` would return, from headers and file sizes only
    (cheap: a config check before any job runs). Raises ``FileNotFoundError`` or ``ValueError``
    naming the file when it is missing or not readable as a volume."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        files = sorted(
            (p for p in path.iterdir() if p.suffix.lower() in TIFF_SUFFIXES), key=_natural_key
        )
        if not files:
            raise ValueError(f"{path}: no .tif/.tiff slices in this folder")
        first = tiff_shape(files[0])
        if len(first) != 2:
            raise ValueError(f"{files[0]}: a slice must be one 2-D gray image; got {first}")
        return (*first, len(files))
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if suffix in TIFF_SUFFIXES:
        found = tiff_shape(path)
        if len(found) != 3:
            raise ValueError(
                f"{path}: a single 2-D image (shape {found}), not a stack; give a multi-page "
                f"TIFF or a folder of slices"
            )
        return found
    if suffix == ".npy":
        try:
            found = tuple(np.load(path, mmap_mode="r", allow_pickle=False).shape)
        except Exception as err:
            raise ValueError(
                f"{path}: not a readable .npy array (damaged, truncated or another format: "
                f"{str(err).strip() or type(err).__name__} [{type(err).__name__}])"
            ) from err
        if len(found) != 3:
            raise ValueError(f"{path}: expected a 3-D gray-value volume; got shape {found}")
        return found
    if shape is None or dtype is None:
        raise ValueError(
            f"{path}: a raw volume needs shape=(nx, ny, nz) and dtype (e.g. uint8, "
            f"uint16, float32); TIFF stacks (.tif/.tiff, or a folder) and .npy files "
            f"carry their own"
        )
    checked = _check_shape(shape)
    _check_raw_size(path, checked, _raw_dtype(dtype, byte_order), offset)
    return checked


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
