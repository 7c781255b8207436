"""Command line: ``service-coverage run|site [STUDY.toml] --out DIR`` and ``batch AREAS``."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from coverage import __version__
from coverage.categories import label
from coverage.errors import CoverageError
from coverage.messages import CLI_LABELS, SCOPE_LABELS, Message, render, word


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be a share in (0, 1], e.g. 0.9, got {text}")
    return value


def _existing_file(text: str) -> str:
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"file not found: {Path(text).resolve()}")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse with the closest valid flag suggested for a mistyped one."""

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            flags = [o for a in self._all_actions() for o in a.option_strings]
            words = []
            for extra in extras:
                close = difflib.get_close_matches(extra.split("=")[0], flags, n=1)
                words.append(extra + (f" (did you mean {close[0]}?)" if close else ""))
            self.error("unrecognized arguments: " + ", ".join(words))
        return parsed

    def error(self, message: str) -> Any:
        """One line naming the flag, and where to read the usage (argparse's exit code 2)."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def _all_actions(self) -> list[argparse.Action]:
        actions = list(self._actions)
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    actions += sub._actions
        return actions


def _common(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "study", nargs="?", type=Path, help="study file (.toml); default: the demo study"
    )
    cmd.add_argument(
        "--out", type=Path, default=Path("maps"), help="output folder (default: ./maps)"
    )
    cmd.add_argument(
        "--preset",
        action="append",
        help="target preset name or CSV path, repeatable; 'all': every shipped preset "
        "(overrides the study file)",
    )
    cmd.add_argument(
        "--lang", choices=("en", "zh"), default="en", help="language of the map and report"
    )
    cmd.add_argument(
        "--offline",
        action="store_true",
        help="a map that loads nothing from the internet: no OpenStreetMap basemap "
        "(Leaflet is inlined in every map); combine with --basemap URL for local tiles",
    )
    cmd.add_argument(
        "--basemap",
        help="'osm', 'none' or a tile URL template with {z}/{x}/{y} (overrides [map] basemap)",
    )
    cmd.add_argument("--quiet", action="store_true", help="no progress messages")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="service-coverage",
        description="Coverage of community services against plan targets.",
    )
    parser.add_argument("--version", action="version", version=f"service-coverage {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="run a study (no study file: the embedded Porto Alegre demo)",
        description="Run a study: indicators.csv, communities.gpkg/.csv, shortfalls.csv, "
        "map.html, report.html, indicators.xlsx and run.json in --out.",
    )
    _common(run)
    site = sub.add_parser(
        "site",
        help="propose or test sites for new facilities ([siting] of the study file)",
        description="Run a study, then propose sites (maximal covering or set covering) or "
        "rank the given candidates; writes the run's outputs plus sites.csv, sites.gpkg and "
        "before_after.csv.",
    )
    _common(site)
    site.add_argument(
        "--model",
        choices=("mclp", "set_cover", "p_median", "test"),
        help="siting model (overrides)",
    )
    site.add_argument("--mode", choices=("walk", "cycle", "straight"), help="coverage rule mode")
    site.add_argument("--minutes", type=_positive, help="coverage rule: travel time")
    site.add_argument("--metres", type=_positive, help="coverage rule: distance")
    site.add_argument("--p", type=_positive_int, help="number of new sites for mclp")
    site.add_argument("--target-share", type=_share, help="share of residents for set_cover")
    site.add_argument(
        "--candidates", type=_existing_file, help="candidate sites file (points or polygons)"
    )
    site.add_argument("--category", help="facility category to site")
    site.add_argument("--spacing", type=_positive, help="spacing of generated candidates, metres")
    site.add_argument("--solver", choices=("milp", "greedy"), help="solver for mclp")
    site.add_argument("--time-limit", type=_positive, help="MILP time limit, seconds")
    batch = sub.add_parser(
        "batch",
        help="run many study areas (counties, townships) on Dask",
        description="Run every area of AREAS as one Dask task: each area's outputs go to "
        "OUT/areas/<area_id>/; OUT gets indicators.csv (with an 'area' column), areas.gpkg, "
        "index.html and batch.json. Exit code 0: every area done; 3: some failed.",
    )
    batch.add_argument(
        "areas",
        type=Path,
        help="polygons with a unique area_id (optional name; optional input path columns "
        "communities, facilities, population, network, workplaces)",
    )
    batch.add_argument(
        "--study",
        type=Path,
        help="study file whose settings every area uses, and whose layers are clipped to "
        "each area when AREAS names no inputs (default: the demo study)",
    )
    batch.add_argument(
        "--out", type=Path, default=Path("maps/batch"), help="output folder (default: maps/batch)"
    )
    batch.add_argument(
        "--scheduler", help="address of a running Dask scheduler (default: a local cluster)"
    )
    batch.add_argument("--workers", type=int, help="local worker processes (default: one per core)")
    batch.add_argument(
        "--buffer-m",
        type=float,
        default=None,
        help="reach around an area's communities for facilities and streets when clipping "
        "(default: the farthest any indicator of the study reaches, at the fastest speed, "
        "plus the snapping limit)",
    )
    batch.add_argument(
        "--lang", choices=("en", "zh"), default="en", help="language of the maps and reports"
    )
    batch.add_argument("--quiet", action="store_true", help="no progress messages")
    _serve_parser(sub)
    return parser


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 1-65535, got {text}")
    return value


def _serve_parser(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="the scenario workbench: test sites in the browser on the loaded study",
        description="Load the study once and serve a local web page: add, move or remove "
        "facilities on the map and see the plan's indicators change; run the optimiser; save, "
        "compare and export scenarios. Binds to 127.0.0.1; another --host needs the token it "
        "prints.",
    )
    serve.add_argument(
        "study", nargs="?", type=Path, help="study file (.toml); default: the demo study"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8765, help="port (default 8765)")
    serve.add_argument(
        "--scenarios",
        type=Path,
        help="folder of the saved scenarios (default: beside the study file; for the demo "
        "./scenarios)",
    )
    serve.add_argument("--preset", action="append", help="target preset(s) instead of the study's")
    serve.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the page")
    serve.add_argument("--offline", action="store_true", help="no basemap (nothing is fetched)")
    serve.add_argument("--basemap", help="tile URL template with {z}/{x}/{y}")
    serve.add_argument("--quiet", action="store_true", help="no progress messages")


def _serve(args: argparse.Namespace, progress: Any) -> int:
    """Load the study and run the workbench until interrupted."""
    from coverage.pipeline import LoadedStudy
    from coverage.serve import serve
    from coverage.workbench import ScenarioStore, Workbench

    if args.scenarios is not None:
        folder = args.scenarios
    else:
        folder = args.study.resolve().parent if args.study else Path("scenarios")
    stem = args.study.stem if args.study else "demo"
    problem = _output_problem(folder)
    if problem:
        print(f"service-coverage: error: --scenarios {folder}: {problem}", file=sys.stderr)
        return 2
    study = _study(args)
    loaded = LoadedStudy.load(study, progress=progress)
    store = ScenarioStore(folder / f"{stem}.scenarios.sqlite")
    from coverage.maps import OSM_ATTRIBUTION, OSM_TILES

    tiles = study.map.tiles()
    tiles = OSM_TILES if tiles == "osm" else tiles
    attribution = study.map.basemap_attribution or OSM_ATTRIBUTION
    workbench = Workbench(loaded, args.lang)
    serve(workbench, store, args.host, args.port, tiles, attribution)
    return 0


def _batch(args: argparse.Namespace, progress: Any) -> int:
    from coverage.batch import area_tasks, gather, reach_m, run_batch
    from coverage.config import demo_study, load_study
    from coverage.errors import StudyFileError

    if args.workers is not None and args.workers < 1:
        raise StudyFileError("--workers must be 1 or more")
    if not args.areas.is_file():
        raise StudyFileError(
            f"areas file not found: {args.areas}. Fix: give a GeoPackage or GeoJSON"
        )
    base = load_study(args.study) if args.study else demo_study()
    buffer_m = reach_m(base) if args.buffer_m is None else args.buffer_m
    if not buffer_m >= 0:
        raise StudyFileError("--buffer-m must be 0 or more")
    tasks, notes = area_tasks(args.areas, base, args.out, buffer_m=buffer_m, lang=args.lang)
    for note in notes:
        print(CLI_LABELS[args.lang]["note"].format(note=render(note, args.lang)))
    where = args.scheduler or "a local Dask cluster"
    progress(f"{len(tasks)} areas on {where}, reach {buffer_m:,.0f} m")
    statuses = run_batch(tasks, scheduler=args.scheduler, workers=args.workers, progress=progress)
    paths = gather(tasks, statuses, args.out, notes)
    failed = [s for s in statuses if s["status"] == "failed"]
    counts = {k: sum(s["status"] == k for s in statuses) for k in ("done", "skipped", "failed")}
    print(
        f"{len(tasks)} areas: {counts['done']} run, {counts['skipped']} unchanged (skipped), "
        f"{counts['failed']} failed"
    )
    for s in failed:
        print(f"area {s['area_id']} failed: {s['error'].splitlines()[0]}")
    print(f"outputs in {args.out}: " + ", ".join(p.name for p in paths.values()) + ", areas/")
    return 3 if failed else 0


def _siting_overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = {
        "model": "model",
        "p": "p",
        "target_share": "target_share",
        "candidates": "candidates",
        "category": "category",
        "solver": "solver",
        "time_limit": "time_limit_s",
        "spacing": "spacing_m",
        "mode": "mode",
        "minutes": "minutes",
        "metres": "metres",
    }
    out: dict[str, Any] = {}
    for arg, key in keys.items():
        value = getattr(args, arg, None)
        if value is not None:
            out[key] = str(Path(value).resolve()) if key == "candidates" else value
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``service-coverage`` console script."""
    args = _parser().parse_args(argv)
    start = time.perf_counter()

    def progress(message: Message | str) -> None:
        if not args.quiet:
            when = CLI_LABELS[args.lang]["clock"].format(s=time.perf_counter() - start)
            print(f"[{when}] {render(message, args.lang)}", file=sys.stderr, flush=True)

    if args.command == "batch":
        try:
            return _batch(args, progress)
        except CoverageError as exc:
            print(f"service-coverage: error: {exc}", file=sys.stderr)
            return 2
    if args.command == "serve":
        try:
            return _serve(args, progress)
        except CoverageError as exc:
            print(f"service-coverage: error: {exc}", file=sys.stderr)
            return 2
    problem = _output_problem(args.out)
    if problem:
        print(f"service-coverage: error: --out {args.out}: {problem}", file=sys.stderr)
        return 2
    siting = None
    try:
        from coverage.pipeline import LoadedStudy
        from coverage.report import headline, write_outputs

        study = _study(args)
        loaded = LoadedStudy.load(study, progress=progress)
        result = loaded.result
        if args.command == "site":
            from coverage.sites import site_study

            progress(Message("progress_siting"))
            siting = site_study(loaded)
        progress(Message("progress_write", {"out": str(args.out)}))
        paths = write_outputs(
            result,
            args.out,
            lang=args.lang,
            elapsed_s=time.perf_counter() - start,
            siting=siting,
            progress=progress,
        )
    except CoverageError as exc:
        print(f"service-coverage: error: {exc}", file=sys.stderr)
        return 2
    print(headline(result, brief=args.quiet, lang=args.lang))
    if siting is not None:
        print(_siting_summary(siting, args.lang))
    words = CLI_LABELS.get(args.lang, CLI_LABELS["en"])
    if args.quiet:
        print(words["outputs"].format(out=args.out))
        return 0
    print(
        "\n"
        + words["outputs"].format(out=args.out)
        + ": "
        + ", ".join(p.name for p in paths.values())
    )
    _print_map(paths["map"], paths["run"], study.map, args.lang)
    print(words["finished"].format(s=time.perf_counter() - start))
    return 0


