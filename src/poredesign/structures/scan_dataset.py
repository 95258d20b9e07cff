"""A study's dataset from the crops of a scan (``generator: imported``, ``dataset.scan``).

[A25] trains its 3D pVAE on crops of CT foams. Here the ``imports`` stage's crop store of the
scan ``dataset.scan`` (:func:`poredesign.structures.scans.import_scan`: read, pore phase, crops
resized to ``dataset.size``) is the dataset's source: ``dataset.n_structures`` crops of it,
written shard by shard (:func:`write_crop_shard`) and gathered as any generated dataset, so the
simulate, train, design and slerp stages read it unchanged.

Which crops: all of them when the scan yields exactly ``n_structures``; otherwise a subset drawn
from the study seed (:func:`select_crops`, kept in scan order), so a dataset smaller than the
scan's tiling still samples the whole scan instead of its first rows of crops.

Crops are not periodic (the stores say ``periodic = False``): the flow solver mirrors them along
the flow axis, as the imports stage does for membrane scans, and training applies no shifts.

:func:`scan_crop_count` counts the crops a scan yields from its shape alone (a synthetic scan's
configured size, a raw file's given shape, or the header of an existing .npy/TIFF file), so a
config asking for more crops than the scan holds is refused before any job runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from poredesign import store
from poredesign.runlog import progress
from poredesign.seeds import stream_rng
from poredesign.structures.compression import compressed_height
from poredesign.structures.imported import TIFF_SUFFIXES, cube_origins

PathLike = str | os.PathLike


def _file_shape(path: Path) -> tuple[int, ...] | None:
    """The shape of an existing .npy or TIFF volume (file or folder) from its headers (None when
    it is missing or not readable: the config check names that problem itself)."""
    from poredesign.structures.volume_io import volume_shape

    if path.suffix.lower() not in (".npy", *TIFF_SUFFIXES) and not path.is_dir():
        return None
    try:
        return volume_shape(path)
    except (ValueError, OSError):
        return None


def scan_crop_count(options: Mapping[str, Any]) -> int | None:
    """Crops of edge ``crop`` every ``stride`` scan voxels that an ``imports.<name>`` entry yields
    (over its compression levels ``strains``, each scan shortened along z), or None when its
    shape is unknown before it is read (a TIFF folder, a missing file)."""
    synthetic = options.get("synthetic")
    if synthetic:
        shape: tuple[int, ...] | None = (int(synthetic["size"]),) * 3
    elif options.get("shape"):
        shape = tuple(int(s) for s in options["shape"])
    else:
        shape = _file_shape(Path(str(options.get("path", ""))))
    if shape is None or len(shape) != 3:
        return None
    crop = int(options.get("crop", 200))
    count = 0
    for strain in options.get("strains") or [0.0]:  # one compressed scan per level
        level = (*shape[:2], compressed_height(shape[2], strain))
        if min(level) >= crop:
            count += len(cube_origins(level, crop, options.get("stride")))
    return count


def select_crops(n_crops: int, n: int, seed: int) -> np.ndarray:
    """Indices (n,) of the crops that form the dataset, ascending: all when ``n == n_crops``,
    else ``n`` drawn without replacement from the study ``seed``."""
    if not 0 < n <= n_crops:
        raise ValueError(
            f"dataset.n_structures {n}: the scan yields {n_crops} crops; allowed: 1 to {n_crops} "
            f"(a smaller imports.<scan>.stride or crop gives more)"
        )
    if n == n_crops:
        return np.arange(n_crops)
    rng = stream_rng(seed, "scan_crops")
    return np.sort(rng.choice(n_crops, size=n, replace=False))


def write_crop_shard(
    crops_path: PathLike,
    out_path: PathLike,
    n: int,
    seed: int,
    start: int,
    stop: int,
    progress_file: Any = None,
) -> np.ndarray:
    """Write dataset structures ``start..stop-1`` (of ``n``, chosen by :func:`select_crops`) from
    the crop store ``crops_path`` into the shard store ``out_path``; returns their crop indices.

    The shard keeps the crops' measured porosity and their compression level (``strain``, 0 for
    a scan without ``strains``) as its parameters and their corners in scan voxels (``origins``);
    attrs name the scan and say ``periodic = False``."""
    crops = store.StructureStore(crops_path)
    chosen = select_crops(len(crops), n, seed)[start:stop]
    if len(chosen) == 0:
        raise ValueError(f"empty index range {start}..{stop} of {n} dataset structures")
    names = crops.param_names
    if "strain" in names:
        strain = crops.params[chosen][:, names.index("strain")]
    else:  # a crop store of an uncompressed scan imported for another generator
        strain = np.zeros(len(chosen))
    origins = np.asarray(crops.group["origins"][...])[chosen]
    with store.atomic_group(out_path) as group:
        structures, params, attempts = store.create_structure_arrays(
            group, len(chosen), crops.size, ["porosity", "strain"]
        )
        for j, index in enumerate(progress(chosen, "copy crops", progress_file, unit="crop")):
            structures[j] = crops[int(index)]
        params[...] = np.column_stack([crops.params[chosen][:, names.index("porosity")], strain])
        attempts[...] = np.ones(len(chosen), dtype=np.int32)
        store.write_array(group, "crop_index", chosen)
        store.write_array(group, "origins", origins, units="scan voxels", axes="x, y, z")
        group.attrs.update(
            store.provenance(
                generator="imported",
                generator_config={
                    key: crops.attrs.get(key)
                    for key in (
                        "name",
                        "source",
                        "crop",
                        "stride",
                        "scale",
                        "scan_porosity",
                        "strains",
                    )
                },
                periodic=False,
                seed=int(seed),
                first_index=int(start),
                n=len(chosen),
                size=list(crops.size),
                structures=len(chosen),
                draws=len(chosen),
                rejection_rate=0.0,
            )
        )
    return chosen


__all__ = ["scan_crop_count", "select_crops", "write_crop_shard"]
