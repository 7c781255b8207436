"""p-median siting: new sites minimising the residents' total travel time.

Each demand point keeps its time to the nearest existing facility (capped by
the caller, e.g. at a cut-off) unless a new site is nearer. Only pairs nearer
than that time matter; the model is written as the largest *saving*
``sum_i w_i (e_i - T_i)``, ``T_i`` the time to the nearest chosen site capped
at ``e_i``.

Small problems (at most :data:`DIRECT_MAX_PAIRS` such pairs) go to HiGHS whole
(``z_ij <= x_j``, ``sum_j z_ij <= 1``). Larger ones: a greedy answer improved by
swaps (the fast interchange of Whitaker 1983: each unit's nearest and second
nearest chosen site kept), then the Benders branch-and-cut of
:func:`coverage.benders.benders_p_median` started from it, which returns the
best answer and a proven bound at the time limit (HiGHS whole on such models
may find no answer at all within it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from coverage.benders import benders_p_median
from coverage.siting import WEIGHT_TOLERANCE, WRAP_UP_SHARE, Solution

__all__ = ["DIRECT_MAX_PAIRS", "Pairs", "greedy_p_median", "milp_p_median", "swap_p_median"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The message of an answer by greedy and swaps when HiGHS whole found none in time.
NO_MILP_ANSWER = "greedy and swaps: the MILP found no solution within its time limit"

#: The message of an answer by greedy and swaps when the time limit came before the
#: branch-and-cut could start.
NO_TIME_FOR_MILP = "greedy and swaps: the time limit came before the branch-and-cut"

#: Greedy savings within this share of the largest (or of 1 resident-minute, if more)
#: tie: updated savings carry rounding that would otherwise break ties by chance.
TIE_SHARE = 1e-9

#: p-median problems with at most this many pairs (nearer than the existing
#: time) go to HiGHS whole; larger ones to greedy, swaps and Benders.
DIRECT_MAX_PAIRS = 20_000


@dataclass(frozen=True)
class Pairs:
    """The pairs of a p-median problem nearer than each unit's existing time.

    Sorted by unit, then time, then candidate; every pair nearer than its unit's
    existing time and none twice (:meth:`build` makes them so; ``times``,
    ``nearest_two`` and the greedy rely on it).

    Attributes
    ----------
    unit, cand, minutes
        Demand unit, candidate and travel time of each pair.
    weight
        Residents per unit.
    existing
        Each unit's time without new sites.
    n_cand
        Candidates.
    """

    unit: IntArray
    cand: IntArray
    minutes: FloatArray
    weight: FloatArray
    existing: FloatArray
    n_cand: int

    @classmethod
    def build(
        cls, time_pairs: sp.sparray | sp.spmatrix, weight: FloatArray, existing: FloatArray
    ) -> Pairs:
        """The pairs of ``time_pairs`` (stored zeros are pairs at zero time) below ``existing``.

        Units without residents keep no pairs.
        """
        # a canonical CSR (sorted, no pair twice) is in unit then candidate order already
        canonical = isinstance(time_pairs, sp.csr_array) and bool(time_pairs.has_canonical_format)
        coo = sp.coo_array(time_pairs)
        existing = np.asarray(existing, dtype=float)
        if not np.isfinite(existing).all():
            raise ValueError("existing times must be finite: cap them at a cut-off")
        weight = np.asarray(weight, dtype=float)
        # pairs nearer than the existing time, of units with residents (others change nothing)
        better = (coo.data < existing[coo.row]) & (weight[coo.row] > 0)
        i, j, t = coo.row[better], coo.col[better], np.asarray(coo.data[better], float)
        if canonical:  # two stable sorts: by time, then by unit (ties stay by candidate)
            order = np.argsort(t, kind="stable")
            order = order[np.argsort(i[order], kind="stable")]
        else:
            order = np.lexsort((j, t, i))
            # a pair stored twice keeps its shorter time (the first in this order)
            key = i[order].astype(np.int64) * coo.shape[1] + j[order]
            _, first = np.unique(key, return_index=True)
            order = order[np.sort(first)]
        return cls(
            unit=i[order].astype(np.int64),
            cand=j[order].astype(np.int64),
            minutes=t[order],
            weight=weight,
            existing=existing,
            n_cand=int(coo.shape[1]),
        )

    def unit_ptr(self) -> IntArray:
        """Where each unit's pairs start (CSR row pointer: unit ``u``'s are ``[ptr[u], ptr[u+1])``)."""
        return np.searchsorted(self.unit, np.arange(self.existing.size + 1)).astype(np.int64)

    def among(self, chosen: IntArray) -> Pairs:
        """The pairs of the ``chosen`` candidates only (same units and candidate numbers)."""
        keep = np.isin(self.cand, chosen)
        return Pairs(
            self.unit[keep],
            self.cand[keep],
            self.minutes[keep],
            self.weight,
            self.existing,
            self.n_cand,
        )

    def times(self, chosen: IntArray) -> FloatArray:
        """Each unit's time with ``chosen`` sites open (capped at its existing time)."""
        open_ = np.zeros(self.n_cand, dtype=bool)
        open_[np.asarray(chosen, dtype=np.int64)] = True
        best = self.existing.copy()
        sel = np.flatnonzero(open_[self.cand])  # sorted by unit then time: first is nearest
        first = sel[_first_per_unit(self.unit[sel])]
        best[self.unit[first]] = self.minutes[first]
        return best

    def saving(self, chosen: IntArray) -> float:
        """Resident-time saved by ``chosen`` sites."""
        return float((self.weight * (self.existing - self.times(chosen))).sum())

    def gains(self, best: FloatArray) -> FloatArray:
        """Per candidate: the saving it adds to units now at times ``best``."""
        w = self.weight[self.unit] * np.maximum(best[self.unit] - self.minutes, 0.0)
        return np.asarray(np.bincount(self.cand, w, minlength=self.n_cand), dtype=float)

    def nearest_two(self, chosen: IntArray) -> tuple[FloatArray, FloatArray, IntArray]:
        """Per unit: the nearest and second-nearest chosen times (capped) and the nearest site."""
        open_ = np.zeros(self.n_cand, dtype=bool)
        open_[np.asarray(chosen, dtype=np.int64)] = True
        sel = np.flatnonzero(open_[self.cand])  # sorted by unit then time: first is nearest
        first = _first_per_unit(self.unit[sel])
        one, rest = sel[first], sel[~first]
        two = rest[_first_per_unit(self.unit[rest])]
        d1, d2 = self.existing.copy(), self.existing.copy()
        who = np.full(self.existing.size, -1, dtype=np.int64)
        d1[self.unit[one]] = self.minutes[one]
        who[self.unit[one]] = self.cand[one]
        d2[self.unit[two]] = self.minutes[two]
        return d1, d2, who


