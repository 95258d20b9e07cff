"""Stretch direction and intensity of Voronoi membranes from their generation parameters [Z23].

A Voronoi membrane (SPEC 1.2) is stretched along axis i when its factor e_i < 1 (cells and struts
elongate by about 1/e_i along i). The paper characterises the latent space by the stretch
*direction* and its *intensity*; this module defines both from the parameters
(n_points, radius, e_x, e_y, e_z, porosity):

- direction: the axis with the smallest e (``x``, ``y``, ``z``) when min(e) < 1, else
  ``isotropic``; unknown (code -1, empty string) when the stretch factors are NaN (imported scans
  have no generation parameters);
- intensity = 1 - min(e), in [0, 0.5] for the paper's range e in [0.5, 1] (0 = isotropic).

Two stretched axes (the paper's second set): the direction is still the axis of the *strongest*
stretch and the intensity 1 - min(e), so a structure stretched along x and y counts as an x (or y)
structure; :func:`stretched_axes` gives the full set of stretched axes (e.g. ``"xy"``), which is
what the figures use to show such structures between their parent branches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: direction codes 0..3; -1 = unknown
DIRECTIONS = ("x", "y", "z", "isotropic")
ISOTROPIC = 3
UNKNOWN = -1
#: e >= 1 - this counts as unstretched (e = 1 exactly in generated structures; rounding margin)
TOLERANCE = 1e-9
STRETCH_NAMES = ("e_x", "e_y", "e_z")


def stretch_factors(params: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """The (n, 3) stretch factors (e_x, e_y, e_z) from a parameter table with column ``names``."""
    names = list(names)
    missing = [s for s in STRETCH_NAMES if s not in names]
    if missing:
        raise ValueError(
            f"the parameter table has columns {names}; stretch direction and intensity need "
            f"{list(STRETCH_NAMES)} (Voronoi parameters), missing {missing}"
        )
    params = np.asarray(params, dtype=np.float64).reshape(-1, len(names))
    return params[:, [names.index(s) for s in STRETCH_NAMES]]


def stretch_direction(e: np.ndarray) -> np.ndarray:
    """Direction codes (n,) int8 of stretch factors ``e`` (n, 3): 0/1/2 = axis x/y/z of min(e),
    3 = isotropic (min(e) >= 1), -1 = unknown (any factor NaN)."""
    e = np.asarray(e, dtype=np.float64).reshape(-1, 3)
    known = np.all(np.isfinite(e), axis=1)
    filled = np.where(np.isfinite(e), e, 1.0)
    code = np.argmin(filled, axis=1).astype(np.int8)
    code[filled.min(axis=1) >= 1.0 - TOLERANCE] = ISOTROPIC
    code[~known] = UNKNOWN
    return code


def stretch_intensity(e: np.ndarray) -> np.ndarray:
    """Intensities (n,) = 1 - min(e), clipped at 0 (factors above 1 are not stretching); NaN
    where a factor is NaN."""
    e = np.asarray(e, dtype=np.float64).reshape(-1, 3)
    return np.maximum(1.0 - e.min(axis=1), 0.0)  # NaN propagates through min


def stretched_axes(e: np.ndarray) -> list[str]:
    """The stretched axes of each structure as a string (``"x"``, ``"xy"``, ...), ``"isotropic"``
    when none, ``""`` when unknown."""
    e = np.asarray(e, dtype=np.float64).reshape(-1, 3)
    out = []
    for row in e:
        if not np.all(np.isfinite(row)):
            out.append("")
            continue
        axes = "".join(a for a, v in zip("xyz", row, strict=True) if v < 1.0 - TOLERANCE)
        out.append(axes or "isotropic")
    return out


def direction_names(codes: np.ndarray) -> list[str]:
    """Direction names of codes (``""`` for unknown)."""
    return [DIRECTIONS[c] if 0 <= c < len(DIRECTIONS) else "" for c in np.asarray(codes).ravel()]


#: a structure counts as clearly stretched when min(e) < 1 - this ([Z23]'s directions are
#: readable there; with e >= 0.95 the direction is nearly a coin flip even from the image)
STRONG_STRETCH = 0.15


def strongly_stretched(intensity: np.ndarray) -> np.ndarray:
    """Bool mask (n,) of the clearly stretched structures: intensity 1 - min(e) above
    STRONG_STRETCH (False where the intensity is unknown, NaN)."""
    return np.nan_to_num(np.asarray(intensity, dtype=float), nan=0.0) > STRONG_STRETCH


def leave_one_out_direction_accuracy(
    points: np.ndarray,
    direction: np.ndarray,
    chunk: int = 256,
    scored: np.ndarray | None = None,
) -> float | None:
    """Share of the rows with a known direction whose nearest *other* such row in ``points``
    (n, k), Euclidean, has the same direction: how well nearest neighbours in that space recover
    the stretch direction within a set (e.g. the training structures in PC1-PC2, or their full
    latent means). ``scored`` (n,) bool: score only those rows (their neighbours still come from
    every known row). None when fewer than two rows are known or none is scored."""
    direction = np.asarray(direction).ravel()
    known = direction != UNKNOWN
    points = np.asarray(points, dtype=np.float64).reshape(len(direction), -1)[known]
    labels = direction[known]
    keep = np.ones(len(labels), bool) if scored is None else np.asarray(scored, bool)[known]
    if len(labels) < 2 or not keep.any():
        return None
    norms = np.einsum("ij,ij->i", points, points)
    hits = np.zeros(len(labels), bool)
    for start in range(0, len(points), chunk):
        rows = points[start : start + chunk]
        d2 = norms[start : start + len(rows), None] + norms[None, :] - 2.0 * rows @ points.T
        d2[np.arange(len(rows)), np.arange(start, start + len(rows))] = np.inf  # not itself
        hits[start : start + len(rows)] = (
            labels[np.argmin(d2, axis=1)] == labels[start : start + len(rows)]
        )
    return float(hits[keep].mean())


def chord_directions(structures: np.ndarray) -> np.ndarray:
    """Direction codes (n,) of the axis with the longest mean pore chord of each bool structure
    (n, N, N, N), True = solid: the geometric descriptor a latent's direction must be compared
    with (pore cells elongate along the stretched axis; no model involved)."""
    from poredesign.structures.scans import mean_chord_lengths

    out = np.full(len(structures), UNKNOWN, dtype=np.int8)
    for i, solid in enumerate(structures):
        chords = mean_chord_lengths(~np.asarray(solid, dtype=bool))
        if np.isfinite(chords).any():
            out[i] = int(np.nanargmax(chords))
    return out


def majority_share(direction: np.ndarray) -> float | None:
    """Share of the most frequent direction among the rows with a known one: the accuracy of
    always guessing it, the chance level a direction estimate must beat. None when none is known."""
    direction = np.asarray(direction).ravel()
    known = direction[direction != UNKNOWN]
    if len(known) == 0:
        return None
    return float(np.bincount(known.astype(np.int64)).max() / len(known))
