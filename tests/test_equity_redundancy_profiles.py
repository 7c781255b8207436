"""Issue 24's indicators by hand: equity across communities, redundancy (the second-nearest
facility), walking profiles, complete-community items, and the new catalogue entries."""

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from coverage.catalogue import load_catalogue, parse_entry
from coverage.config import Speeds
from coverage.equity import palma_ratio, share_below, weighted_gini
from coverage.errors import StudyFileError
from coverage.indicators import Costs, IndicatorSpec, community_figures, evaluate
from coverage.reach import (
    Joined,
    Segments,
    Snaps,
    build_reach_graph,
    costs_within,
    kth_nearest_cost,
    nearest,
)
from coverage.targets import Target, load_preset

# ------------------------------------------------------------------ equity, by hand


def test_gini_of_two_equal_communities_one_covered_is_a_half():
    # |1 - 0| * 100 * 100 * 2 / (2 * 200 * 100) = 0.5
    assert weighted_gini([1.0, 0.0], [100, 100]) == pytest.approx(0.5)
    # weights matter: 300 residents at 0, 100 at 1 -> 2*300*100 / (2*400*100) = 0.75
    assert weighted_gini([0.0, 1.0], [300, 100]) == pytest.approx(0.75)
    # a community without residents is left out
    assert weighted_gini([1.0, 0.0, 0.3], [100, 100, 0]) == pytest.approx(0.5)


def test_palma_splits_a_community_at_the_cut_points():
    # one community of 50 at 0.2, one of 50 at 1.0: the bottom 40 residents are all at 0.2,
    # the top 10 all at 1.0
    assert palma_ratio([0.2, 1.0], [50, 50]) == pytest.approx(5.0)
    # 30 at 0.1 and 70 at 0.5: the bottom 40 are 30 at 0.1 and 10 at 0.5 -> mean 0.2
    assert palma_ratio([0.1, 0.5], [30, 70]) == pytest.approx(0.5 / 0.2)
    assert palma_ratio([0.0, 0.0], [1, 1]) != palma_ratio([0.0, 0.0], [1, 1])  # NaN


def test_share_below_half_the_target():
    assert share_below([0.3, 0.6], [25, 75], 0.5) == pytest.approx(0.25)
    assert np.isnan(share_below([0.3], [1], float("nan")))


def test_evaluate_writes_the_spread_on_aggregate_rows_only():
    # community A: 40 residents, 10 covered (0.25); B: 60 residents, all covered (1.0)
    pop = np.array([10.0, 30.0, 60.0])
    cidx = np.array([0, 0, 1])
    spec = IndicatorSpec(
        "A1_service_circle", "walk", 15.0, "min", ("health",), np.array([[5.0], [20.0], [5.0]])
    )
    target = Target("A1_service_circle", "urban", 0.6, 2025, "b", "中", "en", "src")
    table = evaluate([spec], pop, cidx, ["A", "B"], ["urban", "urban"], [target]).set_index("scope")
    urban = table.loc["urban"]
    # Gini: 40*60*|0.25-1| / (100 * (10 + 60)) = 1800 / 7000
    assert urban["gini"] == pytest.approx(1800 / 7000)
    # Palma: top 10 residents all in B (1.0); bottom 40 all in A (0.25)
    assert urban["palma"] == pytest.approx(4.0)
    # A (0.25) is below half the 0.6 target: 40 of 100 residents
    assert urban["below_half_target_share"] == pytest.approx(0.4)
    assert np.isnan(table.loc["all", "below_half_target_share"])  # no target for "all"
    assert np.isnan(table.loc["community:A", "gini"])


def test_an_unbounded_palma_is_left_empty_beside_its_gini():
    spec = IndicatorSpec("x", "walk", 15.0, "min", ("health",), np.array([[30.0], [5.0]]))
    table = evaluate(
        [spec], np.array([60.0, 40.0]), np.array([0, 1]), ["A", "B"], ["urban"] * 2, []
    )
    row = table.set_index("scope").loc["all"]
    assert np.isnan(row["palma"]) and row["gini"] == pytest.approx(0.6)


