"""Write the small example study of local data (tests/data/local_study), deterministically.

A made-up neighbourhood near Suining, drawn as a planner's own files arrive: a communities
layer with Chinese headers (社区编码, 社区名称, 常住人口, 户数, 城乡属性 holding the
statistical urban-rural codes), a Gaode POI export as CSV in GCJ-02 (``id, name, type,
typecode, location``) and a population grid; the streets are a small OSM file. The study
file maps all of it (``[columns.*]``, ``[categories]`` with the ``gaode`` preset and a value
of its own, ``[datum] facilities = "gcj02"``). Run: ``python scripts/make_local_study.py``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import numpy as np
import prcoords
import shapely

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "local_study"
CRS = "EPSG:32648"  # UTM 48N (Suining)
ORIGIN = (557_000.0, 3_378_000.0)  # about 105.59E 30.53N (Suining)
STEP_M = 150.0
N = 12  # streets per side


def xy(i: float, j: float) -> tuple[float, float]:
    return ORIGIN[0] + i * STEP_M, ORIGIN[1] + j * STEP_M


def to_lonlat(points: list[tuple[float, float]]) -> np.ndarray:
    g = gpd.GeoSeries(shapely.points(np.array(points)), crs=CRS).to_crs("EPSG:4326")
    return np.column_stack([g.x, g.y])


def write_osm(path: Path) -> None:
    """A street grid: residential, one tertiary avenue, one one-way street."""
    ll = to_lonlat([xy(i, j) for j in range(N) for i in range(N)])
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="sc">']
    for k, (lon, lat) in enumerate(ll, start=1):
        lines.append(f'<node id="{k}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    way = 1
    for j in range(N):
        refs = [j * N + i + 1 for i in range(N)]
        highway = "tertiary" if j == N // 2 else "residential"
        extra = '<tag k="oneway" v="yes"/>' if j == 2 else ""
        lines.append(f'<way id="{way}" version="1">' + "".join(f'<nd ref="{r}"/>' for r in refs)
                     + f'<tag k="highway" v="{highway}"/>{extra}</way>')  # fmt: skip
        way += 1
    for i in range(N):
        refs = [j * N + i + 1 for j in range(N)]
        lines.append(f'<way id="{way}" version="1">' + "".join(f'<nd ref="{r}"/>' for r in refs)
                     + '<tag k="highway" v="residential"/></way>')  # fmt: skip
        way += 1
    lines.append("</osm>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_communities(path: Path) -> None:
    """Four communities (2 x 2), with the headers and codes of a civil-affairs table."""
    half = (N - 1) / 2
    boxes = [
        shapely.box(*xy(0, 0), *xy(half, half)),
        shapely.box(*xy(half, 0), *xy(N - 1, half)),
        shapely.box(*xy(0, half), *xy(half, N - 1)),
        shapely.box(*xy(half, half), *xy(N - 1, N - 1)),
    ]
    gdf = gpd.GeoDataFrame(
        {
            "社区编码": ["510903001001", "510903001002", "510903001003", "510903001004"],
            "社区名称": ["东街社区", "西街社区", "南坝社区", "石桥村"],
            "常住人口": [3200, 2900, 3600, 800],
            "户数": [1210, 1050, 1400, 290],
            "城乡属性": ["111", "111", "112", "220"],
        },
        geometry=boxes,
        crs=CRS,
    ).to_crs("EPSG:4326")
    gdf.to_file(path, driver="GeoJSON")


def write_population(path: Path) -> None:
    """A 100 m grid of residents, denser towards the south-west."""
    cells, people = [], []
    size = (N - 1) * STEP_M
    for x in np.arange(0, size, 100.0):
        for y in np.arange(0, size, 100.0):
            x0, y0 = ORIGIN[0] + x, ORIGIN[1] + y
            cells.append(shapely.box(x0, y0, x0 + 100, y0 + 100))
            people.append(round(60 * np.exp(-(x + y) / size) + 10, 1))
    gdf = gpd.GeoDataFrame({"population": people}, geometry=cells, crs=CRS).to_crs("EPSG:4326")
    gdf.insert(0, "source_id", [f"g{k}" for k in range(len(gdf))])
    gdf.to_file(path, driver="GeoJSON")


POIS = [  # (id, name, type, typecode, grid position)
    ("B0FFA1", "东街社区卫生服务站", "医疗保健服务;诊所;诊所", "090300", (2.5, 2.5)),
    ("B0FFA2", "南坝诊所", "医疗保健服务;诊所;诊所", "090300", (3.0, 8.0)),
    ("B0FFA3", "船山区人民医院", "医疗保健服务;综合医院;综合医院", "090100", (9.0, 9.0)),
    ("B0FFA4", "东街小学", "科教文化服务;学校;小学", "141203", (4.0, 3.0)),
    ("B0FFA5", "石桥小学", "科教文化服务;学校;小学", "141203", (9.5, 8.5)),
    ("B0FFA6", "小太阳幼儿园", "科教文化服务;学校;幼儿园", "141204", (7.0, 2.0)),
    (
        "B0FFA7",
        "东街社区党群服务中心",
        "政府机构及社会团体;政府机关;乡镇以下级政府及事业单位",
        "130106",
        (5.0, 5.0),
    ),
    ("B0FFA8", "红旗连锁", "购物服务;便民商店/便利店;便民商店/便利店", "060200|060201", (6.0, 6.5)),
]


def write_pois(path: Path) -> None:
    """A Gaode POI export as it comes: CSV, location in GCJ-02 ("lon,lat")."""
    ll = to_lonlat([xy(*p[4]) for p in POIS])
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "type", "typecode", "location"])
        for (pid, name, typ, code, _), (lon, lat) in zip(POIS, ll, strict=True):
            gcj = prcoords.wgs_gcj(prcoords.Coords(lat, lon))
            w.writerow([pid, name, typ, code, f"{gcj.lon:.6f},{gcj.lat:.6f}"])


STUDY = """# Local data as it arrives, mapped in the study file (README: "Start from your own data").
name = "示例：本地数据（社区台账、高德POI、人口网格）"
crs = "EPSG:32648"

[inputs]
communities = "communities.geojson"
facilities = "gaode_pois.csv"
population = "population.geojson"
network = "streets.osm"

[columns.communities]
community_id = "社区编码"
name = "社区名称"
population = "常住人口"
households = "户数"
kind = "城乡属性"

[columns.facilities]
facility_id = "id"
category = "typecode"

[categories]
preset = ["gaode"]
# a code the preset leaves out: this district's party-and-masses service centres
"130106" = "community_service"

[datum]
facilities = "gcj02"

[indicators]
service_circle = ["primary_school", "health"]
rural_services = ["primary_school", "health"]

[map]
offline = true
"""


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    write_osm(OUT / "streets.osm")
    write_communities(OUT / "communities.geojson")
    write_population(OUT / "population.geojson")
    write_pois(OUT / "gaode_pois.csv")
    (OUT / "study.toml").write_text(STUDY, encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
