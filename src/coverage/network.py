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
run for the same area reads the file and makes no request, offline too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from coverage.errors import NetworkError
from coverage.terms import MODES, Mode

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


#: Environment variable naming the folder downloaded networks are cached in.
CACHE_ENV = "SERVICE_COVERAGE_CACHE"
#: Download attempts before giving up (the first one included).
DEFAULT_ATTEMPTS = 3
#: Wait before the first retry, seconds; it doubles before each further retry.
DEFAULT_RETRY_DELAY_S = 5.0
#: Layout and key version of the download cache: bump when either changes.
_CACHE_FORMAT = 1
#: Decimals of a degree the study area is rounded to in the cache key (about
#: 0.1 m), so float noise in the area does not miss the cache.
_KEY_DECIMALS = 6
#: Longest wait for the Overpass server's status page when checking it is reachable.
_PROBE_TIMEOUT_S = 15.0
#: Waits between attempts (replaced in tests).
_sleep: Callable[[float], None] = time.sleep

FailureKind = Literal["connection", "transient", "empty", "outside", "fatal"]


def default_cache_dir() -> Path:
    """Return the folder downloaded networks are cached in when none is given.

    ``$SERVICE_COVERAGE_CACHE`` when set, else ``$XDG_CACHE_HOME/service-coverage``
    (when that is an absolute path), else ``~/.cache/service-coverage``.

    Returns
    -------
    Path
        The folder (it may not exist yet).
    """
    own = os.environ.get(CACHE_ENV, "").strip()
    if own:
        return Path(own).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "service-coverage"


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
    if attempts < 1:
        raise ValueError(f"attempts must be 1 or more, got {attempts!r}")
    if not retry_delay_s >= 0:
        raise ValueError(f"retry_delay_s must be 0 or more, got {retry_delay_s!r}")
    ways: dict[Mode, list[Way]]
    if source is None:
        need = set(modes) | ({"walk"} if push and "cycle" in modes else set())
        fetched = {
            m: _download_graph(
                boundary, m, cache_dir=cache_dir, attempts=attempts, retry_delay_s=retry_delay_s
            )
            for m in MODES
            if m in need
        }
        ways = {m: ways_from_osmnx_graph(fetched[m][0], m) for m in modes}
        sources = {m: dict(fetched[m][1]) for m in modes}
        if push and "cycle" in modes:
            ways["cycle"] += push_ways_from_osmnx_graph(fetched["walk"][0])
            sources["cycle"]["push_ways_from"] = fetched["walk"][1]
        return {m: network_from_ways(ways[m], m, crs, sources[m]) for m in modes}
    origin = {"from": "file", "path": str(source)}
    name = source.name.lower()
    if name.endswith(".graphml"):
        import osmnx as ox

        try:
            graph = ox.load_graphml(source)
        except Exception as exc:  # osmnx raises many kinds on bad files
            raise NetworkError(
                "network",
                f"{source} is not a GraphML file OSMnx can read ({exc})",
                "write the graph with osmnx.save_graphml, or give an OSM file",
            ) from exc
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


