"""Coverage sums, statuses, target scopes and shortfalls, by hand."""

import numpy as np
import pytest

from coverage.indicators import IndicatorSpec, coverage_by_group, evaluate, shortfalls
from coverage.targets import Target, load_preset, shipped_presets


def _t(indicator, scope, target):
    return Target(indicator, scope, target, 2025, "binding", "中", "en", "src")


# three communities: A urban (10 + 30 residents), B urban (60), C rural (0 residents)
POP = np.array([10.0, 30.0, 60.0])
CIDX = np.array([0, 0, 1])
IDS = ["A", "B", "C"]
KINDS = ["urban", "urban", "rural"]


def test_coverage_by_group():
    cov, tot = coverage_by_group(POP, np.array([True, False, True]), CIDX, 3)
    np.testing.assert_allclose(cov, [10, 60, 0])
    np.testing.assert_allclose(tot, [40, 60, 0])


def test_service_circle_needs_every_category():
    # minutes to (school, health) per demand point
    costs = np.array([[5.0, 14.0], [5.0, 16.0], [15.0, 15.0]])
    spec = IndicatorSpec(
        "A1_service_circle", "walk", 15.0, "min", ("primary_school", "health"), costs
    )
    np.testing.assert_array_equal(spec.covered, [True, False, True])


def test_threshold_is_inclusive_with_rounding_tolerance():
    spec = IndicatorSpec("x", "walk", 15.0, "min", ("health",), np.array([[15.0 + 1e-12], [15.01]]))
    np.testing.assert_array_equal(spec.covered, [True, False])


def test_evaluate_scopes_targets_and_statuses():
    costs = np.array([[5.0], [20.0], [5.0]])
    spec = IndicatorSpec("A1_service_circle", "walk", 15.0, "min", ("health",), costs)
    table = evaluate([spec], POP, CIDX, IDS, KINDS, [_t("A1_service_circle", "urban", 1.0)])
    rows = table.set_index("scope")
    assert rows.loc["all", "value"] == pytest.approx(0.7)
    assert rows.loc["all", "status"] == "no target"  # the target is for urban communities
    assert rows.loc["urban", "target"] == 1.0
    assert rows.loc["urban", "status"] == "short"
    assert rows.loc["urban", "gap"] == pytest.approx(0.3)
    assert (
        rows.loc["urban", "covered_population"] == 70
        and rows.loc["urban", "total_population"] == 100
    )
    assert rows.loc["urban", "communities_fully_covered"] == 1
    assert rows.loc["urban", "communities_with_residents"] == 2
    assert rows.loc["community:A", "value"] == pytest.approx(0.25)
    assert rows.loc["community:A", "status"] == "short"
    assert rows.loc["community:B", "status"] == "met"
    assert rows.loc["community:C", "status"] == "no residents"
    assert np.isnan(rows.loc["rural", "value"])
    assert rows.loc["urban", "wording_zh"] == "中" and rows.loc["urban", "target_year"] == 2025


def test_target_for_all_applies_to_every_scope_and_rural_only_specs():
    costs = np.array([[1.0], [1.0], [1.0]])
    spec_all = IndicatorSpec("A3", "straight", 1500.0, "m", ("community_complex",), costs)
    spec_rural = IndicatorSpec("A2", "cycle", 15.0, "min", ("health",), costs, scope="rural")
    table = evaluate([spec_all, spec_rural], POP, CIDX, IDS, KINDS, [_t("A3", "all", 1.0)])
    a3 = table[table["indicator"] == "A3"].set_index("scope")
    assert set(a3.index) == {"all", "urban", "rural", "community:A", "community:B", "community:C"}
    assert (a3.loc[["all", "urban", "community:A", "community:B"], "status"] == "met").all()
    a2 = table[table["indicator"] == "A2"]
    assert set(a2["scope"]) == {"rural", "community:C"}


def test_shortfalls_list_missing_categories_and_worst_times():
    costs = np.array([[5.0, 14.0], [5.0, np.inf], [1.0, 1.0]])
    spec = IndicatorSpec(
        "A1_service_circle", "walk", 15.0, "min", ("primary_school", "health"), costs
    )
    table = evaluate([spec], POP, CIDX, IDS, KINDS, [_t("A1_service_circle", "urban", 1.0)])
    short = shortfalls(table, [spec], POP, CIDX, IDS)
    assert list(short["community_id"]) == ["A"]
    row = short.iloc[0]
    assert row["uncovered_population"] == 30
    assert row["missing_categories"] == "health (30 residents beyond 15 min)"
    assert row["worst_nearest"] == "primary_school: 5.0 min; health: unreachable"


