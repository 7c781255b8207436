"""OSM way filters, one-way rules and network building."""

from pathlib import Path

import networkx as nx
import numpy as np
import pyproj
import pytest

from coverage.errors import NetworkError
from coverage.network import (
    Way,
    keeps_way,
    load_network,
    load_networks,
    network_from_ways,
    push_ways_from_osmnx_graph,
    way_directions,
    ways_from_osmnx_graph,
)

DATA = Path(__file__).parent / "data"
CRS = "EPSG:32722"


@pytest.fixture(autouse=True)
def sleeps(monkeypatch, tmp_path):
    """No test here reaches the internet, waits, or writes to the real download cache.

    Returns the waits between download attempts, in seconds.
    """
    import coverage._download as downloading

    monkeypatch.setenv("SERVICE_COVERAGE_CACHE", str(tmp_path / "default-cache"))
    monkeypatch.setattr(downloading, "_overpass_reachable", lambda url: True)
    monkeypatch.setattr(downloading, "_no_network", lambda url: "")
    waits: list[float] = []
    monkeypatch.setattr(downloading, "_sleep", waits.append)
    return waits


@pytest.mark.parametrize(
    ("tags", "walk", "cycle"),
    [
        ({"highway": "residential"}, True, True),
        ({"highway": "footway"}, True, False),
        ({"highway": "steps"}, True, False),
        ({"highway": "cycleway"}, False, True),
        ({"highway": "motorway"}, False, False),
        ({"highway": "motorway_link"}, False, False),
        ({"highway": "primary", "foot": "no"}, False, True),
        ({"highway": "primary", "bicycle": "no"}, True, False),
        ({"highway": "service", "access": "private"}, False, False),
        ({"highway": "pedestrian", "area": "yes"}, False, False),
        ({"highway": "construction"}, False, False),
        ({"highway": "primary", "sidewalk": "separate"}, False, True),
        ({"building": "yes"}, False, False),
    ],
)
def test_filters_match_osmnx_network_types(tags, walk, cycle):
    assert keeps_way(tags, "walk") is walk
    assert keeps_way(tags, "cycle") is cycle


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"highway": "residential"}, (True, True)),
        ({"highway": "residential", "oneway": "yes"}, (True, False)),
        ({"highway": "residential", "oneway": "-1"}, (False, True)),
        ({"highway": "residential", "oneway": "no"}, (True, True)),
        ({"highway": "primary", "junction": "roundabout"}, (True, False)),
        ({"highway": "residential", "oneway": "yes", "oneway:bicycle": "no"}, (True, True)),
        ({"highway": "residential", "oneway": "yes", "cycleway": "opposite_lane"}, (True, True)),
        ({"highway": "residential", "oneway:bicycle": "yes"}, (True, False)),
    ],
)
def test_cycle_directions(tags, expected):
    assert way_directions(tags, "cycle") == expected
    assert way_directions(tags, "walk") == (True, True)


def test_network_from_a_hand_made_osm_file():
    walk = load_network(DATA / "tiny_oneway.osm", "walk", CRS)
    cycle = load_network(DATA / "tiny_oneway.osm", "cycle", CRS)
    # walk: residential (2 segments), footway, reverse one-way residential; no motorway,
    # no private service road, no cycleway
    assert walk.n_segments == 4
    assert set(walk.seg_highway) == {"residential", "footway"}
    assert walk.seg_forward.all() and walk.seg_backward.all()
    # cycle: residential (one-way), cycleway, the contraflow-open residential; no footway
    assert cycle.n_segments == 4
    assert set(cycle.seg_highway) == {"residential", "cycleway"}
    osm = cycle.node_osmid
    pairs = {
        (int(osm[u]), int(osm[v])): (bool(f), bool(b))
        for u, v, f, b in zip(
            cycle.seg_u, cycle.seg_v, cycle.seg_forward, cycle.seg_backward, strict=True
        )
    }
    assert pairs[(1, 2)] == (True, False)
    assert pairs[(1, 4)] == (True, True)
    # lengths are metres in the study CRS: 0.001 degree of longitude at 30 S in UTM 22S,
    # within the zone's scale error (0.04 % here) of the geodesic 96.5 m
    u, v = walk.seg_u[0], walk.seg_v[0]
    expected = np.hypot(*(walk.node_xy[v] - walk.node_xy[u]))
    assert pairs and walk.seg_length_m[0] == pytest.approx(float(expected))
    _, _, geodesic = pyproj.Geod(ellps="WGS84").inv(-51.2, -30.0, -51.199, -30.0)
    assert walk.seg_length_m[0] == pytest.approx(geodesic, rel=1e-3)
    # walk: nodes 1,2,3,4 are connected; all in the main component
    assert walk.node_main.all()


