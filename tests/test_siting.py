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


class NoSolution:
    """What HiGHS returns when its time runs out before any solution."""

    x = None
    status = 1
    mip_dual_bound = np.nan
    message = "Time limit reached"


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


def p_median_instance(seed, n_demand=25, n_cand=7, ties=False):
    rng = np.random.default_rng(seed)
    times = rng.uniform(0, 30, (n_demand, n_cand))
    if ties:  # whole minutes: many pairs at equal times, some at zero
        times = np.floor(times / 3.0)
    within = times <= 20  # the cut-off: farther pairs are not stored
    pairs = sp.csr_array((times[within], np.nonzero(within)), shape=times.shape)
    weight = rng.integers(1, 20, n_demand).astype(float)
    existing = np.minimum(rng.uniform(5, 40, n_demand), 20.0)
    return times, within, pairs, weight, existing


def p_median_brute_force(times, within, weight, existing, p):
    best = np.inf
    for combo in itertools.combinations(range(times.shape[1]), p):
        t = np.where(within[:, list(combo)], times[:, list(combo)], np.inf).min(axis=1)
        best = min(best, (weight * np.minimum(existing, t)).sum())
    return best


@pytest.mark.parametrize("path", ["direct", "benders", "benders-catchments", "benders-no-lp"])
@pytest.mark.parametrize("seed", range(4))
def test_p_median_matches_brute_force(monkeypatch, path, seed):
    from coverage import benders
    from coverage.pmedian import milp_p_median

    if path in ("benders-catchments", "benders-no-lp"):
        monkeypatch.setattr(benders, "UNIT_GROUPS_MAX_PAIRS", 0)
    if path == "benders-no-lp":
        monkeypatch.setattr(benders, "LP_MAX_ROUNDS", 0)
    times, within, pairs, weight, existing = p_median_instance(seed, 30, 9, ties=seed % 2 == 1)
    restarts = 0.0
    for p in (1, 2, 3):
        best = p_median_brute_force(times, within, weight, existing, p)
        direct = 10**9 if path == "direct" else 0
        s = milp_p_median(pairs, weight, existing, p, direct_max_pairs=direct)
        assert s.optimal and s.extra["total"] == pytest.approx(best)
        assert s.covered == pytest.approx((weight * existing).sum() - best) == s.bound
        assert s.gains.sum() == pytest.approx(s.covered) and s.chosen.size == p
        assert list(s.gains) == sorted(s.gains, reverse=True)
        restarts += s.extra.get("benders_restarts", 0.0)
    if path == "benders-no-lp" and seed == 0:
        assert restarts > 0  # HiGHS's branch-and-check restarts on overstated solutions


@pytest.mark.parametrize("seed", range(6))
def test_p_median_cuts_are_valid_everywhere_and_tight_where_made(seed):
    from coverage.benders import _MedianCuts

    times, within, _, weight, existing = p_median_instance(seed, 12, 5, ties=seed % 2 == 1)
    # the cuts live only on the pairs nearer than the existing time, as milp_p_median keeps them
    near = within & (times < existing[:, None])
    sep = _MedianCuts(
        sp.csr_array((times[near], np.nonzero(near)), shape=times.shape), weight, existing
    )
    rng = np.random.default_rng(seed)
    groups = np.arange(sep.n_groups)
    for _ in range(5):
        x_bar = rng.dirichlet(np.ones(5)) * rng.uniform(0.5, 3.0)
        x_bar = np.minimum(x_bar, 1.0)
        coef, const = sep.cuts(x_bar, groups)
        assert const + coef @ x_bar == pytest.approx(sep.values(x_bar))  # tight at x_bar
        for bits in itertools.product((0.0, 1.0), repeat=5):  # valid at every site set
            x = np.array(bits)
            t = np.where(near[:, x > 0], times[:, x > 0], np.inf).min(axis=1, initial=np.inf)
            saving = weight * (existing - np.minimum(existing, t))
            per_group = np.bincount(sep.group, saving, minlength=sep.n_groups)
            assert sep.values(x) == pytest.approx(per_group)
            assert (const + coef @ x >= per_group - 1e-9).all()


