"""Zarr-backed datasets and the LightningDataModule shared by all models.

A *view* is one training sample: structure ``i`` seen with transport along axis ``a``. Labels are
per view: a per-axis property array (shape (n, 3), e.g. ``eta``, ``k``, ``tau``) contributes its
column ``a``; a scalar array (shape (n,), e.g. ``porosity``) contributes its value. So every label
of a view is a scalar, and label-preserving augmentations are exactly the symmetries of the
transport problem along ``a`` (:mod:`poredesign.learn.transforms`: flips and the swap of the two
orthogonal axes, circular shifts).

With ``axes = (0, 1, 2)`` (axis permutation, SPEC 3.1) each structure yields three views and the
volume is rotated so that the transport axis ``a`` lies along x: (x, y, z) -> (a, a+1, a+2 mod 3).
With a single axis (e.g. ``axes = (2,)``, flow along z for extrusions) the volume is not rotated.

Reads are lazy: each sample reads one chunk (one structure) from the zarr array, so a paper-scale
store (8192 x 192^3) never needs to fit in memory. The array is opened per process, so
``num_workers > 0`` works with forked or spawned workers.

Input scaling (``centered`` or ``binary``) and pooling: :mod:`poredesign.learn.transforms`.

Extrusions (``dims = 2``): when every slice along the single view axis is the same image (the
square pores of [A25], extruded along z to any depth), a 2D model sees that image, (1, X, Y), and
the augmentations act on its two axes. ``dims: auto`` chooses 2 for stores whose generator makes
extrusions along the view axis (:data:`EXTRUSION_AXIS`) and 3 otherwise; 3D models need cubic
volumes, 2D models square images of any depth.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from poredesign.config import schema_default
from poredesign.learn.registry import model_spec
from poredesign.learn.transforms import (
    Augment,
    extrusion_image,
    rotate_to_x,
    scale_counts,
    voxel_counts,
)
from poredesign.seeds import stream_rng
from poredesign.splits import split_counts
from poredesign.store import StructureStore, open_group

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------------------------
# labels


#: flag array of a target other than ``flags_<target>`` (tau comes from the diffusion solve)
FLAG_ARRAYS = {"tau": "flags_eta"}


def read_labels(path: str | os.PathLike, names: Sequence[str], n: int) -> dict[str, np.ndarray]:
    """Read label arrays ``names`` of the first ``n`` structures from a property store; each must
    have shape (m,) or (m, 3) with m >= n (a store may label more structures than are used)."""
    group = open_group(path)
    labels = {}
    for name in names:
        if name not in group:
            raise KeyError(
                f"property store {path} has no array {name!r}; "
                f"available: {sorted(group.array_keys())}"
            )
        values = np.asarray(group[name][...], dtype=np.float64)
        if (
            values.shape[0] < n
            or values.ndim not in (1, 2)
            or (values.ndim == 2 and values.shape[1] != 3)
        ):
            raise ValueError(
                f"property {name!r} in {path} has shape {values.shape}; "
                f"expected ({n},) or ({n}, 3) to label the structures in use"
            )
        labels[name] = values[:n]
    return labels


def valid_views(path: str | os.PathLike, labels: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """(n, 3) bool: views whose labels are all finite and whose solves were not flagged.

    The transport stage stores per-axis fault flags (``flags_eta``, ``flags_k``; 0 = ok). Flagged
    results (no percolating path: value 0, which a logit or log target cannot represent; not
    converged; diverged; all pore; not computed) are kept out of training and evaluation.
    """
    valid = np.ones((n, 3), dtype=bool)
    group = open_group(path) if labels else None
    for name, values in labels.items():
        finite = np.isfinite(values)
        valid &= finite if values.ndim == 2 else finite[:, None]
        flag_name = FLAG_ARRAYS.get(name, f"flags_{name}")
        if group is not None and flag_name in group:
            flags = np.asarray(group[flag_name][:n])
            if flags.shape == (n, 3):
                valid &= flags == 0
    return valid


def view_labels(
    labels: Mapping[str, np.ndarray], targets: Sequence[str], index: int, axis: int
) -> np.ndarray:
    """The label vector (one entry per target) of structure ``index`` seen along ``axis``."""
    out = np.empty(len(targets), dtype=np.float32)
    for j, name in enumerate(targets):
        values = labels[name]
        out[j] = values[index, axis] if values.ndim == 2 else values[index]
    return out


# ----------------------------------------------------------------------------------------------
# dataset


class StructureViews(Dataset):
    """Views (structure index, transport axis) of a structure store with their labels.

    ``__getitem__`` returns ``(x, y)``: x float32 (1, n, n, n), y float32 (n_targets,) (empty when
    there are no targets). The zarr array is opened lazily in each process.
    """

    def __init__(
        self,
        structures_path: str | os.PathLike,
        indices: Sequence[int],
        axes: Sequence[int] = (0, 1, 2),
        labels: Mapping[str, np.ndarray] | None = None,
        targets: Sequence[str] = (),
        pool: bool = False,
        scale: str = "centered",
        augment: Augment | None = None,
        rotate: bool | None = None,
        valid: np.ndarray | None = None,
        image_axis: int | None = None,
    ):
        self.structures_path = str(structures_path)
        self.indices = np.asarray(indices, dtype=np.int64)
        self.axes = tuple(int(a) for a in axes)
        if not self.axes or any(a not in (0, 1, 2) for a in self.axes):
            raise ValueError(f"axes must be a non-empty subset of (0, 1, 2); got {axes!r}")
        # views in order: structure by structure, its axes in turn; invalid labels left out
        self.views = [
            (int(i), a) for i in self.indices for a in self.axes if valid is None or valid[i, a]
        ]
        self.excluded = len(self.indices) * len(self.axes) - len(self.views)
        self.labels = dict(labels or {})
        self.targets = tuple(targets)
        missing = [t for t in self.targets if t not in self.labels]
        if missing:
            raise KeyError(f"targets {missing} have no label arrays; loaded: {sorted(self.labels)}")
        self.pool = pool
        self.scale = scale
        self.augment = augment if augment is not None and augment.active else None
        # rotate so the transport axis lies along x when several axes are used (axis permutation)
        self.rotate = len(self.axes) > 1 if rotate is None else rotate
        # 2D models: the image of an extrusion along this axis (checked per structure)
        self.image_axis = image_axis
        if image_axis is not None and (self.axes != (image_axis,) or pool):
            raise ValueError(
                f"2D views need the extrusion axis {image_axis} as the only axis and no pooling; "
                f"got axes {list(self.axes)}, pool {pool}"
            )
        self._array = None
        self._pid = None

    def __len__(self) -> int:
        return len(self.views)

    def view(self, item: int) -> tuple[int, int]:
        """(structure index in the store, transport axis) of sample ``item``."""
        if not 0 <= item < len(self):
            raise IndexError(f"sample {item} out of range for a dataset of {len(self)} views")
        return self.views[item]

    @property
    def array(self):
        if self._array is None or self._pid != os.getpid():
            self._array = StructureStore(self.structures_path).structures
            self._pid = os.getpid()
        return self._array

    def read(self, index: int) -> np.ndarray:
        return np.asarray(self.array[index], dtype=bool)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        index, axis = self.view(item)
        # pool first: rotations, flips and shifts then move 8x fewer bytes (pooling commutes with
        # them; shifts become shifts by whole 2x2x2 windows)
        volume = self.read(index)
        if self.image_axis is not None:
            volume = extrusion_image(volume, self.image_axis, f"structure {index}")
        counts = voxel_counts(volume, self.pool)
        transport = axis
        if self.rotate:
            counts = rotate_to_x(counts, axis)
            transport = 0
        if self.augment is not None:
            counts = self.augment(counts, transport)
        if self.image_axis is not None:
            counts = counts.squeeze(self.image_axis)
        x = scale_counts(np.ascontiguousarray(counts), self.pool, self.scale)
        y = view_labels(self.labels, self.targets, index, axis)
        return torch.from_numpy(x).unsqueeze(0), torch.from_numpy(y)

    def label_matrix(self) -> np.ndarray:
        """Labels of all views in order, (len, n_targets)."""
        rows = [view_labels(self.labels, self.targets, *self.view(i)) for i in range(len(self))]
        return np.stack(rows) if rows else np.empty((0, len(self.targets)), np.float32)


# ----------------------------------------------------------------------------------------------
# split


def split_indices(n: int, fractions: Sequence[float], seed: int) -> tuple[np.ndarray, ...]:
    """Deterministic train/val/test split of structure indices 0..n-1 (by structure, not by view).

    ``fractions`` (train, val, test) must sum to 1; counts are rounded so every structure lands in
    exactly one split; each index array is sorted (sequential chunk reads within an epoch's order do
    not matter for correctness, sorting only makes the split easy to read).
    """
    fractions = np.asarray(fractions, dtype=float)
    if fractions.shape != (3,) or np.any(fractions < 0) or not np.isclose(fractions.sum(), 1.0):
        raise ValueError(
            f"split fractions (config learn.split) must be three non-negative "
            f"numbers summing to 1; got {list(fractions)}"
        )
    order = stream_rng(seed, "split").permutation(n)
    n_train, n_val, n_test = split_counts(n, fractions)
    if n_train <= 0:
        raise ValueError(f"split {list(fractions)} of {n} structures leaves no training structure")
    train, val, test = np.split(order, [n_train, n_train + n_val])
    return np.sort(train), np.sort(val), np.sort(test)


# ----------------------------------------------------------------------------------------------
# datamodule


#: ``dims`` of a sample definition: 2 = images of extrusions, 3 = volumes, auto = from the store
DIMS = ("auto", 2, 3)


@dataclass
class DataConfig:
    """Everything that defines the samples (stored with each trained model)."""

    targets: list[str] = field(default_factory=list)
    axes: list[int] = field(default_factory=lambda: [0, 1, 2])
    pool: bool = False
    scale: str = "centered"
    split: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    seed: int = 0
    augment: dict[str, Any] = field(
        default_factory=lambda: {
            "flip": True,
            "swap": True,
            "shift": True,
            "shift_axes": "orthogonal",
        }
    )
    periodic: bool | None = None  # None: read the structure store's attrs (generator)
    max_structures: int | None = None
    dims: int | str = "auto"  # 2: images of extrusions, 3: volumes, auto: from the store

    def __post_init__(self) -> None:
        if self.dims not in DIMS:
            raise ValueError(f"dims must be one of {DIMS}; got {self.dims!r}")
        if self.dims == 2 and (len(self.axes) != 1 or self.pool):
            raise ValueError(
                f"2D models (dims 2) see the image of an extrusion along one axis without "
                f"pooling; got axes {list(self.axes)}, pool {self.pool}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    #: keys of a ``learn.<model>`` section that define the samples
    SECTION_KEYS: ClassVar[tuple[str, ...]] = (
        "targets",
        "axes",
        "pool",
        "augment",
        "max_structures",
        "dims",
    )

    @classmethod
    def for_model(
        cls,
        name: str,
        section: Mapping[str, Any] | None = None,
        *,
        split: Sequence[float] | None = None,
        seed: int = 0,
    ) -> DataConfig:
        """The sample definition of model ``name`` (a key of the model registry): the schema's
        defaults of ``learn.<name>`` (:data:`SECTION_KEYS`) and ``learn.split``, the model's
        fixed values (input scale; keys its section does not hold), then ``section``: the
        validated ``learn.<name>`` section, or any of this class's fields to override (null
        values skipped, ``augment`` merged by key), then ``split`` and ``seed``.

        The one way from config to a sample definition: the workflow passes the validated
        section, a library caller a few overrides or nothing, and both get the schema's defaults.
        """
        spec = model_spec(name)
        defaults = schema_default(f"learn.{name}")
        values: dict[str, Any] = {
            k: defaults[k] for k in cls.SECTION_KEYS if defaults.get(k) is not None
        }
        values.update({"scale": spec.scale, "split": schema_default("learn.split"), **spec.samples})
        names = {f.name for f in fields(cls)}
        for key, value in (section or {}).items():
            if key not in names or value is None:
                continue
            if key == "augment":
                value = {**values.get("augment", cls().augment), **value}
            values[key] = value
        if split is not None:
            values["split"] = list(split)
        values["seed"] = int(values.get("seed", seed))
        return cls(**_plain(values))


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """Tuples (of frozen settings) as lists and nested mappings as dicts: the stored form."""
    out = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            value = dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


PERIODIC_GENERATORS = {"spinodoid", "voronoi", "squares"}
#: generators whose structures are extrusions, and the axis they are extruded along
EXTRUSION_AXIS = {"squares": 2}


def resolve_dims(data: DataConfig, store: StructureStore) -> int:
    """2 when the sample definition asks for it, or (``auto``) when the store's generator makes
    extrusions along the one view axis; else 3."""
    if data.dims != "auto":
        return int(data.dims)
    axis = EXTRUSION_AXIS.get(str(store.attrs.get("generator")))
    return 2 if axis is not None and list(data.axes) == [axis] and not data.pool else 3


def store_is_periodic(store: StructureStore) -> bool:
    """Structures from the built-in generators are periodic (SPEC 1); imported volumes are not."""
    return bool(store.attrs.get("periodic", store.attrs.get("generator") in PERIODIC_GENERATORS))


class PoreDataModule(pl.LightningDataModule):
    """Train/val/test views of a structure store with labels from a property store.

    ``properties_path`` may be None for label-free models (VAE3D). Augmentation is applied to the
    training views only; circular shifts only when the structures are periodic.
    """

    def __init__(
        self,
        structures_path: str | os.PathLike,
        properties_path: str | os.PathLike | None = None,
        data: DataConfig | Mapping[str, Any] | None = None,
        batch_size: int = 16,
        num_workers: int = 0,
        pin_memory: bool | None = None,
    ):
        super().__init__()
        self.structures_path = Path(structures_path)
        self.properties_path = None if properties_path is None else Path(properties_path)
        self.data = data if isinstance(data, DataConfig) else DataConfig(**(data or {}))
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        if self.data.targets and self.properties_path is None:
            raise ValueError(f"targets {self.data.targets} need a property store (properties_path)")
        self._setup_done = False

    # -- lifecycle ------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self._setup_done:
            return
        store = StructureStore(self.structures_path)
        n = len(store)
        if self.data.max_structures is not None:
            n = min(n, int(self.data.max_structures))
        self.input_edge = store.size[0] // 2 if self.data.pool else store.size[0]
        self.dims = resolve_dims(self.data, store)
        self.data = replace(self.data, dims=self.dims)  # saved with the model: resolved
        self.image_axis = self.data.axes[0] if self.dims == 2 else None
        lateral = [s for a, s in enumerate(store.size) if a != self.image_axis]
        if len(set(lateral)) != 1:
            shape = "square images (x and y equal)" if self.dims == 2 else "cubic volumes"
            hint = (
                "" if self.dims == 2 else "; extrusions of any depth train as images with dims: 2"
            )
            raise ValueError(
                f"structures in {self.structures_path} are {store.size}; the {self.dims}D "
                f"models need {shape}{hint}"
            )
        labels = (
            read_labels(self.properties_path, self.data.targets, n) if self.data.targets else {}
        )
        self.labels = labels
        valid = valid_views(self.properties_path, labels, n) if self.data.targets else None
        self.periodic = (
            store_is_periodic(store) if self.data.periodic is None else self.data.periodic
        )
        self.train_idx, self.val_idx, self.test_idx = split_indices(
            n, self.data.split, self.data.seed
        )
        aug = dict(self.data.augment)
        if not self.periodic:
            aug["shift"] = False
        augment = Augment(**aug)
        common = dict(
            axes=self.data.axes,
            labels=labels,
            targets=self.data.targets,
            pool=self.data.pool,
            scale=self.data.scale,
            valid=valid,
            image_axis=self.image_axis,
        )
        self.train_set = StructureViews(
            self.structures_path, self.train_idx, augment=augment, **common
        )
        self.train_eval_set = StructureViews(self.structures_path, self.train_idx, **common)
        self.val_set = StructureViews(self.structures_path, self.val_idx, **common)
        self.test_set = StructureViews(self.structures_path, self.test_idx, **common)
        self.excluded = {
            "train": self.train_set.excluded,
            "val": self.val_set.excluded,
            "test": self.test_set.excluded,
        }
        log.info(
            "data: %d structures (%d train, %d val, %d test), %d views per structure, "
            "input %d^%d, targets %s, periodic %s",
            n,
            len(self.train_idx),
            len(self.val_idx),
            len(self.test_idx),
            len(self.data.axes),
            self.input_edge,
            self.dims,
            self.data.targets,
            self.periodic,
        )
        if any(self.excluded.values()):
            log.warning("views left out for non-finite or flagged labels: %s", self.excluded)
        if len(self.train_set) == 0:
            raise ValueError(
                f"no training view of {self.structures_path} has valid labels "
                f"{self.data.targets} in {self.properties_path}"
            )
        self._setup_done = True

    def target_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-target (min, max) over the training views, for min-max scaling."""
        self.setup()
        y = self.train_eval_set.label_matrix()
        return y.min(axis=0), y.max(axis=0)

    # -- loaders --------------------------------------------------------------------------------
    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            drop_last=False,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)

    def eval_dataloader(self, split: str) -> DataLoader:
        """Unaugmented, unshuffled loader of ``split`` (train, val or test) for evaluation."""
        self.setup()
        sets = {"train": self.train_eval_set, "val": self.val_set, "test": self.test_set}
        if split not in sets:
            raise ValueError(f"split must be one of {sorted(sets)}; got {split!r}")
        return self._loader(sets[split], shuffle=False)
