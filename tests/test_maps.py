"""The map page as text: self-contained, escaped, within its size cap; basemaps; datums."""

from __future__ import annotations

import dataclasses
import json
import re

import geopandas as gpd
import numpy as np
import prcoords
import pytest
import shapely

from coverage.config import MapSettings, demo_study, study_from_dict
from coverage.errors import InputLayerError, StudyFileError
from coverage.inputs import convert_datum
from coverage.maps import (
    MapSizeError,
    _facility_payload,
    demand_grid_png,
    leaflet_assets,
    render_map,
    tile_source,
)

EVIL = "<img src=x onerror=alert(1)>"
EVIL_SCRIPT = "</script><script>alert(2)</script>"

#: What a page may name without loading it: links and XML namespaces, never a source.
HARMLESS_URLS = (
    "https://leafletjs.com",
    "http://www.w3.org/2000/svg",
    "https://bugzilla.mozilla.org",
)


def external_loads(page: str) -> list[str]:
    """Every URL the page could load: src/href of scripts, styles and images, CSS url()."""
    found = re.findall(r"<(?:script|img|iframe)[^>]*\bsrc=[\"']?([^\"' >]+)", page, flags=re.I)
    found += re.findall(r"<link[^>]*\bhref=[\"']?([^\"' >]+)", page, flags=re.I)
    found += re.findall(r"url\(([^)]+)\)", page)
    return [u for u in found if not u.startswith(("data:", "#"))]  # "#default#VML": IE behaviour


@pytest.fixture(scope="module")
def offline_page(demo_result):
    settings = MapSettings(offline=True)
    return render_map(demo_result, "en", settings=settings)


def test_offline_page_loads_nothing(offline_page):
    page, figures = offline_page
    assert external_loads(page) == []
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert all(u.startswith(HARMLESS_URLS) for u in urls), urls
    # the policy forbids any load the text check missed
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp and "img-src data:;" in csp
    assert figures.basemap == "none" and figures.offline
    # Leaflet itself is inlined, not linked
    _, js, version = leaflet_assets()
    assert js[:2000] in page and version.startswith("1.9")


def test_osm_basemap_admits_only_its_tiles(demo_result):
    page, figures = render_map(demo_result, "en", settings=MapSettings())
    assert figures.basemap == "osm"
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "img-src data: https://tile.openstreetmap.org;" in csp
    assert external_loads(page) == []
    assert "OpenStreetMap contributors" in page


def test_local_tile_template(demo_result):
    settings = MapSettings(
        offline=True,
        basemap="http://localhost:8080/{z}/{x}/{y}.png",
        basemap_attribution="my tiles",
    )
    page, figures = render_map(demo_result, "en", settings=settings)
    assert "http://localhost:8080/{z}/{x}/{y}.png" in page and "my tiles" in page
    assert "img-src data: http://localhost:8080;" in page
    assert figures.basemap == settings.basemap


@pytest.mark.parametrize(
    ("template", "source"),
    [
        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://*.tile.example.org"),
        ("file:///srv/tiles/{z}/{x}/{y}.png", "file:"),
        ("http://127.0.0.1:9000/t/{z}/{x}/{y}", "http://127.0.0.1:9000"),
        ("https://t{n}.example.org/{z}/{x}/{y}", "https:"),
    ],
)
def testtile_source(template, source):
    assert tile_source(template) == source


def test_map_settings_are_validated(tmp_path):
    (tmp_path / "c.geojson").write_text("{}")
    base = {"inputs": {"communities": "c.geojson", "facilities": "c.geojson"}}
    with pytest.raises(StudyFileError, match="offline map cannot use the OpenStreetMap"):
        study_from_dict({**base, "map": {"offline": True, "basemap": "osm"}}, tmp_path)
    with pytest.raises(StudyFileError, match=r"tile URL template with \{z\}"):
        study_from_dict({**base, "map": {"basemap": "gaode"}}, tmp_path)
    with pytest.raises(StudyFileError, match="map.offline must be true or false"):
        study_from_dict({**base, "map": {"offline": "yes"}}, tmp_path)
    with pytest.raises(StudyFileError, match=r"unknown key map.basmap \(did you mean 'basemap'"):
        study_from_dict({**base, "map": {"basmap": "none"}}, tmp_path)
    with pytest.raises(StudyFileError, match="datum.facilities must be one of wgs84, gcj02, bd09"):
        study_from_dict({**base, "datum": {"facilities": "gcj-02"}}, tmp_path)
    study = study_from_dict({**base, "map": {"offline": True}}, tmp_path)
    assert study.map.tiles() == "none" and study.map.service_areas
    with pytest.raises(StudyFileError, match="map.service_areas must be true or false"):
        study_from_dict({**base, "map": {"service_areas": "no"}}, tmp_path)
    study = study_from_dict({**base, "map": {"service_areas": False}}, tmp_path)
    assert not study.map.service_areas


