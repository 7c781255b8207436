"""Regenerate the shipped Porto Alegre demo study from the raw files.

Usage::

    python scripts/build_demo.py RAW_DIR [OUT_DIR]

RAW_DIR holds ``poa_hexgrid.csv`` and ``poa_osm.pbf`` (from the r5r package,
see ``data/PROVENANCE.md``); OUT_DIR defaults to the repository's ``data/``.
Needs ``h3`` (``pip install -e ".[demo]"``).

What it writes, all in EPSG:4326:

- ``population/poa_population.geojson``: the H3 resolution-9 cells, polygons
  rebuilt from their ids, with their 2010-census residents;
- ``facilities/poa_facilities.geojson``: one point per school (``primary_school``)
  and per health facility (``health``) at its cell's centre: the grid gives
  counts per cell, not addresses;
- ``boundaries/poa_communities.geojson``: communities = the cells grouped by
  their H3 resolution-7 parent (boundary = union of the member cells, so the
  cells tile the communities exactly), ``kind`` ``rural`` where the density is
  below :data:`RURAL_DENSITY_PER_KM2`, else ``urban``; ``households`` =
  residents / 3 (an assumption, marked in ``households_source``);
- ``network/poa_osm.pbf``: the OSM extract as shipped.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Polygon

#: Residents per km² below which a demo community is called rural (China's
#: urban-rural statistical division uses about 1 500 per km² for contiguous built-up areas).
RURAL_DENSITY_PER_KM2 = 1500.0
PERSONS_PER_HOUSEHOLD = 3.0
METRIC_CRS = "EPSG:32722"  # UTM 22S, for areas


def cell_polygon(cell: str) -> Polygon:
    """The H3 cell as a lon/lat polygon."""
    return Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])


def build(raw: Path, out: Path) -> None:
    """Write the demo files from the raw files (see the module docstring)."""
    grid = pd.read_csv(raw / "poa_hexgrid.csv", dtype={"id": str})
    grid = grid.sort_values("id").reset_index(drop=True)
    cells = gpd.GeoDataFrame(
        {
            "cell_id": grid["id"],
            "population": grid["population"].astype(int),
            "community_id": [h3.cell_to_parent(c, 7) for c in grid["id"]],
        },
        geometry=[cell_polygon(c) for c in grid["id"]],
        crs="EPSG:4326",
    )

    rows = []
    for column, category, label in (
        ("schools", "primary_school", "school"),
        ("healthcare", "health", "health facility"),
    ):
        # 5 cells have no healthcare value (NaN): no facility is recorded there
        counts = grid[column].fillna(0).astype(int)
        for cell, count in zip(grid["id"], counts, strict=True):
            lng, la = h3.cell_to_latlng(cell)[::-1]
            for k in range(int(count)):
                rows.append(
                    {
                        "facility_id": f"{category}-{cell}-{k + 1}",
                        "category": category,
                        "name": f"{label} {k + 1} of {int(count)} in cell {cell}",
                        "location": "H3 cell centre (the grid gives counts per cell, not addresses)",
                        "geometry": shapely.Point(lng, la),
                    }
                )
    facilities = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")

    groups = cells.dissolve(by="community_id", aggfunc={"population": "sum", "cell_id": "count"})
    groups = groups.rename(columns={"cell_id": "cells"}).reset_index()
    area_km2 = groups.to_crs(METRIC_CRS).area.to_numpy() / 1e6
    density = groups["population"].to_numpy() / area_km2
    order = np.argsort(groups["community_id"].to_numpy())
    communities = gpd.GeoDataFrame(
        {
            "community_id": groups["community_id"].to_numpy()[order],
            "name": [f"POA-{i + 1:02d}" for i in range(len(groups))],
            "kind": np.where(density < RURAL_DENSITY_PER_KM2, "rural", "urban")[order],
            "population": groups["population"].to_numpy()[order],
            "households": np.round(
                groups["population"].to_numpy()[order] / PERSONS_PER_HOUSEHOLD, 1
            ),
            "households_source": "assumption: residents / 3",
            "h3_cells": groups["cells"].to_numpy()[order],
        },
        geometry=groups.geometry.values[order],
        crs="EPSG:4326",
    )

    for sub in ("population", "facilities", "boundaries", "network"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    _write_geojson(
        cells[["cell_id", "population", "geometry"]], out / "population/poa_population.geojson"
    )
    _write_geojson(facilities, out / "facilities/poa_facilities.geojson")
    _write_geojson(communities, out / "boundaries/poa_communities.geojson")
    shutil.copyfile(raw / "poa_osm.pbf", out / "network/poa_osm.pbf")


def _write_geojson(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Deterministic GeoJSON with 7-decimal coordinates (about 1 cm)."""
    data = json.loads(gdf.to_json(drop_id=True))
    data["name"] = path.stem
    data["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}

    def rnd(obj: object) -> object:
        if isinstance(obj, float):
            return round(obj, 7)
        if isinstance(obj, list):
            return [rnd(x) for x in obj]
        return obj

    for feature in data["features"]:
        feature["geometry"]["coordinates"] = rnd(feature["geometry"]["coordinates"])
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    path.write_text(
        text.replace('{"type":"Feature"', '\n{"type":"Feature"') + "\n", encoding="utf-8"
    )


def main(argv: list[str]) -> int:
    """Command-line entry point."""
    if len(argv) not in (1, 2):
        print(__doc__)
        return 2
    raw = Path(argv[0])
    out = Path(argv[1]) if len(argv) == 2 else Path(__file__).resolve().parents[1] / "data"
    build(raw, out)
    print(f"demo study written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
