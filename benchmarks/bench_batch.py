"""Batch runs on Dask: the demo split into N areas, on 1 and 2 workers, against a serial loop.

Usage::

    python benchmarks/bench_batch.py [--grid 3] [--json out.json]

The Porto Alegre demo is cut into a ``grid`` x ``grid`` lattice of boxes
(empty boxes dropped: each area holds the communities whose representative
point falls in it). Each area is clipped from the demo's layers (the study's reach),
run and written (map, report, workbook, tables), as ``service-coverage batch``
does. Timed, in this order:

- ``serial``: :func:`coverage.batch.run_area` for every area in this process
  (no Dask): what a planner's loop over counties would do;
- ``dask-1``, ``dask-2``: :func:`coverage.batch.run_batch` on a
  ``LocalCluster`` of 1 and 2 single-threaded worker processes (cluster start
  included).

Each run writes into a fresh folder. Also reported: per-area seconds and the
workers' peak memory, the whole demo as one run (for the cost of splitting),
and the Dask overhead (dask-1 minus serial).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
from shapely.geometry import box

from coverage.batch import area_tasks, run_area, run_batch
from coverage.config import demo_study
from coverage.pipeline import run_study
from coverage.report import write_outputs


def grid_areas(out: Path, k: int) -> tuple[Path, int]:
    """A k x k lattice of boxes over the demo's communities; boxes with none dropped."""
    comm = gpd.read_file(demo_study().inputs.communities)
    x0, y0, x1, y1 = comm.total_bounds
    xs, ys = np.linspace(x0 - 1e-4, x1 + 1e-4, k + 1), np.linspace(y0 - 1e-4, y1 + 1e-4, k + 1)
    boxes = [box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for j in range(k) for i in range(k)]
    rp = comm.geometry.representative_point()
    keep = [b for b in boxes if rp.within(b).any()]
    gdf = gpd.GeoDataFrame(
        {"area_id": [f"a{i:02d}" for i in range(len(keep))]}, geometry=keep, crs="EPSG:4326"
    )
    path = out / "areas.geojson"
    gdf.to_file(path)
    return path, len(keep)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid", type=int, default=3, help="areas per side (default 3)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        areas, n = grid_areas(tmp, args.grid)
        study = demo_study()
        figures: dict[str, object] = {"areas": n, "grid": args.grid}

        start = time.perf_counter()
        write_outputs(run_study(study), tmp / "whole")
        figures["whole_demo_s"] = round(time.perf_counter() - start, 2)
        print(f"whole demo as one run (with outputs): {figures['whole_demo_s']} s", flush=True)

        start = time.perf_counter()
        serial = [run_area(t) for t in area_tasks(areas, study, tmp / "serial")[0]]
        figures["serial_s"] = round(time.perf_counter() - start, 2)
        assert all(s["status"] == "done" for s in serial), serial
        figures["area_s"] = [s["seconds"] for s in serial]
        figures["serial_peak_rss_mb"] = max(s["peak_rss_mb"] for s in serial)
        print(f"serial loop over {n} areas: {figures['serial_s']} s", flush=True)

        for workers in (1, 2):
            start = time.perf_counter()
            tasks, _ = area_tasks(areas, study, tmp / f"dask{workers}")
            statuses = run_batch(tasks, workers=workers, progress=lambda _: None)
            seconds = round(time.perf_counter() - start, 2)
            assert all(s["status"] == "done" for s in statuses), statuses
            figures[f"dask{workers}_s"] = seconds
            figures[f"dask{workers}_peak_rss_mb"] = max(s["peak_rss_mb"] for s in statuses)
            same = all(
                (t.out_dir / "indicators.csv").read_bytes()
                == (tmp / "serial" / "areas" / t.area_id / "indicators.csv").read_bytes()
                for t in tasks
            )
            figures[f"dask{workers}_equals_serial"] = same
            print(f"dask, {workers} worker(s): {seconds} s; same tables as serial: {same}")
        figures["speedup_2_vs_1"] = round(figures["dask1_s"] / figures["dask2_s"], 2)  # type: ignore[operator]
        figures["dask_overhead_s"] = round(figures["dask1_s"] - figures["serial_s"], 2)  # type: ignore[operator]
        mean = float(np.mean(figures["area_s"]))  # type: ignore[arg-type]
        figures["mean_area_s"] = round(mean, 2)
        print(json.dumps(figures, indent=1))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
