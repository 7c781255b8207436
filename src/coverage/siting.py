"""Siting new facilities: maximal covering, set covering and candidate testing.

The numeric core works on a coverage matrix: ``cover[i, j]`` is true when
demand unit ``i`` is within reach of candidate ``j`` (from the reach engine's
bounded catchments, or a radius), with ``weight[i]`` the residents *not yet
covered* by existing facilities (existing facilities are fixed, so residents
they already cover are left out before the problem is built).

Models (METHOD.md, "Siting"):

- maximal covering (MCLP, Church and ReVelle 1974): choose ``p`` candidates to
  maximise the residents newly covered;
- set covering to a target: the fewest candidates whose new coverage reaches a
  number of residents (the highest feasible number when the target cannot be
  reached, with the residents no candidate reaches reported).

Both are solved exactly as mixed-integer programmes by ``scipy.optimize.milp``
(HiGHS) with a time limit, reporting the proven bound and gap; a lazy greedy
(CELF, Leskovec et al. 2007) serves instances too large, reporting the
submodularity bound (the covered residents plus the ``p`` largest marginal
gains, never more than the optimum can be). Problems are reduced first:
demand units no candidate reaches are dropped, units with identical candidate
sets merged, and candidates whose set is contained in another's dropped (ties
keep the lowest index).
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Relative tolerance when comparing residents (shares of the total weight).
WEIGHT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Reduced:
    """A reduced covering problem and how it maps back.

    Attributes
    ----------
    cover
        ``(n_units, n_kept)`` CSC boolean matrix.
    weight
        Residents per unit (merged demand points add up).
    candidates
        Original index of each kept candidate (ascending).
    unreachable_weight
        Residents no candidate reaches (dropped).
    sizes
        Sizes before and after: demand points, units, candidates.
    """

    cover: sp.csc_array
    weight: FloatArray
    candidates: IntArray
    unreachable_weight: float
    sizes: dict[str, int]


@dataclass(frozen=True)
class Solution:
    """Chosen candidates and the proof status.

    Attributes
    ----------
    chosen
        Original candidate indices in build order (largest incremental gain
        first; ties to the lowest index).
    gains
        Residents newly covered by each chosen candidate, in that order.
    covered
        Residents newly covered by all of them.
    bound
        Proven upper bound on the residents any solution of the model can
        newly cover (MCLP), or lower bound on the number of sites (set cover).
    optimal
        Proven optimal (within HiGHS's tolerances).
    gap
        Relative gap between the solution and the bound (0 when optimal).
    method
        ``milp`` or ``greedy``.
    seconds
        Solver time.
    message
        The solver's message or a note (e.g. the target could not be reached).
    """

    chosen: IntArray
    gains: FloatArray
    covered: float
    bound: float
    optimal: bool
    gap: float
    method: str
    seconds: float
    message: str = ""
    extra: dict[str, float] = field(default_factory=dict)


def reduce_problem(cover: sp.sparray | sp.spmatrix, weight: FloatArray) -> Reduced:
    """Shrink a covering problem without changing its optimum.

    Parameters
    ----------
    cover
        ``(n_demand, n_candidates)``: stored entries mark coverage (values ignored).
    weight
        Residents per demand point still to cover (0: already covered or empty).

    Returns
    -------
    Reduced

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> cover = sp.csr_array(np.array([[1, 1, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]]))
    >>> r = reduce_problem(cover, np.array([5.0, 2.0, 1.0, 9.0]))
    >>> r.weight.tolist(), r.candidates.tolist(), r.unreachable_weight
    ([7.0, 1.0], [1], 9.0)
    """
    m = sp.csr_array(cover)
    m.sum_duplicates()
    # every stored entry marks coverage, a stored zero too (a candidate on the spot)
    m = sp.csr_array((np.ones(m.nnz, dtype=bool), m.indices, m.indptr), shape=m.shape)
    weight = np.asarray(weight, dtype=float)
    n_demand, n_cand = m.shape
    reach = np.diff(m.indptr) > 0
    useful = reach & (weight > 0)
    unreachable = float(weight[~reach & (weight > 0)].sum())
    rows = np.flatnonzero(useful)
    m = m[rows]
    w = weight[rows]
    # merge units with identical candidate sets
    keys: dict[bytes, int] = {}
    unit_of = np.empty(rows.size, dtype=np.int64)
    for i in range(rows.size):
        key = m.indices[m.indptr[i] : m.indptr[i + 1]].tobytes()
        unit_of[i] = keys.setdefault(key, len(keys))
    n_units = len(keys)
    merged_w = np.bincount(unit_of, weights=w, minlength=n_units).astype(float)
    first = np.full(n_units, -1, dtype=np.int64)
    first[unit_of[::-1]] = np.arange(rows.size)[::-1]
    units = sp.csc_array(m[first])
    # drop candidates that reach nobody, then dominated ones
    alive = np.flatnonzero(np.diff(units.indptr) > 0)
    units = units[:, alive]
    size = np.diff(units.indptr)
    overlap = sp.csr_array(units.T.astype(np.int64) @ units.astype(np.int64))
    coo = overlap.tocoo()
    a, b, v = coo.row, coo.col, coo.data
    contained = (a != b) & (v == size[a])
    # a is dominated by b: b covers everything a does, and more, or the same with a lower index
    dominated_by = contained & ((size[b] > size[a]) | (b < a))
    dominated = np.zeros(alive.size, dtype=bool)
    dominated[a[dominated_by]] = True
    keep = np.flatnonzero(~dominated)
    return Reduced(
        cover=sp.csc_array(units[:, keep]),
        weight=merged_w,
        candidates=alive[keep].astype(np.int64),
        unreachable_weight=unreachable,
        sizes={
            "demand_points": int(n_demand),
            "demand_points_reachable": int(rows.size),
            "demand_units": int(n_units),
            "candidates": int(n_cand),
            "candidates_reaching_anyone": int(alive.size),
            "candidates_kept": int(keep.size),
        },
    )


def covered_weight(cover: sp.csc_array, weight: FloatArray, chosen: IntArray) -> float:
    """Residents covered by a set of columns of ``cover``."""
    if len(chosen) == 0:
        return 0.0
    hit = np.asarray(cover[:, np.asarray(chosen)].sum(axis=1)).ravel() > 0
    return float(weight[hit].sum())


def build_order(
    cover: sp.csc_array, weight: FloatArray, chosen: IntArray
) -> tuple[IntArray, FloatArray]:
    """Order chosen columns by incremental gain (largest first, ties to the lowest index).

    Returns
    -------
    order, gains
        Column indices and the residents each adds to those before it.
    """
    left = [int(c) for c in sorted(chosen)]
    covered = np.zeros(cover.shape[0], dtype=bool)
    order: list[int] = []
    gains: list[float] = []
    while left:
        best, best_gain = left[0], -1.0
        for c in left:
            rows = cover.indices[cover.indptr[c] : cover.indptr[c + 1]]
            g = float(weight[rows[~covered[rows]]].sum())
            if g > best_gain * (1 + WEIGHT_TOLERANCE) + WEIGHT_TOLERANCE:
                best, best_gain = c, g
        rows = cover.indices[cover.indptr[best] : cover.indptr[best + 1]]
        covered[rows] = True
        order.append(best)
        gains.append(best_gain)
        left.remove(best)
    return np.asarray(order, dtype=np.int64), np.asarray(gains, dtype=float)


def greedy_max_cover(cover: sp.csc_array, weight: FloatArray, p: int) -> Solution:
    """Lazy greedy (CELF) for maximal covering, with the submodularity bound.

    The bound: at every step, covered residents plus the ``p`` largest
    (possibly stale, hence larger) marginal gains bound every ``p``-set from
    above; the smallest such bound is reported.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> cover = sp.csc_array(np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=bool))
    >>> s = greedy_max_cover(cover, np.array([3.0, 3.0, 2.0, 1.0]), 2)
    >>> s.chosen.tolist(), s.covered
    ([0, 1], 9.0)
    """
    start = time.perf_counter()
    n = cover.shape[1]
    p = min(p, n)
    weight = np.asarray(weight, dtype=float)
    covered = np.zeros(cover.shape[0], dtype=bool)

    def gain(c: int) -> float:
        rows = cover.indices[cover.indptr[c] : cover.indptr[c + 1]]
        return float(weight[rows[~covered[rows]]].sum())

    heap = [(-gain(c), c, 0) for c in range(n)]
    heapq.heapify(heap)
    chosen: list[int] = []
    gains: list[float] = []
    total = 0.0
    bound = np.inf
    for step in range(p):
        # stale gains only overstate (submodularity): total + the p largest bounds the optimum
        bound = min(bound, total + float(sum(-g for g, _, _ in heapq.nsmallest(p, heap))))
        while True:
            neg, c, stamp = heapq.heappop(heap)
            if stamp == step:
                break
            heapq.heappush(heap, (-gain(c), c, step))
        chosen.append(c)
        gains.append(-neg)
        total += -neg
        rows = cover.indices[cover.indptr[c] : cover.indptr[c + 1]]
        covered[rows] = True
    bound = max(min(bound, total + float(sum(-g for g, _, _ in heapq.nsmallest(p, heap)))), total)
    gap = (bound - total) / bound if bound > 0 else 0.0
    return Solution(
        chosen=np.asarray(chosen, dtype=np.int64),
        gains=np.asarray(gains, dtype=float),
        covered=total,
        bound=float(bound),
        optimal=gap <= WEIGHT_TOLERANCE,
        gap=float(gap),
        method="greedy",
        seconds=time.perf_counter() - start,
    )


def _coverage_constraints(cover: sp.csc_array) -> tuple[sp.csr_array, int, int]:
    """``y_i - sum_{j covers i} x_j <= 0`` over variables ``[x (candidates), y (units)]``."""
    n_units, n_cand = cover.shape
    a = sp.hstack([-sp.csr_array(cover, dtype=float), sp.eye_array(n_units, format="csr")])
    return sp.csr_array(a), n_units, n_cand


def milp_max_cover(
    cover: sp.csc_array, weight: FloatArray, p: int, time_limit_s: float = 60.0
) -> Solution:
    """Maximal covering by mixed-integer programming (HiGHS through ``scipy.optimize.milp``).

    ``max sum_i w_i y_i`` subject to ``y_i <= sum_{j covers i} x_j``,
    ``sum_j x_j = p``, ``x`` binary, ``0 <= y <= 1``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> cover = sp.csc_array(np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=bool))
    >>> s = milp_max_cover(cover, np.array([3.0, 3.0, 2.0, 1.0]), 2)
    >>> s.chosen.tolist(), s.covered, s.optimal
    ([0, 1], 9.0, True)
    """
    start = time.perf_counter()
    a, n_units, n_cand = _coverage_constraints(cover)
    p = min(p, n_cand)
    weight = np.asarray(weight, dtype=float)
    c = np.concatenate([np.zeros(n_cand), -weight])
    pick = sp.csr_array(np.concatenate([np.ones(n_cand), np.zeros(n_units)])[None, :])
    res = milp(
        c,
        constraints=[LinearConstraint(a, -np.inf, 0.0), LinearConstraint(pick, p, p)],
        integrality=np.concatenate([np.ones(n_cand), np.zeros(n_units)]),
        bounds=Bounds(0.0, 1.0),
        options={"time_limit": float(time_limit_s), "mip_rel_gap": 0.0, "disp": False},
    )
    return _mclp_solution(res, cover, weight, n_cand, p, start)


def _mclp_solution(
    res: object, cover: sp.csc_array, weight: FloatArray, n_cand: int, p: int, start: float
) -> Solution:
    x = getattr(res, "x", None)
    if x is None:
        # no incumbent within the time limit: the greedy answer, with the better of the
        # two proven bounds (HiGHS's dual bound when it has one, the greedy bound)
        greedy = greedy_max_cover(cover, weight, p)
        dual = getattr(res, "mip_dual_bound", None)
        bound = greedy.bound
        if dual is not None and np.isfinite(dual):
            bound = min(bound, -float(dual))
        bound = max(bound, greedy.covered)
        gap = (bound - greedy.covered) / bound if bound > 0 else 0.0
        return Solution(
            chosen=greedy.chosen,
            gains=greedy.gains,
            covered=greedy.covered,
            bound=bound,
            optimal=gap <= WEIGHT_TOLERANCE,
            gap=float(gap),
            method="greedy (the MILP found no solution within its time limit)",
            seconds=time.perf_counter() - start,
            message=str(getattr(res, "message", "")),
        )
    chosen = np.flatnonzero(np.asarray(x[:n_cand]) > 0.5)
    order, gains = build_order(cover, weight, chosen)
    covered = float(gains.sum())
    dual = getattr(res, "mip_dual_bound", None)
    bound = -float(dual) if dual is not None and np.isfinite(dual) else covered
    bound = max(bound, covered)
    optimal = getattr(res, "status", 1) == 0
    gap = 0.0 if optimal else ((bound - covered) / bound if bound > 0 else 0.0)
    return Solution(
        chosen=order,
        gains=gains,
        covered=covered,
        bound=covered if optimal else bound,
        optimal=bool(optimal),
        gap=float(gap),
        method="milp",
        seconds=time.perf_counter() - start,
        message=str(getattr(res, "message", "")),
    )


def milp_set_cover(
    cover: sp.csc_array, weight: FloatArray, need: float, time_limit_s: float = 60.0
) -> Solution:
    """The fewest candidates whose coverage reaches ``need`` residents.

    ``min sum_j x_j`` subject to ``sum_i w_i y_i >= need``, ``y_i <= sum_{j covers i} x_j``.
    ``need`` above what all candidates together reach is lowered to that (the
    message says so). Among solutions with the fewest sites the solver's
    is returned, ordered by incremental gain.
    """
    start = time.perf_counter()
    weight = np.asarray(weight, dtype=float)
    reachable = float(weight.sum())
    message = ""
    if need > reachable * (1 + WEIGHT_TOLERANCE):
        message = (
            f"the target needs {need:,.0f} more residents covered but all candidates together "
            f"reach {reachable:,.0f}: solved for the highest feasible coverage"
        )
        need = reachable
    a, n_units, n_cand = _coverage_constraints(cover)
    if need <= 0:
        return Solution(
            np.zeros(0, dtype=np.int64), np.zeros(0), 0.0, 0.0, True, 0.0, "milp", 0.0, message
        )
    c = np.concatenate([np.ones(n_cand), np.zeros(n_units)])
    served = sp.csr_array(np.concatenate([np.zeros(n_cand), weight])[None, :])
    # a hair of slack so that rounding in the weights never makes the target infeasible
    need_eff = need - WEIGHT_TOLERANCE * max(reachable, 1.0)
    res = milp(
        c,
        constraints=[LinearConstraint(a, -np.inf, 0.0), LinearConstraint(served, need_eff, np.inf)],
        integrality=np.concatenate([np.ones(n_cand), np.zeros(n_units)]),
        bounds=Bounds(0.0, 1.0),
        options={"time_limit": float(time_limit_s), "disp": False},
    )
    x = getattr(res, "x", None)
    if x is None:
        raise RuntimeError(f"the MILP solver found no solution: {res.message}")
    chosen = np.flatnonzero(np.asarray(x[:n_cand]) > 0.5)
    order, gains = build_order(cover, weight, chosen)
    optimal = res.status == 0
    dual = getattr(res, "mip_dual_bound", None)
    lower = float(np.ceil(dual - 1e-6)) if dual is not None and np.isfinite(dual) else 0.0
    sites = float(order.size)
    gap = 0.0 if optimal else ((sites - lower) / sites if sites > 0 else 0.0)
    return Solution(
        chosen=order,
        gains=gains,
        covered=float(gains.sum()),
        bound=sites if optimal else lower,
        optimal=bool(optimal),
        gap=float(gap),
        method="milp",
        seconds=time.perf_counter() - start,
        message="; ".join(m for m in (message, str(res.message)) if m),
        extra={"need": float(need)},
    )


def milp_p_median(
    time_pairs: sp.sparray | sp.spmatrix,
    weight: FloatArray,
    existing: FloatArray,
    p: int,
    time_limit_s: float = 60.0,
) -> Solution:
    """p-median on travel time with existing facilities fixed.

    Each demand point keeps its time to the nearest existing facility
    (``existing``, capped by the caller, e.g. at a cut-off) unless a new site is
    nearer: ``min sum_i w_i e_i + sum_{i,j} w_i (t_ij - e_i) z_ij`` subject to
    ``sum_j z_ij <= 1``, ``z_ij <= x_j``, ``sum_j x_j = p``. Only pairs with
    ``t_ij < e_i`` enter. ``covered`` in the solution is the saving in
    resident-minutes (or the unit of ``time_pairs``); ``extra["total"]`` the
    total weighted time after.

    Parameters
    ----------
    time_pairs
        ``(n_demand, n_candidates)`` sparse travel times of the pairs within a
        cut-off (stored zeros are pairs at zero time).
    weight
        Residents per demand point.
    existing
        Time to the nearest existing facility (finite: cap it).
    p
        New sites.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> t = sp.csr_array(np.array([[1.0, 9.0], [8.0, 2.0], [9.0, 3.0]]))
    >>> s = milp_p_median(t, np.array([1.0, 1.0, 5.0]), np.array([10.0, 10.0, 10.0]), 1)
    >>> s.chosen.tolist(), s.extra["total"]
    ([1], 26.0)
    """
    start = time.perf_counter()
    coo = sp.coo_array(time_pairs)
    weight = np.asarray(weight, dtype=float)
    existing = np.asarray(existing, dtype=float)
    if not np.isfinite(existing).all():
        raise ValueError("existing times must be finite: cap them at a cut-off")
    better = coo.data < existing[coo.row]
    i, j, t = coo.row[better], coo.col[better], coo.data[better]
    n_demand, n_cand = coo.shape
    n_pairs = i.size
    p = min(p, n_cand)
    base = float((weight * existing).sum())
    c = np.concatenate([np.zeros(n_cand), weight[i] * (t - existing[i])])
    k = np.arange(n_pairs)
    one_each = sp.csr_array((np.ones(n_pairs), (i, n_cand + k)), shape=(n_demand, n_cand + n_pairs))
    link = sp.csr_array(
        (np.r_[np.ones(n_pairs), -np.ones(n_pairs)], (np.r_[k, k], np.r_[n_cand + k, j])),
        shape=(n_pairs, n_cand + n_pairs),
    )
    pick = sp.csr_array(np.r_[np.ones(n_cand), np.zeros(n_pairs)][None, :])
    res = milp(
        c,
        constraints=[
            LinearConstraint(one_each, -np.inf, 1.0),
            LinearConstraint(link, -np.inf, 0.0),
            LinearConstraint(pick, p, p),
        ],
        integrality=np.r_[np.ones(n_cand), np.zeros(n_pairs)],
        bounds=Bounds(0.0, 1.0),
        options={"time_limit": float(time_limit_s), "mip_rel_gap": 0.0, "disp": False},
    )
    x = getattr(res, "x", None)
    if x is None:
        raise RuntimeError(f"the MILP solver found no solution: {res.message}")
    chosen = np.flatnonzero(x[:n_cand] > 0.5)
    # each demand point's best time given the chosen sites, then build order by saving
    open_ = np.zeros(n_cand, dtype=bool)
    open_[chosen] = True
    best = existing.copy()
    sel = open_[j]
    np.minimum.at(best, i[sel], t[sel])
    saving_total = float((weight * (existing - best)).sum())
    order, gains = _order_by_saving(existing, t, i, j, sel, weight, chosen)
    optimal = res.status == 0
    dual = getattr(res, "mip_dual_bound", None)
    # the dual bound bounds the objective (minus the saving) from below
    bound = -float(dual) if dual is not None and np.isfinite(dual) else saving_total
    gap = 0.0 if optimal else (max(bound - saving_total, 0.0) / bound if bound > 0 else 0.0)
    return Solution(
        chosen=order,
        gains=gains,
        covered=saving_total,
        bound=saving_total if optimal else max(bound, saving_total),
        optimal=bool(optimal),
        gap=float(gap),
        method="milp",
        seconds=time.perf_counter() - start,
        message=str(res.message),
        extra={"total": base - saving_total, "total_before": base},
    )


def _order_by_saving(
    existing: FloatArray,
    t: FloatArray,
    i: IntArray,
    j: IntArray,
    sel: npt.NDArray[np.bool_],
    weight: FloatArray,
    chosen: IntArray,
) -> tuple[IntArray, FloatArray]:
    """Build order of p-median sites: largest incremental time saving first (ties: lowest)."""
    best = existing.copy()
    left = [int(c) for c in sorted(chosen)]
    order: list[int] = []
    gains: list[float] = []
    while left:
        top, top_gain = left[0], -1.0
        for c in left:
            m = sel & (j == c)
            g = float((weight[i[m]] * np.maximum(best[i[m]] - t[m], 0.0)).sum())
            if g > top_gain * (1 + WEIGHT_TOLERANCE) + WEIGHT_TOLERANCE:
                top, top_gain = c, g
        m = sel & (j == top)
        np.minimum.at(best, i[m], t[m])
        order.append(top)
        gains.append(top_gain)
        left.remove(top)
    return np.asarray(order, dtype=np.int64), np.asarray(gains, dtype=float)
