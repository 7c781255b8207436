"""Command line: ``service-coverage run [STUDY.toml] --out DIR``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from coverage import __version__
from coverage.errors import CoverageError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="service-coverage",
        description="Coverage of community services against plan targets.",
    )
    parser.add_argument("--version", action="version", version=f"service-coverage {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="run a study (no study file: the embedded Porto Alegre demo)",
        description="Run a study: indicators.csv, communities.gpkg/.csv, shortfalls.csv, "
        "map.html and run.json in --out.",
    )
    run.add_argument(
        "study", nargs="?", type=Path, help="study file (.toml); default: the demo study"
    )
    run.add_argument(
        "--out", type=Path, default=Path("maps"), help="output folder (default: ./maps)"
    )
    run.add_argument(
        "--preset",
        action="append",
        help="target preset name or CSV path, repeatable; 'all': every shipped preset "
        "(overrides the study file)",
    )
    run.add_argument(
        "--lang", choices=("en", "zh"), default="en", help="language of the map and report"
    )
    run.add_argument("--quiet", action="store_true", help="no progress messages")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``service-coverage`` console script."""
    args = _parser().parse_args(argv)
    start = time.perf_counter()

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - start:6.1f} s] {message}", file=sys.stderr, flush=True)

    try:
        from coverage.config import Targets, demo_study, load_study
        from coverage.pipeline import run_study
        from coverage.report import headline, write_outputs

        study = load_study(args.study) if args.study else demo_study()
        if args.preset:
            from coverage.targets import shipped_presets

            names = [n for p in args.preset for n in (shipped_presets() if p == "all" else [p])]
            study = study.with_overrides(targets=Targets(preset=tuple(dict.fromkeys(names))))
        result = run_study(study, progress=progress)
        progress(f"writing outputs to {args.out}")
        paths = write_outputs(
            result, args.out, lang=args.lang, elapsed_s=time.perf_counter() - start
        )
    except CoverageError as exc:
        print(f"service-coverage: error: {exc}", file=sys.stderr)
        return 2
    print(headline(result))
    print(f"\noutputs in {args.out}: " + ", ".join(p.name for p in paths.values()))
    print(f"finished in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
