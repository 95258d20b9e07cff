"""Percolation checks and the square-pore generator (SPEC 1.3)."""

import numpy as np
import pytest
from scipy import ndimage

from poredesign.structures import (
    both_phases_percolate,
    percolating_axes,
    percolating_mask,
    pore_percolates,
    porosity,
    solid_percolates,
    spanning_mask,
    square_pores,
    validate_binary,
)
from poredesign.transport.connectivity import spanning_mask as transport_spanning_mask
from poredesign.transport.inputs import as_solid


def test_straight_channel_percolates_along_its_axis_only():
    solid = np.ones((12, 12, 12), dtype=bool)
    solid[:, 5:7, 5:7] = False  # channel along x
    assert pore_percolates(solid) == (True, False, False)
    assert solid_percolates(solid) == (True, True, True)
    assert not both_phases_percolate(solid)


def test_diagonal_contact_does_not_connect_with_face_connectivity():
    phase = np.zeros((4, 4, 4), dtype=bool)
    phase[0, 0, 0] = phase[1, 1, 0] = phase[2, 2, 0] = phase[3, 3, 0] = True
    assert percolating_axes(phase) == (False, False, False)
    phase[1, 0, 0] = phase[2, 1, 0] = phase[3, 2, 0] = True  # staircase of face neighbours
    assert percolating_axes(phase)[0]


def test_empty_phase_and_crossing_channels():
    solid = np.ones((10, 10, 10), dtype=bool)
    assert pore_percolates(solid) == (False, False, False)
    solid[:, 4, 4] = False
    solid[4, :, 4] = False
    solid[4, 4, :] = False
    assert pore_percolates(solid) == (True, True, True)


def test_validate_binary_rejects_gray_values_and_wrong_rank():
    assert validate_binary(np.array([[[0, 1]]], dtype=np.uint8)).dtype == bool
    with pytest.raises(ValueError, match="binary"):
        validate_binary(np.full((2, 2, 2), 0.5))
    with pytest.raises(ValueError, match="3-D"):
        validate_binary(np.zeros((4, 4), dtype=bool))


def test_one_binary_check_names_the_input_and_reads_two_values_on_request():
    gray = np.zeros((3, 3, 3), dtype=np.uint8)
    gray[0] = 255
    with pytest.raises(ValueError, match=r"^scan\.tif: expected a binary volume.*0, 255"):
        validate_binary(gray, "scan.tif")
    read = validate_binary(gray, "scan.tif", two_values=True)  # pore = lower, solid = higher
    assert read.dtype == bool and read[0].all() and not read[1:].any()
    with pytest.raises(ValueError, match="binary"):  # three values stay an error
        validate_binary(gray + np.arange(3, dtype=np.uint8)[:, None, None], two_values=True)
    with pytest.raises(ValueError, match="dtype"):
        validate_binary(np.full((2, 2, 2), "a"))
    # the transport solvers' check is the same one, with at least 2 voxels per axis
    with pytest.raises(ValueError, match=r"^vol: every axis needs at least 2 voxels"):
        as_solid(np.zeros((1, 4, 4)), "vol")
    view = np.zeros((4, 4, 8), dtype=np.uint8)[:, :, ::2]
    assert as_solid(view).flags.c_contiguous and as_solid(view).dtype == bool


def test_spanning_mask_joins_lateral_faces_only_when_periodic():
    # a pore path along x that leaves through y = N-1 and comes back at y = 0
    pore = np.zeros((6, 6, 6), dtype=bool)
    pore[0:3, 5, 2] = True
    pore[2:6, 0, 2] = True
    pore[0, 0, 4] = True  # a dead end on the inlet face: never spanning
    assert not spanning_mask(pore, 0, periodic=False).any()
    assert not percolating_mask(pore, 0).any()
    assert percolating_axes(pore) == (False, False, False)
    joined = spanning_mask(pore, 0, periodic=True)
    assert joined.sum() == 7 and not joined[0, 0, 4]
    # the solvers' spanning mask is this one, lateral wrap by default
    assert np.array_equal(transport_spanning_mask(pore, 0), joined)
    # the inlet and outlet faces are never joined: the path that crosses y = N-1 -> 0 spans no y
    assert not spanning_mask(pore, 1, periodic=True).any()


@pytest.mark.parametrize("n", [10, 25, 40])
def test_square_pores_porosity_no_overlap_all_slices_equal(n):
    solid = square_pores(n, seed=n)
    assert solid.shape == (100, 100, 100)
    assert np.count_nonzero(~solid) == n * 100 * 100  # porosity exactly n / 100
    assert porosity(solid) == pytest.approx(n / 100, abs=1e-12)
    assert np.all(solid == solid[:, :, :1])
    # every pore pixel belongs to exactly one 10x10 square: their total area is n * 100
    assert np.count_nonzero(~solid[:, :, 0]) == n * 100
    # each connected pore cluster is a union of whole squares
    labels, count = ndimage.label(~solid[:, :, 0])
    sizes = np.bincount(labels.ravel())[1:]
    assert count >= 1 and np.all(sizes % 100 == 0)
    assert pore_percolates(solid)[2]


def test_square_pores_deterministic_and_validated():
    assert np.array_equal(square_pores(20, seed=1, depth=5), square_pores(20, seed=1, depth=5))
    assert not np.array_equal(square_pores(20, seed=1, depth=5), square_pores(20, seed=2, depth=5))
    with pytest.raises(ValueError, match="n_pores=101"):
        square_pores(101, seed=0)
