"""Snapping and shortest travel costs from demand points to the nearest facility.

The numeric core works on arrays (segments, snaps, costs) and knows nothing of
geometry; :func:`snap_points` is the only function that touches shapely.

Method (METHOD.md, "Travel time"): a point joins the network at the nearest
point on the nearest segment of the main component; the straight access leg is
travelled at the mode's speed. Snap points split their segments, so a demand
point and a facility on the same segment reach each other along it. The cost
from demand point *i* to the nearest facility of group *g* is

    access_i + min_f ( d(snap_i, snap_f) + egress_f ),   f in g,

computed for all *i* by one Dijkstra pass per group over the reversed graph,
from a super-source joined to every facility snap of the group by its egress leg.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from coverage.network import StreetNetwork

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Snaps:
    """Where points join the network.

    Attributes
    ----------
    segment
        Segment index per point, ``-1`` when off-network.
    fraction
        Position of the snap along the segment from ``u`` (0) to ``v`` (1).
    access_m
        Straight distance from the point to its snap, metres (``inf`` off-network).
    """

    segment: IntArray
    fraction: FloatArray
    access_m: FloatArray

    @property
    def on_network(self) -> BoolArray:
        """Whether each point is within the snapping limit of the network."""
        return np.asarray(self.segment >= 0)


def snap_points(network: StreetNetwork, xy: FloatArray, limit_m: float) -> Snaps:
    """Snap points to the nearest point on the nearest main-component segment.

    Parameters
    ----------
    network
        The mode's network.
    xy
        ``(n, 2)`` projected coordinates in ``network.crs``, metres.
    limit_m
        Snapping limit: points farther from every segment are off-network.

    Returns
    -------
    Snaps
        One entry per input point, in input order.
    """
    n = int(xy.shape[0])
    segment = np.full(n, -1, dtype=np.int64)
    fraction = np.zeros(n)
    access = np.full(n, np.inf)
    main = np.flatnonzero(network.seg_main)
    if n == 0 or main.size == 0:
        return Snaps(segment, fraction, access)
    coords = np.stack(
        [network.node_xy[network.seg_u[main]], network.node_xy[network.seg_v[main]]], axis=1
    )
    lines = shapely.linestrings(coords)
    tree = shapely.STRtree(lines)
    points = shapely.points(xy)
    (pi, ti), dist = tree.query_nearest(
        points, max_distance=limit_m, return_distance=True, all_matches=True
    )
    # all_matches keeps every equidistant segment: choose the lowest segment index, so
    # ties resolve the same way whatever the tree's internal order.
    order = np.lexsort((main[ti], pi))
    pi, ti, dist = pi[order], ti[order], dist[order]
    first = np.ones(pi.size, dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    pi, ti, dist = pi[first], ti[first], dist[first]
    seg_len = shapely.length(lines[ti])
    proj = shapely.line_locate_point(lines[ti], points[pi])
    frac = np.divide(proj, seg_len, out=np.zeros_like(proj), where=seg_len > 0)
    segment[pi] = main[ti]
    fraction[pi] = np.clip(frac, 0.0, 1.0)
    access[pi] = dist
    return Snaps(segment, fraction, access)


@dataclass(frozen=True)
class SplitGraph:
    """The network with snap points inserted as nodes, as a reversed CSR matrix.

    Attributes
    ----------
    reversed_costs
        ``(n_nodes, n_nodes)`` CSR matrix; entry ``(b, a)`` is the cost of the
        directed edge ``a -> b``; parallel edges keep the smaller cost.
    point_node
        Node of each snapped point (``-1`` for off-network points).
    """

    reversed_costs: csr_matrix
    point_node: IntArray


def split_graph(
    n_nodes: int,
    seg_u: IntArray,
    seg_v: IntArray,
    seg_cost: FloatArray,
    seg_forward: BoolArray,
    seg_backward: BoolArray,
    snap_segment: IntArray,
    snap_fraction: FloatArray,
    extra_nodes: int = 0,
) -> tuple[IntArray, IntArray, FloatArray, IntArray, int]:
    """Insert snap points into their segments.

    Parameters
    ----------
    n_nodes
        Number of network nodes.
    seg_u, seg_v, seg_cost, seg_forward, seg_backward
        Segments: end nodes, cost (seconds or metres) and allowed directions.
    snap_segment, snap_fraction
        Snapped points (segment ``-1`` = off-network, ignored).
    extra_nodes
        Node ids to reserve after the snap nodes (for super-sources).

    Returns
    -------
    tail, head, cost : arrays
        Directed edges ``tail -> head`` with their cost, parallel edges reduced
        to the cheapest.
    point_node : array
        Node of each snapped point, ``-1`` for off-network points. Points at the
        same place on the same segment share one node; points at a segment end
        use that end's node.
    n_total : int
        Number of nodes including snap nodes and ``extra_nodes``.
    """
    seg_u = np.asarray(seg_u, dtype=np.int64)
    seg_v = np.asarray(seg_v, dtype=np.int64)
    seg_cost = np.asarray(seg_cost, dtype=float)
    npts = snap_segment.size
    point_node = np.full(npts, -1, dtype=np.int64)
    on = snap_segment >= 0
    at_u = on & (snap_fraction <= 0.0)
    at_v = on & (snap_fraction >= 1.0)
    point_node[at_u] = seg_u[snap_segment[at_u]]
    point_node[at_v] = seg_v[snap_segment[at_v]]
    inner = np.flatnonzero(on & ~at_u & ~at_v)
    # unique interior snap places, sorted by (segment, fraction)
    keys = np.stack([snap_segment[inner].astype(float), snap_fraction[inner]], axis=1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = np.asarray(inv).ravel()
    k = uniq.shape[0]
    point_node[inner] = n_nodes + inv
    useg = uniq[:, 0].astype(np.int64)
    ufrac = uniq[:, 1]
    snap_ids = n_nodes + np.arange(k, dtype=np.int64)
    first = np.ones(k, dtype=bool)
    first[1:] = useg[1:] != useg[:-1]
    last = np.ones(k, dtype=bool)
    last[:-1] = useg[:-1] != useg[1:]
    prev_node = np.where(first, seg_u[useg], np.roll(snap_ids, 1))
    prev_frac = np.where(first, 0.0, np.roll(ufrac, 1))
    # chain pieces: prev -> snap, and last snap -> v
    a = np.concatenate([prev_node, snap_ids[last]])
    b = np.concatenate([snap_ids, seg_v[useg[last]]])
    piece_seg = np.concatenate([useg, useg[last]])
    piece_frac = np.concatenate([ufrac - prev_frac, 1.0 - ufrac[last]])
    piece_cost = piece_frac * seg_cost[piece_seg]
    keep = np.ones(seg_u.size, dtype=bool)
    keep[useg] = False
    a = np.concatenate([seg_u[keep], a])
    b = np.concatenate([seg_v[keep], b])
    cost = np.concatenate([seg_cost[keep], piece_cost])
    fwd = np.concatenate([seg_forward[keep], seg_forward[piece_seg]])
    bwd = np.concatenate([seg_backward[keep], seg_backward[piece_seg]])
    tail = np.concatenate([a[fwd], b[bwd]])
    head = np.concatenate([b[fwd], a[bwd]])
    cost = np.concatenate([cost[fwd], cost[bwd]])
    tail, head, cost = cheapest_parallel(tail, head, cost)
    return tail, head, cost, point_node, n_nodes + k + extra_nodes


def cheapest_parallel(
    tail: IntArray, head: IntArray, cost: FloatArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """Reduce parallel directed edges to the cheapest one.

    Building a scipy sparse matrix from repeated ``(i, j)`` pairs *sums* them;
    this keeps the minimum instead.
    """
    order = np.lexsort((cost, head, tail))
    tail, head, cost = tail[order], head[order], cost[order]
    first = np.ones(tail.size, dtype=bool)
    first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    return tail[first], head[first], cost[first]


def nearest_costs(
    n_nodes: int,
    seg_u: IntArray,
    seg_v: IntArray,
    seg_cost: FloatArray,
    seg_forward: BoolArray,
    seg_backward: BoolArray,
    demand_snaps: Snaps,
    demand_access_cost: FloatArray,
    facility_snaps: Snaps,
    facility_egress_cost: FloatArray,
    facility_group: IntArray,
    n_groups: int,
) -> FloatArray:
    """Cost from every demand point to the nearest facility of every group.

    Parameters
    ----------
    n_nodes
        Number of network nodes.
    seg_u, seg_v, seg_cost, seg_forward, seg_backward
        Segments with their cost (e.g. seconds at the mode's speed, or metres).
    demand_snaps, facility_snaps
        Snaps of demand points and facilities (off-network entries ignored).
    demand_access_cost, facility_egress_cost
        Cost of each point's straight leg to its snap, same unit as ``seg_cost``.
    facility_group
        Group (category) index ``0 .. n_groups-1`` of each facility.
    n_groups
        Number of groups.

    Returns
    -------
    ndarray
        ``(n_demand, n_groups)`` costs; ``inf`` when unreachable, when the demand
        point is off-network, or when the group has no facility on the network.

    Examples
    --------
    One segment of 100 m from node 0 to node 1, demand at node 0, facility at
    40 % of the way, 5 m from the line:

    >>> import numpy as np
    >>> d = Snaps(np.array([0]), np.array([0.0]), np.array([0.0]))
    >>> f = Snaps(np.array([0]), np.array([0.4]), np.array([5.0]))
    >>> nearest_costs(2, np.array([0]), np.array([1]), np.array([100.0]),
    ...               np.array([True]), np.array([True]), d, np.array([0.0]),
    ...               f, np.array([5.0]), np.array([0]), 1)
    array([[45.]])
    """
    nd = demand_snaps.segment.size
    seg = np.concatenate([demand_snaps.segment, facility_snaps.segment])
    frac = np.concatenate([demand_snaps.fraction, facility_snaps.fraction])
    tail, head, cost, node, n_total = split_graph(
        n_nodes,
        seg_u,
        seg_v,
        seg_cost,
        seg_forward,
        seg_backward,
        seg,
        frac,
        extra_nodes=n_groups,
    )
    dnode, fnode = node[:nd], node[nd:]
    fon = fnode >= 0
    super_ids = n_total - n_groups + np.arange(n_groups)
    # reversed graph: edge a -> b stored at (b, a); super-source g -> facility snap
    rows = np.concatenate([head, super_ids[facility_group[fon]]])
    cols = np.concatenate([tail, fnode[fon]])
    data = np.concatenate([cost, np.asarray(facility_egress_cost, dtype=float)[fon]])
    rows, cols, data = cheapest_parallel(rows, cols, data)
    graph = csr_matrix((data, (rows, cols)), shape=(n_total, n_total))
    out = np.full((nd, n_groups), np.inf)
    don = dnode >= 0
    if n_groups == 0 or not don.any():
        return out
    present = np.unique(facility_group[fon])
    if present.size == 0:
        return out
    dist = dijkstra(graph, directed=True, indices=super_ids[present])
    dist = np.atleast_2d(dist)
    out[np.ix_(don, present)] = (
        dist[:, dnode[don]].T + np.asarray(demand_access_cost, dtype=float)[don, None]
    )
    return out