def _evil_result(result):
    fac = result.facilities.copy()
    first = fac.index[fac["category"] == "health"][0]
    fac.loc[first, "name"] = EVIL
    comm = result.communities.copy()
    comm.loc[comm.index[0], "name"] = EVIL_SCRIPT
    study = dataclasses.replace(result.study, name=EVIL, attribution=EVIL_SCRIPT)
    return dataclasses.replace(result, facilities=fac, communities=comm, study=study)


def test_user_strings_are_escaped_in_the_page(demo_result):
    page, _ = render_map(_evil_result(demo_result), "en", settings=MapSettings(offline=True))
    assert EVIL not in page and "<img src=x" not in page
    assert EVIL_SCRIPT not in page and "<script>alert" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    # every <script> the page opens is one the page meant to open
    assert page.count("<script") == page.count("</script>")


def layer_names(page: str) -> list[str]:
    """The overlay names of the layer control (folium writes them JSON-escaped)."""
    block = page[page.index("overlays :") :]
    block = block[: block.index("}")]
    return [json.loads(m) for m in re.findall(r'("(?:[^"\\]|\\.)*")\s*:', block)]


def _payloads(page: str) -> list[dict]:
    """The GeoJSON payloads handed to the drawing code."""
    out = []
    for m in re.finditer(r"scMap\.(?:communities|polygons|points)\(\w+, (\{.*?\}), ", page):
        out.append(json.loads(m.group(1).replace("<\\/", "</")))
    return out


def test_page_holds_every_layer_and_feature(demo_result, offline_page):
    page, figures = offline_page
    comm, *_ = _payloads(page)
    assert len(comm["features"]) == len(demo_result.communities)
    first = comm["features"][0]["properties"]
    # one value per indicator of the switch, A1 first, equal to the table's
    assert first["v"][0] == round(
        float(demo_result.communities.iloc[0]["A1_service_circle_15min"]), 4
    )
    text = " | ".join(layer_names(page))
    for expected in (
        "communities: coverage",
        "facilities: primary school",
        "facilities: community health station / village clinic",
        "service area: primary school, 15 min walk",
        "service area: primary school, 15 min cycle",
        "shortfall areas: A1_service_circle",
        "demand grid: A1_service_circle_15min",
    ):
        assert expected in text, expected
    for cat in ("health", "primary_school"):
        n = int((demo_result.facilities["category"] == cat).sum())
        assert figures.layers_bytes[f"facilities:{cat}"] > 0
        # every facility carries its own values; its popup is filled from its layer's words
        payload, template = _facility_payload(demo_result, cat, "#000", "en")
        assert len(payload["features"]) == n and all(len(f["properties"]["f"]) == 6
                                                     for f in payload["features"])  # fmt: skip
        assert "{name}" in template["popup"] and "{sw}" in template["popup"]
    assert page.count('"f":[') == len(demo_result.facilities)
    assert figures.bytes == len(page.encode())


def test_chinese_labels(demo_result):
    page, _ = render_map(demo_result, "zh", settings=MapSettings(offline=True))
    for text in ("社区着色指标", "未达标", "常住人口", "数据：", "类别"):
        assert text in page, text
    names = layer_names(page)
    assert "设施：小学" in names and "服务范围：小学，步行15分钟" in names, names


def test_size_cap_simplifies_then_refuses(demo_result):
    _, fig = render_map(demo_result, "en", settings=MapSettings(offline=True))
    # a cap well below the page: the hidden service areas are drawn more coarsely
    # first (each within a tenth of the cap), then the tolerance doubles until it fits
    cap_mb = 0.7 * fig.bytes / 1e6
    page, fig2 = render_map(
        demo_result, "en", settings=MapSettings(offline=True, max_size_mb=cap_mb)
    )
    assert fig2.bytes <= cap_mb * 1e6 < fig.bytes
    assert fig2.simplify_m > fig.simplify_m and fig2.notes
    service = {k: v for k, v in fig2.layers_bytes.items() if k.startswith("service_area")}
    assert service and all(v <= 0.1 * cap_mb * 1e6 for v in service.values())
    # every community is still there
    assert len(_payloads(page)[0]["features"]) == len(demo_result.communities)
    # the rounds reuse what the tolerance does not change: the page is the one a first
    # build at the final tolerance gives
    direct, _ = render_map(
        demo_result,
        "en",
        settings=MapSettings(offline=True, simplify_m=fig2.simplify_m, max_size_mb=cap_mb),
    )
    assert direct == page
    # points alone over the cap: refused at once, saying simplification cannot help
    with pytest.raises(MapSizeError, match=r"over the 0.01 MB cap, in the layers no simpl.*Fix"):
        render_map(demo_result, "en", settings=MapSettings(offline=True, max_size_mb=0.01))


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_demand_grid_is_a_real_raster(demo_result):
    """A PNG (read back through rasterio: its bounds travel beside it, not in it)."""
    from rasterio.io import MemoryFile

    a1 = next(s for s in demo_result.specs if s.indicator == "A1_service_circle")
    png, bounds = demand_grid_png(demo_result, np.asarray(a1.covered))
    with MemoryFile(png) as mem, mem.open() as ds:
        assert ds.driver == "PNG" and ds.count == 4
        rgba = ds.read()
    alpha = rgba[3] > 0
    green = alpha & (rgba[1] > rgba[0])
    red = alpha & (rgba[0] > rgba[1])
    assert green.any() and red.any() and (~alpha).any()
    (south, west), (north, east) = bounds
    ll = demo_result.communities.to_crs("EPSG:4326").total_bounds
    assert west <= ll[0] and south <= ll[1] and east >= ll[2] and north >= ll[3]


