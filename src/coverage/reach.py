"""Snapping, shortest travel costs, catchments and service areas.

The numeric core works on arrays (segments, snaps, costs) and knows nothing of
geometry; :class:`SegmentIndex` (whose fallback uses shapely's STRtree),
:func:`stranded_points` and :func:`service_area_polygon` are the only parts
that touch shapely or rasterio.

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
siting) come from bounded single-source passes, in blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

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


#: Default length of a tie run on a one-way segment, metres (METHOD.md, "One-way
#: streets"): points on the segment closer than this reach each other both ways.
ONEWAY_TIE_M = 1.0

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
        Segment and position of each snap node (node ``n_network + k``).
    """

    tail: IntArray
    head: IntArray
    cost: FloatArray
    point_node: IntArray
    n_nodes: int
    snap_segment: IntArray
    snap_fraction: FloatArray


def split_graph(
    n_nodes: int,
    seg_u: IntArray,
    seg_v: IntArray,
    seg_cost: FloatArray,
    seg_forward: BoolArray,
    seg_backward: BoolArray,
    snap_segment: IntArray,
    snap_fraction: FloatArray,
    seg_length_m: FloatArray | None = None,
    oneway_tie_m: float = 0.0,
) -> SplitGraph:
    """Insert snap points into their segments.

    On a one-way segment, the places on it (its ends and its snap points) are
    grouped from ``u`` on into *tie runs*: a run starts at a place and takes
    every following place less than ``oneway_tie_m`` beyond that start. The
    pieces inside a run may be travelled both ways, at their forward cost
    (METHOD.md, "One-way streets"): points that meet at the same spot up to
    float noise reach each other along the street, not around the block.

    Parameters
    ----------
    n_nodes
        Number of network nodes.
    seg_u, seg_v, seg_cost, seg_forward, seg_backward
        Segments: end nodes, cost (seconds or metres) and allowed directions.
    snap_segment, snap_fraction
        Snapped points (segment ``-1`` = off-network, ignored).
    seg_length_m
        Segment lengths, metres, for the tie runs (needed when ``oneway_tie_m > 0``).
    oneway_tie_m
        Length of a tie run, metres; 0: one-way segments are never travelled backwards.

    Returns
    -------
    SplitGraph
        Directed edges and the node of each point.
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
    if oneway_tie_m > 0:
        if seg_length_m is None:
            raise ValueError("split_graph: oneway_tie_m > 0 needs seg_length_m")
        tie = _tie_pieces(useg, ufrac, last, np.asarray(seg_length_m, dtype=float), oneway_tie_m)
        one_way = seg_forward[piece_seg] != seg_backward[piece_seg]
        both = np.concatenate([np.zeros(int(keep.sum()), dtype=bool), tie & one_way])
        fwd, bwd = fwd | both, bwd | both
    tail = np.concatenate([a[fwd], b[bwd]])
    head = np.concatenate([b[fwd], a[bwd]])
    cost = np.concatenate([cost[fwd], cost[bwd]])
    tail, head, cost = cheapest_parallel(tail, head, cost)
    return SplitGraph(tail, head, cost, point_node, n_nodes + k, useg, ufrac)


def _tie_pieces(
    useg: IntArray, ufrac: FloatArray, last: BoolArray, seg_length_m: FloatArray, tie_m: float
) -> BoolArray:
    """Which pieces of :func:`split_graph` lie inside a tie run.

    Pieces are ordered as there: the piece ending at each snap place, then
    each segment's last piece (last place to ``v``). A piece at least
    ``tie_m`` long always ends a run, so runs of shorter pieces shorter than
    ``tie_m`` in all are one run each; longer ones (rare) are split greedily.
    """
    k, n_last = ufrac.size, int(last.sum())
    if k == 0:
        return np.zeros(0, dtype=bool)
    # order along the segments: each segment's pieces to its snaps, then its last piece
    n_ends = np.cumsum(last, dtype=np.int64)
    pos_in = np.arange(k) + n_ends - last.astype(np.int64)
    pos_last = np.flatnonzero(last) + n_ends[last]
    prev = np.r_[0.0, ufrac[:-1]]
    prev[np.r_[True, useg[1:] != useg[:-1]]] = 0.0
    length = np.empty(k + n_last)
    length[pos_in] = (ufrac - prev) * seg_length_m[useg]
    length[pos_last] = (1.0 - ufrac[last]) * seg_length_m[useg[last]]
    seg = np.empty(k + n_last, dtype=np.int64)
    seg[pos_in], seg[pos_last] = useg, useg[last]
    short = length < tie_m
    start = short & np.r_[True, (~short[:-1]) | (seg[1:] != seg[:-1])]
    run = np.cumsum(start) - 1
    in_run = short.copy()
    total = np.bincount(run[short], weights=length[short], minlength=int(start.sum()))
    for r in np.flatnonzero(total >= tie_m):  # long runs: greedy from their start
        members = np.flatnonzero(short & (run == r))
        walked = 0.0
        for i in members:
            walked += length[i]
            if walked >= tie_m:
                in_run[i], walked = False, 0.0
    return np.concatenate([in_run[pos_in], in_run[pos_last]])


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
    """

    split: SplitGraph
    reversed_costs: csr_matrix
    node_xy: FloatArray
    demand_node: IntArray
    demand_access: FloatArray
    facility_node: IntArray

    @property
    def n_demand(self) -> int:
        """Number of demand points."""
        return int(self.demand_node.size)