def test_shipped_presets_load_and_cite_sources():
    assert {"suining-2022", "suining-2025"} <= set(shipped_presets())
    targets = {t.indicator: t for t in load_preset("suining-2025")}
    assert (
        targets["A1_service_circle"].target == 1.0 and targets["A1_service_circle"].scope == "urban"
    )
    assert (
        targets["A2_rural_cycling"].target == 0.8 and targets["A2_rural_cycling"].scope == "rural"
    )
    assert all(t.source and t.wording_zh and t.wording_en for t in targets.values())
    assert load_preset("suining-2022")[0].target == 0.6


def test_user_preset_file_and_bad_presets(tmp_path):
    from coverage.errors import PresetError

    good = tmp_path / "mine.csv"
    good.write_text(
        "indicator,scope,target,year,binding,wording_zh,wording_en,source\n"
        "A1_service_circle,all,0.9,2030,expected,中文,English,my plan\n",
        encoding="utf-8",
    )
    assert load_preset(str(good))[0].target == 0.9
    with pytest.raises(PresetError, match="neither a shipped preset"):
        load_preset("suining-2099")
    bad = tmp_path / "bad.csv"
    bad.write_text(good.read_text(encoding="utf-8").replace("0.9", "90"), encoding="utf-8")
    with pytest.raises(PresetError, match="between 0 and 1"):
        load_preset(str(bad))


def test_shortfall_areas_dissolve_adjacent_uncovered_pieces():
    import geopandas as gpd
    from shapely.geometry import box

    from coverage.indicators import shortfall_areas

    # four unit squares in a row; 0 and 1 touch, 3 stands alone, 2 is covered
    pieces = gpd.GeoSeries(
        [box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1), box(4, 0, 5, 1)], crs="EPSG:32722"
    )
    pop = np.array([5.0, 6.0, 100.0, 20.0])
    ids = np.array(["a", "b", "b", "c"], dtype=object)
    out = shortfall_areas(pieces, pop, ids, np.array([True, True, False, True]), "A1")
    assert list(out["rank"]) == [1, 2]
    assert list(out["uncovered_population"]) == [20.0, 11.0]
    assert list(out["communities"]) == ["c", "a, b"]
    assert out.geometry.iloc[1].area == pytest.approx(2.0)
    empty = shortfall_areas(pieces, pop, ids, np.zeros(4, dtype=bool), "A1")
    assert len(empty) == 0


def test_costs_pick_the_table_by_unit_and_mode():
    from coverage.pipeline import Costs

    groups = ("health", "culture")
    minutes = {"walk": np.array([[3.0, 20.0]]), "cycle": np.array([[1.0, 6.0]])}
    walk_m = np.array([[200.0, 1400.0]])
    straight_m = np.array([[150.0, 900.0]])
    costs = Costs(groups, minutes, walk_m, straight_m)
    assert costs.of("walk", "min", ("culture",)).tolist() == [[20.0]]
    assert costs.of("cycle", "min", ("health", "culture")).tolist() == [[1.0, 6.0]]
    assert costs.of("walk", "m", ("culture",)).tolist() == [[1400.0]]
    assert costs.of("straight", "m", ("culture",)).tolist() == [[900.0]]
    # a category without facilities is unreachable
    assert np.isinf(costs.of("walk", "min", ("market",))).all()


def test_an_urban_catalogue_circle_counts_urban_residents_only():
    # the 10-li culture circle is rural: 5 km along the network
    costs = np.array([[4000.0], [6000.0], [100.0]])
    spec = IndicatorSpec("A6_culture_5km", "walk", 5000.0, "m", ("culture",), costs, scope="rural")
    pop = np.array([10.0, 30.0, 60.0])
    cidx = np.array([0, 0, 1])
    table = evaluate([spec], pop, cidx, ["R1", "U1"], ["rural", "urban"], [])
    assert set(table["scope"]) == {"rural", "community:R1"}
    rural = table.set_index("scope").loc["rural"]
    assert rural["value"] == pytest.approx(0.25) and rural["total_population"] == 40
