"""The interactive map: one self-contained HTML page that opens anywhere.

Leaflet is inlined from the ``XStatic-Leaflet`` package (its images as data
URIs), so the page loads nothing at view time but the basemap tiles, and with
``basemap = "none"`` nothing at all; a Content-Security-Policy in the page
forbids every other load. folium builds the page; the layers are drawn by a
short script of our own from compact GeoJSON (coordinates rounded to about a
metre, geometries simplified in the study CRS, shared community edges kept
shared), so a city-sized study stays small. When the page would exceed
``max_size_mb``, the simplification tolerance is doubled until it fits.
Without a basemap, a thin backdrop of the study's own streets (the walk
network, paths left out) gives the layers their context.

On a small screen the layer list starts collapsed, and an opened popup is
panned clear of the panels (layer list, legend, title); facility icons shrink
to dots below :data:`ICON_FULL_ZOOM`, so a city's facilities do not pile up.

Every user-provided string (names, ids, categories, the study's name and
attribution) is HTML-escaped before it reaches the page: popups, tooltips and
layer names are set with ``innerHTML``. The embedded JSON also has ``</``
escaped, so no string can close the script that carries it.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from branca.element import Element, MacroElement
from jinja2 import Template
from rasterio.features import rasterize
from rasterio.io import MemoryFile

from coverage.catalogue import indicator_label
from coverage.categories import MODE_LABELS, STATUS_LABELS, label
from coverage.config import MapSettings
from coverage.errors import CoverageError
from coverage.messages import SCOPE_LABELS, render
from coverage.sites import rule_message

if TYPE_CHECKING:
    from coverage.pipeline import StudyResult

#: Colours per category (ColorBrewer Set1/Dark2, distinct for up to 16 categories).
_T = TypeVar("_T")

PALETTE = [
    "#e41a1c",
    "#377eb8",
    "#4daf4a",
    "#984ea3",
    "#ff7f00",
    "#a65628",
    "#f781bf",
    "#999999",
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
    "#666666",
]

#: The glyph on each category's marker: (English, Chinese).
GLYPHS: dict[str, tuple[str, str]] = {
    "community_service": ("CS", "社"),
    "community_complex": ("CX", "综"),
    "health": ("H", "医"),
    "kindergarten": ("K", "幼"),
    "nursery": ("N", "托"),
    "elderly_care": ("E", "老"),
    "primary_school": ("P", "小"),
    "middle_school": ("M", "中"),
    "supermarket": ("SM", "超"),
    "convenience": ("CV", "便"),
    "market": ("MK", "市"),
    "culture": ("CU", "文"),
    "sports": ("SP", "体"),
    "police": ("PL", "警"),
    "post": ("PO", "邮"),
    "pharmacy": ("PH", "药"),
    "self_service": ("SS", "自"),
    "legal_aid": ("LA", "法"),
    "breakfast": ("BF", "早"),
    "laundry": ("LD", "洗"),
    "hairdresser": ("HD", "发"),
    "repair": ("RP", "修"),
}

#: Coverage classes of the community colouring: upper bounds and colours.
CLASS_BOUNDS = (0.5, 0.7, 0.9, 1.0 - 1e-9)
CLASS_COLOURS = ("#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641")
NO_VALUE_COLOUR = "#bbbbbb"

#: Decimal places of lon/lat in the page (1e-5 degree: about 1 m).
DECIMALS = 5
#: Largest demand-grid image, pixels.
GRID_MAX_PIXELS = 1_500_000
#: Simplification rounds before the size cap is declared out of reach.
SIMPLIFY_ROUNDS = 7

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
#: Hosts of Chinese map services whose tiles are drawn in GCJ-02 (or BD-09) coordinates.
SHIFTED_TILE_HOSTS = ("autonavi", "amap", "gtimg", "map.qq", "baidu", "bdimg", "bdstatic")
OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "communities": "communities: coverage",
        "indicator": "colour communities by",
        "residents": "residents",
        "indicator_col": "indicator",
        "value": "value",
        "target": "target",
        "status": "status",
        "facilities": "facilities",
        "facility_layer": "facilities: {cat}",
        "service_area": "service area: {cat}, {t:g} min {mode}",
        "service_tip": "streets within {t:g} min by {mode} of a {cat} (display only; figures use each demand point's own time)",
        "shortfall_layer": "shortfall areas: {ind}",
        "shortfall_popup": "<b>shortfall area {rank}</b> ({ind})<br>uncovered residents: {pop}<br>area: {area} km²<br>communities: {comms}",
        "grid_layer": "demand grid: {ind}",
        "grid_legend": "demand grid (off by default): residents covered by {ind} (green) or not (red)",
        "sites_layer": "proposed {cat} ({rule})",
        "catchments_layer": "proposed {cat}: new catchments",
        "site_popup": "<b>proposed site {rank}</b><br>candidate id: {id}{where}<br>residents newly covered alone: {alone}<br>added in build order: {added}<br>coverage after the first {rank}: {after}",
        "site_tip": "proposed site {rank}",
        "catch_tip": "site {rank} ({id}): {pop} residents newly covered",
        "legend_short": "community below its target for the chosen indicator",
        "legend_nodata": "no residents / no value",
        "facility_popup": "<b>{name}</b><br>id: {id}<br>category: {cat} ({code})<br>on walk network: {on}<br>residents for whom it is the nearest within {tw:g} min walk: {served_w}<br>residents within {tw:g} min walk: {within_w}<br>residents for whom it is the nearest within {tc:g} min cycle: {served_c}",
        "yes": "yes",
        "no_snap": "no (beyond the snapping limit)",
        "settings": "{speeds}; snapping ≤ {walk:g} m (walk), {cycle:g} m (cycle); targets: {targets}",
        "basemap_none": "no basemap",
        "min": "min",
        "m": "m",
        "km": "km",
        "caption": "{label}: share of residents covered",
        "spread": "; spread between communities: Gini {gini}, Palma {palma}",
        "data": "Data: {sources}",
        "roads": "roads © OpenStreetMap contributors (ODbL)",
        "speed": "{mode} {kmh:g} km/h",
        "site_where": "<br>in community: {comm}<br>lon, lat: {lon}, {lat}",
        "osm": "© OpenStreetMap contributors (ODbL)",
        "legend_sites": "proposed {cat}, numbered in build order",
        "legend_catch": "residents newly covered by a proposed site",
        "legend_service": "service area (layer list, off by default)",
        "streets_layer": "streets (walk network)",
    },
    "zh": {
        "communities": "社区：覆盖率",
        "indicator": "社区着色指标",
        "residents": "常住人口",
        "indicator_col": "指标",
        "value": "现状",
        "target": "目标",
        "status": "状态",
        "facilities": "设施",
        "facility_layer": "设施：{cat}",
        "service_area": "服务范围：{cat}，{mode}{t:g}分钟",
        "service_tip": "{mode}{t:g}分钟可达{cat}的街道（仅供显示；指标按每个需求点的实际时间计算）",
        "shortfall_layer": "短板区域：{ind}",
        "shortfall_popup": "<b>短板区域 {rank}</b>（{ind}）<br>未覆盖人口：{pop}<br>面积：{area} 平方公里<br>社区：{comms}",
        "grid_layer": "需求网格：{ind}",
        "grid_legend": "需求网格（默认关闭）：{ind}覆盖（绿）/未覆盖（红）的居民",
        "sites_layer": "拟建{cat}（{rule}）",
        "catchments_layer": "拟建{cat}：新增服务范围",
        "site_popup": "<b>拟建点 {rank}</b><br>候选点编号：{id}{where}<br>单独新增覆盖人口：{alone}<br>按建设顺序新增：{added}<br>前{rank}处建成后覆盖率：{after}",
        "site_tip": "拟建点 {rank}",
        "catch_tip": "拟建点 {rank}（{id}）：新增覆盖 {pop} 人",
        "legend_short": "所选指标未达标的社区",
        "legend_nodata": "无居民 / 无数值",
        "facility_popup": "<b>{name}</b><br>编号：{id}<br>类别：{cat}（{code}）<br>接入步行路网：{on}<br>步行{tw:g}分钟内以其为最近设施的居民：{served_w}<br>步行{tw:g}分钟内的居民：{within_w}<br>骑行{tc:g}分钟内以其为最近设施的居民：{served_c}",
        "yes": "是",
        "no_snap": "否（超出接入距离）",
        "settings": "{speeds}；接入距离 ≤ {walk:g} 米（步行），{cycle:g} 米（骑行）；目标：{targets}",
        "basemap_none": "无底图",
        "min": "分钟",
        "m": "米",
        "km": "公里",
        "caption": "{label}：居民覆盖率",
        "spread": "；社区间差异：基尼系数 {gini}，帕尔马比值 {palma}",
        "data": "数据：{sources}",
        "roads": "路网 © OpenStreetMap 贡献者（ODbL）",
        "speed": "{mode}{kmh:g}公里/小时",
        "site_where": "<br>所在社区：{comm}<br>经度、纬度：{lon}，{lat}",
        "osm": "© OpenStreetMap 贡献者（ODbL）",
        "legend_sites": "拟建{cat}（按建设顺序编号）",
        "legend_catch": "拟建点新增覆盖的居民",
        "legend_service": "服务范围（图层列表中，默认关闭）",
        "streets_layer": "街道（步行路网）",
    },
}


class MapSizeError(CoverageError):
    """The map cannot be brought under its size cap by simplification."""


@dataclass(frozen=True)
class MapFigures:
    """What was written: size, the simplification used and each layer's share."""

    bytes: int
    simplify_m: float
    layers_bytes: dict[str, int]
    basemap: str
    offline: bool
    notes: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """The figures as a plain dict for ``run.json``."""
        return {
            "bytes": self.bytes,
            "megabytes": round(self.bytes / 1e6, 3),
            "simplify_m": self.simplify_m,
            "basemap": self.basemap,
            "offline": self.offline,
            "layers_bytes": dict(self.layers_bytes),
            "notes": list(self.notes),
        }


