"""Property tests of the numeric core (issue 7), with Hypothesis.

Inputs are small random street grids in a metric CRS (a random multiset of
lattice and diagonal edges, each in a random direction, some one-way when
cycling), random demand points and facilities (near the grid, far beyond the
snapping limit, or on nodes, mid-edges and cell centres, where several streets
are equally near), random populations with zeros, and a random threshold T.
Times are computed as the pipeline does: snap to the main component, join, one
multi-source pass per category (:mod:`coverage.reach`). Checked:

- coverage is a share in [0, 1], the population-weighted count of points
  within T (inclusive); points beyond the snapping limit are never covered,
  facilities beyond it serve nobody;
- adding a facility never raises a time nor lowers a coverage;
- raising T never lowers a coverage, and the bounded passes (catchments) agree
  with the nearest-facility pass at every T;
- population is conserved: by community counts spread over nodes, and by a
  polygon (and point) layer split among communities by area;
- a network time is never shorter than the straight line at the mode's speed,
  on hand-made metric networks and on networks built from OSM-like ways;
- permuting demand points, facilities and street segments changes no time
  and no coverage.

Runs are derandomized (the same examples every time) and kept small for CI.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pyproj import Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry import box

from conftest import CRS, make_network
from coverage.config import Snapping, Speeds
from coverage.demand import demand_from_community_counts, demand_from_population
from coverage.indicators import IndicatorSpec, evaluate
from coverage.network import Way, network_from_ways
from coverage.reach import Joined, SegmentIndex, Segments, build_reach_graph, costs_within, nearest
from coverage.terms import TOLERANCE

# Deterministic and quick: the same examples on every run, no example database,
# no per-example deadline (the first example pays for imports and GEOS set-up).
# too_slow: a scenario (a grid, points, populations) takes a few dozen draws,
# which Hypothesis may flag on a loaded 2-core CI runner.
SETTINGS = settings(
    max_examples=50,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

#: Relative tolerance on sums and times computed along different paths (rounding only).
REL = 1e-9
SPEED_KMH = {"walk": Speeds().walk_kmh, "cycle": Speeds().cycle_kmh}
LIMIT_M = {"walk": Snapping().walk_limit_m, "cycle": Snapping().cycle_limit_m}
N_GROUPS = 2
CATEGORIES = ("g0", "g1")
COMMUNITY_IDS = ["c0", "c1", "c2"]
COMMUNITY_KINDS = ["urban", "rural", "urban"]
# points anywhere: well past the largest grid (3 x 400 m) and the cycle limit (1 000 m)
COORD = st.floats(-1500.0, 2700.0)
# sort keys of a random permutation (at least as many as segments, demand points, facilities)
PERMUTATION = arrays(np.float64, 32, elements=st.floats(0.0, 1.0))
POPULATIONS = st.just(0.0) | st.floats(0.0, 10_000.0)


def main_component(n_nodes, seg, fwd, bwd):
    """Nodes of the largest strongly connected component, found as network_from_ways does."""
    tails = np.concatenate([seg[fwd, 0], seg[bwd, 1]])
    heads = np.concatenate([seg[fwd, 1], seg[bwd, 0]])
    adj = coo_matrix((np.ones(tails.size), (tails, heads)), shape=(n_nodes, n_nodes)).tocsr()
    _, labels = connected_components(adj, directed=True, connection="strong")
    return labels == np.bincount(labels).argmax()


@dataclass(frozen=True)
class Grid:
    """A street grid: nodes, segments (u, v), one-way flags and where to put points."""

    mode: str
    node_xy: np.ndarray
    seg: np.ndarray
    one_way: np.ndarray
    special: np.ndarray  # nodes, mid-edges and cell centres
    extent: tuple[np.ndarray, np.ndarray]  # the grid with a margin of one spacing

    def network(self, order=None):
        """The network with its segments in ``order`` (the main component is the same)."""
        order = np.arange(len(self.seg)) if order is None else np.asarray(order)
        fwd = np.ones(len(self.seg), dtype=bool)
        main = main_component(len(self.node_xy), self.seg, fwd, ~self.one_way)
        return make_network(
            self.node_xy,
            self.seg[order],
            one_way=np.flatnonzero(self.one_way[order]),
            mode=self.mode,
            main=main,
        )


def grid_of(mode, node_xy, seg, one_way=None):
    """A hand-made grid, for explicit examples."""
    xy, seg = np.asarray(node_xy, dtype=float), np.asarray(seg, dtype=np.int64)
    one_way = np.zeros(len(seg), bool) if one_way is None else np.asarray(one_way)
    return Grid(mode, xy, seg, one_way, xy, (xy.min(0), xy.max(0)))


@st.composite
def grids(draw):
    mode = draw(st.sampled_from(["walk", "cycle"]))
    cols, rows = draw(st.integers(2, 4)), draw(st.integers(1, 3))
    spacing = draw(st.floats(50.0, 400.0))
    n = cols * rows
    jitter = draw(arrays(np.float64, (n, 2), elements=st.floats(-0.3, 0.3)))
    ij = np.array([(i, j) for j in range(rows) for i in range(cols)], dtype=float)
    xy = (ij + jitter) * spacing
    ids = np.arange(n).reshape(rows, cols)
    lattice = [(ids[j, i], ids[j, i + 1]) for j in range(rows) for i in range(cols - 1)]
    lattice += [(ids[j, i], ids[j + 1, i]) for j in range(rows - 1) for i in range(cols)]
    cells = [(j, i) for j in range(rows - 1) for i in range(cols - 1)]
    # both diagonals of a cell cross without a node (a bridge over the other)
    lattice += [(ids[j, i], ids[j + 1, i + 1]) for j, i in cells]
    lattice += [(ids[j + 1, i], ids[j, i + 1]) for j, i in cells]
    keep = draw(arrays(np.bool_, len(lattice)))
    # repeats: parallel segments between the same nodes
    picks = [*np.flatnonzero(keep), *draw(st.lists(st.integers(0, len(lattice) - 1), max_size=3))]
    picks = picks or [0]
    flip = draw(arrays(np.bool_, len(picks)))
    seg = np.array(
        [lattice[k][::-1] if f else lattice[k] for k, f in zip(picks, flip, strict=True)]
    )
    one_way = draw(arrays(np.bool_, len(picks))) if mode == "cycle" else np.zeros(len(picks), bool)
    centres = [
        xy[[ids[j, i], ids[j, i + 1], ids[j + 1, i], ids[j + 1, i + 1]]].mean(0) for j, i in cells
    ]
    special = np.vstack([xy, (xy[seg[:, 0]] + xy[seg[:, 1]]) / 2, *centres])
    extent = (np.array([-1.0, -1.0]) * spacing, np.array([cols, rows]) * spacing)
    return Grid(mode, xy, seg.astype(np.int64), one_way, special, extent)


def draw_points(draw, grid, min_size, max_size):
    """Points near the grid, at its special places (where streets tie), or anywhere."""
    pts = []
    for _ in range(draw(st.integers(min_size, max_size))):
        kind = draw(st.sampled_from(["near", "special", "anywhere"]))
        if kind == "near":
            lo, hi = grid.extent
            unit = draw(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)))
            pts.append(lo + (hi - lo) * np.array(unit))
        elif kind == "special":
            pts.append(grid.special[draw(st.integers(0, len(grid.special) - 1))])
        else:
            pts.append((draw(COORD), draw(COORD)))
    return np.array(pts, dtype=float).reshape(-1, 2)


@dataclass(frozen=True)
class Scenario:
    grid: Grid
    demand_xy: np.ndarray
    population: np.ndarray
    community: np.ndarray
    facility_xy: np.ndarray
    facility_group: np.ndarray
    threshold_min: float


def scenario_of(grid, demand_xy, facility_xy, threshold_min=15.0):
    """A hand-made scenario (one resident per point, community c0, group g0), for examples."""
    demand_xy, facility_xy = np.asarray(demand_xy, float), np.asarray(facility_xy, float)
    nd, nf = len(demand_xy), len(facility_xy)
    ones, zeros = np.ones(nd), np.zeros(nd, dtype=np.int64)
    return Scenario(
        grid, demand_xy, ones, zeros, facility_xy, np.zeros(nf, np.int64), threshold_min
    )


@st.composite
def scenarios(draw):
    grid = draw(grids())
    demand = draw_points(draw, grid, 1, 12)
    nd = len(demand)
    population = draw(arrays(np.float64, nd, elements=POPULATIONS))
    community = draw(arrays(np.int64, nd, elements=st.integers(0, len(COMMUNITY_IDS) - 1)))
    facilities = draw_points(draw, grid, 1, 6)
    group = draw(arrays(np.int64, len(facilities), elements=st.integers(0, N_GROUPS - 1)))
    # the plans' thresholds, and any other
    threshold = draw(st.sampled_from([15.0, 5.0, 10.0, 30.0]) | st.floats(0.0, 30.0))
    return Scenario(grid, demand, population, community, facilities, group, threshold)


@dataclass(frozen=True)
class Reach:
    seconds: np.ndarray  # (n_demand, N_GROUPS) to the nearest facility of each group
    facility: np.ndarray  # that facility, -1 none
    graph: object
    speed_ms: float

    @property
    def minutes(self):
        return self.seconds / 60.0


def reach(net, demand_xy, facility_xy, facility_group):
    """Times to the nearest facility of each group, as the pipeline computes them."""
    speed_ms = SPEED_KMH[net.mode] / 3.6
    index = SegmentIndex(net, net.seg_main)
    dsnap = index.snap(demand_xy, LIMIT_M[net.mode])
    fsnap = index.snap(facility_xy, LIMIT_M[net.mode])
    rg = build_reach_graph(
        Segments.of(net, net.segment_seconds(SPEED_KMH[net.mode])),
        Joined.at_speed(dsnap, speed_ms),
        Joined.at_speed(fsnap, speed_ms),
    )
    near = nearest(rg, np.asarray(facility_group, dtype=np.int64), N_GROUPS)
    return Reach(near.cost, near.facility, rg, speed_ms)


def indicator_table(mode, minutes, population, community, threshold):
    """Each category's coverage and the circle of both, for every scope."""
    specs = [
        IndicatorSpec("category_coverage", mode, threshold, "min", (c,), minutes[:, [g]])
        for g, c in enumerate(CATEGORIES)
    ]
    specs.append(IndicatorSpec("A1_service_circle", mode, threshold, "min", CATEGORIES, minutes))
    return evaluate(specs, population, community, COMMUNITY_IDS, COMMUNITY_KINDS, [])


