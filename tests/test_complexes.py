"""A study with community complexes: their category gets its own column and catchments."""

import shutil

import geopandas as gpd
import numpy as np
import pytest

from coverage.config import demo_data_dir, load_study
from coverage.pipeline import run_study


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    """The demo study with every tenth health facility relabelled a community complex."""
    tmp = tmp_path_factory.mktemp("complexes")
    src = demo_data_dir()
    for sub in ("boundaries", "network", "population"):
        shutil.copytree(src / sub, tmp / sub)
    fac = gpd.read_file(src / "facilities" / "poa_facilities.geojson")
    health = np.flatnonzero(fac["category"] == "health")[::10]
    fac.loc[health, "category"] = "community_complex"
    (tmp / "facilities").mkdir()
    fac.to_file(tmp / "facilities" / "poa_facilities.geojson", driver="GeoJSON")
    shutil.copy(src / "demo.toml", tmp / "study.toml")
    return run_study(load_study(tmp / "study.toml")), set(fac.loc[health, "facility_id"])


def test_complexes_are_a_category_of_their_own(result):
    res, complex_ids = result
    assert "community_complex" in res.categories
    ind = res.indicators
    row = ind.query(
        "indicator == 'category_coverage' and categories == 'community_complex' "
        "and scope == 'all' and mode == 'walk' and minutes_or_metres == 15"
    ).iloc[0]
    assert 0 < row["value"] < 1
    fac = res.facilities
    served = fac.loc[fac["facility_id"].isin(complex_ids), "served_population_walk"].sum()
    assert served == pytest.approx(row["covered_population"], abs=0.5)
    a3 = ind.query("indicator == 'A3_complex_radius_network' and scope == 'all'").iloc[0]
    assert 0 < a3["value"] < 1


def test_nearest_complex_is_a_complex(result):
    res, complex_ids = result
    walk = res.reach["walk"]
    col = res.categories.index("community_complex")
    ids = res.facilities["facility_id"].to_numpy()
    nearest = walk.nearest_facility[:, col]
    reached = nearest >= 0
    assert reached.any()
    assert set(ids[nearest[reached]]) <= complex_ids
    assert np.isfinite(walk.minutes[reached, col]).all()