def _first_per_unit(units: IntArray) -> npt.NDArray[np.bool_]:
    """Which entries of a sorted array of units are the first of their unit."""
    first = np.ones(units.size, dtype=bool)
    first[1:] = units[1:] != units[:-1]
    return first


def greedy_p_median(pairs: Pairs, p: int, deadline: float = np.inf) -> IntArray:
    """Greedy p-median: each step the candidate saving the most (ties to the lowest index).

    The savings are kept per candidate and updated only on the pairs of the
    units a new site brings nearer; savings within :data:`TIE_SHARE` of the
    largest count as ties (the updates' rounding). Past ``deadline`` the remaining places go
    at once to the candidates saving the most at that point (the time limit
    holds on large problems).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> t = sp.csr_array(np.array([[1.0, 9.0], [8.0, 2.0], [9.0, 3.0]]))
    >>> pairs = Pairs.build(t, np.array([1.0, 1.0, 5.0]), np.full(3, 10.0))
    >>> greedy_p_median(pairs, 1).tolist()
    [1]
    """
    p = min(p, pairs.n_cand)
    best = pairs.existing.copy()
    gain = pairs.gains(best)
    by_cand = np.argsort(pairs.cand, kind="stable")
    cand_ptr = np.searchsorted(pairs.cand[by_cand], np.arange(pairs.n_cand + 1))
    unit_ptr = pairs.unit_ptr()
    chosen: list[int] = []
    while len(chosen) < p:
        gain[chosen] = -np.inf
        if time.perf_counter() > deadline:
            rest = np.argsort(-gain, kind="stable")[: p - len(chosen)]
            chosen.extend(int(c) for c in rest)
            break
        # ties to the lowest index, within the rounding the updates leave
        top = float(gain.max())
        c = int(np.flatnonzero(gain >= top - TIE_SHARE * max(abs(top), 1.0))[0])
        chosen.append(c)
        mine = by_cand[cand_ptr[c] : cand_ptr[c + 1]]
        nearer = mine[pairs.minutes[mine] < best[pairs.unit[mine]]]
        units = pairs.unit[nearer]
        rows = _ranges(unit_ptr[units], unit_ptr[units + 1])
        old = best[pairs.unit[rows]]
        best[units] = pairs.minutes[nearer]
        w = pairs.weight[pairs.unit[rows]]
        t = pairs.minutes[rows]
        change = w * (np.maximum(old - t, 0.0) - np.maximum(best[pairs.unit[rows]] - t, 0.0))
        gain -= np.bincount(pairs.cand[rows], change, minlength=pairs.n_cand)
    return np.asarray(chosen, dtype=np.int64)


