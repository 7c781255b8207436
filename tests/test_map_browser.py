"""The map in a real browser (Debian chromium, driven by Playwright) with the network off.

Every request other than the map file itself is recorded and refused, the
browser context is offline, and the page must still draw every layer: no
JavaScript error, the Leaflet map, its layers, legend and title, a popup on a
real click, the indicator switch, and user strings shown as text. Screenshots
are saved in each test's temporary folder.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
import shutil

import numpy as np
import pytest

from coverage.cli import main
from coverage.config import MapSettings
from coverage.maps import ICON_FULL_ZOOM, render_map

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")

EVIL = "<img src=x onerror=alert(1)>"
EVIL_SCRIPT = "</script><script>alert(2)</script>"
FIND_MAP = "Object.values(window).find(v => window.L && v instanceof L.Map)"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


class Opened:
    """A page opened with the network off, and everything it tried or said."""

    def __init__(self, browser, path, viewport=(1400, 900)):
        self.context = browser.new_context(
            offline=True, viewport={"width": viewport[0], "height": viewport[1]}
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.console_errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "console",
            lambda m: self.console_errors.append(m.text) if m.type == "error" else None,
        )

        def dialog(d):
            self.dialogs.append(d.message)
            d.dismiss()

        self.page.on("dialog", dialog)

        def route(r):
            if r.request.url.startswith("file:"):
                r.continue_()
            else:
                self.requests.append(r.request.url)
                r.abort()

        self.page.route("**/*", route)
        self.page.goto(path.as_uri())
        self.page.wait_for_function(f"() => !!({FIND_MAP})")
        self.page.wait_for_timeout(300)

    def js(self, expression, arg=None):
        return self.page.evaluate(expression, arg)

    def layer_labels(self) -> list[str]:
        return [
            t.strip()
            for t in self.page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
        ]

    def click_at(self, lat: float, lon: float, zoom: int) -> None:
        """Centre the map on a point and click there with the mouse."""
        x, y = self.js(
            f"""([lat, lon, zoom]) => {{
                const map = {FIND_MAP};
                map.setView([lat, lon], zoom, {{animate: false}});
                const p = map.latLngToContainerPoint([lat, lon]);
                const r = map.getContainer().getBoundingClientRect();
                return [r.left + p.x, r.top + p.y];
            }}""",
            [lat, lon, zoom],
        )
        self.page.wait_for_timeout(200)
        self.page.mouse.click(x, y)

    def popup_text(self) -> str:
        """The open popup's text, once it has faded in."""
        self.page.wait_for_function(
            "() => { const p = document.querySelector('.leaflet-popup');"
            " return p && getComputedStyle(p).opacity === '1'; }",
            timeout=10_000,
        )
        return self.page.locator(".leaflet-popup-content").inner_text()

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def offline_demo_map(tmp_path_factory):
    """The demo run as a planner starts it: ``service-coverage run --offline``."""
    out = tmp_path_factory.mktemp("offline-demo")
    assert main(["run", "--offline", "--out", str(out), "--quiet"]) == 0
    return out / "map.html"


