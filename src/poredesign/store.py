"""The zarr (v3) layout of every array artifact the workflow writes.

A *structure store* (``structures.zarr``) holds

- ``structures``: bool (n, N, N, N), True = solid, one structure per chunk, Blosc/zstd with
  bit-shuffle;
- ``params``: float64 (n, p), generator parameters, ``attrs["names"]`` lists the p names;
- ``attempts``: int32 (n,), draws needed until the acceptance checks passed (1 = first draw);
- group attrs: ``generator``, ``generator_config``, ``seed``, ``first_index``, ``code_version``,
  ``n``, ``size`` and ``complete`` (written last).

Other stores (transport labels, posteriors) are plain groups of named arrays with attrs; their
float arrays use NaN as fill value, so a value that was never written cannot read back as data.

Every store is written into a hidden temporary directory beside its final path and renamed into
place only when complete, so an interrupted job never leaves anything that looks like a finished
store (the next job that writes the same store removes what a killed one left behind).

On completion the store records in its group attribute ``integrity``, per array, its shape, dtype,
chunk shape, the checksum of its metadata file and the BLAKE2b checksum of every stored chunk
file. :func:`open_group` checks each array's metadata against the record (a rewritten dtype,
shape, chunk grid or codec would decode the same bytes as other numbers) and that every recorded
chunk is still there (cheap: one small read per array, one ``stat`` per chunk);
:func:`verify_store` also re-reads the chunks and checks their checksums. A damaged store is a
:class:`CorruptStoreError` naming the store, the array and what changed; an unreadable
``zarr.json`` is one too.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import uuid
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from poredesign import __version__
from poredesign.jsonable import jsonable

log = logging.getLogger(__name__)

# Snakemake marks each directory output with a `.snakemake_timestamp` file; zarr warns about it
# (and any non-zarr file) on every listing of the store
warnings.filterwarnings(
    "ignore",
    message=r".*is not recognized as a component of a Zarr hierarchy",
    category=UserWarning,
)

COMPLETE_KEY = "complete"
# group attribute with the integrity record (a file inside the store would upset zarr's listing)
INTEGRITY_KEY = "integrity"


def _compressor() -> BloscCodec:
    # bit-shuffle packs bool voxels 8 per byte before zstd; typically 20-50x smaller than raw bytes
    return BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle")


class IncompleteStoreError(RuntimeError):
    """A store exists but was not finished (no ``complete`` attribute)."""


class CorruptStoreError(RuntimeError):
    """A finished store lost or damaged a chunk since it was written (the message names it)."""


def _chunk_files(root: Path, array: str) -> list[str]:
    """The stored chunk files of ``array`` (paths relative to the store root, sorted)."""
    base = root / array / "c"
    if not base.exists():
        return []
    return sorted(str(f.relative_to(root)) for f in base.rglob("*") if f.is_file())


def _digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def _array_names(group: zarr.Group, prefix: str = "") -> list[str]:
    names = [f"{prefix}{name}" for name, _ in group.arrays()]
    for name, sub in group.groups():
        names += _array_names(sub, f"{prefix}{name}/")
    return sorted(names)


def _record_integrity(root: Path, group: zarr.Group) -> None:
    """Record shape, dtype and chunk checksums of every array in the group attribute
    ``integrity``."""
    record = {}
    for name in _array_names(group):
        array = group[name]
        record[name] = {
            "shape": list(array.shape),
            "dtype": str(array.dtype),
            "chunk_shape": list(array.chunks),
            "metadata": _digest(root / name / "zarr.json"),
            "chunks": {f: _digest(root / f) for f in _chunk_files(root, name)},
        }
    group.attrs[INTEGRITY_KEY] = record


def _read_integrity(root: Path, group: zarr.Group) -> dict[str, Any] | None:
    record = group.attrs.get(INTEGRITY_KEY)
    if record is None:
        return None  # written before integrity records existed
    if not isinstance(record, dict):
        raise CorruptStoreError(f"store {root}: its integrity record is unreadable")
    return record


# zarr's errors for a metadata file that is not JSON, or JSON it cannot read as zarr metadata
_METADATA_ERRORS = (json.JSONDecodeError, ValueError, KeyError, TypeError)


def _open_zarr_group(path: Path) -> zarr.Group:
    try:
        return zarr.open_group(str(path), mode="r")
    except _METADATA_ERRORS as err:
        raise CorruptStoreError(
            f"store {path}: its metadata file {path / 'zarr.json'} is unreadable "
            f"({type(err).__name__}: {err}); rerun the rule that wrote it"
        ) from err


def _array(root: Path, group: zarr.Group, name: str) -> zarr.Array | None:
    """The array ``name`` of the group, None where it is missing; an unreadable metadata file
    is a :class:`CorruptStoreError` naming it."""
    try:
        return group[name] if name in group else None
    except _METADATA_ERRORS as err:
        raise CorruptStoreError(
            f"store {root}: the metadata file {root / name / 'zarr.json'} of array {name!r} is "
            f"unreadable ({type(err).__name__}: {err}); rerun the rule that wrote it"
        ) from err


def _check_metadata(root: Path, group: zarr.Group, record: dict[str, Any]) -> None:
    """Each recorded array is there with the recorded shape, dtype, chunk grid and metadata file
    (records written before the chunk shape and metadata digest were kept check what they
    hold)."""
    for name, entry in record.items():
        array = _array(root, group, name)
        if array is None:
            raise CorruptStoreError(f"store {root}: array {name!r} is missing")
        held = {"shape": list(array.shape), "dtype": str(array.dtype)}
        held["chunk_shape"] = list(array.chunks)
        for key, value in held.items():
            if key in entry and entry[key] != value:
                raise CorruptStoreError(
                    f"store {root}: array {name!r} has {key} {value} but was written with "
                    f"{entry[key]} (its metadata file {root / name / 'zarr.json'} was changed); "
                    f"rerun the rule that wrote it"
                )
        if "metadata" in entry and _digest(root / name / "zarr.json") != entry["metadata"]:
            raise CorruptStoreError(
                f"store {root}: the metadata file {root / name / 'zarr.json'} of array {name!r} "
                f"was changed since it was written (checksum differs); rerun the rule that wrote it"
            )


def _check_chunks_present(root: Path, record: dict[str, Any]) -> None:
    for name, entry in record.items():
        for chunk in entry["chunks"]:
            if not (root / chunk).is_file():
                raise CorruptStoreError(
                    f"store {root}: array {name!r} lost its chunk {chunk} (the store is damaged; "
                    f"rerun the rule that wrote it)"
                )


def verify_store(path: str | os.PathLike) -> int:
    """Check a finished store against its integrity record: each array's shape, dtype, chunk
    grid and metadata file (in :func:`open_group`) and every chunk's checksum; return the number
    of chunks checked.

    Raises :class:`CorruptStoreError` naming the store, the array and the chunk that is missing,
    changed or unexpected, or the array whose metadata changed.
    """
    root = Path(path)
    group = open_group(root)
    record = _read_integrity(root, group)
    if record is None:
        raise CorruptStoreError(
            f"store {root} has no integrity record (written by an older version): rewrite it to "
            f"verify it"
        )
    n = 0
    for name, entry in record.items():
        stored = set(_chunk_files(root, name))
        extra = sorted(stored - set(entry["chunks"]))
        if extra:
            raise CorruptStoreError(
                f"store {root}: array {name!r} has an unrecorded chunk {extra[0]}"
            )
        for chunk, digest in entry["chunks"].items():
            if chunk not in stored:
                raise CorruptStoreError(f"store {root}: array {name!r} lost its chunk {chunk}")
            if _digest(root / chunk) != digest:
                raise CorruptStoreError(
                    f"store {root}: array {name!r}, chunk {chunk} is damaged (checksum differs)"
                )
            n += 1
    return n


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the hidden temporary stores that killed jobs left beside ``path``; return them."""
    path = Path(path)
    stale = sorted(path.parent.glob(f".{path.name}.tmp-*")) if path.parent.exists() else []
    for tmp in stale:
        shutil.rmtree(tmp, ignore_errors=True)
        log.info("removed %s, left behind by an interrupted job", tmp)
    return stale


