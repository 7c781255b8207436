"""Benchmark: nearest-facility travel times, ours against the usual recipes.

For each input (the Porto Alegre demo and synthetic street lattices) and each
method, one child process builds the same inputs, times the method end to end
and reports its peak memory; the parent prints the figures side by side as
ratios and checks that the methods agree on every node.

Methods
-------
ours
    ``coverage.reach``: snap demand points and facilities to the nearest point
    on the nearest edge, one multi-source scipy Dijkstra pass per category.
textbook
    The OSMnx isochrone recipe: an OSMnx-style NetworkX ``MultiDiGraph`` with
    ``travel_time`` on every edge, ``osmnx.distance.nearest_nodes`` for points,
    ``networkx.single_source_dijkstra_path_length(cutoff=T)`` from every facility
    (on the reversed graph, so that times run towards the facility), and the
    minimum over the facilities of each category per node.
pandana
    ``pandana.Network`` (contraction-hierarchy build included), ``set_pois`` and
    ``nearest_pois(distance=T)`` per category.

Every method starts from the same street segments in memory (reading the OSM
file is common to all and not timed). Times are wall-clock seconds on this
machine; compare the ratios, which are taken within one run.

Agreement: our engine is also run node to node (facilities moved to their
nearest node, as the textbook recipe does) and its node times are compared
with the textbook's and pandana's on every node within the cutoff.

Cycling agreement (``--cycle-agreement``, not part of the default run): on
the demo, our directed cycle network against an OSMnx bike graph built
independently (pyosmium read, OSMnx's own bike filter and one-way reading
through ``osmnx.graph_from_xml``, ``nearest_edges`` snapping, NetworkX
Dijkstra), node by node and demand point by demand point in metres of riding;
every difference over 1 m is put in a class by rerunning ours with one of its
rules taken back (the one-way tie, the bicycle one-way tags, snapping to the
main component only) or by comparing the snaps.

Usage::

    python benchmarks/bench_reach.py                      # all inputs
    python benchmarks/bench_reach.py --inputs poa 1e4     # a subset
    python benchmarks/bench_reach.py --cycle-agreement    # the cycling check (about 20 s)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

WALK_KMH = 4.0
SPEED_MS = WALK_KMH / 3.6
CUTOFF_MIN = 15.0
CUTOFF_S = CUTOFF_MIN * 60.0
SNAP_LIMIT_M = 300.0
LATTICE_SPACING_M = 80.0
# facilities per node, one entry per category, for the synthetic lattices
LATTICE_DENSITY = (1 / 200, 1 / 400, 1 / 800, 1 / 1600, 1 / 3200)
REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- inputs


def lattice(n_nodes: int, seed: int = 0) -> dict[str, Any]:
    """A jittered street lattice with 8 % of its blocks' sides removed, and random points."""
    rng = np.random.default_rng(seed)
    side = round(float(np.sqrt(n_nodes)))
    ix, iy = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    xy = np.column_stack([ix.ravel(), iy.ravel()]).astype(float) * LATTICE_SPACING_M
    xy += rng.uniform(-15, 15, xy.shape)
    ids = np.arange(side * side).reshape(side, side)
    u = np.concatenate([ids[:-1, :].ravel(), ids[:, :-1].ravel()])
    v = np.concatenate([ids[1:, :].ravel(), ids[:, 1:].ravel()])
    keep = rng.random(u.size) > 0.08
    u, v = u[keep], v[keep]
    extent = (side - 1) * LATTICE_SPACING_M
    n_demand = max(side * side // 10, 10)
    demand = rng.uniform(0, extent, (n_demand, 2))
    fac, cat = [], []
    for k, density in enumerate(LATTICE_DENSITY):
        m = max(int(side * side * density), 2)
        fac.append(rng.uniform(0, extent, (m, 2)))
        cat.append(np.full(m, k))
    return _network_input(
        f"lattice {side * side:,} nodes", xy, u, v, demand, np.vstack(fac), np.concatenate(cat)
    )


def porto_alegre() -> dict[str, Any]:
    """The shipped demo: walk network from its OSM extract, its demand points and facilities."""
    from coverage.config import demo_study
    from coverage.network import load_networks

    study = demo_study()
    crs = study.crs or "EPSG:32722"
    demand_xy, fac_xy, code, _ = _demo_points(crs)
    net = load_networks(study.inputs.network, crs, modes=("walk",))["walk"]
    data = _network_input(
        "Porto Alegre (demo)",
        net.node_xy,
        net.seg_u,
        net.seg_v,
        demand_xy,
        fac_xy,
        code,
        length=net.seg_length_m,
    )
    return data


def _demo_points(crs: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The demo's demand points, facilities, their category codes and the categories, in ``crs``."""
    from coverage import demand as demand_mod
    from coverage.config import demo_study
    from coverage.inputs import read_communities, read_facilities, read_population

    study = demo_study()
    comm, _ = read_communities(study.inputs.communities)
    fac, _ = read_facilities(study.inputs.facilities)
    assert study.inputs.population is not None
    pop, _ = read_population(study.inputs.population)
    comm, fac, pop = comm.to_crs(crs), fac.to_crs(crs), pop.to_crs(crs)
    dem = demand_mod.demand_from_population(pop, comm)
    cats = sorted(set(fac["category"]))
    code = fac["category"].map({c: i for i, c in enumerate(cats)}).to_numpy()
    return (
        np.column_stack([dem.points.geometry.x, dem.points.geometry.y]),
        np.column_stack([fac.geometry.x, fac.geometry.y]),
        code,
        cats,
    )


def _network_input(name, xy, u, v, demand, fac, cat, length=None) -> dict[str, Any]:
    if length is None:
        length = np.hypot(*(xy[v] - xy[u]).T)
    return {
        "name": name,
        "node_xy": np.asarray(xy, float),
        "u": np.asarray(u, np.int64),
        "v": np.asarray(v, np.int64),
        "length": np.asarray(length, float),
        "demand_xy": np.asarray(demand, float),
        "fac_xy": np.asarray(fac, float),
        "fac_cat": np.asarray(cat, np.int64),
    }


def load_input(key: str) -> dict[str, Any]:
    """Build the named input: ``poa`` or a lattice size such as ``1e5``."""
    if key == "poa":
        return porto_alegre()
    return lattice(int(float(key)))


def street_network(d: dict[str, Any]):
    """Our StreetNetwork over the input's segments (two-way, largest component)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from coverage.network import StreetNetwork

    n = d["node_xy"].shape[0]
    adj = coo_matrix((np.ones(d["u"].size), (d["u"], d["v"])), shape=(n, n))
    _, labels = connected_components(adj, directed=False)
    return StreetNetwork(
        mode="walk",
        crs="local",
        node_xy=d["node_xy"],
        node_osmid=np.arange(n, dtype=np.int64),
        seg_u=d["u"],
        seg_v=d["v"],
        seg_length_m=d["length"],
        seg_forward=np.ones(d["u"].size, bool),
        seg_backward=np.ones(d["u"].size, bool),
        seg_highway=np.full(d["u"].size, "residential", dtype=object),
        node_main=labels == np.bincount(labels).argmax(),
    )


# ----------------------------------------------------------------------------- methods


def run_ours(d: dict[str, Any], out: Path) -> dict[str, Any]:
    """Full fidelity: edge snapping, access and egress legs, one pass per category."""
    from coverage.reach import Joined, SegmentIndex, Segments, build_reach_graph, nearest

    net = street_network(d)
    n_cat = int(d["fac_cat"].max()) + 1
    t0 = time.perf_counter()
    index = SegmentIndex(net)
    dsnap = index.snap(d["demand_xy"], SNAP_LIMIT_M)
    fsnap = index.snap(d["fac_xy"], SNAP_LIMIT_M)
    rg = build_reach_graph(
        Segments.of(net, net.segment_seconds(WALK_KMH)),
        Joined.at_speed(dsnap, SPEED_MS),
        Joined.at_speed(fsnap, SPEED_MS),
    )
    result = nearest(rg, d["fac_cat"], n_cat)
    seconds = time.perf_counter() - t0
    # untimed: node-to-node run for the agreement check (facilities at their nearest node)
    node_costs = _ours_node_to_node(net, d, n_cat)
    np.savez(out, demand=result.cost, node=node_costs)
    return {"seconds": seconds, "covered_share": float(np.mean(result.cost <= CUTOFF_S))}


def _nearest_node(xy: np.ndarray, pts: np.ndarray, main: np.ndarray) -> np.ndarray:
    from scipy.spatial import cKDTree

    idx = np.flatnonzero(main)
    return idx[cKDTree(xy[idx]).query(pts)[1]]


def _ours_node_to_node(net, d: dict[str, Any], n_cat: int, seg_cost=None) -> np.ndarray:
    """Node costs with facilities moved to their nearest main-component node.

    ``seg_cost`` defaults to seconds walking. No one-way tie (``oneway_tie_m=0``):
    this checks the graph itself, node by node.
    """
    from coverage.reach import Joined, Segments, Snaps, build_reach_graph, nearest

    if seg_cost is None:
        seg_cost = net.segment_seconds(WALK_KMH)
    fnode = _nearest_node(net.node_xy, d["fac_xy"], net.node_main)
    # a facility exactly on a node: snap to that node as the start of one of its segments
    seg_of = np.full(net.n_nodes, -1, dtype=np.int64)
    seg_of[net.seg_v[::-1]] = np.arange(net.n_segments)[::-1]
    seg_of[net.seg_u[::-1]] = np.arange(net.n_segments)[::-1]
    at_u = net.seg_u[seg_of[fnode]] == fnode
    fsnap = Snaps(seg_of[fnode], np.where(at_u, 0.0, 1.0), np.zeros(fnode.size))
    rg = build_reach_graph(
        Segments.of(net, seg_cost),
        Joined.none(),
        Joined(fsnap, np.zeros(fnode.size)),
        oneway_tie_m=0.0,
    )
    return nearest(rg, d["fac_cat"], n_cat).node_cost[:, : net.n_nodes]


def run_textbook(d: dict[str, Any], out: Path) -> dict[str, Any]:
    """OSMnx graph + nearest_nodes + NetworkX cutoff Dijkstra from every facility."""
    import networkx as nx
    import osmnx as ox

    net = street_network(d)
    n_cat = int(d["fac_cat"].max()) + 1
    t0 = time.perf_counter()
    g = nx.MultiDiGraph(crs="EPSG:32722")  # any projected CRS: nearest_nodes uses a KD-tree
    main = np.flatnonzero(net.node_main)
    g.add_nodes_from(
        (int(i), {"x": float(net.node_xy[i, 0]), "y": float(net.node_xy[i, 1])}) for i in main
    )
    keep = net.node_main[net.seg_u] & net.node_main[net.seg_v]
    u, v, length = net.seg_u[keep], net.seg_v[keep], net.seg_length_m[keep]
    t = length / SPEED_MS
    g.add_edges_from(
        (int(a), int(b), {"length": float(m), "travel_time": float(s)})
        for a, b, m, s in zip(u, v, length, t, strict=True)
    )
    g.add_edges_from(
        (int(b), int(a), {"length": float(m), "travel_time": float(s)})
        for a, b, m, s in zip(u, v, length, t, strict=True)
    )
    dnode = ox.distance.nearest_nodes(g, d["demand_xy"][:, 0], d["demand_xy"][:, 1])
    fnode = ox.distance.nearest_nodes(g, d["fac_xy"][:, 0], d["fac_xy"][:, 1])
    rev = g.reverse(copy=False)
    best: list[dict[int, float]] = [{} for _ in range(n_cat)]
    for f, c in zip(fnode, d["fac_cat"], strict=True):
        times = nx.single_source_dijkstra_path_length(
            rev, int(f), cutoff=CUTOFF_S, weight="travel_time"
        )
        b = best[int(c)]
        for node, s in times.items():
            if s < b.get(node, np.inf):
                b[node] = s
    demand = np.array([[b.get(int(n), np.inf) for b in best] for n in dnode]).reshape(-1, n_cat)
    seconds = time.perf_counter() - t0
    node = np.full((n_cat, net.n_nodes), np.inf)
    for c, b in enumerate(best):
        node[c, list(b)] = list(b.values())
    np.savez(out, demand=demand, node=node)
    return {"seconds": seconds, "covered_share": float(np.mean(demand <= CUTOFF_S))}


def run_pandana(d: dict[str, Any], out: Path) -> dict[str, Any]:
    """pandana: contraction hierarchy build, then nearest_pois per category."""
    import pandas as pd
    from pandana import Network

    net = street_network(d)
    n_cat = int(d["fac_cat"].max()) + 1
    keep = net.node_main[net.seg_u] & net.node_main[net.seg_v]
    main = np.flatnonzero(net.node_main)
    t0 = time.perf_counter()
    pnet = Network(
        pd.Series(net.node_xy[main, 0], index=main),
        pd.Series(net.node_xy[main, 1], index=main),
        pd.Series(net.seg_u[keep]),
        pd.Series(net.seg_v[keep]),
        pd.DataFrame({"seconds": net.seg_length_m[keep] / SPEED_MS}),
        twoway=True,
    )
    dnode = pnet.get_node_ids(pd.Series(d["demand_xy"][:, 0]), pd.Series(d["demand_xy"][:, 1]))
    node = np.full((n_cat, net.n_nodes), np.inf)
    for c in range(n_cat):
        sel = d["fac_cat"] == c
        pnet.set_pois(
            f"c{c}",
            CUTOFF_S,
            1,
            pd.Series(d["fac_xy"][sel, 0]),
            pd.Series(d["fac_xy"][sel, 1]),
        )
        res = pnet.nearest_pois(CUTOFF_S, f"c{c}", num_pois=1, max_distance=np.inf)
        vals = res[1].to_numpy(dtype=float)
        node[c, res.index.to_numpy()] = vals
    demand = node[:, dnode.to_numpy()].T
    seconds = time.perf_counter() - t0
    np.savez(out, demand=demand, node=node)
    return {"seconds": seconds, "covered_share": float(np.mean(demand <= CUTOFF_S))}


def _demo_osm_xml(out: Path) -> Path:
    """The demo's walk ways as an .osm XML file OSMnx can read (untimed preparation).

    OSMnx's ``graph_from_xml`` reads every way in the file, so only the ways of
    the walk network are written (our filter, which a test shows equals OSMnx's).
    """
    from xml.sax.saxutils import quoteattr

    from coverage.config import demo_study
    from coverage.network import read_osm_ways

    path = out.with_suffix(".osm")
    if path.exists():
        return path
    study = demo_study()
    assert study.inputs.network is not None
    ways = read_osm_ways(study.inputs.network, "walk")
    nodes: dict[int, tuple[float, float]] = {}
    for w in ways:
        nodes.update(zip(w.node_ids, w.lonlat, strict=True))
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    lines += [
        f'<node id="{i}" lat="{lat:.7f}" lon="{lon:.7f}"/>' for i, (lon, lat) in nodes.items()
    ]
    for k, w in enumerate(ways):
        refs = "".join(f'<nd ref="{i}"/>' for i in w.node_ids)
        lines.append(f'<way id="{k + 1}">{refs}<tag k="highway" v={quoteattr(w.highway)}/></way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_ours_osm(d: dict[str, Any], out: Path) -> dict[str, Any]:
    """Ours from the OSM file: pyosmium read and network build, then as ``ours``."""
    from coverage.config import demo_study
    from coverage.network import load_networks
    from coverage.reach import Joined, SegmentIndex, Segments, build_reach_graph, nearest

    source = demo_study().inputs.network
    n_cat = int(d["fac_cat"].max()) + 1
    t0 = time.perf_counter()
    net = load_networks(source, "EPSG:32722", modes=("walk",))["walk"]
    index = SegmentIndex(net)
    dsnap = index.snap(d["demand_xy"], SNAP_LIMIT_M)
    fsnap = index.snap(d["fac_xy"], SNAP_LIMIT_M)
    rg = build_reach_graph(
        Segments.of(net, net.segment_seconds(WALK_KMH)),
        Joined.at_speed(dsnap, SPEED_MS),
        Joined.at_speed(fsnap, SPEED_MS),
    )
    result = nearest(rg, d["fac_cat"], n_cat)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "covered_share": float(np.mean(result.cost <= CUTOFF_S)),
        "graph": f"{int(net.node_main.sum())} nodes in the main component",
    }


def run_textbook_osm(d: dict[str, Any], out: Path) -> dict[str, Any]:
    """The OSMnx recipe from the OSM file: graph_from_xml, project_graph, travel times, then as ``textbook``."""
    import networkx as nx
    import osmnx as ox

    xml = _demo_osm_xml(out)
    n_cat = int(d["fac_cat"].max()) + 1
    t0 = time.perf_counter()
    g = ox.graph_from_xml(xml, bidirectional=True, simplify=False, retain_all=False)
    g = ox.project_graph(g, to_crs="EPSG:32722")
    for _, _, data in g.edges(data=True):
        data["travel_time"] = data["length"] / SPEED_MS
    dnode = ox.distance.nearest_nodes(g, d["demand_xy"][:, 0], d["demand_xy"][:, 1])
    fnode = ox.distance.nearest_nodes(g, d["fac_xy"][:, 0], d["fac_xy"][:, 1])
    rev = g.reverse(copy=False)
    best: list[dict[int, float]] = [{} for _ in range(n_cat)]
    for f, c in zip(fnode, d["fac_cat"], strict=True):
        times = nx.single_source_dijkstra_path_length(
            rev, int(f), cutoff=CUTOFF_S, weight="travel_time"
        )
        b = best[int(c)]
        for node, s in times.items():
            if s < b.get(node, np.inf):
                b[node] = s
    demand = np.array([[b.get(int(n), np.inf) for b in best] for n in dnode]).reshape(-1, n_cat)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "covered_share": float(np.mean(demand <= CUTOFF_S)),
        "graph": f"{g.number_of_nodes()} nodes in the largest component",
    }


METHODS = {
    "ours": run_ours,
    "textbook": run_textbook,
    "pandana": run_pandana,
    "ours-osm": run_ours_osm,
    "textbook-osm": run_textbook_osm,
}
#: Methods that start from the demo's OSM file (Porto Alegre only).
OSM_METHODS = ("ours-osm", "textbook-osm")


# ----------------------------------------------------------------------------- cycling agreement

CYCLE_CRS = "EPSG:32722"
CYCLE_LIMIT_M = 1000.0
#: Agreement to the millimetre (float noise and the reference's millimetre places).
SAME_M = 1e-3
#: Differences above this are explained class by class, metres of riding.
NEAR_M = 1.0
#: A resident sent another way: a difference above this, metres.
FAR_M = 100.0
#: OSMnx's one-way values (``osmnx.graph._add_paths``), for its one-way rules.
OSMNX_ONEWAY = {"yes", "true", "1", "-1", "reverse", "T", "F"}
OSMNX_REVERSED = {"-1", "reverse", "T"}
#: Tags by which our cycling directions may differ from OSMnx's.
BIKE_TAGS = ("oneway:bicycle", "cycleway", "cycleway:left", "cycleway:right", "cycleway:both")


def _read_highways(path: Path) -> tuple[dict[int, tuple], dict[int, tuple[float, float]]]:
    """Every way with a ``highway`` tag: way id -> (node ids, tags); node id -> (lon, lat)."""
    import osmium

    ways: dict[int, tuple] = {}
    lonlat: dict[int, tuple[float, float]] = {}
    fp = osmium.FileProcessor(str(path)).with_locations()
    for obj in fp.with_filter(osmium.filter.KeyFilter("highway")):
        if not isinstance(obj, osmium.osm.Way):
            continue
        nodes = [n for n in obj.nodes if n.location.valid()]
        if len(nodes) != len(obj.nodes):
            raise ValueError(f"way {obj.id} has nodes outside the extract: not handled")
        ways[obj.id] = (tuple(n.ref for n in nodes), dict(obj.tags))
        lonlat.update((n.ref, (n.lon, n.lat)) for n in nodes)
    return ways, lonlat


def _overpass_rules(network_type: str) -> list[tuple[str, Any]]:
    """OSMnx's network filter as (key, compiled regex or None for "must exist") pairs."""
    import re

    from osmnx import _overpass

    text = _overpass._get_network_filter(network_type)
    rules: list[tuple[str, Any]] = []
    for part in re.findall(r"\[([^\]]*)\]", text):
        m = re.fullmatch(r'"([^"]+)"(?:!~"([^"]*)")?', part)
        if m is None:
            raise ValueError(f"OSMnx filter part [{part}] is not handled: {text}")
        rules.append((m[1], None if m[2] is None else re.compile(m[2])))
    return rules


def _overpass_keeps(tags: dict[str, str], rules: list[tuple[str, Any]]) -> bool:
    """Overpass semantics: ``["k"]`` needs the tag, ``["k"!~"rx"]`` drops a matching value."""
    for key, rx in rules:
        if rx is None and key not in tags:
            return False
        if rx is not None and key in tags and rx.search(tags[key]):
            return False
    return True


def _write_ways_xml(ways: dict[int, tuple], lonlat: dict, path: Path) -> Path:
    """Write ways with all their tags, and their nodes, as an .osm XML file."""
    from xml.sax.saxutils import quoteattr

    used = sorted({n for nodes, _ in ways.values() for n in nodes})
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    lines += [f'<node id="{i}" lat="{lonlat[i][1]:.7f}" lon="{lonlat[i][0]:.7f}"/>' for i in used]
    for wid, (nodes, tags) in ways.items():
        refs = "".join(f'<nd ref="{i}"/>' for i in nodes)
        tagx = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        lines.append(f'<way id="{wid}">{refs}{tagx}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _reference_graph(xml: Path):
    """OSMnx's directed graph of the file (its own one-way reading), planar lengths in the CRS."""
    import osmnx as ox

    g = ox.graph_from_xml(xml, bidirectional=False, simplify=False, retain_all=True)
    g = ox.project_graph(g, to_crs=CYCLE_CRS)
    xy = {n: (d["x"], d["y"]) for n, d in g.nodes(data=True)}
    for u, v, data in g.edges(data=True):
        data["length"] = float(np.hypot(xy[v][0] - xy[u][0], xy[v][1] - xy[u][1]))
    return g


def _osmnx_directions(tags: dict[str, str]) -> tuple[bool, bool]:
    """(forward, backward) along the node order by OSMnx's one-way rules only."""
    from osmnx import graph as ox_graph

    if not ox_graph._is_path_one_way(tags, False, OSMNX_ONEWAY):
        return True, True
    reverse = ox_graph._is_path_reversed(tags, OSMNX_REVERSED)
    return not reverse, reverse


def _segment_ways(net, path: Path, ways: dict[int, tuple]) -> np.ndarray:
    """OSM way id of each of our cycle segments (ours lists them way by way, in file order)."""
    from coverage.network import read_osm_ways

    queue: dict[tuple, list[int]] = {}
    for wid, (nodes, _) in ways.items():
        queue.setdefault(nodes, []).append(wid)
    ids, starts = [], []
    for w in read_osm_ways(path, "cycle"):
        ids += [queue[w.node_ids].pop(0)] * (len(w.node_ids) - 1)
        starts += w.node_ids[:-1]
    if not np.array_equal(net.node_osmid[net.seg_u], starts):
        raise RuntimeError("our cycle segments are not listed way by way in file order")
    return np.asarray(ids, dtype=np.int64)


def _ours_cycle(net, pts: dict[str, Any], segments=None, **tie: float) -> dict[str, Any]:
    """Our nearest-facility distances by bicycle, metres (access and egress legs included).

    ``segments``: which segments points may snap to (default: the main component's).
    """
    from coverage.reach import Joined, SegmentIndex, Segments, build_reach_graph, nearest

    index = SegmentIndex(net, segments)
    dsnap = index.snap(pts["demand_xy"], CYCLE_LIMIT_M)
    fsnap = index.snap(pts["fac_xy"], CYCLE_LIMIT_M)
    rg = build_reach_graph(Segments.of(net), Joined.at_speed(dsnap), Joined.at_speed(fsnap), **tie)
    res = nearest(rg, pts["fac_cat"], pts["n_cat"])
    return {"cost": res.cost, "facility": res.facility, "dsnap": dsnap, "fsnap": fsnap}


def _reference_snaps(g, xy: np.ndarray) -> list[tuple | None]:
    """Nearest edge by ``osmnx.distance.nearest_edges``, the place on it, the access leg.

    Each snap is ``(a, b, node, mm, access_m)``: the edge's end nodes (lower OSM
    id first), the point's node (``a``, ``b`` or a place node inserted by
    :func:`_reference_split`), its place along the edge from ``a`` in whole
    millimetres, and the straight leg; ``None`` beyond the snapping limit.
    """
    import osmnx as ox

    edges = ox.distance.nearest_edges(g, xy[:, 0], xy[:, 1])
    out: list[tuple | None] = []
    for (u, v, _), p in zip(edges, xy, strict=True):
        a, b = sorted((int(u), int(v)))
        pa = np.array([g.nodes[a]["x"], g.nodes[a]["y"]])
        ab = np.array([g.nodes[b]["x"], g.nodes[b]["y"]]) - pa
        den = float(ab @ ab)
        t = min(max(float((p - pa) @ ab) / den, 0.0), 1.0) if den > 0 else 0.0
        access = float(np.hypot(*(p - pa - t * ab)))
        mm, end_mm = round(t * den**0.5 * 1000), round(den**0.5 * 1000)
        node = a if mm <= 0 else b if mm >= end_mm else ("s", a, b, mm)
        out.append((a, b, node, mm, access) if access <= CYCLE_LIMIT_M else None)
    return out


def _reference_split(g, snaps: list[tuple | None]):
    """A copy of ``g`` with every snap place a node, splitting its edge in each direction it has."""
    h = g.copy()
    places: dict[tuple[int, int], set] = {}
    for s in snaps:
        if s is not None and isinstance(s[2], tuple):
            places.setdefault((s[0], s[1]), set()).add(s[3])
    for (a, b), mms in places.items():
        inner = sorted(mms)
        chain = [a, *[("s", a, b, mm) for mm in inner], b]
        at = [0.0, *[mm / 1000 for mm in inner], 0.0]
        for x, y in ((a, b), (b, a)):
            if not h.has_edge(x, y):
                continue
            data = dict(next(iter(h[x][y].values())))
            at[-1] = data["length"]
            h.remove_edges_from([(x, y, k) for k in list(h[x][y])])
            nodes, pos = (chain, at) if x == a else (chain[::-1], [at[-1] - m for m in at[::-1]])
            for i in range(len(nodes) - 1):
                h.add_edge(nodes[i], nodes[i + 1], **{**data, "length": pos[i + 1] - pos[i]})
    return h


def _reference_cycle(g, pts: dict[str, Any]) -> dict[str, Any]:
    """Reference distances, metres: split graph, multi-source NetworkX Dijkstra per category."""
    import networkx as nx

    dsnap = _reference_snaps(g, pts["demand_xy"])
    fsnap = _reference_snaps(g, pts["fac_xy"])
    rev = _reference_split(g, dsnap + fsnap).reverse(copy=True)
    for i, s in enumerate(fsnap):
        if s is not None:  # the egress leg, reversed: facility -> its place
            rev.add_edge(("f", i), s[2], length=s[4])
    nd, n_cat = len(dsnap), pts["n_cat"]
    cost, which = np.full((nd, n_cat), np.inf), np.full((nd, n_cat), -1)
    path_ways: dict[tuple[int, int], list[int]] = {}
    for c in range(n_cat):
        src = [("f", i) for i, s in enumerate(fsnap) if s is not None and pts["fac_cat"][i] == c]
        dist, route = nx.multi_source_dijkstra(rev, src, weight="length")
        for i, s in enumerate(dsnap):
            if s is not None and s[2] in dist:
                cost[i, c] = s[4] + dist[s[2]]
                which[i, c] = route[s[2]][0][1]
                path_ways[i, c] = _path_ways(rev, route[s[2]][1:])
    return {"cost": cost, "facility": which, "dsnap": dsnap, "fsnap": fsnap, "ways": path_ways}


def _path_ways(rev, path: list) -> list[int]:
    """OSM way ids along a path of the reversed reference graph, each once, in order."""
    from itertools import pairwise

    ways = (next(iter(rev[p][q].values()))["osmid"] for p, q in pairwise(path))
    return list(dict.fromkeys(ways))


def _node_agreement(net, g, pts: dict[str, Any]) -> dict[str, Any]:
    """Node to node: facilities at their nearest main-component node, every node reached by both."""
    import networkx as nx

    ours = _ours_node_to_node(net, pts, pts["n_cat"], seg_cost=net.seg_length_m)
    fnode = _nearest_node(net.node_xy, pts["fac_xy"], net.node_main)
    index = {int(o): i for i, o in enumerate(net.node_osmid)}
    common = [n for n in g.nodes if n in index]
    at = np.array([index[n] for n in common])
    rev = g.reverse(copy=False)
    out = {"common_nodes": len(common), "compared": 0, "reached_by_one": 0}
    out |= {"max_diff_m": 0.0, "over_1mm": 0}
    for c in range(pts["n_cat"]):
        src = {int(net.node_osmid[f]) for f in fnode[pts["fac_cat"] == c]}
        dist = nx.multi_source_dijkstra_path_length(rev, src, weight="length")
        r = np.array([dist.get(n, np.inf) for n in common])
        o = ours[c, at]
        both = np.isfinite(o) & np.isfinite(r)
        diff = np.abs(o[both] - r[both])
        out["compared"] += int(both.sum())
        out["reached_by_one"] += int((np.isfinite(o) != np.isfinite(r)).sum())
        out["max_diff_m"] = max(out["max_diff_m"], float(diff.max(initial=0.0)))
        out["over_1mm"] += int((diff > SAME_M).sum())
    return out


def _compare(ours: np.ndarray, ref: np.ndarray) -> dict[str, Any]:
    """Demand point by category: how ours and the reference agree, metres."""
    fin = np.isfinite(ours) & np.isfinite(ref)
    d = ours[fin] - ref[fin]
    return {
        "pairs": int(ours.size),
        "compared": int(fin.sum()),
        "ours_unreached": int((~np.isfinite(ours) & np.isfinite(ref)).sum()),
        "ref_unreached": int((np.isfinite(ours) & ~np.isfinite(ref)).sum()),
        "within_1mm": int((np.abs(d) <= SAME_M).sum()),
        "within_1m": int((np.abs(d) <= NEAR_M).sum()),
        "ours_farther_100m": int((d > FAR_M).sum()),
        "ref_farther_100m": int((d < -FAR_M).sum()),
        "max_ours_farther_m": float(max(d.max(initial=0.0), 0.0)),
        "max_ref_farther_m": float(max(-d.min(initial=0.0), 0.0)),
    }


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairs that differ by more than :data:`NEAR_M` (or are reached by one only)."""
    fin = np.isfinite(a) & np.isfinite(b)
    gap = np.abs(np.where(fin, a, 0.0) - np.where(fin, b, 0.0)) > NEAR_M
    return gap | (np.isfinite(a) != np.isfinite(b))


#: Reruns of ours, each taking back rules of ours, and the class of a difference it removes
#: (tested in this order).
CYCLE_RERUNS = (
    ("ours, tie 0", "tie"),
    ("osmnx dirs", "bike"),
    ("osmnx dirs, tie 0", "bike+tie"),
    ("any piece", "component"),
    ("any piece, osmnx dirs, tie 0", "component+rules"),
)
#: What each class means.
CYCLE_CLASSES = {
    "tie": "one-way tie: ours lets a point reach a facility less than 1 m behind it on a "
    "one-way segment; the reference only shares a node between points at the same millimetre "
    "(gone with oneway_tie_m=0)",
    "bike": "bicycle one-way tags: ours follows oneway:bicycle (and cycleway*=opposite*), OSMnx "
    "reads oneway and junction only (gone with OSMnx's directions)",
    "bike+tie": "both rules at once (gone with OSMnx's directions and oneway_tie_m=0)",
    "component": "ours snaps to the largest strongly connected component only, the reference "
    "(retain_all) to any piece (gone when ours may snap to every segment)",
    "component+rules": "the component rule with one or both rules above (gone with every "
    "segment, OSMnx's directions and oneway_tie_m=0)",
    "filter": "the reference snapped onto a way our cycle filter drops",
    "snap": "another nearest edge or place for the point or a facility (ties between "
    "overlapping segments)",
    "other": "unexplained",
}


def _ours_place(net, snaps, i: int) -> tuple | None:
    """Our snap of point ``i``: (end OSM ids, xy, inside the segment)."""
    seg = int(snaps.segment[i])
    if seg < 0:
        return None
    u, v, f = net.seg_u[seg], net.seg_v[seg], float(snaps.fraction[i])
    ends = tuple(sorted((int(net.node_osmid[u]), int(net.node_osmid[v]))))
    return ends, net.node_xy[u] * (1 - f) + net.node_xy[v] * f, 0.0 < f < 1.0


def _ref_place(g, snap: tuple | None) -> tuple | None:
    """The reference's snap as (end OSM ids, xy, inside the edge)."""
    if snap is None:
        return None
    a, b, node, mm, _ = snap
    pa = np.array([g.nodes[a]["x"], g.nodes[a]["y"]])
    ab = np.array([g.nodes[b]["x"], g.nodes[b]["y"]]) - pa
    length = float(np.hypot(*ab))
    return (a, b), pa + ab * (mm / 1000 / length if length > 0 else 0.0), isinstance(node, tuple)


def _snap_class(ours: tuple | None, ref: tuple | None, edges: dict[str, set]) -> str | None:
    """Why two snaps of one point differ, or ``None`` when they are the same place."""
    if ref is not None and ref[0] not in edges["all"]:
        return "filter"
    if ref is not None and ref[0] not in edges["main"] and (ours is None or ours[0] != ref[0]):
        return "component"
    if (ours is None) != (ref is None):
        return "snap"
    if ours is None or ref is None:
        return None
    far = float(np.hypot(*(ours[1] - ref[1]))) > SAME_M
    return "snap" if far or (ours[0] != ref[0] and ours[2] and ref[2]) else None


def _classify(i: int, c: int, ctx: dict[str, Any]) -> str:
    """The class of a demand point and category where ours and the reference differ."""
    runs, ref = ctx["runs"], ctx["ref"]
    r = ref["cost"][i : i + 1, c]
    for name, cls in CYCLE_RERUNS:
        if not _differs(runs[name]["cost"][i : i + 1, c], r)[0]:
            return cls
    net, g, ours = ctx["net"], ctx["g"], runs["ours"]
    pairs = [(_ours_place(net, ours["dsnap"], i), _ref_place(g, ref["dsnap"][i]))]
    for f in {int(ours["facility"][i, c]), int(ref["facility"][i, c])} - {-1}:
        pairs.append((_ours_place(net, ours["fsnap"], f), _ref_place(g, ref["fsnap"][f])))
    found = [_snap_class(o, x, ctx["edges"]) for o, x in pairs]
    for cls in ("filter", "component", "snap"):
        if cls in found:
            return cls
    return "other"


def _class_table(ctx: dict[str, Any]) -> tuple[dict[str, dict], list[dict]]:
    """Classify every difference of the default run; per class: counts and largest gaps.

    For the tie classes, ``max_apart_m`` is the largest straight distance between
    a resident and the facility ours reaches through the tie.
    """
    ours, ref = ctx["runs"]["ours"], ctx["ref"]["cost"]
    pts = ctx["pts"]
    table: dict[str, dict] = {}
    examples: list[dict] = []
    for i, c in zip(*np.nonzero(_differs(ours["cost"], ref)), strict=True):
        cls = _classify(int(i), int(c), ctx)
        d = float(ours["cost"][i, c] - ref[i, c])
        row = table.setdefault(
            cls, dict.fromkeys(("pairs", "ours_unreached", "ref_unreached", "ours_100m"), 0)
        )
        row["pairs"] += 1
        row["ours_unreached"] += int(d == np.inf)
        row["ref_unreached"] += int(d == -np.inf)
        if np.isfinite(d):
            row["ours_100m"] += int(d > FAR_M)
            row["max_ours_m"] = max(row.get("max_ours_m", 0.0), d)
            row["max_ref_m"] = max(row.get("max_ref_m", 0.0), -d)
        if cls.endswith("tie"):
            f = ours["facility"][i, c]
            apart = float(np.hypot(*(pts["demand_xy"][i] - pts["fac_xy"][f])))
            row["max_apart_m"] = max(row.get("max_apart_m", 0.0), apart)
        examples.append({"class": cls, "point": int(i), "category": int(c), "diff_m": d})
    return table, examples


def _example_line(e: dict[str, Any], ctx: dict[str, Any]) -> str:
    """One difference, with what a person needs to look at it on a map."""
    from pyproj import Transformer

    i, c = e["point"], e["category"]
    x, y = ctx["pts"]["demand_xy"][i]
    lon, lat = Transformer.from_crs(CYCLE_CRS, "EPSG:4326", always_xy=True).transform(x, y)
    ours, ref = ctx["runs"]["ours"], ctx["ref"]
    o, r = _ours_place(ctx["net"], ours["dsnap"], i), _ref_place(ctx["g"], ref["dsnap"][i])
    tagged = [w for w in ref["ways"].get((i, c), []) if _bike_tags(ctx["tags"][w])]
    tagged_text = "; ".join(f"way {w}: {_bike_tags(ctx['tags'][w])}" for w in tagged[:3])
    return (
        f"      [{e['class']}] point {i} ({x:.1f}, {y:.1f}) = {lat:.6f}, {lon:.6f}, "
        f"{ctx['pts']['cats'][c]}: ours {ours['cost'][i, c]:.1f} m (facility "
        f"{ours['facility'][i, c]}, snap {o[0] if o else None}), reference "
        f"{ref['cost'][i, c]:.1f} m (facility {ref['facility'][i, c]}, snap "
        f"{r[0] if r else None}); reference path over {len(tagged)} bicycle-tagged ways "
        f"{tagged_text}"
    )


def _bike_tags(tags: dict[str, str]) -> str:
    """The tags by which our cycling directions may differ from OSMnx's, as ``k=v`` text.

    ``oneway:bicycle`` with any value, and contraflow ``cycleway*=opposite*``.
    """
    keep = [k for k in BIKE_TAGS if k in tags]
    keep = [k for k in keep if k == "oneway:bicycle" or tags[k].startswith("opposite")]
    return ", ".join(f"{k}={tags[k]}" for k in keep)


def _directed_pairs(net) -> set[tuple[int, int]]:
    """Our segments as directed OSM node pairs (zero-length loops left out)."""
    u, v = net.node_osmid[net.seg_u], net.node_osmid[net.seg_v]
    fwd = {(int(a), int(b)) for a, b in zip(u[net.seg_forward], v[net.seg_forward], strict=True)}
    bwd = {(int(b), int(a)) for a, b in zip(u[net.seg_backward], v[net.seg_backward], strict=True)}
    return {p for p in fwd | bwd if p[0] != p[1]}


def _network_summary(net, osmnx_net, g, seg_way: np.ndarray, ctx: dict[str, Any]) -> dict:
    """How the two graphs compare before any routing: ways kept, directed edges, one-way reading."""
    from collections import Counter

    ref_pairs = {(int(u), int(v)) for u, v in g.edges()}
    ours_ways, ref_ways = set(seg_way.tolist()), set(ctx["bike"])
    changed = (net.seg_forward != osmnx_net.seg_forward) | (
        net.seg_backward != osmnx_net.seg_backward
    )
    reasons = Counter(_bike_tags(ctx["tags"][w]) for w in set(seg_way[changed].tolist()))
    return {
        "ways": (len(ours_ways), len(ref_ways), len(ours_ways ^ ref_ways)),
        "edges_ours": len(_directed_pairs(net) ^ ref_pairs),
        "edges_osmnx_dirs": len(_directed_pairs(osmnx_net) ^ ref_pairs),
        "ref_edges": len(ref_pairs),
        "changed_segments": int(changed.sum()),
        "changed_ways_by_tag": dict(reasons.most_common()),
    }


def _edge_sets(net) -> dict[str, set]:
    """Our segments as undirected OSM node pairs: all of them, and the main component's."""
    ends = np.sort(np.column_stack([net.node_osmid[net.seg_u], net.node_osmid[net.seg_v]]), 1)
    pairs = [(int(a), int(b)) for a, b in ends]
    return {"all": set(pairs), "main": {p for p, m in zip(pairs, net.seg_main, strict=True) if m}}


def _cycle_setup() -> dict[str, Any]:
    """Ours, the OSMnx reference and ours with OSMnx's one-way reading, on the demo."""
    from dataclasses import replace

    from coverage.config import demo_study
    from coverage.network import load_networks

    path = demo_study().inputs.network
    assert path is not None
    demand_xy, fac_xy, code, cats = _demo_points(CYCLE_CRS)
    pts = {"demand_xy": demand_xy, "fac_xy": fac_xy, "fac_cat": code}
    pts |= {"n_cat": len(cats), "cats": cats}
    net = load_networks(path, CYCLE_CRS, modes=("cycle",))["cycle"]
    ways, lonlat = _read_highways(path)
    rules = _overpass_rules("bike")
    bike = {w: x for w, x in ways.items() if _overpass_keeps(x[1], rules)}
    with tempfile.TemporaryDirectory() as tmp:
        g = _reference_graph(_write_ways_xml(bike, lonlat, Path(tmp) / "bike.osm"))
    seg_way = _segment_ways(net, path, ways)
    dirs = np.array([_osmnx_directions(ways[w][1]) for w in seg_way], dtype=bool).reshape(-1, 2)
    osmnx_net = replace(net, seg_forward=dirs[:, 0], seg_backward=dirs[:, 1])
    ctx = {"pts": pts, "net": net, "g": g, "bike": bike, "edges": _edge_sets(net)}
    ctx["tags"] = {w: t for w, (_, t) in ways.items()}
    ctx["summary"] = _network_summary(net, osmnx_net, g, seg_way, ctx)
    ctx["osmnx_net"] = osmnx_net
    return ctx


def cycle_agreement() -> dict[str, Any]:
    """Directed cycling on the demo: ours against an independent OSMnx bike graph.

    Returns
    -------
    dict
        The figures printed: graphs, node-to-node and point-by-point agreement,
        and the classes of difference.
    """
    t0 = time.perf_counter()
    ctx = _cycle_setup()
    net, osmnx_net, g, pts = ctx["net"], ctx["osmnx_net"], ctx["g"], ctx["pts"]
    nodes = {
        "ours": _node_agreement(net, g, pts),
        "osmnx dirs": _node_agreement(osmnx_net, g, pts),
    }
    every = np.ones(net.n_segments, dtype=bool)
    ctx["runs"] = {
        "ours": _ours_cycle(net, pts),
        "ours, tie 0": _ours_cycle(net, pts, oneway_tie_m=0.0),
        "osmnx dirs": _ours_cycle(osmnx_net, pts),
        "osmnx dirs, tie 0": _ours_cycle(osmnx_net, pts, oneway_tie_m=0.0),
        "any piece": _ours_cycle(net, pts, every),
        "any piece, osmnx dirs, tie 0": _ours_cycle(osmnx_net, pts, every, oneway_tie_m=0.0),
    }
    ctx["ref"] = _reference_cycle(g, pts)
    compare = {k: _compare(r["cost"], ctx["ref"]["cost"]) for k, r in ctx["runs"].items()}
    table, examples = _class_table(ctx)
    out = {"summary": ctx["summary"], "nodes": nodes, "points": compare, "classes": table}
    out["seconds"] = time.perf_counter() - t0
    _print_cycle(out, ctx, examples)
    return out


def _print_cycle(out: dict[str, Any], ctx: dict[str, Any], examples: list[dict]) -> None:
    """Print the cycling agreement figures."""
    s, net, g = out["summary"], ctx["net"], ctx["g"]
    print(
        f"cycling agreement (directed), Porto Alegre demo, {CYCLE_CRS}, snapping limit "
        f"{CYCLE_LIMIT_M:g} m, costs in metres of riding"
    )
    print(
        f"  ours: {net.n_nodes:,} nodes, {net.n_segments:,} segments "
        f"({int((net.seg_forward ^ net.seg_backward).sum()):,} one-way), main component "
        f"{int(net.node_main.sum()):,} nodes; reference (osmnx.graph_from_xml, retain_all): "
        f"{g.number_of_nodes():,} nodes, {s['ref_edges']:,} directed edges"
    )
    print(
        f"  ways kept: ours {s['ways'][0]:,}, OSMnx's bike filter {s['ways'][1]:,}, by one "
        f"only {s['ways'][2]}; directed edges not in both: {s['edges_ours']:,} with our one-way "
        f"reading, {s['edges_osmnx_dirs']:,} with OSMnx's"
    )
    print(f"  segments our bicycle rules turn another way: {s['changed_segments']:,}, ways by tag:")
    for tag, n in s["changed_ways_by_tag"].items():
        print(f"    {n:5d}  {tag}")
    print("  node to node (facilities at their nearest node), nodes reached by both:")
    for name, r in out["nodes"].items():
        print(
            f"    {name:<12} {r['compared']:,} node-category pairs, reached by one only "
            f"{r['reached_by_one']:,}, max difference {r['max_diff_m']:.4f} m, "
            f"over 1 mm {r['over_1mm']:,}"
        )
    _print_points(out["points"], ctx)
    _print_classes(out["classes"], examples, ctx)
    _print_verdict(out["classes"], ctx)
    print(f"  took {out['seconds']:.1f} s")


def _print_verdict(table: dict[str, dict], ctx: dict[str, Any]) -> None:
    """Who ours sends farther than the reference, and what the tie rule changes."""
    far = {cls: r["ours_100m"] for cls, r in table.items() if r["ours_100m"]}
    odd = sum(n for cls, n in far.items() if cls in ("filter", "snap", "other"))
    print(
        f"  ours farther than the reference by > {FAR_M:g} m (default run): "
        f"{sum(far.values())} pairs, by class {far or '{}'}; not explained by a rule: {odd}"
    )
    ours, tie0 = (ctx["runs"][k]["cost"] for k in ("ours", "ours, tie 0"))
    ref = ctx["ref"]["cost"]
    fin = np.isfinite(tie0) & np.isfinite(ref)
    gap = np.where(fin, tie0, 0.0) - np.where(fin, ref, 0.0)
    fixed = np.argwhere((gap > FAR_M) & ~_differs(ours, ref))
    print(
        f"  the tie rule's fix: {len(fixed)} pairs sent round the block with oneway_tie_m=0 "
        f"(> {FAR_M:g} m farther than the reference) agree with it by default:"
    )
    for i, c in fixed:
        print(
            f"      point {i} {ctx['pts']['cats'][c]}: tie 0 {tie0[i, c]:.1f} m, default "
            f"{ours[i, c]:.1f} m, reference {ref[i, c]:.1f} m"
        )


def _print_points(points: dict[str, dict], ctx: dict[str, Any]) -> None:
    """The point-by-point table, one row per run of ours."""
    pts = ctx["pts"]
    print(
        f"  demand point by category ({len(pts['demand_xy']):,} points x {pts['n_cat']} "
        f"categories, {len(pts['fac_xy'])} facilities): ours minus reference"
    )
    print(
        f"    {'ours run':<28} {'compared':>8} {'ours inf':>8} {'ref inf':>7} {'<=1 mm':>7} "
        f"{'<=1 m':>7} {'ours >100 m':>11} {'ref >100 m':>10} {'max ours+':>10} {'max ref+':>10}"
    )
    for name, r in points.items():
        print(
            f"    {name:<28} {r['compared']:8,} {r['ours_unreached']:8,} "
            f"{r['ref_unreached']:7,} {r['within_1mm']:7,} "
            f"{r['within_1m']:7,} {r['ours_farther_100m']:11,} {r['ref_farther_100m']:10,} "
            f"{r['max_ours_farther_m']:10.1f} {r['max_ref_farther_m']:10.1f}"
        )


def _print_classes(table: dict[str, dict], examples: list[dict], ctx: dict[str, Any]) -> None:
    """The classes of difference of the default run, and a few examples of each."""
    print(f"  differences over {NEAR_M:g} m in the default run, by class:")
    print(
        f"    {'class':<16} {'pairs':>5} {'ours inf':>8} {'ref inf':>7} {'ours >100 m':>11} "
        f"{'max ours+':>9} {'max ref+':>8}"
    )
    for cls, meaning in CYCLE_CLASSES.items():
        if cls in table:
            r = table[cls]
            print(
                f"    {cls:<16} {r['pairs']:5d} {r['ours_unreached']:8d} {r['ref_unreached']:7d} "
                f"{r['ours_100m']:11d} "
                f"{r.get('max_ours_m', 0.0):9.1f} {r.get('max_ref_m', 0.0):8.1f}  {meaning}"
            )
    apart = [r["max_apart_m"] for r in table.values() if "max_apart_m" in r]
    if apart:
        print(
            f"    (tie classes: every resident within {max(apart) * 1000:.1f} mm of its facility)"
        )
    print("  examples: per class the largest gaps ours farther (2), reference farther, unreached")
    for cls in CYCLE_CLASSES:
        mine = sorted((e for e in examples if e["class"] == cls), key=lambda e: -e["diff_m"])
        fin = [e for e in mine if np.isfinite(e["diff_m"])]
        pick = [e for e in fin[:2] if e["diff_m"] > 0] + [e for e in fin[-1:] if e["diff_m"] < 0]
        pick += [e for e in mine if not np.isfinite(e["diff_m"])][:1]
        for e in pick if cls not in ("filter", "snap", "other") else mine[:6]:
            print(_example_line(e, ctx))


# ----------------------------------------------------------------------------- driver


def child(method: str, key: str, out: Path) -> None:
    """Run one method on one input and print a JSON line."""
    t0 = time.perf_counter()
    d = load_input(key)
    build_s = time.perf_counter() - t0
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res = METHODS[method](d, out)
    res["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res["input_peak_mb"] = base_mb
    res["input_s"] = build_s
    res["nodes"] = int(d["node_xy"].shape[0])
    res["segments"] = int(d["u"].size)
    res["demand_points"] = int(d["demand_xy"].shape[0])
    res["facilities"] = int(d["fac_xy"].shape[0])
    res["categories"] = int(d["fac_cat"].max()) + 1
    res["name"] = d["name"]
    print("RESULT " + json.dumps(res))


def spawn(method: str, key: str, out: Path, timeout_s: float) -> dict[str, Any] | None:
    cmd = [sys.executable, __file__, "--child", method, key, str(out)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout_s:.0f} s"}
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
        return {"error": tail[0][:120]}
    # pandana prints progress on stdout without line breaks: take the text after the marker
    return json.loads(proc.stdout.rsplit("RESULT ", 1)[1].splitlines()[0])


def agreement(a: Path, b: Path) -> dict[str, Any]:
    """Compare node times within the cutoff: same nodes reached, max difference in metres."""
    x = np.load(a)["node"]
    y = np.load(b)["node"]
    in_x, in_y = x <= CUTOFF_S, np.isfinite(y) & (y <= CUTOFF_S)
    # nodes within a hair of the cutoff may fall either side through rounding
    edge = np.abs(np.where(np.isfinite(x), x, 1e18) - CUTOFF_S) < 1e-6
    mismatch = int(((in_x != in_y) & ~edge).sum())
    both = in_x & in_y
    diff_m = float(np.max(np.abs(x[both] - y[both])) * SPEED_MS) if both.any() else 0.0
    return {"nodes_compared": int(both.sum()), "reach_mismatch": mismatch, "max_diff_m": diff_m}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", nargs="+", default=["poa", "1e4", "1e5", "1e6"])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument(
        "--pandana-max-nodes",
        type=float,
        default=2e5,
        help="skip pandana above this many nodes (its hierarchy build took over 25 min at 1e6)",
    )
    ap.add_argument(
        "--textbook-max-nodes",
        type=float,
        default=2e5,
        help="skip the NetworkX recipe above this many nodes (it needs hours and >10 GB)",
    )
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per child run")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    ap.add_argument(
        "--cycle-agreement",
        action="store_true",
        help="only the directed cycling check on the demo: ours against an OSMnx bike graph",
    )
    ap.add_argument("--child", nargs=3, metavar=("METHOD", "INPUT", "OUT"), help=argparse.SUPPRESS)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]))
        return 0
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    if args.cycle_agreement:
        figures = cycle_agreement()
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
        return 0
    print(f"walk {WALK_KMH} km/h, cutoff {CUTOFF_MIN:g} min, snapping limit {SNAP_LIMIT_M:g} m")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.inputs:
            n = None if key == "poa" else float(key)
            results: dict[str, Any] = {}
            for method in args.methods:
                if method in OSM_METHODS and key != "poa":
                    continue
                limit = {"textbook": args.textbook_max_nodes, "pandana": args.pandana_max_nodes}
                if n is not None and n > limit.get(method, np.inf):
                    results[method] = {"error": f"skipped above {limit[method]:.0e} nodes"}
                    continue
                out = Path(tmp) / f"{key}-{method}.npz"
                results[method] = spawn(method, key, out, args.timeout)
                r = results[method]
                msg = r.get("error") or f"{r['seconds']:.3f} s, peak {r['peak_mb']:.0f} MB"
                print(f"  {key:>4} {method:<12} {msg}", flush=True)
            checks = {}
            for other in ("textbook", "pandana"):
                if "error" not in results.get("ours", {"error": 1}) and "error" not in results.get(
                    other, {"error": 1}
                ):
                    checks[other] = agreement(
                        Path(tmp) / f"{key}-ours.npz", Path(tmp) / f"{key}-{other}.npz"
                    )
            rows.append({"input": key, "results": results, "agreement": checks})
            _print_row(rows[-1])
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


