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

Usage::

    python benchmarks/bench_reach.py                      # all inputs
    python benchmarks/bench_reach.py --inputs poa 1e4     # a subset
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
    demand_xy, fac_xy, code = _demo_points(crs)
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


def _demo_points(crs: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The demo's demand points, facilities and facility category codes (sorted names), in ``crs``."""
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
    from coverage.reach import SegmentIndex, build_reach_graph, nearest

    net = street_network(d)
    n_cat = int(d["fac_cat"].max()) + 1
    t0 = time.perf_counter()
    index = SegmentIndex(net)
    dsnap = index.snap(d["demand_xy"], SNAP_LIMIT_M)
    fsnap = index.snap(d["fac_xy"], SNAP_LIMIT_M)
    rg = build_reach_graph(
        net.node_xy,
        net.seg_u,
        net.seg_v,
        net.segment_seconds(WALK_KMH),
        net.seg_forward,
        net.seg_backward,
        dsnap,
        dsnap.access_m / SPEED_MS,
        fsnap,
        fsnap.access_m / SPEED_MS,
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
    """Node costs with facilities moved to their nearest main-component node (seconds walking)."""
    from coverage.reach import Snaps, build_reach_graph, nearest

    if seg_cost is None:
        seg_cost = net.segment_seconds(WALK_KMH)

    fnode = _nearest_node(net.node_xy, d["fac_xy"], net.node_main)
    # a facility exactly on a node: snap to that node as the start of one of its segments
    seg_of = np.full(net.n_nodes, -1, dtype=np.int64)
    seg_of[net.seg_v[::-1]] = np.arange(net.n_segments)[::-1]
    seg_of[net.seg_u[::-1]] = np.arange(net.n_segments)[::-1]
    at_u = net.seg_u[seg_of[fnode]] == fnode
    fsnap = Snaps(seg_of[fnode], np.where(at_u, 0.0, 1.0), np.zeros(fnode.size))
    none = Snaps(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    rg = build_reach_graph(
        net.node_xy,
        net.seg_u,
        net.seg_v,
        seg_cost,
        net.seg_forward,
        net.seg_backward,
        none,
        np.zeros(0),
        fsnap,
        np.zeros(fnode.size),
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
    from coverage.reach import SegmentIndex, build_reach_graph, nearest

    source = demo_study().inputs.network
    n_cat = int(d["fac_cat"].max()) + 1
    t0 = time.perf_counter()
    net = load_networks(source, "EPSG:32722", modes=("walk",))["walk"]
    index = SegmentIndex(net)
    dsnap = index.snap(d["demand_xy"], SNAP_LIMIT_M)
    fsnap = index.snap(d["fac_xy"], SNAP_LIMIT_M)
    rg = build_reach_graph(
        net.node_xy,
        net.seg_u,
        net.seg_v,
        net.segment_seconds(WALK_KMH),
        net.seg_forward,
        net.seg_backward,
        dsnap,
        dsnap.access_m / SPEED_MS,
        fsnap,
        fsnap.access_m / SPEED_MS,
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


def main(argv: list[str] | None = None) -> int:
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
    ap.add_argument("--child", nargs=3, metavar=("METHOD", "INPUT", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]))
        return 0

    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
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
