"""Snapping, shortest travel costs and catchments.

The numeric core works on arrays (segments, snaps, costs) and knows nothing of
geometry; :class:`SegmentIndex` (whose fallback uses shapely's STRtree) and
:func:`stranded_points` are the only parts that touch shapely. The drawn
service areas are in :mod:`coverage.service_areas` (display only).

Method (METHOD.md, "Travel time"): a point joins the network at the nearest
point on the nearest segment of the main component; the straight access leg is
travelled at the mode's speed. Snap points split their segments, so a demand
point and a facility on the same segment reach each other along it. Each
facility becomes a node of its own, joined to its snap by its egress leg. The
cost from demand point *i* to the nearest facility of group *g* is

    access_i + min_f ( d(snap_i, snap_f) + egress_f ),   f in g,

computed for all *i* by one multi-source Dijkstra pass per group over the
reversed graph (scipy's ``dijkstra(min_only=True)``), which also tells which
facility is the nearest. Costs to *every* facility within a limit (catchments,
siting) come from bounded single-source passes, in blocks. A facility added
to a graph built without it (a what-if) is reached through the nodes around
its snap place (:func:`costs_to_new`), so the graph need not be rebuilt.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from coverage.network import StreetNetwork
from coverage.terms import ONEWAY_TIE_M, TOLERANCE

__all__ = [
    "ONEWAY_TIE_M",
    "Joined",
    "Nearest",
    "ReachGraph",
    "SegmentIndex",
    "Segments",
    "Snaps",
    "SplitGraph",
    "build_reach_graph",
    "cheapest_parallel",
    "costs_to_new",
    "costs_within",
    "facility_entries",
    "first_at_same_place",
    "kth_nearest_cost",
    "nearest",
    "nearest_costs",
    "nearest_what_if",
    "new_node_costs",
    "snap_points",
    "split_graph",
    "stranded_points",
    "weight_within",
]

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


#: Distances to two segments closer than this are a tie (e.g. a point nearest to a
#: node shared by several segments), metres.
TIE_M = 1e-9


def _segment_rank(
    network: StreetNetwork, segment: IntArray, a: FloatArray, b: FloatArray
) -> IntArray:
    """Rank of each segment by what it is, not where it is listed.

    The key: both end points (the lower first), the directions it may be
    travelled in (seen from the lower end) and its highway value. Segments
    with equal keys are interchangeable for routing.
    """
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    lo = np.where(swap[:, None], b, a)
    hi = np.where(swap[:, None], a, b)
    fwd, bwd = network.seg_forward[segment], network.seg_backward[segment]
    up, down = np.where(swap, bwd, fwd), np.where(swap, fwd, bwd)
    _, highway = np.unique(network.seg_highway[segment].astype(str), return_inverse=True)
    order = np.lexsort((highway, down, up, hi[:, 1], hi[:, 0], lo[:, 1], lo[:, 0]))
    rank = np.empty(segment.size, dtype=np.int64)
    rank[order] = np.arange(segment.size)
    return rank


class SegmentIndex:
    """A spatial index of a network's segments, built once and used for many snaps.

    Exact nearest-segment search in two steps. Points are sampled along every
    segment (at least one per segment, at most ``spacing`` apart, each covering
    the stretch within ``half`` of it) and put in a KD-tree. For a query point,
    the segments of its *k* nearest samples are candidates, and the nearest
    candidate at distance ``d`` is *proven* nearest when the *k*-th sample is
    farther than ``d + half``: any segment at most ``d`` away has a sample
    within ``d + half``, so it was among the candidates. Unproven points are
    retried with more samples, then settled by a shapely STRtree on the segment
    geometries. Ties go to the segment first in an order of the segments'
    geometry, directions and highway value (not their index), so results do
    not depend on the order of points or ways.

    Parameters
    ----------
    network
        The mode's network.
    segments
        Which segments points may join; default: the main component's.
    """

    #: Candidate counts tried before the STRtree fallback.
    K_STEPS = (8, 32)
    #: Points handled at once (bounds the ``(n, k)`` work arrays).
    BLOCK = 65_536

    def __init__(self, network: StreetNetwork, segments: BoolArray | None = None) -> None:
        self.segment = np.flatnonzero(network.seg_main if segments is None else segments)
        self.a = network.node_xy[network.seg_u[self.segment]]
        self.b = network.node_xy[network.seg_v[self.segment]]
        length = np.hypot(*(self.b - self.a).T)
        spacing = max(float(np.percentile(length, 75)), 1.0) if length.size else 1.0
        pieces = np.maximum(1, np.ceil(length / spacing)).astype(np.int64)
        self.sample_segment = np.repeat(np.arange(length.size), pieces)
        k = np.arange(self.sample_segment.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        t = (k + 0.5) / np.repeat(pieces, pieces)
        a, b = self.a[self.sample_segment], self.b[self.sample_segment]
        self.half = float((length / pieces).max() / 2) if length.size else 0.0
        samples = a + (b - a) * t[:, None]
        # an unbalanced tree builds several times faster and queries about as fast
        self.kdtree = (
            cKDTree(samples, balanced_tree=False, compact_nodes=False) if length.size else None
        )
        self._strtree: Any = None
        self.rank = _segment_rank(network, self.segment, self.a, self.b)

    def _candidates(self, xy: FloatArray, local: IntArray) -> tuple[FloatArray, FloatArray]:
        """Distance and fraction from each point to each of its candidate segments."""
        a, b = self.a[local], self.b[local]
        ab = b - a
        den = (ab * ab).sum(axis=-1)
        t = np.divide(
            ((xy[:, None, :] - a) * ab).sum(axis=-1), den, out=np.zeros(den.shape), where=den > 0
        )
        t = np.clip(t, 0.0, 1.0)
        d = np.hypot(*np.moveaxis(xy[:, None, :] - (a + ab * t[..., None]), -1, 0))
        return d, t

    def _strtree_snap(self, xy: FloatArray) -> tuple[IntArray, FloatArray, FloatArray]:
        """Nearest segment by the STRtree (no distance limit), for unproven points."""
        if self._strtree is None:
            self._lines = shapely.linestrings(np.stack([self.a, self.b], axis=1))
            self._strtree = shapely.STRtree(self._lines)
        points = shapely.points(xy)
        (pi, _), dn = self._strtree.query_nearest(points, return_distance=True, all_matches=True)
        nearest_m = np.full(xy.shape[0], np.inf)
        np.minimum.at(nearest_m, pi, dn)
        # every segment within a nanometre of the nearest, so ties go to the lowest rank
        pi, ti = self._strtree.query(points, predicate="dwithin", distance=nearest_m + 2 * TIE_M)
        d, t = self._candidates(xy[pi][:, None, :].reshape(-1, 2), ti[:, None])
        return self._pick(pi, ti, d[:, 0], t[:, 0], xy.shape[0])

    def _pick(
        self, row: IntArray, local: IntArray, d: FloatArray, t: FloatArray, n: int
    ) -> tuple[IntArray, FloatArray, FloatArray]:
        """Per row, the nearest candidate; ties (within a nanometre) to the lowest rank."""
        out_local = np.full(n, -1, dtype=np.int64)
        out_d = np.full(n, np.inf)
        out_t = np.zeros(n)
        if row.size == 0:
            return out_local, out_d, out_t
        dmin = np.full(n, np.inf)
        np.minimum.at(dmin, row, d)
        tied = d <= dmin[row] + TIE_M
        row, local, d, t = row[tied], local[tied], d[tied], t[tied]
        order = np.lexsort((self.rank[local], row))
        row, local, d, t = row[order], local[order], d[order], t[order]
        first = np.r_[True, row[1:] != row[:-1]]
        out_local[row[first]] = local[first]
        out_d[row[first]] = d[first]
        out_t[row[first]] = t[first]
        return out_local, out_d, out_t

    def snap(self, xy: FloatArray, limit_m: float) -> Snaps:
        """Snap points to the nearest point on the nearest indexed segment.

        Parameters
        ----------
        xy
            ``(n, 2)`` projected coordinates in the network's CRS, metres.
        limit_m
            Snapping limit: points farther from every indexed segment are off-network.

        Returns
        -------
        Snaps
            One entry per input point, in input order.
        """
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        n = int(xy.shape[0])
        local = np.full(n, -1, dtype=np.int64)
        dist = np.full(n, np.inf)
        frac = np.zeros(n)
        if n and self.kdtree is not None:
            for start in range(0, n, self.BLOCK):
                block = np.arange(start, min(start + self.BLOCK, n))
                todo = block
                for k in self.K_STEPS:
                    k = min(k, self.kdtree.n)
                    sd, si = self.kdtree.query(xy[todo], k=k)
                    sd, si = sd.reshape(len(todo), k), si.reshape(len(todo), k)
                    cand = self.sample_segment[si]
                    d, t = self._candidates(xy[todo], cand)
                    rows = np.repeat(np.arange(len(todo)), k)
                    best, bd, bt = self._pick(rows, cand.ravel(), d.ravel(), t.ravel(), len(todo))
                    proven = (k == self.kdtree.n) | (sd[:, -1] > bd + self.half)
                    done = todo[proven]
                    local[done], dist[done], frac[done] = best[proven], bd[proven], bt[proven]
                    todo = todo[~proven]
                    if todo.size == 0:
                        break
                if todo.size:
                    best, bd, bt = self._strtree_snap(xy[todo])
                    local[todo], dist[todo], frac[todo] = best, bd, bt
        on = (local >= 0) & (dist <= limit_m)
        if n and self.segment.size:
            segment = np.where(on, self.segment[np.maximum(local, 0)], -1)
        else:  # no points, or no segment to join: everyone is off-network
            segment = np.full(n, -1, dtype=np.int64)
            on = np.zeros(n, dtype=bool)
        return Snaps(
            np.asarray(segment, dtype=np.int64),
            np.where(on, frac, 0.0),
            np.where(on, dist, np.inf),
        )


def snap_points(
    network: StreetNetwork, xy: FloatArray, limit_m: float, segments: BoolArray | None = None
) -> Snaps:
    """Snap points to the nearest point on the nearest allowed segment.

    Builds a :class:`SegmentIndex` and snaps; build the index yourself to snap
    several sets of points against one network.

    Parameters
    ----------
    network
        The mode's network.
    xy
        ``(n, 2)`` projected coordinates in ``network.crs``, metres.
    limit_m
        Snapping limit: points farther from every allowed segment are off-network.
    segments
        Which segments points may join; default: the main component's.

    Returns
    -------
    Snaps
        One entry per input point, in input order.
    """
    return SegmentIndex(network, segments).snap(np.asarray(xy, dtype=float), limit_m)


def stranded_points(
    network: StreetNetwork,
    xy: FloatArray,
    limit_m: float,
    snaps: Snaps,
    segments: BoolArray | None = None,
) -> BoolArray:
    """Which off-network points lie within the limit of a street cut off from the network.

    Such points are *stranded*: a street is near, but it belongs to a piece of
    the network (an island, a gated estate, a one-way trap) not joined to the
    main component. The rest of the off-network points are simply far from
    every street.

    Parameters
    ----------
    network, xy, limit_m, segments
        As for :func:`snap_points`.
    snaps
        The points' snaps.

    Returns
    -------
    ndarray of bool
        One entry per point.
    """
    allowed = network.seg_main if segments is None else segments
    other = np.flatnonzero(~allowed)
    off = np.flatnonzero(~snaps.on_network)
    out = np.zeros(snaps.segment.size, dtype=bool)
    if other.size == 0 or off.size == 0:
        return out
    lines = shapely.linestrings(
        np.stack([network.node_xy[network.seg_u[other]], network.node_xy[network.seg_v[other]]], 1)
    )
    near = shapely.STRtree(lines).query(
        shapely.points(xy[off]), predicate="dwithin", distance=limit_m
    )
    out[off[np.unique(near[0])]] = True
    return out


@dataclass(frozen=True, eq=False)
class Segments:
    """A mode's street segments with a cost each: what a reach graph is built from.

    Attributes
    ----------
    node_xy
        ``(n_nodes, 2)`` node coordinates, metres.
    u, v
        End nodes of each segment.
    cost
        Cost of each segment (seconds at a speed, or metres).
    forward, backward
        Whether the segment may be travelled from ``u`` to ``v`` / ``v`` to ``u``.
    length_m
        Segment lengths, metres (for the one-way tie, METHOD.md "One-way streets").
    """

    node_xy: FloatArray
    u: IntArray
    v: IntArray
    cost: FloatArray
    forward: BoolArray
    backward: BoolArray
    length_m: FloatArray

    @classmethod
    def of(cls, network: StreetNetwork, cost: FloatArray | None = None) -> Segments:
        """A network's segments; ``cost`` defaults to their length in metres."""
        return cls(
            np.asarray(network.node_xy, dtype=float),
            np.asarray(network.seg_u, dtype=np.int64),
            np.asarray(network.seg_v, dtype=np.int64),
            np.asarray(network.seg_length_m if cost is None else cost, dtype=float),
            np.asarray(network.seg_forward, dtype=bool),
            np.asarray(network.seg_backward, dtype=bool),
            np.asarray(network.seg_length_m, dtype=float),
        )

    @classmethod
    def from_arrays(
        cls,
        node_xy: FloatArray,
        u: IntArray,
        v: IntArray,
        cost: FloatArray | None = None,
        one_way: BoolArray | None = None,
    ) -> Segments:
        """Straight segments between nodes; cost defaults to the length; ``one_way``: ``u -> v`` only.

        Examples
        --------
        >>> seg = Segments.from_arrays(np.array([[0.0, 0], [100, 0]]), np.array([0]), np.array([1]))
        >>> seg.length_m, seg.backward
        (array([100.]), array([ True]))
        """
        xy = np.asarray(node_xy, dtype=float)
        u, v = np.asarray(u, dtype=np.int64), np.asarray(v, dtype=np.int64)
        length = np.hypot(*(xy[v] - xy[u]).T) if u.size else np.zeros(0)
        one = np.zeros(u.size, bool) if one_way is None else np.asarray(one_way, bool)
        return cls(
            xy,
            u,
            v,
            length if cost is None else np.asarray(cost, dtype=float),
            np.ones(u.size, dtype=bool),
            ~one,
            length,
        )

    @property
    def n_nodes(self) -> int:
        """Number of network nodes."""
        return int(self.node_xy.shape[0])

    @property
    def one_way(self) -> BoolArray:
        """Whether each segment may be travelled in one direction only."""
        return np.asarray(self.forward != self.backward)

    @cached_property
    def one_way_at(self) -> dict[int, list[tuple[int, float]]]:
        """One-way segments at each node, with the node's position on them (0 at ``u``, 1 at ``v``)."""
        out: dict[int, list[tuple[int, float]]] = {}
        for t in np.flatnonzero(self.one_way):
            out.setdefault(int(self.u[t]), []).append((int(t), 0.0))
            out.setdefault(int(self.v[t]), []).append((int(t), 1.0))
        return out