# --- GCJ-02 / BD-09 input conversion ---------------------------------------------------------

SUINING = [(105.5929, 30.5328), (105.6061, 30.5108), (105.5702, 30.4927)]


def _shifted(convert) -> gpd.GeoDataFrame:
    moved = [convert((lat, lon)) for lon, lat in SUINING]
    return gpd.GeoDataFrame(
        {"facility_id": ["a", "b", "c"]},
        geometry=gpd.points_from_xy([c.lon for c in moved], [c.lat for c in moved]),
        crs="EPSG:4326",
    )


@pytest.mark.parametrize(
    ("datum", "forward", "low", "high"),
    [
        ("gcj02", prcoords.wgs_gcj, 200.0, 800.0),
        ("bd09", prcoords.wgs_bd, 600.0, 1500.0),
    ],
)
def test_datum_conversion_restores_wgs84(datum, forward, low, high):
    gdf = _shifted(forward)
    out, notes = convert_datum(gdf, datum, "facilities", "facility_id")
    got = shapely.get_coordinates(out.geometry.values)
    err_m = np.abs(got - np.array(SUINING)) * np.array([96_000.0, 111_000.0])
    assert err_m.max() < 0.01  # under a centimetre
    shift = float(re.search(r"median shift (\d+) m", str(notes[0])).group(1))
    assert low < shift < high  # hundreds of metres, as the README warns
    assert out.crs.to_epsg() == 4326 and list(out["facility_id"]) == ["a", "b", "c"]


def test_datum_refuses_projected_layers_and_places_outside_china():
    gdf = _shifted(prcoords.wgs_gcj)
    with pytest.raises(
        InputLayerError, match="facilities layer: datum.facilities says GCJ-02, but the layer's CRS"
    ):
        convert_datum(gdf.to_crs("EPSG:32648"), "gcj02", "facilities", "facility_id")
    abroad = gpd.GeoDataFrame(
        {"facility_id": ["x"]}, geometry=gpd.points_from_xy([-51.2], [-30.0]), crs="EPSG:4326"
    )
    with pytest.raises(InputLayerError, match=r"feature\(s\) x lie outside China"):
        convert_datum(abroad, "bd09", "facilities", "facility_id")
    same, notes = convert_datum(abroad, "wgs84", "facilities", "facility_id")
    assert same is abroad and notes == []


def test_demo_study_declares_wgs84():
    assert dataclasses.asdict(demo_study().datum) == {
        "communities": "wgs84",
        "facilities": "wgs84",
        "workplaces": "wgs84",
        "candidates": "wgs84",
    }


def test_chinese_service_tiles_are_flagged(demo_result):
    settings = MapSettings(basemap="https://webrd01.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}")
    _, figures = render_map(demo_result, "en", settings=settings)
    assert any("GCJ-02/BD-09" in n for n in figures.notes)
    _, plain = render_map(demo_result, "en", settings=MapSettings())
    assert plain.notes == []


def test_street_backdrop_only_without_a_basemap(demo_result):
    """No basemap: the study's own streets are drawn (shown); over OSM tiles they are not."""
    from coverage.maps import streets_backdrop

    _, offline = render_map(demo_result, "zh", settings=MapSettings(offline=True))
    _, osm = render_map(demo_result, "zh", settings=MapSettings())
    assert "streets" in offline.layers_bytes and "streets" not in osm.layers_bytes
    assert offline.layers_bytes["streets"] < 0.4 * offline.bytes
    lines = streets_backdrop(demo_result, 5.0)
    assert lines is not None and lines["features"][0]["geometry"]["type"] == "MultiLineString"


def test_service_areas_can_be_left_out(demo_result, monkeypatch):
    """``map.service_areas = false``: neither the map nor the GeoPackage traces them."""
    from coverage.report import _geopackage_layers

    comm, dem = demo_result.communities, demo_result.demand.points
    # drawn by default (the map's: test_size_cap_simplifies_then_refuses)
    assert "service_areas" in _geopackage_layers(demo_result, comm, dem)
    study = dataclasses.replace(demo_result.study, map=MapSettings(service_areas=False))
    result = dataclasses.replace(demo_result, study=study)

    def traced(self):
        pytest.fail("service areas traced although map.service_areas = false")

    monkeypatch.setattr(type(result), "service_areas", property(traced))
    page, left_out = render_map(result, "en", settings=study.map)
    assert not any(k.startswith("service_area") for k in left_out.layers_bytes)
    assert "service area" not in page  # nor in the legend
    assert "service_areas" not in _geopackage_layers(result, comm, dem)
