"""What-ifs on a loaded study: the same figures as a full run with the facilities changed.

The full runs reuse the loaded layers and networks (:func:`layers_from_frames`
with the held networks), so each comparison computes the figures twice from
the same inputs: once incrementally, once from scratch.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from conftest import make_network
from coverage.errors import StudyFileError
from coverage.layers import layers_from_frames
from coverage.pipeline import LoadedStudy
from coverage.reach import (
    Joined,
    Segments,
    build_reach_graph,
    costs_to_new,
    nearest,
    nearest_what_if,
    snap_points,
)

#: Offsets (m) from the communities' centre where facilities are added.
SPOTS = {
    "health": (300.0, 200.0),
    "primary_school": (-1500.0, 800.0),
    "community_complex": (2500.0, -2000.0),
    "kindergarten": (-200.0, -100.0),  # a category the demo does not have
}


def _added(loaded, category):
    c = loaded.layers.communities.geometry.union_all().centroid
    dx, dy = SPOTS[category]
    return gpd.GeoDataFrame(
        {"facility_id": [f"new-{category}"], "category": [category]},
        geometry=[shapely.Point(c.x + dx, c.y + dy)],
        crs=loaded.layers.crs,
    )


def _full_run(loaded, facilities):
    lay = loaded.layers
    layers = layers_from_frames(
        loaded.study,
        lay.communities,
        facilities.reset_index(drop=True),
        lay.population,
        lay.workplaces,
        lay.networks,
    )
    return LoadedStudy(loaded.study, layers).result


def _assert_same(full, what_if, loaded):
    pd.testing.assert_frame_equal(full.indicators, what_if.indicators, check_exact=False, rtol=1e-9)
    for frame in ("communities", "facilities"):
        pd.testing.assert_frame_equal(
            getattr(full, frame).drop(columns="geometry"),
            getattr(what_if, frame).drop(columns="geometry"),
            check_exact=False,
        )
    for mode in ("walk", "cycle"):
        bound = loaded.search_bound(mode, "min") / 60.0
        a, b = full.reach[mode], what_if.reach[mode]
        inside = a.minutes <= bound
        np.testing.assert_allclose(b.minutes[inside], a.minutes[inside], rtol=1e-9)
        assert (b.minutes[~inside] > bound).all()  # beyond the bound: still beyond it
        assert (a.nearest_facility[inside] == b.nearest_facility[inside]).all()
    inside = full.costs.walk_m <= loaded.search_bound("walk", "m")
    np.testing.assert_allclose(what_if.costs.walk_m[inside], full.costs.walk_m[inside])
    np.testing.assert_allclose(what_if.costs.straight_m, full.costs.straight_m)


@pytest.mark.parametrize("category", list(SPOTS))
def test_adding_a_facility_equals_a_full_run(demo_loaded, category):
    add = _added(demo_loaded, category)
    what_if = demo_loaded.what_if(add=add)
    facilities = pd.concat([demo_loaded.layers.facilities, add], ignore_index=True)
    _assert_same(_full_run(demo_loaded, facilities), what_if, demo_loaded)
    # the new facility serves someone, and the figures moved
    assert what_if.facilities["population_within_walk"].iloc[-1] > 0


@pytest.mark.parametrize("category", ["health", "primary_school"])
def test_removing_facilities_equals_a_full_run(demo_loaded, category):
    fac = demo_loaded.layers.facilities
    gone = fac.loc[fac["category"] == category, "facility_id"].iloc[[0, 7, 40]].tolist()
    what_if = demo_loaded.what_if(remove=gone)
    _assert_same(_full_run(demo_loaded, fac[~fac["facility_id"].isin(gone)]), what_if, demo_loaded)


def test_adding_and_removing_at_once_equals_a_full_run(demo_loaded):
    fac = demo_loaded.layers.facilities
    add = pd.concat([_added(demo_loaded, c) for c in ("health", "kindergarten")], ignore_index=True)
    gone = fac["facility_id"].iloc[[0, 5, 200]].tolist()
    what_if = demo_loaded.what_if(add=add, remove=gone)
    kept = fac[~fac["facility_id"].isin(gone)]
    _assert_same(
        _full_run(demo_loaded, pd.concat([kept, add], ignore_index=True)), what_if, demo_loaded
    )
    assert "what-if: 2 facilities added, 3 removed" in map(str, what_if.notes)


def test_a_what_if_leaves_the_loaded_study_as_it_was(demo_loaded):
    before = demo_loaded.result.indicators.copy()
    demo_loaded.what_if(add=_added(demo_loaded, "health"))
    pd.testing.assert_frame_equal(demo_loaded.what_if().indicators, before)
    pd.testing.assert_frame_equal(demo_loaded.result.indicators, before)


def test_what_if_refuses_unknown_and_repeated_ids(demo_loaded):
    with pytest.raises(StudyFileError, match="'nope' to remove is not a facility of the study"):
        demo_loaded.what_if(remove=["nope"])
    taken = demo_loaded.layers.facilities["facility_id"].iloc[0]
    add = _added(demo_loaded, "health").assign(facility_id=taken)
    with pytest.raises(StudyFileError, match="is already a facility of the study; give new ids"):
        demo_loaded.what_if(add=add)


# --- the numeric core, by hand -----------------------------------------------------------------


def _line():
    # 0 --100-- 1 --100-- 2 (two-way), demand at 0, 150 and 200
    net = make_network([(0, 0), (100, 0), (200, 0)], [(0, 1), (1, 2)])
    d = snap_points(net, np.array([[0.0, 0.0], [150.0, 0.0], [200.0, 0.0]]), 50.0)
    return net, Joined.at_speed(d)


def test_costs_to_a_new_facility_match_a_rebuilt_graph():
    net, demand = _line()
    seg = Segments.of(net)
    new = Joined.at_speed(snap_points(net, np.array([[130.0, 4.0]]), 50.0))
    held = build_reach_graph(seg, demand, Joined.none())
    # 130 m along, 4 m off the street: 134, 24 and 74 m
    np.testing.assert_allclose(costs_to_new(held, new, 1000.0).toarray(), [[134.0, 24.0, 74.0]])
    rebuilt = build_reach_graph(seg, demand, new)
    np.testing.assert_allclose(nearest(rebuilt, np.array([0]), 1).cost[:, 0], [134, 24, 74])
    # the limit cuts: only the 24 m resident within 30 m
    assert costs_to_new(held, new, 30.0).toarray().tolist() == [[0.0, 24.0, 0.0]]


def test_a_new_facility_behind_a_resident_on_a_one_way_street_is_within_the_tie():
    # one-way 0 -> 1 -> 2 -> 0 loop of 100 m sides; a resident at 50 m, a facility a hair behind
    net = make_network([(0, 0), (100, 0), (50, 86.6)], [(0, 1), (1, 2), (2, 0)], one_way=[0, 1, 2])
    seg = Segments.of(net)
    demand = Joined.at_speed(snap_points(net, np.array([[50.0, 3.0]]), 50.0))
    new = Joined.at_speed(snap_points(net, np.array([[50.0 - 1e-9, -2.0]]), 50.0))
    held = build_reach_graph(seg, demand, Joined.none())
    assert costs_to_new(held, new, 1000.0).toarray()[0, 0] == pytest.approx(5.0)
    assert nearest(build_reach_graph(seg, demand, new), np.array([0]), 1).cost[0, 0] == (
        pytest.approx(5.0)
    )


def test_nearest_what_if_removes_and_adds():
    net, demand = _line()
    seg = Segments.of(net)
    fac = Joined.at_speed(snap_points(net, np.array([[0.0, 0.0], [200.0, 0.0]]), 50.0))
    rg = build_reach_graph(seg, demand, fac)
    group = np.array([0, 0])
    base = nearest(rg, group, 1)
    np.testing.assert_allclose(base.cost[:, 0], [0, 50, 0])
    new = Joined.at_speed(snap_points(net, np.array([[100.0, 0.0]]), 50.0))
    keep = np.array([True, False])  # the facility at 200 goes, one at 100 comes
    out, _ = nearest_what_if(rg, base, group, keep, new, np.array([0]), 1, 1000.0)
    np.testing.assert_allclose(out.cost[:, 0], [0, 50, 100])
    assert out.facility[:, 0].tolist() == [0, 2, 2]  # the new facility counts after the graph's
    # a new group is appended
    out, _ = nearest_what_if(rg, base, group, np.ones(2, bool), new, np.array([1]), 2, 1000.0)
    np.testing.assert_allclose(out.cost[:, 1], [100, 50, 100])


def test_a_facility_added_where_one_stands_shares_nothing_and_changes_nothing(demo_loaded):
    fac = demo_loaded.layers.facilities
    twin = fac[fac["category"] == "health"].iloc[[3]].assign(facility_id="twin")
    what_if = demo_loaded.what_if(add=twin)
    full = _full_run(demo_loaded, pd.concat([fac, twin], ignore_index=True))
    _assert_same(full, what_if, demo_loaded)
    # the first of two facilities at one place serves; the twin serves no one
    assert what_if.facilities["served_population_walk"].iloc[-1] == 0
    pd.testing.assert_frame_equal(
        what_if.indicators, demo_loaded.result.indicators, check_exact=False, rtol=1e-9
    )


def test_which_of_two_facilities_at_one_place_serves_does_not_depend_on_row_order(demo_loaded):
    fac = demo_loaded.layers.facilities
    twin = fac[fac["category"] == "health"].iloc[[3]].assign(facility_id="twin")
    a = _full_run(demo_loaded, pd.concat([fac, twin], ignore_index=True))
    b = _full_run(demo_loaded, pd.concat([twin, fac], ignore_index=True))
    served = [
        r.facilities.set_index("facility_id")["served_population_walk"].sort_index() for r in (a, b)
    ]
    first = fac[fac["category"] == "health"]["facility_id"].iloc[3]
    assert served[0][first] > 0 and served[0]["twin"] == 0  # the original row comes first
    assert served[1]["twin"] > 0 and served[1][first] == 0  # now the twin does
    assert served[0].sum() == pytest.approx(served[1].sum())


def test_an_exact_what_if_gives_every_time_of_a_full_run(demo_loaded):
    add = _added(demo_loaded, "health")
    what_if = demo_loaded.what_if(add=add, exact=True)
    full = _full_run(
        demo_loaded, pd.concat([demo_loaded.layers.facilities, add], ignore_index=True)
    )
    for mode in ("walk", "cycle"):
        np.testing.assert_allclose(what_if.reach[mode].minutes, full.reach[mode].minutes, rtol=1e-9)
    np.testing.assert_allclose(what_if.costs.walk_m, full.costs.walk_m, rtol=1e-9)
    assert not any("upper bounds" in n for n in map(str, what_if.notes))
    assert any("upper bounds" in n for n in map(str, demo_loaded.what_if(add=add).notes))


def test_held_costs_cannot_be_written_through_a_result(demo_loaded):
    with pytest.raises(ValueError, match="read-only"):
        demo_loaded.result.costs.walk_m[0, 0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        demo_loaded.result.reach["walk"].node_cost[0, 0] = 0.0


def test_added_facilities_are_checked_like_the_layer_and_can_move(demo_loaded):
    from coverage.errors import CoordinateError, EmptyLayerError

    far = _added(demo_loaded, "health").to_crs("EPSG:4326")
    far["geometry"] = [shapely.Point(116.4, 39.9)]  # Beijing
    with pytest.raises(CoordinateError, match="added facilities layer: no feature lies within"):
        demo_loaded.what_if(add=far)
    every = demo_loaded.layers.facilities["facility_id"].tolist()
    with pytest.raises(EmptyLayerError, match="removes every facility and adds none"):
        demo_loaded.what_if(remove=every)
    # a facility moved: removed and added back under its own id elsewhere
    moved = _added(demo_loaded, "health").assign(facility_id=every[0])
    out = demo_loaded.what_if(add=moved, remove=[every[0]])
    assert out.facilities["facility_id"].tolist().count(every[0]) == 1


def test_the_service_area_of_an_added_facility_covers_its_own_street():
    from coverage.service_areas import facility_pieces

    net = make_network([(0, 0), (1000, 0)], [(0, 1)])
    snaps = snap_points(net, np.array([[500.0, 10.0]]), 50.0)
    pieces = facility_pieces(Segments.of(net), snaps, snaps.access_m, 210.0)
    # 210 m budget less the 10 m leg: 200 m each way along the two-way street
    lengths = sorted(np.hypot(*(p[1] - p[0])) for p in pieces)
    np.testing.assert_allclose(lengths, [200.0, 200.0])
    one_way = make_network([(0, 0), (1000, 0)], [(0, 1)], one_way=[0])
    pieces = facility_pieces(Segments.of(one_way), snaps, snaps.access_m, 210.0)
    assert len(pieces) == 1 and pieces[0][0][0] == pytest.approx(300.0)  # upstream only


def test_catchment_counts_can_be_left_out(demo_loaded, demo_result):
    """``network.catchment_counts = false``: every figure but the counts is the same."""
    import dataclasses

    study = demo_loaded.study
    study = study.with_overrides(network=dataclasses.replace(study.network, catchment_counts=False))
    loaded = LoadedStudy(study, demo_loaded.layers)
    result = loaded.result
    counts = [f"population_within_{mode}" for mode in ("walk", "cycle")]
    assert result.facilities[counts].isna().all().all()
    assert (demo_result.facilities[counts] >= 0).all().all()
    pd.testing.assert_frame_equal(demo_result.indicators, result.indicators)
    pd.testing.assert_frame_equal(
        demo_result.facilities.drop(columns=[*counts, "geometry"]),
        result.facilities.drop(columns=[*counts, "geometry"]),
    )
    # a what-if's new facility is not counted either; the rest of it is
    what_if = loaded.what_if(add=_added(loaded, "health"))
    assert what_if.facilities[counts].isna().all().all()
    assert what_if.facilities["served_population_walk"].iloc[-1] > 0
