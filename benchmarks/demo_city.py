"""The issue's city benchmark: the demo cut into many communities over a fine raster, end to end.

Writes the demo study with its population on a GeoTIFF of about ``--cells`` populated
pixels (``bench_map.fine_population``) and its area cut into ``--communities`` Voronoi
communities (each urban or rural as the demo community its representative point falls in),
then times ``service-coverage run`` on it in a fresh process and reads the child's peak
resident memory.

    python benchmarks/demo_city.py --cells 250000 --communities 2000
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).parent))

from bench_map import raster_study

from coverage.config import demo_data_dir


def cut_communities(out: Path, n: int, seed: int = 0) -> Path:
    """The demo's area cut into ``n`` Voronoi communities (GeoJSON, lon/lat)."""
    comm = gpd.read_file(demo_data_dir() / "boundaries" / "poa_communities.geojson")
    comm = comm.to_crs("EPSG:32722")
    area = shapely.union_all(comm.geometry.values)
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = area.bounds
    pts: list[shapely.Point] = []
    while len(pts) < n:
        xy = rng.uniform((x0, y0), (x1, y1), size=(4 * n, 2))
        inside = shapely.contains_xy(area, xy[:, 0], xy[:, 1])
        pts += [shapely.Point(p) for p in xy[inside]]
    vor = shapely.voronoi_polygons(shapely.MultiPoint(pts[:n]), extend_to=area.buffer(1000))
    cells = [shapely.intersection(g, area) for g in shapely.get_parts(vor)]
    g = gpd.GeoDataFrame(
        {"community_id": [f"C{i:05d}" for i in range(len(cells))]}, geometry=cells, crs=comm.crs
    )
    g = g[~g.geometry.is_empty & (g.area > 1)].explode(index_parts=False)
    g = g[g.area > 1].dissolve(by="community_id", as_index=False)
    rep = gpd.GeoDataFrame(geometry=g.geometry.representative_point(), crs=comm.crs)
    kinds = gpd.sjoin(rep, comm[["kind", "geometry"]], how="left", predicate="within")
    g["kind"] = kinds["kind"].groupby(level=0).first().reindex(g.index).fillna("urban").values
    g["name"] = g["community_id"]
    path = out / "communities.geojson"
    g.to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=float, default=250_000)
    parser.add_argument("--communities", type=int, default=2000)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _, pixel, populated = raster_study(folder, int(args.cells))
        comm = cut_communities(folder, args.communities)
        study = folder / "study.toml"
        text = re.sub(r'communities = "[^"]+"', f'communities = "{comm}"', study.read_text())
        study.write_text(text + "\n[map]\noffline = true\n", encoding="utf-8")
        cmd = [sys.executable, "-m", "coverage.cli", "run", str(study), "--out",
               str(folder / "out"), "--quiet"]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        run = json.loads((folder / "out" / "run.json").read_text(encoding="utf-8"))
        sizes = {p.name: round(p.stat().st_size / 1e6, 2) for p in (folder / "out").iterdir()}
    out = {
        "cells": populated,
        "pixel_m": round(pixel, 1),
        "communities": args.communities,
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(peak),
        "stages_s": run["stage_timings_s"],
        "outputs_mb": sizes,
    }
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