def distance_to_segments(xy, net, segments):
    """Brute force: straight distance from each point to the nearest of the given segments."""
    a, b = net.node_xy[net.seg_u[segments]], net.node_xy[net.seg_v[segments]]
    if len(a) == 0:
        return np.full(len(xy), np.inf)
    ab = b - a
    t = np.clip(((xy[:, None, :] - a) * ab).sum(-1) / (ab * ab).sum(-1), 0.0, 1.0)
    return np.hypot(*np.moveaxis(xy[:, None, :] - (a + ab * t[..., None]), -1, 0)).min(axis=1)


def assert_not_shorter_than_straight(net, demand_xy, facility_xy, facility_group):
    out = reach(net, demand_xy, facility_xy, facility_group)
    i, g = np.nonzero(np.isfinite(out.seconds))
    f = out.facility[i, g]
    assert (f >= 0).all() and (facility_group[f] == g).all()
    metres = out.seconds[i, g] * out.speed_ms
    straight = np.hypot(*(demand_xy[i] - facility_xy[f]).T)
    # relative 1e-9 for rounding in the sums of legs and pieces, plus a micrometre
    np.testing.assert_array_less(straight * (1 - REL) - 1e-6, metres)


@SETTINGS
@given(scenarios())
def test_coverage_is_a_population_share_and_off_network_points_are_not_covered(sc):
    net = sc.grid.network()
    out = reach(net, sc.demand_xy, sc.facility_xy, sc.facility_group)
    kinds = np.asarray(COMMUNITY_KINDS)[sc.community]
    cols = {"g0": [0], "g1": [1], "g0+g1": [0, 1]}
    finite = np.sort(out.minutes[np.isfinite(out.minutes)])
    # the drawn T, and T equal to a time (the threshold is inclusive)
    for threshold in (sc.threshold_min, *finite[:1], *finite[-1:]):
        table = indicator_table(net.mode, out.minutes, sc.population, sc.community, threshold)
        for row in table.itertuples():
            if row.scope in ("all", "urban", "rural"):
                mask = (
                    np.ones(len(sc.community), bool) if row.scope == "all" else kinds == row.scope
                )
            else:
                mask = sc.community == COMMUNITY_IDS.index(row.scope.split(":", 1)[1])
            # METHOD.md: [max_c t(i, c) <= T], with the indicators' rounding tolerance
            hit = (out.minutes[:, cols[row.categories]] <= threshold + TOLERANCE).all(axis=1)
            total = sc.population[mask].sum()
            if total == 0:
                assert row.status == "no residents" and np.isnan(row.value)
                continue
            assert 0.0 <= row.value <= 1.0
            # relative 1e-9: np.bincount and np.sum add in different orders
            assert row.total_population == pytest.approx(total, rel=REL)
            assert row.value == pytest.approx(sc.population[mask & hit].sum() / total, rel=REL)
    # off-network (by brute force, a micrometre clear of the limit): no time, never covered
    limit = LIMIT_M[net.mode]
    main = np.flatnonzero(net.seg_main)
    gap = distance_to_segments(sc.demand_xy, net, main)
    snaps = SegmentIndex(net, net.seg_main).snap(sc.demand_xy, limit)
    clear = np.abs(gap - limit) > 1e-6
    assert (snaps.on_network[clear] == (gap[clear] <= limit)).all()
    # the access leg is the distance to the nearest street (1e-9 m: rounding, as in test_reach)
    on = snaps.on_network
    np.testing.assert_allclose(snaps.access_m[on], gap[on], rtol=0, atol=1e-9)
    far = gap > limit + 1e-6
    assert np.isinf(out.minutes[far]).all()
    anywhere = indicator_table(
        net.mode, out.minutes[far], sc.population[far], sc.community[far], 1e9
    )
    assert (anywhere["covered_population"] == 0).all()
    # facilities beyond the limit serve nobody: dropping them changes no time
    fnear = distance_to_segments(sc.facility_xy, net, main) <= limit + 1e-6
    kept = reach(net, sc.demand_xy, sc.facility_xy[fnear], sc.facility_group[fnear])
    np.testing.assert_allclose(kept.minutes, out.minutes, rtol=REL, atol=0)