def _study(args: argparse.Namespace) -> Any:
    """The study file (or the demo) with the command line's overrides."""
    from coverage.config import Targets, demo_study, load_study

    study = load_study(args.study) if args.study else demo_study()
    if args.preset:
        from coverage.targets import shipped_presets

        names = [n for p in args.preset for n in (shipped_presets() if p == "all" else [p])]
        study = study.with_overrides(targets=Targets(preset=tuple(dict.fromkeys(names))))
    if args.offline or args.basemap:
        changes: dict[str, Any] = {}
        if args.offline:
            changes["offline"] = True
        if args.basemap:
            changes["basemap"] = args.basemap
        elif args.offline and study.map.basemap == "osm":
            changes["basemap"] = ""  # --offline replaces the study's OSM basemap by none
        study = study.with_overrides(map=replace(study.map, **changes))
    if args.command == "site":
        study = study.with_overrides(siting=replace(study.siting, **_siting_overrides(args)))
    return study


def _output_problem(out: Path) -> str:
    """Why ``--out`` cannot take the outputs (checked before any computing), or ``""``."""
    if out.exists() and not out.is_dir():
        return "is a file, not a folder: give a folder for the outputs"
    # nothing is written before the run succeeds: find the folder it would be made in
    there = out.resolve()
    while not there.exists():
        there = there.parent
    if not there.is_dir():
        return f"{there} is a file, so the folder cannot be made: give another folder"
    if not os.access(there, os.W_OK | os.X_OK):
        return f"{there} is not writable: give a folder you can write to"
    return ""