def test_main_component_marks_stranded_nodes():
    ways = [
        Way((1, 2), ((0.0, 0.0), (0.001, 0.0)), True, True, "residential"),
        Way((2, 3), ((0.001, 0.0), (0.002, 0.0)), True, True, "residential"),
        Way((7, 8), ((0.0, 0.01), (0.001, 0.01)), True, True, "residential"),
    ]
    net = network_from_ways(ways, "walk", "EPSG:32631")
    main = dict(zip(net.node_osmid.tolist(), net.node_main.tolist(), strict=True))
    assert main == {1: True, 2: True, 3: True, 7: False, 8: False}


def test_osmnx_graph_edges_and_reverse_twins_become_one_way():
    g = nx.MultiDiGraph(crs="EPSG:4326")
    g.add_node(1, x=0.0, y=0.0)
    g.add_node(2, x=0.001, y=0.0)
    g.add_node(3, x=0.002, y=0.0)
    g.add_edge(1, 2, highway="residential")
    g.add_edge(2, 1, highway="residential")
    g.add_edge(2, 3, highway=["primary", "secondary"])
    ways = ways_from_osmnx_graph(g, "cycle")
    assert [(w.node_ids, w.forward, w.backward, w.highway) for w in ways] == [
        ((1, 2), True, True, "residential"),
        ((2, 3), True, False, "primary"),
    ]


def test_a_file_that_is_not_osm_is_refused():
    with pytest.raises(NetworkError, match="network layer"):
        load_network(DATA / "network_not_osm.osm", "walk", CRS)


def test_unknown_network_file_type_is_refused(tmp_path):
    path = tmp_path / "roads.txt"
    path.write_text("x")
    with pytest.raises(NetworkError, match="unknown network file type"):
        load_network(path, "walk", CRS)


def test_empty_network_is_refused(tmp_path):
    path = tmp_path / "empty.osm"
    path.write_text('<?xml version="1.0"?><osm version="0.6"></osm>')
    with pytest.raises(NetworkError, match="no way usable"):
        load_network(path, "walk", CRS)


def test_cycle_main_component_is_strongly_connected():
    # 1-2 two-way; 2->3 one-way: from 3 nothing can be reached, so 3 is not in the main
    # component and no point may snap to the one-way stub
    ways = [
        Way((1, 2), ((0.0, 0.0), (0.001, 0.0)), True, True, "residential"),
        Way((2, 3), ((0.001, 0.0), (0.002, 0.0)), True, False, "residential"),
    ]
    net = network_from_ways(ways, "cycle", "EPSG:32631")
    main = dict(zip(net.node_osmid.tolist(), net.node_main.tolist(), strict=True))
    assert main == {1: True, 2: True, 3: False}
    assert net.seg_main.tolist() == [True, False]


