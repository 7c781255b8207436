"""City scale, end to end: synthetic prefectures from 10^4 to 6 x 10^5 demand cells.

For each size (populated 100 m cells, communities), :func:`make_city.make_city` writes a
synthetic prefecture and a fresh Python process runs it, so that peak memory is the run's own:

* ``LoadedStudy.load`` and its stage timings (read inputs and networks, demand points, reach,
  indicators);
* ``write_outputs`` (every output), in total and per output: the writer functions of
  :mod:`coverage.report`, the map and report renderers and the lazily computed shortfalls,
  shortfall areas and service areas are wrapped with timers (exclusive time: a nested call is
  not counted twice);
* peak RSS (``ru_maxrss``) after loading and at the end.

Then the exponent of each stage's time in cells and in communities (log-log least squares
over the sizes), and a cProfile of one stage of the largest size (``--profile``; default the
slowest stage; ``off`` to skip): the 15 functions with the largest cumulative time.

Usage::

    python benchmarks/bench_city.py [--sizes 1e4:100,3e4:300] [--prefecture]
                                    [--profile STAGE|auto|off] [--json out.json]
                                    [--no-service-areas] [--no-catchment-counts]
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_SIZES = "1e4:100,3e4:300,1e5:1000,2.5e5:2000"
PREFECTURE = "6e5:3000"
LOAD_STAGES = ("read inputs and networks", "demand points", "reach", "indicators")
WRITE = "write outputs"
#: Progress message code -> the stage it starts.
STAGE_STARTS = {
    "progress_read": LOAD_STAGES[0],
    "progress_demand": LOAD_STAGES[1],
    "progress_reach": LOAD_STAGES[2],
    "progress_indicators": LOAD_STAGES[3],
}


def peak_mb() -> float:
    """This process's peak resident set size so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StageProfiler:
    """A progress callback that runs cProfile during one stage of ``LoadedStudy.load``.

    Parameters
    ----------
    stage
        The stage to profile (one of :data:`LOAD_STAGES`), or ``""`` for none.
    """

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.current = ""
        self.profile = cProfile.Profile()

    def __call__(self, message: Any) -> None:
        """Switch the profiler on or off when a stage starts."""
        started = STAGE_STARTS.get(getattr(message, "code", ""))
        if started is None or started == self.current:
            return
        if self.current == self.stage:
            self.profile.disable()
        self.current = started
        if started == self.stage:
            self.profile.enable()

    def stop(self) -> None:
        """Stop profiling at the end of the load."""
        if self.current == self.stage:
            self.profile.disable()
        self.current = ""


