"""Each validation rule of the input layers, with a clear message."""

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, Polygon, box

from coverage.errors import (
    DuplicateIdError,
    EmptyLayerError,
    GeometryError,
    InputLayerError,
    MissingColumnError,
    MissingIdError,
    NoCrsError,
    UnknownCategoryError,
    ValueColumnError,
)
from coverage.inputs import read_communities, read_facilities, read_population


def write(tmp_path, name, data, geoms, crs="EPSG:4326"):
    path = tmp_path / name
    gpd.GeoDataFrame(data, geometry=geoms, crs=crs).to_file(path, driver="GPKG")
    return path


def test_good_layers_read(tmp_path):
    c = write(
        tmp_path,
        "c.gpkg",
        {"community_id": [1, 2], "name": ["a", "b"], "kind": ["Urban", "rural"]},
        [box(0, 0, 1, 1), box(1, 0, 2, 1)],
    )
    comm, notes = read_communities(c)
    assert list(comm["community_id"]) == ["1", "2"] and list(comm["kind"]) == ["urban", "rural"]
    f = write(tmp_path, "f.gpkg", {"facility_id": ["x"], "category": ["health"]}, [box(0, 0, 1, 1)])
    fac, notes = read_facilities(f)
    assert fac.geometry.iloc[0].geom_type == "Point" and "representative point" in str(notes[0])


def test_no_crs(tmp_path):
    with pytest.warns(UserWarning, match="crs"):
        c = write(
            tmp_path, "c.gpkg", {"community_id": [1], "name": ["a"]}, [box(0, 0, 1, 1)], crs=None
        )
    with pytest.raises(
        NoCrsError, match="communities layer: .* no coordinate reference system. Fix: set the CRS"
    ):
        read_communities(c)


def test_missing_id_column(tmp_path):
    c = write(tmp_path, "c.gpkg", {"id": [1], "name": ["a"]}, [box(0, 0, 1, 1)])
    with pytest.raises(
        MissingColumnError, match="'community_id' is missing .*columns present: id, name"
    ):
        read_communities(c)


def test_duplicate_ids(tmp_path):
    f = write(
        tmp_path,
        "f.gpkg",
        {"facility_id": ["a", "a"], "category": ["health"] * 2},
        [Point(0, 0), Point(1, 1)],
    )
    with pytest.raises(
        DuplicateIdError, match="facilities layer: facility_id values are repeated: a"
    ):
        read_facilities(f)


def test_missing_ids(tmp_path):
    f = write(
        tmp_path,
        "f.gpkg",
        {"facility_id": ["a", None], "category": ["health"] * 2},
        [Point(0, 0), Point(1, 1)],
    )
    with pytest.raises(MissingIdError, match="1 feature\\(s\\) have no facility_id \\(rows 1\\)"):
        read_facilities(f)


def test_unknown_category_lists_the_valid_ones(tmp_path):
    f = write(tmp_path, "f.gpkg", {"facility_id": ["a"], "category": ["hospitalx"]}, [Point(0, 0)])
    with pytest.raises(
        UnknownCategoryError,
        match="a \\('hospitalx', did you mean 'health'\\?\\).*use one of: community_service, ",
    ):
        read_facilities(f)


def test_empty_layer(tmp_path):
    f = write(tmp_path, "f.gpkg", {"facility_id": [], "category": []}, [])
    with pytest.raises(EmptyLayerError, match="holds no features"):
        read_facilities(f)


def test_wrong_geometry_type(tmp_path):
    c = write(
        tmp_path, "c.gpkg", {"community_id": ["x"], "name": ["a"]}, [LineString([(0, 0), (1, 1)])]
    )
    with pytest.raises(GeometryError, match="x \\(LineString\\) have the wrong geometry type"):
        read_communities(c)


def test_bad_kind(tmp_path):
    c = write(
        tmp_path,
        "c.gpkg",
        {"community_id": ["x"], "name": ["a"], "kind": ["suburb"]},
        [box(0, 0, 1, 1)],
    )
    with pytest.raises(ValueColumnError, match="'kind' must be 'urban' or 'rural'"):
        read_communities(c)


def test_negative_and_non_numeric_population(tmp_path):
    p = write(
        tmp_path,
        "p.gpkg",
        {"id": ["a", "b"], "population": [5.0, -1.0]},
        [Point(0, 0), Point(1, 1)],
    )
    with pytest.raises(ValueColumnError, match="'population' is negative for feature\\(s\\) b"):
        read_population(p)
    q = write(
        tmp_path,
        "q.gpkg",
        {"id": ["a", "b"], "population": ["5", "many"]},
        [Point(0, 0), Point(1, 1)],
    )
    with pytest.raises(ValueColumnError, match="missing or not numeric for feature\\(s\\) b"):
        read_population(q)


def test_self_intersecting_community_is_repaired_and_reported(tmp_path):
    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    c = write(tmp_path, "c.gpkg", {"community_id": ["x"], "name": ["a"]}, [bowtie])
    comm, notes = read_communities(c)
    assert comm.geometry.iloc[0].is_valid and comm.geometry.iloc[0].area == pytest.approx(2.0)
    assert any("repaired" in n and "x crosses itself near (1, 1)" in n for n in map(str, notes))


def test_unreadable_file(tmp_path):
    p = tmp_path / "c.geojson"
    p.write_text("{not json")
    with pytest.raises(InputLayerError, match="could not be read as a vector file"):
        read_communities(p)


def test_population_raster(tmp_path):
    import numpy as np
    import rasterio
    from affine import Affine

    path = tmp_path / "pop.tif"
    data = np.array([[1.0, 0.0], [2.5, -9999.0]], dtype="float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=2,
        width=2,
        count=1,
        dtype="float32",
        crs="EPSG:32722",
        transform=Affine(100, 0, 0, 0, -100, 200),
        nodata=-9999.0,
    ) as dst:
        dst.write(data, 1)
    pop, _ = read_population(path)
    assert sorted(pop["population"]) == [1.0, 2.5]
    assert pop.geometry.iloc[0].equals(box(0, 100, 100, 200))
    bad = tmp_path / "neg.tif"
    with rasterio.open(
        bad,
        "w",
        driver="GTiff",
        height=1,
        width=1,
        count=1,
        dtype="float32",
        crs="EPSG:32722",
        transform=Affine(100, 0, 0, 0, -100, 100),
    ) as dst:
        dst.write(np.array([[-3.0]], dtype="float32"), 1)
    with pytest.raises(ValueColumnError, match="negative residents"):
        read_population(bad)