def test_graphml_file(tmp_path):
    import osmnx as ox

    g = nx.MultiDiGraph(crs="EPSG:4326")
    g.add_node(1, x=-51.2, y=-30.0)
    g.add_node(2, x=-51.199, y=-30.0)
    g.add_edge(1, 2, highway="residential", oneway=True, reversed=False, length=96.4)
    path = tmp_path / "g.graphml"
    ox.save_graphml(g, path)
    net = load_network(path, "cycle", CRS)
    assert net.n_segments == 1 and net.seg_forward[0] and not net.seg_backward[0]


def _osmnx_rules(network_type):
    """Parse OSMnx's own Overpass filter into (key, regex) pairs."""
    import re

    from osmnx import _overpass

    text = _overpass._get_network_filter(network_type)
    return re.findall(r'\["([^"]+)"!~"([^"]+)"\]', text)


@pytest.mark.parametrize(("mode", "network_type"), [("walk", "walk"), ("cycle", "bike")])
def test_filters_are_the_installed_osmnx_filters(mode, network_type):
    from coverage.network import _FILTERS

    assert _FILTERS[mode] == _osmnx_rules(network_type)


def test_one_pass_reads_the_same_ways_as_one_pass_per_mode():
    from coverage.network import load_networks, read_osm_ways, read_osm_ways_by_mode

    both = read_osm_ways_by_mode(DATA / "tiny_oneway.osm")
    for mode in ("walk", "cycle"):
        assert both[mode] == read_osm_ways(DATA / "tiny_oneway.osm", mode)
    nets = load_networks(DATA / "tiny_oneway.osm", CRS)
    assert nets["cycle"].n_segments == 4 and nets["walk"].n_segments == 4


def test_pushing_adds_footways_and_steps_to_the_cycle_network():
    assert keeps_way({"highway": "steps"}, "cycle", push=True)
    assert keeps_way({"highway": "footway"}, "cycle", push=True)
    assert not keeps_way({"highway": "footway", "bicycle": "no"}, "cycle", push=True)
    assert not keeps_way({"highway": "footway", "access": "private"}, "cycle", push=True)
    assert not keeps_way({"highway": "motorway"}, "cycle", push=True)
    cycle = load_network(DATA / "tiny_oneway.osm", "cycle", CRS, push=True)
    assert set(cycle.seg_highway) == {"residential", "cycleway", "footway"}


def test_pushing_on_a_downloaded_walk_graph_honours_bicycle_no():
    g = nx.MultiDiGraph()
    for n, x in enumerate(range(5)):
        g.add_node(n, x=x * 0.001, y=0.0)
    g.add_edge(0, 1, highway="footway")
    g.add_edge(1, 2, highway="steps", bicycle="no")
    g.add_edge(2, 3, highway="residential")
    g.add_edge(3, 4, highway=["footway", "path"], bicycle=["designated", "no"])
    ways = push_ways_from_osmnx_graph(g)
    assert [w.node_ids for w in ways] == [(0, 1)]


def test_segment_seconds_per_highway():
    ways = [
        Way((1, 2), ((0.0, 0.0), (0.001, 0.0)), True, True, "residential"),
        Way((2, 3), ((0.001, 0.0), (0.002, 0.0)), True, True, "steps"),
    ]
    net = network_from_ways(ways, "walk", "EPSG:32631")
    length = net.seg_length_m
    seconds = net.segment_seconds(4.0, {"steps": 2.0})
    np.testing.assert_allclose(seconds, [length[0] / (4 / 3.6), length[1] / (2 / 3.6)])
    np.testing.assert_allclose(net.segment_seconds(3.6), length)


# --- downloads: retries, messages, cache -------------------------------------------------

AREA = (-51.3, -30.1, -51.1, -29.9)


