"""A GeoTIFF population, made in the test from the demo grid, through the whole run."""

import shutil

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from coverage.config import demo_data_dir, load_study
from coverage.pipeline import run_study

CELL_M = 250.0


@pytest.fixture(scope="module")
def raster_study(tmp_path_factory):
    """The demo study with its hexagon population spread onto a 250 m GeoTIFF by area."""
    import rasterio
    from affine import Affine

    tmp = tmp_path_factory.mktemp("raster")
    src = demo_data_dir()
    hexes = gpd.read_file(src / "population" / "poa_population.geojson").to_crs("EPSG:32722")
    x0, y0, x1, y1 = hexes.total_bounds
    x0, y0 = np.floor(x0 / CELL_M) * CELL_M, np.floor(y0 / CELL_M) * CELL_M
    ncol, nrow = int(np.ceil((x1 - x0) / CELL_M)), int(np.ceil((y1 - y0) / CELL_M))
    top = y0 + nrow * CELL_M
    cols, rows = np.meshgrid(np.arange(ncol), np.arange(nrow))
    cells = gpd.GeoDataFrame(
        {"row": rows.ravel(), "col": cols.ravel()},
        geometry=[
            box(x0 + c * CELL_M, top - (r + 1) * CELL_M, x0 + (c + 1) * CELL_M, top - r * CELL_M)
            for r, c in zip(rows.ravel(), cols.ravel(), strict=True)
        ],
        crs="EPSG:32722",
    )
    hexes["hex_area"] = hexes.area
    pieces = gpd.overlay(hexes, cells, how="intersection", keep_geom_type=True)
    share = pieces["population"] * pieces.area / pieces["hex_area"]
    grid = np.zeros((nrow, ncol))
    np.add.at(grid, (pieces["row"].to_numpy(), pieces["col"].to_numpy()), share.to_numpy())
    grid[grid == 0] = -1.0  # nodata where nobody lives
    path = tmp / "population.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=nrow,
        width=ncol,
        count=1,
        dtype="float64",
        crs="EPSG:32722",
        transform=Affine(CELL_M, 0, x0, 0, -CELL_M, top),
        nodata=-1.0,
    ) as dst:
        dst.write(grid, 1)
    for sub in ("boundaries", "facilities", "network"):
        shutil.copytree(src / sub, tmp / sub)
    text = (src / "demo.toml").read_text(encoding="utf-8")
    text = text.replace('"population/poa_population.geojson"', '"population.tif"')
    # a different metric CRS from the raster's: the cells are reprojected
    text = text.replace('crs = "EPSG:32722"', 'crs = "EPSG:31982"')
    (tmp / "study.toml").write_text(text, encoding="utf-8")
    return load_study(tmp / "study.toml"), float(grid[grid > 0].sum())


def test_raster_population_is_conserved_through_the_run(raster_study):
    study, raster_total = raster_study
    result = run_study(study)
    acc = result.accounting
    assert raster_total == pytest.approx(812_935, abs=0.01)
    assert acc["input_population"] == pytest.approx(raster_total, abs=1e-6)
    assert acc["used_population"] + acc["outside_communities_population"] == pytest.approx(
        raster_total, abs=1e-6
    )
    assert result.crs == "EPSG:31982"
    # cells cut by community boundaries become several demand points, one per piece
    pts = result.demand.points
    assert pts["source_id"].duplicated().any()
    assert pts.groupby("source_id")["community_id"].nunique().max() >= 2
    # the same city on a coarser grid: A1 within a few points of the hexagon-based figure (79.6 %)
    a1 = result.indicators.query("indicator == 'A1_service_circle' and scope == 'urban'")
    assert a1["value"].iloc[0] == pytest.approx(0.796, abs=0.03)