# ------------------------------------------------------------------ redundancy


def _line_graph():
    """A 300 m street from node 0 (x = 0) to node 1 (x = 300); costs in metres.

    Demand at 0 m and 300 m; facilities at 100 m, 250 m and 280 m, on the street."""
    seg = Segments.from_arrays(np.array([[0.0, 0], [300, 0]]), np.array([0]), np.array([1]))
    demand = Joined(Snaps(np.array([0, 0]), np.array([0.0, 1.0]), np.zeros(2)), np.zeros(2))
    fac = Joined(
        Snaps(np.zeros(3, np.int64), np.array([1, 2.5, 2.8]) / 3, np.zeros(3)), np.zeros(3)
    )
    return build_reach_graph(seg, demand, fac)


def test_the_second_nearest_facility_by_hand():
    rg = _line_graph()
    within = costs_within(rg, np.arange(3), 1000.0)
    # from 0 m: 100, 250, 280 -> second 250; from 300 m: 20, 50, 200 -> second 50
    np.testing.assert_allclose(kth_nearest_cost(within, 2), [250.0, 50.0])
    # the first equals the nearest pass's
    np.testing.assert_allclose(
        kth_nearest_cost(within, 1), nearest(rg, np.zeros(3, np.int64), 1).cost[:, 0]
    )
    # bounded: from 0 m no second facility within 200 m
    np.testing.assert_allclose(
        kth_nearest_cost(costs_within(rg, np.arange(3), 200.0), 2), [np.inf, 50.0]
    )


def test_redundancy_on_the_demo_counts_a_second_facility(demo_result):
    res = demo_result
    spec = next(s for s in res.specs if s.indicator == "R1_health_two_15min")
    first = res.costs.of("walk", "min", ("health",))[:, 0]
    second = spec.costs[:, 0]
    finite = np.isfinite(second)
    assert finite.mean() > 0.5 and (second[finite] >= first[finite] - 1e-9).all()
    row = res.indicators.query("indicator == 'R1_health_two_15min' and scope == 'all'").iloc[0]
    pop = res.demand.points["population"].to_numpy(dtype=float)
    assert row["covered_population"] == pytest.approx(pop[second <= 15 + 1e-9].sum())
    one = res.indicators.query(
        "indicator == 'category_coverage' and scope == 'all' and categories == 'health' "
        "and mode == 'walk' and minutes_or_metres == 15"
    ).iloc[0]
    assert row["value"] < one["value"]  # two clinics are rarer than one
    assert "R1_health_two_15min_second_median_min" in res.communities.columns


# ------------------------------------------------------------------ walking profiles


def test_profiles_scale_the_walking_minutes():
    assert (
        Speeds().profile_kmh("older") == 3.2
        and Speeds(older_walk_kmh=3.0).profile_kmh("older") == 3.0
    )
    c = Costs(
        ("health",),
        {"walk": np.array([[12.0]]), "cycle": np.array([[2.0]])},
        np.zeros((1, 1)),
        np.zeros((1, 1)),
        second_minutes={"walk": np.array([[20.0]])},
        walk_factor={"older": 4.0 / 3.2},
    )
    assert c.of("walk", "min", ("health",), profile="older").tolist() == [[15.0]]
    assert c.of("walk", "min", ("health",), nth=2).tolist() == [[20.0]]
    assert np.isinf(c.of("cycle", "min", ("health",), nth=2)).all()  # no second pass by bicycle


def test_a1_for_older_residents_is_a1_at_their_speed(demo_result):
    specs = {s.indicator: s for s in demo_result.specs}
    a1, older = specs["A1_service_circle"], specs["A1_service_circle_older"]
    np.testing.assert_allclose(older.costs, a1.costs * 4.0 / 3.2)
    agg = demo_result.indicators.set_index(["indicator", "scope"])["value"]
    assert agg[("A1_service_circle_older", "all")] < agg[("A1_service_circle", "all")]


# ------------------------------------------------------------------ complete community items


