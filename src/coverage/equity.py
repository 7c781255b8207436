"""The spread of coverage between communities (METHOD.md, "Equity across communities").

Pure arrays: one coverage share per community and its residents as weight.
Every resident of a community is taken to have the community's share (the
spread within a community is not counted), so the statistics are those of
the residents' distribution of their community's coverage.

- :func:`weighted_gini`: the Gini coefficient of community coverage,
  weighted by residents.
- :func:`palma_ratio`: mean coverage of the best-served 10 % of residents
  over that of the worst-served 40 % (communities split at the cut points).
- :func:`share_below`: the share of residents in communities whose coverage
  is below a level (half the target, in the indicator table).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from coverage.terms import TOLERANCE

__all__ = [
    "PALMA_BOTTOM",
    "PALMA_TOP",
    "palma_ratio",
    "share_below",
    "weighted_gini",
    "weighted_median_by_group",
]

FloatArray = npt.NDArray[np.float64]

#: Shares of residents compared by the Palma ratio: the top 10 % over the bottom 40 %.
PALMA_TOP = 0.1
PALMA_BOTTOM = 0.4


def _valid(values: npt.ArrayLike, weights: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x, w = np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
    keep = (w > 0) & np.isfinite(x)
    x, w = x[keep], w[keep]
    # the statistics do not depend on the weights' scale: scaled by a power of two (exact)
    # to at most 1, so that tiny weights do not underflow
    return x, (np.ldexp(w, -int(np.frexp(w.max())[1])) if w.size else w)


def weighted_gini(values: npt.ArrayLike, weights: npt.ArrayLike) -> float:
    """Gini coefficient of ``values`` (community coverage) weighted by ``weights`` (residents).

    ``G = Σ_i Σ_j w_i w_j |x_i − x_j| / (2 W Σ_i w_i x_i)`` with ``W = Σ w``:
    0 when every community has the same coverage, towards 1 when one small
    community holds all of it. NaN when no one is counted or no one is covered
    (0 / 0). Communities without residents are left out.

    Examples
    --------
    Two communities of 100 residents, one fully covered, one not:

    >>> weighted_gini([1.0, 0.0], [100, 100])
    0.5
    >>> weighted_gini([0.6, 0.6, 0.6], [1, 5, 9]), weighted_gini([0.0, 0.0], [1, 1])
    (0.0, nan)
    """
    x, w = _valid(values, weights)
    total, mass = float(w.sum()), float((w * x).sum())
    if total <= 0 or mass <= 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    below = np.cumsum(w) - w  # residents of communities sorted before each
    above = total - below - w
    # Σ_i Σ_j w_i w_j |x_i − x_j| = 2 Σ_i w_i x_i (W_below − W_above); ties cancel
    return float((w * x * (below - above)).sum() / (total * mass))


def _mass_mean(x: FloatArray, w: FloatArray, lo: float, hi: float) -> float:
    """Mean of ``x`` over the residents ranked ``lo``..``hi`` (in resident counts, sorted)."""
    end = np.cumsum(w)
    start = end - w
    overlap = np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0.0, None)
    return float((x * overlap).sum() / (hi - lo))


def palma_ratio(values: npt.ArrayLike, weights: npt.ArrayLike) -> float:
    """Palma ratio of community coverage: the top 10 % of residents' mean over the bottom 40 %'s.

    Residents are ranked by their community's coverage; a community that
    straddles a cut point counts on both sides in proportion. When the bottom
    40 % have no coverage the ratio is ``inf`` (and NaN when no one is covered
    at all, or no one is counted).

    Examples
    --------
    Ten communities of 10 residents with coverage 0.1, 0.2, ..., 1.0: the top
    10 % is the 1.0 community, the bottom 40 % average 0.25.

    >>> round(palma_ratio([i / 10 for i in range(1, 11)], [10] * 10), 6)
    4.0
    >>> palma_ratio([0.0, 1.0], [60, 40]), palma_ratio([0.0], [5])
    (inf, nan)
    """
    x, w = _valid(values, weights)
    total = float(w.sum())
    if total <= 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    bottom = _mass_mean(x, w, 0.0, PALMA_BOTTOM * total)
    top = _mass_mean(x, w, (1.0 - PALMA_TOP) * total, total)
    if bottom > TOLERANCE:
        return top / bottom
    return float("inf") if top > TOLERANCE else float("nan")


def share_below(values: npt.ArrayLike, weights: npt.ArrayLike, level: float) -> float:
    """Share of the residents whose community's coverage is below ``level``.

    NaN when no one is counted or ``level`` is NaN (no target).

    Examples
    --------
    >>> share_below([0.2, 0.5, 0.9], [10, 30, 60], 0.5)
    0.1
    """
    x, w = _valid(values, weights)
    total = float(w.sum())
    if total <= 0 or not np.isfinite(level):
        return float("nan")
    return float(w[x < level - TOLERANCE].sum() / total)


def weighted_median_by_group(
    values: npt.ArrayLike, weights: npt.ArrayLike, group: npt.ArrayLike, n_groups: int
) -> FloatArray:
    """The weighted median of ``values`` in each group (NaN for a group without weight).

    The lower weighted median: the smallest value at which half the group's
    weight is reached. ``inf`` values (beyond a search bound) count as the
    largest.

    Examples
    --------
    >>> weighted_median_by_group([5.0, 9.0, 2.0, np.inf], [1, 3, 2, 3], [0, 0, 1, 1], 3)
    array([ 9., inf, nan])
    """
    v, w = np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
    g = np.asarray(group, dtype=np.int64)
    out = np.full(n_groups, np.nan)
    keep = w > 0
    v, w, g = v[keep], w[keep], g[keep]
    order = np.lexsort((v, g))
    v, w, g = v[order], w[order], g[order]
    cum = np.cumsum(w)
    starts = np.searchsorted(g, np.arange(n_groups), side="left")
    ends = np.searchsorted(g, np.arange(n_groups), side="right")
    for k in np.flatnonzero(ends > starts):
        base = cum[starts[k]] - w[starts[k]]
        half = (cum[ends[k] - 1] - base) / 2.0
        at = starts[k] + int(np.searchsorted(cum[starts[k] : ends[k]] - base, half - TOLERANCE))
        out[k] = v[min(at, ends[k] - 1)]
    return out