def _osmnx_graph():
    """A small unprojected OSMnx-like graph: a two-way street, a one-way street, steps."""
    g = nx.MultiDiGraph(crs="EPSG:4326")
    g.add_node(1, x=-51.2, y=-30.0, street_count=2)
    g.add_node(2, x=-51.199, y=-30.0, street_count=3)
    g.add_node(3, x=-51.198, y=-30.0005, street_count=1)
    g.add_node(4, x=-51.199, y=-30.001, street_count=1)
    g.add_edge(1, 2, osmid=10, highway="residential", oneway=False, reversed=False, length=96.4)
    g.add_edge(2, 1, osmid=10, highway="residential", oneway=False, reversed=True, length=96.4)
    g.add_edge(2, 3, osmid=11, highway=["primary", "secondary"], oneway=True, length=107.0)
    g.add_edge(2, 4, osmid=12, highway="steps", bicycle=["designated", "yes"], length=111.2)
    g.add_edge(4, 2, osmid=12, highway="steps", bicycle=["designated", "yes"], length=111.2)
    return g


class FakeOverpass:
    """Stands in for ``osmnx.graph_from_polygon``: fails as told, then returns a graph."""

    def __init__(self, failures=(), graph=None):
        self.failures = list(failures)
        self.graph = graph if graph is not None else _osmnx_graph()
        self.calls = []

    def __call__(self, polygon, network_type, simplify, retain_all):
        import osmnx as ox

        self.calls.append(
            {
                "network_type": network_type,
                "bounds": polygon.bounds,
                "use_cache": ox.settings.use_cache,
                "cache_folder": str(ox.settings.cache_folder),
                "useful_tags_way": list(ox.settings.useful_tags_way),
                "overpass_rate_limit": ox.settings.overpass_rate_limit,
            }
        )
        if self.failures:
            raise self.failures.pop(0)
        return self.graph


def _fake(monkeypatch, failures=(), graph=None):
    import osmnx as ox

    fake = FakeOverpass(failures, graph)
    monkeypatch.setattr(ox, "graph_from_polygon", fake)
    return fake


def _download(mode="walk", bounds=AREA, **kwargs):
    from shapely.geometry import box

    return load_network(None, mode, CRS, boundary=box(*bounds), **kwargs)


def _same_network(a, b):
    assert a.mode == b.mode and a.crs == b.crs
    for name in (
        "node_xy",
        "node_osmid",
        "seg_u",
        "seg_v",
        "seg_length_m",
        "seg_forward",
        "seg_backward",
        "seg_highway",
        "node_main",
    ):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def _status_error(code, reason):
    from osmnx._errors import ResponseStatusCodeError

    return ResponseStatusCodeError(f"'overpass-api.de' responded: {code} {reason} <html>...</html>")


def test_download_path_builds_the_network_from_the_osmnx_graph(monkeypatch):
    g = nx.MultiDiGraph(crs="EPSG:4326")
    g.add_node(1, x=-51.2, y=-30.0)
    g.add_node(2, x=-51.199, y=-30.0)
    g.add_edge(1, 2, highway="residential")
    g.add_edge(2, 1, highway="residential")
    fake = _fake(monkeypatch, graph=g)
    net = _download("cycle")
    assert [c["network_type"] for c in fake.calls] == ["bike"]
    assert net.n_segments == 1 and net.seg_forward[0] and net.seg_backward[0]


def test_download_settings_are_set_for_the_call_and_restored(monkeypatch, tmp_path):
    import osmnx as ox

    before = (
        list(ox.settings.useful_tags_way),
        ox.settings.use_cache,
        ox.settings.cache_folder,
        ox.settings.overpass_rate_limit,
    )
    fake = _fake(monkeypatch)
    net = _download(cache_dir=tmp_path / "cache")
    call = fake.calls[0]
    assert "bicycle" in call["useful_tags_way"]
    assert call["use_cache"] is True
    http_cache = tmp_path / "cache" / "osmnx-http" / Path(net.source["graphml"]).stem
    assert call["cache_folder"] == str(http_cache)
    assert not http_cache.exists()  # the download is saved: its HTTP answers are dropped
    assert call["overpass_rate_limit"] is True
    after = (
        list(ox.settings.useful_tags_way),
        ox.settings.use_cache,
        ox.settings.cache_folder,
        ox.settings.overpass_rate_limit,
    )
    assert after == before


