"""Shortest times on tiny graphs whose answers are worked out by hand."""

import numpy as np
import pytest

from conftest import make_network
from coverage.reach import Snaps, cheapest_parallel, nearest_costs, snap_points


def costs(net, demand_xy, fac_xy, groups, n_groups, limit=300.0, speed=1.0):
    """Metres (speed 1) from demand points to the nearest facility of each group."""
    d = snap_points(net, np.asarray(demand_xy, float), limit)
    f = snap_points(net, np.asarray(fac_xy, float), limit)
    return nearest_costs(
        net.n_nodes,
        net.seg_u,
        net.seg_v,
        net.seg_length_m / speed,
        net.seg_forward,
        net.seg_backward,
        d,
        d.access_m / speed,
        f,
        f.access_m / speed,
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


def test_parallel_edges_keep_the_shorter():
    # two segments between nodes 0 and 1: the straight 100 m and a dog-leg of 300 m
    net = make_network([(0, 0), (100, 0)], [(0, 1), (0, 1)])
    lengths = net.seg_length_m.copy()
    lengths[1] = 300.0
    d = Snaps(np.array([0]), np.array([0.0]), np.array([0.0]))
    f = Snaps(np.array([0]), np.array([1.0]), np.array([0.0]))
    out = nearest_costs(
        2,
        net.seg_u,
        net.seg_v,
        lengths,
        net.seg_forward,
        net.seg_backward,
        d,
        np.zeros(1),
        f,
        np.zeros(1),
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
