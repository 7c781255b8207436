"""Map size and build time for a city of about 10^5 demand cells.

The demo study is rerun with its population spread over a fine GeoTIFF (each
census hexagon's residents split evenly over the pixels whose centres fall in
it: the total is kept), so the run has about ``--cells`` demand cells. Then:

* **ours**: ``coverage.maps.render_map`` (every layer, demand grid included),
  offline (Leaflet inlined);
* **explore**: what a planner would otherwise do with the same layers,
  ``GeoDataFrame.explore()`` (folium, CDN links) of the demand cells coloured
  by A1 coverage, the communities and the facilities, saved with ``.save``.

Prints the sizes and times and their ratios, and writes them as JSON
(``--json``). Usage::

    python benchmarks/bench_map.py [--cells 100000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
from affine import Affine
from rasterio.features import rasterize

from coverage.config import demo_data_dir, load_study
from coverage.maps import render_map
from coverage.pipeline import run_study


def fine_population(out: Path, cells: int) -> tuple[Path, float, int]:
    """Write the demo population as a GeoTIFF of about ``cells`` populated pixels."""
    data = demo_data_dir()
    pop = gpd.read_file(data / "population" / "poa_population.geojson").to_crs("EPSG:32722")
    comm = gpd.read_file(data / "boundaries" / "poa_communities.geojson").to_crs("EPSG:32722")
    pixel = float(np.sqrt(comm.area.sum() / cells))
    x0, y0, x1, y1 = pop.total_bounds
    width, height = int(np.ceil((x1 - x0) / pixel)), int(np.ceil((y1 - y0) / pixel))
    transform = Affine(pixel, 0.0, x0, 0.0, -pixel, y1)
    index = rasterize(
        ((g, i + 1) for i, g in enumerate(pop.geometry)),
        out_shape=(height, width),
        transform=transform,
        fill=0,
        dtype="int32",
    )
    counts = np.bincount(index.ravel(), minlength=len(pop) + 1)
    residents = np.concatenate([[0.0], pop["population"].to_numpy(dtype=float)])
    per_pixel = np.divide(residents, counts, out=np.zeros_like(residents), where=counts > 0)
    grid = per_pixel[index].astype("float32")
    lost = float(residents[1:][counts[1:] == 0].sum())
    path = out / "population.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs="EPSG:32722",
        transform=transform,
        nodata=-1.0,
        compress="deflate",
    ) as dst:
        dst.write(grid, 1)
    if lost > 0:
        print(f"note: {lost:,.0f} residents of hexagons smaller than a pixel are not in the raster")
    return path, pixel, int((grid > 0).sum())


def raster_study(tmp: Path, cells: int) -> tuple[Any, float, int]:
    """The demo study with its population on a fine GeoTIFF (:func:`fine_population`), written
    into ``tmp``; returns the study, the pixel size and the populated pixels."""
    raster, pixel, populated = fine_population(tmp, cells)
    demo = demo_data_dir()
    text = (demo / "demo.toml").read_text(encoding="utf-8")
    text = text.replace(
        'population = "population/poa_population.geojson"', f'population = "{raster}"'
    )
    for rel in ("boundaries/", "facilities/", "network/"):
        text = text.replace(f'"{rel}', f'"{demo / rel}/')
    path = tmp / "study.toml"
    path.write_text(text, encoding="utf-8")
    return load_study(path), pixel, populated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=float, default=1e5, help="demand cells wanted")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        study, pixel, populated = raster_study(tmp_path, int(args.cells))
        t = time.perf_counter()
        result = run_study(study)
        run_s = time.perf_counter() - t
        n_cells = len(result.demand.points)
        print(
            f"population raster: {pixel:.1f} m pixels, {populated} populated; "
            f"run: {n_cells} demand cells, {run_s:.1f} s ({result.timings_s})"
        )

        t = time.perf_counter()
        page, figures = render_map(result, "en")
        ours_s = time.perf_counter() - t
        ours_bytes = len(page.encode())
        print(
            f"ours: {ours_bytes / 1e6:.2f} MB in {ours_s:.1f} s (simplify {figures.simplify_m:g} m)"
        )
        for name, size in sorted(figures.layers_bytes.items(), key=lambda kv: -kv[1])[:6]:
            print(f"  {name}: {size / 1e6:.2f} MB")

        t = time.perf_counter()
        a1 = next(s for s in result.specs if s.indicator == "A1_service_circle")
        cells = gpd.GeoDataFrame(
            {
                "demand_id": result.demand.points["demand_id"].to_numpy(),
                "population": result.demand.points["population"].to_numpy(),
                "covered": np.asarray(a1.covered, dtype=int),
            },
            geometry=result.demand.points["piece"].values,
            crs=result.crs,
        )
        fmap = cells.explore(column="covered", cmap="RdYlGn", name="demand cells")
        result.communities[["community_id", "name", a1.column, "geometry"]].explore(
            m=fmap, column=a1.column, name="communities"
        )
        result.facilities[["facility_id", "category", "name", "geometry"]].explore(
            m=fmap, column="category", name="facilities"
        )
        explore_path = tmp_path / "explore.html"
        fmap.save(explore_path)
        explore_s = time.perf_counter() - t
        explore_bytes = explore_path.stat().st_size
        print(f"explore: {explore_bytes / 1e6:.2f} MB in {explore_s:.1f} s (needs CDN access)")
        print(
            f"ratio explore / ours: size {explore_bytes / ours_bytes:.1f}x, "
            f"time {explore_s / ours_s:.1f}x"
        )
        figures_out = {
            "demand_cells": n_cells,
            "pixel_m": round(pixel, 2),
            "run_s": round(run_s, 2),
            "run_stages_s": result.timings_s,
            "ours_bytes": ours_bytes,
            "ours_s": round(ours_s, 2),
            "ours_simplify_m": figures.simplify_m,
            "ours_layers_bytes": figures.layers_bytes,
            "explore_bytes": explore_bytes,
            "explore_s": round(explore_s, 2),
        }
        if args.json:
            args.json.write_text(json.dumps(figures_out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