def _ranges(lo: IntArray, hi: IntArray) -> IntArray:
    """The positions ``lo[k] <= i < hi[k]`` of every range, concatenated."""
    size = hi - lo
    if size.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(lo - np.r_[0, np.cumsum(size)[:-1]], size)
    return np.arange(int(size.sum()), dtype=np.int64) + shift


def swap_p_median(
    pairs: Pairs, chosen: IntArray, deadline: float = np.inf
) -> tuple[IntArray, float]:
    """Improve p-median sites by swaps until none gains (or the deadline passes).

    For each chosen site in turn: take it out (units it served fall back to
    their second-nearest chosen time), put in the candidate saving the most
    (ties to the lowest index), keep the swap when the total saving grows.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> t = sp.csr_array(np.array([[1.0, 9.0], [8.0, 2.0], [9.0, 3.0]]))
    >>> pairs = Pairs.build(t, np.array([1.0, 1.0, 5.0]), np.full(3, 10.0))
    >>> swap_p_median(pairs, np.array([0]))
    (array([1]), 44.0)
    """
    sites = [int(c) for c in chosen]
    d1, d2, who = pairs.nearest_two(np.asarray(sites))
    value = float((pairs.weight * (pairs.existing - d1)).sum())
    improved = True
    while improved and time.perf_counter() <= deadline:
        improved = False
        for pos in range(len(sites)):
            if time.perf_counter() > deadline:
                break
            without = np.where(who == sites[pos], d2, d1)
            gain = pairs.gains(without)
            gain[sites] = -1.0
            best = int(np.argmax(gain))
            new_value = float((pairs.weight * (pairs.existing - without)).sum() + gain[best])
            if new_value > value + WEIGHT_TOLERANCE * max(abs(value), 1.0):
                sites[pos] = best
                d1, d2, who = pairs.nearest_two(np.asarray(sites))
                value = float((pairs.weight * (pairs.existing - d1)).sum())
                improved = True
    return np.asarray(sites, dtype=np.int64), value


def milp_p_median(
    time_pairs: sp.sparray | sp.spmatrix,
    weight: FloatArray,
    existing: FloatArray,
    p: int,
    time_limit_s: float = 60.0,
    direct_max_pairs: int = DIRECT_MAX_PAIRS,
) -> Solution:
    """p-median on travel time with existing facilities fixed (module docstring).

    ``min sum_i w_i e_i + sum_{i,j} w_i (t_ij - e_i) z_ij`` subject to
    ``sum_j z_ij <= 1``, ``z_ij <= x_j``, ``sum_j x_j = p``. Only pairs with
    ``t_ij < e_i`` enter. ``covered`` in the solution is the saving in
    resident-minutes (or the unit of ``time_pairs``), ``bound`` a proven upper
    bound on it; ``extra["total"]`` the total weighted time after.

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
    time_limit_s
        Seconds for the whole call.
    direct_max_pairs
        Problems with at most this many pairs go to HiGHS whole.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> t = sp.csr_array(np.array([[1.0, 9.0], [8.0, 2.0], [9.0, 3.0]]))
    >>> args = (t, np.array([1.0, 1.0, 5.0]), np.array([10.0, 10.0, 10.0]), 1)
    >>> s = milp_p_median(*args)
    >>> s.chosen.tolist(), s.extra["total"], s.optimal
    ([1], 26.0, True)
    >>> milp_p_median(*args, direct_max_pairs=0).extra["total"]
    26.0
    """
    start = time.perf_counter()
    pairs = Pairs.build(time_pairs, weight, existing)
    p = min(p, pairs.n_cand)
    extra: dict[str, float] = {}
    if pairs.unit.size <= direct_max_pairs:
        chosen, bound, optimal, message = _direct(pairs, p, time_limit_s)
    else:
        deadline = start + (1.0 - WRAP_UP_SHARE) * time_limit_s
        chosen, bound, optimal, message = _by_benders(pairs, p, deadline, extra)
    method = "greedy" if message.startswith((NO_MILP_ANSWER, NO_TIME_FOR_MILP)) else "milp"
    saving = pairs.saving(chosen)
    order, gains = _order_by_saving(pairs, chosen)
    bound = saving if optimal else max(bound, saving)
    gap = 0.0 if optimal else ((bound - saving) / bound if bound > 0 else 0.0)
    base = float((pairs.weight * pairs.existing).sum())
    return Solution(
        chosen=order,
        gains=gains,
        covered=saving,
        bound=bound,
        optimal=bool(optimal),
        gap=float(gap),
        method=method,
        seconds=time.perf_counter() - start,
        message=message,
        extra={"total": base - saving, "total_before": base} | extra,
    )


def _nearest_bound(pairs: Pairs) -> float:
    """A true bound on the saving: every unit at its nearest candidate."""
    return pairs.saving(np.arange(pairs.n_cand))


