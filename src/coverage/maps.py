"""The interactive map (folium): communities coloured by coverage, facilities by
category, shortfall communities outlined, a legend and popups with the figures.

Every user-provided string (names, ids, categories) is HTML-escaped before it
reaches the page: folium inserts popup values with ``innerHTML``.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import branca.colormap as cm
import folium
import numpy as np

from coverage.categories import label

if TYPE_CHECKING:
    from coverage.pipeline import StudyResult

#: Colours per category (ColorBrewer Set1/Dark2, distinct for up to 16 categories).
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


def _fmt_share(v: float) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{100 * v:.1f} %"


def _community_popup(row: dict[str, object], result: StudyResult) -> str:
    esc = html.escape
    lines = [
        f"<b>{esc(str(row['name']))}</b> ({esc(str(row['community_id']))}, {esc(str(row['kind']))})",
        f"<br>residents: {float(row['population']):,.0f}",  # type: ignore[arg-type]
        "<table style='font-size:11px'><tr><th>indicator</th><th>value</th><th>target</th><th>status</th></tr>",
    ]
    ind = result.indicators
    rows = ind[ind["scope"] == f"community:{row['community_id']}"]
    for _, r in rows.iterrows():
        if r["indicator"] == "category_coverage" and r["minutes_or_metres"] != 15.0:
            continue
        unit = "m" if r["mode"] == "straight" or r["indicator"].startswith("A3") else "min"
        name = f"{r['indicator']} {r['mode']} {r['minutes_or_metres']:g} {unit} [{r['categories']}]"
        colour = {"met": "green", "short": "#b00"}.get(r["status"], "#555")
        lines.append(
            f"<tr><td>{esc(name)}</td><td>{_fmt_share(r['value'])}</td>"
            f"<td>{_fmt_share(r['target'])}</td>"
            f"<td style='color:{colour}'>{esc(str(r['status']))}</td></tr>"
        )
    lines.append("</table>")
    return "".join(lines)


def _add_sites(fmap: folium.Map, siting: Any, lang: str) -> None:
    """Proposed sites (numbered by build order) and the demand each newly covers."""
    what = html.escape(label(siting.settings.category, lang))
    catch = siting.catchments.to_crs("EPSG:4326")
    catch = catch[~catch.geometry.is_empty]
    if len(catch):
        folium.GeoJson(
            catch[["rank", "candidate_id", "new_residents", "geometry"]].__geo_interface__,
            name=f"proposed {what}: new catchments",
            style_function=lambda f: {
                "fillColor": "#6a3d9a",
                "fillOpacity": 0.3,
                "color": "#6a3d9a",
                "weight": 1,
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["rank", "candidate_id", "new_residents"],
                aliases=["site", "id", "residents newly covered"],
            ),
        ).add_to(fmap)
    group = folium.FeatureGroup(name=f"proposed {what} ({siting.rule})")
    for rec in siting.sites.to_crs("EPSG:4326").to_dict("records"):
        text = (
            f"<b>proposed site {int(rec['rank'])}</b>: {html.escape(str(rec['candidate_id']))}<br>"
            f"residents newly covered alone: {rec['gain_alone']:,.0f}<br>"
            f"added in build order: {rec['incremental_gain']:,.0f}<br>"
            f"coverage after the first {int(rec['rank'])}: {_fmt_share(rec['share_after'])}"
        )
        folium.Marker(
            location=[rec["geometry"].y, rec["geometry"].x],
            popup=folium.Popup(text, max_width=320),
            tooltip=f"proposed site {int(rec['rank'])}",
            icon=folium.DivIcon(
                html=(
                    '<div style="background:#6a3d9a;color:#fff;border-radius:50%;width:22px;'
                    "height:22px;line-height:22px;text-align:center;font-weight:bold;"
                    f'font-size:12px;border:2px solid #fff">{int(rec["rank"])}</div>'
                ),
                icon_size=(22, 22),
                icon_anchor=(11, 11),
            ),
        ).add_to(group)
    group.add_to(fmap)


def build_map(result: StudyResult, lang: str = "en", siting: Any = None) -> folium.Map:
    """Build the folium map of a run.

    Parameters
    ----------
    result
        A finished run.
    lang
        ``"en"`` or ``"zh"`` for category labels.

    Returns
    -------
    folium.Map
        The map; save it with ``.save(path)``.
    """
    study = result.study
    a1 = next(s for s in result.specs if s.indicator == "A1_service_circle")
    comm = result.communities.to_crs("EPSG:4326")
    bounds = comm.total_bounds
    fmap = folium.Map(
        location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2],
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
    )
    folium.TileLayer(
        "OpenStreetMap",
        attr="© OpenStreetMap contributors (ODbL)"
        + (f"; {html.escape(study.attribution)}" if study.attribution else ""),
        name="OpenStreetMap",
    ).add_to(fmap)
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])

    colormap = cm.LinearColormap(
        ["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"],
        vmin=0.0,
        vmax=1.0,
        caption=f"A1: residents with {' + '.join(label(c, lang) for c in a1.categories)} "
        f"within {a1.threshold:g} min walk",
    )
    # outline the communities short on the access targets (A1 walking, A2 rural cycling)
    ind = result.indicators
    access_short = set(
        ind.loc[
            ind["scope"].str.startswith("community:")
            & ind["indicator"].isin(["A1_service_circle", "A2_rural_cycling"])
            & (ind["status"] == "short"),
            "scope",
        ]
        .str.split(":", n=1)
        .str[1]
    )
    features = []
    for rec in comm.to_dict("records"):
        value = rec[a1.column]
        features.append(
            {
                "type": "Feature",
                "geometry": rec["geometry"].__geo_interface__,
                "properties": {
                    "name": html.escape(str(rec["name"])),
                    "value_text": _fmt_share(value),
                    "colour": colormap(value) if np.isfinite(value) else "#bbbbbb",
                    "shortfall": rec["community_id"] in access_short,
                    "popup": _community_popup(rec, result),
                },
            }
        )
    geo = {"type": "FeatureCollection", "features": features}
    folium.GeoJson(
        geo,
        name=f"communities: {a1.indicator}",
        style_function=lambda f: {
            "fillColor": f["properties"]["colour"],
            "fillOpacity": 0.6,
            "color": "#b00000" if f["properties"]["shortfall"] else "#555555",
            "weight": 3 if f["properties"]["shortfall"] else 1,
            "dashArray": "6 4" if f["properties"]["shortfall"] else None,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "value_text"], aliases=["community", a1.indicator]
        ),
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=480),
    ).add_to(fmap)
    colormap.add_to(fmap)

    areas = result.shortfall_areas
    if len(areas):
        shown = areas[areas["indicator"] == a1.indicator].to_crs("EPSG:4326")
        area_feats = [
            {
                "type": "Feature",
                "geometry": rec["geometry"].__geo_interface__,
                "properties": {
                    "popup": (
                        f"<b>shortfall area {int(rec['rank'])}</b> ({html.escape(a1.indicator)})<br>"
                        f"uncovered residents: {rec['uncovered_population']:,.0f}<br>"
                        f"area: {rec['area_km2']:.2f} km²<br>"
                        f"communities: {html.escape(str(rec['communities']))}"
                    ),
                },
            }
            for rec in shown.to_dict("records")
        ]
        folium.GeoJson(
            {"type": "FeatureCollection", "features": area_feats},
            name=f"shortfall areas: {a1.indicator}",
            style_function=lambda f: {
                "fillColor": "#7b0000",
                "fillOpacity": 0.35,
                "color": "#7b0000",
                "weight": 1,
            },
            popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=420),
            show=False,
        ).add_to(fmap)

    fac = result.facilities.to_crs("EPSG:4326")
    cats = [c for c in result.categories if c in set(fac["category"])]
    colours = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(cats)}
    service = result.service_areas.to_crs("EPSG:4326")
    for rec in service.to_dict("records"):
        colour = colours.get(rec["category"], "#555")
        folium.GeoJson(
            rec["geometry"].__geo_interface__,
            name=(
                f"service area: {html.escape(label(rec['category'], lang))}, "
                f"{rec['minutes']:g} min {rec['mode']}"
            ),
            style_function=lambda f, c=colour: {
                "fillColor": c,
                "fillOpacity": 0.2,
                "color": c,
                "weight": 1,
            },
            tooltip=(
                f"streets within {rec['minutes']:g} min by {rec['mode']} of a "
                f"{html.escape(label(rec['category'], lang))} (display only; figures use each "
                "demand point's own time)"
            ),
            show=False,
        ).add_to(fmap)
    for cat in cats:
        group = folium.FeatureGroup(name=f"facilities: {label(cat, lang)}")
        sub = fac[fac["category"] == cat]
        for rec in sub.to_dict("records"):
            pop_html = (
                f"<b>{html.escape(str(rec['name']) or str(rec['facility_id']))}</b><br>"
                f"id: {html.escape(str(rec['facility_id']))}<br>"
                f"category: {html.escape(label(cat, lang))} ({html.escape(cat)})<br>"
                f"on walk network: {'yes' if rec['on_network_walk'] else 'no (beyond snapping limit)'}<br>"
                f"residents for whom it is the nearest within {result.reach['walk'].threshold_min:g} min "
                f"walk: {rec['served_population_walk']:,.0f}<br>"
                f"residents within {result.reach['walk'].threshold_min:g} min walk: "
                f"{rec['population_within_walk']:,.0f}"
            )
            folium.CircleMarker(
                location=[rec["geometry"].y, rec["geometry"].x],
                radius=4,
                color="#222",
                weight=1,
                fill=True,
                fill_color=colours[cat],
                fill_opacity=0.9,
                popup=folium.Popup(pop_html, max_width=320),
                tooltip=html.escape(label(cat, lang)),
            ).add_to(group)
        group.add_to(fmap)
    if siting is not None:
        _add_sites(fmap, siting, lang)
    folium.LayerControl(collapsed=False).add_to(fmap)

    legend_items = "".join(
        f"<div><span style='display:inline-block;width:10px;height:10px;border-radius:5px;"
        f"background:{colours[c]};border:1px solid #222;margin-right:4px'></span>"
        f"{html.escape(label(c, lang))}</div>"
        for c in cats
    )
    settings = (
        f"{html.escape(study.speeds.describe())}; "
        f"snapping ≤ {study.snapping.walk_limit_m:g} m (walk), {study.snapping.cycle_limit_m:g} m (cycle); "
        f"targets: {html.escape(study.targets.describe())}"
    )
    overlay = f"""
    <div id="sc-title" style="position:fixed;top:10px;left:60px;z-index:9999;background:white;
         padding:6px 10px;border:1px solid #888;border-radius:4px;font:14px sans-serif">
      <b>{html.escape(study.name)}</b><br>
      <span style="font-size:11px">{settings}</span></div>
    <div id="sc-legend" style="position:fixed;bottom:30px;right:10px;z-index:9999;background:white;
         padding:6px 10px;border:1px solid #888;border-radius:4px;font:12px sans-serif">
      <b>Facilities</b>{legend_items}
      <div style="margin-top:4px"><span style="display:inline-block;width:18px;border-top:3px dashed #b00000;
        margin-right:4px"></span>community below its A1 / A2 target</div></div>
    """
    fmap.get_root().html.add_child(folium.Element(overlay))  # type: ignore[attr-defined]
    return fmap


def map_html(result: StudyResult, lang: str = "en", siting: Any = None) -> str:
    """The map as one HTML page (with proposed sites when ``siting`` is given)."""
    page = build_map(result, lang, siting).get_root().render()
    return str(page)