def test_items_count_the_categories_every_resident_reaches():
    # community A: two residents' points (10 + 30); B: one (60); three items within 10 min
    costs = np.array([[5.0, 9.0, 30.0], [5.0, 12.0, 30.0], [1.0, 2.0, 3.0]])
    spec = IndicatorSpec("W1", "walk", 10.0, "min", ("a", "b", "c"), costs, name="W1", items=True)
    comm = gpd.GeoDataFrame(
        {"community_id": ["A", "B"], "name": ["A", "B"], "kind": ["urban", "urban"]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
        crs="EPSG:32722",
    )
    pop, cidx = np.array([10.0, 30.0, 60.0]), np.array([0, 0, 1])
    target = Target("W1", "all", 1.0, 2020, "b", "中", "en", "src")
    table = evaluate([spec], pop, cidx, ["A", "B"], ["urban", "urban"], [target])
    out = community_figures(comm, [spec], pop, cidx, table)
    # A: item a reaches everyone, b only 10 of 40, c no one -> 1 item; mean (10*2 + 30*1)/40
    assert out["W1_items"].tolist() == [1.0, 3.0]
    assert out["W1_items_mean"].tolist() == [pytest.approx(1.25), 3.0]
    row = table.set_index("scope").loc["all"]
    assert row["communities_fully_covered"] == 1  # the share of communities with every item: 1 of 2
    # the report's line under the row: median community 2 of 3 items, 1 of 2 with all
    from types import SimpleNamespace

    import coverage.report_html as report_html_mod

    result = SimpleNamespace(specs=[spec], communities=out)
    agg = table[table["scope"] == "all"].iloc[0]
    en, zh = (report_html_mod._items_line(result, agg, lang) for lang in ("en", "zh"))
    assert "median community 2 of 3; all 3: 1 of 2 communities" in en
    assert "社区中位数 2/3 项；3 项齐全：1/2 个社区" in zh


# ------------------------------------------------------------------ catalogue and presets


def test_the_new_catalogue_entries_and_their_checks():
    cat = load_catalogue()
    assert cat["M2_basic_8min"].threshold == 8 and "breakfast" in cat["M2_basic_8min"].categories
    assert cat["R1_health_two_15min"].nth == 2
    assert cat["P1_health_older_15min"].profile == "older"
    assert cat["W1_complete_community_10min"].items
    assert {e.scope for k, e in cat.items() if k.startswith("T")} == {"rural"}
    base = {"kind": "access", "mode": "walk", "minutes": 15, "categories": ["health"]}
    with pytest.raises(StudyFileError, match="nth must be 1"):
        parse_entry("x", base | {"nth": 3}, "test")
    with pytest.raises(StudyFileError, match="second nearest"):
        parse_entry(
            "x", base | {"mode": "straight", "minutes": None, "metres": 500, "nth": 2}, "test"
        )
    with pytest.raises(StudyFileError, match="profile must be one of older, child"):
        parse_entry("x", base | {"profile": "teen"}, "test")
    with pytest.raises(StudyFileError, match="walking profile needs"):
        parse_entry("x", base | {"mode": "cycle", "profile": "older"}, "test")


@pytest.mark.parametrize("name", ["mofcom-2021", "complete-community-2020", "tdt1062-2021"])
def test_the_national_guide_presets_cite_in_both_languages(name):
    cat = load_catalogue()
    rows = load_preset(name)
    assert rows
    for t in rows:
        assert t.indicator in cat and t.wording_zh and t.wording_en and t.source and t.source_zh
    # what is not checked against the text says so
    assert any(
        "memory" in t.source or "not verified" in t.source or "check" in t.source for t in rows
    )


def test_the_demo_says_no_data_and_what_to_supply_for_the_guides(demo_result):
    agg = demo_result.indicators
    rows = agg[agg["indicator"].isin(["M1_convenience_5min", "W1_complete_community_10min"])]
    rows = rows[rows["scope"] == "urban"]
    assert (rows["status"] == "no data").all() and rows["note"].str.contains("convenience").any()