def test_p_median_pairs_stored_twice_keep_the_shorter_time():
    from coverage.pmedian import milp_p_median

    # unit 0's pair with candidate 0 is stored twice (3 and 4 minutes): it is one pair at 3
    times = sp.coo_array(
        (np.array([3.0, 4.0, 0.0, 0.0]), (np.array([0, 0, 1, 2]), np.array([0, 0, 1, 1]))),
        shape=(3, 2),
    )
    weight, existing = np.array([10.0, 2.5, 2.5]), np.full(3, 10.0)
    for direct in (10**9, 0):
        s = milp_p_median(times, weight, existing, 1, time_limit_s=20, direct_max_pairs=direct)
        assert s.optimal and s.chosen.tolist() == [0] and s.covered == pytest.approx(70.0)


def test_p_median_benders_without_pairs():
    import time

    from coverage.benders import benders_p_median

    empty = sp.csr_array((3, 2))
    out = benders_p_median(
        empty, np.ones(3), np.full(3, 5.0), 1, np.array([0]), time.perf_counter() + 5
    )
    assert out.optimal and out.value == 0.0 and out.chosen.size == 1


def test_p_median_swaps_never_lose_and_reach_a_swap_optimum():
    from coverage.pmedian import Pairs, greedy_p_median, swap_p_median

    *_, raw, weight, existing = p_median_instance(7, 40, 10)
    pairs = Pairs.build(raw, weight, existing)
    start = greedy_p_median(pairs, 3)
    sites, value = swap_p_median(pairs, start)
    assert value >= pairs.saving(start) - 1e-9 and value == pytest.approx(pairs.saving(sites))
    for out, into in itertools.product(range(3), range(10)):  # no single swap gains
        trial = sites.copy()
        if into in trial:
            continue
        trial[out] = into
        assert pairs.saving(trial) <= value + 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_p_median_greedy_updates_match_recomputing_every_step(seed):
    from coverage.pmedian import TIE_SHARE, Pairs, greedy_p_median

    *_, raw, weight, existing = p_median_instance(seed, 40, 12, ties=seed % 2 == 1)
    pairs = Pairs.build(raw, weight, existing)
    # the sorted pairs are the same from a canonical CSR (two stable sorts) and from COO
    other = Pairs.build(sp.coo_array(raw), weight, existing)
    for a, b in zip(
        (pairs.unit, pairs.cand, pairs.minutes),
        (other.unit, other.cand, other.minutes),
        strict=True,
    ):
        assert a.tolist() == b.tolist()
    for p in (1, 4, 12):
        chosen: list[int] = []
        for _ in range(p):  # the definition: every candidate's saving recomputed each step
            gain = pairs.gains(pairs.times(np.asarray(chosen, dtype=np.int64)))
            gain[chosen] = -np.inf
            top = gain.max()  # ties to the lowest index, within rounding
            chosen.append(int(np.flatnonzero(gain >= top - TIE_SHARE * max(top, 1.0))[0]))
        assert greedy_p_median(pairs, p).tolist() == chosen
    # past the deadline the remaining places go at once: still p different sites
    late = greedy_p_median(pairs, 5, deadline=0.0)
    assert late.size == 5 and np.unique(late).size == 5


def test_p_median_without_a_milp_answer_keeps_the_whole_greedy(monkeypatch):
    import types

    import coverage.pmedian as pmedian

    # units 0-2 near candidates 0 and 1 (overlapping), units 3-4 near candidate 2 only
    times = np.full((5, 3), 9.0)
    times[:3, 0], times[:3, 1], times[3:, 2] = 1.0, 1.5, 1.0
    none = types.SimpleNamespace(x=None, mip_dual_bound=None, message="Time limit", status=1)
    monkeypatch.setattr(pmedian, "milp", lambda *a, **k: none)
    # HiGHS used its whole limit (0 s here): the greedy still sees the overlap
    s = pmedian.milp_p_median(sp.csr_array(times), np.ones(5), np.full(5, 9.0), 2, 0.0)
    assert sorted(s.chosen.tolist()) == [0, 2] and s.covered == 40.0 and s.method == "greedy"