class OutputTimer:
    """Exclusive time per output of ``write_outputs``, by wrapping the functions that make them.

    Each wrapped call's time, less that of wrapped calls inside it, is added to its key.
    """

    def __init__(self, log: Path | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self._stack: list[float] = []
        self.log = log

    def note(self, **entry: Any) -> None:
        """Append an entry to the progress log (read when a run is stopped)."""
        if self.log is not None:
            with self.log.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")

    def timed(self, key: Any, func: Any) -> Any:
        """Wrap ``func``; ``key`` is a name or a function of the call's arguments."""

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            name = key(*args) if callable(key) else key
            self._stack.append(0.0)
            self.note(start=name)
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                spent = time.perf_counter() - start
                inner = self._stack.pop()
                self.seconds[name] = self.seconds.get(name, 0.0) + spent - inner
                self.note(done=name, s=round(spent - inner, 3), rss_mb=peak_mb())
                if self._stack:
                    self._stack[-1] += spent

        return wrapper

    @contextmanager
    def patched(self) -> Any:
        """Wrap the writers of :mod:`coverage.report` and the lazy parts of the result."""
        from functools import cached_property

        from coverage import report
        from coverage.pipeline import StudyResult

        by_path = {"_csv": 1, "_gpkg": 0, "_write_text": 0}
        names = {
            "render_map": "map.html (render)",
            "report_html": "report.html (render)",
            "write_xlsx": "indicators.xlsx",
            "sha256": "sha256 of inputs and outputs",
        }
        saved = {n: getattr(report, n) for n in [*by_path, *names]}
        props = ("shortfalls", "shortfall_areas", "service_areas")
        saved_props = {p: StudyResult.__dict__[p] for p in props}
        for name, arg in by_path.items():
            setattr(report, name, self.timed(lambda *a, k=arg: Path(a[k]).name, saved[name]))
        for name, label in names.items():
            setattr(report, name, self.timed(label, saved[name]))
        for prop in props:
            wrapped = cached_property(self.timed(f"{prop} (compute)", saved_props[prop].func))
            wrapped.__set_name__(StudyResult, prop)
            setattr(StudyResult, prop, wrapped)
        try:
            yield self
        finally:
            for name, func in saved.items():
                setattr(report, name, func)
            for prop, func in saved_props.items():
                setattr(StudyResult, prop, func)


def _profile_top(profile: cProfile.Profile, n: int = 15) -> str:
    """The ``n`` functions with the largest cumulative time, as pstats prints them."""
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats("cumulative").print_stats(n)
    return out.getvalue()


def child(study_path: Path, out_dir: Path, profile_stage: str) -> dict[str, Any]:
    """Load and write one study in this process; return its figures.

    Parameters
    ----------
    study_path
        The study TOML.
    out_dir
        Where the outputs go.
    profile_stage
        A stage to profile (see :data:`LOAD_STAGES`, or ``"write outputs"``), or ``""``.

    Returns
    -------
    dict
        Stage seconds, per-output seconds, sizes, peak RSS and, when asked, the profile.
    """
    from coverage.config import load_study
    from coverage.pipeline import LoadedStudy
    from coverage.report import write_outputs

    start_mb = peak_mb()
    profiler = StageProfiler(profile_stage)
    loaded = LoadedStudy.load(load_study(study_path), progress=profiler)
    profiler.stop()
    load_mb = peak_mb()
    result = loaded.result
    timer = OutputTimer(out_dir.parent / "progress.jsonl")
    timer.log.unlink(missing_ok=True)
    timer.note(stages_s=loaded.timings_s, rss_mb=load_mb, demand_points=len(result.demand.points))
    if profile_stage == WRITE:
        profiler.profile.enable()
    with timer.patched():
        clock = time.perf_counter()
        write_outputs(result, out_dir, lang="en")
        write_s = time.perf_counter() - clock
    profiler.profile.disable()
    outputs = {k: round(v, 3) for k, v in sorted(timer.seconds.items(), key=lambda kv: -kv[1])}
    outputs["other (hashes, run.json, moves)"] = round(write_s - sum(timer.seconds.values()), 3)
    return {
        "stages_s": {**loaded.timings_s, WRITE: round(write_s, 3)},
        "outputs_s": outputs,
        "demand_points": len(result.demand.points),
        "walk_nodes": result.reach["walk"].network["nodes"],
        "off_network_population_walk": result.accounting.get("off_network_population_walk"),
        "stranded_population_walk": result.accounting.get("stranded_population_walk"),
        "population": result.accounting.get("used_population"),
        "peak_rss_mb": {"imports": start_mb, "after load": load_mb, "end": peak_mb()},
        "output_bytes": {p.name: p.stat().st_size for p in out_dir.iterdir() if p.is_file()},
        "map": _map_record(out_dir),
        "profile": _profile_top(profiler.profile) if profile_stage else "",
    }


def _map_record(out_dir: Path) -> dict[str, Any]:
    """The map's size and simplification, from ``run.json``."""
    record = json.loads((out_dir / "run.json").read_text(encoding="utf-8"))["map"]
    return {k: record.get(k) for k in ("megabytes", "simplify_m", "notes")}


def _progress(folder: Path) -> dict[str, Any]:
    """What a stopped run had done: its load stages, outputs finished and still running."""
    log = folder / "progress.jsonl"
    if not log.exists():
        return {}
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    done = {e["done"]: e["s"] for e in entries if "done" in e}
    running = [e["start"] for e in entries if "start" in e]
    for e in entries:
        if "done" in e and e["done"] in running:
            running.remove(e["done"])
    return {"load": entries[0], "outputs_done_s": done, "running": running}


def run_child(
    study: Path, out_dir: Path, profile_stage: str = "", timeout_s: float | None = None
) -> dict[str, Any]:
    """Run :func:`child` in a fresh Python process; its figures, or ``{"error": ...}``."""
    cmd = [sys.executable, __file__, "--child", str(study), str(out_dir)]
    cmd += ["--profile", profile_stage] if profile_stage else []
    clock = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        error = f"stopped after {timeout_s:g} s"
        return {"error": error, "wall_s": timeout_s, **_progress(out_dir.parent)}
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-6:])
        wall_s = round(time.perf_counter() - clock, 1)
        return {"error": tail, "wall_s": wall_s, **_progress(out_dir.parent)}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"1e4:100,3e4:300"`` -> ``[(10000, 100), (30000, 300)]``."""
    pairs = [item.split(":") for item in text.split(",") if item.strip()]
    return [(int(float(c)), int(float(m))) for c, m in pairs]


def exponent(x: list[float], y: list[float]) -> float | None:
    """Slope of ``log y`` against ``log x`` by least squares (None with fewer than 2 points)."""
    keep = [(a, b) for a, b in zip(x, y, strict=True) if a > 0 and b > 0]
    if len(keep) < 2:
        return None
    lx, ly = np.log([a for a, _ in keep]), np.log([b for _, b in keep])
    return round(float(np.polyfit(lx, ly, 1)[0]), 2)


def fits(runs: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Exponent of each stage's (and each output's) time in cells and in communities."""
    cells = [r["city"]["cells"] for r in runs]
    comms = [r["city"]["communities"] for r in runs]
    keys = [*runs[0]["stages_s"], "load total", "run total"]
    out = {}
    for key in keys:
        t = [_seconds(r, key) for r in runs]
        out[key] = {"cells": exponent(cells, t), "communities": exponent(comms, t)}
    for key in runs[-1]["outputs_s"]:
        t = [r["outputs_s"].get(key, 0.0) for r in runs]
        out[f"output: {key}"] = {"cells": exponent(cells, t), "communities": exponent(comms, t)}
    return out


