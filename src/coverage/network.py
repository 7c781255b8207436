"""Street networks for walking and cycling, as arrays of straight segments.

A network is built from OpenStreetMap ways: each pair of consecutive way nodes
is one straight *segment* with its length in metres (planar, in the study CRS,
like access legs and straight lines) and the directions it may be travelled in. Ways are kept
or dropped by filters equivalent to OSMnx's ``walk`` and ``bike`` network types
(see :func:`keeps_way`). Walking is undirected; cycling respects one-way rules,
``oneway:bicycle=no`` and contraflow cycleway tags.

Sources: an OSM file read with pyosmium (``.osm.pbf``, ``.osm``, ``.osm.bz2``),
a GraphML file written by OSMnx, or an OSMnx download for the study area.

Downloads (see :func:`load_networks`) are retried with exponential backoff
when the failure may pass (no connection, timeouts, HTTP 429/5xx), and are
saved as GraphML in a cache folder (:func:`default_cache_dir`), keyed by the
study area, the network type, the kept tags and the OSMnx version: a later
run for the same area reads the file and makes no request, offline too. That
download side (OSMnx requests, retries, failure kinds, the cache and the
provenance of a download) lives in the private :mod:`coverage._download`;
its public names are re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from coverage import _download
from coverage._download import (
    CACHE_ENV,
    DEFAULT_ATTEMPTS,
    DEFAULT_RETRY_DELAY_S,
    FailureKind,
    default_cache_dir,
)
from coverage.errors import NetworkError
from coverage.terms import MODES, Mode

__all__ = [
    "CACHE_ENV",
    "DEFAULT_ATTEMPTS",
    "DEFAULT_RETRY_DELAY_S",
    "MODES",
    "PUSH_HIGHWAYS",
    "FailureKind",
    "Mode",
    "StreetNetwork",
    "Way",
    "default_cache_dir",
    "keeps_way",
    "load_network",
    "load_networks",
    "network_from_ways",
    "push_ways_from_osmnx_graph",
    "read_osm_ways",
    "read_osm_ways_by_mode",
    "way_directions",
    "ways_from_osmnx_graph",
]

# OSMnx 2.x network-type filters (osmnx._overpass._get_network_filter), written
# out as (key, regex) pairs: a way is dropped when the tag's value *contains* a
# match, exactly like Overpass's ``["key"!~"regex"]``.
_ACCESS = [("access", "private")]
_FILTERS: dict[Mode, list[tuple[str, str]]] = {
    "walk": [
        ("area", "yes"),
        *_ACCESS,
        (
            "highway",
            "abandoned|bus_guideway|construction|cycleway|motor|no|planned|platform|"
            "proposed|raceway|razed|rest_area|services",
        ),
        ("foot", "no"),
        ("service", "private"),
        ("sidewalk", "separate"),
        ("sidewalk:both", "separate"),
        ("sidewalk:left", "separate"),
        ("sidewalk:right", "separate"),
    ],
    "cycle": [
        ("area", "yes"),
        *_ACCESS,
        (
            "highway",
            "abandoned|bus_guideway|construction|corridor|elevator|escalator|footway|"
            "motor|no|planned|platform|proposed|raceway|razed|rest_area|services|steps",
        ),
        ("bicycle", "no"),
        ("service", "private"),
    ],
}
_COMPILED = {mode: [(k, re.compile(rx)) for k, rx in rules] for mode, rules in _FILTERS.items()}

# OSMnx's one-way values (settings.oneway_values / reversed_values).
_ONEWAY = {"yes", "true", "1", "-1", "reverse", "T", "F"}
_REVERSED = {"-1", "reverse", "T"}


_COMPILED_BICYCLE_NO = re.compile("no")

#: Ways a cyclist may push the bicycle along when ``push`` is on (walkable, not
#: rideable under OSMnx's ``bike`` filter).
PUSH_HIGHWAYS = ("footway", "steps")


def keeps_way(tags: dict[str, str], mode: Mode, push: bool = False) -> bool:
    """Whether a way with these tags belongs to the mode's network.

    Equivalent to OSMnx's ``network_type="walk"`` (mode ``walk``) and
    ``network_type="bike"`` (mode ``cycle``) Overpass filters. With ``push``,
    the cycle network also takes the walkable footways and steps that do not
    say ``bicycle=no`` (the bicycle is pushed there; give them a pushing speed).

    Examples
    --------
    >>> keeps_way({"highway": "footway"}, "walk"), keeps_way({"highway": "footway"}, "cycle")
    (True, False)
    >>> keeps_way({"highway": "steps"}, "cycle", push=True)
    True
    """
    if "highway" not in tags:
        return False
    if not any(key in tags and rx.search(tags[key]) for key, rx in _COMPILED[mode]):
        return True
    return (
        push
        and mode == "cycle"
        and tags["highway"] in PUSH_HIGHWAYS
        and keeps_way(tags, "walk")
        and not _COMPILED_BICYCLE_NO.search(tags.get("bicycle", ""))
    )


def way_directions(tags: dict[str, str], mode: Mode) -> tuple[bool, bool]:
    """Return ``(forward, backward)``: may the way be travelled along / against its node order.

    Walking: both. Cycling: OSMnx's one-way rules (``oneway`` values, roundabouts),
    relaxed by ``oneway:bicycle=no`` and ``cycleway*=opposite*`` (contraflow);
    ``oneway:bicycle=yes/-1`` makes a way one-way for bicycles.

    Examples
    --------
    >>> way_directions({"highway": "residential", "oneway": "yes"}, "cycle")
    (True, False)
    >>> way_directions({"highway": "residential", "oneway": "yes", "oneway:bicycle": "no"}, "cycle")
    (True, True)
    """
    if mode == "walk":
        return True, True
    oneway = tags.get("oneway")
    bike = tags.get("oneway:bicycle")
    if bike == "no" or any(
        tags.get(k, "").startswith("opposite")
        for k in ("cycleway", "cycleway:left", "cycleway:right", "cycleway:both")
    ):
        return True, True
    if bike in _ONEWAY:
        return (False, True) if bike in _REVERSED else (True, False)
    if oneway in _ONEWAY:
        return (False, True) if oneway in _REVERSED else (True, False)
    if tags.get("junction") == "roundabout":
        return True, False
    return True, True


@dataclass(frozen=True)
class Way:
    """One OSM way as the network builder needs it."""

    node_ids: tuple[int, ...]
    lonlat: tuple[tuple[float, float], ...]
    forward: bool
    backward: bool
    highway: str


@dataclass(frozen=True)
class StreetNetwork:
    """A mode's network as arrays of straight segments.

    Attributes
    ----------
    mode
        ``"walk"`` or ``"cycle"``.
    crs
        The metric CRS of ``node_xy``.
    node_xy
        ``(n_nodes, 2)`` projected coordinates, metres.
    node_osmid
        OSM node ids (synthetic negative ids for geometry vertices of OSMnx edges).
    seg_u, seg_v
        Segment end nodes (indices into ``node_xy``).
    seg_length_m
        Segment lengths, metres (planar, in ``crs``).
    seg_forward, seg_backward
        Whether a segment may be travelled from ``u`` to ``v`` / ``v`` to ``u``.
    seg_highway
        OSM ``highway`` value of the segment's way.
    node_main
        Whether a node lies in the largest strongly connected component (for
        walking, where every segment is two-way, the largest connected component).
    source
        Where the network came from: ``{"from": "file", "path": ...}``, or for
        an OSMnx download ``"from"`` ``"download"`` (fetched in this run) or
        ``"cache"`` (read from an earlier download), with ``graphml`` (the
        cached file), ``downloaded_at_utc``, ``overpass_url``,
        ``osmnx_version`` and, for a fresh download, ``attempts``. Empty when
        built directly from ways.
    """

    mode: Mode
    crs: str
    node_xy: npt.NDArray[np.float64]
    node_osmid: npt.NDArray[np.int64]
    seg_u: npt.NDArray[np.int64]
    seg_v: npt.NDArray[np.int64]
    seg_length_m: npt.NDArray[np.float64]
    seg_forward: npt.NDArray[np.bool_]
    seg_backward: npt.NDArray[np.bool_]
    seg_highway: npt.NDArray[np.object_]
    node_main: npt.NDArray[np.bool_]
    source: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_xy.shape[0])

    @property
    def n_segments(self) -> int:
        """Number of segments."""
        return int(self.seg_u.shape[0])

    @property
    def seg_main(self) -> npt.NDArray[np.bool_]:
        """Whether each segment joins two nodes of the main component."""
        return self.node_main[self.seg_u] & self.node_main[self.seg_v]

    def segment_seconds(
        self, speed_kmh: float, highway_kmh: dict[str, float] | None = None
    ) -> npt.NDArray[np.float64]:
        """Travel time of each segment, seconds.

        Parameters
        ----------
        speed_kmh
            The mode's speed.
        highway_kmh
            Speeds for particular ``highway`` values (e.g. ``{"steps": 2.0}``);
            other segments use ``speed_kmh``.
        """
        speed = np.full(self.n_segments, float(speed_kmh))
        for highway, kmh in (highway_kmh or {}).items():
            speed[self.seg_highway == highway] = float(kmh)
        return np.asarray(self.seg_length_m / (speed / 3.6), dtype=float)

    def summary(self) -> dict[str, Any]:
        """Counts and lengths for reports, and the network's ``source`` when known."""
        main = self.seg_main
        extra = {"source": dict(self.source)} if self.source else {}
        return {
            "mode": self.mode,
            "nodes": self.n_nodes,
            "segments": self.n_segments,
            "length_km": round(float(self.seg_length_m.sum()) / 1000.0, 3),
            "main_component_nodes": int(self.node_main.sum()),
            "main_component_length_km": round(float(self.seg_length_m[main].sum()) / 1000.0, 3),
            "one_way_segments": int((self.seg_forward ^ self.seg_backward).sum()),
            **extra,
        }