@SETTINGS
@given(scenarios(), st.data())
def test_adding_a_facility_never_lowers_coverage(sc, data):
    extra_xy = draw_points(data.draw, sc.grid, 1, 1)
    extra_group = data.draw(st.integers(0, N_GROUPS - 1))
    net = sc.grid.network()
    before = reach(net, sc.demand_xy, sc.facility_xy, sc.facility_group)
    after = reach(
        net,
        sc.demand_xy,
        np.vstack([sc.facility_xy, extra_xy]),
        np.append(sc.facility_group, extra_group),
    )
    # relative 1e-9: the new snap splits a segment, so its pieces are summed differently
    assert (after.seconds <= before.seconds * (1 + REL)).all()
    args = (sc.population, sc.community, sc.threshold_min)
    cov0 = indicator_table(net.mode, before.minutes, *args)
    cov1 = indicator_table(net.mode, after.minutes, *args)
    slack = REL * np.maximum(cov0["total_population"].to_numpy(), 1.0)
    assert (
        cov1["covered_population"].to_numpy() >= cov0["covered_population"].to_numpy() - slack
    ).all()


@SETTINGS
@given(scenarios(), st.floats(0.0, 30.0))
def test_raising_the_threshold_never_lowers_coverage(sc, more_min):
    net = sc.grid.network()
    out = reach(net, sc.demand_xy, sc.facility_xy, sc.facility_group)
    low, high = sc.threshold_min, sc.threshold_min + more_min
    cov_low = indicator_table(net.mode, out.minutes, sc.population, sc.community, low)
    cov_high = indicator_table(net.mode, out.minutes, sc.population, sc.community, high)
    slack = REL * np.maximum(cov_low["total_population"].to_numpy(), 1.0)
    covered_low = cov_low["covered_population"].to_numpy()
    assert (cov_high["covered_population"].to_numpy() >= covered_low - slack).all()
    # catchments (bounded passes, limits in seconds) at rising limits, some equal to a time:
    # the pairs within a limit stay within a higher one at the same cost, and the nearest
    # facility of a group is within a limit exactly when some facility of it is
    finite = np.sort(out.seconds[np.isfinite(out.seconds)])
    limits = sorted({low * 60.0, high * 60.0, *finite[:1], *finite[-1:]})
    nf = len(sc.facility_xy)
    previous = {}
    for limit in limits:
        coo = costs_within(out.graph, np.arange(nf), limit).tocoo()
        pairs = dict(
            zip(zip(coo.row.tolist(), coo.col.tolist(), strict=True), coo.data, strict=True)
        )
        assert previous.keys() <= pairs.keys()
        for key, cost in previous.items():
            assert pairs[key] == pytest.approx(cost, rel=REL)
        previous = pairs
        cost = np.full((nf, len(sc.demand_xy)), np.inf)  # a stored zero is a pair too
        cost[coo.row, coo.col] = coo.data
        for g in range(N_GROUPS):
            best = cost[sc.facility_group == g].min(axis=0, initial=np.inf)
            # the comparison costs_within makes: seconds, TOLERANCE included
            reached = out.seconds[:, g] <= limit + TOLERANCE
            assert (np.isfinite(best) == reached).all()
            np.testing.assert_allclose(best[reached], out.seconds[reached, g], rtol=REL)