@dataclass(frozen=True)
class Joined:
    """Points joined to a network: their snaps and the cost of their straight legs.

    Attributes
    ----------
    snaps
        Where the points join the network.
    leg
        Cost of each point's straight leg to its snap, in the unit of the
        segments' cost (``inf`` or anything for off-network points: ignored).
    """

    snaps: Snaps
    leg: FloatArray

    @classmethod
    def at_speed(cls, snaps: Snaps, speed_ms: float | None = None) -> Joined:
        """Legs in seconds at ``speed_ms``, or in metres when ``speed_ms`` is None."""
        return cls(snaps, snaps.access_m if speed_ms is None else snaps.access_m / speed_ms)

    @classmethod
    def none(cls) -> Joined:
        """No points."""
        empty = Snaps(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        return cls(empty, np.zeros(0))

    def __len__(self) -> int:
        return int(self.snaps.segment.size)


@dataclass(frozen=True)
class SplitGraph:
    """The network's directed edges with snap points inserted as nodes.

    Attributes
    ----------
    tail, head, cost
        Directed edges ``tail -> head`` (parallel edges reduced to the cheapest).
    point_node
        Node of each snapped point, ``-1`` for off-network points. Points at the
        same place on the same segment share one node; points at a segment end
        use that end's node.
    n_nodes
        Network nodes plus snap nodes.
    snap_segment, snap_fraction
        Segment and position of each snap node (node ``n_network + k``), sorted
        by segment, then position.
    """

    tail: IntArray
    head: IntArray
    cost: FloatArray
    point_node: IntArray
    n_nodes: int
    snap_segment: IntArray
    snap_fraction: FloatArray


def split_graph(
    segments: Segments, snap_segment: IntArray, snap_fraction: FloatArray
) -> SplitGraph:
    """Insert snap points into their segments.

    Parameters
    ----------
    segments
        The network's segments.
    snap_segment, snap_fraction
        Snapped points (segment ``-1`` = off-network, ignored).

    Returns
    -------
    SplitGraph
        Directed edges and the node of each point.
    """
    seg_u, seg_v, seg_cost = segments.u, segments.v, segments.cost
    n_nodes = segments.n_nodes
    point_node = np.full(snap_segment.size, -1, dtype=np.int64)
    on = snap_segment >= 0
    at_u = on & (snap_fraction <= 0.0)
    at_v = on & (snap_fraction >= 1.0)
    point_node[at_u] = seg_u[snap_segment[at_u]]
    point_node[at_v] = seg_v[snap_segment[at_v]]
    inner = np.flatnonzero(on & ~at_u & ~at_v)
    # unique interior snap places, sorted by (segment, fraction)
    keys = np.stack([snap_segment[inner].astype(float), snap_fraction[inner]], axis=1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    k = uniq.shape[0]
    point_node[inner] = n_nodes + np.asarray(inv).ravel()
    useg = uniq[:, 0].astype(np.int64)
    ufrac = uniq[:, 1]
    snap_ids = n_nodes + np.arange(k, dtype=np.int64)
    first = np.r_[True, useg[1:] != useg[:-1]] if k else np.zeros(0, bool)
    last = np.r_[useg[:-1] != useg[1:], True] if k else np.zeros(0, bool)
    prev_node = np.where(first, seg_u[useg], np.roll(snap_ids, 1))
    prev_frac = np.where(first, 0.0, np.roll(ufrac, 1))
    # chain pieces: prev -> snap, and last snap -> v
    a = np.concatenate([prev_node, snap_ids[last]])
    b = np.concatenate([snap_ids, seg_v[useg[last]]])
    piece_seg = np.concatenate([useg, useg[last]])
    piece_cost = np.concatenate([ufrac - prev_frac, 1.0 - ufrac[last]]) * seg_cost[piece_seg]
    keep = np.ones(seg_u.size, dtype=bool)
    keep[useg] = False
    a = np.concatenate([seg_u[keep], a])
    b = np.concatenate([seg_v[keep], b])
    cost = np.concatenate([seg_cost[keep], piece_cost])
    fwd = np.concatenate([segments.forward[keep], segments.forward[piece_seg]])
    bwd = np.concatenate([segments.backward[keep], segments.backward[piece_seg]])
    tail = np.concatenate([a[fwd], b[bwd]])
    head = np.concatenate([b[fwd], a[bwd]])
    cost = np.concatenate([cost[fwd], cost[bwd]])
    tail, head, cost = cheapest_parallel(tail, head, cost)
    return SplitGraph(tail, head, cost, point_node, n_nodes + k, useg, ufrac)


def cheapest_parallel(
    tail: IntArray, head: IntArray, cost: FloatArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """Reduce parallel directed edges to the cheapest one.

    Building a scipy sparse matrix from repeated ``(i, j)`` pairs *sums* them;
    this keeps the minimum instead. Edges come out sorted by ``(tail, head)``.

    Examples
    --------
    >>> import numpy as np
    >>> cheapest_parallel(np.array([1, 0, 1]), np.array([2, 1, 2]), np.array([5.0, 1.0, 3.0]))
    (array([0, 1]), array([1, 2]), array([1., 3.]))
    """
    tail = np.asarray(tail, dtype=np.int64)
    head = np.asarray(head, dtype=np.int64)
    cost = np.asarray(cost, dtype=float)
    if tail.size == 0:
        return tail, head, cost
    key = tail * (int(head.max()) + 1) + head
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    first = order[starts]
    return tail[first], head[first], np.minimum.reduceat(cost[order], starts)


@dataclass(frozen=True)
class ReachGraph:
    """A mode's network with demand points and facilities joined, ready for passes.

    Node ids: network nodes, then snap nodes, then one node per on-network
    facility (joined to its snap by its egress leg).

    Attributes
    ----------
    segments
        The segments it was built from.
    split
        The street edges with snap nodes (forward direction).
    reversed_costs
        CSR matrix of the reversed graph: entry ``(b, a)`` is the cost of ``a -> b``.
    node_xy
        Coordinates of network and snap nodes (facility nodes are not included).
    demand_node, demand_access
        Snap node (``-1`` off-network) and access cost of each demand point.
    facility_node
        Own node of each facility, ``-1`` when off-network.
    oneway_tie_m
        The one-way tie used (:func:`facility_entries`).
    """

    segments: Segments
    split: SplitGraph
    reversed_costs: csr_matrix
    node_xy: FloatArray
    demand_node: IntArray
    demand_access: FloatArray
    facility_node: IntArray
    oneway_tie_m: float

    @property
    def n_demand(self) -> int:
        """Number of demand points."""
        return int(self.demand_node.size)

    def places(self, segment: int) -> tuple[FloatArray, IntArray]:
        """Positions (0 at ``u`` .. 1 at ``v``) and nodes of the places on a segment, in order."""
        sp = self.split
        lo, hi = np.searchsorted(sp.snap_segment, [segment, segment + 1])
        seg = self.segments
        frac = np.r_[0.0, sp.snap_fraction[lo:hi], 1.0]
        nodes = np.r_[seg.u[segment], seg.n_nodes + np.arange(lo, hi), seg.v[segment]]
        return frac, nodes.astype(np.int64)


def _ties(rg: ReachGraph, segment: int, x: float) -> list[tuple[int, float]]:
    """Places a facility at position ``x`` of a one-way segment lies behind by less than the tie.

    Each comes with the cost of riding back from it to ``x`` (METHOD.md, "One-way streets").
    """
    seg = rg.segments
    if not seg.one_way[segment] or rg.oneway_tie_m <= 0 or seg.length_m[segment] <= 0:
        return []
    frac, nodes = rg.places(segment)
    reach = rg.oneway_tie_m / seg.length_m[segment]
    ahead = frac - x if seg.forward[segment] else x - frac
    near = (ahead > 0) & (ahead < reach)
    return [
        (int(n), float(a * seg.cost[segment]))
        for n, a in zip(nodes[near], ahead[near], strict=True)
    ]


def facility_entries(
    rg: ReachGraph, facilities: Joined, own: bool = True
) -> tuple[IntArray, IntArray, FloatArray]:
    """The nodes from which each facility is entered, with the cost from there to it.

    A facility is entered from its snap place through its egress leg. With
    ``own`` (for a facility not in the graph), its place is found among the
    graph's places: the node there, or the nodes before and after it on its
    segment in the directions the segment allows, with the cost of the piece
    between. On a one-way segment, places the facility lies behind by less
    than the graph's ``oneway_tie_m`` enter it too, at the cost of riding
    back (METHOD.md, "One-way streets"); a facility at a node is behind the
    places near that node on every one-way segment leaving it.

    Parameters
    ----------
    rg
        The graph.
    facilities
        Facilities with their egress legs.
    own
        Whether to include the entries through the facility's own place.

    Returns
    -------
    facility, node, cost
        One row per entry.
    """
    seg = rg.segments
    rows: list[tuple[int, int, float]] = []
    for k in np.flatnonzero(facilities.snaps.segment >= 0):
        s, x = int(facilities.snaps.segment[k]), float(facilities.snaps.fraction[k])
        egress = float(facilities.leg[k])
        if x <= 0.0 or x >= 1.0:
            node = int(seg.u[s] if x <= 0.0 else seg.v[s])
            entries = [(node, 0.0)] if own else []
            for t, pos in seg.one_way_at.get(node, []):
                entries += _ties(rg, t, pos)
        else:
            entries = _own_entries(rg, s, x) if own else []
            entries += _ties(rg, s, x)
        rows += [(int(k), n, c + egress) for n, c in entries]
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    k_, n_, c_ = zip(*rows, strict=True)
    return np.array(k_, np.int64), np.array(n_, np.int64), np.array(c_, float)


def _own_entries(rg: ReachGraph, s: int, x: float) -> list[tuple[int, float]]:
    """The node at position ``x`` of segment ``s``, or the nodes around it, with piece costs."""
    seg = rg.segments
    frac, nodes = rg.places(s)
    i = int(np.searchsorted(frac, x))
    if frac[i] == x:
        return [(int(nodes[i]), 0.0)]
    out = []
    if seg.forward[s]:
        out.append((int(nodes[i - 1]), float((x - frac[i - 1]) * seg.cost[s])))
    if seg.backward[s]:
        out.append((int(nodes[i]), float((frac[i] - x) * seg.cost[s])))
    return out


def build_reach_graph(
    segments: Segments,
    demand: Joined,
    facilities: Joined,
    oneway_tie_m: float = ONEWAY_TIE_M,
) -> ReachGraph:
    """Join demand points and facilities to the network.

    Parameters
    ----------
    segments
        The network's segments with their cost (e.g. seconds at the mode's speed, or metres).
    demand, facilities
        Demand points and facilities with the cost of their straight legs, in
        the unit of the segments' cost (off-network points are ignored).
    oneway_tie_m
        The one-way tie, metres (:func:`facility_entries`); 0: none.

    Returns
    -------
    ReachGraph
    """
    nd = len(demand)
    split = split_graph(
        segments,
        np.concatenate([demand.snaps.segment, facilities.snaps.segment]),
        np.concatenate([demand.snaps.fraction, facilities.snaps.fraction]),
    )
    dnode, fsnap = split.point_node[:nd], split.point_node[nd:]
    fon = np.flatnonzero(fsnap >= 0)
    facility_node = np.full(fsnap.size, -1, dtype=np.int64)
    facility_node[fon] = split.n_nodes + np.arange(fon.size)
    n_total = split.n_nodes + fon.size
    f = split.snap_fraction[:, None]
    xy = segments.node_xy
    snap_xy = xy[segments.u[split.snap_segment]] * (1 - f) + xy[segments.v[split.snap_segment]] * f
    access = np.where(dnode >= 0, np.asarray(demand.leg, dtype=float), np.inf)
    shell = ReachGraph(
        segments,
        split,
        csr_matrix((n_total, n_total)),
        np.concatenate([xy, snap_xy]),
        dnode,
        access,
        facility_node,
        float(oneway_tie_m),
    )
    tk, tn, tc = facility_entries(shell, facilities, own=False)
    tie_rows, tie_cols, tie_cost = cheapest_parallel(facility_node[tk], tn, tc)
    # reversed graph: edge a -> b stored at (b, a); facility snap -> facility node; ties
    egress = np.asarray(facilities.leg, dtype=float)
    rows = np.concatenate([split.head, facility_node[fon], tie_rows])
    cols = np.concatenate([split.tail, fsnap[fon], tie_cols])
    data = np.concatenate([split.cost, egress[fon], tie_cost])
    graph = csr_matrix((data, (rows, cols)), shape=(n_total, n_total))
    return replace(shell, reversed_costs=graph)


@dataclass(frozen=True)
class Nearest:
    """Nearest facility of each group, for every demand point.

    Attributes
    ----------
    cost
        ``(n_demand, n_groups)`` cost to the nearest facility; ``inf`` when
        unreachable, when the demand point is off-network, or when the group
        has no facility on the network.
    facility
        ``(n_demand, n_groups)`` index of that facility, ``-1`` when none.
    node_cost
        ``(n_groups, n_nodes)`` cost from every network and snap node to the
        nearest facility of each group (for service areas).
    """

    cost: FloatArray
    facility: IntArray
    node_cost: FloatArray


def nearest(
    rg: ReachGraph,
    facility_group: IntArray,
    n_groups: int,
    groups: IntArray | None = None,
    active: BoolArray | None = None,
) -> Nearest:
    """One multi-source Dijkstra pass per group: cost to, and index of, the nearest facility.

    Parameters
    ----------
    rg
        The joined graph.
    facility_group
        Group (category) index ``0 .. n_groups-1`` of each facility.
    n_groups
        Number of groups.
    groups
        Only these groups are computed (the others stay unreachable); default: all.
    active
        Which facilities count (e.g. not the removed ones); default: all.

    Returns
    -------
    Nearest
    """
    nd = rg.n_demand
    n_street = rg.node_xy.shape[0]
    cost = np.full((nd, n_groups), np.inf)
    which = np.full((nd, n_groups), -1, dtype=np.int64)
    node_cost = np.full((n_groups, n_street), np.inf)
    don = np.flatnonzero(rg.demand_node >= 0)
    dn = rg.demand_node[don]
    # facility nodes are numbered in facility order after the street nodes
    on_fac = np.flatnonzero(rg.facility_node >= 0)
    first_node = rg.split.n_nodes
    use = rg.facility_node >= 0 if active is None else (rg.facility_node >= 0) & active
    for g in range(n_groups) if groups is None else groups:
        fac = np.flatnonzero((facility_group == g) & use)
        if fac.size == 0:
            continue
        dist, _, source = dijkstra(
            rg.reversed_costs,
            directed=True,
            indices=rg.facility_node[fac],
            min_only=True,
            return_predecessors=True,
        )
        node_cost[g] = dist[:n_street]
        cost[don, g] = dist[dn] + rg.demand_access[don]
        src = source[dn]
        which[don, g] = np.where(src >= 0, on_fac[np.clip(src - first_node, 0, None)], -1)
    which[~np.isfinite(cost)] = -1
    return Nearest(cost, which, node_cost)


def nearest_costs(
    segments: Segments,
    demand: Joined,
    facilities: Joined,
    facility_group: IntArray,
    n_groups: int,
    oneway_tie_m: float = ONEWAY_TIE_M,
) -> FloatArray:
    """Cost from every demand point to the nearest facility of every group.

    A shortcut for :func:`build_reach_graph` then :func:`nearest` when only the
    costs matter.

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
    >>> seg = Segments.from_arrays(np.array([[0.0, 0], [100, 0]]), np.array([0]), np.array([1]))
    >>> d = Joined(Snaps(np.array([0]), np.array([0.0]), np.array([0.0])), np.array([0.0]))
    >>> f = Joined(Snaps(np.array([0]), np.array([0.4]), np.array([5.0])), np.array([5.0]))
    >>> nearest_costs(seg, d, f, np.array([0]), 1)
    array([[45.]])
    """
    rg = build_reach_graph(segments, demand, facilities, oneway_tie_m)
    return nearest(rg, np.asarray(facility_group, dtype=np.int64), n_groups).cost


def costs_within(
    rg: ReachGraph,
    facilities: IntArray,
    limit: float,
    block_bytes: int = 1 << 26,
    progress: Callable[[float], None] | None = None,
) -> csr_matrix:
    """Cost from every demand point to each given facility, where it is within ``limit``.

    Bounded single-source Dijkstra passes (scipy's ``limit``), run in blocks of
    sources so that the dense block of costs stays under ``block_bytes``.

    Parameters
    ----------
    rg
        The joined graph.
    facilities
        Facility indices (off-network ones get empty rows).
    limit
        Largest cost kept (same unit as the graph), inclusive up to the
        indicators' comparison tolerance.
    block_bytes
        Memory allowed for one block of dense costs.
    progress
        Called with the share of facilities done after each block.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(len(facilities), n_demand)``; stored entries are the costs within
        ``limit`` (a stored zero is a demand point at the facility).

    Examples
    --------
    >>> import numpy as np
    >>> seg = Segments.from_arrays(np.array([[0.0, 0], [100, 0]]), np.array([0]), np.array([1]))
    >>> d = Joined(Snaps(np.array([0, 0]), np.array([0.0, 1.0]), np.array([0.0, 0.0])), np.zeros(2))
    >>> f = Joined(Snaps(np.array([0]), np.array([0.3]), np.array([0.0])), np.zeros(1))
    >>> rg = build_reach_graph(seg, d, f)
    >>> costs_within(rg, np.array([0]), 50.0).toarray()
    array([[30.,  0.]])
    """
    facilities = np.asarray(facilities, dtype=np.int64)
    on = np.flatnonzero(rg.facility_node[facilities] >= 0)
    nodes = rg.facility_node[facilities[on]]
    return _demand_within(
        rg, on, nodes, np.zeros(on.size), facilities.size, limit, block_bytes, progress
    )


def costs_to_new(
    rg: ReachGraph, facilities: Joined, limit: float, block_bytes: int = 1 << 26
) -> csr_matrix:
    """Cost from every demand point to facilities *not* in the graph, within ``limit``.

    Each new facility is entered from the graph's nodes around its snap place
    (:func:`facility_entries`); bounded passes from those nodes, each offset by
    its entry cost, give what a graph rebuilt with the facility would, so a
    what-if need not rebuild the graph. A facility at the same place as an
    existing one costs the same.

    Parameters
    ----------
    rg
        The joined graph.
    facilities
        The new facilities with their egress legs (snapped with the graph's index).
    limit, block_bytes
        As for :func:`costs_within`.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(len(facilities), n_demand)`` costs within ``limit``.

    Examples
    --------
    A facility at 30 m on a 100 m street, added to a graph built without it:

    >>> import numpy as np
    >>> seg = Segments.from_arrays(np.array([[0.0, 0], [100, 0]]), np.array([0]), np.array([1]))
    >>> d = Joined(Snaps(np.array([0, 0]), np.array([0.0, 1.0]), np.array([0.0, 0.0])), np.zeros(2))
    >>> rg = build_reach_graph(seg, d, Joined.none())
    >>> f = Joined(Snaps(np.array([0]), np.array([0.3]), np.array([2.0])), np.array([2.0]))
    >>> costs_to_new(rg, f, 100.0).toarray()
    array([[32., 72.]])
    """
    k, node, cost = facility_entries(rg, facilities)
    return _demand_within(rg, k, node, cost, len(facilities), limit, block_bytes)


def kth_nearest_cost(within: csr_matrix, k: int = 2) -> FloatArray:
    """Per demand point, the ``k``-th smallest cost among the facilities within reach.

    Parameters
    ----------
    within
        ``(n_facilities, n_demand)`` costs within a limit (:func:`costs_within`,
        :func:`costs_to_new`; a stored zero is a demand point at the facility).
    k
        1: the nearest; 2: the second nearest (redundancy).

    Returns
    -------
    ndarray
        ``(n_demand,)``; ``inf`` where fewer than ``k`` facilities are within
        the limit. Two facilities at the same place count as two.

    Examples
    --------
    >>> from scipy.sparse import csr_matrix
    >>> # facility 0 reaches demand 0 in 5, demand 1 in 0 (standing at it), demand 2 in 3
    >>> m = csr_matrix(([5.0, 0.0, 3.0, 2.0, 7.0], ([0, 0, 0, 1, 2], [0, 1, 2, 0, 0])), (3, 3))
    >>> kth_nearest_cost(m, 2), kth_nearest_cost(m, 1)
    (array([ 5., inf, inf]), array([2., 0., 3.]))
    """
    coo = within.tocoo()
    out = np.full(within.shape[1], np.inf)
    order = np.lexsort((coo.data, coo.col))
    col, data = coo.col[order], coo.data[order]
    first = np.searchsorted(col, np.arange(within.shape[1]), side="left")
    count = np.bincount(col, minlength=within.shape[1])
    has = count >= k
    out[has] = data[first[has] + k - 1]
    return out


def _within_blocks(
    rg: ReachGraph,
    owner: IntArray,
    source: IntArray,
    offset: FloatArray,
    limit: float,
    block_bytes: int,
    progress: Callable[[float], None] | None = None,
) -> Iterator[tuple[IntArray, IntArray, FloatArray]]:
    """Blocks of ``(row, demand point, offset + cost)`` within ``limit``, from bounded
    passes out of ``source`` (each in its local window of the graph)."""
    n_nodes = rg.reversed_costs.shape[0]
    # demand points grouped by their node: a pass touches only the nodes it reached
    don = np.flatnonzero(rg.demand_node >= 0)
    by_node = don[np.argsort(rg.demand_node[don], kind="stable")]
    starts = np.searchsorted(np.sort(rg.demand_node[don]), np.arange(n_nodes + 1))
    done = 0
    for rows, window in _local_windows(rg, source, limit, block_bytes):
        # a pass from a source stays within its window: the subgraph gives the same costs
        sub = rg.reversed_costs if window is None else rg.reversed_costs[window][:, window]
        local = source[rows] if window is None else np.searchsorted(window, source[rows])
        dist = np.atleast_2d(dijkstra(sub, directed=True, indices=local, limit=limit + TOLERANCE))
        r, node = np.nonzero(dist <= limit + TOLERANCE)
        d_rn = dist[r, node]
        node = node if window is None else window[node]
        count = starts[node + 1] - starts[node]
        # the demand points of each reached node, in one flat run per (row, node)
        first = np.repeat(starts[node] - np.cumsum(count) + count, count)
        j = by_node[first + np.arange(int(count.sum()))]
        c = np.repeat(d_rn + offset[rows][r], count) + rg.demand_access[j]
        r = np.repeat(r, count)
        ok = c <= limit + TOLERANCE
        yield owner[rows][r[ok]], j[ok], c[ok]
        done += rows.size
        if progress is not None:
            progress(min(1.0, done / max(source.size, 1)))


def _demand_within(
    rg: ReachGraph,
    owner: IntArray,
    source: IntArray,
    offset: FloatArray,
    n_rows: int,
    limit: float,
    block_bytes: int,
    progress: Callable[[float], None] | None = None,
) -> csr_matrix:
    """Per row, the least of ``offset + cost(demand -> source)`` over the row's sources, within ``limit``."""
    parts = list(_within_blocks(rg, owner, source, offset, limit, block_bytes, progress))
    if parts:
        r_all = np.concatenate([p[0] for p in parts])
        c_all = np.concatenate([p[1] for p in parts])
        v_all = np.concatenate([p[2] for p in parts])
    else:
        r_all = c_all = np.zeros(0, dtype=np.int64)
        v_all = np.zeros(0)
    # a row with several sources keeps its least cost per demand point
    r_all, c_all, v_all = cheapest_parallel(r_all, c_all, v_all)
    # csr_matrix keeps explicit zeros (a demand point at the facility)
    return csr_matrix((v_all, (r_all, c_all)), shape=(n_rows, rg.n_demand))


def weight_within(
    rg: ReachGraph,
    facilities: IntArray,
    limit: float,
    weights: FloatArray,
    block_bytes: int = 1 << 26,
    progress: Callable[[float], None] | None = None,
) -> FloatArray:
    """Per facility, the summed ``weights`` of the demand points within ``limit`` of it.

    What ``costs_within`` gives summed by row, without holding every (facility, point)
    pair: a city's catchments hold tens of millions.

    Examples
    --------
    >>> seg = Segments.from_arrays(np.array([[0.0, 0], [100, 0]]), np.array([0]), np.array([1]))
    >>> d = Joined(Snaps(np.array([0, 0]), np.array([0.0, 1.0]), np.array([0.0, 0.0])), np.zeros(2))
    >>> f = Joined(Snaps(np.array([0]), np.array([0.3]), np.array([0.0])), np.zeros(1))
    >>> rg = build_reach_graph(seg, d, f)  # the points at 30 and 70 from the facility
    >>> weight_within(rg, np.array([0]), 50.0, np.array([5.0, 7.0]))
    array([5.])
    >>> weight_within(rg, np.array([0]), 80.0, np.array([5.0, 7.0]))
    array([12.])
    """
    facilities = np.asarray(facilities, dtype=np.int64)
    on = np.flatnonzero(rg.facility_node[facilities] >= 0)
    nodes = rg.facility_node[facilities[on]]
    out = np.zeros(facilities.size)
    blocks = _within_blocks(rg, on, nodes, np.zeros(on.size), limit, block_bytes, progress)
    for r, j, _ in blocks:  # one source per facility: each (facility, point) once
        out += np.bincount(r, weights=weights[j], minlength=facilities.size)
    return out


def _node_coordinates(rg: ReachGraph) -> FloatArray:
    """Coordinates of every node of the graph: a facility's own node (not in ``node_xy``)
    stands at the first place it is entered from (within the one-way tie of it)."""
    g = rg.reversed_costs
    n_total, n = g.shape[0], rg.node_xy.shape[0]
    xy = np.zeros((n_total, 2))
    xy[:n] = rg.node_xy
    extra = np.arange(n, n_total)
    has = g.indptr[extra + 1] > g.indptr[extra]
    first = g.indices[g.indptr[extra[has]]]
    xy[extra[has]] = rg.node_xy[np.minimum(first, n - 1)]
    return xy


def _reach_radius(rg: ReachGraph, limit: float) -> float:
    """How far (metres, straight) a pass of cost ``limit`` can get: ``limit`` times the
    fastest street edge's speed, plus the one-way tie twice (a facility's entries) and a
    metre (infinite when an edge costs nothing over a distance)."""
    g = rg.reversed_costs.tocoo()
    n = rg.node_xy.shape[0]
    street = (g.row < n) & (g.col < n)
    row, col, cost = g.row[street], g.col[street], g.data[street]
    length = np.hypot(*(rg.node_xy[row] - rg.node_xy[col]).T)
    moving = length > 1e-9
    if (cost[moving] <= 0).any():
        return float("inf")
    speed = float((length[moving] / cost[moving]).max()) if moving.any() else 0.0
    return (limit + TOLERANCE) * speed + 2 * rg.oneway_tie_m + 1.0


def _local_windows(
    rg: ReachGraph, source: IntArray, limit: float, block_bytes: int
) -> Iterator[tuple[IntArray, IntArray | None]]:
    """Blocks of sources (row indices into ``source``) with the nodes their passes can
    reach: the nodes of the square tiles (of the reach radius) around the block's tile
    (sorted), or ``None`` for the whole graph. Sources are grouped by tile, so a city's
    passes each touch their neighbourhood, not the whole network; nodes are bucketed by
    tile once, so finding a window costs its size, not the graph's."""
    n_nodes = rg.reversed_costs.shape[0]
    radius = _reach_radius(rg, limit) if source.size > 1 else float("inf")
    if not np.isfinite(radius) or radius <= 0:
        yield from _blocks(np.arange(source.size), None, n_nodes, block_bytes)
        return
    nodes_xy = _node_coordinates(rg)
    xy = nodes_xy[source]
    origin = xy.min(axis=0) - radius  # tiles start one tile before the first source's
    n_y = int(np.floor((xy[:, 1].max() - origin[1]) / radius)) + 3
    tile = _tile_keys(xy, origin, radius, n_y)
    node_tile = _tile_keys(nodes_xy, origin, radius, n_y)
    by_tile = np.argsort(node_tile, kind="stable")
    sorted_tile = node_tile[by_tile]
    order = np.argsort(tile, kind="stable")
    bounds = np.flatnonzero(np.r_[True, tile[order][1:] != tile[order][:-1], True])
    for lo, hi in itertools.pairwise(bounds):
        key = tile[order[lo]]
        # the 3 x 3 tiles around: three runs of consecutive keys
        firsts = key + np.array([-n_y, 0, n_y]) - 1
        a = np.searchsorted(sorted_tile, firsts)
        b = np.searchsorted(sorted_tile, firsts + 3)
        window = np.sort(np.concatenate([by_tile[i:j] for i, j in zip(a, b, strict=True)]))
        whole = window.size >= 0.5 * n_nodes
        yield from _blocks(order[lo:hi], None if whole else window, n_nodes, block_bytes)


def _tile_keys(xy: FloatArray, origin: FloatArray, size: float, n_y: int) -> IntArray:
    """Key of the square tile of side ``size`` (from ``origin``) holding each point;
    points outside the ``n_y`` rows of tiles get ``-1`` (no window reaches them)."""
    cell = np.floor((xy - origin) / size)
    inside = (cell[:, 0] >= 0) & (cell[:, 1] >= 0) & (cell[:, 1] < n_y)
    key = np.full(len(xy), -1, dtype=np.int64)
    key[inside] = cell[inside, 0].astype(np.int64) * n_y + cell[inside, 1].astype(np.int64)
    return key


def _blocks(
    rows: IntArray, window: IntArray | None, n_nodes: int, block_bytes: int
) -> Iterator[tuple[IntArray, IntArray | None]]:
    """``rows`` cut into blocks whose dense passes over the window fit ``block_bytes``."""
    width = n_nodes if window is None else window.size
    block = max(1, int(block_bytes // (8 * max(width, 1))))
    for k in range(0, rows.size, block):
        yield rows[k : k + block], window


def first_at_same_place(group: IntArray, snaps: Snaps) -> IntArray:
    """For each facility, the first facility (in order) of its group at the same place.

    Facilities at the same point (same snap, same straight leg) tie exactly
    for everyone; the first of them in the layer is the one that serves
    (METHOD.md, "Travel time"), so results do not depend on row order or on
    which pass found them.

    Examples
    --------
    >>> s = Snaps(np.array([3, 3, 3, 4]), np.array([0.5, 0.5, 0.5, 0.5]), np.array([2.0, 2.0, 9.0, 2.0]))
    >>> first_at_same_place(np.array([0, 0, 0, 0]), s)
    array([0, 0, 2, 3])
    """
    cols = (np.asarray(group), snaps.segment, snaps.fraction, snaps.access_m)
    order = np.lexsort(cols[::-1])  # stable: equal places keep their order
    same = np.ones(order.size, dtype=bool)
    for col in cols:
        c = np.asarray(col)[order]
        same[1:] &= c[1:] == c[:-1]
    same[:1] = False
    run = np.cumsum(~same) - 1
    first = order[np.flatnonzero(~same)]
    out = np.empty(order.size, dtype=np.int64)
    out[order] = first[run]
    return out


def new_node_costs(rg: ReachGraph, facilities: Joined, limit: float) -> FloatArray:
    """Cost from every street and snap node to each facility not in the graph, within ``limit``.

    Bounded passes from each facility's entries (:func:`facility_entries`),
    offset by the entry cost; ``inf`` beyond ``limit`` and for off-network
    facilities.

    Returns
    -------
    ndarray
        ``(len(facilities), n_street_nodes)``.
    """
    n_street = rg.node_xy.shape[0]
    out = np.full((len(facilities), n_street), np.inf)
    k, node, cost = facility_entries(rg, facilities)
    if k.size == 0:
        return out
    sources, row = np.unique(node, return_inverse=True)
    dist = np.atleast_2d(
        dijkstra(rg.reversed_costs, directed=True, indices=sources, limit=limit + TOLERANCE)
    )[:, :n_street]
    for e in range(k.size):
        np.minimum(out[k[e]], dist[row[e]] + cost[e], out=out[k[e]])
    out[out > limit + TOLERANCE] = np.inf
    return out


def nearest_what_if(
    rg: ReachGraph,
    base: Nearest,
    facility_group: IntArray,
    keep: BoolArray,
    new: Joined,
    new_group: IntArray,
    n_groups: int,
    limit: float,
) -> tuple[Nearest, FloatArray]:
    """The nearest facility of each group with some of the graph's facilities removed and new ones added.

    Groups that lose a facility get a fresh multi-source pass over the kept
    ones. A new facility can only shorten costs within its reach: one pass
    bounded by ``limit`` from it (:func:`new_node_costs`) and a minimum with
    the costs held is exact for every cost up to ``limit``; beyond it the
    held cost stays (an upper bound).

    Parameters
    ----------
    rg, base
        The graph and its :func:`nearest` result over all its facilities.
    facility_group
        Group of each of the graph's facilities.
    keep
        Which of the graph's facilities stay.
    new, new_group
        The added facilities (snapped with the graph's index) and their groups.
    n_groups
        Number of groups, at least ``base``'s (new groups are appended).
    limit
        The largest cost that matters (the largest threshold in use).

    Returns
    -------
    nearest, new_nodes
        Facility indices count the graph's facilities first, then the new
        ones; ``new_nodes`` as :func:`new_node_costs`.
    """
    nd, g0 = base.cost.shape
    cost = np.full((nd, n_groups), np.inf)
    which = np.full((nd, n_groups), -1, dtype=np.int64)
    node_cost = np.full((n_groups, base.node_cost.shape[1]), np.inf)
    cost[:, :g0], which[:, :g0], node_cost[:g0] = base.cost, base.facility, base.node_cost
    lost = np.unique(facility_group[~keep])
    if lost.size:
        again = nearest(rg, facility_group, g0, groups=lost, active=keep)
        cost[:, lost], which[:, lost] = again.cost[:, lost], again.facility[:, lost]
        node_cost[lost] = again.node_cost[lost]
    new_nodes = new_node_costs(rg, new, limit)
    don = np.flatnonzero(rg.demand_node >= 0)
    nf = rg.facility_node.size
    for j in np.flatnonzero(new.snaps.segment >= 0):
        g = int(new_group[j])
        np.minimum(node_cost[g], new_nodes[j], out=node_cost[g])
        d = new_nodes[j][rg.demand_node[don]] + rg.demand_access[don]
        better = d < cost[don, g]
        cost[don[better], g] = d[better]
        which[don[better], g] = nf + j
    return Nearest(cost, which, node_cost), new_nodes