def test_p_median_out_of_time_answers_with_a_true_bound(monkeypatch):
    import coverage.pmedian as pmedian

    times, within, pairs, weight, existing = p_median_instance(5, 40, 10)
    best_total = p_median_brute_force(times, within, weight, existing, 3)
    most = (weight * existing).sum() - best_total
    out = pmedian.milp_p_median(pairs, weight, existing, 3, time_limit_s=0.0, direct_max_pairs=0)
    assert out.chosen.size == 3 and out.covered <= most + 1e-9 <= out.bound + 1e-9
    # HiGHS whole with no answer in time: the greedy answer swapped, with a true bound
    monkeypatch.setattr(pmedian, "milp", lambda *a, **k: NoSolution())
    out = pmedian.milp_p_median(pairs, weight, existing, 3)
    assert not out.optimal and out.covered <= most + 1e-9 <= out.bound + 1e-9
    assert out.method == "greedy" and "no solution" in out.message


def test_mclp_without_an_incumbent_falls_back_to_greedy_with_a_true_bound(monkeypatch):
    import coverage.siting as siting

    monkeypatch.setattr(siting, "milp", lambda *a, **k: NoSolution())
    cover, weight = random_instance(3)
    out = siting.milp_max_cover(cover, weight, 2)
    best = brute_force(cover, weight, 2)
    assert out.method.startswith("greedy") and out.chosen.size == 2
    assert out.covered <= best + 1e-9 <= out.bound + 1e-9
    assert "Time limit" in out.message


# --- bound-and-fix (the path of large maximal covering problems) -------------------------


def all_values(cover, weight, p):
    dense = cover.toarray().astype(bool)
    return {
        combo: float(weight[dense[:, list(combo)].any(axis=1)].sum())
        for combo in itertools.combinations(range(dense.shape[1]), p)
    }


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("p", [1, 2, 3, 4])
def test_bound_and_fix_matches_brute_force(seed, p):
    cover, weight = random_instance(seed, n_demand=50, n_cand=12, density=0.25)
    best = brute_force(cover, weight, p)
    s = milp_max_cover(cover, weight, p, direct_max_pairs=0)
    assert s.optimal and s.covered == pytest.approx(best) and s.gap == 0.0
    assert s.chosen.size == p and len(set(s.chosen.tolist())) == p
    assert covered_weight(cover, weight, s.chosen) == pytest.approx(best)
    assert s.extra["lagrangian_bound"] >= best - 1e-6


def test_lagrangian_bound_equals_the_lp_relaxation():
    from scipy.optimize import linprog

    from coverage.siting import lagrangian_bound

    cover, weight = random_instance(11, n_demand=80, n_cand=15, density=0.2)
    n_units, n_cand = cover.shape
    p = 3
    # the LP relaxation of maximal covering, solved by HiGHS
    a = sp.hstack([-sp.csr_array(cover, dtype=float), sp.eye_array(n_units)])
    lp = linprog(
        np.r_[np.zeros(n_cand), -weight],
        A_ub=a,
        b_ub=np.zeros(n_units),
        A_eq=np.r_[np.ones(n_cand), np.zeros(n_units)][None, :],
        b_eq=[p],
        bounds=(0, 1),
        method="highs",
    )
    dual = lagrangian_bound(cover, weight, p)
    # any multipliers give a bound no lower than the LP's; these reach it to 0.01 %
    assert -lp.fun - 1e-6 <= dual.bound <= -lp.fun * (1 + 1e-4)
    assert brute_force(cover, weight, p) <= dual.bound
    assert dual.usage.sum() == pytest.approx(p)
    assert ((dual.multipliers >= 0) & (dual.multipliers <= weight)).all()