def test_offline_demo_map_renders_fully_with_the_network_off(
    browser, offline_demo_map, demo_result, tmp_path
):
    view = Opened(browser, offline_demo_map)
    try:
        assert view.requests == []  # nothing but the file, not even a failed attempt
        assert view.errors == [] and view.console_errors == []
        assert view.js("typeof L") == "object" and view.js("L.version") == "1.9.3"
        labels = view.layer_labels()
        for expected in (
            "communities: coverage",
            "facilities: primary school",
            "facilities: community health station / village clinic",
            "service area: primary school, 15 min walk",
            "service area: community health station / village clinic, 15 min cycle",
            "shortfall areas: A1_service_circle",
            "demand grid: A1_service_circle_15min",
        ):
            assert expected in labels, (expected, labels)
        # legend, title, scale bar, data attribution
        legend = view.page.locator("#sc-legend").inner_text()
        assert "primary school" in legend and "100 %" in legend
        assert "Porto Alegre demo" in view.page.locator("#sc-title").inner_text()
        assert view.page.locator(".leaflet-control-scale-line").count() >= 1
        assert "IPEA" in view.page.locator(".leaflet-control-attribution").inner_text()
        # every community and facility is drawn
        n_comm = len(demo_result.communities)
        assert view.page.locator("path.leaflet-interactive").count() >= n_comm
        assert view.page.locator(".sc-icon").count() == len(demo_result.facilities)
        view.page.screenshot(path=tmp_path / "offline-demo.png")

        # hide the facilities (real clicks on the layer control) and click a community
        for label in labels:
            if label.startswith("facilities:"):
                view.page.locator(".leaflet-control-layers-overlays label", has_text=label).click()
        assert view.page.locator(".sc-icon").count() == 0
        comm = demo_result.communities.to_crs("EPSG:4326")
        w, s, e, n = comm.total_bounds
        bounds = [[s, w], [n, e]]
        big = comm.iloc[int(np.argmax(demo_result.communities.area.to_numpy()))]
        point = big.geometry.representative_point()
        view.click_at(point.y, point.x, 15)
        text = view.popup_text()
        assert str(big["name"]) in text and "residents" in text and "A1_service_circle" in text
        view.page.screenshot(path=tmp_path / "popup.png")

        # the indicator switch recolours the communities and its caption
        before = view.js(
            "Array.from(document.querySelectorAll('path.leaflet-interactive')).map(p => p.getAttribute('fill'))"
        )
        options = view.page.locator("#sc-indicator option").all_inner_texts()
        assert options[0].startswith("15-minute community service circle")  # A1, by its name
        other = 1
        view.page.select_option("#sc-indicator", str(other))
        after = view.js(
            "Array.from(document.querySelectorAll('path.leaflet-interactive')).map(p => p.getAttribute('fill'))"
        )
        assert before != after
        assert options[other].split(" (")[0] in view.page.locator("#sc-caption").inner_text()

        # the demand grid (off by default) draws as an image once ticked
        assert view.page.locator("img.leaflet-image-layer").count() == 0
        view.page.locator(".leaflet-control-layers-overlays label", has_text="demand grid").click()
        view.page.wait_for_function(
            "() => { const i = document.querySelector('img.leaflet-image-layer');"
            " return i && i.complete && i.naturalWidth > 0; }"
        )
        view.js(f"{FIND_MAP}.closePopup()")
        view.js(f"{FIND_MAP}.fitBounds({json.dumps(bounds)}, {{animate: false}})")
        view.page.wait_for_timeout(300)
        view.page.screenshot(path=tmp_path / "demand-grid.png")
        assert view.requests == [] and view.errors == []
    finally:
        view.close()


def test_user_strings_display_as_text_in_the_browser(browser, demo_result, tmp_path):
    fac = demo_result.facilities.copy()
    target = fac.index[fac["category"] == "health"][0]
    fac.loc[target, "name"] = EVIL
    comm = demo_result.communities.copy()
    comm.loc[comm.index[0], "name"] = EVIL_SCRIPT
    study = dataclasses.replace(demo_result.study, name=EVIL, attribution=EVIL_SCRIPT)
    evil = dataclasses.replace(demo_result, facilities=fac, communities=comm, study=study)
    page, _ = render_map(evil, "en", settings=MapSettings(offline=True))
    path = tmp_path / "evil.html"
    path.write_text(page, encoding="utf-8")

    view = Opened(browser, path)
    try:
        assert view.errors == [] and view.dialogs == []
        assert EVIL in view.page.locator("#sc-title").inner_text()
        assert EVIL_SCRIPT in view.page.locator(".leaflet-control-attribution").inner_text()
        pt = fac.loc[[target]].to_crs("EPSG:4326").geometry.iloc[0]
        view.click_at(pt.y, pt.x, 19)
        assert EVIL in view.popup_text()
        view.page.screenshot(path=tmp_path / "escaped.png")
        assert view.js("document.querySelectorAll('img[src=\"x\"]').length") == 0
        assert view.dialogs == [] and view.errors == []
    finally:
        view.close()


