"""Learning data pipeline: split, pooling, lazy views, axis permutation and label-preserving
augmentation (checked against a real diffusion solve)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from learn_stores import diffusivity, make_stores

from poredesign.learn import (
    Augment,
    PoreDataModule,
    StructureViews,
    pool2,
    rotate_to_x,
    split_indices,
    to_input,
    to_input_torch,
)
from poredesign.learn.transforms import rotate_to_x_torch
from poredesign.store import StructureStore, atomic_group, write_array
from poredesign.structures import spinodoid


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    return make_stores(tmp_path_factory.mktemp("learn-data"), n=10, size=16)


def test_split_is_deterministic_disjoint_and_complete():
    a = split_indices(100, (0.8, 0.1, 0.1), seed=7)
    b = split_indices(100, (0.8, 0.1, 0.1), seed=7)
    c = split_indices(100, (0.8, 0.1, 0.1), seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
    assert [len(s) for s in a] == [80, 10, 10]
    assert np.array_equal(np.sort(np.concatenate(a)), np.arange(100))
    with pytest.raises(ValueError, match="sum"):
        split_indices(10, (0.5, 0.1, 0.1), seed=0)


def test_pooling_sums_windows_and_scales_to_half_range():
    rng = np.random.default_rng(0)
    vol = rng.random((8, 8, 8)) < 0.4
    pooled = pool2(vol)
    assert pooled.shape == (4, 4, 4) and pooled.dtype == np.uint8
    assert pooled[1, 2, 3] == vol[2:4, 4:6, 6:8].sum()
    x = to_input(vol, pool=True)
    assert x.min() >= -0.5 and x.max() <= 0.5
    assert np.allclose((x + 0.5) * 8, pooled)
    assert np.array_equal(to_input(vol, pool=False, scale="binary"), vol.astype(np.float32))
    xt = to_input_torch(torch.from_numpy(vol[None]), pool=True)
    assert xt.shape == (1, 1, 4, 4, 4) and np.allclose(xt[0, 0].numpy(), x)


def test_rotation_numpy_and_torch_agree():
    vol = np.random.default_rng(1).random((6, 6, 6)) < 0.5
    for axis in range(3):
        r = rotate_to_x(vol, axis)
        rt = rotate_to_x_torch(torch.from_numpy(vol[None]), axis)[0].numpy()
        assert np.array_equal(r, rt)
        # the axis moved to x: slices normal to x of the view are slices normal to `axis`,
        # cyclically ordered (axis + 1, axis + 2)
        expected = {0: vol[3], 1: vol[:, 3, :].T, 2: vol[:, :, 3]}[axis]
        assert np.array_equal(r[3], expected)


def test_axis_permutation_pairs_each_view_with_its_label(stores):
    structures, properties = stores
    dm = PoreDataModule(
        structures,
        properties,
        {
            "targets": ["eta", "porosity"],
            "axes": [0, 1, 2],
            "pool": False,
            "augment": {"flip": False, "swap": False, "shift": False},
        },
    )
    dm.setup()
    ds = dm.train_set
    store = StructureStore(structures)
    labels = dm.labels
    assert len(ds) == 3 * len(dm.train_idx)
    for item in range(len(ds)):
        x, y = ds[item]
        index, axis = ds.view(item)
        assert index == dm.train_idx[item // 3] and axis == item % 3
        assert np.array_equal(x[0].numpy(), rotate_to_x(store[index], axis) - 0.5)
        assert y[0] == pytest.approx(labels["eta"][index, axis], rel=1e-6)
        assert y[1] == pytest.approx(labels["porosity"][index], rel=1e-6)


def test_axis_permutation_matches_physics():
    """A solve along x on each rotated view gives the solve along that axis on the original."""
    vol = spinodoid(12, (0.3, 0.15, 0.1), 0.6, seed=4)
    etas = [diffusivity(vol, axis) for axis in range(3)]
    assert len({round(e, 6) for e in etas}) == 3  # anisotropic, so a mix-up would show
    for axis in range(3):
        assert diffusivity(rotate_to_x(vol, axis), 0) == pytest.approx(etas[axis], rel=1e-8)


@pytest.mark.parametrize("seed", range(6))
def test_augmentation_keeps_the_transport_label_of_a_periodic_structure(seed):
    vol = spinodoid(12, (0.25, 0.12, 0.18), 0.6, seed=11)
    eta = diffusivity(vol, 0)
    gen = torch.Generator().manual_seed(seed)
    aug = Augment(flip=True, swap=True, shift=True, shift_axes="orthogonal")
    out = aug(vol, transport_axis=0, generator=gen)
    assert out.shape == vol.shape and out.sum() == vol.sum()
    assert diffusivity(np.ascontiguousarray(out), 0) == pytest.approx(eta, rel=1e-7)


def test_each_augmentation_changes_the_volume_but_not_the_label():
    vol = spinodoid(12, (0.25, 0.12, 0.18), 0.6, seed=12)
    eta = diffusivity(vol, 0)
    variants = [
        np.flip(vol, 1),
        np.flip(vol, 2),
        np.swapaxes(vol, 1, 2),
        np.roll(vol, (3, 5), axis=(1, 2)),
    ]
    for v in variants:
        assert not np.array_equal(v, vol)
        assert diffusivity(np.ascontiguousarray(v), 0) == pytest.approx(eta, rel=1e-7)
    # a transpose that moves the transport axis is not a symmetry: the label must change
    assert diffusivity(np.ascontiguousarray(np.swapaxes(vol, 0, 1)), 0) != pytest.approx(eta)


def test_augmented_training_views_keep_labels_and_validation_views_do_not_change(stores):
    structures, properties = stores
    dm = PoreDataModule(structures, properties, {"targets": ["eta"], "axes": [0, 1, 2]})
    dm.setup()
    torch.manual_seed(0)
    x1, y1 = dm.train_set[4]
    x2, y2 = dm.train_set[4]
    assert torch.equal(y1, y2)
    assert x1.sum() == x2.sum()  # the same voxels, moved
    v1, _ = dm.val_set[0]
    v2, _ = dm.val_set[0]
    assert torch.equal(v1, v2)


def test_non_periodic_structures_get_no_shifts(stores):
    structures, properties = stores
    dm = PoreDataModule(structures, properties, {"targets": ["eta"], "periodic": False})
    dm.setup()
    assert dm.train_set.augment is not None and dm.train_set.augment.shift is False


def test_datamodule_views_are_lazy_and_picklable(stores):
    structures, properties = stores
    dm = PoreDataModule(structures, properties, {"targets": ["k"], "axes": [2]}, batch_size=4)
    dm.setup()
    # a dataset carries the store path, never the structures
    assert len(pickle.dumps(dm.train_set)) < 4000
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (4, 1, 16, 16, 16) and y.shape == (4, 1)
    lo, hi = dm.target_range()
    assert lo.shape == (1,) and np.all(hi > lo)
    assert dm.eval_dataloader("test").dataset is dm.test_set


def test_missing_targets_and_wrong_shapes_are_named(stores, tmp_path):
    structures, properties = stores
    dm = PoreDataModule(structures, properties, {"targets": ["nope"]})
    with pytest.raises(KeyError, match="nope"):
        dm.setup()
    with pytest.raises(ValueError, match="property store"):
        PoreDataModule(structures, None, {"targets": ["eta"]})
    with pytest.raises(ValueError, match="axes"):
        StructureViews(structures, [0], axes=[3])


def test_flagged_and_missing_labels_are_left_out(tmp_path):
    structures, _ = make_stores(tmp_path, n=6, size=16)
    eta = np.full((6, 3), 0.3)
    eta[1, 2] = np.nan  # not computed
    flags = np.zeros((6, 3), dtype=np.int32)
    flags[2, 0] = 1  # no percolating path (eta = 0)
    eta[2, 0] = 0.0
    properties = tmp_path / "flagged.zarr"
    with atomic_group(properties) as group:
        write_array(group, "eta", eta)
        write_array(group, "tau", 0.5 / eta)
        write_array(group, "flags_eta", flags)
    dm = PoreDataModule(structures, properties, {"targets": ["eta"], "split": [1.0, 0.0, 0.0]})
    dm.setup()
    views = dm.train_set.views
    assert len(views) == 6 * 3 - 2 and (1, 2) not in views and (2, 0) not in views
    assert dm.excluded == {"train": 2, "val": 0, "test": 0}
    assert np.all(np.isfinite(dm.train_set.label_matrix()))
    # tortuosity comes from the same diffusion solve, so it shares its flags
    dm = PoreDataModule(structures, properties, {"targets": ["tau"], "split": [1.0, 0.0, 0.0]})
    dm.setup()
    assert (2, 0) not in dm.train_set.views and (1, 2) not in dm.train_set.views
