"""What-ifs on a loaded study against full runs: add one facility, remove one, site --p 3.

For the demo study and for the demo with its population on a fine GeoTIFF
(``--cells``, default 10^5 demand cells, as ``bench_map.py`` makes it):

* **load**: ``LoadedStudy.load`` (read the files, build the networks and
  indexes, the first run);
* **full run**: the figures of the study with one facility more, from scratch
  on the loaded layers and networks (``LoadedStudy(study, layers)``): what a
  what-if replaces (a run from files costs the load on top);
* **what-if add**: ``LoadedStudy.what_if(add=...)`` with one health facility;
* **what-if remove**: ``what_if(remove=[...])`` of one health facility.

Each what-if returns every aggregate indicator and every community's figures;
the aggregate rows are checked equal to the full run's. Times are the median
of ``--repeat`` runs, wall-clock, on this machine; the ratios are taken within
one run. Then ``service-coverage site --p 3`` on the demo is timed end to end,
beside the same command at ``--baseline`` (a git revision, run from a
temporary worktree) when given.

Usage::

    python benchmarks/bench_whatif.py [--cells 100000] [--repeat 5]
        [--baseline 4ffa7bb] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).parent))
from bench_map import raster_study

from coverage.config import demo_study
from coverage.layers import layers_from_frames
from coverage.pipeline import LoadedStudy

REPO = Path(__file__).resolve().parents[1]


def _median_s(fn: Any, repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _aggregates(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["scope"].isin(["all", "urban", "rural"])].reset_index(drop=True)


def measure(name: str, study: Any, repeat: int) -> dict[str, Any]:
    """Load once, then time the full run and the two what-ifs."""
    t = time.perf_counter()
    loaded = LoadedStudy.load(study)
    load_s = time.perf_counter() - t
    lay = loaded.layers
    centre = lay.communities.geometry.union_all().centroid
    add = gpd.GeoDataFrame(
        {"facility_id": ["bench-new"], "category": ["health"]},
        geometry=[shapely.Point(centre.x + 300, centre.y + 200)],
        crs=lay.crs,
    )
    gone = lay.facilities.loc[lay.facilities["category"] == "health", "facility_id"].iloc[0]
    added = pd.concat([lay.facilities, add], ignore_index=True)

    def full() -> Any:
        layers = layers_from_frames(
            study, lay.communities, added, lay.population, lay.workplaces, lay.networks
        )
        return LoadedStudy(study, layers).result

    full_s, full_result = _median_s(full, max(1, repeat // 2))
    add_s, what_if = _median_s(lambda: loaded.what_if(add=add), repeat)
    remove_s, _ = _median_s(lambda: loaded.what_if(remove=[gone]), repeat)
    pd.testing.assert_frame_equal(
        _aggregates(full_result.indicators), _aggregates(what_if.indicators), rtol=1e-9
    )
    out = {
        "input": name,
        "demand_points": len(loaded.demand.points),
        "load_s": round(load_s, 3),
        "full_run_s": round(full_s, 4),
        "what_if_add_s": round(add_s, 4),
        "what_if_remove_s": round(remove_s, 4),
        "full_over_add": round(full_s / add_s, 1),
        "full_over_remove": round(full_s / remove_s, 1),
        "aggregate_rows_equal": True,
    }
    print(
        f"{name}: {out['demand_points']:,} demand points; load {load_s:.2f} s; full run "
        f"{full_s:.3f} s; what-if add {add_s * 1000:.1f} ms ({out['full_over_add']}x faster), "
        f"remove {remove_s * 1000:.1f} ms ({out['full_over_remove']}x); aggregate rows equal"
    )
    return out


def _site_seconds(cwd: Path, env: dict[str, str], out: Path) -> float:
    cmd = [sys.executable, "-c", "from coverage.cli import main; raise SystemExit(main())"]
    cmd += ["site", "--p", "3", "--out", str(out), "--quiet", "--offline"]
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def site_timing(baseline: str | None, tmp: Path) -> dict[str, Any]:
    """``service-coverage site --p 3`` on the demo, and at a baseline revision if given."""
    env = dict(os.environ)
    ours = _site_seconds(REPO, env, tmp / "site-ours")
    out: dict[str, Any] = {"site_p3_s": round(ours, 2)}
    line = f"site --p 3 on the demo: {ours:.1f} s"
    if baseline:
        tree = tmp / "baseline"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), baseline],
            check=True,
            capture_output=True,
        )
        try:
            env_b = env | {"PYTHONPATH": str(tree / "src")}
            base = _site_seconds(tree, env_b, tmp / "site-base")
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                check=False,
                capture_output=True,
            )
        out |= {"baseline": baseline, "baseline_site_p3_s": round(base, 2)}
        out["ours_over_baseline"] = round(ours / base, 2)
        line += f"; at {baseline}: {base:.1f} s (ours / baseline {ours / base:.2f})"
    print(line)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=float, default=1e5, help="demand cells of the raster input")
    ap.add_argument("--repeat", type=int, default=5, help="runs per what-if (median)")
    ap.add_argument("--baseline", help="git revision to time `site --p 3` at, beside ours")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    rows = [measure("demo", demo_study(), args.repeat)]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        study, _, populated = raster_study(tmp, int(args.cells))
        rows.append(measure(f"demo, raster of {populated:,} cells", study, args.repeat))
        site = site_timing(args.baseline, tmp)
    if args.json:
        args.json.write_text(
            json.dumps({"what_if": rows, "site": site}, indent=2), encoding="utf-8"
        )


if __name__ == "__main__":
    main()
