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

Both are solved exactly with a time limit, reporting the proven bound and gap:
small problems as mixed-integer programmes by ``scipy.optimize.milp`` (HiGHS),
larger ones by the Benders branch-and-cut of :mod:`coverage.benders`. A lazy
greedy (CELF, Leskovec et al. 2007) is ``--solver greedy``, reporting the
Lagrangian or the submodularity bound (the covered residents plus the ``p`` largest marginal
gains, never more than the optimum can be). Problems are reduced first:
demand units no candidate reaches are dropped, units with identical candidate
sets merged, and candidates whose set is contained in another's dropped (ties
keep the lowest index).

Maximal covering beyond a small size goes through bound-and-fix before the
MILP (after Galvão and ReVelle 1996, "A Lagrangean heuristic for the maximal
covering location problem"):

1. an incumbent: the lazy greedy answer improved by swaps (one site out, the
   best site in) until no swap gains;
2. an upper bound: the Lagrangian dual of the coverage constraints
   ``y_i <= sum_j x_j`` (multipliers ``0 <= lambda_i <= w_i``),
   ``L(lambda) = sum_i (w_i - lambda_i) + (sum of the p largest
   sum_{i in N_j} lambda_i)``, which bounds every solution for *any*
   multipliers and at its minimum equals the LP relaxation. It is minimised by
   L-BFGS-B (``scipy.optimize.minimize``) on an entropy-smoothed top-``p``
   with the smoothing shrunk in stages; the bound reported is the exact ``L``
   at the multipliers found;
3. a better incumbent from a small MILP over the candidates the smoothed dual
   solution uses (a kernel);
4. reduced-cost fixing: a candidate whose forced use caps ``L`` below the
   incumbent is in no better solution, so it is dropped; one whose exclusion
   does is kept fixed;
5. the Benders branch-and-cut over what is left (its branching on SCIP, with
   lazy cuts), with the rest of the time limit. Its answer is
   proven optimal for the whole problem: every solution outside the fixed
   region is no better than the incumbent.

When the time runs out the best solution found is returned with the smaller
proven bound (the Lagrangian one, or the MILP's over the free region).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp, minimize
from scipy.special import expit, xlogy

from coverage.benders import MasterResult, benders_max_cover, benders_set_cover

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Relative tolerance when comparing residents (shares of the total weight).
WEIGHT_TOLERANCE = 1e-9

#: Maximal covering problems with at most this many coverage pairs (after
#: reduction) go straight to the MILP; larger ones through bound-and-fix first.
DIRECT_MILP_MAX_PAIRS = 20_000

#: Smoothing of the top-``p`` in the Lagrangian dual, as fractions of the
#: ``p``-th largest candidate score, with L-BFGS-B iterations per stage.
DUAL_STAGES: tuple[tuple[float, int], ...] = ((1e-2, 150), (1e-3, 150), (1e-4, 150), (1e-5, 150))

#: The Lagrangian stages of ``--solver greedy``: the coarser half (a bound, not fixing).
GREEDY_DUAL_STAGES = DUAL_STAGES[:2]

#: Bound-and-fix gives the Lagrangian bound at most this share of its time limit
#: (the rest goes to the kernel MILP and the branch-and-cut).
DUAL_TIME_SHARE = 0.7

#: Bound-and-fix stops its branch-and-cut this share of the time limit early, for
#: the set-up of that stage and the answer's build order to fit within the limit.
WRAP_UP_SHARE = 0.02

#: The kernel MILP of bound-and-fix (its step 3) takes the candidates the dual
#: solution uses while they hold at most a quarter of this many coverage pairs.
RESTRICTED_MILP_MAX_PAIRS = 1_000_000


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


def _pattern(cover: sp.sparray | sp.spmatrix, dtype: type = bool) -> sp.csc_array:
    """Coverage as a 0/1 pattern: every stored entry marks coverage, a stored zero too."""
    m = sp.csc_array(cover)
    m.sum_duplicates()
    return sp.csc_array((np.ones(m.nnz, dtype=dtype), m.indices, m.indptr), shape=m.shape)


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
    # every stored entry marks coverage, a stored zero too (a candidate on the spot)
    m = sp.csr_array(_pattern(cover))
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


def greedy_with_bound(
    cover: sp.csc_array, weight: FloatArray, p: int, time_limit_s: float = 60.0
) -> Solution:
    """The lazy greedy answer with the Lagrangian bound (``--solver greedy``).

    The greedy answer of :func:`greedy_max_cover`, its bound the smaller of
    the submodularity bound and the Lagrangian one (:func:`lagrangian_bound`
    with the first two smoothing stages, :data:`GREEDY_DUAL_STAGES`: within a
    few hundredths of a per cent of the LP relaxation's value and much the
    tighter; seconds on large problems, never past ``time_limit_s``).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> cover = sp.csc_array(np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=bool))
    >>> s = greedy_with_bound(cover, np.array([3.0, 3.0, 2.0, 1.0]), 2)
    >>> s.chosen.tolist(), s.covered, s.bound, s.optimal
    ([0, 1], 9.0, 9.0, True)
    """
    start = time.perf_counter()
    m = _pattern(cover)
    greedy = greedy_max_cover(m, weight, p)
    if greedy.chosen.size >= m.shape[1] or greedy.optimal:
        return greedy
    dual = lagrangian_bound(
        m,
        weight,
        greedy.chosen.size,
        stages=GREEDY_DUAL_STAGES,
        target=greedy.covered,
        deadline=start + time_limit_s,
    )
    bound = max(min(greedy.bound, dual.bound), greedy.covered)
    gap = (bound - greedy.covered) / bound if bound > 0 else 0.0
    optimal = gap <= WEIGHT_TOLERANCE
    return Solution(
        chosen=greedy.chosen,
        gains=greedy.gains,
        covered=greedy.covered,
        bound=greedy.covered if optimal else bound,
        optimal=optimal,
        gap=0.0 if optimal else float(gap),
        method="greedy",
        seconds=time.perf_counter() - start,
        message="bound: the Lagrangian one" if dual.bound < greedy.bound else "",
        extra={"lagrangian_bound": dual.bound, "submodularity_bound": greedy.bound},
    )


def _coverage_constraints(cover: sp.csc_array) -> tuple[sp.csr_array, int, int]:
    """``y_i - sum_{j covers i} x_j <= 0`` over variables ``[x (candidates), y (units)]``."""
    n_units, n_cand = cover.shape
    a = sp.hstack([-sp.csr_array(cover, dtype=float), sp.eye_array(n_units, format="csr")])
    return sp.csr_array(a), n_units, n_cand


def milp_max_cover(
    cover: sp.csc_array,
    weight: FloatArray,
    p: int,
    time_limit_s: float = 60.0,
    direct_max_pairs: int = DIRECT_MILP_MAX_PAIRS,
) -> Solution:
    """Maximal covering, proven optimal where the time allows.

    ``max sum_i w_i y_i`` subject to ``y_i <= sum_{j covers i} x_j``,
    ``sum_j x_j = p``, ``x`` binary, ``0 <= y <= 1``. Problems with at most
    ``direct_max_pairs`` coverage pairs go straight to HiGHS; larger ones through
    bound-and-fix first (module docstring), which proves the same optimum on a
    much smaller MILP. ``time_limit_s`` bounds the whole call, bar the last
    stage in progress.

    Returns
    -------
    Solution
        ``extra`` holds ``lagrangian_bound``, ``incumbent_greedy``,
        ``incumbent_swaps``, ``incumbent_kernel``, ``fixed_out``, ``fixed_in``
        and ``free`` (candidates) when bound-and-fix ran.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> cover = sp.csc_array(np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=bool))
    >>> s = milp_max_cover(cover, np.array([3.0, 3.0, 2.0, 1.0]), 2)
    >>> s.chosen.tolist(), s.covered, s.optimal
    ([0, 1], 9.0, True)
    >>> milp_max_cover(cover, np.array([3.0, 3.0, 2.0, 1.0]), 2, direct_max_pairs=0).covered
    9.0
    """
    weight = np.asarray(weight, dtype=float)
    m = _pattern(cover)
    if p <= 0 or m.shape[1] == 0:
        return _finish(m, weight, np.zeros(0, np.int64), 0.0, True, time.perf_counter(), "", {})
    if m.nnz <= direct_max_pairs:
        return _milp_max_cover_direct(m, weight, p, time_limit_s)
    return _bound_and_fix(m, weight, p, time_limit_s)


def _milp_max_cover_direct(
    cover: sp.csc_array, weight: FloatArray, p: int, time_limit_s: float = 60.0
) -> Solution:
    """The MCLP handed to HiGHS whole (``milp_max_cover`` on small problems)."""
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
        options={"time_limit": max(float(time_limit_s), 0.01), "mip_rel_gap": 0.0, "disp": False},
    )
    return _mclp_solution(res, cover, weight, n_cand, p, start)


@dataclass(frozen=True)
class DualBound:
    """The Lagrangian bound of a maximal covering problem.

    Attributes
    ----------
    bound
        ``L(lambda)`` at the multipliers: no ``p`` candidates cover more.
    multipliers
        ``lambda`` per demand unit, in ``[0, w]``.
    scores
        ``sum_{i in N_j} lambda_i`` per candidate.
    base
        ``sum_i (w_i - lambda_i)``.
    usage
        The smoothed dual's candidate use (fractions summing to ``p``): where
        the LP relaxation puts its sites.
    evaluations
        Function evaluations spent.
    stages
        Smoothing stages run (0: the deadline came first; ``usage`` is then uniform).
    """

    bound: float
    multipliers: FloatArray
    scores: FloatArray
    base: float
    usage: FloatArray
    evaluations: int
    stages: int


def _soft_top(
    scores: FloatArray, p: int, mu: float, theta: float
) -> tuple[float, FloatArray, float]:
    """Entropy-smoothed sum of the ``p`` largest scores.

    ``max_x s.x + mu * sum_j H(x_j)`` over ``0 <= x <= 1``, ``sum x = p``
    (``H`` the binary entropy): ``x_j = expit((s_j - theta) / mu)`` with
    ``theta`` found by safeguarded Newton steps from the given start. Never
    less than the exact top-``p`` sum, never more than it plus
    ``mu * n * log 2``. Returns the value, ``x`` (its gradient) and ``theta``.
    """
    lo, hi = float(scores.min()) - 40.0 * mu, float(scores.max()) + 40.0 * mu
    theta = min(max(theta, lo), hi)
    for _ in range(100):
        x = expit((scores - theta) / mu)
        excess = float(x.sum()) - p
        if abs(excess) <= 1e-10 * p:
            break
        if excess > 0:
            lo = theta
        else:
            hi = theta
        slope = float((x * (1.0 - x)).sum()) / mu
        step = theta + excess / slope if slope > 0 else np.nan
        theta = step if lo < step < hi else 0.5 * (lo + hi)
    x = expit((scores - theta) / mu)
    entropy = -float((xlogy(x, x) + xlogy(1.0 - x, 1.0 - x)).sum())
    return float(scores @ x) + mu * entropy, x, theta


def _top_sum(scores: FloatArray, p: int) -> float:
    if p >= scores.size:
        return float(scores.sum())
    return float(np.partition(scores, scores.size - p)[scores.size - p :].sum())


def lagrangian_bound(
    cover: sp.csc_array,
    weight: FloatArray,
    p: int,
    stages: tuple[tuple[float, int], ...] = DUAL_STAGES,
    target: float = -np.inf,
    deadline: float = np.inf,
) -> DualBound:
    """Minimise the Lagrangian dual of maximal covering (module docstring, step 2).

    Parameters
    ----------
    cover
        ``(n_units, n_candidates)`` coverage, stored entries mark coverage.
    weight
        Residents per unit.
    p
        Sites to choose (fewer than the candidates).
    stages
        ``(smoothing, iterations)`` pairs, the smoothing a fraction of the
        ``p``-th largest starting score.
    target
        Stop once the bound is at or below this (an incumbent's value: proven).
    deadline
        ``time.perf_counter()`` value after which no new stage starts.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> cover = sp.csc_array(np.array([[1, 0], [1, 1], [0, 1]], dtype=bool))
    >>> round(lagrangian_bound(cover, np.array([4.0, 1.0, 4.0]), 1).bound, 3)
    5.0
    """
    m = _pattern(cover, float)
    mt = sp.csr_array(m.T)
    w = np.asarray(weight, dtype=float)
    n_cand = m.shape[1]
    lam = 0.5 * w
    scores = mt @ lam
    s_p = float(np.partition(scores, n_cand - p)[n_cand - p])
    scale = s_p or float(w.max(initial=0.0)) or 1.0
    theta = [s_p]
    evaluations = [0]

    def smoothed(lam: FloatArray, mu: float) -> tuple[float, FloatArray]:
        evaluations[0] += 1
        value, x, theta[0] = _soft_top(mt @ lam, p, mu, theta[0])
        return float((w - lam).sum()) + value, m @ x - 1.0

    def exact(lam: FloatArray) -> float:
        return float((w - lam).sum()) + _top_sum(mt @ lam, p)

    best_lam, best = lam, exact(lam)
    usage = np.full(n_cand, p / n_cand)
    stages_run = 0
    bounds = Bounds(np.zeros_like(w), w)
    for fraction, iterations in stages:
        if best <= target or time.perf_counter() > deadline:
            break
        mu = fraction * scale
        res = minimize(
            smoothed,
            lam,
            args=(mu,),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": iterations},
            callback=_stop_at(deadline),
        )
        stages_run += 1
        lam = np.clip(res.x, 0.0, w)
        value = exact(lam)
        usage = _soft_top(mt @ lam, p, mu, theta[0])[1]
        if value < best:
            best_lam, best = lam, value
    scores = mt @ best_lam
    return DualBound(
        bound=best,
        multipliers=best_lam,
        scores=scores,
        base=float((w - best_lam).sum()),
        usage=usage,
        evaluations=evaluations[0],
        stages=stages_run,
    )


def _stop_at(deadline: float) -> Callable[[object], None]:
    """An optimiser callback that ends the iterations once the deadline has passed."""

    def callback(intermediate_result: object) -> None:
        if time.perf_counter() > deadline:
            raise StopIteration

    return callback


def fix_by_bound(
    dual: DualBound, p: int, incumbent: float, tolerance: float
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Reduced-cost fixing from a Lagrangian bound (module docstring, step 4).

    Forcing candidate ``j`` in caps the bound at ``L - s_(p) + s_j`` (it
    replaces the ``p``-th largest score); forcing a top-``p`` candidate out caps
    it at ``L - s_j + s_(p+1)``. Where that cap is below ``incumbent -
    tolerance`` no solution on that side beats the incumbent.

    Returns
    -------
    out, in_
        Masks of the candidates that are in no better solution, and of those
        that are in every better solution.
    """
    s = dual.scores
    n = s.size
    out = np.zeros(n, dtype=bool)
    in_ = np.zeros(n, dtype=bool)
    if p >= n:
        return out, in_
    order = np.argsort(-s, kind="stable")
    top = np.zeros(n, dtype=bool)
    top[order[:p]] = True
    s_p, s_next = float(s[order[p - 1]]), float(s[order[p]])
    bound = dual.base + float(s[order[:p]].sum())
    out = ~top & (bound - s_p + s < incumbent - tolerance)
    in_ = top & (bound - s + s_next < incumbent - tolerance)
    return out, in_


def _unit_counts(cover: sp.csc_array, chosen: IntArray | list[int]) -> npt.NDArray[np.int64]:
    """How many of the chosen columns cover each unit."""
    cols = [cover.indices[cover.indptr[c] : cover.indptr[c + 1]] for c in chosen]
    idx = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    return np.bincount(idx, minlength=cover.shape[0])


def swap_improve(
    cover: sp.csc_array, weight: FloatArray, chosen: IntArray, deadline: float = np.inf
) -> tuple[IntArray, float]:
    """Improve a set of sites by swaps until none gains (or the deadline passes).

    For each chosen site in turn: take it out, put in the candidate with the
    largest gain given the others (ties to the lowest index), keep the swap
    when it covers more residents.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> cover = sp.csc_array(np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=bool))
    >>> swap_improve(cover, np.array([5.0, 5.0, 1.0]), np.array([0]))
    (array([1]), 10.0)
    """
    w = np.asarray(weight, dtype=float)
    mt = sp.csr_array(_pattern(cover, float).T)
    sites = [int(c) for c in chosen]
    counts = _unit_counts(cover, sites)
    value = float(w[counts > 0].sum())
    improved = True
    while improved and time.perf_counter() <= deadline:
        improved = False
        for pos in range(len(sites)):
            if time.perf_counter() > deadline:
                break
            out = sites[pos]
            rows = cover.indices[cover.indptr[out] : cover.indptr[out + 1]]
            without = counts.copy()
            without[rows] -= 1
            gains = mt @ np.where(without > 0, 0.0, w)
            gains[sites] = -1.0
            best = int(np.argmax(gains))
            new_value = float(w[without > 0].sum()) + float(gains[best])
            if new_value > value + WEIGHT_TOLERANCE * max(value, 1.0):
                sites[pos] = best
                counts = without
                counts[cover.indices[cover.indptr[best] : cover.indptr[best + 1]]] += 1
                value = float(w[counts > 0].sum())
                improved = True
    return np.asarray(sites, dtype=np.int64), value


def _restricted(
    cover: sp.csc_array,
    weight: FloatArray,
    p: int,
    free: IntArray,
    fixed: IntArray,
    time_limit_s: float,
    incumbent: IntArray | None = None,
    whole: bool = False,
) -> tuple[IntArray, float, float, bool, str, dict[str, float]]:
    """Maximal covering over ``free`` candidates with ``fixed`` ones already chosen.

    Solved by the Benders branch-and-cut, started from the better of the greedy
    answer improved by swaps and ``incumbent`` (its sites among ``free``); with
    ``whole``, handed to HiGHS whole (the kernel step: on the 5 000 x 50 000
    instances HiGHS's own heuristics found better answers there than the
    branch-and-cut in the same time).
    Returns the chosen sites (fixed and free), their coverage, the proven bound
    on that restricted problem, whether it is proven optimal, the solver's
    message and its statistics.
    """
    deadline = time.perf_counter() + time_limit_s  # the reduction below counts
    counts = _unit_counts(cover, fixed)
    open_rows = np.flatnonzero(counts == 0)
    w = np.asarray(weight, dtype=float)
    base = float(w.sum() - w[open_rows].sum())
    k = p - fixed.size
    if k <= 0 or free.size == 0:
        return fixed, base, base, True, "", {}
    if free.size <= k:
        chosen = np.r_[fixed, free]
        value = covered_weight(cover, w, chosen)
        return chosen, value, value, True, "", {}
    if fixed.size == 0 and free.size == cover.shape[1]:  # nothing fixed: as given
        red = _as_reduced(cover, w)
    else:
        red = reduce_problem(sp.csc_array(cover[open_rows][:, free]), w[open_rows])
    if red.cover.shape[1] == 0:
        return np.r_[fixed, free[:k]], base, base, True, "", {}
    k = min(k, red.cover.shape[1])
    if whole:
        direct = _milp_max_cover_direct(red.cover, red.weight, k, deadline - time.perf_counter())
        sol = MasterResult(
            direct.chosen, direct.covered, direct.bound, direct.optimal, direct.message
        )
    else:
        start = _restricted_start(red, free, k, incumbent, deadline)
        tolerance = WEIGHT_TOLERANCE * float(w.sum())
        sol = benders_max_cover(
            red.cover,
            red.weight,
            k,
            start,
            deadline,
            tolerance,
            improve=lambda chosen, until: swap_improve(red.cover, red.weight, chosen, until)[0],
        )
    picked = free[red.candidates[sol.chosen]]
    if picked.size < p - fixed.size:  # dominated or useless candidates fill the remaining places
        rest = np.setdiff1d(free, picked)[: p - fixed.size - picked.size]
        picked = np.r_[picked, rest]
    chosen = np.r_[fixed, picked]
    return chosen, base + sol.value, base + sol.bound, sol.optimal, sol.message, sol.stats


def _as_reduced(cover: sp.csc_array, weight: FloatArray) -> Reduced:
    """A problem taken as it is (no reduction): every unit and candidate kept."""
    n_units, n_cand = cover.shape
    sizes = dict.fromkeys(("demand_points", "demand_units"), n_units)
    sizes |= dict.fromkeys(("candidates", "candidates_kept"), n_cand)
    return Reduced(cover, weight, np.arange(n_cand, dtype=np.int64), 0.0, sizes)


def _restricted_start(
    red: Reduced, free: IntArray, k: int, incumbent: IntArray | None, deadline: float
) -> IntArray:
    """``k`` columns of a restricted problem to start from: greedy or the incumbent, swapped."""
    greedy = greedy_max_cover(red.cover, red.weight, k).chosen
    starts = [greedy]
    if incumbent is not None:
        # the incumbent's sites that survived the reduction, topped up from the greedy answer
        cols = np.flatnonzero(np.isin(free[red.candidates], incumbent))
        cols = np.r_[cols, greedy[~np.isin(greedy, cols)]][:k]
        starts.append(cols)
    best, best_value = starts[0], -1.0
    for first in starts:
        sites, value = swap_improve(red.cover, red.weight, first, deadline)
        if value > best_value:
            best, best_value = sites, value
    return best


def _bound_and_fix(
    cover: sp.csc_array, weight: FloatArray, p: int, time_limit_s: float
) -> Solution:
    """Maximal covering through bound-and-fix (module docstring)."""
    start = time.perf_counter()
    deadline = start + float(time_limit_s)
    w = np.asarray(weight, dtype=float)
    n_cand = cover.shape[1]
    p = min(p, n_cand)
    tolerance = WEIGHT_TOLERANCE * float(w.sum())
    extra: dict[str, float] = {}
    if p == n_cand:
        chosen = np.arange(n_cand, dtype=np.int64)
        return _finish(cover, w, chosen, float(w.sum()), True, start, "all candidates", extra)
    greedy = greedy_max_cover(cover, w, p)
    chosen, value = swap_improve(cover, w, greedy.chosen, deadline)
    extra |= {"incumbent_greedy": greedy.covered, "incumbent_swaps": value}
    lap = _laps(extra, start)
    lap("seconds_incumbent")
    dual_deadline = min(deadline, start + DUAL_TIME_SHARE * float(time_limit_s))
    dual = lagrangian_bound(cover, w, p, target=value + tolerance, deadline=dual_deadline)
    upper = min(dual.bound, greedy.bound)
    extra["lagrangian_bound"] = dual.bound
    lap("seconds_dual")
    if upper <= value + tolerance:
        return _finish(
            cover,
            w,
            chosen,
            upper,
            True,
            start,
            "bound-and-fix: the Lagrangian bound proves the incumbent",
            extra,
        )
    # a kernel: the candidates the smoothed dual solution uses, and the incumbent
    k = max(3 * p, 100)
    used = np.flatnonzero(dual.usage > 1e-3)
    used = used[np.argsort(-dual.usage[used], kind="stable")][:k]
    size = np.diff(cover.indptr)
    used = used[np.cumsum(size[used]) <= RESTRICTED_MILP_MAX_PAIRS // 4]
    kernel = np.union1d(used, chosen)
    if dual.stages and kernel.size < n_cand and time.perf_counter() < deadline:
        limit = 0.25 * (deadline - time.perf_counter())
        sites, kernel_value, *_ = _restricted(
            cover, w, p, kernel, np.zeros(0, np.int64), limit, chosen, whole=True
        )
        extra["incumbent_kernel"] = kernel_value
        if kernel_value > value + tolerance:
            chosen, value = swap_improve(cover, w, sites, deadline)
    lap("seconds_kernel")
    out, in_ = fix_by_bound(dual, p, value, tolerance)
    free = np.flatnonzero(~out & ~in_)
    fixed = np.flatnonzero(in_)
    extra |= {"fixed_out": float(out.sum()), "fixed_in": float(in_.sum()), "free": float(free.size)}
    message = (
        f"bound-and-fix: Lagrangian bound {dual.bound:,.1f}; {int(out.sum())} candidates "
        f"fixed out, {int(in_.sum())} in, {free.size} left to the MILP"
    )
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        return _finish(
            cover, w, chosen, upper, False, start, message + "; time limit reached", extra
        )
    sites, found, region_bound, proven, milp_message, stats = _restricted(
        cover,
        w,
        p,
        free,
        fixed,
        deadline - WRAP_UP_SHARE * time_limit_s - time.perf_counter(),
        chosen,
    )
    extra |= {f"benders_{key}": v for key, v in stats.items()}
    lap("seconds_milp")
    if found > value + tolerance:
        chosen, value = sites, found
    # outside the free region nothing beats the incumbent; inside, the MILP's bound holds
    upper = min(upper, max(value, region_bound))
    optimal = proven or upper <= value + tolerance
    if milp_message:
        message += f"; {milp_message}"
    return _finish(
        cover, w, chosen, upper if not optimal else value, optimal, start, message, extra
    )


def _laps(extra: dict[str, float], start: float) -> Callable[[str], None]:
    """Record stage times in ``extra``: each call writes the time since the last."""
    last = [start]

    def lap(name: str) -> None:
        now = time.perf_counter()
        extra[name] = now - last[0]
        last[0] = now

    return lap


def _finish(
    cover: sp.csc_array,
    weight: FloatArray,
    chosen: IntArray,
    bound: float,
    optimal: bool,
    start: float,
    message: str,
    extra: dict[str, float],
) -> Solution:
    order, gains = build_order(cover, weight, chosen)
    covered = float(gains.sum())
    bound = covered if optimal else max(bound, covered)
    gap = 0.0 if optimal else ((bound - covered) / bound if bound > 0 else 0.0)
    return Solution(
        chosen=order,
        gains=gains,
        covered=covered,
        bound=bound,
        optimal=optimal,
        gap=float(gap),
        method="milp",
        seconds=time.perf_counter() - start,
        message=message,
        extra=extra,
    )


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
            method="greedy",
            seconds=time.perf_counter() - start,
            message=f"the MILP found no solution within its time limit: {getattr(res, 'message', '')}",
        )
    chosen = np.flatnonzero(np.asarray(x[:n_cand]) > 0.5)
    order, gains = build_order(cover, weight, chosen)
    covered = float(gains.sum())
    dual = getattr(res, "mip_dual_bound", None)
    optimal = getattr(res, "status", 1) == 0
    if dual is not None and np.isfinite(dual):
        bound = -float(dual)
    else:
        # no dual bound from HiGHS: the greedy bound is a true one (never the answer itself)
        bound = covered if optimal else greedy_max_cover(cover, weight, p).bound
    bound = max(bound, covered)
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
    cover: sp.csc_array,
    weight: FloatArray,
    need: float,
    time_limit_s: float = 60.0,
    direct_max_pairs: int = DIRECT_MILP_MAX_PAIRS,
) -> Solution:
    """The fewest candidates whose coverage reaches ``need`` residents.

    ``min sum_j x_j`` subject to ``sum_i w_i y_i >= need``, ``y_i <= sum_{j covers i} x_j``.
    ``need`` above what all candidates together reach is lowered to that (the
    message says so). Problems with at most ``direct_max_pairs`` coverage pairs
    go straight to HiGHS; larger ones to the Benders branch-and-cut
    (:func:`coverage.benders.benders_set_cover`) started from the greedy answer.
    Among solutions with the fewest sites the solver's is returned, ordered by
    incremental gain.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> cover = sp.csc_array(np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=bool))
    >>> w = np.array([3.0, 3.0, 2.0, 1.0])
    >>> [milp_set_cover(cover, w, 8.0, direct_max_pairs=d).bound for d in (10**9, 0)]
    [2.0, 2.0]
    """
    start = time.perf_counter()
    weight = np.asarray(weight, dtype=float)
    reachable = float(weight.sum())
    message = ""
    shortfall = {"unreachable_need": float(need), "reachable": reachable}
    if need > reachable * (1 + WEIGHT_TOLERANCE):
        message = (
            f"the target needs {need:,.0f} more residents covered but all candidates together "
            f"reach {reachable:,.0f}: solved for the highest feasible coverage"
        )
        need = reachable
    else:
        shortfall = {}
    if need <= 0:
        return Solution(
            np.zeros(0, dtype=np.int64), np.zeros(0), 0.0, 0.0, True, 0.0, "milp", 0.0, message
        )
    m = _pattern(cover)
    # a hair of slack so that rounding in the weights never makes the target infeasible
    need_eff = need - WEIGHT_TOLERANCE * max(reachable, 1.0)
    if m.nnz <= direct_max_pairs:
        chosen, optimal, lower, note = _set_cover_direct(m, weight, need_eff, time_limit_s)
    else:
        first = greedy_to_need(m, weight, need_eff)
        res = benders_set_cover(m, weight, need_eff, first, start + float(time_limit_s))
        chosen, optimal, lower, note = res.chosen, res.optimal, res.bound, res.message
    order, gains = build_order(m, weight, chosen)
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
        message="; ".join(x for x in (message, note) if x),
        extra={"need": float(need)} | shortfall,
    )


def _set_cover_direct(
    cover: sp.csc_array, weight: FloatArray, need: float, time_limit_s: float
) -> tuple[IntArray, bool, float, str]:
    """Set cover to ``need`` handed to HiGHS whole: sites, optimal, lower bound, message."""
    a, n_units, n_cand = _coverage_constraints(cover)
    c = np.concatenate([np.ones(n_cand), np.zeros(n_units)])
    served = sp.csr_array(np.concatenate([np.zeros(n_cand), weight])[None, :])
    res = milp(
        c,
        constraints=[LinearConstraint(a, -np.inf, 0.0), LinearConstraint(served, need, np.inf)],
        integrality=np.concatenate([np.ones(n_cand), np.zeros(n_units)]),
        bounds=Bounds(0.0, 1.0),
        options={"time_limit": max(float(time_limit_s), 0.01), "disp": False},
    )
    x = getattr(res, "x", None)
    if x is None:
        raise RuntimeError(f"the MILP solver found no solution: {res.message}")
    dual = getattr(res, "mip_dual_bound", None)
    lower = float(np.ceil(dual - 1e-6)) if dual is not None and np.isfinite(dual) else 0.0
    chosen = np.flatnonzero(np.asarray(x[:n_cand]) > 0.5)
    return chosen, res.status == 0, lower, str(res.message)


def greedy_to_need(cover: sp.csc_array, weight: FloatArray, need: float) -> IntArray:
    """Lazy greedy until the chosen columns cover ``need`` (or all that can be covered).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> cover = sp.csc_array(np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=bool))
    >>> greedy_to_need(cover, np.array([3.0, 3.0, 2.0, 1.0]), 8.0).tolist()
    [0, 1]
    """
    w = np.asarray(weight, dtype=float)
    covered = np.zeros(cover.shape[0], dtype=bool)

    def gain(c: int) -> float:
        rows = cover.indices[cover.indptr[c] : cover.indptr[c + 1]]
        return float(w[rows[~covered[rows]]].sum())

    heap = [(-gain(c), c) for c in range(cover.shape[1])]
    heapq.heapify(heap)
    chosen: list[int] = []
    total = 0.0
    while heap and total < need:
        _, c = heapq.heappop(heap)
        fresh = gain(c)
        if fresh <= 0:
            continue
        if heap and fresh < -heap[0][0]:
            heapq.heappush(heap, (-fresh, c))
            continue
        chosen.append(c)
        total += fresh
        rows = cover.indices[cover.indptr[c] : cover.indptr[c + 1]]
        covered[rows] = True
    return np.asarray(chosen, dtype=np.int64)