@SETTINGS
@given(scenarios())
def test_network_time_is_never_shorter_than_the_straight_line(sc):
    net = sc.grid.network()
    assert_not_shorter_than_straight(net, sc.demand_xy, sc.facility_xy, sc.facility_group)


# A 1 000 m east-west street at Porto Alegre's latitude (UTM 22S, on the central meridian):
# demand at one end, facility at the other.
@example(
    sc=scenario_of(grid_of("walk", [(0, 0), (1000, 0)], [(0, 1)]), [(0, 0)], [(1000, 0)]),
    x0=500_000.0,
    y0=6_650_000.0,
)
@SETTINGS
@given(scenarios(), st.floats(170_000.0, 830_000.0), st.floats(4_500_000.0, 9_999_000.0))
def test_network_time_is_never_shorter_than_the_straight_line_on_ways(sc, x0, y0):
    """The same on a network built from OSM-like ways (lon/lat) anywhere in the UTM zone
    between the equator and 50 degrees south; the straight line is measured in the CRS."""
    grid = sc.grid
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(
        grid.node_xy[:, 0] + x0, grid.node_xy[:, 1] + y0
    )
    ways = [
        Way(
            (int(u) + 1, int(v) + 1),
            ((lon[u], lat[u]), (lon[v], lat[v])),
            True,
            not one_way,
            "residential",
        )
        for (u, v), one_way in zip(grid.seg, grid.one_way, strict=True)
    ]
    net = network_from_ways(ways, grid.mode, CRS)
    offset = np.array([x0, y0])
    assert_not_shorter_than_straight(
        net, sc.demand_xy + offset, sc.facility_xy + offset, sc.facility_group
    )