@pytest.mark.parametrize("seed", range(6))
def test_fixing_never_excludes_a_better_solution(seed):
    from coverage.siting import fix_by_bound, lagrangian_bound

    cover, weight = random_instance(seed, n_demand=40, n_cand=10, density=0.25)
    p = 3
    values = all_values(cover, weight, p)
    dual = lagrangian_bound(cover, weight, p)
    fixed = 0
    for incumbent in sorted(set(values.values()))[-6:]:
        out, in_ = fix_by_bound(dual, p, incumbent, 1e-9)
        fixed += int(out.sum() + in_.sum())
        for combo, value in values.items():
            if value > incumbent:
                assert not out[list(combo)].any()
                assert set(np.flatnonzero(in_)) <= set(combo)
    assert fixed > 0  # the test has something to check


def test_swap_improve_never_loses_and_reaches_a_swap_optimum():
    from coverage.siting import swap_improve

    cover, weight = random_instance(5, n_demand=60, n_cand=14, density=0.2)
    start = np.array([0, 1, 2])
    sites, value = swap_improve(cover, weight, start)
    assert value >= covered_weight(cover, weight, start)
    assert value == pytest.approx(covered_weight(cover, weight, sites))
    # no single swap gains any more
    for pos in range(3):
        for c in range(14):
            if c in sites:
                continue
            trial = sites.copy()
            trial[pos] = c
            assert covered_weight(cover, weight, trial) <= value + 1e-9


def test_bound_and_fix_ties_are_deterministic():
    # four disjoint, equal candidates and p = 2: every pair is optimal
    cover = sp.csc_array(np.kron(np.eye(4, dtype=bool), np.ones((3, 1), dtype=bool)))
    weight = np.full(12, 2.0)
    runs = {tuple(milp_max_cover(cover, weight, 2, direct_max_pairs=0).chosen) for _ in range(3)}
    assert runs == {(0, 1)}


def test_bound_and_fix_without_milp_answer_keeps_a_true_bound(monkeypatch):
    import coverage.siting as siting

    monkeypatch.setattr(siting, "milp", lambda *a, **k: NoSolution())
    for seed in range(4):
        cover, weight = random_instance(seed, n_demand=60, n_cand=14, density=0.3)
        best = brute_force(cover, weight, 3)
        out = siting.milp_max_cover(cover, weight, 3, direct_max_pairs=0)
        assert out.chosen.size == 3
        assert out.covered <= best + 1e-9 <= out.bound + 1e-9
        assert out.optimal == (out.covered == pytest.approx(best) and out.gap == 0.0)


def test_bound_and_fix_hands_a_large_region_to_benders(monkeypatch):
    import coverage.siting as siting

    # nothing fixed: the whole problem goes to the Benders branch-and-cut, which proves it
    monkeypatch.setattr(siting, "fix_by_bound", lambda dual, p, inc, tol: (dual.scores < -1,) * 2)
    cover, weight = random_instance(2, n_demand=80, n_cand=20, density=0.3)
    best = brute_force(cover, weight, 4)
    out = siting.milp_max_cover(cover, weight, 4, direct_max_pairs=0)
    assert out.optimal and out.covered == pytest.approx(best) and "Benders" in out.message
    assert out.extra["free"] == 20


# --- Benders branch-and-cut ---------------------------------------------------------------


def brute_force_set_cover(cover, weight, need):
    dense = cover.toarray().astype(bool)
    for k in range(dense.shape[1] + 1):
        for combo in itertools.combinations(range(dense.shape[1]), k):
            if weight[dense[:, list(combo)].any(axis=1)].sum() >= need - 1e-9:
                return k
    return None


