"""The Benders master's branch-and-cut on SCIP, its cuts as lazy constraints.

The master of :mod:`coverage.benders` (sites ``x``, one ``theta_k`` per group of
demand units, ``theta_k <= const + coef x`` cuts) is solved by SCIP
(``pyscipopt``) with a constraint handler that holds every cut not yet added:
at each node's fractional LP it adds the cuts the LP point violates (user
cuts, so every node bound is as strong as the cuts can make it), and at an
integral point it adds that point's own cuts, which are tight there, before
SCIP may accept it (lazy constraints). This is the branch-and-Benders-cut of
Cordeau, Furini and Ljubić (2019); HiGHS 1.16 cannot add rows from a callback.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from pyscipopt import SCIP_RESULT, Conshdlr, Model, quicksum

__all__ = ["VIOLATION", "Outcome", "Separator", "branch_and_cut"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: SCIP's ``theta`` variables are residents divided by a unit that brings the
#: largest group's residents to this (large weights made SoPlex fail at 10^6 points).
THETA_SCALE = 1000.0

#: A cut is violated (and an integral point rejected) when ``theta_k`` exceeds
#: it by more than this share of the group's most (plus 1e-6 absolute).
VIOLATION = 1e-7


class Separator(Protocol):
    """What the branch-and-cut needs of a covering or p-median separator."""

    n_cand: int
    n_groups: int
    group_weight: FloatArray

    def values(self, x: FloatArray) -> FloatArray: ...

    def cuts(self, x: FloatArray, groups: IntArray) -> tuple[sp.csr_array, FloatArray]: ...


@dataclass
class Outcome:
    """What SCIP found: the best sites (``None``: none), the proven bound, whether optimal, its status."""

    x: FloatArray | None
    bound: float
    optimal: bool
    nodes: float
    cuts: float
    status: str


class _Handler(Conshdlr):
    """Adds the group cuts a point violates; rejects integral points the cuts overstate."""

    def setup(self, sep: Separator, x: list[Any], theta: list[Any], unit: float) -> None:
        """``theta`` variables hold ``theta / unit`` (residents in units that keep SCIP's LP tame)."""
        self.sep, self.xvars, self.tvars, self.unit = sep, x, theta, unit
        self.slack = VIOLATION * sep.group_weight + 1e-6
        self.added = 0
        self.transformed: tuple[list[Any], list[Any]] | None = None

    def point(self, sol: Any = None) -> tuple[FloatArray, FloatArray]:
        get = self.model.getSolVal
        xv = np.fromiter((get(sol, v) for v in self.xvars), float, len(self.xvars))
        tv = np.fromiter((get(sol, v) for v in self.tvars), float, len(self.tvars))
        return np.clip(xv, 0.0, 1.0), tv * self.unit

    def separate(self) -> bool:
        """Add the violated cuts at the current LP point; whether any."""
        xv, tv = self.point()
        groups = np.arange(self.sep.n_groups)
        coef, const = self.sep.cuts(xv, groups)
        coef = sp.csr_array(coef)
        bad = np.flatnonzero(const + coef @ xv - tv < -self.slack)
        m = self.model
        if self.transformed is None:  # rows take SCIP's transformed variables
            self.transformed = (
                [m.getTransformedVar(v) for v in self.xvars],
                [m.getTransformedVar(v) for v in self.tvars],
            )
        xvars, tvars = self.transformed
        for q in bad:
            row = m.createEmptyRowUnspec(
                lhs=None, rhs=float(const[q]) / self.unit, local=False, removable=True
            )
            m.cacheRowExtensions(row)
            m.addVarToRow(row, tvars[q], 1.0)
            lo, hi = coef.indptr[q], coef.indptr[q + 1]
            for j, v in zip(coef.indices[lo:hi], coef.data[lo:hi], strict=True):
                m.addVarToRow(row, xvars[j], -float(v) / self.unit)
            m.flushRowExtensions(row)
            m.addCut(row, forcecut=True)
        self.added += int(bad.size)
        return bool(bad.size)

    def overstated(self, sol: Any = None) -> bool:
        xv, tv = self.point(sol)
        return bool((tv > self.sep.values(np.round(xv)) + self.slack).any())

    def conscheck(
        self, constraints, solution, checkintegrality, checklprows, printreason, completely
    ):
        bad = self.overstated(solution)
        return {"result": SCIP_RESULT.INFEASIBLE if bad else SCIP_RESULT.FEASIBLE}

    def consenfolp(self, constraints, nusefulconss, solinfeasible):
        if self.separate():
            return {"result": SCIP_RESULT.SEPARATED}
        return {"result": SCIP_RESULT.FEASIBLE}

    def consenfops(self, constraints, nusefulconss, solinfeasible, objinfeasible):
        return {"result": SCIP_RESULT.SOLVELP if self.overstated() else SCIP_RESULT.FEASIBLE}

    def conssepalp(self, constraints, nusefulconss):
        return {"result": SCIP_RESULT.SEPARATED if self.separate() else SCIP_RESULT.DIDNOTFIND}

    def conslock(self, constraint, locktype, nlockspos, nlocksneg):
        # a cut bounds theta from above and x from below: raising theta or lowering x may break it
        for v in self.tvars:
            self.model.addVarLocks(v, nlocksneg, nlockspos)
        for v in self.xvars:
            self.model.addVarLocks(v, nlockspos, nlocksneg)


def branch_and_cut(
    sep: Separator,
    costs: tuple[float, float],
    row: tuple[str, float],
    bounds: tuple[FloatArray, FloatArray],
    start: FloatArray,
    points: list[FloatArray],
    deadline: float,
    absgap: float = 0.0,
) -> Outcome:
    """Minimise ``costs[0] sum x + costs[1] sum theta`` on SCIP with the cuts as lazy constraints.

    Parameters
    ----------
    sep
        The separator (cuts and true values per group).
    costs
        Cost of each site and of each ``theta`` (minimisation).
    row
        The one structural row: ``("sites", p)`` for ``sum x = p`` or
        ``("need", d)`` for ``sum theta >= d``.
    bounds
        Lower and upper bounds of ``x`` (reduced-cost fixing).
    start
        Integral sites to start from (their true ``theta`` is given with them).
    points
        Sites at which every group's cut is added before the solve.
    deadline
        ``time.perf_counter()`` value by which SCIP stops.
    absgap
        Objective gap within which SCIP may call its answer optimal.
    """
    m = Model()
    m.hideOutput()
    m.setParam("limits/absgap", absgap)
    # SCIP sees only the cuts added so far: symmetries and independent components it would
    # find among them do not hold for the cuts still to come
    m.setParam("misc/usesymmetry", 0)
    m.setParam("constraints/components/maxprerounds", 0)
    m.setParam("constraints/components/propfreq", -1)
    lo, up = bounds
    unit = max(float(sep.group_weight.max(initial=0.0)) / THETA_SCALE, 1.0)
    x = [m.addVar(vtype="B", lb=float(a), ub=float(b)) for a, b in zip(lo, up, strict=True)]
    theta = [m.addVar(lb=0.0, ub=float(u) / unit) for u in sep.group_weight]
    m.setObjective(quicksum(costs[0] * v for v in x) + quicksum(costs[1] * unit * v for v in theta))
    kind, value = row
    if kind == "sites":
        m.addCons(quicksum(x) == value)
    else:
        m.addCons(quicksum(theta) >= value / unit)
    groups = np.arange(sep.n_groups)
    for at in points:
        coef, const = sep.cuts(at, groups)
        coef = sp.csr_array(coef)
        for q in groups:
            a, b = coef.indptr[q], coef.indptr[q + 1]
            terms = (
                float(v) / unit * x[j]
                for j, v in zip(coef.indices[a:b], coef.data[a:b], strict=True)
            )
            m.addCons(theta[q] - quicksum(terms) <= float(const[q]) / unit)
    handler = _Handler()
    handler.setup(sep, x, theta, unit)
    m.includeConshdlr(
        handler, "groupcuts", "Benders group cuts", sepapriority=1, enfopriority=-1,
        chckpriority=-1, sepafreq=1, propfreq=-1, eagerfreq=-1, maxprerounds=0,
        needscons=True,
    )  # fmt: skip
    m.addPyCons(m.createCons(handler, "cuts", initial=False, propagate=False))
    sol = m.createSol()
    for v, a in zip(x, start, strict=True):
        m.setSolVal(sol, v, float(a))
    for v, a in zip(theta, sep.values(start), strict=True):
        m.setSolVal(sol, v, float(a) / unit)
    m.addSol(sol)
    m.setParam("limits/time", max(deadline - time.perf_counter(), 0.01))  # set-up counted
    m.optimize()
    best = None
    if m.getNSols() > 0:
        s = m.getBestSol()
        best = np.round([m.getSolVal(s, v) for v in x]).astype(float)
    return Outcome(
        x=best,
        bound=float(m.getDualbound()),
        optimal=m.getStatus() == "optimal",
        nodes=float(m.getNNodes()),
        cuts=float(handler.added),
        status=str(m.getStatus()),
    )