def read_osm_ways(path: Path, mode: Mode, push: bool = False) -> list[Way]:
    """Read the ways of one mode from an OSM file (see :func:`read_osm_ways_by_mode`)."""
    return read_osm_ways_by_mode(path, (mode,), push=push)[mode]


def read_osm_ways_by_mode(
    path: Path, modes: Iterable[Mode] = MODES, push: bool = False
) -> dict[Mode, list[Way]]:
    """Read the ways of several modes from an OSM file with pyosmium, in one pass.

    Parameters
    ----------
    path
        ``.osm.pbf``, ``.osm`` or ``.osm.bz2`` file.
    modes
        Modes to read ways for.
    push
        Let cycling use footways and steps (see :func:`keeps_way`).

    Returns
    -------
    dict
        Mode -> the kept ways, in file order. Ways kept by several modes share
        their node and coordinate tuples.

    Raises
    ------
    NetworkError
        When the file cannot be read as OSM.
    """
    import osmium

    modes = tuple(modes)
    ways: dict[Mode, list[Way]] = {m: [] for m in modes}
    try:
        processor = (
            osmium.FileProcessor(str(path))
            .with_locations()
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for obj in processor:
            if not isinstance(obj, osmium.osm.Way):
                continue
            tags = dict(obj.tags)
            kept = [m for m in modes if keeps_way(tags, m, push=push)]
            if not kept:
                continue
            refs = [(n.ref, n.lon, n.lat) for n in obj.nodes if n.location.valid()]
            if len(refs) < 2:
                continue
            node_ids = tuple(r[0] for r in refs)
            lonlat = tuple((r[1], r[2]) for r in refs)
            for m in kept:
                fwd, bwd = way_directions(tags, m)
                ways[m].append(Way(node_ids, lonlat, fwd, bwd, tags["highway"]))
    except (RuntimeError, OSError) as exc:
        raise NetworkError(
            "network",
            f"{path} could not be read as an OpenStreetMap file ({exc})",
            "give an .osm.pbf, .osm or .osm.bz2 extract, or a GraphML file written by OSMnx",
        ) from exc
    return ways


def ways_from_osmnx_graph(graph: Any, mode: Mode) -> list[Way]:
    """Turn an OSMnx ``MultiDiGraph`` (unprojected, lon/lat) into ways.

    Each edge becomes a way along its geometry (or the straight line between
    its nodes). An edge and its reverse twin with the same geometry become one
    two-way way; an edge alone is one-way for cycling, and two-way for walking.
    Geometry vertices get synthetic negative node ids.
    """
    xy = {n: (float(d["x"]), float(d["y"])) for n, d in graph.nodes(data=True)}
    seen: dict[tuple[Any, ...], int] = {}
    ways: list[Way] = []
    synthetic = -1
    for u, v, data in graph.edges(data=True):
        geom = data.get("geometry")
        coords = [xy[u], xy[v]] if geom is None else [tuple(c[:2]) for c in geom.coords]
        key = (u, v, tuple(np.round(np.asarray(coords).ravel(), 7)))
        rkey = (v, u, tuple(np.round(np.asarray(coords[::-1]).ravel(), 7)))
        if rkey in seen:
            idx = seen[rkey]
            old = ways[idx]
            ways[idx] = Way(old.node_ids, old.lonlat, old.forward, True, old.highway)
            continue
        if key in seen:
            continue
        inner = []
        for _ in coords[1:-1]:
            inner.append(synthetic)
            synthetic -= 1
        hw = data.get("highway", "")
        highway = hw[0] if isinstance(hw, list) else str(hw)
        seen[key] = len(ways)
        ways.append(
            Way(
                node_ids=(int(u), *inner, int(v)),
                lonlat=tuple((float(x), float(y)) for x, y in coords),
                forward=True,
                backward=mode == "walk",
                highway=highway,
            )
        )
    return ways


def network_from_ways(
    ways: Iterable[Way], mode: Mode, crs: str | CRS, source: dict[str, Any] | None = None
) -> StreetNetwork:
    """Build a :class:`StreetNetwork` from ways, projected to ``crs``.

    Segments of zero length (repeated coordinates) are kept: they carry no cost.
    ``source`` is stored as :attr:`StreetNetwork.source`.
    """
    ways = list(ways)
    if not ways:
        raise NetworkError(
            "network",
            f"no way usable by the {mode} mode was found",
            "check that the file covers the study area and holds highway=* ways",
        )
    ids = np.fromiter((n for w in ways for n in w.node_ids), dtype=np.int64)
    lonlat = np.array([c for w in ways for c in w.lonlat], dtype=float)
    sizes = np.fromiter((len(w.node_ids) for w in ways), dtype=np.int64)
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    node_lonlat = lonlat[first]
    transformer = Transformer.from_crs("EPSG:4326", CRS.from_user_input(crs), always_xy=True)
    x, y = transformer.transform(node_lonlat[:, 0], node_lonlat[:, 1])
    node_xy = np.column_stack([x, y]).astype(float)
    # consecutive pairs within each way
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    is_last = np.zeros(ids.size, dtype=bool)
    is_last[starts + sizes - 1] = True
    pos = np.flatnonzero(~is_last)
    seg_u = inverse[pos].astype(np.int64)
    seg_v = inverse[pos + 1].astype(np.int64)
    way_of = np.repeat(np.arange(len(ways)), sizes - 1)
    fwd = np.array([w.forward for w in ways])[way_of]
    bwd = np.array([w.backward for w in ways])[way_of]
    highway = np.array([w.highway for w in ways], dtype=object)[way_of]
    # lengths in the study's metric CRS, like access legs and straight lines (METHOD.md),
    # so that no path is shorter than the straight line; the CRS is checked to keep
    # its scale error small (coverage.inputs.check_study_crs)
    length = np.hypot(*(node_xy[seg_v] - node_xy[seg_u]).T)
    n = uniq.size
    # main component: the largest strongly connected one over the allowed directions
    # (for walking, every segment goes both ways, so this is the connected component);
    # from any point snapped inside it every other point inside it can be reached.
    tails = np.concatenate([seg_u[fwd], seg_v[bwd]])
    heads = np.concatenate([seg_v[fwd], seg_u[bwd]])
    adj = coo_matrix((np.ones(tails.size), (tails, heads)), shape=(n, n)).tocsr()
    _, labels = connected_components(adj, directed=True, connection="strong")
    main_label = np.bincount(labels).argmax()
    return StreetNetwork(
        mode=mode,
        crs=CRS.from_user_input(crs).to_string(),
        node_xy=node_xy,
        node_osmid=uniq.astype(np.int64),
        seg_u=seg_u,
        seg_v=seg_v,
        seg_length_m=length,
        seg_forward=fwd,
        seg_backward=bwd,
        seg_highway=highway,
        node_main=labels == main_label,
        source=dict(source or {}),
    )


def load_network(
    source: Path | None,
    mode: Mode,
    crs: str | CRS,
    boundary: Any = None,
    push: bool = False,
    *,
    cache_dir: str | Path | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    retry_delay_s: float = DEFAULT_RETRY_DELAY_S,
) -> StreetNetwork:
    """Load one mode's network (see :func:`load_networks`)."""
    return load_networks(
        source,
        crs,
        boundary=boundary,
        modes=(mode,),
        push=push,
        cache_dir=cache_dir,
        attempts=attempts,
        retry_delay_s=retry_delay_s,
    )[mode]


def load_networks(
    source: Path | None,
    crs: str | CRS,
    boundary: Any = None,
    modes: Iterable[Mode] = MODES,
    push: bool = False,
    *,
    cache_dir: str | Path | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    retry_delay_s: float = DEFAULT_RETRY_DELAY_S,
) -> dict[Mode, StreetNetwork]:
    """Load the networks of several modes from one source, reading it once.

    Parameters
    ----------
    source
        OSM (``.osm.pbf``/``.osm``/``.osm.bz2``) or GraphML file; ``None`` downloads
        with OSMnx for ``boundary``.
    crs
        Metric CRS to project to.
    boundary
        Study-area polygon in EPSG:4326, for the download.
    modes
        Modes to build.
    push
        Let cycling use footways and steps (pushing the bicycle). OSM files and
        downloads only: a GraphML graph is used as it is.
    cache_dir
        Download cache folder; ``None`` or empty: :func:`default_cache_dir`.
        A download is saved there and reused by later runs for the same area.
    attempts
        Download attempts per mode (at least 1). Only failures that may pass
        (no connection, timeouts, HTTP 429/5xx) are retried.
    retry_delay_s
        Wait before the first retry, seconds, doubled before each further one.

    Returns
    -------
    dict
        Mode -> :class:`StreetNetwork`, its ``source`` saying where it came from.

    Raises
    ------
    NetworkError
        When the file is unreadable or of an unknown type, a mode has no usable
        way, or the download failed (the message says why and what to do).
    """
    modes = tuple(modes)
    _download.check_retry_settings(attempts, retry_delay_s)
    if source is None:
        return _networks_from_download(
            boundary,
            crs,
            modes,
            push,
            cache_dir=cache_dir,
            attempts=attempts,
            retry_delay_s=retry_delay_s,
        )
    return _networks_from_file(source, crs, modes, push)


def _networks_from_download(
    boundary: Any,
    crs: str | CRS,
    modes: tuple[Mode, ...],
    push: bool,
    *,
    cache_dir: str | Path | None,
    attempts: int,
    retry_delay_s: float,
) -> dict[Mode, StreetNetwork]:
    """Build the modes' networks from OSMnx graphs, cached or downloaded.

    With ``push``, the cycle network also takes the footways and steps of the
    walk graph (fetched for that even when walking is not asked for), and its
    ``source`` names the walk graph's record under ``push_ways_from``.

    Parameters
    ----------
    boundary
        Study-area polygon in EPSG:4326.
    crs
        Metric CRS to project to.
    modes
        Modes to build.
    push
        Let cycling use footways and steps.
    cache_dir, attempts, retry_delay_s
        As for :func:`load_networks`.

    Returns
    -------
    dict
        Mode -> :class:`StreetNetwork`, with the download's provenance record
        as its ``source``.
    """
    need = set(modes)
    if push and "cycle" in modes:
        need.add("walk")
    fetched = _download.download_graphs(
        boundary, need, cache_dir=cache_dir, attempts=attempts, retry_delay_s=retry_delay_s
    )
    ways = {m: ways_from_osmnx_graph(fetched[m][0], m) for m in modes}
    sources = {m: dict(fetched[m][1]) for m in modes}
    if push and "cycle" in modes:
        ways["cycle"] += push_ways_from_osmnx_graph(fetched["walk"][0])
        sources["cycle"]["push_ways_from"] = fetched["walk"][1]
    return {m: network_from_ways(ways[m], m, crs, sources[m]) for m in modes}


def _networks_from_file(
    source: Path, crs: str | CRS, modes: tuple[Mode, ...], push: bool
) -> dict[Mode, StreetNetwork]:
    """Build the modes' networks from a GraphML or OSM file, read once.

    Parameters
    ----------
    source
        GraphML file written by OSMnx, or ``.osm.pbf``/``.osm``/``.osm.bz2``
        (``.osm.gz`` too) file.
    crs
        Metric CRS to project to.
    modes
        Modes to build.
    push
        Let cycling use footways and steps (OSM files only).

    Returns
    -------
    dict
        Mode -> :class:`StreetNetwork`, its ``source`` ``{"from": "file", "path": ...}``.

    Raises
    ------
    NetworkError
        When the file is unreadable or of an unknown type, or a mode has no usable way.
    """
    origin = {"from": "file", "path": str(source)}
    name = source.name.lower()
    if name.endswith(".graphml"):
        graph = _read_graphml(source)
        return {
            m: network_from_ways(ways_from_osmnx_graph(graph, m), m, crs, origin) for m in modes
        }
    if not name.endswith((".pbf", ".osm", ".osm.bz2", ".osm.gz")):
        raise NetworkError(
            "network",
            f"{source} has an unknown network file type",
            "give an .osm.pbf, .osm, .osm.bz2 or .graphml file",
        )
    ways = read_osm_ways_by_mode(source, modes, push=push)
    return {m: network_from_ways(ways[m], m, crs, origin) for m in modes}


def _read_graphml(source: Path) -> Any:
    """Read a GraphML file written by OSMnx.

    Parameters
    ----------
    source
        The file.

    Returns
    -------
    networkx.MultiDiGraph
        The unprojected graph.

    Raises
    ------
    NetworkError
        When OSMnx cannot read the file.
    """
    import osmnx as ox

    try:
        return ox.load_graphml(source)
    except Exception as exc:  # osmnx raises many kinds on bad files
        raise NetworkError(
            "network",
            f"{source} is not a GraphML file OSMnx can read ({exc})",
            "write the graph with osmnx.save_graphml, or give an OSM file",
        ) from exc


def push_ways_from_osmnx_graph(walk_graph: Any) -> list[Way]:
    """Footways and steps of an OSMnx walk graph a cyclist may push along.

    The same rule as :func:`keeps_way` with ``push``: ``highway`` in
    :data:`PUSH_HIGHWAYS` and no ``bicycle=no``.
    """

    def tag(data: dict[str, Any], key: str) -> str:
        value = data.get(key, "")
        return ";".join(map(str, value)) if isinstance(value, list) else str(value)

    edges = [
        (u, v, k)
        for u, v, k, data in walk_graph.edges(keys=True, data=True)
        if set(tag(data, "highway").split(";")) & set(PUSH_HIGHWAYS)
        and not _COMPILED_BICYCLE_NO.search(tag(data, "bicycle"))
    ]
    return ways_from_osmnx_graph(walk_graph.edge_subgraph(edges), "walk")