@pytest.mark.parametrize("grouping", ["units", "catchments", "no-lp"])
@pytest.mark.parametrize("seed", range(5))
def test_benders_max_cover_matches_brute_force(monkeypatch, grouping, seed):
    import time

    from coverage import benders

    if grouping != "units":  # catchment groups even on tiny problems
        monkeypatch.setattr(benders, "UNIT_GROUPS_MAX_PAIRS", 0)
    if grouping == "no-lp":  # straight to SCIP: its cuts come from the constraint handler
        monkeypatch.setattr(benders, "LP_MAX_ROUNDS", 0)
    cover, weight = random_instance(seed, n_demand=50, n_cand=12, density=0.25)
    lazy = fixed = 0.0
    for p in (1, 2, 3, 4):
        best = brute_force(cover, weight, p)
        out = benders.benders_max_cover(
            cover, weight, p, np.arange(p), time.perf_counter() + 30, 1e-9
        )
        assert out.optimal and out.value == pytest.approx(best) and out.bound == out.value
        assert out.chosen.size == p and covered_weight(cover, weight, out.chosen) == out.value
        lazy += out.stats.get("lazy_cuts", 0.0)
        fixed += out.stats.get("fixed_out", 0.0)
    if grouping == "no-lp" and seed == 0:
        assert lazy > 0  # the test reaches SCIP's cut handler
    if grouping == "units" and seed == 0:
        assert fixed > 0  # and the reduced-cost fixing


