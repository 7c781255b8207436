"""Shortest times on tiny graphs whose answers are worked out by hand."""

import numpy as np
import pytest

from conftest import make_network
from coverage.reach import (
    Joined,
    Segments,
    Snaps,
    build_reach_graph,
    cheapest_parallel,
    costs_within,
    nearest_costs,
    snap_points,
)


def costs(net, demand_xy, fac_xy, groups, n_groups, limit=300.0, speed=1.0):
    """Metres (speed 1) from demand points to the nearest facility of each group."""
    d = snap_points(net, np.asarray(demand_xy, float), limit)
    f = snap_points(net, np.asarray(fac_xy, float), limit)
    return nearest_costs(
        Segments.of(net, net.seg_length_m / speed),
        Joined(d, d.access_m / speed),
        Joined(f, f.access_m / speed),
        np.asarray(groups, dtype=np.int64),
        n_groups,
    )


def test_path_along_a_line_with_access_and_egress_legs():
    # 0 --100-- 1 --200-- 2 ; demand 30 m above the middle of 0-1, facility 40 m below node 2
    net = make_network([(0, 0), (100, 0), (300, 0)], [(0, 1), (1, 2)])
    out = costs(net, [(50, 30)], [(300, -40)], [0], 1)
    # access 30 + 50 along 0-1 + 200 along 1-2 + egress 40
    assert out[0, 0] == pytest.approx(320.0)


def test_demand_and_facility_on_the_same_segment():
    # one 1000 m segment; demand at 200 m, facility at 700 m: 500 m along it,
    # not via an end node (which would be 200+... or 300+...)
    net = make_network([(0, 0), (1000, 0)], [(0, 1)])
    out = costs(net, [(200, 10)], [(700, 5)], [0], 1)
    assert out[0, 0] == pytest.approx(10 + 500 + 5)


def test_two_points_on_one_segment_in_reverse_order():
    net = make_network([(0, 0), (1000, 0)], [(0, 1)])
    out = costs(net, [(900, 0), (100, 0)], [(500, 0)], [0], 1)
    np.testing.assert_allclose(out[:, 0], [400, 400])


def test_off_network_point_is_not_covered():
    net = make_network([(0, 0), (100, 0)], [(0, 1)])
    out = costs(net, [(50, 301), (50, 299)], [(0, 0)], [0], 1, limit=300.0)
    assert np.isinf(out[0, 0])
    assert out[1, 0] == pytest.approx(299 + 50)
    snaps = snap_points(net, np.array([[50.0, 301.0]]), 300.0)
    assert not snaps.on_network[0] and np.isinf(snaps.access_m[0])


def test_off_network_facility_serves_nobody():
    net = make_network([(0, 0), (100, 0)], [(0, 1)])
    out = costs(net, [(0, 0)], [(50, 500)], [0], 1)
    assert np.isinf(out[0, 0])


def test_nearest_of_several_facilities_per_group():
    # line 0..4 at 100 m spacing; group 0 at x=0 and x=400, group 1 at x=100
    net = make_network([(x, 0) for x in range(0, 500, 100)], [(i, i + 1) for i in range(4)])
    out = costs(net, [(300, 0), (50, 0)], [(0, 0), (400, 0), (100, 0)], [0, 0, 1], 2)
    np.testing.assert_allclose(out, [[100, 200], [50, 50]])


def test_group_without_facilities_is_unreachable():
    net = make_network([(0, 0), (100, 0)], [(0, 1)])
    out = costs(net, [(0, 0)], [(100, 0)], [0], 2)
    assert out[0, 0] == pytest.approx(100) and np.isinf(out[0, 1])


def test_one_way_segment_is_respected():
    # square 0(0,0) 1(100,0) 2(100,100) 3(0,100); segment 0->1 one-way
    net = make_network(
        [(0, 0), (100, 0), (100, 100), (0, 100)],
        [(0, 1), (1, 2), (2, 3), (3, 0)],
        one_way=[0],
        mode="cycle",
    )
    # from node 0 to a facility at node 1: direct 100 m
    assert costs(net, [(0, 0)], [(100, 0)], [0], 1)[0, 0] == pytest.approx(100)
    # from node 1 to a facility at node 0: must go round 1-2-3-0, 300 m
    assert costs(net, [(100, 0)], [(0, 0)], [0], 1)[0, 0] == pytest.approx(300)
    # from the middle of the one-way segment to node 0: 50 forward to 1, then 300
    assert costs(net, [(50, 0)], [(0, 0)], [0], 1)[0, 0] == pytest.approx(350)


