"""Our maximal-covering solver against PySAL spopt's MCLP on real demo data.

spopt's ``perc_cov`` counts demand points, not residents: the objectives
(residents covered) are compared.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from coverage.config import demo_study
from coverage.pipeline import run_study
from coverage.reach import costs_within
from coverage.siting import milp_max_cover, reduce_problem

spopt_locate = pytest.importorskip("spopt.locate")
pulp = pytest.importorskip("pulp")

# PuLP 3.3 announces its 4.0 API through DeprecationWarnings raised inside spopt's calls
pytestmark = pytest.mark.filterwarnings(r"ignore:.*PuLP 4\.0:DeprecationWarning")

LIMIT_S = 600.0  # 10 minutes on foot


@pytest.fixture(scope="module")
def instance():
    """Every fourth demo demand point (281, with residents) and the 335 facilities as candidates."""
    res = run_study(demo_study())
    within = costs_within(res.reach["walk"].reach_graph, np.arange(len(res.facilities)), LIMIT_S)
    pop = res.demand.points["population"].to_numpy()
    rows = np.arange(0, len(pop), 4)
    seconds = sp.csr_array(within)[:, rows].tocoo()
    cost = np.full((rows.size, len(res.facilities)), 1e9)  # demand x candidates
    cost[seconds.col, seconds.row] = seconds.data
    return cost, pop[rows]


@pytest.mark.parametrize("p", [3, 8])
def test_objective_equals_spopt_mclp(instance, p):
    cost, weight = instance
    model = spopt_locate.MCLP.from_cost_matrix(
        cost, weight, service_radius=LIMIT_S, p_facilities=p, name="agreement"
    )
    model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    theirs = pulp.value(model.problem.objective)
    cover = sp.csc_array(cost <= LIMIT_S)
    ours = milp_max_cover(cover, weight, p)
    assert ours.optimal
    assert ours.covered == pytest.approx(theirs, rel=1e-9)
    # the path of large problems (bound-and-fix, then the MILP) proves the same optimum
    fixed = milp_max_cover(cover, weight, p, direct_max_pairs=0)
    assert fixed.optimal and "lagrangian_bound" in fixed.extra
    assert fixed.covered == pytest.approx(theirs, rel=1e-9)
    reduced = reduce_problem(cover, weight)
    assert reduced.cover.shape[1] < cover.shape[1]
    small = milp_max_cover(reduced.cover, reduced.weight, p)
    assert small.covered == pytest.approx(theirs, rel=1e-9)
    # spopt's own coverage share counts demand points, not residents
    assert 0 < model.perc_cov <= 100