def test_transient_failures_are_retried_with_backoff(monkeypatch, sleeps):
    import requests

    fake = _fake(
        monkeypatch,
        [requests.exceptions.ReadTimeout("read timed out"), _status_error(504, "Gateway Timeout")],
    )
    net = _download(attempts=3, retry_delay_s=1.5)
    assert len(fake.calls) == 3
    # every attempt shares one OSMnx HTTP cache, so answers already received are not asked again
    assert len({c["cache_folder"] for c in fake.calls}) == 1
    assert sleeps == [1.5, 3.0]
    assert net.n_segments > 0
    assert net.source["from"] == "download" and net.source["attempts"] == 3
    assert [f.split(":")[0] for f in net.source["failed_attempts"]] == [
        "ReadTimeout",
        "ResponseStatusCodeError",
    ]


@pytest.mark.parametrize(
    "error",
    [
        ConnectionError("no route to host"),
        "requests",
        OSError(-2, "Name or service not known"),
    ],
)
def test_offline_gives_a_clear_message_naming_the_attempts(monkeypatch, sleeps, tmp_path, error):
    import socket

    import osmnx as ox
    import requests

    if error == "requests":
        error = requests.exceptions.ConnectionError("Max retries exceeded (NameResolutionError)")
    elif isinstance(error, OSError) and not isinstance(error, ConnectionError):
        error = socket.gaierror(-2, "Name or service not known")
    fake = _fake(monkeypatch, [error] * 4)
    with pytest.raises(NetworkError) as info:
        _download(cache_dir=tmp_path / "cache", attempts=4, retry_delay_s=2.0)
    message = str(info.value)
    assert f"the Overpass server {ox.settings.overpass_url} could not be reached" in message
    assert "walk network (4 attempts, all without a connection" in message
    assert "connect to the internet" in message
    assert "OSM extract (.osm.pbf) or a GraphML file in [inputs] network" in message
    assert str(tmp_path / "cache") in message
    assert len(fake.calls) == 4 and sleeps == [2.0, 4.0, 8.0]
    assert info.value.layer == "network"


def test_an_unreachable_server_is_not_waited_for(monkeypatch):
    import coverage._download as downloading

    monkeypatch.setattr(downloading, "_overpass_reachable", lambda url: False)
    fake = _fake(monkeypatch, [ConnectionError("no route to host")] * 3)
    with pytest.raises(NetworkError, match="could not be reached"):
        _download()
    # OSMnx's 60 s pause before each request is off when the status page is unreachable
    assert [c["overpass_rate_limit"] for c in fake.calls] == [False] * 3


def test_no_network_at_all_stops_at_once(monkeypatch, sleeps):
    import time

    import coverage._download as downloading

    monkeypatch.setattr(downloading, "_no_network", lambda url: "cannot look up the server")
    fake = _fake(monkeypatch, [ConnectionError("no route to host")] * 3)
    start = time.perf_counter()
    with pytest.raises(NetworkError, match="could not be reached"):
        _download(attempts=3)
    assert fake.calls == [] and sleeps == []  # no request, no wait
    assert time.perf_counter() - start < 1.0


def test_a_failed_lookup_is_no_network(monkeypatch):
    monkeypatch.undo()  # the real lookup (this test downloads nothing)
    from coverage._download import _no_network

    assert "no network" in _no_network("https://no-such-host.invalid/api/")
    assert _no_network("not a url") == ""


def test_mixed_transient_failures_say_the_server_failed(monkeypatch):
    _fake(monkeypatch, [ConnectionError("reset"), _status_error(503, "Service Unavailable")])
    with pytest.raises(
        NetworkError,
        match="walk network from the Overpass server .* failed after 2 attempts .*503.*"
        "download_attempts",
    ):
        _download(attempts=2)