def test_osm_basemap_map_in_chinese_with_the_network_off(browser, demo_result, tmp_path):
    """With the OSM basemap and no network, only tiles are tried; every layer still draws."""
    page, _ = render_map(demo_result, "zh", settings=MapSettings())
    path = tmp_path / "zh.html"
    path.write_text(page, encoding="utf-8")
    view = Opened(browser, path)
    try:
        assert view.errors == []
        assert view.requests and all(
            u.startswith("https://tile.openstreetmap.org/") for u in view.requests
        )
        assert "设施：小学" in view.layer_labels()
        assert "社区着色指标" in view.page.locator("#sc-legend").inner_text()
        assert view.page.locator(".sc-icon").count() == len(demo_result.facilities)
        view.page.screenshot(path=tmp_path / "zh.png")
    finally:
        view.close()


#: Every popup and tooltip of the map, shown or not (hidden layers are reached through the
#: layer list), as HTML.
ALL_POPUPS = """() => {
  const out = [];
  function walk(l) {
    if (l.getLayers) { l.getLayers().forEach(walk); }
    for (const o of [l.getPopup && l.getPopup(), l.getTooltip && l.getTooltip()]) {
      if (!o) { continue; }
      const c = typeof o._content === "function" ? o._content(l) : o._content;
      out.push([l.feature && l.feature.geometry.type, String(c)]);
    }
  }
  CONTROL._layers.forEach(o => walk(o.layer));
  return out;
}"""


@pytest.fixture(scope="module")
def zh_site_map(demo_loaded, demo_result, tmp_path_factory):
    """The demo with three proposed sites, in Chinese, with no basemap."""
    from coverage.sites import site_study

    siting = site_study(demo_loaded, dataclasses.replace(demo_loaded.study.siting, p=3))
    page, figures = render_map(demo_result, "zh", siting, MapSettings(offline=True))
    path = tmp_path_factory.mktemp("zh-site") / "map.html"
    path.write_text(page, encoding="utf-8")
    return path, siting, figures


def _layer_control_name(path) -> str:
    return re.search(r"(layer_control_\w+) = L\.control\.layers", path.read_text()).group(1)


def _latin_left(text: str, user: list[str]) -> set[str]:
    """Latin words of a text once the user's strings are taken out, ids (words with digits,
    underscores or hyphens) and the credited names excepted."""
    for value in sorted(user, key=len, reverse=True):
        text = text.replace(value, " ")
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9_\-]*", text))
    return {w for w in words if not re.search(r"[\d_\-]", w)} - {
        "Leaflet",
        "OpenStreetMap",
        "ODbL",
    }


def test_chinese_map_shows_no_english_beyond_ids_and_user_data(browser, zh_site_map, demo_result):
    path, siting, _ = zh_site_map
    study = demo_result.study
    comm, fac = demo_result.communities, demo_result.facilities
    user = [study.name, study.attribution, *comm["name"], *comm["community_id"]]
    user += [*fac["name"], *fac["facility_id"], *siting.sites["candidate_id"]]
    user += [f"（{c}）" for c in demo_result.categories]  # a facility's category code
    view = Opened(browser, path)
    try:
        assert view.errors == []
        labels = view.js(
            "Array.from(document.querySelectorAll('.leaflet-control-layers label'))"
            ".map(l => l.textContent)"
        )
        assert "街道（步行路网）" in [t.strip() for t in labels]
        popups = view.js(ALL_POPUPS.replace("CONTROL", _layer_control_name(path)))
        kinds = {k for k, _ in popups}
        assert {"Point", "Polygon"} <= kinds or {"Point", "MultiPolygon"} <= kinds
        site_popups = [c for _, c in popups if "候选点编号" in c]
        assert len(site_popups) == len(siting.sites)
        assert all("所在社区" in c and "经度、纬度" in c for c in site_popups)
        texts = [view.js("document.body.innerText"), *labels]
        texts += [html.unescape(re.sub(r"<[^>]+>", " ", c)) for _, c in popups]
        leaks = {w: t[:200] for t in texts for w in _latin_left(t, user)}
        assert leaks == {}, leaks
        assert (
            view.page.locator(".leaflet-control-scale-line")
            .all_inner_texts()[0]
            .endswith(("公里", "米"))
        )
    finally:
        view.close()