def build_reach_graph(
    node_xy: FloatArray,
    seg_u: IntArray,
    seg_v: IntArray,
    seg_cost: FloatArray,
    seg_forward: BoolArray,
    seg_backward: BoolArray,
    demand_snaps: Snaps,
    demand_access_cost: FloatArray,
    facility_snaps: Snaps,
    facility_egress_cost: FloatArray,
    oneway_tie_m: float = ONEWAY_TIE_M,
    seg_length_m: FloatArray | None = None,
) -> ReachGraph:
    """Join demand points and facilities to the network.

    Parameters
    ----------
    node_xy
        ``(n_nodes, 2)`` node coordinates, metres.
    seg_u, seg_v, seg_cost, seg_forward, seg_backward
        Segments with their cost (e.g. seconds at the mode's speed, or metres).
    demand_snaps, facility_snaps
        Snaps of demand points and facilities (off-network entries ignored).
    demand_access_cost, facility_egress_cost
        Cost of each point's straight leg to its snap, same unit as ``seg_cost``.
    oneway_tie_m
        Tie runs on one-way segments (:func:`split_graph`), metres; 0: none.
    seg_length_m
        Segment lengths, metres; default: straight between the end nodes.

    Returns
    -------
    ReachGraph
    """
    node_xy = np.asarray(node_xy, dtype=float)
    n_nodes = node_xy.shape[0]
    nd = demand_snaps.segment.size
    if seg_length_m is None:
        seg_length_m = np.hypot(*(node_xy[np.asarray(seg_v)] - node_xy[np.asarray(seg_u)]).T)
    split = split_graph(
        n_nodes,
        seg_u,
        seg_v,
        seg_cost,
        seg_forward,
        seg_backward,
        np.concatenate([demand_snaps.segment, facility_snaps.segment]),
        np.concatenate([demand_snaps.fraction, facility_snaps.fraction]),
        seg_length_m,
        oneway_tie_m,
    )
    dnode, fsnap = split.point_node[:nd], split.point_node[nd:]
    fon = np.flatnonzero(fsnap >= 0)
    facility_node = np.full(fsnap.size, -1, dtype=np.int64)
    facility_node[fon] = split.n_nodes + np.arange(fon.size)
    n_total = split.n_nodes + fon.size
    egress = np.asarray(facility_egress_cost, dtype=float)
    # reversed graph: edge a -> b stored at (b, a); facility snap -> facility node
    rows = np.concatenate([split.head, facility_node[fon]])
    cols = np.concatenate([split.tail, fsnap[fon]])
    data = np.concatenate([split.cost, egress[fon]])
    graph = csr_matrix((data, (rows, cols)), shape=(n_total, n_total))
    u, v = np.asarray(seg_u), np.asarray(seg_v)
    f = split.snap_fraction[:, None]
    snap_xy = node_xy[u[split.snap_segment]] * (1 - f) + node_xy[v[split.snap_segment]] * f
    access = np.where(dnode >= 0, np.asarray(demand_access_cost, dtype=float), np.inf)
    return ReachGraph(
        split, graph, np.concatenate([node_xy, snap_xy]), dnode, access, facility_node
    )


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


