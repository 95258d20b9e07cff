"""Lattice constants: D3Q19 (flow) and D3Q7 (diffusion), as plain Python tuples.

The kernels unroll every loop over directions at compile time (``ti.static``), so these are
compile-time constants there. Directions come in opposite pairs ``(q, OPP[q])``; the rest
direction is index 0.
"""

from __future__ import annotations

# ---------------------------------------------------------------- D3Q19
D3Q19_C: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (1, 0, 0),
    (-1, 0, 0),
    (0, 1, 0),
    (0, -1, 0),
    (0, 0, 1),
    (0, 0, -1),
    (1, 1, 0),
    (-1, -1, 0),
    (1, -1, 0),
    (-1, 1, 0),
    (1, 0, 1),
    (-1, 0, -1),
    (1, 0, -1),
    (-1, 0, 1),
    (0, 1, 1),
    (0, -1, -1),
    (0, 1, -1),
    (0, -1, 1),
)
D3Q19_W: tuple[float, ...] = (1.0 / 3.0,) + (1.0 / 18.0,) * 6 + (1.0 / 36.0,) * 12
D3Q19_OPP: tuple[int, ...] = tuple(D3Q19_C.index((-cx, -cy, -cz)) for cx, cy, cz in D3Q19_C)
# (q, opposite) with q < opposite, rest direction excluded: 9 pairs
D3Q19_PAIRS: tuple[tuple[int, int], ...] = tuple(
    (q, D3Q19_OPP[q]) for q in range(1, 19) if q < D3Q19_OPP[q]
)

# ---------------------------------------------------------------- D3Q7
D3Q7_C: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (1, 0, 0),
    (-1, 0, 0),
    (0, 1, 0),
    (0, -1, 0),
    (0, 0, 1),
    (0, 0, -1),
)
# w0 = 1/4, w_i = 1/8: c_s^2 = 1/4
D3Q7_W: tuple[float, ...] = (0.25,) + (0.125,) * 6
D3Q7_CS2 = 0.25
D3Q7_OPP: tuple[int, ...] = tuple(D3Q7_C.index((-cx, -cy, -cz)) for cx, cy, cz in D3Q7_C)
D3Q7_PAIRS: tuple[tuple[int, int], ...] = ((1, 2), (3, 4), (5, 6))

# TRT "magic" parameters Lambda = (tau_+ - 1/2)(tau_- - 1/2), tau_+/- the relaxation times of the
# symmetric and antisymmetric parts
MAGIC_FLOW = 3.0 / 16.0  # halfway bounce-back exact for Poiseuille flow; k independent of tau_+
MAGIC_DIFFUSION = 0.25  # steady state equals the 7-point finite-volume scheme (BGK, tau_+ = 1)


def trt_rates(relaxation_time: float, magic: float) -> tuple[float, float]:
    """(lambda+, lambda-) = (1 / tau_+, 1 / tau_-): the TRT rates for the relaxation time tau_+
    (``relaxation_time``, > 0.5) with tau_- from the magic parameter."""
    if relaxation_time <= 0.5:
        raise ValueError(f"relaxation_time must be > 0.5; got {relaxation_time}")
    minus = 0.5 + magic / (relaxation_time - 0.5)
    return 1.0 / relaxation_time, 1.0 / minus


def check_tables() -> None:
    """Sanity checks of the tables (isotropy moments); raises AssertionError."""
    for c, w, cs2 in ((D3Q19_C, D3Q19_W, 1.0 / 3.0), (D3Q7_C, D3Q7_W, D3Q7_CS2)):
        assert abs(sum(w) - 1.0) < 1e-12
        for a in range(3):
            assert abs(sum(wi * ci[a] for wi, ci in zip(w, c, strict=True))) < 1e-12
            for b in range(3):
                m2 = sum(wi * ci[a] * ci[b] for wi, ci in zip(w, c, strict=True))
                assert abs(m2 - (cs2 if a == b else 0.0)) < 1e-12
