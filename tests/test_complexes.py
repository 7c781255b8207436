"""The demo study enriched: community complexes, nurseries with places and floor areas,
and a workplaces layer, through the whole run (catalogue indicators, rules, 2SFCA, A7)."""

import shutil

import geopandas as gpd
import numpy as np
import pytest

from coverage.config import demo_data_dir, load_study
from coverage.pipeline import run_study


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    """Every tenth health facility relabelled a complex (400 m²), every seventh school a
    nursery (50 places), and workplaces 40 m east of every fifth facility."""
    tmp = tmp_path_factory.mktemp("complexes")
    src = demo_data_dir()
    for sub in ("boundaries", "network", "population"):
        shutil.copytree(src / sub, tmp / sub)
    fac = gpd.read_file(src / "facilities" / "poa_facilities.geojson")
    health = np.flatnonzero(fac["category"] == "health")[::10]
    fac.loc[health, "category"] = "community_complex"
    schools = np.flatnonzero(fac["category"] == "primary_school")[::7]
    fac.loc[schools, "category"] = "nursery"
    fac["floor_area_m2"] = np.where(fac["category"] == "community_complex", 400.0, np.nan)
    fac["capacity"] = np.where(fac["category"] == "nursery", 50.0, np.nan)
    (tmp / "facilities").mkdir()
    fac.to_file(tmp / "facilities" / "poa_facilities.geojson", driver="GeoJSON")
    work = fac.iloc[::5][["facility_id"]].rename(columns={"facility_id": "workplace_id"})
    utm = fac.iloc[::5].geometry.to_crs("EPSG:32722").translate(40.0, 0.0)
    work = gpd.GeoDataFrame(work, geometry=utm.to_crs("EPSG:4326").values, crs="EPSG:4326")
    work["workers"] = 100.0
    work.to_file(tmp / "workplaces.geojson", driver="GeoJSON")
    text = (src / "demo.toml").read_text(encoding="utf-8")
    text = text.replace(
        'network = "network/poa_osm.pbf"',
        'network = "network/poa_osm.pbf"\nworkplaces = "workplaces.geojson"',
    )
    (tmp / "study.toml").write_text(text, encoding="utf-8")
    study = load_study(tmp / "study.toml")
    ids = {
        "complex": set(fac.loc[health, "facility_id"]),
        "nursery": set(fac.loc[schools, "facility_id"]),
    }
    return run_study(study), ids


def _agg(res, indicator, scope="all"):
    ind = res.indicators
    return ind[(ind["indicator"] == indicator) & (ind["scope"] == scope)].iloc[0]


def test_complexes_are_a_category_of_their_own(result):
    res, ids = result
    assert "community_complex" in res.categories
    ind = res.indicators
    row = ind.query(
        "indicator == 'category_coverage' and categories == 'community_complex' "
        "and scope == 'all' and mode == 'walk' and minutes_or_metres == 15"
    ).iloc[0]
    assert 0 < row["value"] < 1
    fac = res.facilities
    served = fac.loc[fac["facility_id"].isin(ids["complex"]), "served_population_walk"].sum()
    assert served == pytest.approx(row["covered_population"], abs=0.5)
    a3 = _agg(res, "A3_complex_radius_network")
    assert 0 < a3["value"] < 1
    # straight-line distance never exceeds network distance: more residents within 1.5 km
    assert _agg(res, "A3_complex_radius_straight")["value"] >= a3["value"]


def test_nearest_complex_is_a_complex(result):
    res, ids = result
    walk = res.reach["walk"]
    col = res.categories.index("community_complex")
    fac_ids = res.facilities["facility_id"].to_numpy()
    nearest = walk.nearest_facility[:, col]
    reached = nearest >= 0
    assert reached.any()
    assert set(fac_ids[nearest[reached]]) <= ids["complex"]
    assert np.isfinite(walk.minutes[reached, col]).all()


def test_childcare_near_workplaces(result):
    res, _ = result
    a7 = _agg(res, "A7_childcare_500m")
    assert a7["total_population"] == 100.0 * len(range(0, 335, 5))  # workers of every workplace
    assert 0 < a7["value"] < 1 and a7["status"] != "no data"
    assert "workplaces" in a7["note"]


def test_rules_use_floor_areas_and_places(result):
    res, _ = result
    comm = res.communities
    # C2: 300 m² of community service facilities; a community complex brings 400 m²
    c2 = comm["C2_area_min_300m2"]
    assert set(c2.dropna().unique()) <= {0.0, 1.0}
    assert c2.sum() >= 1
    # B7: nursery places per 1 000 residents
    b7 = _agg(res, "B7_nursery_places")
    assert b7["status"] != "no data" and 0 <= b7["value"] <= 1


def test_two_step_floating_catchment_conserves_places(result):
    res, _ = result
    access = res.capacity_access["access_2sfca_nursery"].to_numpy()
    pop = res.demand.points["population"].to_numpy()
    fac = res.facilities
    reached = fac["places_per_1000_within_2sfca"].notna() & (fac["category"] == "nursery")
    # residents x access (per 1 000) add up to the places of the nurseries that reach anyone
    assert (pop * access).sum() / 1000 == pytest.approx(50.0 * reached.sum())
    assert "access_2sfca_nursery" in res.communities.columns
