"""Benders branch-and-cut for maximal covering and set covering to a target.

After Cordeau, Furini and Ljubić (2019), "Benders decomposition for very large
scale partial set covering and maximal covering location problems" (EJOR
277(2)). The coverage variables ``y`` are projected out: the master problem
holds the sites ``x`` and one variable ``theta_k`` per *group* of demand units
(units near one another, :func:`unit_groups`), the residents of group ``k``
newly covered. For sites ``x_bar`` (fractional or not) the subproblem of a
group is solved in closed form, ``Q_k(x_bar) = sum_{i in k} w_i min(1, a_i)``
with ``a_i = sum_{j covers i} x_bar_j``, and its dual gives the cut

    theta_k <= sum_{i in k, a_i >= 1} w_i + sum_j x_j sum_{i in k, j covers i, a_i < 1} w_i,

valid for every ``x`` (``min(1, a) <= t a + 1 - t`` for any ``t`` in
``[0, 1]``) and tight at ``x_bar``. One group per unit is the usual MILP; one
group for all units the submodular cuts of Nemhauser and Wolsey; groups the
size of a catchment keep the master small and its cuts sparse and strong.

The master's LP relaxation is solved first by HiGHS (``highspy``) in a cut
loop (cuts at fractional points, stabilised by separating between the LP point
and the incumbent), with rounding of its points for incumbents and
reduced-cost fixing at its end. Then the master is branched on from the
incumbent, by one of two engines, each where it did best on the benchmarks:

- maximal covering: SCIP (:mod:`coverage.branch_and_cut`), with the cuts as
  lazy constraints and user cuts at every node;
- p-median and set cover: HiGHS. HiGHS 1.16 cannot add rows from a callback,
  so a master solution that overstates its true value interrupts the solve;
  its cuts are added and the MILP restarted (branch-and-check).

The answer is proven optimal when the master is solved to optimality at a
solution its cuts value exactly.
"""

from __future__ import annotations

import heapq
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import highspy
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from highspy.highs import HighsCallbackEvent

from coverage.branch_and_cut import VIOLATION, branch_and_cut

