"""Write the shipped bad-input examples in ``tests/data/bad/``.

Usage::

    python scripts/make_bad_inputs.py [OUT_DIR]

Each case is a small study file, ``<case>.toml``, that uses the tiny good
study (``tiny/``: a 1 km street grid near Porto Alegre, two communities,
population points, one facility; built by ``tests/tiny_study.py``) with one
input replaced by a broken file named after the fault. ``tests/test_bad_files.py``
runs ``service-coverage run`` on every case and checks the message;
``docs/reliability.md`` lists them.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import shapely
from shapely.geometry import LineString, Point, Polygon, box

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from tiny_study import (  # noqa: E402  (the builders live with the tests)
    LAT0,
    LON0,
    STEP,
    make_communities,
    make_facilities,
    make_population,
    osm_grid,
)

GOOD = {
    "communities": "tiny/communities.geojson",
    "facilities": "tiny/facilities.geojson",
    "population": "tiny/population.geojson",
    "network": "tiny/network.osm",
}


def _geojson(gdf: gpd.GeoDataFrame, path: Path, declare: str | None = None) -> None:
    """Write GeoJSON; ``declare`` puts an old-style ``crs`` member (what GDAL reads)."""
    data = json.loads(gdf.to_json(drop_id=True))
    data.pop("crs", None)
    if declare:
        data["crs"] = {"type": "name", "properties": {"name": declare}}
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def _study(out: Path, case: str, comment: str, extra: str = "", **inputs: str) -> None:
    lines = [f"# {comment}", f'name = "bad input: {case}"', "", "[inputs]"]
    for key, good in GOOD.items():
        lines.append(f'{key} = "{inputs.get(key, good)}"')
    lines += ["", *([extra] if extra else []), "[targets]", 'preset = ["suining-2025"]', ""]
    (out / f"{case}.toml").write_text("\n".join(lines), encoding="utf-8")


def main(out: Path) -> None:
    """Write the tiny study and every bad case into ``out``."""
    tiny = out / "tiny"
    tiny.mkdir(parents=True, exist_ok=True)
    _geojson(make_communities(), tiny / "communities.geojson")
    _geojson(make_facilities(), tiny / "facilities.geojson")
    _geojson(make_population(), tiny / "population.geojson")
    (tiny / "network.osm").write_text(osm_grid(), encoding="utf-8")
    layers = out / "layers"
    layers.mkdir(exist_ok=True)

    # communities
    comm = make_communities()
    with warnings.catch_warnings():  # community_id is cut to 10 characters, as Shapefiles do
        warnings.simplefilter("ignore")
        comm.to_file(layers / "communities_no_crs.shp", driver="ESRI Shapefile")
    (layers / "communities_no_crs.prj").unlink()
    _study(
        out, "no_crs", "a Shapefile without its .prj", communities="layers/communities_no_crs.shp"
    )
    _geojson(comm.to_crs("EPSG:32722"), layers / "communities_metres_as_degrees.geojson")
    _study(
        out,
        "metres_as_degrees",
        "UTM metres in a GeoJSON, which declares WGS84 degrees",
        communities="layers/communities_metres_as_degrees.geojson",
    )
    over = make_communities()
    over.loc[1, "geometry"] = box(LON0 + 4 * STEP, LAT0, LON0 + 10 * STEP, LAT0 + 10 * STEP)
    _geojson(over, layers / "communities_overlapping.geojson")
    _study(
        out,
        "overlapping_communities",
        "B reaches 1 street into A",
        communities="layers/communities_overlapping.geojson",
    )
    swapped_comm = make_communities()
    swapped_comm["geometry"] = swapped_comm.geometry.map(
        lambda g: shapely.transform(g, lambda xy: xy[:, ::-1])
    )
    _geojson(swapped_comm, layers / "communities_swapped_axes.geojson")
    _study(
        out,
        "swapped_communities",
        "the communities' latitude stored as x, longitude as y (the other layers are right)",
        communities="layers/communities_swapped_axes.geojson",
    )
    bow = make_communities()
    bow.loc[1, "geometry"] = Polygon(
        [
            (LON0, LAT0),
            (LON0 + 10 * STEP, LAT0 + 10 * STEP),
            (LON0 + 10 * STEP, LAT0),
            (LON0, LAT0 + 10 * STEP),
        ]
    )
    _geojson(bow, layers / "communities_bow_tie.geojson")
    _study(
        out,
        "bow_tie",
        "community B's boundary crosses itself; repaired it would cover half of A",
        communities="layers/communities_bow_tie.geojson",
    )
    empty = make_communities()
    empty.loc[1, "geometry"] = None
    _geojson(empty, layers / "communities_empty_geometry.geojson")
    _study(
        out,
        "empty_geometry",
        "community B has no geometry",
        communities="layers/communities_empty_geometry.geojson",
    )
    line = make_communities()
    line.loc[1, "geometry"] = LineString([(LON0, LAT0), (LON0 + STEP, LAT0 + STEP)])
    _geojson(line, layers / "communities_line.geojson")
    _study(
        out,
        "wrong_geometry_type",
        "community B is a line",
        communities="layers/communities_line.geojson",
    )
    dup = make_communities()
    dup["community_id"] = ["A", "A"]
    _geojson(dup, layers / "communities_duplicate_ids.geojson")
    _study(
        out,
        "duplicate_ids",
        "two communities called A",
        communities="layers/communities_duplicate_ids.geojson",
    )
    # facilities
    fac = make_facilities()
    swapped = fac.copy()
    swapped["geometry"] = [Point(LAT0 + 5 * STEP, LON0 + 2 * STEP)]
    _geojson(swapped, layers / "facilities_swapped_axes.geojson")
    _study(
        out,
        "swapped_axes",
        "latitude stored as x, longitude as y",
        facilities="layers/facilities_swapped_axes.geojson",
    )
    _geojson(fac, layers / "facilities_degrees_as_metres.geojson", "urn:ogc:def:crs:EPSG::32722")
    _study(
        out,
        "degrees_as_metres",
        "lon/lat degrees declared as UTM 22S metres",
        facilities="layers/facilities_degrees_as_metres.geojson",
    )
    far = fac.copy()
    far["geometry"] = [Point(116.4, 39.9)]
    _geojson(far, layers / "facilities_in_beijing.geojson")
    _study(
        out,
        "layers_far_apart",
        "the facility is in Beijing, the communities in Porto Alegre",
        facilities="layers/facilities_in_beijing.geojson",
    )
    unknown = fac.copy()
    unknown["category"] = ["clinic"]
    _geojson(unknown, layers / "facilities_unknown_category.geojson")
    _study(
        out,
        "unknown_category",
        "an OSM word, not a category",
        facilities="layers/facilities_unknown_category.geojson",
    )
    # population
    for name, value, comment in (
        ("negative", -5.0, "a negative population"),
        ("text", "many", "a population that is not a number"),
        ("null", None, "a population left empty (null, read as NaN)"),
    ):
        pop = make_population().astype({"population": object})
        pop.loc[3, "population"] = value
        _geojson(pop, layers / f"population_{name}.geojson")
        _study(
            out,
            f"population_{name}",
            comment,
            population=f"layers/population_{name}.geojson",
        )
    # network
    (layers / "network_empty.osm").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="hand">\n</osm>\n',
        encoding="utf-8",
    )
    _study(out, "network_empty", "an OSM file with no ways", network="layers/network_empty.osm")
    (layers / "network_not_osm.osm").write_text(
        "highway,name\nresidential,Rua A\n", encoding="utf-8"
    )
    _study(
        out,
        "network_not_osm",
        "a CSV file named .osm",
        network="layers/network_not_osm.osm",
    )
    (layers / "network_elsewhere.osm").write_text(osm_grid(lon0=LON0 + 2.0), encoding="utf-8")
    _study(
        out,
        "network_elsewhere",
        "a street grid 190 km east of the communities",
        network="layers/network_elsewhere.osm",
    )
    # study files
    _study(out, "missing_file", "a layer that is not there", population="layers/nothing.geojson")
    _study(out, "unknown_key", "walk_kph instead of walk_kmh", "[speeds]\nwalk_kph = 5\n")
    _study(out, "wrong_type", "a speed in words", '[speeds]\nwalk_kmh = "fast"\n')
    # the good study itself
    lines = ['name = "tiny good study"', "", "[inputs]"]
    lines += [f'{key} = "{path.removeprefix("tiny/")}"' for key, path in GOOD.items()]
    lines += ["", "[targets]", 'preset = ["suining-2025"]', ""]
    (tiny / "study.toml").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "data" / "bad")
