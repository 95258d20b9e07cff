"""Tiny structure and property stores for the learning tests (synthetic labels, real structures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from poredesign.store import atomic_group, write_array, write_structures
from poredesign.structures import spinodoid


def make_stores(root: Path, n: int = 10, size: int = 16, seed: int = 0) -> tuple[Path, Path]:
    """``structures.zarr`` with n spinodoids of edge ``size`` and ``transport.zarr`` with synthetic
    labels: eta (n, 3) in (0, porosity), k (n, 3), tau (n, 3), porosity (n,). eta grows with a_i
    (longer features along i conduct better), a smooth function the models can learn."""
    rng = np.random.default_rng(seed)
    vols, params = [], []
    for _ in range(n):
        a = rng.uniform(0.1, 0.3, 3)
        eps = rng.uniform(0.45, 0.75)
        vols.append(spinodoid(size, a, eps, seed=int(rng.integers(1 << 30))))
        params.append([*a, eps])
    params = np.array(params)
    structures = root / "structures.zarr"
    write_structures(
        structures,
        vols,
        params,
        ["a_x", "a_y", "a_z", "porosity"],
        generator="spinodoid",
        seed=seed,
    )
    por = np.array([1.0 - v.mean() for v in vols])
    a = params[:, :3]
    eta = por[:, None] * (0.3 + 0.6 * a / a.max(axis=1, keepdims=True))
    properties = root / "transport.zarr"
    with atomic_group(properties) as group:
        write_array(group, "eta", eta)
        write_array(group, "k", 5.0 * eta**2)
        write_array(group, "tau", por[:, None] / eta)
        write_array(group, "porosity", por)
        group.attrs.update({"source": "synthetic test labels"})
    return structures, properties


def diffusivity(solid: np.ndarray, axis: int = 0) -> float:
    """Relative diffusivity along ``axis`` by a finite-volume solve (SPEC 2.2 set-up): c = 1 on
    the first pore layer, 0 on the last, zero flux into solid, periodic laterally;
    eta = J (N - 1) / N^2."""
    solid = np.moveaxis(np.asarray(solid, bool), axis, 0)
    n = solid.shape[0]
    pore = ~solid
    idx = -np.ones(solid.shape, dtype=np.int64)
    idx[pore] = np.arange(pore.sum())
    rows, cols = [], []
    for d in range(3):
        a = idx
        b = np.roll(idx, -1, axis=d)
        if d == 0:  # no wrap along transport
            a, b = a[:-1], b[:-1]
        m = (a >= 0) & (b >= 0)
        rows.append(a[m])
        cols.append(b[m])
    r, c = np.concatenate(rows), np.concatenate(cols)
    n_pore = int(pore.sum())
    adj = scipy.sparse.coo_matrix((np.ones(len(r)), (r, c)), shape=(n_pore, n_pore)).tocsr()
    adj = adj + adj.T
    lap = scipy.sparse.diags(np.asarray(adj.sum(axis=1)).ravel()) - adj
    fixed = np.zeros(n_pore, dtype=bool)
    value = np.zeros(n_pore)
    fixed[idx[0][pore[0]]] = True
    value[idx[0][pore[0]]] = 1.0
    fixed[idx[-1][pore[-1]]] = True
    free = ~fixed
    a_ff = lap[free][:, free] + 1e-10 * scipy.sparse.eye(int(free.sum()))
    rhs = -lap[free][:, fixed] @ value[fixed]
    conc = value.copy()
    conc[free] = scipy.sparse.linalg.spsolve(a_ff.tocsc(), rhs)
    # flux between layer 0 and layer 1
    a0, a1 = idx[0], idx[1]
    m = (a0 >= 0) & (a1 >= 0)
    flux = float(np.sum(conc[a0[m]] - conc[a1[m]]))
    return flux * (n - 1) / (solid.shape[1] * solid.shape[2])