# Two parallel two-way streets 100 m apart, joined at their east ends; a resident midway
# between them, the facility at the west end of the north street. Reversing the segment
# order makes the resident join the other street.
@example(
    sc=scenario_of(
        grid_of("walk", [(0, 0), (100, 0), (0, 100), (100, 100)], [(0, 1), (1, 3), (2, 3)]),
        [(20, 50)],
        [(0, 100)],
    ),
    demand_keys=np.zeros(32),
    facility_keys=np.zeros(32),
    segment_keys=np.linspace(1.0, 0.0, 32),
)
@SETTINGS
@given(scenarios(), PERMUTATION, PERMUTATION, PERMUTATION)
def test_results_do_not_depend_on_row_order(sc, demand_keys, facility_keys, segment_keys):
    pd_ = np.argsort(demand_keys[: len(sc.demand_xy)], kind="stable")
    pf = np.argsort(facility_keys[: len(sc.facility_xy)], kind="stable")
    ps = np.argsort(segment_keys[: len(sc.grid.seg)], kind="stable")
    base = reach(sc.grid.network(), sc.demand_xy, sc.facility_xy, sc.facility_group)
    net = sc.grid.network(order=ps)
    moved = reach(net, sc.demand_xy[pd_], sc.facility_xy[pf], sc.facility_group[pf])
    # relative 1e-9: equally short paths may sum their pieces in another order
    np.testing.assert_allclose(moved.minutes, base.minutes[pd_], rtol=REL, atol=0)
    t0 = indicator_table(net.mode, base.minutes, sc.population, sc.community, sc.threshold_min)
    t1 = indicator_table(
        net.mode, moved.minutes, sc.population[pd_], sc.community[pd_], sc.threshold_min
    )
    for column in ("covered_population", "total_population", "value"):
        np.testing.assert_allclose(t1[column], t0[column], rtol=REL, atol=0)


