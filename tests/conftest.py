"""Shared fixtures: tiny hand-made networks in a metric CRS."""

from __future__ import annotations

import numpy as np
import pytest

from coverage.network import StreetNetwork

CRS = "EPSG:32722"


def make_network(node_xy, segments, one_way=(), mode="walk", main=None) -> StreetNetwork:
    """A StreetNetwork from metric node coordinates and (u, v) segments.

    Segment lengths are the straight distances; segments listed in ``one_way``
    (by index) may only be travelled from u to v.
    """
    xy = np.asarray(node_xy, dtype=float)
    seg = np.asarray(segments, dtype=np.int64).reshape(-1, 2)
    length = np.hypot(*(xy[seg[:, 1]] - xy[seg[:, 0]]).T)
    fwd = np.ones(len(seg), dtype=bool)
    bwd = np.ones(len(seg), dtype=bool)
    bwd[list(one_way)] = False
    return StreetNetwork(
        mode=mode,
        crs=CRS,
        node_xy=xy,
        node_osmid=np.arange(len(xy), dtype=np.int64),
        seg_u=seg[:, 0],
        seg_v=seg[:, 1],
        seg_length_m=length,
        seg_forward=fwd,
        seg_backward=bwd,
        seg_highway=np.array(["residential"] * len(seg), dtype=object),
        node_main=np.ones(len(xy), dtype=bool) if main is None else np.asarray(main),
    )


@pytest.fixture(scope="session")
def demo_loaded():
    """The demo study loaded once per test session (treat as read-only)."""
    from coverage.config import demo_study
    from coverage.pipeline import LoadedStudy

    return LoadedStudy.load(demo_study())


@pytest.fixture(scope="session")
def demo_result(demo_loaded):
    """The demo study's run, computed once per test session (treat as read-only)."""
    return demo_loaded.result