def _direct(pairs: Pairs, p: int, time_limit_s: float) -> tuple[IntArray, float, bool, str]:
    """HiGHS on the whole model; without an answer in time, the greedy one swapped."""
    deadline = time.perf_counter() + time_limit_s
    i, j, n_pairs, n_cand = pairs.unit, pairs.cand, pairs.unit.size, pairs.n_cand
    c = np.concatenate([np.zeros(n_cand), pairs.weight[i] * (pairs.minutes - pairs.existing[i])])
    k = np.arange(n_pairs)
    n_units = pairs.existing.size
    one_each = sp.csr_array((np.ones(n_pairs), (i, n_cand + k)), shape=(n_units, n_cand + n_pairs))
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
        options={"time_limit": max(float(time_limit_s), 0.01), "mip_rel_gap": 0.0, "disp": False},
    )
    dual = getattr(res, "mip_dual_bound", None)
    bound = -float(dual) if dual is not None and np.isfinite(dual) else _nearest_bound(pairs)
    x = getattr(res, "x", None)
    if x is None:
        # small problems (at most DIRECT_MAX_PAIRS): the whole greedy takes milliseconds
        chosen, _ = swap_p_median(pairs, greedy_p_median(pairs, p), deadline)
        message = f"{NO_MILP_ANSWER}: {res.message}"
        return chosen, min(bound, _nearest_bound(pairs)), False, message
    chosen = np.flatnonzero(np.asarray(x[:n_cand]) > 0.5).astype(np.int64)
    return chosen, bound, res.status == 0, str(res.message)


def _by_benders(
    pairs: Pairs, p: int, deadline: float, extra: dict[str, float]
) -> tuple[IntArray, float, bool, str]:
    """Greedy and swaps, then the Benders branch-and-cut over the candidates with pairs.

    ``extra`` receives the incumbents, the stage times and the branch-and-cut's statistics.
    """
    started = time.perf_counter()
    used = np.unique(pairs.cand)
    local = Pairs(
        pairs.unit,
        np.searchsorted(used, pairs.cand),
        pairs.minutes,
        pairs.weight,
        pairs.existing,
        int(used.size),
    )
    k = min(p, used.size)
    greedy = greedy_p_median(local, k, deadline)
    start, value = swap_p_median(local, greedy, deadline)
    extra |= {"incumbent_greedy": local.saving(greedy), "incumbent_swaps": value}
    extra["seconds_incumbent"] = time.perf_counter() - started
    tolerance = WEIGHT_TOLERANCE * float((local.weight * local.existing).sum())
    nearest = _nearest_bound(local)
    if time.perf_counter() >= deadline:  # no time for the branch-and-cut's set-up
        optimal = value >= nearest - tolerance  # e.g. every candidate with pairs chosen
        return _fill(used[start], pairs.n_cand, p), nearest, optimal, NO_TIME_FOR_MILP
    # the pairs' own order (unit, then time, then candidate): no sort in the branch-and-cut
    times = sp.csr_array(
        (local.minutes, local.cand, local.unit_ptr()), shape=(local.existing.size, local.n_cand)
    )
    out = benders_p_median(
        times,
        local.weight,
        local.existing,
        k,
        start,
        deadline,
        tolerance=tolerance,
        improve=lambda chosen, until: swap_p_median(local, chosen, until)[0],
        nearest_first=True,
    )
    extra |= {f"benders_{key}": v for key, v in out.stats.items()}
    chosen = _fill(used[out.chosen], pairs.n_cand, p)
    return chosen, min(out.bound, nearest), out.optimal, out.message


def _fill(chosen: IntArray, n_cand: int, p: int) -> IntArray:
    """``chosen`` topped up to ``p`` sites by the lowest other candidates (they save nothing)."""
    if chosen.size < p:
        rest = np.setdiff1d(np.arange(n_cand), chosen)[: p - chosen.size]
        chosen = np.r_[chosen, rest]
    return np.asarray(chosen, dtype=np.int64)


def _order_by_saving(pairs: Pairs, chosen: IntArray) -> tuple[IntArray, FloatArray]:
    """Build order of p-median sites: largest incremental time saving first (ties: lowest)."""
    pairs = pairs.among(chosen)
    best = pairs.existing.copy()
    left = [int(c) for c in sorted(chosen)]
    order: list[int] = []
    gains: list[float] = []
    while left:
        gain = pairs.gains(best)
        top = max(left, key=lambda c: (gain[c], -c))
        order.append(top)
        gains.append(float(gain[top]))
        left.remove(top)
        best = pairs.times(np.asarray(order))
    return np.asarray(order, dtype=np.int64), np.asarray(gains, dtype=float)