def _print_map(path: Path, run_json: Path, settings: Any, lang: str = "en") -> None:
    import json

    words = CLI_LABELS.get(lang, CLI_LABELS["en"])
    tiles = settings.tiles()
    where = (
        words["map_none"]
        if tiles == "none"
        else (words["map_osm"] if tiles == "osm" else words["map_tiles"].format(tiles=tiles))
    )
    size_mb = path.stat().st_size / 1e6
    print(words["map"].format(name=path.name, mb=size_mb, where=where))
    for note in json.loads(run_json.read_text(encoding="utf-8"))["map"]["notes"]:
        print(words["note"].format(note=note))


def _siting_summary(siting: Any, lang: str = "en") -> str:
    """The console lines of a siting run in ``lang``."""
    from coverage.sites import rule_message

    words = CLI_LABELS.get(lang, CLI_LABELS["en"])
    sol, f, s, sizes = siting.solution, siting.figures, siting.settings, siting.sizes
    proof = (
        words["proven"] if sol.optimal else words["unproven"].format(bound=sol.bound, gap=sol.gap)
    )
    head = words["site_cols"].split("|")
    lines = [
        "",
        words["siting"].format(
            model=word("model", s.model, lang),
            category=label(s.category, lang) if lang == "zh" else s.category,
            rule=render(rule_message(s), lang),
            scope=SCOPE_LABELS[lang].get(s.scope, s.scope) if lang == "zh" else s.scope,
            method=word("method", sol.method, lang),
            proof=proof,
            seconds=sol.seconds,
            cand=sizes["candidates"],
            points=sizes["demand_points"],
            kept=sizes["candidates_kept"],
            units=sizes["demand_units"],
        ),
        words["site_head"].format(
            rank=head[0], site=head[1], alone=head[2], added=head[3], after=head[4]
        ),
    ]
    for _, r in siting.sites.iterrows():
        lines.append(
            f"{int(r['rank']):>4}  {str(r['candidate_id'])[:24]:<24} {r['gain_alone']:>10,.0f} "
            f"{r['incremental_gain']:>10,.0f} {100 * r['share_after']:>10.1f} %"
        )
    lines.append(
        words["site_totals"].format(
            before=f["covered_before"],
            share_before=100 * f["share_before"],
            after=f["covered_after"],
            share_after=100 * f["share_after"],
            total=f["residents_counted"],
            unreachable=f["unreachable_by_any_candidate"],
        )
    )
    lines += [words["note"].format(note=render(n, lang)) for n in siting.notes]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