def test_same_one_way_segment_behind_the_facility():
    net = make_network(
        [(0, 0), (1000, 0), (1000, 1000), (0, 1000)],
        [(0, 1), (1, 2), (2, 3), (3, 0)],
        one_way=[0],
        mode="cycle",
    )
    # demand at 600, facility at 200 on the one-way segment 0->1: around the loop
    out = costs(net, [(600, 0)], [(200, 0)], [0], 1, limit=10)
    assert out[0, 0] == pytest.approx(400 + 1000 + 1000 + 1000 + 200)


def _one_way_block():
    # a 1000 m square block, the street 0 -> 1 along y = 0 one-way for bicycles
    return make_network(
        [(0, 0), (1000, 0), (1000, 1000), (0, 1000)],
        [(0, 1), (1, 2), (2, 3), (3, 0)],
        one_way=[0],
        mode="cycle",
    )


def tie_costs(net, demand_xy, fac_xy, tie_m=1.0):
    d = snap_points(net, np.asarray(demand_xy, float), 300.0)
    f = snap_points(net, np.asarray(fac_xy, float), 300.0)
    return nearest_costs(
        Segments.of(net),
        Joined.at_speed(d),
        Joined.at_speed(f),
        np.zeros(len(fac_xy), dtype=np.int64),
        1,
        oneway_tie_m=tie_m,
    )[:, 0]


def test_one_way_tie_resident_and_facility_at_the_same_spot():
    # a resident 10 m north and a facility 9 m south of the same spot on the one-way street;
    # their snaps differ by float noise (the facility a hair behind): the two legs, 19 m,
    # not the 3 000 m loop round the block
    net = _one_way_block()
    out = tie_costs(net, [(500.0, 10.0)], [(500.0 - 1e-10, -9.0)])
    assert out[0] == pytest.approx(19.0)
    # the rule switched off: round the block
    off = tie_costs(net, [(500.0, 10.0)], [(500.0 - 1e-10, -9.0)], tie_m=0.0)
    assert off[0] == pytest.approx(10 + 500 + 1000 + 1000 + 1000 + 500 + 9, abs=1e-6)


def test_one_way_tie_is_bounded_by_its_length():
    net = _one_way_block()
    # 0.6 m behind: within the 1 m tie, ridden back along the street
    assert tie_costs(net, [(500.6, 0.0)], [(500.0, 0.0)])[0] == pytest.approx(0.6)
    # 2 m behind: beyond it, round the block (2 m short of the 4 000 m loop)
    assert tie_costs(net, [(502.0, 0.0)], [(500.0, 0.0)])[0] == pytest.approx(3998.0)
    # ahead of the resident: along the street as always
    assert tie_costs(net, [(500.0, 0.0)], [(502.0, 0.0)])[0] == pytest.approx(2.0)
    # a two-way street is not touched: 2 m back is 2 m
    two_way = make_network([(0, 0), (1000, 0)], [(0, 1)], mode="cycle")
    assert tie_costs(two_way, [(502.0, 0.0)], [(500.0, 0.0)])[0] == pytest.approx(2.0)


def test_one_way_tie_does_not_chain():
    # residents at 500.4, 500.8 and 501.0 on the one-way street, the facility at 500: the
    # first two are within 1 m of it, the third is not, and cannot ride back through the
    # others (only the facility is reached against the one-way)
    net = _one_way_block()
    demand = [(500.4, 0.0), (500.8, 0.0), (501.0, 0.0)]
    out = tie_costs(net, demand, [(500.0, 0.0)])
    np.testing.assert_allclose(out, [0.4, 0.8, 4000.0 - 1.0])


def test_one_way_tie_at_a_segment_end():
    # a facility at node 0 and a resident a hair beyond it on the one-way street 0 -> 1:
    # the last piece back to the node is within the tie
    net = _one_way_block()
    assert tie_costs(net, [(1e-9, 5.0)], [(0.0, -5.0)])[0] == pytest.approx(10.0)


