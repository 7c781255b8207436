"""The demo's headline figures, pinned: a 0.1-point regression anywhere fails.

The golden file is written by ``scripts/update_golden.py`` (only when a change
of the figures is intended, with the reason in the commit message).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from update_golden import FIGURES, GOLDEN, KEYS, aggregates  # noqa: E402


def test_the_demo_aggregate_rows_match_the_golden_file(demo_result):
    golden = pd.read_csv(GOLDEN, keep_default_na=False, na_values=[""])
    fresh = aggregates(demo_result.indicators)
    fresh = pd.read_csv(
        pd.io.common.StringIO(fresh.to_csv(index=False)), keep_default_na=False, na_values=[""]
    )
    assert len(fresh) == len(golden) > 100
    pd.testing.assert_frame_equal(fresh[KEYS], golden[KEYS])
    assert (fresh["status"] == golden["status"]).all()
    np.testing.assert_allclose(fresh["value"], golden["value"], atol=1e-5, equal_nan=True)
    np.testing.assert_allclose(fresh["target"], golden["target"], equal_nan=True)
    for col in ("covered_population", "total_population"):
        np.testing.assert_allclose(fresh[col], golden[col], atol=0.5, equal_nan=True)
    assert set(FIGURES) <= set(golden.columns)
    a1 = golden[(golden["indicator"] == "A1_service_circle") & (golden["scope"] == "all")]
    assert len(a1) >= 1  # the plan's headline is among the pinned rows
