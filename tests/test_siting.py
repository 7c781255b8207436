"""Siting models on instances small enough to check by hand or by brute force."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from coverage.siting import (
    build_order,
    covered_weight,
    greedy_max_cover,
    milp_max_cover,
    milp_set_cover,
    reduce_problem,
)


def brute_force(cover, weight, p):
    dense = cover.toarray().astype(bool)
    best = -1.0
    for combo in itertools.combinations(range(dense.shape[1]), p):
        value = weight[dense[:, list(combo)].any(axis=1)].sum()
        best = max(best, value)
    return best


def random_instance(seed, n_demand=40, n_cand=12, density=0.15):
    rng = np.random.default_rng(seed)
    dense = rng.random((n_demand, n_cand)) < density
    weight = rng.integers(0, 50, n_demand).astype(float)
    return sp.csc_array(dense), weight


def test_mclp_by_hand():
    # candidates: 0 covers residents 10 + 20; 1 covers 20 + 30; 2 covers 40
    cover = sp.csc_array(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=bool))
    weight = np.array([10.0, 20.0, 30.0, 40.0])
    one = milp_max_cover(cover, weight, 1)
    assert one.chosen.tolist() == [1] and one.covered == 50.0 and one.optimal
    two = milp_max_cover(cover, weight, 2)
    # {1, 2} covers 90; build order: 1 (50) then 2 (40)
    assert two.chosen.tolist() == [1, 2] and two.gains.tolist() == [50.0, 40.0]
    assert two.bound == 90.0 and two.gap == 0.0


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", [1, 2, 3])
def test_mclp_milp_matches_brute_force_and_greedy_bound_holds(seed, p):
    cover, weight = random_instance(seed)
    best = brute_force(cover, weight, p)
    exact = milp_max_cover(cover, weight, p)
    assert exact.optimal and exact.covered == pytest.approx(best)
    greedy = greedy_max_cover(cover, weight, p)
    assert greedy.covered <= best + 1e-9
    assert greedy.bound >= best - 1e-9  # the reported bound is a true upper bound
    assert greedy.covered >= (1 - 1 / np.e) * best - 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_reduction_keeps_the_optimum(seed):
    cover, weight = random_instance(seed, n_demand=60, n_cand=10, density=0.2)
    # duplicate some rows and columns to give the reduction work to do
    dense = cover.toarray()
    dense = np.vstack([dense, dense[:10]])
    weight = np.concatenate([weight, weight[:10]])
    dense = np.hstack([dense, dense[:, :3]])
    cover = sp.csc_array(dense)
    red = reduce_problem(cover, weight)
    assert red.cover.shape[0] < cover.shape[0] and red.cover.shape[1] < cover.shape[1]
    assert red.weight.sum() + red.unreachable_weight == pytest.approx(weight.sum())
    for p in (1, 2, 3):
        full = brute_force(cover, weight, p)
        small = milp_max_cover(red.cover, red.weight, p)
        assert small.covered == pytest.approx(full)
        # mapped back to the original candidates, the same residents are covered
        chosen = red.candidates[small.chosen]
        assert covered_weight(cover, weight, chosen) == pytest.approx(full)


def test_reduction_counts_residents_no_candidate_reaches():
    cover = sp.csc_array(np.array([[1, 0], [0, 0], [0, 1]], dtype=bool))
    red = reduce_problem(cover, np.array([1.0, 7.0, 2.0]))
    assert red.unreachable_weight == 7.0
    assert red.sizes["demand_points_reachable"] == 2


def test_identical_candidates_keep_the_lowest_index():
    cover = sp.csc_array(np.array([[1, 1, 1], [1, 1, 1]], dtype=bool))
    red = reduce_problem(cover, np.array([1.0, 1.0]))
    assert red.candidates.tolist() == [0]


def test_set_cover_fewest_sites():
    cover = sp.csc_array(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=bool))
    weight = np.array([10.0, 20.0, 30.0, 40.0])
    s = milp_set_cover(cover, weight, need=60.0)
    assert s.chosen.size == 2 and s.covered >= 60.0 and s.optimal
    s = milp_set_cover(cover, weight, need=50.0)
    assert s.chosen.tolist() == [1]


def test_set_cover_infeasible_target_falls_back_to_the_best_share():
    cover = sp.csc_array(np.array([[1, 0], [0, 1], [0, 0]], dtype=bool))
    weight = np.array([10.0, 20.0, 0.0])
    s = milp_set_cover(cover, weight, need=100.0)
    assert s.covered == 30.0 and s.chosen.size == 2
    assert "highest feasible" in s.message


def test_ties_give_a_deterministic_order():
    # three equal candidates covering disjoint, equal residents: order by index
    cover = sp.csc_array(np.eye(3, dtype=bool))
    weight = np.array([5.0, 5.0, 5.0])
    order, gains = build_order(cover, weight, np.array([2, 0, 1]))
    assert order.tolist() == [0, 1, 2] and gains.tolist() == [5.0, 5.0, 5.0]
    g = greedy_max_cover(cover, weight, 2)
    assert g.chosen.tolist() == [0, 1]
    runs = {tuple(milp_max_cover(cover, weight, 2).chosen) for _ in range(3)}
    assert len(runs) == 1


def test_stored_zero_costs_count_as_coverage():
    # a candidate exactly on a demand point has cost 0, stored explicitly
    cover = sp.csc_array((np.array([0.0, 3.0]), (np.array([0, 1]), np.array([0, 1]))), shape=(2, 2))
    red = reduce_problem(cover, np.array([4.0, 1.0]))
    assert red.weight.sum() == 5.0 and red.unreachable_weight == 0.0


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("p", [1, 2])
def test_p_median_matches_brute_force(seed, p):
    from coverage.siting import milp_p_median

    rng = np.random.default_rng(seed)
    n_demand, n_cand = 25, 7
    times = rng.uniform(0, 30, (n_demand, n_cand))
    within = times <= 20  # the cut-off: farther pairs are not stored
    pairs = sp.csr_array((times[within], np.nonzero(within)), shape=times.shape)
    weight = rng.integers(1, 20, n_demand).astype(float)
    existing = np.minimum(rng.uniform(5, 40, n_demand), 20.0)
    best = np.inf
    for combo in itertools.combinations(range(n_cand), p):
        t = np.where(within[:, list(combo)], times[:, list(combo)], np.inf).min(axis=1)
        best = min(best, (weight * np.minimum(existing, t)).sum())
    s = milp_p_median(pairs, weight, existing, p)
    assert s.optimal and s.extra["total"] == pytest.approx(best)
    assert s.covered == pytest.approx((weight * existing).sum() - best)
    assert s.gains.sum() == pytest.approx(s.covered)


def test_mclp_without_an_incumbent_falls_back_to_greedy_with_a_true_bound(monkeypatch):
    import coverage.siting as siting

    class NoSolution:
        x = None
        status = 1
        mip_dual_bound = np.nan
        message = "Time limit reached"

    monkeypatch.setattr(siting, "milp", lambda *a, **k: NoSolution())
    cover, weight = random_instance(3)
    out = siting.milp_max_cover(cover, weight, 2)
    best = brute_force(cover, weight, 2)
    assert out.method.startswith("greedy") and out.chosen.size == 2
    assert out.covered <= best + 1e-9 <= out.bound + 1e-9
    assert "Time limit" in out.message