def test_parallel_edges_keep_the_shorter():
    # two segments between nodes 0 and 1: the straight 100 m and a dog-leg of 300 m
    net = make_network([(0, 0), (100, 0)], [(0, 1), (0, 1)])
    lengths = net.seg_length_m.copy()
    lengths[1] = 300.0
    d = Snaps(np.array([0]), np.array([0.0]), np.array([0.0]))
    f = Snaps(np.array([0]), np.array([1.0]), np.array([0.0]))
    out = nearest_costs(
        Segments.of(net, lengths),
        Joined(d, np.zeros(1)),
        Joined(f, np.zeros(1)),
        np.zeros(1, dtype=np.int64),
        1,
    )
    assert out[0, 0] == pytest.approx(100)  # a summed matrix would give 400


def test_cheapest_parallel():
    t, h, c = cheapest_parallel(np.array([0, 0, 1]), np.array([1, 1, 0]), np.array([5.0, 3.0, 4.0]))
    assert list(zip(t, h, c, strict=True)) == [(0, 1, 3.0), (1, 0, 4.0)]


def test_snapping_ignores_small_components():
    # main component 0-1; stranded segment 2-3 right next to the point
    net = make_network(
        [(0, 0), (100, 0), (0, 50), (100, 50)], [(0, 1), (2, 3)], main=[True, True, False, False]
    )
    snaps = snap_points(net, np.array([[50.0, 45.0]]), 300.0)
    assert snaps.segment[0] == 0 and snaps.access_m[0] == pytest.approx(45.0)


def test_time_at_speed():
    # 1000 m at 4 km/h = 15 min exactly
    net = make_network([(0, 0), (1000, 0)], [(0, 1)])
    out = costs(net, [(0, 0)], [(1000, 0)], [0], 1, speed=4 / 3.6)
    assert out[0, 0] / 60 == pytest.approx(15.0)


def _graph(net, demand_xy, fac_xy, limit=300.0, segments=None):
    from coverage.reach import build_reach_graph

    d = snap_points(net, np.asarray(demand_xy, float), limit, segments)
    f = snap_points(net, np.asarray(fac_xy, float), limit, segments)
    return build_reach_graph(Segments.of(net), Joined.at_speed(d), Joined.at_speed(f))


def test_nearest_tells_which_facility_serves_each_point():
    from coverage.reach import nearest

    # 0 --1000-- 1 --1000-- 2; facilities: A at node 0 (10 m off), B at node 2, C (group 1) at 1
    net = make_network([(0, 0), (1000, 0), (2000, 0)], [(0, 1), (1, 2)])
    rg = _graph(net, [(100, 0), (900, 0), (1900, 0), (5000, 5000)], [(0, 10), (2000, 0), (1000, 5)])
    out = nearest(rg, np.array([0, 0, 1]), 2)
    np.testing.assert_allclose(out.cost[:3, 0], [110, 910, 100])
    np.testing.assert_allclose(out.cost[:3, 1], [905, 105, 905])
    assert out.facility[:, 0].tolist() == [0, 0, 1, -1]
    assert out.facility[:, 1].tolist() == [2, 2, 2, -1]
    assert np.isinf(out.cost[3]).all()
    # node costs: node 1 is 1000 m from A's snap + 10 m egress, 1000 m from B
    np.testing.assert_allclose(out.node_cost[0, :3], [10, 1000, 0])


def test_costs_within_match_every_pair_by_hand():
    from coverage.reach import costs_within

    net = make_network([(0, 0), (1000, 0), (2000, 0)], [(0, 1), (1, 2)])
    rg = _graph(net, [(100, 0), (900, 0), (2000, 0)], [(0, 10), (2000, 0)])
    within = costs_within(rg, np.array([0, 1]), 500.0)
    # A reaches the point at 100 m (110); B reaches the point on it (0, stored) only
    assert within.shape == (2, 3)
    coo = within.tocoo()
    assert sorted(zip(coo.row.tolist(), coo.col.tolist(), strict=True)) == [(0, 0), (1, 2)]
    assert within[0, 0] == pytest.approx(110.0)
    assert within.nnz == 2 and within[1, 2] == 0.0
    # small blocks give the same matrix
    small = costs_within(rg, np.array([0, 1]), 500.0, block_bytes=8)
    assert (small != within).nnz == 0 and small.nnz == 2
    # unbounded: every pair, equal to the nearest costs of single-facility groups
    full = costs_within(rg, np.array([0, 1]), 1e9).toarray()
    np.testing.assert_allclose(full, [[110, 910, 2010], [1900, 1100, 0]])


