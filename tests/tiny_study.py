"""The tiny study used by the bad-input tests and by ``scripts/make_bad_inputs.py``.

A 1 km x 1 km street grid (OSM XML, streets every 100 m) near Porto Alegre,
two communities side by side (A west, B east), 20 population points of 100
residents and one community service centre in A. Every builder returns a new
object, so tests can change one layer and keep the rest.
"""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import Point, box

from coverage.config import load_study

LON0, LAT0 = -51.30, -30.10  # south-west corner of the street grid
STEP = 0.001  # about 96 m of longitude and 111 m of latitude here
N = 11  # nodes per side: a grid of about 1 km


def osm_grid(lon0=LON0, lat0=LAT0, n=N, island=None) -> str:
    """A street grid as OSM XML; ``island`` adds a lone street at (lon, lat)."""
    nodes, ways = [], []
    nid = lambda i, j: 1 + i * n + j  # noqa: E731
    for i in range(n):
        for j in range(n):
            nodes.append(
                f'<node id="{nid(i, j)}" lat="{lat0 + i * STEP:.6f}" lon="{lon0 + j * STEP:.6f}" version="1"/>'
            )
    wid = 1000
    for i in range(n):
        for line in ([nid(i, j) for j in range(n)], [nid(j, i) for j in range(n)]):
            refs = "".join(f'<nd ref="{r}"/>' for r in line)
            ways.append(
                f'<way id="{wid}" version="1">{refs}<tag k="highway" v="residential"/></way>'
            )
            wid += 1
    if island is not None:
        lon, lat = island
        nodes.append(f'<node id="90001" lat="{lat:.6f}" lon="{lon:.6f}" version="1"/>')
        nodes.append(f'<node id="90002" lat="{lat:.6f}" lon="{lon + 0.001:.6f}" version="1"/>')
        ways.append(
            '<way id="99001" version="1"><nd ref="90001"/><nd ref="90002"/><tag k="highway" v="residential"/></way>'
        )
    body = "\n".join(nodes + ways)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n{body}\n</osm>\n'


def make_communities() -> gpd.GeoDataFrame:
    mid = LON0 + 5 * STEP
    return gpd.GeoDataFrame(
        {"community_id": ["A", "B"], "name": ["west", "east"], "kind": ["urban", "urban"]},
        geometry=[
            box(LON0, LAT0, mid, LAT0 + 10 * STEP),
            box(mid, LAT0, LON0 + 10 * STEP, LAT0 + 10 * STEP),
        ],
        crs="EPSG:4326",
    )


def make_facilities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"facility_id": ["cs1"], "category": ["community_service"], "name": ["centre"]},
        geometry=[Point(LON0 + 2 * STEP, LAT0 + 5 * STEP)],
        crs="EPSG:4326",
    )


def make_population() -> gpd.GeoDataFrame:
    """100 residents at each of 20 points, ten in each community."""
    pts = [
        Point(LON0 + (0.5 + 2 * k) * STEP / 2, LAT0 + (1 + 2 * r) * STEP)
        for r in range(2)
        for k in range(10)
    ]
    return gpd.GeoDataFrame(
        {"id": [f"p{i}" for i in range(len(pts))], "population": 100.0},
        geometry=pts,
        crs="EPSG:4326",
    )


def write_study(
    tmp_path, communities=None, facilities=None, population=None, osm=None, extra="", header=""
):
    """Write the tiny study (any layer replaceable) and return its loaded Study.

    A layer is a GeoDataFrame, a path (str) already written, or ``False``
    for none (population only: the communities' own counts are used).
    """
    layers = {
        "communities": make_communities() if communities is None else communities,
        "facilities": make_facilities() if facilities is None else facilities,
        "population": make_population() if population is None else population,
    }
    lines = ['name = "tiny"', header, "", "[inputs]"]
    for name, gdf in layers.items():
        if gdf is False:
            continue
        if isinstance(gdf, str):  # a path already written
            lines.append(f'{name} = "{gdf}"')
            continue
        gdf.to_file(tmp_path / f"{name}.gpkg", driver="GPKG")
        lines.append(f'{name} = "{name}.gpkg"')
    (tmp_path / "net.osm").write_text(osm_grid() if osm is None else osm, encoding="utf-8")
    lines += ['network = "net.osm"', "", "[targets]", 'preset = ["suining-2025"]', extra]
    (tmp_path / "study.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_study(tmp_path / "study.toml")