def test_small_screen_layout_of_the_offline_chinese_map(browser, zh_site_map, tmp_path):
    """1280x720: layer list collapsed, popups clear of it, icons as dots, streets drawn."""
    path, _, figures = zh_site_map
    view = Opened(browser, path, viewport=(1280, 720))
    try:
        assert view.errors == []
        ctrl = view.page.locator(".leaflet-control-layers")
        assert "leaflet-control-layers-expanded" not in ctrl.get_attribute("class")
        # the proposed sites have their legend entry
        assert "拟建社区综合体" in view.page.locator("#sc-legend-sites").inner_text()
        # the street backdrop is drawn, thin and grey, under everything clickable
        assert figures.layers_bytes["streets"] < 0.4 * figures.bytes
        streets = view.page.locator('path[stroke="#8a8a8a"]')
        assert streets.count() >= 1 and "leaflet-interactive" not in (
            streets.first.get_attribute("class") or ""
        )
        # zoomed out, facility icons are small dots; at full zoom, full icons
        width = "Math.max(...Array.from(document.querySelectorAll('.sc-icon:not(.sc-site) span'), s => s.getBoundingClientRect().width))"
        assert view.js(f"{FIND_MAP}.getZoom()") < ICON_FULL_ZOOM - 1 and view.js(width) <= 10
        view.js(f"{FIND_MAP}.setZoom({ICON_FULL_ZOOM}, {{animate: false}})")
        view.page.wait_for_timeout(300)
        assert view.js(width) >= 18
        view.js(f"{FIND_MAP}.fitBounds({FIND_MAP}.getBounds(), {{animate: false}})")
        # the layer list opened (hovered), a community popup opened right under it
        ctrl.hover()
        view.page.wait_for_timeout(200)
        assert "leaflet-control-layers-expanded" in ctrl.get_attribute("class")
        view.js(
            f"""() => {{ const map = {FIND_MAP}; const c = document.querySelector(
                '.leaflet-control-layers').getBoundingClientRect();
              const m = map.getContainer().getBoundingClientRect();
              let layer = null;
              map.eachLayer(l => {{ if (!layer && l.feature && l.feature.properties.n) layer = l; }});
              layer.openPopup(map.containerPointToLatLng([c.left - m.left + 40, c.bottom - m.top - 20]));
            }}"""
        )
        view.popup_text()
        view.page.wait_for_timeout(600)
        boxes = view.js(
            """() => ['.leaflet-popup', '.leaflet-control-layers', '#sc-legend'].map(s => {
                 const r = document.querySelector(s).getBoundingClientRect();
                 return [r.left, r.top, r.right, r.bottom]; })"""
        )
        popup = boxes[0]
        for other in boxes[1:]:
            apart = (
                popup[2] <= other[0]
                or popup[0] >= other[2]
                or popup[3] <= other[1]
                or popup[1] >= other[3]
            )
            assert apart, (popup, other)
        view.page.screenshot(path=tmp_path / "small-screen-popup.png")
        # a service area is an outline over a faint fill
        label = next(t for t in view.layer_labels() if t.startswith("服务范围"))
        view.page.locator(".leaflet-control-layers-overlays label", has_text=label).click()
        opacity = view.js(
            "Math.max(...Array.from(document.querySelectorAll('path.leaflet-interactive'), "
            "p => p.getAttribute('stroke-width') === '2.5' ? +p.getAttribute('fill-opacity') : 0))"
        )
        assert 0 < opacity <= 0.1
        assert view.errors == []
    finally:
        view.close()