@pytest.mark.parametrize(
    ("error", "match"),
    [
        (
            ValueError("Found no graph nodes within the requested polygon."),
            "returned no street of the walk network inside the study area",
        ),
        (_status_error(400, "Bad Request"), "OSMnx failed .*400 Bad Request.*not retried"),
        (ValueError("The geometry of `polygon` is invalid."), "OSMnx failed .*invalid"),
    ],
)
def test_failures_that_would_repeat_are_not_retried(monkeypatch, sleeps, error, match):
    fake = _fake(monkeypatch, [error] * 3)
    with pytest.raises(NetworkError, match=match) as info:
        _download(attempts=3)
    assert "not retried" in str(info.value)
    assert len(fake.calls) == 1 and sleeps == []


def test_an_empty_answer_is_retried_and_both_causes_are_named(monkeypatch, sleeps):
    from osmnx._errors import InsufficientResponseError

    empty = InsufficientResponseError(
        "No data elements in server response. Check query location/filters and log."
    )
    fake = _fake(monkeypatch, [empty] * 2)
    with pytest.raises(NetworkError) as info:
        _download("cycle", attempts=2, retry_delay_s=1.0)
    message = str(info.value)
    assert "returned no street of the cycle network for the study area" in message
    assert "on the last of 2 attempts" in message
    assert "check that the communities layer lies where it should" in message
    assert "cut the query short" in message
    assert len(fake.calls) == 2 and sleeps == [1.0]


def test_a_non_json_answer_is_retried(monkeypatch):
    from osmnx._errors import InsufficientResponseError

    busy = InsufficientResponseError("'overpass-api.de' responded: 200 OK <html>runtime error")
    fake = _fake(monkeypatch, [busy])
    assert _download().source["attempts"] == 2
    assert len(fake.calls) == 2


def test_second_run_reads_the_cache_and_makes_no_request(monkeypatch, tmp_path):
    fake = _fake(monkeypatch)
    cache = tmp_path / "cache"
    first = load_networks(None, CRS, boundary=_box(AREA), push=True, cache_dir=cache)
    assert len(fake.calls) == 2  # walk and bike graphs
    files = sorted(p.name for p in (cache / "networks").iterdir())
    assert len(files) == 4 and sum(f.endswith(".graphml") for f in files) == 2
    assert not [p for p in cache.rglob("*.tmp")]

    second = load_networks(None, CRS, boundary=_box(AREA), push=True, cache_dir=cache)
    assert len(fake.calls) == 2
    for mode in ("walk", "cycle"):
        _same_network(first[mode], second[mode])
        a, b = first[mode].source, second[mode].source
        assert (a["from"], b["from"]) == ("download", "cache")
        assert a["graphml"] == b["graphml"] and Path(b["graphml"]).is_file()
        assert a["downloaded_at_utc"] == b["downloaded_at_utc"]
        assert b["overpass_url"] == a["overpass_url"] and b["osmnx_version"] == a["osmnx_version"]
        assert second[mode].summary()["source"]["from"] == "cache"
    # the pushed footways and steps came from the walk graph, cached too
    assert second["cycle"].source["push_ways_from"]["from"] == "cache"
    assert "steps" in set(second["cycle"].seg_highway)


def test_the_default_cache_folder_is_used_when_none_is_given(monkeypatch, tmp_path):
    fake = _fake(monkeypatch)
    net = _download()
    _download()
    assert len(fake.calls) == 1
    assert Path(net.source["graphml"]).parent == tmp_path / "default-cache" / "networks"


def test_another_area_or_mode_misses_the_cache(monkeypatch, tmp_path):
    from shapely.geometry import Polygon

    fake = _fake(monkeypatch)
    cache = tmp_path / "cache"
    _download("walk", AREA, cache_dir=cache)
    _download("walk", (-51.3, -30.1, -51.1, -29.8), cache_dir=cache)
    _download("cycle", AREA, cache_dir=cache)
    assert len(fake.calls) == 3
    # the same area, with float noise, turned the other way round from another corner, is a hit
    x0, y0, x1, y1 = AREA
    noisy = Polygon([(x0, y0), (x0, y1), (x1, y1 - 1e-10), (x1 + 1e-10, y0), (x0, y0)])
    net = load_network(None, "walk", CRS, boundary=noisy, cache_dir=cache)
    assert len(fake.calls) == 3 and net.source["from"] == "cache"


