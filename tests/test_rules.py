"""Community rules (B, C, D) checked by hand on three communities."""

import numpy as np
import pytest

from coverage.catalogue import RuleIndicator
from coverage.rules import check_rule, evaluate_rules
from coverage.targets import Target

# communities: U1 urban, U2 urban, R1 rural
KINDS = np.array(["urban", "urban", "rural"], dtype=object)
TYPES = np.array(["traditional", "fringe", ""], dtype=object)
HOUSEHOLDS = np.array([1000.0, 2500.0, np.nan])
RESIDENTS = np.array([9000.0, 5000.0, 3500.0])
IDS = ["U1", "U2", "R1"]
# facilities: category, community position (-1: outside every community), floor area, capacity
CATS = np.array(
    [
        "community_service",
        "kindergarten",
        "community_service",
        "police",
        "community_service",
        "nursery",
        "nursery",
        "police",
    ],
    dtype=object,
)
POS = np.array([0, 0, 1, 0, 2, 0, 1, -1])
AREA = np.array([250.0, np.nan, 1200.0, np.nan, 160.0, np.nan, np.nan, np.nan])
CAP = np.array([np.nan, np.nan, np.nan, np.nan, np.nan, 30.0, 10.0, np.nan])


def check(rule, area=AREA, cap=CAP):
    return check_rule(rule, KINDS, TYPES, HOUSEHOLDS, RESIDENTS, CATS, POS, area, cap)


def test_required_set_needs_each_category():
    rule = RuleIndicator(
        "B1", "facilities", ("community_service", "kindergarten"), each=True, min=1
    )
    chk = check(rule)
    assert chk.complies.tolist() == [True, False, False]
    assert chk.detail[1] == "lacks kindergarten (0 of ≥ 1)"
    assert chk.detail[0] == ""


def test_when_selects_the_communities_a_rule_applies_to():
    # police office for urban communities of 8 000 residents or more
    rule = RuleIndicator(
        "B6", "facilities", ("police",), min=1, when="residents", when_min=8000, scope="urban"
    )
    chk = check(rule)
    assert chk.applies.tolist() == [True, False, False]
    assert chk.complies.tolist() == [True, False, False]
    # the police office outside every community counts for none


def test_floor_area_counts_missing_areas_as_zero_and_says_so():
    rule = RuleIndicator("C2", "floor_area_m2", ("community_service",), min=300)
    chk = check(rule)
    np.testing.assert_allclose(chk.measure, [250.0, 1200.0, 160.0])
    assert chk.complies.tolist() == [False, True, False]
    assert chk.detail[0] == "floor_area_m2 250 m² (needs ≥ 300)"
    assert chk.note == ""
    rule_k = RuleIndicator("C2k", "floor_area_m2", ("kindergarten",), min=1)
    assert "1 counted facilities lack floor_area_m2" in check(rule_k).note


def test_area_per_100_households_needs_households():
    rule = RuleIndicator("C1", "floor_area_m2_per_100_households", ("community_service",), min=30)
    chk = check(rule)
    # 250 m² / 1000 households = 25 per 100; 1200 / 2500 = 48; R1 has no households
    np.testing.assert_allclose(chk.measure[:2], [25.0, 48.0])
    assert chk.known.tolist() == [True, True, False]
    assert chk.complies.tolist() == [False, True, False]
    assert "1 applicable communities lack households" in chk.note


def test_places_per_1000_residents():
    rule = RuleIndicator("B7", "capacity_per_1000_residents", ("nursery",), min=3)
    chk = check(rule)
    # 30 places / 9000 residents = 3.33 per 1000; 10 / 5000 = 2; none in R1
    np.testing.assert_allclose(chk.measure, [30 / 9, 2.0, 0.0])
    assert chk.complies.tolist() == [True, False, False]
    no_column = check(rule, cap=None)
    assert not no_column.known.any() and "no capacity column" in no_column.note


def test_size_norms_by_community_type():
    rule = RuleIndicator(
        "D1", "households", min=1500, max=4000, scope="urban", community_type="traditional"
    )
    chk = check(rule)
    assert chk.applies.tolist() == [True, False, False]
    assert chk.complies.tolist() == [False, False, False]
    fringe = RuleIndicator("D2", "residents", min=3000, max=6000, community_type="fringe")
    assert check(fringe).complies.tolist() == [False, True, False]


def test_rule_rows_are_shares_of_communities():
    rule = RuleIndicator("C2", "floor_area_m2", ("community_service",), min=300)
    targets = [
        Target("C2", "all", 0.7, 2022, "b", "z", "e", "s", "p22"),
        Target("C2", "all", 1.0, 2025, "b", "z", "e", "s", "p25"),
    ]
    table = evaluate_rules([check(rule)], IDS, KINDS, RESIDENTS, targets)
    agg = table[table["scope"] == "all"].set_index("preset")
    assert agg.loc["p22", "value"] == pytest.approx(1 / 3)
    assert agg.loc["p22", "status"] == "short" and agg.loc["p25", "status"] == "short"
    assert agg.loc["p25", "gap"] == pytest.approx(2 / 3)
    assert agg.loc["p25", "covered_population"] == 5000.0
    assert agg.loc["p25", "total_population"] == RESIDENTS.sum()
    assert agg.loc["p25", "communities_fully_covered"] == 1
    assert agg.loc["p25", "communities_with_residents"] == 3
    one = table[(table["scope"] == "community:U1") & (table["preset"] == "p25")].iloc[0]
    assert one["value"] == 0 and one["status"] == "short"
    assert one["note"] == "floor_area_m2 250 m² (needs ≥ 300)"
    rural = table[(table["scope"] == "rural") & (table["preset"] == "p22")].iloc[0]
    assert rural["value"] == 0 and rural["status"] == "short"
    assert set(table["mode"]) == {"rule"}


def test_no_data_and_not_applicable():
    rule = RuleIndicator("C1", "floor_area_m2_per_100_households", ("community_service",), min=30)
    table = evaluate_rules([check(rule, area=None)], IDS, KINDS, RESIDENTS, [])
    assert set(table["status"]) == {"no data"}
    assert table["value"].isna().all()
    fringe_rural = RuleIndicator(
        "D2", "residents", min=3000, max=6000, scope="rural", community_type="fringe"
    )
    table = evaluate_rules([check(fringe_rural)], IDS, KINDS, RESIDENTS, [])
    assert list(table["scope"]) == ["rural"]
    assert table.iloc[0]["status"] == "not applicable"
