"""Population split among communities by area, conserved to the person."""

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from coverage.demand import demand_from_community_counts, demand_from_population
from coverage.errors import InputLayerError

CRS = "EPSG:32722"


def communities(*geoms):
    return gpd.GeoDataFrame(
        {"community_id": [f"c{i}" for i in range(len(geoms))]}, geometry=list(geoms), crs=CRS
    )


def population(geoms, pops):
    return gpd.GeoDataFrame(
        {"source_id": [f"p{i}" for i in range(len(geoms))], "population": pops},
        geometry=list(geoms),
        crs=CRS,
    )


def test_cell_cut_by_a_boundary_splits_by_area():
    comm = communities(box(0, 0, 25, 100), box(25, 0, 100, 100))
    dem = demand_from_population(population([box(0, 0, 100, 100)], [100.0]), comm)
    pts = dem.points
    assert list(pts["community_id"]) == ["c0", "c1"]
    np.testing.assert_allclose(pts["population"], [25.0, 75.0])
    assert dem.used_population == pytest.approx(100.0) and dem.outside_population == 0
    # each point is the centroid of its piece
    assert pts.geometry.iloc[0].equals(Point(12.5, 50))


def test_population_outside_communities_is_counted():
    comm = communities(box(0, 0, 50, 100))
    dem = demand_from_population(
        population([box(0, 0, 100, 100), box(200, 0, 300, 100)], [100.0, 7.0]), comm
    )
    assert dem.input_population == 107
    assert dem.used_population == pytest.approx(50)
    assert dem.outside_population == pytest.approx(57)


def test_points_on_a_shared_border_count_once():
    comm = communities(box(0, 0, 10, 10), box(10, 0, 20, 10))
    dem = demand_from_population(population([Point(10, 5), Point(15, 5)], [3.0, 4.0]), comm)
    assert list(dem.points["community_id"]) == ["c0", "c1"]
    assert dem.used_population == 7


def test_overlapping_communities_are_refused():
    comm = communities(box(0, 0, 60, 100), box(40, 0, 100, 100))
    with pytest.raises(InputLayerError, match="communities overlap"):
        demand_from_population(population([box(0, 0, 100, 100)], [100.0]), comm)


def test_zero_population_cells_make_no_demand_points():
    comm = communities(box(0, 0, 100, 100))
    dem = demand_from_population(
        population([box(0, 0, 50, 50), box(50, 50, 100, 100)], [0.0, 5.0]), comm
    )
    assert len(dem.points) == 1 and dem.used_population == 5


def test_community_counts_spread_over_network_nodes():
    comm = communities(box(0, 0, 100, 100), box(100, 0, 200, 100))
    comm["population"] = [90.0, 10.0]
    nodes = np.array([[10, 10], [20, 20], [30, 30], [500, 500]], dtype=float)
    dem = demand_from_community_counts(comm, nodes)
    assert dem.method == "network nodes"
    np.testing.assert_allclose(dem.points["population"], [30, 30, 30, 10])
    assert dem.used_population == pytest.approx(100)


def test_raster_cell_cut_by_a_community_boundary_splits_by_area(tmp_path):
    """A 2 x 1 GeoTIFF: the boundary at x = 130 cuts the second cell 30 / 70."""
    import rasterio
    from affine import Affine

    from coverage.inputs import read_population

    path = tmp_path / "pop.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=1,
        width=3,
        count=1,
        dtype="float32",
        crs="EPSG:32722",
        transform=Affine(100.0, 0, 0.0, 0, -100.0, 100.0),
        nodata=-9999.0,
    ) as dst:
        dst.write(np.array([[50.0, 200.0, -9999.0]], dtype="float32"), 1)
    pop, _ = read_population(path)
    assert len(pop) == 2  # the nodata cell makes no demand
    communities = gpd.GeoDataFrame(
        {"community_id": ["west", "east"]},
        geometry=[box(0, 0, 130, 100), box(130, 0, 300, 100)],
        crs="EPSG:32722",
    )
    dem = demand_from_population(pop, communities)
    by = dem.points.groupby("community_id")["population"].sum()
    assert by["west"] == pytest.approx(50 + 0.3 * 200)
    assert by["east"] == pytest.approx(0.7 * 200)
    assert dem.used_population == pytest.approx(250.0)
    assert len(dem.points) == 3  # one whole cell, one cell in two pieces