def _download_graph(
    boundary: Any,
    mode: Mode,
    *,
    cache_dir: str | Path | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    retry_delay_s: float = DEFAULT_RETRY_DELAY_S,
) -> tuple[Any, dict[str, Any]]:
    """The mode's OSMnx graph for ``boundary``: from the cache, else downloaded.

    A cached GraphML file for the same key (see :func:`_cache_key`) is read and
    no request is made; a cache file that cannot be read is ignored, and
    replaced by the new download. Downloads are tried up to ``attempts``
    times, waiting ``retry_delay_s`` then twice as long each time, while the
    failure may pass (see :func:`_failure_kind`). OSMnx's own HTTP cache is on
    during the download, in ``cache_dir/osmnx-http/<mode>-<key>``: it keeps
    the answers of a multi-request download between attempts and runs, and is
    removed once the GraphML file is saved. OSMnx settings are restored
    afterwards.

    Parameters
    ----------
    boundary
        Study-area (multi)polygon, EPSG:4326.
    mode
        ``"walk"`` or ``"cycle"`` (OSMnx's ``walk`` and ``bike`` network types).
    cache_dir
        Cache folder; ``None`` or empty: :func:`default_cache_dir`.
    attempts
        Download attempts.
    retry_delay_s
        Wait before the first retry, seconds.

    Returns
    -------
    tuple
        The unprojected ``MultiDiGraph`` and its provenance record (see
        :attr:`StreetNetwork.source`).

    Raises
    ------
    NetworkError
        When there is no study area, or every attempt failed.
    """
    import osmnx as ox
    from shapely.geometry.base import BaseGeometry

    if boundary is None:
        raise NetworkError(
            "network",
            "no network file was given and no study area to download for",
            "name a network file in [inputs]",
        )
    if not isinstance(boundary, BaseGeometry):
        raise NetworkError(
            "network",
            f"the study area to download for is not a shapely geometry ({type(boundary).__name__})",
            "pass a shapely (multi)polygon in EPSG:4326",
        )
    network_type = "walk" if mode == "walk" else "bike"
    useful = list(ox.settings.useful_tags_way)
    # keep the bicycle tag on edges, so pushing can honour bicycle=no
    tags = [*useful, *(["bicycle"] if "bicycle" not in useful else [])]
    folder = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    key = _cache_key(boundary, network_type, tags, ox.__version__)
    graphml = folder / "networks" / f"{mode}-{key}.graphml"
    graph, problem = _read_cached(graphml)
    if graph is not None:
        return graph, _cached_record(graphml)
    notes = [problem] if problem else []
    # OSMnx's HTTP cache for this download only: it keeps the answers of a
    # multi-request download across attempts and interrupted runs, and is
    # removed once the graph is saved (deleting the GraphML then refreshes it)
    http_cache = folder / "osmnx-http" / graphml.stem
    http: dict[str, Any]
    try:
        http_cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        notes.append(f"the cache folder {folder} could not be made ({exc}): nothing was cached")
        http = {"use_cache": False}
    else:
        http = {"use_cache": True, "cache_folder": str(http_cache)}
    url = str(ox.settings.overpass_url)
    failures: list[tuple[FailureKind, Exception]] = []
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            _sleep(retry_delay_s * 2 ** (attempt - 2))
        # OSMnx waits 60 s before each request when the server's status page cannot
        # be read; when the server cannot be reached at all, fail fast instead
        polite = bool(ox.settings.overpass_rate_limit) and _overpass_reachable(url)
        try:
            with _osmnx_settings(useful_tags_way=tags, overpass_rate_limit=polite, **http):
                graph = ox.graph_from_polygon(
                    boundary, network_type=network_type, simplify=False, retain_all=True
                )
        except Exception as exc:  # classified below; the last one is reported
            kind = _failure_kind(exc)
            failures.append((kind, exc))
            if kind in ("outside", "fatal"):
                break
            continue
        when = datetime.now(UTC).isoformat(timespec="seconds")
        meta = {
            "format": _CACHE_FORMAT,
            "mode": mode,
            "network_type": network_type,
            "downloaded_at_utc": when,
            "overpass_url": url,
            "osmnx_version": ox.__version__,
            "useful_tags_way": tags,
            "attempts": attempt,
            "bounds": [round(float(b), _KEY_DECIMALS) for b in boundary.bounds],
        }
        saved = http["use_cache"] and _write_cached(graph, graphml, meta, notes)
        if saved:
            shutil.rmtree(http_cache, ignore_errors=True)
        record: dict[str, Any] = {
            "from": "download",
            "graphml": str(graphml) if saved else None,
            "downloaded_at_utc": when,
            "overpass_url": url,
            "osmnx_version": ox.__version__,
            "attempts": attempt,
        }
        if failures:
            record["failed_attempts"] = [_brief(exc) for _, exc in failures]
        if notes:
            record["notes"] = notes
        return graph, record
    with contextlib.suppress(OSError):
        http_cache.rmdir()  # only when OSMnx kept nothing
    raise _download_error(mode, url, failures, folder)