__all__ = [
    "MasterResult",
    "benders_max_cover",
    "benders_p_median",
    "benders_set_cover",
    "unit_groups",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: True objective of integral sites (``inf`` when infeasible) and whether the
#: master's ``theta`` (``None``: not asked) overstates it.
Evaluate = Callable[[FloatArray, FloatArray | None], tuple[float, bool]]

#: A local search the caller offers: better sites from given ones, by a deadline.
Improve = Callable[[IntArray, float], IntArray]

#: SCIP's endings that leave a valid answer and bound (others hand over to HiGHS).
SCIP_ENDINGS = ("optimal", "timelimit", "gaplimit", "userinterrupt")

#: Restarts of HiGHS's branch-and-check after a solution its cuts overstate.
MAX_RESTARTS = 500

#: Cut loop on the master LP: at most this many rounds, and it stops once the
#: bound has moved less than ``LP_STALL`` (relative) over ``LP_STALL_ROUNDS`` rounds.
LP_MAX_ROUNDS = 60
LP_STALL = 2e-5
LP_STALL_ROUNDS = 4

#: Reduced-cost fixing keeps this share of the problem's scale (its total
#: weight) as a margin against the LP's tolerances.
FIX_MARGIN = 1e-7

#: Problems with at most this many coverage pairs get one group per demand unit
#: (the master is then the usual MILP, whose LP HiGHS solves in seconds at this
#: size); larger ones are grouped by :func:`unit_groups`.
UNIT_GROUPS_MAX_PAIRS = 50_000


@dataclass
class MasterResult:
    """What the Benders master proved.

    Attributes
    ----------
    chosen
        Chosen columns of the cover given.
    value
        Their true objective: residents covered (maximal covering) or sites (set cover).
    bound
        Proven bound on the optimum: upper (maximal covering) or lower (set cover).
    optimal
        Proven optimal.
    message
        What stopped the solve.
    stats
        LP rounds, cuts, nodes, fixings and seconds per phase.
    """

    chosen: IntArray
    value: float
    bound: float
    optimal: bool
    message: str
    stats: dict[str, float] = field(default_factory=dict)


def unit_groups(cover: sp.csc_array) -> IntArray:
    """Group demand units by catchment: greedy anchors, each taking the units it covers.

    The candidate covering the most units not yet grouped becomes an anchor
    (lazy greedy, ties to the lowest index) and takes them, until every unit is
    in a group; units no candidate covers form a group of their own.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> cover = sp.csc_array(np.array([[1, 0], [1, 1], [0, 1], [0, 1]], dtype=bool))
    >>> unit_groups(cover).tolist()
    [1, 0, 0, 0]
    """
    n_units, n_cand = cover.shape
    group = np.full(n_units, -1, dtype=np.int64)

    def gain(c: int) -> int:
        rows = cover.indices[cover.indptr[c] : cover.indptr[c + 1]]
        return int((group[rows] < 0).sum())

    heap = [(-gain(c), c) for c in range(n_cand)]
    heapq.heapify(heap)
    k = 0
    while heap:
        neg, c = heapq.heappop(heap)
        fresh = gain(c)
        if fresh == 0:
            continue
        if fresh < -neg and heap and fresh < -heap[0][0]:
            heapq.heappush(heap, (-fresh, c))
            continue
        rows = cover.indices[cover.indptr[c] : cover.indptr[c + 1]]
        group[rows[group[rows] < 0]] = k
        k += 1
    group[group < 0] = k
    return group


class _Cuts:
    """Separation of the group cuts (module docstring) for one covering problem."""

    def __init__(self, cover: sp.csc_array, weight: FloatArray, group: IntArray) -> None:
        self.cover = sp.csc_array(cover, dtype=float)
        self.rows = sp.csr_array(self.cover)
        self.weight = np.asarray(weight, dtype=float)
        self.group = group
        self.n_groups = int(group.max(initial=-1)) + 1
        self.n_cand = cover.shape[1]
        self.group_weight: FloatArray = np.asarray(
            np.bincount(group, self.weight, minlength=self.n_groups), dtype=float
        )
        self.scale = max(float(self.weight.sum()), 1.0)

    def values(self, x: FloatArray) -> FloatArray:
        """``Q_k(x)`` per group."""
        a = self.cover @ x
        q = np.bincount(self.group, self.weight * np.minimum(a, 1.0), minlength=self.n_groups)
        return np.asarray(q, dtype=float)

    def cuts(self, x: FloatArray, groups: IntArray) -> tuple[sp.csr_array, FloatArray]:
        """Cuts of the given groups at ``x``: coefficients on ``x`` and constants."""
        a = self.cover @ x
        done = a >= 1.0 - 1e-9
        const = np.asarray(
            np.bincount(self.group, self.weight * done, minlength=self.n_groups)[groups], float
        )
        slot = np.full(self.n_groups, -1, dtype=np.int64)
        slot[groups] = np.arange(groups.size)
        units = np.flatnonzero(~done & (slot[self.group] >= 0))
        # per group, the residents of its open units summed per candidate: one sparse product
        pick = sp.csr_array(
            (self.weight[units], (slot[self.group[units]], units)),
            shape=(groups.size, self.rows.shape[0]),
        )
        return sp.csr_array(pick @ self.rows), const


class _MedianCuts:
    """Separation of p-median cuts, in the form of the covering ones (``theta <= const + coef x``).

    Unit ``i`` saves ``e_i - T_i(x)`` (``e_i`` its time without new sites,
    ``T_i`` the nearest chosen site's time, capped at ``e_i``). For sites
    ``x_bar`` let ``D_i`` be the time at which the chosen mass of ``i``'s
    pairs, taken nearest first, reaches 1 (``e_i`` if it never does); then

        theta_k <= sum_{i in k} w_i (e_i - D_i) + sum_j x_j sum_{i in k, t_ij < D_i} w_i (D_i - t_ij)

    holds for every integral ``x`` (the nearest chosen site below ``D_i``
    alone lowers the right side to ``e_i - T_i``) and is tight at ``x_bar``:
    the Benders cut of the radius formulation (Duran-Mateluna, Ales and
    Elloumi 2023), summed over the units of a group.
    """

    def __init__(
        self,
        times: sp.csr_array,
        weight: FloatArray,
        existing: FloatArray,
        nearest_first: bool = False,
    ) -> None:
        t = sp.csr_array(times)
        if not nearest_first:
            t.sum_duplicates()
        rows = np.repeat(np.arange(t.shape[0]), np.diff(t.indptr))
        # each row nearest first, ties by column (the caller's order already when nearest_first)
        order = np.arange(t.nnz) if nearest_first else np.lexsort((t.indices, t.data, rows))
        self.time = np.asarray(t.data[order], dtype=float)
        self.col = np.asarray(t.indices[order], dtype=np.int64)
        self.row = rows[order]
        self.indptr = t.indptr
        self.existing = np.asarray(existing, dtype=float)
        self.weight = np.asarray(weight, dtype=float)
        self.n_cand = t.shape[1]
        pattern = sp.csc_array((np.ones(self.col.size, bool), (self.row, self.col)), shape=t.shape)
        self.group = _groups(pattern)
        self.n_groups = int(self.group.max(initial=-1)) + 1
        nearest = self.existing.copy()  # each unit's nearest pair comes first in its row
        has = np.diff(t.indptr) > 0
        nearest[has] = np.minimum(nearest[has], self.time[t.indptr[:-1][has]])
        most = self.weight * (self.existing - nearest)
        self.group_weight: FloatArray = np.asarray(
            np.bincount(self.group, most, minlength=self.n_groups), dtype=float
        )
        self.scale = max(float(most.sum()), 1.0)

    def _mass_before(self, x: FloatArray) -> FloatArray:
        """Per pair: the chosen mass of the unit's nearer pairs (this one excluded)."""
        xs = x[self.col]
        total = np.r_[0.0, np.cumsum(xs)]
        return total[:-1] - np.repeat(total[self.indptr[:-1]], np.diff(self.indptr))

    def values(self, x: FloatArray) -> FloatArray:
        """The saving per group: each unit's mass of 1 taken from its nearest pairs."""
        before = self._mass_before(x)
        take = np.clip(1.0 - before, 0.0, x[self.col])
        saving = take * (self.existing[self.row] - self.time)
        per_unit = np.bincount(self.row, saving, minlength=self.existing.size)
        return np.asarray(
            np.bincount(self.group, self.weight * per_unit, minlength=self.n_groups), float
        )

    def cuts(self, x: FloatArray, groups: IntArray) -> tuple[sp.csr_array, FloatArray]:
        """Cuts of the given groups at ``x``: coefficients on ``x`` and constants."""
        before = self._mass_before(x)
        short = before + x[self.col] < 1.0 - 1e-9  # the unit's mass is not yet 1 here
        pos = np.bincount(self.row, short, minlength=self.existing.size).astype(np.int64)
        reach = np.minimum(self.indptr[:-1] + pos, max(self.time.size - 1, 0))
        at_reach = self.time[reach] if self.time.size else self.existing
        level = np.where(pos < np.diff(self.indptr), at_reach, self.existing)
        slot = np.full(self.n_groups, -1, dtype=np.int64)
        slot[groups] = np.arange(groups.size)
        const = np.bincount(
            self.group, self.weight * (self.existing - level), minlength=self.n_groups
        )[groups]
        gain = (level[self.row] - self.time) * self.weight[self.row]
        keep = (gain > 0) & (slot[self.group[self.row]] >= 0)
        coef = sp.csr_array(
            (gain[keep], (slot[self.group[self.row[keep]]], self.col[keep])),
            shape=(groups.size, self.n_cand),
        )
        coef.sum_duplicates()
        return coef, np.asarray(const, dtype=float)


_BANNER_DONE = [False]


def _new_highs() -> highspy.Highs:
    """A silent HiGHS instance (its banner, printed by the first one made, goes to null)."""
    if _BANNER_DONE[0]:
        return highspy.Highs()
    _BANNER_DONE[0] = True
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return h


class _Master:
    """The Benders master in HiGHS: ``x`` (candidates) then ``theta`` (groups)."""

    def __init__(
        self, sep: _Cuts | _MedianCuts, costs: tuple[float, float], row: tuple[str, float]
    ) -> None:
        self.sep = sep
        n, k = sep.n_cand, sep.n_groups
        self.n, self.k = n, k
        self.costs, self.row = costs, row
        sites_cost, theta_cost = costs
        h = _new_highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        lower = np.zeros(n + k)
        upper = np.r_[np.ones(n), sep.group_weight]
        cost = np.r_[np.full(n, sites_cost), np.full(k, theta_cost)]
        h.addCols(n + k, cost, lower, upper, 0, np.zeros(0, np.int32), np.zeros(0, np.int32), [])
        kind, value = row  # ("sites", p): sum x = p; ("need", d): sum theta >= d
        cols = np.arange(n) if kind == "sites" else n + np.arange(k)
        upper_row = value if kind == "sites" else highspy.kHighsInf
        h.addRow(value, upper_row, cols.size, cols.astype(np.int32), np.ones(cols.size))
        self.h = h
        self.cuts = 0

    def add_cuts(self, coef: sp.csr_array, const: FloatArray, groups: IntArray) -> None:
        """``theta_k - coef_k x <= const_k`` for the given groups."""
        if groups.size == 0:
            return
        coef = sp.csr_array(coef)
        counts = np.diff(coef.indptr)
        starts = np.r_[0, np.cumsum(counts + 1)[:-1]]
        index = np.empty(coef.nnz + groups.size, dtype=np.int32)
        value = np.empty(coef.nnz + groups.size)
        head = starts
        index[head] = self.n + groups
        value[head] = 1.0
        body = np.ones(index.size, dtype=bool)
        body[head] = False
        index[body] = coef.indices
        value[body] = -coef.data
        lower = np.full(groups.size, -highspy.kHighsInf)
        self.h.addRows(
            groups.size,
            lower,
            const.astype(float),
            index.size,
            starts.astype(np.int32),
            index,
            value,
        )
        self.cuts += groups.size

    def separate(self, x: FloatArray, theta: FloatArray, at: FloatArray | None = None) -> int:
        """Add the cuts at ``at`` (default ``x``) that ``(x, theta)`` violates; how many."""
        sep = self.sep
        point = x if at is None else at
        coef, const = sep.cuts(point, np.arange(sep.n_groups))
        room = const + coef @ x - theta
        bad = np.flatnonzero(room < -1e-7 * sep.scale / max(sep.n_groups, 1) - 1e-9)
        if bad.size:
            self.add_cuts(coef[bad], const[bad], bad)
        return int(bad.size)

    def fix(self, out: IntArray, in_: IntArray) -> None:
        """Bound sites ``out`` to 0 and ``in_`` to 1."""
        for cols, value in ((out, 0.0), (in_, 1.0)):
            if cols.size:
                v = np.full(cols.size, value)
                self.h.changeColsBounds(cols.size, cols.astype(np.int32), v, v)

    def integral(self, on: bool) -> None:
        kind = highspy.HighsVarType.kInteger if on else highspy.HighsVarType.kContinuous
        idx = np.arange(self.n, dtype=np.int32)
        self.h.changeColsIntegrality(self.n, idx, np.full(self.n, kind))

    def solve(self, seconds: float) -> tuple[FloatArray, FloatArray, float]:
        """Run HiGHS; the ``x``, ``theta`` and objective of its solution."""
        self.h.setOptionValue("time_limit", max(seconds, 0.01))
        self.h.run()
        col = np.asarray(self.h.getSolution().col_value, dtype=float)
        if col.size < self.n + self.k:
            col = np.zeros(self.n + self.k)
        return col[: self.n], col[self.n :], float(self.h.getInfo().objective_function_value)

    def start_from(self, x: FloatArray) -> None:
        """Give HiGHS a feasible start: ``x`` with each ``theta`` at its true value."""
        col = np.r_[x, self.sep.values(x)]
        self.h.setSolution(col.size, np.arange(col.size, dtype=np.int32), col)


class _Phases:
    """The two phases over a master in its minimisation sense, with the incumbent.

    ``evaluate(x)`` gives the true objective of integral sites ``x`` (``inf``
    when infeasible) and whether the master's ``theta`` overstates them there.
    """

    def __init__(
        self,
        master: _Master,
        evaluate: Evaluate,
        best_x: FloatArray,
        tol: float,
        improve: Improve | None = None,
    ) -> None:
        self.m = master
        self.evaluate = evaluate
        self.improve = improve
        self.polished: FloatArray | None = None
        self.best_x = best_x
        self.best = float(evaluate(best_x, None)[0])
        self.lower = -np.inf
        self.tol = tol
        self.stats: dict[str, float] = {"rounds": 0.0, "nodes": 0.0, "restarts": 0.0}
        self.started = time.perf_counter()

    def done(self) -> bool:
        return self.lower >= self.best - self.tol

    def offer(self, x: FloatArray) -> None:
        """Keep integral sites ``x`` when truly better than the incumbent."""
        value = float(self.evaluate(x, None)[0])
        if value < self.best - self.tol:
            self.best, self.best_x = value, x

    def polish(self, deadline: float) -> None:
        """Improve the incumbent by the caller's local search, once per new incumbent."""
        if self.improve is None or self.done() or time.perf_counter() >= deadline:
            return
        if self.polished is not None and np.array_equal(self.polished, self.best_x):
            return
        chosen = self.improve(np.flatnonzero(self.best_x > 0.5).astype(np.int64), deadline)
        self.offer(_indicator(self.m.n, chosen))
        self.polished = self.best_x

    def lp(self, deadline: float, rounding: int) -> None:
        """The cut loop on the master LP (module docstring)."""
        m = self.m
        core = self.best_x.copy()
        history: list[float] = []
        last = (core, -np.inf, np.zeros_like(core))
        while len(history) < LP_MAX_ROUNDS and time.perf_counter() < deadline:
            x, theta, obj = m.solve(deadline - time.perf_counter())
            if m.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                break
            self.lower = max(self.lower, obj)
            history.append(obj)
            last = (x, obj, np.asarray(m.h.getSolution().col_dual[: m.n], dtype=float))
            if rounding:
                top = np.zeros_like(x)
                top[np.argsort(-x, kind="stable")[:rounding]] = 1.0
                self.offer(top)
            if self.done():
                break
            added = m.separate(x, theta, 0.5 * (x + core)) or m.separate(x, theta)
            core = 0.5 * (core + x)
            stalled = len(history) > LP_STALL_ROUNDS and obj - history[
                -1 - LP_STALL_ROUNDS
            ] < LP_STALL * max(abs(obj), 1.0)
            if not added or stalled:
                break
        if history and not self.done():
            self.fix(*last)
        self.stats["rounds"] = float(len(history))
        self.stats["lp_bound"] = self.lower
        self.stats["seconds_lp"] = time.perf_counter() - self.started

    def fix(self, x: FloatArray, obj: float, reduced: FloatArray) -> None:
        """Reduced-cost fixing on the master LP (value ``obj`` at ``x``).

        Every site vector costs at least ``obj + sum_j d_j (x_j - x_lp_j)``
        (``d`` the LP's reduced costs, each term nonnegative), and the cuts hold
        for all sites, so a site whose flip alone lifts that to the incumbent's
        value is in no better answer: fixed at its LP value for the MILP (never
        against the incumbent). A later, better incumbent keeps the fixings valid.
        """
        margin = FIX_MARGIN * self.m.sep.scale
        cap = self.best - self.tol
        out = (x <= 1e-9) & (obj + reduced - margin >= cap) & (self.best_x < 0.5)
        in_ = (x >= 1 - 1e-9) & (obj - reduced - margin >= cap) & (self.best_x > 0.5)
        self.m.fix(np.flatnonzero(out), np.flatnonzero(in_))
        self.stats["fixed_out"] = float(out.sum())
        self.stats["fixed_in"] = float(in_.sum())

    def branch(self, deadline: float) -> str:
        """Branch-and-cut on SCIP from the incumbent, within the fixings; what stopped it."""
        if time.perf_counter() >= deadline:
            return "time limit reached"
        m = self.m
        lp = m.h.getLp()
        bounds = (np.asarray(lp.col_lower_[: m.n]), np.asarray(lp.col_upper_[: m.n]))
        points = [self.best_x, np.zeros(m.n)]
        try:
            out = branch_and_cut(
                m.sep, m.costs, m.row, bounds, self.best_x, points, deadline, self.tol
            )
        except Exception as error:  # pyscipopt raises bare Exceptions (e.g. its LP solver's)
            self.stats["scip_failed"] = 1.0
            return f"SCIP failed ({error}); HiGHS: {self.checked(deadline)}"
        if out.status not in SCIP_ENDINGS:  # e.g. "infeasible", impossible in exact arithmetic
            self.stats["scip_failed"] = 1.0
            return f"SCIP ended {out.status}; HiGHS: {self.checked(deadline)}"
        self.stats["nodes"] = out.nodes
        self.stats["lazy_cuts"] = out.cuts
        if out.x is not None:
            self.offer(out.x)
        if out.optimal:
            # SCIP accepts a master solution its cuts overstate by up to its tolerance
            # (VIOLATION of each group's residents): optimal to within that share
            self.lower = max(self.lower, self.best - self.tol)
            return f"optimal (to within {VIOLATION:g} of the residents: SCIP's tolerance)"
        self.lower = max(self.lower, min(out.bound, self.best))
        self.polish(deadline)
        return "optimal" if self.done() else "time limit reached"

    def checked(self, deadline: float) -> str:
        """Branch-and-check on HiGHS from the incumbent (module docstring); what stopped it."""
        m = self.m
        m.integral(True)
        m.h.setOptionValue("mip_rel_gap", 0.0)
        m.h.setOptionValue("mip_abs_gap", self.tol)
        flagged: list[tuple[FloatArray, FloatArray]] = []

        def improving(e: HighsCallbackEvent) -> None:
            sol = np.asarray(e.data_out.mip_solution, dtype=float)
            x = np.round(sol[: m.n])
            value, overstated = self.evaluate(x, sol[m.n :])
            if overstated:
                flagged.append((x, sol[m.n :]))
                e.interrupt()
            elif value < self.best - self.tol:
                self.best, self.best_x = float(value), x

        def interrupt(e: HighsCallbackEvent) -> None:
            # HiGHS keeps the flag from one run to the next: set it either way
            e.interrupt(bool(flagged))

        m.h.cbMipImprovingSolution.subscribe(improving)
        m.h.cbMipInterrupt.subscribe(interrupt)
        message = "time limit reached"
        while time.perf_counter() < deadline and self.stats["restarts"] < MAX_RESTARTS:
            flagged.clear()
            m.start_from(self.best_x)
            m.solve(deadline - time.perf_counter())
            info = m.h.getInfo()
            self.stats["nodes"] += float(info.mip_node_count)
            if np.isfinite(info.mip_dual_bound):
                self.lower = max(self.lower, float(info.mip_dual_bound))
            if not flagged:
                if m.h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                    self.lower = max(self.lower, self.best - self.tol)
                    message = "optimal"
                break
            for x, theta in flagged:
                self.offer(x)
                m.separate(x, theta)
            self.polish(deadline)
            self.stats["restarts"] += 1
            if self.done():
                message = "optimal"
                break
        return message


def _groups(cover: sp.csc_array) -> IntArray:
    """One group per unit on small problems, catchment groups on larger ones."""
    if cover.nnz <= UNIT_GROUPS_MAX_PAIRS:
        return np.arange(cover.shape[0], dtype=np.int64)
    return unit_groups(cover)


def _indicator(n: int, chosen: IntArray) -> FloatArray:
    x = np.zeros(n)
    x[np.asarray(chosen, dtype=np.int64)] = 1.0
    return x


def _result(run: _Phases, sign: float, message: str, start: float) -> MasterResult:
    stats = run.stats | {"cuts": float(run.m.cuts), "groups": float(run.m.k)}
    if "lp_bound" in stats:
        stats["lp_bound"] *= sign
    stats["seconds_benders"] = time.perf_counter() - start
    optimal = run.done()
    return MasterResult(
        chosen=np.flatnonzero(run.best_x > 0.5).astype(np.int64),
        value=sign * run.best,
        bound=sign * (run.best if optimal else run.lower),
        optimal=optimal,
        message=f"Benders: {message}",
        stats=stats,
    )


def _maximise(
    sep: _Cuts | _MedianCuts,
    p: int,
    incumbent: IntArray,
    deadline: float,
    tolerance: float,
    improve: Improve | None,
    engine: str,
) -> MasterResult:
    """Choose ``p`` sites maximising the separator's value (both phases, module docstring).

    ``engine`` branches with ``"scip"`` (lazy cuts) or ``"highs"`` (branch-and-check).
    """
    start = time.perf_counter()
    n = sep.n_cand
    master = _Master(sep, (0.0, -1.0), ("sites", float(p)))
    tol = max(float(tolerance), 1e-9 * sep.scale)
    cut_tol = 1e-7 * sep.scale

    def evaluate(x: FloatArray, theta: FloatArray | None) -> tuple[float, bool]:
        value = float(sep.values(x).sum())
        return -value, theta is not None and float(theta.sum()) > value + cut_tol

    x0 = _indicator(n, incumbent)
    run = _Phases(master, evaluate, x0, tol, improve)
    run.polished = x0  # the caller's start is already improved
    run.lower = -float(sep.group_weight.sum())  # no more than every group's most
    everyone = np.arange(sep.n_groups)
    for point in (x0, np.zeros(n)):
        master.add_cuts(*sep.cuts(point, everyone), everyone)
    run.lp(deadline, p)
    run.polish(deadline)
    message = "the LP bound proves the incumbent"
    if not run.done():
        message = run.branch(deadline) if engine == "scip" else run.checked(deadline)
    return _result(run, -1.0, message, start)


def benders_max_cover(
    cover: sp.csc_array,
    weight: FloatArray,
    p: int,
    incumbent: IntArray,
    deadline: float,
    tolerance: float = 0.0,
    improve: Improve | None = None,
) -> MasterResult:
    """Maximal covering by Benders branch-and-cut (module docstring).

    Parameters
    ----------
    cover
        ``(n_units, n_candidates)`` coverage, stored entries mark coverage.
    weight
        Residents per unit.
    p
        Sites to choose (at most the candidates).
    incumbent
        ``p`` columns to start from (e.g. the greedy answer improved by swaps).
    deadline
        ``time.perf_counter()`` value by which to stop, with the best answer and bound.
    tolerance
        Residents within which the answer counts as proven optimal.
    improve
        A local search (e.g. swaps) run on each new incumbent, with the deadline.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp, time
    >>> cover = sp.csc_array(np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=bool))
    >>> r = benders_max_cover(cover, np.array([3.0, 3.0, 2.0, 1.0]), 2, np.array([2, 0]),
    ...                       time.perf_counter() + 10)
    >>> r.chosen.tolist(), r.value, r.optimal
    ([0, 1], 9.0, True)
    """
    sep = _Cuts(cover, weight, _groups(cover))
    return _maximise(sep, p, incumbent, deadline, tolerance, improve, "scip")


def benders_p_median(
    times: sp.csr_array,
    weight: FloatArray,
    existing: FloatArray,
    p: int,
    incumbent: IntArray,
    deadline: float,
    tolerance: float = 0.0,
    improve: Improve | None = None,
    nearest_first: bool = False,
) -> MasterResult:
    """p-median (as the largest saving of travel time) by Benders branch-and-cut.

    Each demand unit keeps its time ``existing`` unless a chosen site is nearer
    (:class:`_MedianCuts`); the value is the residents' total saving.

    Parameters
    ----------
    times
        ``(n_units, n_candidates)`` travel times of the pairs below ``existing``
        (stored zeros are pairs at zero time).
    weight
        Residents per unit.
    existing
        Each unit's time without new sites (finite).
    p
        Sites to choose (at most the candidates).
    incumbent
        ``p`` columns to start from.
    deadline
        ``time.perf_counter()`` value by which to stop, with the best answer and bound.
    tolerance
        Resident-time within which the answer counts as proven optimal.
    improve
        A local search (e.g. swaps) run on each new incumbent, with the deadline.
    nearest_first
        Each row of ``times`` already lists its pairs nearest first (ties by
        column), none twice: skips sorting them (e.g. from
        :class:`coverage.pmedian.Pairs`).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp, time
    >>> t = sp.csr_array(np.array([[1.0, 9.0], [8.0, 2.0], [9.0, 3.0]]))
    >>> r = benders_p_median(t, np.array([1.0, 1.0, 5.0]), np.full(3, 10.0), 1,
    ...                      np.array([0]), time.perf_counter() + 10)
    >>> r.chosen.tolist(), r.value, r.optimal
    ([1], 44.0, True)
    """
    sep = _MedianCuts(times, weight, existing, nearest_first)
    return _maximise(sep, p, incumbent, deadline, tolerance, improve, "highs")


def benders_set_cover(
    cover: sp.csc_array, weight: FloatArray, need: float, incumbent: IntArray, deadline: float
) -> MasterResult:
    """The fewest candidates covering ``need`` residents, by Benders branch-and-cut.

    ``need`` must be reachable (at most the weight all candidates cover);
    ``incumbent`` columns that reach it start the search.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp, time
    >>> cover = sp.csc_array(np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=bool))
    >>> r = benders_set_cover(cover, np.array([3.0, 3.0, 2.0, 1.0]), 8.0, np.array([0, 1, 2]),
    ...                       time.perf_counter() + 10)
    >>> r.value, r.optimal
    (2.0, True)
    """
    start = time.perf_counter()
    sep = _Cuts(cover, weight, _groups(cover))
    n, k = sep.n_cand, sep.n_groups
    master = _Master(sep, (1.0, 0.0), ("need", float(need)))

    def evaluate(x: FloatArray, theta: FloatArray | None) -> tuple[float, bool]:
        short = float(sep.values(x).sum()) < need - 1e-9 * sep.scale
        return (np.inf if short else float(x.sum())), short and theta is not None

    x0 = _indicator(n, incumbent)
    run = _Phases(master, evaluate, x0, 0.5)
    run.lower = 0.0
    everyone = np.arange(k)
    for point in (x0, np.zeros(n)):
        master.add_cuts(*sep.cuts(point, everyone), everyone)
    run.lp(deadline, 0)
    run.lower = float(np.ceil(run.lower - 1e-6))
    message = "the LP bound proves the incumbent"
    if not run.done():  # HiGHS: SCIP proved less on the 5 000 x 50 000 targets (benchmarks)
        message = run.checked(deadline)
    run.lower = float(np.ceil(run.lower - 1e-6))
    return _result(run, 1.0, message, start)