@contextmanager
def atomic_group(path: str | os.PathLike) -> Iterator[zarr.Group]:
    """Create a zarr group that only appears at ``path`` once the block exits without error.

    The group is built in ``.<name>.tmp-<pid>-<id>`` beside ``path`` (temporaries of earlier,
    killed jobs are removed first); on success it records its chunk checksums, gets
    ``attrs["complete"] = True`` and replaces whatever was at ``path``; on any exception the
    temporary directory is removed and the exception propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    group = zarr.open_group(str(tmp), mode="w", zarr_format=3)
    try:
        yield group
        _record_integrity(tmp, group)
        group.attrs[COMPLETE_KEY] = True
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OSError(
                err.errno,
                f"{path}: {os.strerror(err.errno).lower()} while writing this store; nothing of "
                f"it was kept (an earlier {path.name} there is untouched): free space, then rerun",
            ) from err
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)


def open_group(path: str | os.PathLike) -> zarr.Group:
    """Open a finished store read-only; raise if it is missing, was never completed, or lost a
    recorded chunk (:class:`CorruptStoreError`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no zarr store at {path}")
    if not (path / "zarr.json").is_file():
        raise IncompleteStoreError(f"{path} is not a zarr store (no zarr.json): empty or foreign")
    group = _open_zarr_group(path)
    if not group.attrs.get(COMPLETE_KEY, False):
        raise IncompleteStoreError(f"store {path} is incomplete (interrupted write?)")
    record = _read_integrity(path, group)
    if record is not None:
        _check_metadata(path, group, record)
        _check_chunks_present(path, record)
    return group


def attributes(group: zarr.Group) -> dict[str, Any]:
    """A store's attributes without its (large) integrity record."""
    return {k: v for k, v in group.attrs.items() if k != INTEGRITY_KEY}


def provenance(**attrs: Any) -> dict[str, Any]:
    """Attributes every store carries: the given ones plus the code version."""
    return {"code_version": __version__, **jsonable(attrs)}


def write_array(group: zarr.Group, name: str, data: np.ndarray, /, **attrs: Any) -> zarr.Array:
    """Write a small array (tables, labels) as one compressed chunk; ``attrs`` go on the array
    (positional-only arguments, so any attribute name, ``name`` included, is free).

    Empty arrays (a zero-length axis, e.g. a run without results) are written with shape only.
    """
    data = np.asarray(data)
    array = group.create_array(
        name,
        shape=data.shape,
        dtype=data.dtype,
        # zarr needs chunk edges >= 1: an empty axis gets a chunk of one
        chunks=tuple(max(int(s), 1) for s in data.shape) or None,
        compressors=_compressor(),
        # a float value that was never written reads back as NaN, not as a plausible 0.0
        fill_value=np.nan if np.issubdtype(data.dtype, np.floating) else None,
    )
    if data.size:
        array[...] = data
    if attrs:
        array.attrs.update(jsonable(attrs))
    return array


def create_structure_arrays(
    group: zarr.Group, n: int, size: int | Sequence[int], param_names: Sequence[str]
) -> tuple[zarr.Array, zarr.Array, zarr.Array]:
    """Create the empty ``structures``, ``params`` and ``attempts`` arrays of a structure store."""
    shape = (size,) * 3 if np.isscalar(size) else tuple(int(s) for s in size)
    structures = group.create_array(
        "structures",
        shape=(n, *shape),
        chunks=(1, *shape),
        dtype="bool",
        compressors=_compressor(),
        fill_value=False,
    )
    params = group.create_array(
        "params",
        shape=(n, len(param_names)),
        chunks=(max(n, 1), max(len(param_names), 1)),
        dtype="float64",
        fill_value=np.nan,
    )
    params.attrs["names"] = list(param_names)
    attempts = group.create_array(
        "attempts", shape=(n,), chunks=(max(n, 1),), dtype="int32", fill_value=0
    )
    return structures, params, attempts


def write_structures(
    path: str | os.PathLike,
    structures: np.ndarray | Sequence[np.ndarray],
    params: np.ndarray,
    param_names: Sequence[str],
    attempts: np.ndarray | None = None,
    **attrs: Any,
) -> None:
    """Write a complete structure store atomically from arrays in memory."""
    params = np.asarray(params, dtype=np.float64).reshape(len(structures), len(param_names))
    with atomic_group(path) as group:
        size = np.asarray(structures[0]).shape
        arrays = create_structure_arrays(group, len(structures), size, param_names)
        for i, structure in enumerate(structures):
            arrays[0][i] = np.asarray(structure, dtype=bool)
        arrays[1][...] = params
        arrays[2][...] = np.ones(len(structures)) if attempts is None else attempts
        group.attrs.update(provenance(n=len(structures), size=list(size), **attrs))


class StructureStore:
    """Read access to a finished structure store; indexing is lazy (one chunk per structure)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.group = open_group(self.path)
        held = _array_names(self.group)
        if not {"structures", "params"} <= set(held):
            raise ValueError(
                f"{self.path} is not a structure store: it holds arrays {', '.join(held) or 'none'}"
                f"; a structure store holds structures, params and attempts"
            )
        self.structures: zarr.Array = self.group["structures"]
        self._params: zarr.Array = self.group["params"]
        self.attrs: dict[str, Any] = attributes(self.group)

    def __len__(self) -> int:
        return self.structures.shape[0]

    def __getitem__(self, index: int | slice) -> np.ndarray:
        try:
            return np.asarray(self.structures[index], dtype=bool)
        except (IndexError, TypeError):
            raise
        except Exception as err:  # a damaged chunk: name the store and the structure
            raise CorruptStoreError(
                f"store {self.path}: structure {index} cannot be read ({type(err).__name__}: "
                f"{err}); `poredesign verify {self.path}` names the damaged chunk"
            ) from err

    @property
    def size(self) -> tuple[int, int, int]:
        return tuple(self.structures.shape[1:])

    @property
    def param_names(self) -> list[str]:
        return list(self._params.attrs["names"])

    @property
    def params(self) -> np.ndarray:
        return np.asarray(self._params[...])

    @property
    def attempts(self) -> np.ndarray:
        return np.asarray(self.group["attempts"][...])


def gather_structures(
    shard_paths: Sequence[str | os.PathLike], out_path: str | os.PathLike
) -> None:
    """Concatenate shard stores (in the given order) into one store, one structure at a time."""
    shards = [StructureStore(p) for p in shard_paths]
    if not shards:
        raise ValueError("gather_structures needs at least one shard")
    first = shards[0]
    for shard in shards[1:]:
        if shard.size != first.size or shard.param_names != first.param_names:
            raise ValueError(
                f"shard {shard.path} has size {shard.size} and parameters {shard.param_names}; "
                f"expected {first.size} and {first.param_names} as in {first.path}"
            )
    n = sum(len(s) for s in shards)
    per_shard = ("n", "first_index", "structures", "draws", "rejection_rate", COMPLETE_KEY)
    attrs = {k: v for k, v in first.attrs.items() if k not in per_shard}
    with atomic_group(out_path) as group:
        structures, params, attempts = create_structure_arrays(
            group, n, first.size, first.param_names
        )
        start = 0
        for shard in shards:
            stop = start + len(shard)
            for i in range(len(shard)):
                structures[start + i] = shard[i]
            params[start:stop] = shard.params
            attempts[start:stop] = shard.attempts
            start = stop
        draws = int(np.asarray(attempts[...]).sum())
        group.attrs.update(attrs)
        group.attrs.update(
            {
                "n": n,
                "shards": len(shards),
                "shard_stores": [str(shard.path) for shard in shards],
                "structures": n,
                "draws": draws,
                "rejection_rate": 1.0 - n / draws if draws else 0.0,
            }
        )


def gather_arrays(shard_paths: Sequence[str | os.PathLike], out_path: str | os.PathLike) -> None:
    """Concatenate the arrays of table stores (same names, per-structure rows) along axis 0.

    Attributes the shards share are kept; one that differs between shards (the structure store
    each was computed from) becomes the list of the shards' values, in shard order.
    """
    groups = [open_group(p) for p in shard_paths]
    if not groups:
        raise ValueError("gather_arrays needs at least one shard")
    names = sorted(name for name, _ in groups[0].arrays())
    for path, group in zip(shard_paths, groups, strict=True):
        other = sorted(name for name, _ in group.arrays())
        if other != names:
            raise ValueError(f"shard {path} holds arrays {other}; expected {names}")
    attrs = {}
    for key in attributes(groups[0]):
        if key in ("first_index", "n", COMPLETE_KEY):
            continue
        values = [g.attrs.get(key) for g in groups]
        attrs[key] = values[0] if all(v == values[0] for v in values) else values
    with atomic_group(out_path) as out:
        n = 0
        for name in names:
            data = np.concatenate([np.asarray(g[name][...]) for g in groups])
            write_array(out, name, data, **dict(groups[0][name].attrs))
            n = len(data)
        out.attrs.update(attrs)
        out.attrs.update(
            {"n": n, "shards": len(groups), "shard_stores": [str(p) for p in shard_paths]}
        )