def _t(lang: str, key: str, **values: Any) -> str:
    text = TEXT[lang][key]
    return text.format(**values) if values else text


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _fmt_share(v: object) -> str:
    if v is None or not isinstance(v, int | float) or not np.isfinite(v):
        return "–"
    return f"{100 * float(v):.1f} %"


def _count(v: object) -> str:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    return "–" if not np.isfinite(f) else f"{f:,.0f}"


def _js_json(value: Any) -> str:
    """JSON safe to embed in a ``<script>``: ``</`` cannot close it."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


# --- assets -------------------------------------------------------------------------------


def leaflet_assets() -> tuple[str, str, str]:
    """Leaflet's CSS (images inlined as data URIs), its JavaScript and version.

    The files come from the ``XStatic-Leaflet`` package (Leaflet's own
    distribution files), installed as a dependency.
    """
    from xstatic.pkg import leaflet as xs_leaflet

    base = Path(xs_leaflet.BASE_DIR)
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        data = (base / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", inline, css)
    js = (base / "leaflet.js").read_text(encoding="utf-8")
    js = re.sub(r"//# sourceMappingURL=\S+", "", js)
    if "</script" in js.lower() or "</style" in css.lower():  # pragma: no cover - a bad package
        raise CoverageError("the Leaflet package's files cannot be inlined safely")
    return css, js, str(xs_leaflet.VERSION)


def tile_source(template: str) -> str:
    """The CSP source that admits a tile URL template (``{s}`` as any subdomain)."""
    parts = urlsplit(template)
    if parts.scheme == "file" or not parts.netloc:
        return f"{parts.scheme or 'file'}:"
    host = parts.netloc.replace("{s}", "*")
    if "{" in host:
        return f"{parts.scheme}:"
    return f"{parts.scheme}://{host}"


# --- geometry -----------------------------------------------------------------------------


def _lonlat(
    geoms: gpd.GeoSeries, tolerance_m: float, coverage: bool = False, display: bool = False
) -> list[Any]:
    """GeoJSON geometries in lon/lat, simplified in the layer's metric CRS and rounded.

    ``coverage``: shared edges stay shared; ``display``: a shape drawn only (a service
    area of a whole city's streets, millions of vertices), simplified without keeping
    its topology, part by part (GEOS mends a simplified polygon as a whole: a city's
    band of a hundred thousand parts took minutes), in time near linear in its vertices.
    """
    if len(geoms) == 0:
        return []
    values = np.asarray(geoms.values, dtype=object)
    if tolerance_m > 0 and coverage:
        values = shapely.coverage_simplify(values, tolerance_m)
    elif tolerance_m > 0 and display:
        values = _simplify_parts(values, tolerance_m)
    elif tolerance_m > 0:
        values = shapely.simplify(values, tolerance_m)
    ll = gpd.GeoSeries(values, crs=geoms.crs).to_crs("EPSG:4326").values
    ll = shapely.transform(ll, lambda xy: np.round(xy, DECIMALS))
    return [json.loads(g) if g is not None else None for g in shapely.to_geojson(ll)]


def _simplify_parts(values: Any, tolerance_m: float) -> Any:
    """Each geometry simplified without keeping its topology and without mending it
    (drawn only): polygons ring by ring, rings that collapse or enclose less than two
    tolerances squared left out (a hole, or a part with its holes), a geometry with no
    part left empty; lines whole. GEOS mends a simplified polygon as a whole, and a
    prefecture's band of streets, one polygon with a hundred thousand holes, took minutes.

    Examples
    --------
    A block with a 2 m hole and a 30 m hole, at 3 m: the small hole goes.

    >>> block = shapely.box(0, 0, 100, 100) - shapely.box(10, 10, 12, 12)
    >>> block = block - shapely.box(50, 50, 80, 80)
    >>> [len(p.interiors) for p in _simplify_parts(np.array([block]), 3.0)[0].geoms]
    [1]
    """
    parts, owner = shapely.get_parts(values, return_index=True)
    if not (shapely.get_type_id(parts) == shapely.GeometryType.POLYGON).all():
        return shapely.simplify(values, tolerance_m, preserve_topology=False)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    shell = np.r_[True, ring_part[1:] != ring_part[:-1]]
    rings = shapely.simplify(rings, tolerance_m, preserve_topology=False)
    ok = shapely.get_type_id(rings) == shapely.GeometryType.LINEARRING
    ok &= shapely.get_num_coordinates(rings) >= 4
    # holes and islands under two tolerances across are noise at this tolerance
    ok[ok] &= shapely.area(shapely.polygons(rings[ok])) >= (2 * tolerance_m) ** 2
    # a part whose shell collapsed goes with its holes
    ok &= np.isin(ring_part, ring_part[shell & ok])
    out = np.array([shapely.MultiPolygon()] * len(values), dtype=object)
    if ok.any():
        kept, new_part = np.unique(ring_part[ok], return_inverse=True)
        polys = shapely.polygons(rings[ok], indices=new_part)
        shapely.multipolygons(polys, indices=owner[kept], out=out)
    return out


def _shape_data(geoms: gpd.GeoSeries, tolerance_m: float, props: dict[str, Any]) -> str:
    """One drawn shape as a GeoJSON collection (JSON text), simplified for display."""
    return _js_json(_collection(_lonlat(geoms, tolerance_m, display=True), [props]))


def _memo(cache: dict[Any, Any] | None, key: tuple[Any, ...], make: Callable[[], _T]) -> _T:
    """``make()``, kept in ``cache`` under ``key``: the size cap rebuilds a map at
    coarser simplifications, and what does not change with the tolerance is made once."""
    if cache is None:
        return make()
    if key not in cache:
        cache[key] = make()
    return cast(_T, cache[key])


def _collection(geometries: list[Any], props: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": g, "properties": p}
            for g, p in zip(geometries, props, strict=True)
            if g is not None
        ],
    }


# --- page pieces ----------------------------------------------------------------------------


class _Map(folium.Map):
    """A folium map that links nothing: Leaflet is inlined by :func:`build_map`."""

    default_js = []  # noqa: RUF012 - folium's own class attributes, emptied
    default_css = []  # noqa: RUF012


class _Raw(Element):
    """Markup put into the page as it is (``Element(markup)`` would compile the markup,
    Leaflet's whole script among it, as a template on every build)."""

    _template = Template("{{ this.markup }}")

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.markup = markup


class _Script(MacroElement):
    """A script of our own, rendered after the elements it refers to."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")

    def __init__(self, code: str) -> None:
        super().__init__()
        self._name = "ScScript"
        self.code = code


#: The drawing code: our own, small, working on the compact payloads below.
RUNTIME_JS = """
var scMap = (function () {
  var bounds = %(bounds)s, colours = %(colours)s, none = %(none)s;
  function colour(v) {
    if (v === null || v === undefined) { return none; }
    for (var i = 0; i < bounds.length; i++) { if (v < bounds[i]) { return colours[i]; } }
    return colours[colours.length - 1];
  }
  function share(v) { return (v === null || v === undefined) ? "–" : (100 * v).toFixed(1) + " %%"; }
  // a community's popup, built when it opens from its rows and the shared words
  function popupOf(p, table) {
    var out = ["<div class='sc-popup'>", p.t, "<table><tr>"];
    table.cols.forEach(function (c) { out.push("<th>" + c + "</th>"); });
    out.push("</tr>");
    p.r.forEach(function (r) {
      var st = table.statuses[r[3]];
      out.push("<tr><td>" + table.heads[r[0]] + "</td><td class='num'>" + r[1] +
               "</td><td class='num'>" + r[2] + "</td><td style='color:" + st[1] + "'>" +
               st[0] + "</td></tr>");
    });
    out.push("</table></div>");
    return out.join("");
  }
  function communities(group, data, inds, table, selectId, captionId) {
    var cur = 0;
    function style(f) {
      var s = f.properties.s[cur] === 1;
      return {fillColor: colour(f.properties.v[cur]), fillOpacity: 0.6,
              color: s ? "#b00000" : "#555555", weight: s ? 3 : 1, dashArray: s ? "6 4" : null};
    }
    var layer = L.geoJson(data, {style: style, onEachFeature: function (f, l) {
      l.bindPopup(function () { return popupOf(f.properties, table); },
                  {maxWidth: 520, maxHeight: 340});
      l.bindTooltip(function () {
        return f.properties.n + "<br>" + inds[cur].short + ": " + share(f.properties.v[cur]);
      }, {sticky: true});
    }}).addTo(group);
    // the switch lives in the legend, which is added later: listen on the document
    document.addEventListener("change", function (e) {
      if (!e.target || e.target.id !== selectId) { return; }
      cur = parseInt(e.target.value, 10);
      layer.setStyle(style);
      document.getElementById(captionId).innerHTML = inds[cur].caption;
    });
    return layer;
  }
  function polygons(group, data, style, popupWidth) {
    return L.geoJson(data, {style: function () { return style; }, onEachFeature: function (f, l) {
      if (f.properties.popup) { l.bindPopup(f.properties.popup, {maxWidth: popupWidth}); }
      if (f.properties.tip) { l.bindTooltip(f.properties.tip, {sticky: true}); }
    }}).addTo(group);
  }
  // a facility's popup or tooltip: its layer's template filled with its own values
  function filled(text, t, f) {
    return text.split("{name}").join(f[0]).split("{id}").join(f[1])
      .split("{on}").join(t.on[f[2]]).split("{sw}").join(f[3]).split("{ww}").join(f[4])
      .split("{sc}").join(f[5]);
  }
  function points(group, data, iconHtml, size, template) {
    function divIcon(html, own) {
      return L.divIcon({className: own ? "sc-icon sc-site" : "sc-icon", html: html, iconSize: [size, size],
                        iconAnchor: [size / 2, size / 2], popupAnchor: [0, -size / 2]});
    }
    var icon = divIcon(iconHtml);
    return L.geoJson(data, {
      // a feature with its own icon (a proposed site) is drawn above the facilities
      pointToLayer: function (f, ll) {
        var own = f.properties.icon;
        return L.marker(ll, {zIndexOffset: own ? 1000 : 0, icon: own ? divIcon(own, true) : icon});
      },
      onEachFeature: function (f, l) {
        var p = f.properties;
        if (p.f && template) {
          l.bindPopup(function () { return filled(template.popup, template, p.f); }, {maxWidth: 340});
          l.bindTooltip(function () { return filled(template.tip, template, p.f); });
          return;
        }
        l.bindPopup(p.popup, {maxWidth: 340});
        if (p.tip) { l.bindTooltip(p.tip); }
      }}).addTo(group);
  }
  function lines(group, data, style) {
    style.interactive = false;
    return L.geoJson(data, {style: function () { return style; }, interactive: false}).addTo(group);
  }
  // small screens: the layer list starts collapsed; a popup never opens under it
  function layers(map, ctrl) {
    var box = ctrl.getContainer();
    if (window.innerWidth < 1366 || box.offsetHeight > 0.4 * map.getSize().y) {
      map.removeControl(ctrl);
      ctrl.options.collapsed = true;
      ctrl.addTo(map);
    }
    // a popup never stays under a panel (layer list, legend, title): the map pans it aside
    map.on("popupopen", function (e) {
      function clear() {
        map.off("moveend", clear);
        if (!e.popup.isOpen()) { return; }
        var shift = clearShift(map, e.popup.getElement().getBoundingClientRect());
        if (shift) { map.panBy(shift, {animate: false}); }
      }
      map.on("moveend", clear);  // after Leaflet's own pan into view, if any
      setTimeout(clear, 400);
    });
  }
  // the smallest pan [x, y] that moves a popup box off every panel and keeps it in the map
  function clearShift(map, p) {
    var m = map.getContainer().getBoundingClientRect(), xs = [0], ys = [0], best = null;
    var panels = Array.prototype.map.call(map.getContainer().querySelectorAll(
      ".leaflet-control:not(.leaflet-control-attribution):not(.leaflet-control-scale)"),
      function (el) { return el.getBoundingClientRect(); });
    function hits(c, dx, dy) {
      return !(p.right - dx <= c.left || p.left - dx >= c.right ||
               p.bottom - dy <= c.top || p.top - dy >= c.bottom);
    }
    if (!panels.some(function (c) { return hits(c, 0, 0); })) { return null; }
    panels.forEach(function (c) {
      xs.push(p.right - c.left + 8, p.left - c.right - 8);
      ys.push(p.bottom - c.top + 8, p.top - c.bottom - 8);
    });
    xs.forEach(function (dx) {
      ys.forEach(function (dy) {
        var inside = p.left - dx >= m.left && p.right - dx <= m.right &&
                     p.top - dy >= m.top && p.bottom - dy <= m.bottom;
        if (!inside || panels.some(function (c) { return hits(c, dx, dy); })) { return; }
        if (!best || Math.abs(dx) + Math.abs(dy) < Math.abs(best[0]) + Math.abs(best[1])) {
          best = [dx, dy];
        }
      });
    });
    return best;
  }
  // facility icons shrink to dots when zoomed out, so a city does not pile into one mass
  function iconZoom(map, full) {
    function update() {
      var z = map.getZoom(), c = map.getContainer();
      L.DomUtil[z < full - 1 ? "addClass" : "removeClass"](c, "sc-dots");
      L.DomUtil[z === full - 1 ? "addClass" : "removeClass"](c, "sc-small");
    }
    map.on("zoomend", update);
    update();
  }
  // a metric scale bar with the units in the map's language
  function scale(map, units) {
    var c = L.control.scale({imperial: false}), base = c._updateScale;
    c._updateScale = function (el, text, ratio) {  // Leaflet's own writes e.g. "3 km"
      var parts = text.split(" ");
      base.call(this, el, parts[0] + " " + (units[parts[1]] || parts[1]), ratio);
    };
    return c.addTo(map);
  }
  function control(map, position, htmlText) {
    var c = L.control({position: position});
    c.onAdd = function () {
      var div = L.DomUtil.create("div", "sc-panel");
      div.innerHTML = htmlText;
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    c.addTo(map);
    return c;
  }
  return {communities: communities, polygons: polygons, points: points, lines: lines,
          layers: layers, iconZoom: iconZoom, scale: scale, control: control};
})();
"""

PAGE_CSS = """
.leaflet-container { background: #f2efe9; font: 12px/1.4 "Noto Sans CJK SC", "WenQuanYi Micro Hei",
  "Microsoft YaHei", "PingFang SC", Arial, sans-serif; }
.sc-panel { background: #fff; padding: 6px 10px; border: 1px solid #888; border-radius: 4px;
  max-width: 360px; max-height: 60vh; overflow: auto; }
.sc-panel h4 { margin: 0 0 4px; font-size: 13px; }
.sc-panel select { max-width: 330px; margin: 2px 0 6px; }
.sc-title { font-size: 14px; max-width: 520px; }
.sc-title .sc-settings { font-size: 11px; color: #444; }
.sc-icon span { display: block; width: 100%; height: 100%; border-radius: 50%; color: #fff;
  border: 1.5px solid #222; text-align: center; font-weight: bold; box-sizing: border-box; }
.sc-swatch { display: inline-block; width: 14px; height: 10px; margin-right: 4px;
  border: 1px solid #555; vertical-align: middle; }
.sc-legend-icon { display: inline-block; width: 18px; height: 18px; line-height: 15px;
  border-radius: 50%; color: #fff; font-size: 9px; font-weight: bold; text-align: center;
  border: 1.5px solid #222; margin-right: 4px; vertical-align: middle; box-sizing: border-box; }
.leaflet-control-layers { font-size: 12px; }
.leaflet-control-layers label { margin: 1px 0; }
.sc-popup td, .sc-popup th { padding: 1px 4px; text-align: left; font-size: 11px; }
.sc-popup td.num { white-space: nowrap; }
path.leaflet-interactive:focus { outline: none; }
.sc-small .sc-icon:not(.sc-site) span { transform: scale(0.7); }
.sc-dots .sc-icon:not(.sc-site) span { transform: scale(0.4); color: transparent; }
"""


def _icon_html(category: str, colour: str, lang: str, size: int = 20) -> str:
    glyph = GLYPHS.get(category, (category[:2].upper(), category[:1]))[1 if lang == "zh" else 0]
    font = 11 if len(glyph) == 1 else 9
    return (
        f'<span style="background:{colour};line-height:{size - 3}px;font-size:{font}px">'
        f"{_esc(glyph)}</span>"
    )


def _mode_word(mode: str, lang: str) -> str:
    return MODE_LABELS[lang].get(mode, mode)


def _ind_name(indicator: str, lang: str, catalogue: Any = None) -> str:
    """An indicator as the map names it: its id in English, its label and code in Chinese.

    >>> _ind_name("A1_service_circle", "zh")
    '城市社区“15分钟社区服务圈”覆盖率（A1）'
    """
    if lang == "en":
        return indicator
    name = indicator_label(indicator, lang, catalogue)
    code = re.match(r"[A-Z]\d+(?=_)", indicator)
    return f"{name}（{code.group(0)}）" if code and name != indicator else name


def _speeds_words(study: Any, lang: str) -> str:
    """The study's speeds in the map's language; highway tags (OSM ids) stay as they are."""
    if lang == "en":
        return str(study.speeds.describe())
    parts = []
    for mode, kmh in (("walk", study.speeds.walk_kmh), ("cycle", study.speeds.cycle_kmh)):
        text = _t(lang, "speed", mode=_mode_word(mode, lang), kmh=kmh)
        extra = "，".join(f"{k} {v:g}" for k, v in sorted(study.speeds.highway_kmh(mode).items()))
        parts.append(text + (f"（{extra}）" if extra else ""))
    return "；".join(parts)


def _status(status: str, lang: str) -> str:
    return STATUS_LABELS[lang].get(status, status)


# --- layers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Choice:
    """One indicator the communities can be coloured by."""

    indicator: str
    column: str
    short: str
    caption: str
    categories: tuple[str, ...] = ()
    rule: tuple[str, float] = ("", 0.0)
    name: str = ""  # ``short`` before escaping
    derived: bool = False  # redundancy or a walking profile: after the plain figure


def _spread(aggregates: pd.DataFrame, spec: Any, lang: str) -> str:
    """The spread between communities of an indicator's first aggregate row, for its caption
    (nothing without it; an empty Palma beside a Gini is unbounded, ∞)."""
    rows = aggregates[
        (aggregates["indicator"] == spec.indicator)
        & (aggregates["mode"] == spec.mode)
        & (aggregates["minutes_or_metres"] == spec.threshold)
        & (aggregates["categories"] == "+".join(spec.categories))
    ]
    if rows.empty or "gini" not in rows.columns or not np.isfinite(rows["gini"].iloc[0]):
        return ""
    gini, palma = float(rows["gini"].iloc[0]), float(rows["palma"].iloc[0])
    return _t(lang, "spread", gini=f"{gini:.2f}", palma="∞" if np.isnan(palma) else f"{palma:.2f}")


def _choices(result: StudyResult, lang: str, siting: Any = None) -> list[_Choice]:
    """The access indicators with values, by their names: the sited category's first when
    sites were proposed (the map opens on what the siting changes), else A1 first."""
    out: list[_Choice] = []
    comm = result.communities
    aggregates = result.indicators[result.indicators["scope"].isin(["all", "urban", "rural"])]
    for spec in result.specs:
        if spec.column not in comm.columns:
            continue
        if spec.indicator == "category_coverage" and spec.mode != "walk":
            continue
        if not np.isfinite(comm[spec.column].to_numpy(dtype=float)).any():
            continue
        unit = _t(lang, "min") if spec.unit == "min" else _t(lang, "m")
        cats = " + ".join(label(c, lang) for c in spec.categories)
        name = (
            indicator_label(spec.indicator, lang, result.catalogue)
            if spec.indicator != "category_coverage"
            else f"{label(spec.categories[0], lang)}"
        )
        short = f"{name} ({_mode_word(spec.mode, lang)} {spec.threshold:g} {unit})"
        caption = _t(lang, "caption", label=f"{short}: {cats}") + _spread(aggregates, spec, lang)
        out.append(
            _Choice(
                spec.indicator,
                spec.column,
                _esc(short),
                _esc(caption),
                spec.categories,
                (spec.mode, spec.threshold),
                short,
                spec.nth == 2 or bool(spec.profile),
            )
        )
    s = siting.settings if siting is not None else None
    rule = (s.mode, s.minutes if s.minutes > 0 else s.metres) if s is not None else None
    out.sort(
        key=lambda c: (
            not (s is not None and c.categories == (s.category,)),
            c.rule != rule,
            c.derived,
            c.indicator != "A1_service_circle",
            c.indicator == "category_coverage",
        )
    )
    return out


def _first_target_rows(result: StudyResult, scope_prefix: str = "community:") -> pd.DataFrame:
    """Community rows, one per (scope, indicator, mode, threshold, categories): the row of
    the first preset (in study order) that sets a target, else the first row."""
    ind = result.indicators
    rows = ind[ind["scope"].str.startswith(scope_prefix)].copy()
    order = {p: i for i, p in enumerate(result.study.targets.preset)}
    rows["_has"] = rows["target"].notna()
    rows["_order"] = rows["preset"].map(order).fillna(len(order))
    rows = rows.sort_values(["_has", "_order"], ascending=[False, True], kind="stable")
    keys = ["scope", "indicator", "mode", "minutes_or_metres", "categories"]
    return rows.drop_duplicates(keys, keep="first").sort_index()


@dataclass
class _PopupTable:
    """The community popups in compact form: each indicator's words and each status once,
    and per community its rows as ``[head, value, target, status]`` indices and texts; the
    page builds a popup's table when it opens (a city's popups would otherwise be most of
    the page)."""

    heads: list[str] = field(default_factory=list)
    statuses: list[list[str]] = field(default_factory=list)
    rows: dict[str, list[list[Any]]] = field(default_factory=dict)

    def record(self, lang: str) -> dict[str, Any]:
        cols = [_t(lang, k) for k in ("indicator_col", "value", "target", "status")]
        return {"heads": self.heads, "statuses": self.statuses, "cols": cols}


def _popup_rows(
    rows: pd.DataFrame, lang: str, circle_min: float, catalogue: Any = None
) -> _PopupTable:
    """Per community scope, the rows of its popup table (one pass over every row; the
    indicator's words are built once per indicator, not once per community)."""
    table = _PopupTable()
    heads: dict[tuple[Any, ...], int] = {}
    statuses: dict[str, int] = {}
    for r in rows.itertuples(index=False):
        if r.indicator == "category_coverage" and r.minutes_or_metres != circle_min:
            continue
        key = (r.indicator, r.mode, r.minutes_or_metres, r.categories)
        if key not in heads:
            heads[key] = len(table.heads)
            table.heads.append(_popup_head(r, lang, catalogue))
        status = str(r.status)
        if status not in statuses:
            statuses[status] = len(table.statuses)
            colour = {"met": "#1a7f37", "short": "#b00000"}.get(status, "#555")
            table.statuses.append([_esc(_status(status, lang)), colour])
        table.rows.setdefault(str(r.scope), []).append(
            [heads[key], _fmt_share(r.value), _fmt_share(r.target), statuses[status]]
        )
    return table


def _popup_head(r: Any, lang: str, catalogue: Any) -> str:
    """An indicator's words in a popup row: name, mode and threshold, categories."""
    name = _ind_name(str(r.indicator), lang, catalogue)
    if r.mode == "rule":
        what = name
    else:
        metres = (
            r.mode == "straight" or str(r.indicator).startswith("A3") or r.minutes_or_metres >= 100
        )
        unit = _t(lang, "m") if metres else _t(lang, "min")
        what = f"{name} {_mode_word(str(r.mode), lang)} {r.minutes_or_metres:g} {unit}"
    cats = " + ".join(label(c, lang) for c in str(r.categories).split("+") if c)
    return f"{_esc(what)}<br><span style='color:#666'>{_esc(cats)}</span>"


def _popup_title(rec: dict[str, Any], lang: str) -> str:
    """A community popup's first line: name, id, kind and residents (escaped)."""
    kind = SCOPE_LABELS[lang].get(str(rec["kind"]), rec["kind"]) if lang != "en" else rec["kind"]
    colon = "：" if lang == "zh" else ": "
    return (
        f"<b>{_esc(rec['name'])}</b> ({_esc(rec['community_id'])}, "
        f"{_esc(kind)})<br>{_t(lang, 'residents')}{colon}{_count(rec['population'])}"
    )


def _communities_payload(
    result: StudyResult,
    choices: list[_Choice],
    lang: str,
    tolerance_m: float,
    cache: dict[Any, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The communities as GeoJSON (names, values, below-target flags, popup rows) and the
    popups' shared table (:class:`_PopupTable`); all but the outlines kept in ``cache``."""
    props, table = _memo(
        cache, ("community_props",), lambda: _community_props(result, choices, lang)
    )
    geoms = _lonlat(result.communities.geometry, tolerance_m, coverage=True)
    return _collection(geoms, props), table


def _community_props(
    result: StudyResult, choices: list[_Choice], lang: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each community's properties on the map (name, values, below-target flags, popup
    rows) and the popups' shared table."""
    comm = result.communities
    rows = _first_target_rows(result)
    circle_min = result.study.indicators.circle_min
    table = _popup_rows(rows, lang, circle_min, result.catalogue)
    short: dict[str, set[str]] = {}
    for c in choices:
        hit = rows[(rows["indicator"] == c.indicator) & (rows["status"] == "short")]
        if c.indicator == "category_coverage":
            hit = hit.iloc[0:0]
        short[c.column] = set(hit["scope"].str.split(":", n=1).str[1])
    props = []
    for rec in comm.drop(columns="geometry").to_dict("records"):
        cid = rec["community_id"]
        values = []
        for c in choices:
            v = rec[c.column]
            values.append(round(float(v), 4) if v is not None and np.isfinite(v) else None)
        props.append(
            {
                "n": _esc(rec["name"]),
                "v": values,
                "s": [1 if cid in short[c.column] else 0 for c in choices],
                "t": _popup_title(rec, lang),
                "r": table.rows.get(f"community:{cid}", []),
            }
        )
    return props, table.record(lang)


def _facility_payload(
    result: StudyResult, category: str, colour: str, lang: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A category's facilities (name, id, on the network, residents served and within
    reach) and the template their popups and tooltips are filled into by the page when
    opened: a city's thousands of facilities would otherwise repeat the words each."""
    fac = result.facilities[result.facilities["category"] == category]
    tw = result.reach["walk"].threshold_min
    tc = result.reach["cycle"].threshold_min
    cat = _esc(label(category, lang))
    template = {
        "popup": _t(lang, "facility_popup", name="{name}", id="{id}", cat=cat,
                    code=_esc(category), on="{on}", tw=tw, tc=tc, served_w="{sw}",
                    within_w="{ww}", served_c="{sc}"),
        "tip": "{name} · " + cat,
        "on": [_t(lang, "no_snap"), _t(lang, "yes")],
    }  # fmt: skip
    props = [
        {
            "f": [
                _esc(str(rec["name"]) or str(rec["facility_id"])),
                _esc(rec["facility_id"]),
                1 if rec["on_network_walk"] else 0,
                _count(rec["served_population_walk"]),
                _count(rec["population_within_walk"]),
                _count(rec["served_population_cycle"]),
            ]
        }
        for rec in fac.drop(columns="geometry").to_dict("records")
    ]
    return _collection(_lonlat(fac.geometry, 0.0), props), template


def _burn_points(
    points: gpd.GeoSeries, value: np.ndarray, transform: Affine, shape: tuple[int, int]
) -> np.ndarray:
    """Each point's value in its pixel (the larger where several share one)."""
    out = np.zeros(shape, dtype=np.uint8)
    if len(points):
        inv = ~transform
        col, row = inv * (points.x.to_numpy(), points.y.to_numpy())
        r = np.clip(np.floor(row).astype(np.int64), 0, shape[0] - 1)
        c = np.clip(np.floor(col).astype(np.int64), 0, shape[1] - 1)
        np.maximum.at(out, (r, c), value.astype(np.uint8))
    return out


def demand_grid_png(result: StudyResult, covered: np.ndarray) -> tuple[bytes, list[list[float]]]:
    """The demand grid as an RGBA PNG in Web Mercator, and its lon/lat bounds.

    Each demand piece (a population cell, or the part of it inside one
    community) is burnt into the image with ``rasterio.features.rasterize``:
    green where ``covered`` marks it, red where not, transparent where nobody
    lives. Pixels are a tenth of the median piece's width, at least 10 m on
    the ground, widened to keep the image within :data:`GRID_MAX_PIXELS`;
    population points become single pixels. Encoded with rasterio (GDAL's PNG
    driver).
    """
    pts = result.demand.points
    pop = pts["population"].to_numpy(dtype=float)
    pieces = gpd.GeoSeries(pts["piece"].values, crs=pts.crs).to_crs("EPSG:3857")
    lat = np.deg2rad(float(pts.geometry.to_crs("EPSG:4326").y.median()))
    scale = 1.0 / np.cos(lat)  # Web Mercator units per ground metre
    area = pieces.area.to_numpy()
    typical = float(np.sqrt(np.median(area[area > 0]))) if (area > 0).any() else 100.0 * scale
    pixel = max(typical / 10.0, 10.0 * scale)
    x0, y0, x1, y1 = pieces.total_bounds
    x0, y0, x1, y1 = x0 - pixel, y0 - pixel, x1 + pixel, y1 + pixel
    while np.ceil((x1 - x0) / pixel) * np.ceil((y1 - y0) / pixel) > GRID_MAX_PIXELS:
        pixel *= 1.25
    # pieces under three pixels wide (a fine raster): one pixel per piece, burnt at its
    # point, in time linear in the pieces; else each piece's shape is rasterised
    by_point = pixel * 3 > typical
    if by_point:
        pixel = max(pixel, typical)
    width = int(np.ceil((x1 - x0) / pixel))
    height = int(np.ceil((y1 - y0) / pixel))
    x1, y0 = x0 + width * pixel, y1 - height * pixel
    transform = Affine(pixel, 0.0, x0, 0.0, -pixel, y1)
    # 0: nobody, 1: not covered, 2: covered
    value = np.where(pop > 0, np.where(covered, 2, 1), 0).astype(np.uint8)
    keep = value > 0
    if by_point:
        burnt = _burn_points(pts.geometry.to_crs("EPSG:3857")[keep], value[keep], transform,
                             (height, width))  # fmt: skip
    elif keep.any():
        burnt = rasterize(
            zip(pieces.values[keep], value[keep], strict=True),
            out_shape=(height, width),
            transform=transform,
            fill=0,
            dtype="uint8",
        )
    else:
        burnt = np.zeros((height, width), dtype=np.uint8)
    palette = np.array([[0, 0, 0, 0], [215, 25, 28, 190], [26, 150, 65, 190]], dtype=np.uint8)
    rgba = np.moveaxis(palette[burnt], -1, 0)
    with MemoryFile() as mem:
        with mem.open(
            driver="PNG",
            width=width,
            height=height,
            count=4,
            dtype="uint8",
            crs="EPSG:3857",
            transform=transform,
        ) as dst:
            dst.write(rgba)
        png = mem.read()
    corners = gpd.GeoSeries(gpd.points_from_xy([x0, x1], [y0, y1]), crs="EPSG:3857").to_crs(
        "EPSG:4326"
    )
    bounds = [
        [float(corners.y.iloc[0]), float(corners.x.iloc[0])],
        [float(corners.y.iloc[1]), float(corners.x.iloc[1])],
    ]
    return png, bounds


# --- the page -----------------------------------------------------------------------------


SITE_COLOUR = "#6a3d9a"
#: OSM highway tags left out of the street backdrop: paths, not streets.
#: Streets above which the backdrop shows main roads only (``BACKDROP_MAIN``).
BACKDROP_MAX_SEGMENTS = 40_000
BACKDROP_MAIN = ("motorway", "trunk", "primary", "secondary", "tertiary")
BACKDROP_SKIP = (
    "footway",
    "path",
    "steps",
    "track",
    "service",
    "cycleway",
    "bridleway",
    "corridor",
)
#: Zoom from which facility icons are drawn at full size (dots below, smaller one level below).
ICON_FULL_ZOOM = 14


def _legend_html(
    lang: str,
    choices: list[_Choice],
    categories: list[str],
    colours: dict[str, str],
    grid_label: str | None,
    sites_what: str | None = None,
    service_areas: bool = True,
) -> str:
    classes = ["&lt; 50 %", "50–70 %", "70–90 %", "90–&lt;100 %", "100 %"]
    options = "".join(f'<option value="{i}">{c.short}</option>' for i, c in enumerate(choices))
    parts = [
        f"<h4>{_t(lang, 'indicator')}</h4>",
        f'<select id="sc-indicator">{options}</select>' if len(choices) > 1 else "",
        f'<div id="sc-caption" style="font-size:11px">{choices[0].caption if choices else ""}</div>',
        "".join(
            f'<div><span class="sc-swatch" style="background:{col}"></span>{cls}</div>'
            for col, cls in zip(CLASS_COLOURS, classes, strict=True)
        ),
        f'<div><span class="sc-swatch" style="background:{NO_VALUE_COLOUR}"></span>'
        f"{_t(lang, 'legend_nodata')}</div>",
        '<div><span class="sc-swatch" style="background:#fff;border:2px dashed #b00000">'
        f"</span>{_t(lang, 'legend_short')}</div>",
        f"<h4 style='margin-top:6px'>{_t(lang, 'facilities')}</h4>",
        "".join(
            f'<div><span class="sc-legend-icon" style="background:{colours[c]}">'
            f"{_esc(GLYPHS.get(c, (c[:2], c[:1]))[1 if lang == 'zh' else 0])}</span>"
            f"{_esc(label(c, lang))}</div>"
            for c in categories
        ),
        '<div><span class="sc-swatch" style="background:transparent;border:2px solid #555">'
        f"</span>{_t(lang, 'legend_service')}</div>"
        if service_areas
        else "",
    ]
    if sites_what is not None:
        parts.append(
            f'<div id="sc-legend-sites"><span class="sc-legend-icon" style="background:'
            f'{SITE_COLOUR};border-color:#fff;box-shadow:0 0 0 1px #222">1</span>'
            f"{_t(lang, 'legend_sites', cat=_esc(sites_what))}</div>"
            f'<div><span class="sc-swatch" style="background:{SITE_COLOUR};opacity:0.5"></span>'
            f"{_t(lang, 'legend_catch')}</div>"
        )
    if grid_label:
        parts.append(f"<div style='margin-top:6px;font-size:11px'>{_esc(grid_label)}</div>")
    return '<div id="sc-legend">' + "".join(parts) + "</div>"


def _page_head(fmap: folium.Map, settings: MapSettings, lang: str) -> None:
    """The page's head: CSP, styles, Leaflet and our runtime; the basemap, if any."""
    tiles = settings.tiles()
    css, js, _ = leaflet_assets()
    img_src = "data:"
    if tiles == "osm":
        folium.TileLayer(
            tiles=OSM_TILES, attr=_esc(_t(lang, "osm")), name="OpenStreetMap", max_zoom=19
        ).add_to(fmap)
        img_src += f" {tile_source(OSM_TILES)}"
    elif tiles != "none":
        attribution = settings.basemap_attribution or f"basemap: {tiles}"
        folium.TileLayer(
            tiles=tiles, attr=_esc(attribution), name=_esc(attribution), max_zoom=20
        ).add_to(fmap)
        img_src += f" {tile_source(tiles)}"
    csp = (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        f"img-src {img_src}; font-src data:"
    )
    runtime = RUNTIME_JS % {
        "bounds": _js_json(list(CLASS_BOUNDS)),
        "colours": _js_json(list(CLASS_COLOURS)),
        "none": _js_json(NO_VALUE_COLOUR),
    }
    header = fmap.get_root().header  # type: ignore[attr-defined]
    header.add_child(
        _Raw(f'<meta http-equiv="Content-Security-Policy" content="{csp}">'), name="sc_csp"
    )
    header.add_child(_Raw(f"<style>{css}</style><style>{PAGE_CSS}</style>"), name="sc_css")
    header.add_child(_Raw(f"<script>{js}</script>"), name="sc_leaflet")
    header.add_child(_Raw(f"<script>{runtime}</script>"), name="sc_runtime")


def _shortfall_layers(
    fmap: folium.Map, result: StudyResult, lang: str, tol: float, sizes: dict[str, int]
) -> list[str]:
    """Shortfall areas of the headline indicators (hidden layers)."""
    calls = []
    areas = result.shortfall_areas
    for indicator in ("A1_service_circle", "A2_rural_cycling"):
        shown = areas[areas["indicator"] == indicator] if len(areas) else areas
        if not len(shown):
            continue
        name = _ind_name(indicator, lang, result.catalogue)
        grp = folium.FeatureGroup(
            name=_esc(_t(lang, "shortfall_layer", ind=name)), show=False
        ).add_to(fmap)
        props = [
            {
                "popup": _t(
                    lang,
                    "shortfall_popup",
                    rank=int(rec["rank"]),
                    ind=_esc(name),
                    pop=_count(rec["uncovered_population"]),
                    area=f"{rec['area_km2']:.2f}",
                    comms=_esc(rec["communities"]),
                )
            }
            for rec in shown.drop(columns="geometry").to_dict("records")
        ]
        data = _js_json(_collection(_lonlat(shown.geometry, tol), props))
        sizes[f"shortfall_areas:{indicator}"] = len(data.encode())
        style = {"fillColor": "#7b0000", "fillOpacity": 0.35, "color": "#7b0000", "weight": 1}
        calls.append(f"scMap.polygons({grp.get_name()}, {data}, {_js_json(style)}, 420);")
    return calls


#: The most of the page's size cap one service area may take (a hidden layer: drawn
#: more coarsely beyond, before the communities' outlines are) and its coarsest tolerance.
SERVICE_AREA_SHARE = 0.1
SERVICE_AREA_MAX_TOL_M = 512.0


def _service_layers(
    fmap: folium.Map,
    result: StudyResult,
    colours: dict[str, str],
    lang: str,
    tol: float,
    sizes: dict[str, int],
    cache: dict[Any, Any] | None = None,
    budget_bytes: float = float("inf"),
) -> list[str]:
    """Service areas per mode and category (hidden): outlines over a faint fill, so the
    community colours stay readable beneath them. One over ``budget_bytes`` is drawn
    more coarsely (its tolerance doubled, up to :data:`SERVICE_AREA_MAX_TOL_M`)."""
    calls = []
    service = result.service_areas
    # service areas are traced from a grid of a quarter of their band: finer is noise
    service_tol = max(tol, result.study.network.service_area_buffer_m / 4)
    for rec_i, rec in enumerate(service.drop(columns="geometry").to_dict("records")):
        cat, mode, minutes = rec["category"], rec["mode"], float(rec["minutes"])
        colour = colours.get(cat, "#555555")
        words = {"cat": _esc(label(cat, lang)), "t": minutes, "mode": _mode_word(mode, lang)}
        grp = folium.FeatureGroup(name=_t(lang, "service_area", **words), show=False).add_to(fmap)
        tip = {"tip": _t(lang, "service_tip", **words)}
        shape = service.geometry.iloc[[rec_i]]
        own_tol = service_tol
        while True:
            key = ("service_area", rec_i, own_tol)
            data = _memo(cache, key, partial(_shape_data, shape, own_tol, tip))
            if len(data.encode()) <= budget_bytes or own_tol >= SERVICE_AREA_MAX_TOL_M:
                break
            own_tol = min(2 * own_tol, SERVICE_AREA_MAX_TOL_M)
        sizes[f"service_area:{mode}:{cat}"] = len(data.encode())
        style = {"fillColor": colour, "fillOpacity": 0.05, "color": colour, "weight": 2.5}
        calls.append(f"scMap.polygons({grp.get_name()}, {data}, {_js_json(style)}, 320);")
    return calls


def streets_backdrop(
    result: StudyResult, tolerance_m: float, cache: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The study's own streets as one simplified line geometry (GeoJSON, lon/lat).

    Built from the walk network's segments (paths and service ways left out; main
    roads only beyond :data:`BACKDROP_MAX_SEGMENTS` streets), merged into lines and
    simplified at ``tolerance_m`` (at least 5 m): the
    context a map without a basemap lacks, small enough for the size cap.
    ``None`` when the run has no walk network. ``cache`` keeps the merged lines, and
    each tolerance's simplification, across builds of the same map.
    """
    cache = {} if cache is None else cache
    lines = _memo(cache, ("streets",), partial(_street_lines, result))
    if lines is None:
        return None
    tol = max(tolerance_m, 5.0)
    return _memo(
        cache,
        ("streets", tol),
        lambda: _collection(
            _lonlat(gpd.GeoSeries([lines[0]], crs=lines[1]), tol, display=True), [{}]
        ),
    )


def _street_lines(result: StudyResult) -> tuple[Any, Any] | None:
    """The walk network's streets of the backdrop merged into lines, with their CRS."""
    net = result.networks.get("walk")
    if net is None or not len(net.seg_u):
        return None
    highway = np.asarray(net.seg_highway, dtype=str)
    keep = ~np.isin(highway, BACKDROP_SKIP)
    if keep.sum() > BACKDROP_MAX_SEGMENTS:
        # a city's every street would outweigh the rest of the page: its main roads only
        keep &= np.isin(np.char.replace(highway, "_link", ""), BACKDROP_MAIN)
    if not keep.any():
        keep[:] = True
    xy = np.asarray(net.node_xy, dtype=float)
    ends = np.stack([xy[net.seg_u[keep]], xy[net.seg_v[keep]]], axis=1)
    return shapely.line_merge(shapely.multilinestrings(shapely.linestrings(ends))), net.crs


def _facility_layers(
    fmap: folium.Map,
    result: StudyResult,
    cats: list[str],
    colours: dict[str, str],
    lang: str,
    sizes: dict[str, int],
    cache: dict[Any, Any] | None = None,
) -> list[str]:
    """One shown layer per facility category."""
    calls = []
    for cat in cats:
        grp = folium.FeatureGroup(
            name=_esc(_t(lang, "facility_layer", cat=label(cat, lang))), show=True
        ).add_to(fmap)
        payload, template = _memo(
            cache, ("facilities", cat), partial(_facility_payload, result, cat, colours[cat], lang)
        )
        data = _js_json(payload)
        sizes[f"facilities:{cat}"] = len(data.encode())
        icon = _js_json(_icon_html(cat, colours[cat], lang))
        calls.append(f"scMap.points({grp.get_name()}, {data}, {icon}, 20, {_js_json(template)});")
    return calls


def build_map(
    result: StudyResult,
    lang: str = "en",
    siting: Any = None,
    settings: MapSettings | None = None,
    tolerance_m: float | None = None,
    cache: dict[str, Any] | None = None,
) -> tuple[folium.Map, dict[str, int]]:
    """Build the map of a run.

    Parameters
    ----------
    result
        A finished run.
    lang
        ``"en"`` or ``"zh"``: every label of the map.
    siting
        A siting result: proposed sites and their catchments are drawn.
    settings
        Basemap and size settings; default: the study's ``[map]``.
    tolerance_m
        Simplification tolerance of polygons, metres; default ``settings.simplify_m``.

    Returns
    -------
    tuple
        The folium map (save with ``.save(path)``) and the bytes of each layer's data.
    """
    settings = settings or result.study.map
    tol = settings.simplify_m if tolerance_m is None else tolerance_m
    sizes: dict[str, int] = {}
    ll_bounds = result.communities.to_crs("EPSG:4326").total_bounds
    fmap = _Map(
        location=[(ll_bounds[1] + ll_bounds[3]) / 2, (ll_bounds[0] + ll_bounds[2]) / 2],
        tiles=None,
        control_scale=False,  # ours: metric only
        prefer_canvas=False,
    )
    fmap.fit_bounds([[ll_bounds[1], ll_bounds[0]], [ll_bounds[3], ll_bounds[2]]])
    _page_head(fmap, settings, lang)

    # communities
    cache = {} if cache is None else cache  # what does not change with the simplification
    choices = _memo(cache, ("choices",), lambda: _choices(result, lang, siting))
    group = folium.FeatureGroup(name=_esc(_t(lang, "communities")), show=True).add_to(fmap)
    payload, popups = _communities_payload(result, choices, lang, tol, cache)
    data = _js_json(payload)
    sizes["communities"] = len(data.encode())
    inds = _js_json([{"short": c.short, "caption": c.caption} for c in choices])
    calls = [
        f"scMap.communities({group.get_name()}, {data}, {inds}, {_js_json(popups)}, "
        '"sc-indicator", "sc-caption");'
    ]
    streets = streets_backdrop(result, tol, cache) if settings.tiles() == "none" else None
    if streets is not None:
        grp = folium.FeatureGroup(name=_t(lang, "streets_layer"), show=True).add_to(fmap)
        data = _js_json(streets)
        sizes["streets"] = len(data.encode())
        style = {"color": "#8a8a8a", "weight": 0.7, "opacity": 0.9}
        calls.append(f"scMap.lines({grp.get_name()}, {data}, {_js_json(style)});")
    calls += _shortfall_layers(fmap, result, lang, tol, sizes)
    fac = result.facilities
    cats = [c for c in result.categories if c in set(fac["category"])]
    colours = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(cats)}
    budget = SERVICE_AREA_SHARE * settings.max_size_mb * 1e6
    if settings.service_areas:
        calls += _service_layers(fmap, result, colours, lang, tol, sizes, cache, budget)
    grid_label = _grid_layer(fmap, result, choices, settings, lang, sizes, cache)
    calls += _facility_layers(fmap, result, cats, colours, lang, sizes, cache)
    if siting is not None:
        calls += _sites(fmap, siting, lang, tol, sizes, result)
    fmap.add_child(_Script("\n".join(calls)))
    layers = folium.LayerControl(collapsed=False)
    layers.add_to(fmap)
    sites_what = label(siting.settings.category, lang) if siting is not None else None
    legend = _legend_html(
        lang, choices, cats, colours, grid_label, sites_what, settings.service_areas
    )
    _controls(fmap, layers, result, settings, lang, legend)
    return fmap, sizes


def _grid_layer(
    fmap: folium.Map,
    result: StudyResult,
    choices: list[_Choice],
    settings: MapSettings,
    lang: str,
    sizes: dict[str, int],
    cache: dict[str, Any],
) -> str | None:
    """The demand grid of the first indicator (hidden); its legend line, if drawn."""
    if not (settings.demand_grid and choices and len(result.demand.points)):
        return None
    spec = next(s for s in result.specs if s.column == choices[0].column)
    if cache.get("grid_of") != spec.column:
        cache["grid"] = demand_grid_png(result, np.asarray(spec.covered, dtype=bool))
        cache["grid_of"] = spec.column
    png, img_bounds = cache["grid"]
    url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    sizes["demand_grid"] = len(url)
    name = spec.column if lang == "en" else choices[0].name
    grp = folium.FeatureGroup(name=_esc(_t(lang, "grid_layer", ind=name)), show=False).add_to(fmap)
    folium.raster_layers.ImageOverlay(url, bounds=img_bounds, opacity=0.85).add_to(grp)
    return _t(lang, "grid_legend", ind=name)


def _controls(
    fmap: folium.Map,
    layers: folium.LayerControl,
    result: StudyResult,
    settings: MapSettings,
    lang: str,
    legend: str,
) -> None:
    """Legend, title, metric scale bar, data credits; the layer list's behaviour."""
    study = result.study
    settings_text = _t(
        lang,
        "settings",
        speeds=_esc(_speeds_words(study, lang)),
        walk=study.snapping.walk_limit_m,
        cycle=study.snapping.cycle_limit_m,
        targets=_esc(study.targets.describe()),
    )
    tiles = settings.tiles()
    basemap_note = "" if tiles != "none" else f" · {_t(lang, 'basemap_none')}"
    title = (
        f"<div id='sc-title' class='sc-title'><b>{_esc(study.name)}</b><br>"
        f"<span class='sc-settings'>{settings_text}{basemap_note}</span></div>"
    )
    # the OSM basemap credits OpenStreetMap already; otherwise the roads need their credit
    sources = ([] if tiles == "osm" else [_t(lang, "roads")]) + (
        [_esc(study.attribution)] if study.attribution else []
    )
    attribution = _t(lang, "data", sources="; ".join(sources)) if sources else ""
    m = fmap.get_name()
    code = [
        f'scMap.control({m}, "bottomright", {_js_json(legend)});',
        f'scMap.control({m}, "topleft", {_js_json(title)});',
        f"scMap.scale({m}, {_js_json({u: _t(lang, u) for u in ('m', 'km')})});",
        f"scMap.layers({m}, {layers.get_name()});",
        f"scMap.iconZoom({m}, {ICON_FULL_ZOOM});",
    ]
    if attribution:
        code.append(f"{m}.attributionControl.addAttribution({_js_json(attribution)});")
    fmap.add_child(_Script("\n".join(code)))


def _sites(
    fmap: folium.Map,
    siting: Any,
    lang: str,
    tol: float,
    sizes: dict[str, int],
    result: StudyResult | None = None,
) -> list[str]:
    """Proposed sites (numbered by build order) and the demand each newly covers."""
    calls = []
    what = label(siting.settings.category, lang)
    rule = render(rule_message(siting.settings), lang)
    catch = siting.catchments
    catch = catch[~catch.geometry.is_empty]
    if len(catch):
        grp = folium.FeatureGroup(
            name=_esc(_t(lang, "catchments_layer", cat=what)), show=True
        ).add_to(fmap)
        props = [
            {
                "tip": _t(
                    lang,
                    "catch_tip",
                    rank=int(rec["rank"]),
                    id=_esc(rec["candidate_id"]),
                    pop=_count(rec["new_residents"]),
                )
            }
            for rec in catch.drop(columns="geometry").to_dict("records")
        ]
        data = _js_json(_collection(_lonlat(catch.geometry, tol), props))
        sizes["proposed_catchments"] = len(data.encode())
        style = {"fillColor": SITE_COLOUR, "fillOpacity": 0.3, "color": SITE_COLOUR, "weight": 1}
        calls.append(f"scMap.polygons({grp.get_name()}, {data}, {_js_json(style)}, 320);")
    grp = folium.FeatureGroup(
        name=_esc(_t(lang, "sites_layer", cat=what, rule=rule)), show=True
    ).add_to(fmap)
    names = {}
    if result is not None:
        names = dict(
            zip(result.communities["community_id"], result.communities["name"], strict=True)
        )
    props = [
        _site_props(rec, lang, names)
        for rec in siting.sites.drop(columns="geometry").to_dict("records")
    ]
    data = _js_json(_collection(_lonlat(siting.sites.geometry, 0.0), props))
    sizes["proposed_sites"] = len(data.encode())
    calls.append(f'scMap.points({grp.get_name()}, {data}, "", 24);')
    return calls


def _site_props(rec: dict[str, Any], lang: str, names: dict[Any, Any]) -> dict[str, str]:
    """Popup, tooltip and numbered icon of one proposed site."""
    rank = int(rec["rank"])
    where = ""
    if all(k in rec for k in ("community_id", "lon", "lat")):
        cid = rec["community_id"]
        comm = "–" if pd.isna(cid) else f"{names[cid]} ({cid})" if cid in names else str(cid)
        lon, lat = (
            f"{float(rec[k]):.{DECIMALS}f}" if pd.notna(rec[k]) else "–" for k in ("lon", "lat")
        )
        where = _t(lang, "site_where", comm=_esc(comm), lon=lon, lat=lat)
    return {
        "popup": _t(
            lang,
            "site_popup",
            rank=rank,
            id=_esc(rec["candidate_id"]),
            where=where,
            alone=_count(rec["gain_alone"]),
            added=_count(rec["incremental_gain"]),
            after=_fmt_share(rec["share_after"]),
        ),
        "tip": _t(lang, "site_tip", rank=rank),
        "icon": (
            f'<span style="background:{SITE_COLOUR};border-color:#fff;line-height:19px;'
            f'font-size:12px">{rank}</span>'
        ),
    }


def _stable_ids(page: str, fmap: folium.Map) -> str:
    """Replace folium's random element ids by ids numbered in order of appearance.

    Only the ids of folium's own elements (the map's tree) are replaced, never
    text of the study that happens to look like one. The same run then gives
    a byte-identical page.
    """
    ids: set[str] = set()
    stack: list[Any] = [fmap.get_root()]
    while stack:
        element = stack.pop()
        if not isinstance(element, Element):
            continue
        ids.add(element._id)
        stack.extend(element._children.values())
        stack.extend(getattr(element, part, None) for part in ("header", "html", "script"))
    found = sorted(((page.find(i), i) for i in ids if i in page), key=lambda t: t[0])
    for n, (_, old) in enumerate(found):
        page = page.replace(old, f"{n:032x}")
    return page


def render_map(
    result: StudyResult,
    lang: str = "en",
    siting: Any = None,
    settings: MapSettings | None = None,
) -> tuple[str, MapFigures]:
    """The map as one HTML page within the size cap, and what it holds.

    Polygons are simplified at ``settings.simplify_m``; while the page is
    larger than ``settings.max_size_mb`` the tolerance is doubled (at most
    :data:`SIMPLIFY_ROUNDS` times).

    Raises
    ------
    MapSizeError
        When even the coarsest simplification leaves the page too large; the
        message lists the largest layers and the fix.
    """
    settings = settings or result.study.map
    cap = int(settings.max_size_mb * 1e6)
    tol = settings.simplify_m
    notes: list[str] = []
    host = urlsplit(settings.tiles()).netloc.lower()
    if any(h in host for h in SHIFTED_TILE_HOSTS):
        notes.append(
            f"map: the basemap {host} draws in GCJ-02/BD-09 coordinates; the study's WGS84 "
            "layers will look shifted by a few hundred metres against it (the figures are "
            "unaffected). Use OpenStreetMap, Tianditu or local WGS84 tiles for a true overlay"
        )
    cache: dict[str, Any] = {}
    for _ in range(SIMPLIFY_ROUNDS):
        fmap, sizes = build_map(result, lang, siting, settings, tolerance_m=tol, cache=cache)
        page = _stable_ids(str(fmap.get_root().render()), fmap)
        size = len(page.encode("utf-8"))
        if size <= cap:
            figures = MapFigures(size, tol, sizes, settings.tiles(), settings.offline, notes)
            return page, figures
        fixed = size - sum(v for k, v in sizes.items() if k.startswith(POLYGON_LAYERS))
        if fixed > cap:  # no simplification can help: say so now, not after every round
            raise _too_large(fixed, settings, sizes, None)
        notes.append(
            f"map: {size / 1e6:.1f} MB at {tol:g} m simplification exceeds the "
            f"{settings.max_size_mb:g} MB cap; simplifying at {2 * tol:g} m"
        )
        tol *= 2
    raise _too_large(size, settings, sizes, tol / 2)


#: Layers whose size the simplification changes (the names of ``build_map``'s sizes).
POLYGON_LAYERS = (
    "communities",
    "streets",
    "shortfall_areas",
    "service_area",
    "proposed_catchments",
)


def _too_large(
    size: int, settings: MapSettings, sizes: dict[str, int], tolerance_m: float | None
) -> MapSizeError:
    """The error of a page over its cap, with its largest layers and the fix."""
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:5]
    how = (
        f"even with polygons simplified at {tolerance_m:g} m"
        if tolerance_m is not None
        else "in the layers no simplification shrinks (points and the demand grid)"
    )
    return MapSizeError(
        f"map: the page stays at {size / 1e6:.1f} MB, over the {settings.max_size_mb:g} MB cap, "
        f"{how}. Largest layers: "
        + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in largest)
        + ". Fix: raise map.max_size_mb in the study file, or set map.demand_grid = false "
        "or map.service_areas = false"
    )


def map_html(
    result: StudyResult, lang: str = "en", siting: Any = None, settings: MapSettings | None = None
) -> str:
    """The map as one HTML page (with proposed sites when ``siting`` is given)."""
    return render_map(result, lang, siting, settings)[0]