@pytest.mark.parametrize("catchments", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_benders_set_cover_matches_brute_force(monkeypatch, catchments, seed):
    from coverage import benders

    if catchments:
        monkeypatch.setattr(benders, "UNIT_GROUPS_MAX_PAIRS", 0)
    cover, weight = random_instance(seed, n_demand=50, n_cand=12, density=0.25)
    for share in (0.3, 0.6, 0.9, 1.0):
        need = share * covered_weight(cover, weight, np.arange(12))
        fewest = brute_force_set_cover(cover, weight, need)
        out = milp_set_cover(cover, weight, need, direct_max_pairs=0)
        assert out.optimal and out.chosen.size == fewest and out.bound == fewest
        assert out.covered >= need * (1 - 1e-9)


def test_benders_out_of_time_answers_with_a_true_bound():
    from coverage.benders import benders_max_cover, benders_set_cover

    cover, weight = random_instance(4, n_demand=60, n_cand=14, density=0.3)
    best = brute_force(cover, weight, 3)
    out = benders_max_cover(cover, weight, 3, np.array([0, 1, 2]), 0.0)
    assert out.chosen.tolist() == [0, 1, 2] and not out.optimal
    assert out.value <= best <= out.bound
    need = 0.8 * weight.sum()
    sc = benders_set_cover(cover, weight, need, np.arange(14), 0.0)
    assert sc.value == 14 and 0 <= sc.bound <= brute_force_set_cover(cover, weight, need)


def test_a_failing_scip_hands_the_branching_to_highs(monkeypatch):
    import time

    from coverage import benders

    def fail(*args, **kwargs):
        raise Exception("SCIP: error in LP solver!")

    monkeypatch.setattr(benders, "branch_and_cut", fail)
    monkeypatch.setattr(benders, "LP_MAX_ROUNDS", 0)  # straight to the branching
    cover, weight = random_instance(1, n_demand=50, n_cand=12, density=0.25)
    out = benders.benders_max_cover(cover, weight, 3, np.arange(3), time.perf_counter() + 30)
    assert out.optimal and out.value == pytest.approx(brute_force(cover, weight, 3))
    assert out.stats["scip_failed"] == 1.0 and "SCIP failed" in out.message


def test_unit_groups_partition_the_units_by_catchment():
    from coverage.benders import unit_groups

    cover, _ = random_instance(3, n_demand=60, n_cand=14, density=0.2)
    group = unit_groups(cover)
    dense = cover.toarray()
    reached = dense.any(axis=1)
    assert (group >= 0).all()
    # each group of reached units lies inside one candidate's catchment
    for g in np.unique(group[reached]):
        assert dense[group == g].all(axis=0).any()


def test_bound_and_fix_out_of_time_still_answers_with_a_true_bound():
    cover, weight = random_instance(4, n_demand=60, n_cand=14, density=0.3)
    best = brute_force(cover, weight, 3)
    out = milp_max_cover(cover, weight, 3, time_limit_s=1e-9, direct_max_pairs=0)
    assert out.chosen.size == 3
    assert out.covered <= best + 1e-9 <= out.bound + 1e-9


def test_a_solution_without_a_dual_bound_is_never_called_optimal(monkeypatch):
    import coverage.siting as siting

    def poor_answer(c, constraints, integrality, **kwargs):
        # a feasible but poor answer (the lowest-index candidates) and no dual bound
        n_cand = int(integrality.sum())
        p = (
            int(constraints[-1].lb)
            if np.ndim(constraints[-1].lb) == 0
            else int(constraints[-1].lb[0])
        )
        x = np.zeros(c.size)
        x[:p] = 1.0

        class Result:
            status = 1
            mip_dual_bound = None
            message = "Time limit reached"

        Result.x = x
        assert n_cand >= p
        return Result()

    monkeypatch.setattr(siting, "milp", poor_answer)
    for seed in range(6):
        cover, weight = random_instance(seed, n_demand=50, n_cand=12, density=0.25)
        best = brute_force(cover, weight, 3)
        for direct in (10**9, 0):
            out = siting.milp_max_cover(cover, weight, 3, direct_max_pairs=direct)
            assert out.covered <= best + 1e-9 <= out.bound + 1e-9
            if out.optimal:
                assert out.covered == pytest.approx(best)


def test_both_paths_read_coverage_as_a_pattern():
    # stored values (0.5, an explicit 0) mark coverage whatever they are
    cover = sp.csc_array(
        (np.array([0.5, 0.0, 0.5, 0.5]), (np.array([0, 1, 2, 3]), np.array([0, 0, 1, 2]))),
        shape=(4, 3),
    )
    weight = np.array([4.0, 6.0, 3.0, 5.0])
    direct = milp_max_cover(cover, weight, 1)
    fixed = milp_max_cover(cover, weight, 1, direct_max_pairs=0)
    assert direct.covered == fixed.covered == 10.0
    assert direct.chosen.tolist() == fixed.chosen.tolist() == [0]


def test_no_sites_asked_gives_an_empty_answer():
    cover, weight = random_instance(1)
    for direct in (10**9, 0):
        out = milp_max_cover(cover, weight, 0, direct_max_pairs=direct)
        assert out.chosen.size == 0 and out.covered == 0.0 and out.optimal


def test_past_deadline_stops_the_dual_and_the_swaps():
    from coverage.siting import lagrangian_bound, swap_improve

    cover, weight = random_instance(7, n_demand=60, n_cand=14, density=0.3)
    dual = lagrangian_bound(cover, weight, 3, deadline=0.0)
    assert dual.stages == 0 and dual.bound >= brute_force(cover, weight, 3) - 1e-9
    start = np.array([0, 1, 2])
    sites, value = swap_improve(cover, weight, start, deadline=0.0)
    assert sites.tolist() == [0, 1, 2] and value == covered_weight(cover, weight, start)


@pytest.mark.parametrize("seed", range(4))
def test_greedy_reports_the_lagrangian_bound(seed):
    from coverage.siting import greedy_with_bound

    cover, weight = random_instance(seed, n_demand=60, n_cand=14, density=0.2)
    plain = greedy_max_cover(cover, weight, 3)
    out = greedy_with_bound(cover, weight, 3)
    best = brute_force(cover, weight, 3)
    assert out.chosen.tolist() == plain.chosen.tolist() and out.covered == plain.covered
    assert best - 1e-9 <= out.bound <= plain.bound + 1e-9
    if not out.optimal:
        assert out.bound == pytest.approx(min(plain.bound, out.extra["lagrangian_bound"]))
        assert out.extra["lagrangian_bound"] < plain.bound  # the tighter of the two here
