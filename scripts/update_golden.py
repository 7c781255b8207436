"""Write the demo's aggregate indicator rows to the golden file the tests pin them with.

Run it only when a change of the figures is intended, and say why in the commit::

    python scripts/update_golden.py

It writes ``tests/data/golden/demo_aggregates.csv``: every row of the demo's
``indicators.csv`` for the whole area and its urban and rural parts, with the
columns that carry a figure. ``tests/test_golden.py`` compares a fresh run with
it: a value that moves by more than 0.000 01 (a thousandth of a percentage
point) fails, as does a changed status or resident count.
"""

from __future__ import annotations

from pathlib import Path

from coverage.config import demo_study
from coverage.pipeline import run_study

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "data" / "golden" / "demo_aggregates.csv"
KEYS = ["indicator", "scope", "mode", "minutes_or_metres", "categories", "preset"]
FIGURES = ["target", "value", "status", "covered_population", "total_population"]


def aggregates(indicators):
    """The aggregate rows, keyed and sorted, with their figures rounded as written."""
    rows = indicators[indicators["scope"].isin(["all", "urban", "rural"])][KEYS + FIGURES].copy()
    rows["value"] = rows["value"].astype(float).round(6)
    for col in ("covered_population", "total_population"):
        rows[col] = rows[col].astype(float).round(1)
    return rows.sort_values(KEYS, kind="stable").reset_index(drop=True)


def main() -> None:
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    aggregates(run_study(demo_study()).indicators).to_csv(GOLDEN, index=False)
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