@pytest.mark.parametrize(
    "damage",
    [
        "",
        "not a graph",
        "truncate",
        '<?xml version="1.0"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
        '<graph edgedefault="directed"/></graphml>',
    ],
)
def test_a_damaged_cache_file_is_downloaded_again_and_replaced(monkeypatch, tmp_path, damage):
    import osmnx as ox

    fake = _fake(monkeypatch)
    cache = tmp_path / "cache"
    first = _download(cache_dir=cache)
    graphml = Path(first.source["graphml"])
    text = graphml.read_text(encoding="utf-8")
    graphml.write_text(text[: len(text) // 2] if damage == "truncate" else damage)

    again = _download(cache_dir=cache)
    assert len(fake.calls) == 2
    assert again.source["from"] == "download"
    assert "could not be read" in again.source["notes"][0]
    _same_network(first, again)
    assert ox.load_graphml(graphml).number_of_nodes() == 4  # replaced by the new download
    assert _download(cache_dir=cache).source["from"] == "cache"
    assert len(fake.calls) == 2


def test_a_lost_sidecar_falls_back_to_the_file_time(monkeypatch, tmp_path):
    _fake(monkeypatch)
    first = _download(cache_dir=tmp_path)
    Path(first.source["graphml"]).with_suffix(".json").write_text("{broken")
    again = _download(cache_dir=tmp_path)
    assert again.source["from"] == "cache"
    assert again.source["downloaded_at_utc"][:4].isdigit()
    assert again.source["overpass_url"] is None


def test_an_unwritable_cache_does_not_lose_the_download(monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    fake = _fake(monkeypatch)
    net = _download(cache_dir=blocker)
    assert net.n_segments > 0 and net.source["graphml"] is None
    assert "nothing was cached" in net.source["notes"][0]
    _download(cache_dir=blocker)
    assert len(fake.calls) == 2


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    from coverage.network import default_cache_dir

    monkeypatch.setenv("SERVICE_COVERAGE_CACHE", str(tmp_path / "own"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "own"
    monkeypatch.setenv("SERVICE_COVERAGE_CACHE", "")
    assert default_cache_dir() == tmp_path / "xdg" / "service-coverage"
    monkeypatch.delenv("SERVICE_COVERAGE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "service-coverage"


def test_bad_attempts_are_refused():
    with pytest.raises(ValueError, match="attempts must be 1 or more"):
        _download(attempts=0)


def test_file_networks_say_where_they_came_from():
    net = load_network(DATA / "tiny_oneway.osm", "walk", CRS)
    assert net.source == {"from": "file", "path": str(DATA / "tiny_oneway.osm")}
    assert net.summary()["source"]["from"] == "file"


def _box(bounds):
    from shapely.geometry import box

    return box(*bounds)


def test_the_run_passes_the_download_settings_on(tmp_path, monkeypatch):
    """[network] cache_dir (relative to the study file) and download_attempts reach the download."""
    from coverage import layers, pipeline
    from tiny_study import write_study

    seen = {}
    real = layers.load_networks

    def spy(source, crs, **kwargs):
        seen.update(kwargs)
        return real(source, crs, **kwargs)

    monkeypatch.setattr(layers, "load_networks", spy)
    extra = '[network]\ncache_dir = "osm-cache"\ndownload_attempts = 5'
    pipeline.run_study(write_study(tmp_path, extra=extra))
    assert seen["cache_dir"] == tmp_path / "osm-cache" and seen["attempts"] == 5
