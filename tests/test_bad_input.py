"""Bad input through the whole run: each case is handled by a stated rule or refused.

A tiny study is written per test: a 1 km x 1 km street grid (OSM XML, streets
every 100 m) near Porto Alegre, two communities side by side, population
points and facilities, each of which a test may replace. docs/reliability.md
lists these tests against the cases they show.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box

from coverage.errors import (
    CoordinateError,
    GeometryError,
    InputLayerError,
    StudyFileError,
    ValueColumnError,
)
from coverage.inputs import read_communities, read_facilities, read_population
from coverage.pipeline import LoadedStudy, run_study
from tiny_study import (
    LAT0,
    LON0,
    STEP,
    make_communities,
    make_facilities,
    make_population,
    osm_grid,
    write_study,
)


def a1(result, scope="all"):
    ind = result.indicators
    row = ind[(ind["indicator"] == "A1_service_circle") & (ind["scope"] == scope)]
    return row.iloc[0]


def test_the_tiny_study_runs_and_conserves_residents(tmp_path):
    result = run_study(write_study(tmp_path))
    acc = result.accounting
    assert acc["input_population"] == acc["used_population"] == 2000
    assert acc["outside_communities_population"] == 0
    # the centre at x = 2 steps serves A (x <= 5 steps, within 1 000 m) wholly
    assert a1(result, "community:A")["value"] == 1.0
    assert 0 < a1(result)["value"] < 1


# --- coordinates and CRS ----------------------------------------------------------------------


def test_swapped_lon_lat_beyond_90_is_refused(tmp_path):
    # Suining: lon 105.6, lat 30.5; swapped, "latitude" is 105.6
    gdf = gpd.GeoDataFrame(
        {"community_id": ["c"], "name": ["n"]}, geometry=[box(30.5, 105.5, 30.6, 105.6)], crs=4326
    )
    gdf.to_file(tmp_path / "c.gpkg")
    with pytest.raises(
        CoordinateError, match="latitude beyond 90.*look swapped.*Fix: store longitude as x"
    ):
        read_communities(tmp_path / "c.gpkg")


def test_swapped_lon_lat_within_range_is_caught_by_the_layers_not_meeting(tmp_path):
    fac = make_facilities()
    fac["geometry"] = fac.geometry.map(lambda p: Point(p.y, p.x))  # (-30.1, -51.3): a valid place
    with pytest.raises(
        CoordinateError, match="facilities layer: no feature lies within 100 km.*axes look swapped"
    ):
        run_study(write_study(tmp_path, facilities=fac))


def test_swapped_communities_are_blamed_not_the_facilities(tmp_path):
    # facilities and population agree with each other; the communities are the odd one out
    comm = make_communities()
    comm["geometry"] = comm.geometry.map(lambda g: shapely.transform(g, lambda xy: xy[:, ::-1]))
    with pytest.raises(CoordinateError) as err:
        run_study(write_study(tmp_path, communities=comm))
    msg = str(err.value)
    assert msg.startswith("communities layer: the facilities and population layers lie together")
    assert "communities layer is the one out of place" in msg
    assert "axes look swapped" in msg and "facilities layer" not in msg


def test_a_far_layer_is_still_named_when_the_others_meet_the_communities(tmp_path):
    fac = make_facilities()
    fac["geometry"] = [Point(116.4, 39.9)]  # facilities in Beijing, population at home
    with pytest.raises(CoordinateError, match="^facilities layer: no feature lies within"):
        run_study(write_study(tmp_path, facilities=fac))


def test_a_projected_layer_that_does_not_meet_gets_no_lon_lat_advice(tmp_path):
    pop = make_population().to_crs("EPSG:32722")
    pop["geometry"] = pop.geometry.translate(300_000, 0)
    with pytest.raises(CoordinateError) as err:
        run_study(write_study(tmp_path, population=pop))
    msg = str(err.value)
    assert msg.startswith("population layer: no feature lies within 100 km")
    assert "longitude" not in msg and "projected CRS WGS 84 / UTM zone 22S" in msg


def test_metres_declared_as_degrees_are_refused(tmp_path):
    metres = make_communities().to_crs("EPSG:32722").set_crs("EPSG:4326", allow_override=True)
    metres.to_file(tmp_path / "c.gpkg")
    with pytest.raises(
        CoordinateError,
        match="in degrees, but feature\\(s\\) A, B .*look like metres.*Fix: declare the CRS",
    ):
        read_communities(tmp_path / "c.gpkg")


def test_degrees_declared_as_metres_are_refused(tmp_path):
    degrees = make_facilities().set_crs("EPSG:32722", allow_override=True)
    degrees.to_file(tmp_path / "f.gpkg")
    with pytest.raises(
        CoordinateError,
        match="in metres, but every coordinate .*look like longitude and latitude.*EPSG:4326",
    ):
        read_facilities(tmp_path / "f.gpkg")


def test_gauss_kruger_zone_prefix_under_the_wrong_crs_is_refused(tmp_path):
    # Suining in CGCS2000 3-degree Gauss-Krueger zone 35 (x carries the zone number, 35 500 000 m)
    # declared as the same projection without the prefix (CM 105E)
    pts = gpd.GeoDataFrame(
        {"facility_id": ["f1"], "category": ["health"]}, geometry=[Point(105.6, 30.5)], crs=4326
    ).to_crs("EPSG:4523")
    assert pts.geometry.x.iloc[0] > 35_000_000
    pts.set_crs("EPSG:4546", allow_override=True).to_file(tmp_path / "f.gpkg")
    with pytest.raises(
        CoordinateError,
        match="f1 fall outside the area where .* is used.*zone number left in front of x",
    ):
        read_facilities(tmp_path / "f.gpkg")


@pytest.mark.parametrize(
    ("crs", "message"),
    [
        ("EPSG:3857", "'EPSG:3857' \\(WGS 84 / Pseudo-Mercator\\) stretches distances by 16.1%"),
        ("EPSG:4326", "'EPSG:4326' \\(WGS 84\\) is not projected"),
        ("EPSG:999999", "'EPSG:999999' is not a CRS pyproj knows"),
    ],
)
def test_a_study_crs_that_would_distort_distances_is_refused(tmp_path, crs, message):
    study = write_study(tmp_path, header=f'crs = "{crs}"')
    with pytest.raises(StudyFileError, match=f"the study's crs {message}"):
        run_study(study)


def test_nan_coordinates_are_refused(tmp_path):
    fac = make_facilities()
    fac.loc[len(fac)] = ["bad", "health", "x", Point(np.nan, np.nan)]
    fac.to_file(tmp_path / "f.gpkg")
    with pytest.raises((CoordinateError, GeometryError), match="bad"):
        read_facilities(tmp_path / "f.gpkg")


def test_layers_far_apart_are_refused(tmp_path):
    fac = make_facilities()
    fac["geometry"] = [Point(116.4, 39.9)]  # Beijing
    with pytest.raises(
        CoordinateError,
        match="facilities layer: no feature lies within 100 km of the communities: the nearest is about 18,455 km away",
    ):
        run_study(write_study(tmp_path, facilities=fac))


def test_a_few_far_facilities_are_noted_and_the_rest_used(tmp_path):
    fac = make_facilities()
    fac.loc[1] = ["far", "health", "typo", Point(LON0 + 1.0, LAT0)]  # about 96 km east
    result = run_study(write_study(tmp_path, facilities=fac))
    assert any(
        "1 of 2 features lie more than 10 km" in n and "far" in n for n in map(str, result.notes)
    )
    assert a1(result, "community:A")["value"] == 1.0


def test_a_network_elsewhere_is_refused(tmp_path):
    with pytest.raises(
        CoordinateError, match="network \\(walk\\) layer: no feature lies within 100 km"
    ):
        run_study(write_study(tmp_path, osm=osm_grid(lon0=LON0 + 2.0)))


def test_population_elsewhere_is_refused(tmp_path):
    pop = make_population()
    pop["geometry"] = pop.geometry.translate(0.05, 0)  # 5 km east: near, but in no community
    with pytest.raises(
        InputLayerError,
        match="none of the 2,000 residents of the population layer lies inside a community",
    ):
        run_study(write_study(tmp_path, population=pop))


# --- geometry ---------------------------------------------------------------------------------


def test_multipolygon_community_counts_both_parts(tmp_path):
    comm = make_communities()
    mid = LON0 + 5 * STEP
    # A in two parts: a southern and a northern strip, with B's population still in B
    south = box(LON0, LAT0, mid, LAT0 + 2 * STEP)
    north = box(LON0, LAT0 + 6 * STEP, mid, LAT0 + 10 * STEP)
    comm.loc[0, "geometry"] = MultiPolygon([south, north])
    pop = make_population()
    pop.loc[len(pop)] = ["north", 50.0, Point(LON0 + STEP, LAT0 + 9 * STEP)]
    result = run_study(write_study(tmp_path, communities=comm, population=pop))
    pts = result.demand.points
    in_a = pts[pts["community_id"] == "A"]
    # southern points (y = 1 step) and the northern one; the points at y = 3 steps fall in the gap
    assert set(in_a["source_id"]) == {*(f"p{i}" for i in range(5)), "north"}
    assert in_a["population"].sum() == 550
    assert result.accounting["outside_communities_population"] == 500
    assert any(
        "500 residents of the population layer (24.4%) lie outside every community" in n
        for n in map(str, result.notes)
    )


def test_overlapping_communities_are_refused_naming_the_pair(tmp_path):
    comm = make_communities()
    comm.loc[1, "geometry"] = box(LON0 + 4 * STEP, LAT0, LON0 + 10 * STEP, LAT0 + 10 * STEP)
    with pytest.raises(
        GeometryError,
        match="1 pair\\(s\\) of communities overlap.*A and B \\([0-9,]+ m², 20.0% of the smaller\\)",
    ):
        run_study(write_study(tmp_path, communities=comm))


def test_overlap_message_says_how_many_pairs_it_does_not_list(tmp_path):
    # five communities in a row, each overlapping the next by a fifth: four pairs, three listed
    cells = [
        box(LON0 + k * 4 * STEP, LAT0, LON0 + (k * 4 + 5) * STEP, LAT0 + 5 * STEP) for k in range(5)
    ]
    comm = gpd.GeoDataFrame(
        {"community_id": list("ABCDE"), "name": list("abcde"), "kind": "urban"},
        geometry=cells,
        crs="EPSG:4326",
    )
    with pytest.raises(
        GeometryError, match="4 pair\\(s\\) of communities overlap.*; and 1 more\\."
    ):
        run_study(write_study(tmp_path, communities=comm))


def _bow_tie(x0, y0, dx, dy):
    # corners visited crosswise: the outline crosses itself at the centre
    return Polygon([(x0, y0), (x0 + dx, y0 + dy), (x0 + dx, y0), (x0, y0 + dy)])


def test_a_self_crossing_boundary_is_repaired_with_a_note_saying_where(tmp_path):
    comm = make_communities()
    mid = LON0 + 5 * STEP
    comm.loc[1, "geometry"] = _bow_tie(mid, LAT0, 5 * STEP, 10 * STEP)
    result = run_study(write_study(tmp_path, communities=comm))
    note = next(n for n in map(str, result.notes) if "invalid boundaries were repaired" in n)
    assert "B crosses itself near (-51.2925, -30.095)" in note
    assert not any("overlap" in n for n in map(str, result.notes))


def test_a_self_crossing_boundary_that_would_overlap_is_refused_as_such(tmp_path):
    # B drawn as a bow tie over the whole grid: repaired, it would cover half of A
    comm = make_communities()
    comm.loc[1, "geometry"] = _bow_tie(LON0, LAT0, 10 * STEP, 10 * STEP)
    with pytest.raises(GeometryError) as err:
        run_study(write_study(tmp_path, communities=comm))
    msg = str(err.value)
    assert "the boundary of community B crosses itself near (-51.295, -30.095)" in msg
    assert "redraw the boundary of community B" in msg
    assert "pair(s) of communities overlap" not in msg


def test_sliver_overlaps_go_to_the_earlier_community(tmp_path):
    comm = make_communities()
    # B reaches 5 m into A: a digitising sliver, about 1 % of A
    comm.loc[1, "geometry"] = box(
        LON0 + 5 * STEP - 0.00005, LAT0, LON0 + 10 * STEP, LAT0 + 10 * STEP
    )
    pop = make_population()
    pop.loc[len(pop)] = ["edge", 7.0, Point(LON0 + 5 * STEP - 0.00002, LAT0 + 5 * STEP)]
    result = run_study(write_study(tmp_path, communities=comm, population=pop))
    assert any(
        "1 sliver overlap(s) between communities" in n and "A and B" in n
        for n in map(str, result.notes)
    )
    a, b = result.communities.geometry
    assert a.intersection(b).area < 1e-6 and b.area == pytest.approx(b.union(a).area - a.area)
    edge = result.demand.points[result.demand.points["source_id"] == "edge"]
    assert list(edge["community_id"]) == ["A"]  # counted once, in the earlier community
    assert result.accounting["used_population"] == 2007


def test_residents_in_gaps_are_counted_and_reported(tmp_path):
    comm = make_communities()
    comm.loc[1, "geometry"] = box(
        LON0 + 6 * STEP, LAT0, LON0 + 10 * STEP, LAT0 + 10 * STEP
    )  # a 1-step gap
    pop = make_population()
    pop.loc[len(pop)] = ["gap", 30.0, Point(LON0 + 5.5 * STEP, LAT0 + 5 * STEP)]
    result = run_study(write_study(tmp_path, communities=comm, population=pop))
    acc = result.accounting
    # the added 30 and the two grid points at x = 5.25 steps (200) live in the gap
    assert acc["outside_communities_population"] == 230
    assert acc["used_population"] + acc["outside_communities_population"] == acc["input_population"]
    assert any(
        "230 residents" in n and "outside every community" in n for n in map(str, result.notes)
    )


def test_a_facility_outside_every_community_serves_its_neighbours(tmp_path):
    comm = make_communities()
    comm.loc[1, "geometry"] = box(LON0 + 6 * STEP, LAT0, LON0 + 10 * STEP, LAT0 + 10 * STEP)
    fac = make_facilities()
    fac["geometry"] = [Point(LON0 + 5.5 * STEP, LAT0 + 5 * STEP)]  # in the gap between A and B
    result = run_study(write_study(tmp_path, communities=comm, facilities=fac))
    # every resident is within 600 m of the gap: both communities fully covered
    assert a1(result, "community:A")["value"] == 1.0
    assert a1(result, "community:B")["value"] == 1.0


# --- network ----------------------------------------------------------------------------------


def test_residents_beyond_the_snapping_limit_are_not_covered_and_counted(tmp_path):
    comm = make_communities()
    # A reaches 1.5 km south of the street grid
    comm.loc[0, "geometry"] = box(LON0, LAT0 - 0.0135, LON0 + 5 * STEP, LAT0 + 10 * STEP)
    pop = make_population()
    pop.loc[len(pop)] = ["remote", 40.0, Point(LON0 + STEP, LAT0 - 0.0130)]  # about 1.44 km away
    result = run_study(write_study(tmp_path, communities=comm, population=pop))
    acc = result.accounting
    assert acc["off_network_population_walk"] == 40 and acc["off_network_demand_points_walk"] == 1
    assert acc["off_network_population_cycle"] == 40
    assert a1(result, "community:A")["covered_population"] == 1000  # not the remote 40
    assert a1(result, "community:A")["total_population"] == 1040


def test_residents_by_a_street_cut_off_from_the_network_are_stranded(tmp_path):
    comm = make_communities()
    comm.loc[0, "geometry"] = box(LON0, LAT0 - 0.006, LON0 + 5 * STEP, LAT0 + 10 * STEP)
    island = (LON0 + STEP, LAT0 - 0.005)  # a lone street 550 m south of the grid
    pop = make_population()
    pop.loc[len(pop)] = ["island", 25.0, Point(LON0 + 1.5 * STEP, LAT0 - 0.0049)]
    result = run_study(
        write_study(tmp_path, communities=comm, population=pop, osm=osm_grid(island=island))
    )
    acc = result.accounting
    assert acc["stranded_population_walk"] == 25 and acc["stranded_demand_points_walk"] == 1
    assert a1(result, "community:A")["covered_population"] == 1000


# --- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.nan, "missing or not numeric for feature\\(s\\) p3"),
        (np.inf, "infinite for feature\\(s\\) p3"),
        (-1.0, "negative for feature\\(s\\) p3"),
    ],
)
def test_bad_population_values_are_refused(tmp_path, value, message):
    pop = make_population()
    pop.loc[3, "population"] = value
    pop.to_file(tmp_path / "p.gpkg")
    with pytest.raises(ValueColumnError, match=message):
        read_population(tmp_path / "p.gpkg")


def test_community_population_nan_is_refused_only_when_it_is_the_only_population(tmp_path):
    comm = make_communities()
    comm["population"] = [600.0, np.nan]
    # with a population layer, the declared figures are not needed
    assert run_study(write_study(tmp_path, communities=comm)).accounting["used_population"] == 2000
    with pytest.raises(InputLayerError, match="community/ies B have no 'population'"):
        run_study(write_study(tmp_path, communities=comm, population=False))
    comm["population"] = [600.0, 400.0]
    result = run_study(write_study(tmp_path, communities=comm, population=False))
    assert result.accounting["used_population"] == pytest.approx(1000, abs=1e-9)
    assert any("weakest option" in n for n in map(str, result.notes))


def test_bad_floor_area_is_refused_and_missing_floor_area_is_allowed(tmp_path):
    fac = pd.concat([make_facilities()] * 3, ignore_index=True)
    fac["facility_id"] = ["f1", "f2", "f3"]
    fac["floor_area_m2"] = [120.0, np.nan, -5.0]
    gpd.GeoDataFrame(fac, crs=4326).to_file(tmp_path / "f.gpkg")
    with pytest.raises(ValueColumnError, match="'floor_area_m2' is negative for feature\\(s\\) f3"):
        read_facilities(tmp_path / "f.gpkg")
    fac.loc[2, "floor_area_m2"] = 80.0
    gpd.GeoDataFrame(fac, crs=4326).to_file(tmp_path / "g.gpkg")
    read, _ = read_facilities(tmp_path / "g.gpkg")
    assert read["floor_area_m2"].isna().tolist() == [False, True, False]  # NaN: not given


# --- rasters ----------------------------------------------------------------------------------


def _raster(path, grid, x0, y0, cell, crs="EPSG:32722", nodata=-1.0):
    import rasterio
    from affine import Affine

    grid = np.asarray(grid, dtype="float64")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=grid.shape[0],
        width=grid.shape[1],
        count=1,
        dtype="float64",
        crs=crs,
        transform=Affine(cell, 0, x0, 0, -cell, y0),
        nodata=nodata,
    ) as dst:
        dst.write(grid, 1)
    return path


def _grid_over(comm, cell=100.0, pad=0.0):
    x0, y0, x1, y1 = comm.to_crs("EPSG:32722").total_bounds
    ncol, nrow = int(np.ceil((x1 - x0 + 2 * pad) / cell)), int(np.ceil((y1 - y0 + 2 * pad) / cell))
    return x0 - pad, y1 + pad, nrow, ncol


def test_raster_nodata_is_no_residents_and_noted(tmp_path):
    x0, top, nrow, ncol = _grid_over(make_communities())
    grid = np.full((nrow, ncol), 10.0)
    grid[0, :] = -1.0
    path = _raster(tmp_path / "pop.tif", grid, x0, top, 100.0)
    result = run_study(write_study(tmp_path, population="pop.tif"))
    assert result.accounting["input_population"] == pytest.approx(10.0 * (nrow - 1) * ncol)
    assert any(f"{ncol} of {nrow * ncol} cells are nodata" in n for n in map(str, result.notes))
    assert path.exists()


def test_raster_of_density_instead_of_counts_is_flagged(tmp_path):
    x0, top, nrow, ncol = _grid_over(make_communities())
    # 12 000 residents per km² written into 100 m cells as if they were counts
    _raster(tmp_path / "pop.tif", np.full((nrow, ncol), 12_000.0), x0, top, 100.0)
    result = run_study(write_study(tmp_path, population="pop.tif"))
    flagged = [n for n in map(str, result.notes) if "check the population raster" in n]
    assert (
        flagged
        and "1,200,000 per km²" in flagged[0]
        and "residents = density × cell area" in flagged[0]
    )
    # the same density as counts per 100 m cell (120 residents) is plausible
    _raster(tmp_path / "pop.tif", np.full((nrow, ncol), 120.0), x0, top, 100.0)
    result = run_study(write_study(tmp_path, population="pop.tif"))
    assert not [n for n in map(str, result.notes) if "check the population raster" in n]


def test_population_totals_far_from_the_declared_ones_are_flagged(tmp_path):
    comm = make_communities()
    comm["population"] = [1000.0, 1000.0]
    result = run_study(write_study(tmp_path, communities=comm))
    assert not [n for n in map(str, result.notes) if "check the population layer" in n]
    pop = make_population()
    pop["population"] = 12_000.0  # a density per km² where residents are expected
    result = run_study(write_study(tmp_path, communities=comm, population=pop))
    note = next(n for n in map(str, result.notes) if "check the population layer" in n)
    assert "puts 240,000 residents in the 2 communities that declare 2,000 (120.00 times" in note


def test_raster_short_of_the_communities_is_noted(tmp_path):
    x0, top, nrow, ncol = _grid_over(make_communities())
    half = ncol // 2  # the western half only: A is covered, B is not
    _raster(tmp_path / "pop.tif", np.full((nrow, half), 10.0), x0, top, 100.0)
    result = run_study(write_study(tmp_path, population="pop.tif"))
    note = next(n for n in map(str, result.notes) if "population raster does not cover" in n)
    assert "1 of 2 communities" in note and "B (" in note


def test_negative_raster_values_are_refused(tmp_path):
    _raster(tmp_path / "pop.tif", [[1.0, -3.0]], 0.0, 0.0, 100.0, nodata=-1.0)
    with pytest.raises(ValueColumnError, match="negative residents \\(first at row 0, column 1\\)"):
        read_population(tmp_path / "pop.tif")


def test_raster_elsewhere_is_refused(tmp_path):
    x0, top, nrow, ncol = _grid_over(make_communities())
    _raster(tmp_path / "pop.tif", np.full((nrow, ncol), 10.0), x0 + 200_000, top, 100.0)
    with pytest.raises(CoordinateError, match="population layer: no feature lies within 100 km"):
        run_study(write_study(tmp_path, population="pop.tif"))


def test_candidate_sites_elsewhere_are_refused_and_far_ones_noted(tmp_path):
    from coverage.sites import site_study

    cands = gpd.GeoDataFrame(
        {"candidate_id": ["near", "far"]},
        geometry=[Point(LON0 + 7 * STEP, LAT0 + 5 * STEP), Point(LON0 + 2.0, LAT0)],
        crs="EPSG:4326",
    )
    cands.to_file(tmp_path / "cands.gpkg")
    extra = '[siting]\ncategory = "community_service"\np = 1\ncandidates = "cands.gpkg"'
    study = write_study(tmp_path, extra=extra)
    loaded = LoadedStudy.load(study)
    siting = site_study(loaded)
    assert any(
        "candidates: 1 of 2 features lie more than 10 km" in n for n in map(str, siting.notes)
    )
    cands.iloc[[1]].to_file(tmp_path / "cands.gpkg")
    with pytest.raises(CoordinateError, match="candidates layer: no feature lies within 100 km"):
        site_study(loaded)


def test_a_large_polygon_is_measured_whole():
    """A 30 km township polygon reaching the communities is near, though its centre is not."""
    from coverage.inputs import check_near_communities

    comm = make_communities().to_crs("EPSG:32722")
    big = gpd.GeoDataFrame(
        {"id": ["township"]},
        geometry=[box(LON0 + 5 * STEP, LAT0 + 5 * STEP, LON0 + 0.3, LAT0 + 0.3)],
        crs="EPSG:4326",
    )
    assert check_near_communities(comm, big, "population", limit_m=1_000.0) == []
    far = big.set_geometry(big.geometry.translate(0.0, 0.3))  # now 25 km north
    note = check_near_communities(comm, far, "population", limit_m=1_000.0)
    assert "1 of 1 features lie more than 1 km" in str(note[0])
