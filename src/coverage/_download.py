"""Downloading street networks with OSMnx: retries, failure kinds and the cache.

Everything :func:`coverage.network.load_networks` needs when no network file is
given, in OSMnx's habit of keeping HTTP and Overpass work in private modules:

* the download cache folder (:func:`default_cache_dir`), its keys
  (:func:`_cache_key`: the study area, the network type, the kept tags, the
  OSMnx version and Overpass settings) and its GraphML files with their JSON
  sidecars, read back with no request, offline too;
* the download itself (:func:`download_graph`), retried with exponential
  backoff while the failure may pass (no connection, timeouts, HTTP 429/5xx;
  see :func:`_failure_kind`), failing fast when the Overpass server cannot be
  reached at all, and the error that says why every attempt failed;
* the provenance record of a downloaded or cached graph (what
  :attr:`coverage.network.StreetNetwork.source` holds).

Graphs come back unprojected (lon/lat); turning them into networks is
:mod:`coverage.network`'s work. This module imports only :mod:`coverage.terms`
and :mod:`coverage.errors` of the package, never :mod:`coverage.network`.
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from coverage.errors import NetworkError
from coverage.terms import MODES, Mode

__all__ = [
    "CACHE_ENV",
    "DEFAULT_ATTEMPTS",
    "DEFAULT_RETRY_DELAY_S",
    "FailureKind",
    "check_retry_settings",
    "default_cache_dir",
    "download_graph",
    "download_graphs",
]

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


def check_retry_settings(attempts: int, retry_delay_s: float) -> None:
    """Refuse download settings that cannot work.

    Parameters
    ----------
    attempts
        Download attempts per mode; at least 1.
    retry_delay_s
        Wait before the first retry, seconds; 0 or more.

    Raises
    ------
    ValueError
        When either is out of range.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be 1 or more, got {attempts!r}")
    if not retry_delay_s >= 0:
        raise ValueError(f"retry_delay_s must be 0 or more, got {retry_delay_s!r}")


def download_graphs(
    boundary: Any,
    modes: Iterable[Mode],
    *,
    cache_dir: str | Path | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    retry_delay_s: float = DEFAULT_RETRY_DELAY_S,
) -> dict[Mode, tuple[Any, dict[str, Any]]]:
    """The OSMnx graphs of several modes for ``boundary``, each from the cache or downloaded.

    Modes are fetched one after the other in :data:`~coverage.terms.MODES`
    order (walking first), each as :func:`download_graph` does.

    Parameters
    ----------
    boundary
        Study-area (multi)polygon, EPSG:4326.
    modes
        Modes to fetch a graph for.
    cache_dir, attempts, retry_delay_s
        As for :func:`download_graph`.

    Returns
    -------
    dict
        Mode -> ``(graph, provenance record)``.

    Raises
    ------
    NetworkError
        When there is no study area, or every attempt for a mode failed.
    """
    wanted = set(modes)
    return {
        m: download_graph(
            boundary, m, cache_dir=cache_dir, attempts=attempts, retry_delay_s=retry_delay_s
        )
        for m in MODES
        if m in wanted
    }


@dataclass(frozen=True)
class _Target:
    """One mode's download: what is asked of OSMnx, and where it is cached.

    Attributes
    ----------
    boundary
        Study-area (multi)polygon, EPSG:4326.
    mode
        ``"walk"`` or ``"cycle"``.
    network_type
        OSMnx's network type for the mode (``"walk"`` or ``"bike"``).
    tags
        The way tags OSMnx keeps on edges (``useful_tags_way``).
    folder
        The cache folder.
    graphml
        The cached GraphML file of this download.
    url
        The Overpass server.
    """

    boundary: Any
    mode: Mode
    network_type: str
    tags: list[str]
    folder: Path
    graphml: Path
    url: str

    @property
    def http_cache(self) -> Path:
        """OSMnx's HTTP cache folder for this download only."""
        return self.folder / "osmnx-http" / self.graphml.stem