def _strips(draw, n_max):
    """Disjoint boxes side by side (touching or with gaps), with random heights."""
    boxes, x = [], draw(st.floats(-100.0, 100.0))
    for _ in range(draw(st.integers(1, n_max))):
        width, gap = draw(st.floats(10.0, 200.0)), draw(st.just(0.0) | st.floats(0.0, 50.0))
        y0, height = draw(st.floats(-100.0, 100.0)), draw(st.floats(10.0, 300.0))
        boxes.append(box(x, y0, x + width, y0 + height))
        x += width + gap
    return boxes


def _communities(geoms):
    return gpd.GeoDataFrame(
        {"community_id": [f"c{i}" for i in range(len(geoms))]}, geometry=geoms, crs=CRS
    )


@SETTINGS
@given(st.data())
def test_community_counts_are_spread_without_loss(data):
    geoms = _strips(data.draw, 4)
    comm = _communities(geoms)
    comm["population"] = data.draw(arrays(np.float64, len(geoms), elements=POPULATIONS))
    # network nodes in and around the communities (some communities get none)
    shape = st.tuples(st.integers(0, 15), st.just(2))
    nodes = data.draw(arrays(np.float64, shape, elements=st.floats(-300.0, 1300.0)))
    dem = demand_from_community_counts(comm, nodes)
    by = dem.points.groupby("community_id")["population"].sum()
    for cid, geom, popn in zip(comm["community_id"], geoms, comm["population"], strict=True):
        # relative 1e-9: the share is population / k, added back k times
        assert by.get(cid, 0.0) == pytest.approx(popn, rel=REL)
        pts = dem.points.geometry[dem.points["community_id"] == cid]
        assert pts.intersects(geom).all()
    total = comm["population"].sum()
    assert dem.input_population == pytest.approx(total, rel=REL)
    assert dem.used_population == pytest.approx(total, rel=REL)
    assert dem.outside_population == 0


@SETTINGS
@given(st.data())
def test_polygon_population_is_split_by_area_and_conserved(data):
    draw = data.draw
    geoms = _strips(draw, 4)
    cols, rows = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    size = draw(st.floats(10.0, 150.0))
    x0, y0 = draw(st.floats(-150.0, 100.0)), draw(st.floats(-150.0, 100.0))
    cells = [
        box(x0 + i * size, y0 + j * size, x0 + (i + 1) * size, y0 + (j + 1) * size)
        for j in range(rows)
        for i in range(cols)
    ]
    # a few point features too, some on a community's west border (shared or not)
    borders = [shapely.Point(g.bounds[0], (g.bounds[1] + g.bounds[3]) / 2) for g in geoms]
    points = [
        draw(st.sampled_from(borders))
        if draw(st.booleans())
        else shapely.Point(draw(st.floats(-400.0, 1000.0)), draw(st.floats(-400.0, 500.0)))
        for _ in range(draw(st.integers(0, 4)))
    ]
    features = cells + points
    pops = draw(arrays(np.float64, len(features), elements=POPULATIONS))
    layer = gpd.GeoDataFrame(
        {"source_id": [f"p{i}" for i in range(len(features))], "population": pops},
        geometry=features,
        crs=CRS,
    )
    dem = demand_from_population(layer, _communities(geoms))
    total = pops.sum()
    # the oracle: each cell by its area in each community; a point to the first that has it
    expected = np.zeros(len(geoms))
    for k, g in enumerate(geoms):
        for c, p in zip(cells, pops[: len(cells)], strict=True):
            expected[k] += p * shapely.intersection(c, g).area / c.area
    for pt, p in zip(points, pops[len(cells) :], strict=True):
        first = next((k for k, g in enumerate(geoms) if g.intersects(pt)), None)
        if first is not None:
            expected[first] += p
    by = dem.points.groupby("community_id")["population"].sum()
    # relative 1e-9 of the whole layer: GEOS overlay and shapely areas round differently
    abs_tol = REL * max(total, 1.0)
    for k in range(len(geoms)):
        assert by.get(f"c{k}", 0.0) == pytest.approx(expected[k], rel=REL, abs=abs_tol)
    assert dem.input_population == pytest.approx(total, rel=REL)
    assert dem.used_population <= total + abs_tol
    assert dem.used_population + dem.outside_population == pytest.approx(total, abs=abs_tol)