def test_stranded_points_are_told_apart_from_far_ones():
    from coverage.reach import stranded_points

    # main line 0-1-2 and a separate island segment 3-4 500 m north
    net = make_network(
        [(0, 0), (500, 0), (1000, 0), (0, 500), (500, 500)],
        [(0, 1), (1, 2), (3, 4)],
        main=[True, True, True, False, False],
    )
    xy = np.array([[250.0, 480.0], [250.0, 2000.0], [250.0, 10.0]])
    snaps = snap_points(net, xy, 100.0)
    assert snaps.on_network.tolist() == [False, False, True]
    assert stranded_points(net, xy, 100.0, snaps).tolist() == [True, False, False]


def test_all_components_lets_an_island_serve_itself():
    from coverage.reach import nearest

    net = make_network(
        [(0, 0), (500, 0), (0, 500), (500, 500)],
        [(0, 1), (2, 3)],
        main=[True, True, False, False],
    )
    demand, fac = [(100, 490), (100, 10)], [(400, 510)]
    largest = nearest(_graph(net, demand, fac), np.array([0]), 1)
    assert np.isinf(largest.cost).all()  # the facility is stranded, so is the resident
    every = nearest(_graph(net, demand, fac, segments=np.ones(2, bool)), np.array([0]), 1)
    assert every.cost[0, 0] == pytest.approx(10 + 300 + 10)
    assert np.isinf(every.cost[1, 0])  # other component: unreachable, not covered


def test_reachable_pieces_cut_partial_edges_at_the_remaining_budget():
    from coverage.reach import nearest
    from coverage.service_areas import reachable_pieces

    # L-shaped street 0-(1000,0)-(1000,1000); facility at the corner, budget 300
    net = make_network([(0, 0), (1000, 0), (1000, 1000)], [(0, 1), (1, 2)])
    rg = _graph(net, [(0, 0)], [(1000, 0)])
    near = nearest(rg, np.array([0]), 1)
    pieces = reachable_pieces(rg, near.node_cost[0], 300.0)
    starts = {tuple(np.round(p[0], 6)) for p in pieces if not np.allclose(p[0], p[1])}
    assert starts == {(700.0, 0.0), (1000.0, 300.0)}


def test_one_way_service_area_only_counts_the_upstream_side():
    from coverage.reach import nearest
    from coverage.service_areas import reachable_pieces

    # one-way 0 -> 1 -> 2; facility at node 1: only the stretch before it reaches it
    net = make_network([(0, 0), (1000, 0), (2000, 0)], [(0, 1), (1, 2)], one_way=(0, 1))
    rg = _graph(net, [(0, 0)], [(1000, 0)])
    near = nearest(rg, np.array([0]), 1)
    pieces = reachable_pieces(rg, near.node_cost[0], 300.0)
    xs = np.sort(pieces[:, :, 0].ravel())
    assert xs.min() == pytest.approx(700.0) and xs.max() == pytest.approx(1000.0)


def test_service_area_is_a_band_along_the_streets_not_a_hull():
    import shapely

    from coverage.service_areas import service_area_polygon

    pieces = np.array([[[700.0, 0.0], [1000.0, 0.0]], [[1000.0, 300.0], [1000.0, 0.0]]])
    area = service_area_polygon(pieces, 50.0, cell_m=5.0)
    exact = shapely.union_all(shapely.buffer(shapely.linestrings(pieces), 50.0))
    assert area.is_valid
    # within two cells of the exact buffer everywhere
    assert shapely.hausdorff_distance(area, exact) <= 10.0
    assert abs(area.area / exact.area - 1) < 0.06
    # the convex hull would claim the land between the two streets; the band does not
    assert not area.contains(shapely.Point(800, 200))
    assert area.contains(shapely.Point(850, 40)) and area.contains(shapely.Point(960, 250))
    assert service_area_polygon(np.zeros((0, 2, 2)), 50.0).is_empty