def download_graph(
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
        :attr:`coverage.network.StreetNetwork.source`).

    Raises
    ------
    NetworkError
        When there is no study area, or every attempt failed.
    """
    target = _target(boundary, mode, cache_dir)
    graph, problem = _read_cached(target.graphml)
    if graph is not None:
        return graph, _cached_record(target.graphml)
    notes = [problem] if problem else []
    http = _http_cache_settings(target, notes)
    graph, attempt, failures = _attempt_downloads(target, http, attempts, retry_delay_s)
    if graph is None:
        with contextlib.suppress(OSError):
            target.http_cache.rmdir()  # only when OSMnx kept nothing
        raise _download_error(mode, target.url, failures, target.folder)
    return graph, _download_record(graph, target, http, attempt, failures, notes)


def _target(boundary: Any, mode: Mode, cache_dir: str | Path | None) -> _Target:
    """Check the study area and work out the download's settings and cache file.

    Parameters
    ----------
    boundary
        Study-area (multi)polygon, EPSG:4326.
    mode
        ``"walk"`` or ``"cycle"``.
    cache_dir
        Cache folder; ``None`` or empty: :func:`default_cache_dir`.

    Returns
    -------
    _Target
        The download, keyed by :func:`_cache_key`.

    Raises
    ------
    NetworkError
        When there is no study area, or it is not a shapely geometry.
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
    url = str(ox.settings.overpass_url)
    return _Target(boundary, mode, network_type, tags, folder, graphml, url)


def _http_cache_settings(target: _Target, notes: list[str]) -> dict[str, Any]:
    """OSMnx's HTTP cache settings for the download, making its folder.

    OSMnx's HTTP cache for this download only: it keeps the answers of a
    multi-request download across attempts and interrupted runs, and is
    removed once the graph is saved (deleting the GraphML then refreshes it).

    Parameters
    ----------
    target
        The download.
    notes
        Notes of the download; one is added when the folder cannot be made.

    Returns
    -------
    dict
        ``osmnx.settings`` values: ``use_cache`` and, when on, ``cache_folder``.
    """
    try:
        target.http_cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        notes.append(
            f"the cache folder {target.folder} could not be made ({exc}): nothing was cached"
        )
        return {"use_cache": False}
    return {"use_cache": True, "cache_folder": str(target.http_cache)}


def _attempt_downloads(
    target: _Target, http: dict[str, Any], attempts: int, retry_delay_s: float
) -> tuple[Any, int, list[tuple[FailureKind, Exception]]]:
    """Ask OSMnx for the graph until it comes, the attempts run out or a failure would repeat.

    Waits ``retry_delay_s`` before the second attempt, doubled before each
    further one.

    Parameters
    ----------
    target
        The download.
    http
        OSMnx's HTTP cache settings (see :func:`_http_cache_settings`).
    attempts
        Download attempts.
    retry_delay_s
        Wait before the first retry, seconds.

    Returns
    -------
    tuple
        ``(graph, attempt, failures)``: the graph (``None`` when every attempt
        failed), the attempt it came on, and the failed attempts so far with
        their kinds (see :func:`_failure_kind`).
    """
    import osmnx as ox

    failures: list[tuple[FailureKind, Exception]] = []
    offline = _no_network(target.url)
    if offline:  # no network at all: retrying cannot help, so stop at once
        failures.append(("connection", ConnectionError(offline)))
        return None, 1, failures
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            _sleep(retry_delay_s * 2 ** (attempt - 2))
        # OSMnx waits 60 s before each request when the server's status page cannot
        # be read; when the server cannot be reached at all, fail fast instead
        polite = bool(ox.settings.overpass_rate_limit) and _overpass_reachable(target.url)
        try:
            with _osmnx_settings(useful_tags_way=target.tags, overpass_rate_limit=polite, **http):
                graph = ox.graph_from_polygon(
                    target.boundary,
                    network_type=target.network_type,
                    simplify=False,
                    retain_all=True,
                )
        except Exception as exc:  # classified below; the last one is reported
            kind = _failure_kind(exc)
            failures.append((kind, exc))
            if kind in ("outside", "fatal"):
                break
            continue
        return graph, attempt, failures
    return None, len(failures), failures


