"""Words every stage shares, at the bottom of the import order.

Nothing here imports another module of the package, so any module may
import these without closing a circle.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "MODES",
    "ONEWAY_TIE_M",
    "PROFILES",
    "TOLERANCE",
    "Mode",
]

#: A travel mode on a street network.
Mode = Literal["walk", "cycle"]

#: The street-network modes, in the order tables list them.
MODES: tuple[Mode, ...] = ("walk", "cycle")

#: Walking profiles of the people served, besides the standard walker: each walks at its
#: own speed (``[speeds] older_walk_kmh``, ``child_walk_kmh``) on the walk network.
PROFILES: tuple[str, ...] = ("older", "child")

#: Comparison tolerance of costs against thresholds (minutes or metres): a
#: resident at 15 min plus rounding noise is within 15 min.
TOLERANCE = 1e-9

#: Default one-way tie, metres (METHOD.md, "One-way streets"): a facility that
#: lies behind a point on a one-way segment by less than this is reached along
#: the segment.
ONEWAY_TIE_M = 1.0