def test_matches_networkx_on_a_random_lattice_with_one_way_streets():
    """Every node's time to the nearest facility, against NetworkX's multi-source Dijkstra."""
    import networkx as nx

    from coverage.reach import Snaps, build_reach_graph, nearest

    rng = np.random.default_rng(7)
    side = 12
    xy = np.array([(i * 80.0, j * 80.0) for i in range(side) for j in range(side)])
    xy += rng.uniform(-15, 15, xy.shape)
    ids = np.arange(side * side).reshape(side, side)
    seg = np.concatenate(
        [
            np.column_stack([ids[:-1, :].ravel(), ids[1:, :].ravel()]),
            np.column_stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()]),
        ]
    )
    one_way = np.flatnonzero(rng.random(len(seg)) < 0.3)
    net = make_network(xy, seg, one_way=one_way)
    facility_nodes = rng.choice(side * side, 6, replace=False)
    group = np.array([0, 0, 0, 1, 1, 1])
    # facilities exactly at nodes: as the start of one of their segments
    first_seg = {int(u): k for k, u in reversed(list(enumerate(net.seg_u)))}
    first_seg |= {
        int(v): k for k, v in reversed(list(enumerate(net.seg_v))) if int(v) not in first_seg
    }
    fseg = np.array([first_seg[int(n)] for n in facility_nodes])
    ffrac = np.where(net.seg_u[fseg] == facility_nodes, 0.0, 1.0)
    fsnap = Snaps(fseg, ffrac, np.zeros(6))
    rg = build_reach_graph(Segments.of(net), Joined.none(), Joined(fsnap, np.zeros(6)))
    ours = nearest(rg, group, 2).node_cost[:, : net.n_nodes]
    g = nx.DiGraph()
    for k, (u, v) in enumerate(seg):
        g.add_edge(int(v), int(u), w=net.seg_length_m[k])  # reversed: towards the facility
        if k not in set(one_way.tolist()):
            g.add_edge(int(u), int(v), w=net.seg_length_m[k])
    for grp in (0, 1):
        ref = nx.multi_source_dijkstra_path_length(
            g, set(facility_nodes[group == grp].tolist()), weight="w"
        )
        expect = np.array([ref.get(n, np.inf) for n in range(side * side)])
        np.testing.assert_allclose(ours[grp], expect, atol=1e-6)