def _print_row(row: dict[str, Any]) -> None:
    res = row["results"]
    ours = res.get("ours", {})
    head = next((r for r in res.values() if "name" in r), {})
    print(
        f"{head.get('name', row['input'])}: {head.get('nodes', 0):,} nodes, "
        f"{head.get('segments', 0):,} segments, {head.get('demand_points', 0):,} demand points, "
        f"{head.get('facilities', 0):,} facilities in {head.get('categories', 0)} categories"
    )
    for method, r in res.items():
        if "error" in r:
            print(f"    {method:<12} {r['error']}")
            continue
        ratio = ""
        base = res.get("ours-osm", {}) if method.endswith("-osm") else ours
        if not method.startswith("ours") and "seconds" in base:
            ratio = f"  {'ours-osm' if method.endswith('-osm') else 'ours'} is "
            ratio += f"{r['seconds'] / base['seconds']:.1f}x faster"
        if "graph" in r:
            ratio += f"  [{r['graph']}]"
        print(
            f"    {method:<12} {r['seconds']:9.3f} s  peak {r['peak_mb']:7.0f} MB "
            f"(inputs {r['input_peak_mb']:.0f} MB){ratio}"
        )
    for other, c in row["agreement"].items():
        print(
            f"    agreement with {other}: {c['nodes_compared']:,} nodes within the cutoff, "
            f"max difference {c['max_diff_m'] * 100:.4f} cm, reach mismatches {c['reach_mismatch']}"
        )


if __name__ == "__main__":
    sys.exit(main())
