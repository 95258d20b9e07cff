"""A start from the flow on the coarsened volume: the same k as from rest, in fewer steps.

The cases are those of the physics tests (test_transport_flow, test_flow_sparse): plates, square
ducts, simple cubic sphere arrays, spinodoids (periodic, closed sides, mirrored).
"""

import numpy as np
import pytest
from test_flow_sparse import duct, spheres
from test_transport_flow import slit, sphere_cell

from poredesign.structures import spinodoid
from poredesign.transport import permeability
from poredesign.transport.flow_cascade import can_coarsen, coarsen

SPIN = spinodoid(32, (0.15, 0.2, 0.25), 0.45, seed=7)
CASES = {
    "slit 8": (slit(8), "x", {}),
    "slit 12": (slit(12), "y", {}),
    "duct 10": (duct(10, 2), 0, {}),
    "duct 16": (duct(16), "x", {"storage": "sparse"}),
    "spheres c 0.125": (sphere_cell(40, 0.125), "x", {"tol": 1e-5}),
    "spheres c 0.216": (sphere_cell(40, 0.216), "x", {"tol": 1e-5}),
    "spheres r 8": (spheres(24, 8.0), "z", {"storage": "sparse"}),
    "spinodoid": (SPIN, "x", {}),
    "spinodoid sparse": (SPIN, "z", {"storage": "sparse"}),
    "spinodoid closed": (SPIN, "y", {"lateral": "closed", "storage": "sparse"}),
    "spinodoid mirrored": (SPIN[:, :, :30], "z", {"mirror": True}),
}


@pytest.mark.parametrize("case", CASES)
def test_the_cascade_reaches_the_k_of_a_start_from_rest(case):
    solid, axis, options = CASES[case]
    rest = permeability(solid, axis, **options)
    started = permeability(solid, axis, cascade=2, **options)
    assert rest.ok and started.ok
    assert started.k == pytest.approx(rest.k, rel=5e-3)
    levels, edge = 0, min(solid.shape)
    while levels < 2 and can_coarsen((edge,) * 3):  # a coarse edge of at least 8 voxels
        levels, edge = levels + 1, -(-edge // 2)
    assert len(started.cascade) == levels
    if levels:  # never more steps on the full grid (fewer on most: bench/transport.py)
        assert started.iterations <= rest.iterations
    else:
        assert started.iterations == rest.iterations


def test_coarsening_keeps_ties_open_and_wraps_odd_edges():
    solid = np.zeros((4, 4, 5), dtype=bool)
    solid[:2, :2, :2] = True  # a full 2^3 block: solid
    solid[2:, :2, :1] = True  # 4 of 8 voxels: a tie stays pore
    coarse = coarsen(solid)
    assert coarse.shape == (2, 2, 3)
    assert coarse[0, 0, 0] and not coarse[1, 0, 0] and coarse.sum() == 1