@pytest.mark.parametrize("k_steps", [(8, 32), (1,)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_segment_index_finds_the_exact_nearest_segment(seed, k_steps):
    """Against brute force over every segment; ``(1,)`` sends most points to the STRtree fallback."""
    from coverage.reach import SegmentIndex

    rng = np.random.default_rng(seed)
    n_nodes = 300
    xy = rng.uniform(0, 2000, (n_nodes, 2))
    seg = rng.integers(0, n_nodes, (400, 2))
    seg = seg[seg[:, 0] != seg[:, 1]]
    # a few very long segments, and a tight cluster of short ones
    xy[:20] = rng.uniform(900, 1000, (20, 2))
    net = make_network(xy, seg)
    pts = np.vstack(
        [rng.uniform(-500, 2500, (300, 2)), rng.uniform(5000, 6000, (20, 2)), xy[seg[:5, 0]]]
    )
    index = SegmentIndex(net, np.ones(len(seg), dtype=bool))
    index.K_STEPS = k_steps
    snaps = index.snap(pts, 1e9)
    if k_steps == (1,):
        assert index._strtree is not None  # the fallback was used
    a, b = xy[seg[:, 0]], xy[seg[:, 1]]
    ab = b - a
    t = np.clip(((pts[:, None, :] - a) * ab).sum(-1) / (ab * ab).sum(-1), 0, 1)
    d = np.hypot(*np.moveaxis(pts[:, None, :] - (a + ab * t[..., None]), -1, 0))
    best = d.min(axis=1)
    np.testing.assert_allclose(snaps.access_m, best, rtol=0, atol=1e-9)
    chosen = d[np.arange(len(pts)), snaps.segment]
    np.testing.assert_allclose(chosen, best, atol=1e-9)

    # ties (points on a node shared by several segments) go to the segment whose end
    # points, lower one first, come first: a rule on geometry, not on the segment's index
    def key(j):
        return tuple(sorted([tuple(xy[seg[j, 0]]), tuple(xy[seg[j, 1]])]))

    tied = np.flatnonzero((d <= best[:, None] + 1e-9).sum(axis=1) > 1)
    assert tied.size
    for i in tied:
        assert snaps.segment[i] == min(np.flatnonzero(d[i] <= best[i] + 1e-9), key=key)
    # the limit: farther points are off-network
    limited = index.snap(pts, 100.0)
    assert (limited.on_network == (best <= 100.0)).all()
    # input order does not matter
    perm = rng.permutation(len(pts))
    again = index.snap(pts[perm], 1e9)
    assert (again.segment == snaps.segment[perm]).all()


def test_a_network_with_no_allowed_segment_leaves_every_point_off_network():
    # e.g. a cycle network whose largest strongly connected component is one node
    from coverage.reach import SegmentIndex

    net = make_network([(0, 0), (100, 0)], [(0, 1)], one_way=[0], main=[True, False])
    snaps = SegmentIndex(net, np.zeros(1, dtype=bool)).snap(np.array([[50.0, 0.0]]), 300.0)
    assert snaps.segment.tolist() == [-1]
    assert not snaps.on_network.any() and np.isinf(snaps.access_m).all()
    empty = SegmentIndex(net, np.zeros(1, dtype=bool)).snap(np.zeros((0, 2)), 300.0)
    assert empty.segment.size == 0


def test_strtree_fallback_breaks_near_ties_by_geometry_not_order():
    # two segments whose distances to the point differ by far less than a nanometre
    # but not bit for bit; the fallback must pick the same street in either order:
    # the one whose lower end point comes first (y = -10)
    from coverage.reach import SegmentIndex

    net = make_network([(0, 10 + 1e-12), (100, 10 + 1e-12), (0, -10), (100, -10)], [(0, 1), (2, 3)])
    index = SegmentIndex(net, np.ones(2, dtype=bool))
    index.K_STEPS = ()  # straight to the fallback
    snaps = index.snap(np.array([[50.0, 0.0]]), 300.0)
    assert snaps.segment.tolist() == [1]
    net_rev = make_network(
        [(0, -10), (100, -10), (0, 10 + 1e-12), (100, 10 + 1e-12)], [(0, 1), (2, 3)]
    )
    index = SegmentIndex(net_rev, np.ones(2, dtype=bool))
    index.K_STEPS = ()
    assert index.snap(np.array([[50.0, 0.0]]), 300.0).segment.tolist() == [0]


def test_snapping_ties_do_not_depend_on_segment_order():
    """The example Hypothesis found: two streets 50 m from the resident, in either order."""
    from coverage.reach import SegmentIndex

    xy = [(0, 0), (100, 0), (0, 100), (100, 100)]
    segs = [(0, 1), (1, 3), (2, 3)]
    picks = []
    for order in (segs, segs[::-1]):
        net = make_network(xy, order)
        chosen = SegmentIndex(net, np.ones(3, dtype=bool)).snap(np.array([[20.0, 50.0]]), 300.0)
        u, v = net.seg_u[chosen.segment[0]], net.seg_v[chosen.segment[0]]
        picks.append(sorted([tuple(net.node_xy[u]), tuple(net.node_xy[v])]))
    assert picks[0] == picks[1] == [(0.0, 0.0), (100.0, 0.0)]


def test_costs_within_reports_its_progress_by_block():
    seg = Segments.from_arrays(np.array([[0.0, 0], [100, 0]]), np.array([0]), np.array([1]))
    d = Joined(Snaps(np.array([0, 0]), np.array([0.0, 1.0]), np.array([0.0, 0.0])), np.zeros(2))
    f = Joined(Snaps(np.array([0, 0, 0]), np.array([0.3, 0.5, 0.9]), np.zeros(3)), np.zeros(3))
    rg = build_reach_graph(seg, d, f)
    seen: list[float] = []
    # a block of one facility at a time: three reports, the last one "all done"
    one = 8 * rg.reversed_costs.shape[0]
    costs_within(rg, np.arange(3), 200.0, block_bytes=one, progress=seen.append)
    assert seen == pytest.approx([1 / 3, 2 / 3, 1.0])


def test_long_stages_report_at_most_every_few_seconds(monkeypatch):
    from coverage import pipeline
    from coverage.messages import Message, render

    heard: list[str] = []
    tick = pipeline.every_few_seconds(lambda m: heard.append(render(m, "zh")), Message(
        "progress_catchments", {"mode": "walk"}))  # fmt: skip
    tick(0.1)
    assert heard == []  # too soon
    monkeypatch.setattr(pipeline, "PROGRESS_EVERY_S", 0.0)
    tick(0.5)
    tick(1.0)  # done: nothing more to say
    assert heard == ["步行：服务范围：50%"]