def nearest(rg: ReachGraph, facility_group: IntArray, n_groups: int) -> Nearest:
    """One multi-source Dijkstra pass per group: cost to, and index of, the nearest facility.

    Parameters
    ----------
    rg
        The joined graph.
    facility_group
        Group (category) index ``0 .. n_groups-1`` of each facility.
    n_groups
        Number of groups.

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
    for g in range(n_groups):
        fac = np.flatnonzero((facility_group == g) & (rg.facility_node >= 0))
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
    oneway_tie_m: float = ONEWAY_TIE_M,
    seg_length_m: FloatArray | None = None,
) -> FloatArray:
    """Cost from every demand point to the nearest facility of every group.

    A shortcut for :func:`build_reach_graph` then :func:`nearest` when only the
    costs matter and node coordinates are not at hand.

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
    oneway_tie_m
        Tie runs on one-way segments (:func:`split_graph`), metres; 0: none.
    seg_length_m
        Segment lengths, metres; default: ``seg_cost`` (costs in metres).

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
    rg = build_reach_graph(
        np.zeros((n_nodes, 2)),
        seg_u,
        seg_v,
        seg_cost,
        seg_forward,
        seg_backward,
        demand_snaps,
        demand_access_cost,
        facility_snaps,
        facility_egress_cost,
        oneway_tie_m,
        np.asarray(seg_cost if seg_length_m is None else seg_length_m, dtype=float),
    )
    return nearest(rg, np.asarray(facility_group, dtype=np.int64), n_groups).cost


def costs_within(
    rg: ReachGraph,
    facilities: IntArray,
    limit: float,
    block_bytes: int = 1 << 28,
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

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(len(facilities), n_demand)``; stored entries are the costs within
        ``limit`` (a stored zero is a demand point at the facility).

    Examples
    --------
    >>> import numpy as np
    >>> d = Snaps(np.array([0, 0]), np.array([0.0, 1.0]), np.array([0.0, 0.0]))
    >>> f = Snaps(np.array([0]), np.array([0.3]), np.array([0.0]))
    >>> rg = build_reach_graph(np.array([[0.0, 0], [100, 0]]), np.array([0]), np.array([1]),
    ...     np.array([100.0]), np.array([True]), np.array([True]), d, np.zeros(2), f, np.zeros(1))
    >>> costs_within(rg, np.array([0]), 50.0).toarray()
    array([[30.,  0.]])
    """
    from coverage.indicators import TOLERANCE

    facilities = np.asarray(facilities, dtype=np.int64)
    nd = rg.n_demand
    n_total = rg.reversed_costs.shape[0]
    don = np.flatnonzero(rg.demand_node >= 0)
    dn = rg.demand_node[don]
    acc = rg.demand_access[don]
    block = max(1, int(block_bytes // (8 * max(n_total, 1))))
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []
    on = np.flatnonzero(rg.facility_node[facilities] >= 0)
    for start in range(0, on.size, block):
        part = on[start : start + block]
        dist = dijkstra(
            rg.reversed_costs,
            directed=True,
            indices=rg.facility_node[facilities[part]],
            limit=limit + TOLERANCE,
        )
        c = np.atleast_2d(dist)[:, dn] + acc[None, :]
        r, k = np.nonzero(c <= limit + TOLERANCE)
        rows.append(part[r])
        cols.append(don[k])
        vals.append(c[r, k])
    if rows:
        r_all, c_all, v_all = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    else:
        r_all = c_all = np.zeros(0, dtype=np.int64)
        v_all = np.zeros(0)
    out = csr_matrix((v_all, (r_all, c_all)), shape=(facilities.size, nd))
    # csr_matrix drops nothing but may hold explicit zeros: keep them (a facility on the spot)
    return out


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


def service_area_polygon(pieces: FloatArray, buffer_m: float, cell_m: float | None = None) -> Any:
    """Draw a band of ``buffer_m`` around reachable street pieces, for display only.

    Buffering tens of thousands of lines one by one and dissolving them takes
    GEOS seconds to minutes; instead the pieces are sampled onto a grid of
    ``cell_m`` cells, every cell within ``buffer_m`` of a street cell is taken
    (exact Euclidean distance transform), and the cells are turned back into
    polygons with rasterio and simplified by half a cell. The outline is within
    about two cells of the exact buffer.

    Parameters
    ----------
    pieces
        ``(n, 2, 2)`` pieces from :func:`reachable_pieces`, metres.
    buffer_m
        Half-width of the band, metres.
    cell_m
        Grid cell, metres; default ``buffer_m / 4``.

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
    polys = [
        shapely.geometry.shape(geom)
        for geom, _ in features.shapes(near.astype(np.uint8), mask=near, transform=transform)
    ]
    area = shapely.MultiPolygon(polys) if len(polys) > 1 else polys[0]
    return shapely.make_valid(shapely.simplify(area, cell / 2))