def _download_record(
    graph: Any,
    target: _Target,
    http: dict[str, Any],
    attempt: int,
    failures: list[tuple[FailureKind, Exception]],
    notes: list[str],
) -> dict[str, Any]:
    """Cache a fresh download (GraphML and sidecar JSON) and return its provenance record.

    Parameters
    ----------
    graph
        The downloaded ``MultiDiGraph``.
    target
        The download.
    http
        OSMnx's HTTP cache settings (see :func:`_http_cache_settings`): when
        it is off nothing is saved; once the graph is saved, it is removed.
    attempt, failures
        The attempt the graph came on, and the failed attempts before it.
    notes
        Notes of the download (a cache file replaced, a cache not written).

    Returns
    -------
    dict
        ``from`` (``"download"``), ``graphml`` (``None`` when not cached),
        ``downloaded_at_utc``, ``overpass_url``, ``osmnx_version``,
        ``attempts``, and when there are any ``failed_attempts`` and ``notes``.
    """
    import osmnx as ox

    when = datetime.now(UTC).isoformat(timespec="seconds")
    meta = {
        "format": _CACHE_FORMAT,
        "mode": target.mode,
        "network_type": target.network_type,
        "downloaded_at_utc": when,
        "overpass_url": target.url,
        "osmnx_version": ox.__version__,
        "useful_tags_way": target.tags,
        "attempts": attempt,
        "bounds": [round(float(b), _KEY_DECIMALS) for b in target.boundary.bounds],
    }
    saved = http["use_cache"] and _write_cached(graph, target.graphml, meta, notes)
    if saved:
        shutil.rmtree(target.http_cache, ignore_errors=True)
    record: dict[str, Any] = {
        "from": "download",
        "graphml": str(target.graphml) if saved else None,
        "downloaded_at_utc": when,
        "overpass_url": target.url,
        "osmnx_version": ox.__version__,
        "attempts": attempt,
    }
    if failures:
        record["failed_attempts"] = [_brief(exc) for _, exc in failures]
    if notes:
        record["notes"] = notes
    return record


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


def _no_network(url: str) -> str:
    """Why the machine has no network to reach ``url`` at all, or ``""`` when it may have.

    The server's name is looked up once: a failed lookup (no DNS, no network)
    will not pass by retrying. A name that resolves says nothing about the
    server itself: the download then tries, and retries what may pass.
    """
    from urllib.parse import urlparse

    host = urlparse(url).hostname
    if not host:
        return ""
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError) as exc:
        return f"cannot look up {host} ({exc}): this machine seems to have no network"
    return ""


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


def osm_features(boundary: Any, values: dict[str, str]) -> Any:
    """Facilities of the study area downloaded with OSMnx's features module, mapped like
    :func:`coverage.vocabulary.osm_facilities` (same columns, EPSG:4326).

    Raises
    ------
    NetworkError
        When the download fails (no network, the server refusing).
    """
    import geopandas as gpd
    import osmnx as ox
    import pandas as pd

    from coverage.vocabulary import OSM_KEYS, osm_row, osm_table

    table = osm_table(values)
    try:
        gdf = ox.features.features_from_polygon(boundary, tags=dict.fromkeys(OSM_KEYS, True))
    except Exception as exc:  # OSMnx raises several types for failed downloads
        raise NetworkError(
            "facilities",
            f"the facilities could not be downloaded from OpenStreetMap ({exc})",
            "give a facilities layer, or an OSM file as [inputs] network",
        ) from exc
    rows = []
    for (kind, osmid), row in gdf.iterrows():
        found = osm_row({k: str(v) for k, v in row.items() if isinstance(v, str)}, table)
        if found is None:
            continue
        rows.append((f"osm-{kind}-{osmid}", *found, row.geometry.representative_point()))
    frame = pd.DataFrame(rows, columns=["facility_id", "category", "name", "osm_tag", "geometry"])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")