@contextlib.contextmanager
def _osmnx_settings(**changes: Any) -> Iterator[None]:
    """Set ``osmnx.settings`` attributes for the duration of a ``with`` block."""
    import osmnx as ox

    saved = {name: getattr(ox.settings, name) for name in changes}
    try:
        for name, value in changes.items():
            setattr(ox.settings, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(ox.settings, name, value)


def _cache_key(boundary: Any, network_type: str, tags: list[str], osmnx_version: str) -> str:
    """Hash of what a downloaded graph depends on.

    The study area's WKB (coordinates rounded to :data:`_KEY_DECIMALS`
    decimals, normalised so ring order and start do not matter), the network
    type, the way tags kept, the OSMnx version, the Overpass server and query
    settings, and the cache format.
    """
    import shapely

    def rounded(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        # + 0.0 turns -0.0 into 0.0
        return np.round(coords, _KEY_DECIMALS) + 0.0

    geom = shapely.normalize(shapely.transform(boundary, rounded))
    wkb = shapely.to_wkb(geom, output_dimension=2, byte_order=1, include_srid=False)
    payload = {
        "format": _CACHE_FORMAT,
        "boundary_wkb": bytes(wkb).hex(),
        "network_type": network_type,
        "useful_tags_way": sorted(tags),
        "simplify": False,
        "retain_all": True,
        "osmnx": osmnx_version,
    }
    import osmnx as ox

    # another server or query settings (a dated query, a mirror) is another download
    payload["overpass_url"] = str(ox.settings.overpass_url)
    payload["overpass_settings"] = str(ox.settings.overpass_settings)
    text = json.dumps(payload, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _read_cached(graphml: Path) -> tuple[Any, str | None]:
    """Read a cached graph, never raising.

    Returns
    -------
    tuple
        ``(graph, None)``; ``(None, None)`` when there is no file; ``(None,
        problem)`` when the file is there but unusable.
    """
    import osmnx as ox

    try:
        if not graphml.is_file():
            return None, None
        graph = ox.load_graphml(graphml)
        if graph.number_of_nodes() == 0:
            raise ValueError("the graph has no nodes")
        if any("x" not in d or "y" not in d for _, d in graph.nodes(data=True)):
            raise ValueError("a node has no coordinates")
    except Exception as exc:  # a damaged file may fail in many ways
        return None, f"the cached {graphml} could not be read ({_brief(exc)}) and was replaced"
    return graph, None


def _cached_record(graphml: Path) -> dict[str, Any]:
    """Provenance of a cached graph, from its sidecar JSON, else the file's time."""
    meta: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(graphml.with_suffix(".json").read_text(encoding="utf-8"))
        meta = loaded if isinstance(loaded, dict) else {}
    when = meta.get("downloaded_at_utc")
    if not isinstance(when, str):
        with contextlib.suppress(OSError):
            mtime = graphml.stat().st_mtime
            when = datetime.fromtimestamp(mtime, UTC).isoformat(timespec="seconds")
    return {
        "from": "cache",
        "graphml": str(graphml),
        "downloaded_at_utc": when,
        "overpass_url": meta.get("overpass_url"),
        "osmnx_version": meta.get("osmnx_version"),
    }


def _write_cached(graph: Any, graphml: Path, meta: dict[str, Any], notes: list[str]) -> bool:
    """Save a downloaded graph and its sidecar JSON atomically; on failure add a note."""
    import osmnx as ox

    try:
        graphml.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(graphml, lambda tmp: ox.save_graphml(graph, tmp))
        text = json.dumps(meta, indent=2) + "\n"
        _atomic_write(graphml.with_suffix(".json"), lambda tmp: tmp.write_text(text, "utf-8"))
    except Exception as exc:  # a full disk or a read-only folder must not lose the download
        notes.append(f"the download could not be cached in {graphml.parent} ({_brief(exc)})")
        return False
    return True


def _atomic_write(target: Path, write: Callable[[Path], object]) -> None:
    """Write ``target`` through a temporary file beside it, then rename it in place."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{time.monotonic_ns()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _overpass_reachable(url: str) -> bool:
    """Whether the Overpass server at ``url`` answers at all (any HTTP status).

    Asks for its status page, as OSMnx does before each request, with a short
    timeout. Only a failed connection or a timeout counts as unreachable.
    """
    import osmnx as ox
    import requests

    try:
        requests.get(
            url.rstrip("/") + "/status",
            timeout=min(float(ox.settings.requests_timeout), _PROBE_TIMEOUT_S),
            headers={"User-Agent": str(ox.settings.http_user_agent)},
            **ox.settings.requests_kwargs,
        )
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout, OSError):
        return False
    except Exception:  # anything else: let OSMnx try, and report what it meets
        return True
    return True


#: OSMnx's words for an Overpass answer without elements, and for a graph with no
#: node inside the study area.
_EMPTY_MESSAGE = "No data elements in server response"
_OUTSIDE_MESSAGE = "Found no graph nodes"


def _failure_kind(exc: BaseException) -> FailureKind:
    """Classify a download failure.

    Retried:

    ``connection``
        The server was not reached (no network, DNS, refused).
    ``transient``
        Timeouts, HTTP 408/429/5xx, answers that are not JSON (an overloaded
        Overpass answers with an HTML error page) and other request errors.
    ``empty``
        An answer without elements. Overpass answers so both for an area
        without such streets and for a query it cut short (time or memory
        limit; the reason is only in a remark OSMnx logs), so it is retried;
        a true empty answer is kept in OSMnx's HTTP cache, and its retries
        make no request.

    Not retried, the answer would be the same:

    ``outside``
        Streets came back, but no node lies inside the study area.
    ``fatal``
        Anything else: an invalid polygon, HTTP 4xx, a bad setting, a
        damaged file in OSMnx's HTTP cache.
    """
    import requests
    from osmnx._errors import InsufficientResponseError, ResponseStatusCodeError

    if isinstance(exc, ConnectionError | socket.gaierror | requests.exceptions.ConnectionError):
        return "connection"
    if isinstance(exc, TimeoutError | requests.exceptions.RequestException):
        return "transient"
    if isinstance(exc, ResponseStatusCodeError):
        found = re.search(r"responded: (\d{3})\b", str(exc))
        code = int(found.group(1)) if found else None
        if code is not None and 400 <= code < 500 and code not in (408, 429):
            return "fatal"
        return "transient"
    if isinstance(exc, InsufficientResponseError):
        return "empty" if _EMPTY_MESSAGE in str(exc) else "transient"
    if isinstance(exc, ValueError) and _OUTSIDE_MESSAGE in str(exc):
        return "outside"
    return "fatal"


def _brief(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line, cut to ``limit`` characters."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _download_error(
    mode: Mode, url: str, failures: list[tuple[FailureKind, Exception]], folder: Path
) -> NetworkError:
    """The error for a download that failed every attempt it was given."""
    kind, last = failures[-1]
    n = len(failures)
    tries = f"{n} attempt{'s' if n != 1 else ''}"
    files = "give an OSM extract (.osm.pbf) or a GraphML file in [inputs] network"
    where = (
        "check that the communities layer lies where it should (its CRS, and [datum] for "
        "layers from Chinese map services)"
    )
    if kind == "outside":
        return NetworkError(
            "network",
            f"the Overpass server {url} returned no street of the {mode} network inside the "
            f"study area ({_brief(last)}; not retried: the answer would be the same)",
            f"{where}, or {files}",
        )
    if kind == "empty":
        return NetworkError(
            "network",
            f"the Overpass server {url} returned no street of the {mode} network for the "
            f"study area on the last of {tries} ({_brief(last)})",
            f"{where}; if it does, the server may have cut the query short (busy, or the "
            f"area too large for its time limit): run again later, or {files}",
        )
    if kind == "fatal":
        return NetworkError(
            "network",
            f"downloading the {mode} network with OSMnx failed ({_brief(last)}; "
            f"not retried: it does not look like a passing failure)",
            f"check the study area, or {files}; if it persists, delete the download cache {folder}",
        )
    if all(k == "connection" for k, _ in failures):
        return NetworkError(
            "network",
            f"the Overpass server {url} could not be reached to download the {mode} network "
            f"({tries}, all without a connection; last error: {_brief(last)})",
            f"connect to the internet and run again (a downloaded area is kept in {folder} "
            f"and later runs for it need no connection), or {files}",
        )
    return NetworkError(
        "network",
        f"downloading the {mode} network from the Overpass server {url} failed after "
        f"{tries} (last error: {_brief(last)})",
        f"run again later (the server may be busy), allow more attempts with "
        f"[network] download_attempts, or {files}",
    )


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
