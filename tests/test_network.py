"""OSM way filters, one-way rules and network building."""

from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from coverage.errors import NetworkError
from coverage.network import (
    Way,
    great_circle_m,
    keeps_way,
    load_network,
    network_from_ways,
    push_ways_from_osmnx_graph,
    way_directions,
    ways_from_osmnx_graph,
)

DATA = Path(__file__).parent / "data"
CRS = "EPSG:32722"


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


def test_great_circle_matches_a_known_distance():
    # one degree of latitude on OSMnx's sphere: pi * R / 180
    assert great_circle_m(0, 0, 0, 1) == pytest.approx(np.pi * 6_371_009 / 180)


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
    # lengths are great-circle metres: 0.001 degree of longitude at 30 S
    expected = great_circle_m(-51.2, -30.0, -51.199, -30.0)
    assert pairs and walk.seg_length_m[0] == pytest.approx(float(expected))
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


def test_download_failure_gives_a_clear_message(monkeypatch):
    import osmnx as ox
    from shapely.geometry import box

    def offline(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(ox, "graph_from_polygon", offline)
    with pytest.raises(
        NetworkError, match="downloading the walk network with OSMnx failed .*name an OSM extract"
    ):
        load_network(None, "walk", CRS, boundary=box(-51.2, -30.1, -51.1, -30.0))


def test_download_path_builds_the_network_from_the_osmnx_graph(monkeypatch):
    import osmnx as ox
    from shapely.geometry import box

    g = nx.MultiDiGraph(crs="EPSG:4326")
    g.add_node(1, x=-51.2, y=-30.0)
    g.add_node(2, x=-51.199, y=-30.0)
    g.add_edge(1, 2, highway="residential")
    g.add_edge(2, 1, highway="residential")
    seen = {}

    def fake(polygon, network_type, simplify, retain_all):
        seen.update(network_type=network_type, simplify=simplify)
        return g

    monkeypatch.setattr(ox, "graph_from_polygon", fake)
    net = load_network(None, "cycle", CRS, boundary=box(-51.3, -30.1, -51.1, -29.9))
    assert seen == {"network_type": "bike", "simplify": False}
    assert net.n_segments == 1 and net.seg_forward[0] and net.seg_backward[0]


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
