"""Service areas for display: the street pieces within reach of a facility, drawn as bands.

No figure comes from these polygons (METHOD.md): they are drawn on the map
and written to ``service_areas.gpkg``. The reach core (:mod:`coverage.reach`)
gives the node costs; this module cuts the street edges at the remaining
budget and rasterises a band around them with rasterio.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from coverage.reach import ReachGraph, Segments, Snaps

__all__ = [
    "facility_pieces",
    "reachable_pieces",
    "service_area_polygon",
]

FloatArray = npt.NDArray[np.float64]


def reachable_pieces(rg: ReachGraph, node_cost: FloatArray, budget: float) -> FloatArray:
    """The parts of street edges from which a facility is reached within ``budget``.

    For a directed edge ``a -> b`` of cost ``c``, a point at fraction ``x`` from
    ``a`` reaches the facility through ``b`` at cost ``(1 - x) c + D[b]``; the
    piece with that cost within the budget runs from ``x0 = 1 - (budget - D[b]) / c``
    to ``b``. A two-way street has both directions, so both ends contribute.
    The access leg from off the street is not counted (display only).

    Parameters
    ----------
    rg
        The joined graph.
    node_cost
        Cost from each network and snap node to the nearest facility (a row of
        :attr:`Nearest.node_cost`).
    budget
        The threshold, same unit.

    Returns
    -------
    ndarray
        ``(n_pieces, 2, 2)`` start and end coordinates of each reachable piece.
    """
    sp = rg.split
    left = budget - node_cost[sp.head]
    ok = left >= 0
    tail, head, c, left = sp.tail[ok], sp.head[ok], sp.cost[ok], left[ok]
    frac = np.where(c > 0, np.clip(1.0 - left / np.where(c > 0, c, 1.0), 0.0, 1.0), 0.0)
    a, b = rg.node_xy[tail], rg.node_xy[head]
    start = a + (b - a) * frac[:, None]
    return np.stack([start, b], axis=1)


#: Most grid cells a service area is traced on (coarser cells beyond).
MAX_CELLS = 4_000_000


def service_area_polygon(pieces: FloatArray, buffer_m: float, cell_m: float | None = None) -> Any:
    """Draw a band of ``buffer_m`` around reachable street pieces, for display only.

    Buffering tens of thousands of lines one by one and dissolving them takes
    GEOS seconds to minutes; instead the pieces are sampled onto a grid of
    ``cell_m`` cells, every cell within ``buffer_m`` of a street cell is taken
    (exact Euclidean distance transform), and the cells are turned back into
    polygons with rasterio and simplified by half a cell (each part on its own, without
    keeping topology, then made valid: display only). The
    outline is within about two cells of the exact buffer.

    Parameters
    ----------
    pieces
        ``(n, 2, 2)`` pieces from :func:`reachable_pieces`, metres.
    buffer_m
        Half-width of the band, metres.
    cell_m
        Grid cell, metres; default ``buffer_m / 4``, coarser when the grid would
        exceed :data:`MAX_CELLS` cells.

    Returns
    -------
    shapely geometry
        A Polygon or MultiPolygon; empty when there is no piece.
    """
    from rasterio import features
    from rasterio.transform import Affine
    from scipy import ndimage

    pieces = np.asarray(pieces, dtype=float).reshape(-1, 2, 2)
    if pieces.shape[0] == 0:
        return shapely.Polygon()
    cell = float(cell_m) if cell_m else buffer_m / 4.0
    # a city-wide band on a fine grid is tens of millions of cells and an outline of
    # millions of vertices: coarser cells keep the grid within MAX_CELLS (display only)
    span = np.ptp(pieces.reshape(-1, 2), axis=0) + 2 * (buffer_m + 2 * cell)
    cell = max(cell, float(np.sqrt(span[0] * span[1] / MAX_CELLS)))
    pad = buffer_m + 2 * cell
    lo = pieces.reshape(-1, 2).min(axis=0) - pad
    hi = pieces.reshape(-1, 2).max(axis=0) + pad
    ncol = int(np.ceil((hi[0] - lo[0]) / cell))
    nrow = int(np.ceil((hi[1] - lo[1]) / cell))
    # sample each piece every half cell, ends included
    a, b = pieces[:, 0], pieces[:, 1]
    n = np.ceil(np.hypot(*(b - a).T) / (cell / 2)).astype(np.int64) + 2
    idx = np.repeat(np.arange(pieces.shape[0]), n)
    step = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    t = step / np.repeat(n - 1, n)
    xy = a[idx] + (b[idx] - a[idx]) * t[:, None]
    col = ((xy[:, 0] - lo[0]) / cell).astype(np.int64)
    row = ((hi[1] - xy[:, 1]) / cell).astype(np.int64)
    off_street = np.ones((nrow, ncol), dtype=bool)
    off_street[row, col] = False
    # a cell is drawn whole: take cells whose centre is within the band less a quarter cell (measured: unbiased area)
    near = ndimage.distance_transform_edt(off_street) * cell <= max(buffer_m - cell / 4, 0.0)
    transform = Affine(cell, 0.0, lo[0], 0.0, -cell, hi[1])
    polys = np.array(
        [
            shapely.geometry.shape(geom)
            for geom, _ in features.shapes(near.astype(np.uint8), mask=near, transform=transform)
        ]
    )
    # topology-preserving simplification of a city's band (one polygon with a hundred
    # thousand holes) took 10 s a shape; its slips are mended by make_valid
    polys = shapely.simplify(polys, cell / 2, preserve_topology=False)
    # a part mended after simplification may come back in pieces: flatten first
    parts = shapely.get_parts(polys)
    parts = parts[~shapely.is_empty(parts)]
    if len(parts) == 0:
        return shapely.Polygon()
    return shapely.make_valid(shapely.multipolygons(parts) if len(parts) > 1 else parts[0])


def facility_pieces(
    segments: Segments, snaps: Snaps, leg_cost: FloatArray, budget: float
) -> FloatArray:
    """The stretch of each facility's own street from which it is reached within ``budget``.

    :func:`reachable_pieces` draws from node costs; a facility that is not a
    node of the graph (one added in a what-if) also reaches the street it
    stands on, up to the budget left after its egress leg, in the directions
    the street allows.

    Returns
    -------
    ndarray
        ``(n_pieces, 2, 2)`` start and end coordinates, like :func:`reachable_pieces`.
    """
    on = np.flatnonzero(snaps.segment >= 0)
    s, x = snaps.segment[on], snaps.fraction[on]
    left = budget - np.asarray(leg_cost, dtype=float)[on]
    cost = segments.cost[s]
    reach = np.divide(left, cost, out=np.zeros(on.size), where=cost > 0)
    ok = left >= 0
    a, b = segments.node_xy[segments.u[s]], segments.node_xy[segments.v[s]]
    at = a + (b - a) * x[:, None]
    pieces = []
    for allowed, end in ((segments.forward[s], x - reach), (segments.backward[s], x + reach)):
        sel = ok & allowed
        t = np.clip(end[sel], 0.0, 1.0)[:, None]
        start = a[sel] + (b[sel] - a[sel]) * t
        pieces.append(np.stack([start, at[sel]], axis=1))
    return np.concatenate(pieces) if pieces else np.zeros((0, 2, 2))