def _seconds(run: dict[str, Any], key: str) -> float:
    stages = run["stages_s"]
    if key == "load total":
        return sum(stages[s] for s in LOAD_STAGES)
    if key == "run total":
        return sum(stages.values())
    return stages[key]


def print_tables(runs: list[dict[str, Any]], exps: dict[str, dict[str, float | None]]) -> None:
    """Print the per-size table, the per-output table and the exponents."""
    stages = list(runs[0]["stages_s"])
    head = [
        "cells",
        "comms",
        "demand pts",
        "walk nodes",
        "make s",
        *stages,
        "total s",
        "peak MB",
        "map MB",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "---:|" * len(head))
    for r in runs:
        c = r["city"]
        row = [c["cells"], c["communities"], r["demand_points"], r["walk_nodes"], r["make_s"]]
        row += [r["stages_s"][s] for s in stages]
        row += [round(_seconds(r, "run total"), 2), round(r["peak_rss_mb"]["end"])]
        row += [r["map"]["megabytes"]]
        print("| " + " | ".join(f"{v:,}" if isinstance(v, int) else f"{v:g}" for v in row) + " |")
    print("\nper output, s (exclusive):")
    print("| output | " + " | ".join(f"{r['city']['cells']:,}" for r in runs) + " |")
    print("|---|" + "---:|" * len(runs))
    for key in runs[-1]["outputs_s"]:
        print(f"| {key} | " + " | ".join(f"{r['outputs_s'].get(key, 0):g}" for r in runs) + " |")
    print("\nexponent of time (log-log least squares):")
    print("| stage | in cells | in communities |\n|---|---:|---:|")
    for key, e in exps.items():
        print(f"| {key} | {e['cells']} | {e['communities']} |")


def bench_size(cells: int, communities: int, args: argparse.Namespace, tmp: Path) -> dict:
    """Make one city and run it in a child process; return its figures."""
    folder = tmp / f"city-{cells}"
    clock = time.perf_counter()
    from make_city import make_city

    study = make_city(
        folder,
        cells,
        communities,
        args.seed,
        args.map_max_mb,
        service_areas=not args.no_service_areas,
        catchment_counts=not args.no_catchment_counts,
    )
    make_s = round(time.perf_counter() - clock, 2)
    run = run_child(study, folder / "out", timeout_s=args.timeout)
    run["city"] = json.loads((folder / "city.json").read_text(encoding="utf-8"))
    run["make_s"] = make_s
    return run


def main() -> None:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="cells:communities,...")
    parser.add_argument("--prefecture", action="store_true", help=f"add {PREFECTURE}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", default="auto", help="stage to profile, auto or off")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--map-max-mb", type=float, help="map size cap (default: the package's)")
    parser.add_argument(
        "--no-service-areas",
        action="store_true",
        help="[map] service_areas = false: no service areas traced (map, GeoPackage)",
    )
    parser.add_argument(
        "--no-catchment-counts",
        action="store_true",
        help="[network] catchment_counts = false: no per-facility catchment counts",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument("--keep", type=Path, help="make the cities here (default: temp folder)")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        stage = "" if args.profile in ("auto", "off") else args.profile
        print(json.dumps(child(*args.child, stage)))
        return
    sizes = parse_sizes(args.sizes + ("," + PREFECTURE if args.prefecture else ""))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    with tempfile.TemporaryDirectory(dir=args.keep) as tmp:
        runs, failed = [], []
        for cells, communities in sizes:
            r = bench_size(cells, communities, args, Path(tmp))
            (failed if "error" in r else runs).append(r)
            print(f"{cells:,} cells, {communities} communities: {r.get('stages_s', r)}", flush=True)
        exps = fits(runs) if runs else {}
        if runs:
            print_tables(runs, exps)
        figures: dict[str, Any] = {"runs": runs, "failed": failed, "exponents": exps}
        if args.profile != "off" and runs:
            figures["profile"] = profile_largest(runs[-1], args.profile, Path(tmp))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def profile_largest(run: dict[str, Any], stage: str, tmp: Path) -> dict[str, str]:
    """Profile one stage of the largest city (``auto``: its slowest) in a fresh process."""
    if stage == "auto":
        stage = max(run["stages_s"], key=run["stages_s"].get)
    folder = tmp / f"city-{run['city']['cells']}"
    profiled = run_child(folder / "study.toml", folder / "out-profile", stage)
    print(f"\nwhere the time goes in '{stage}' ({run['city']['cells']:,} cells), top 15:")
    print(profiled["profile"])
    return {"stage": stage, "top": profiled["profile"]}


if __name__ == "__main__":
    main()
