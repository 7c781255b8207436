"""The user's data in the tool's vocabulary: column names, category values, urban or rural.

Planners' layers arrive with their own headers (社区编码, 社区名称), their own facility
type names (社区卫生服务站, 村卫生室) or a map service's codes (Gaode ``typecode``
090300). The study file maps them (``[columns.<layer>]``, ``[categories]``); this
module applies the mapping to a layer as read, before the layer's checks, and refuses
what it cannot map, naming it. Shipped category presets (``vocab/*.csv``) map Gaode
POI type codes and OpenStreetMap tags.
"""

from __future__ import annotations

import csv
from collections import Counter
from importlib import resources
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage.categories import CATEGORIES
from coverage.errors import MissingColumnError, StudyFileError, UnknownCategoryError

__all__ = [
    "CATEGORY_PRESETS",
    "COLUMN_TARGETS",
    "category_preset",
    "kind_from_code",
    "map_categories",
    "osm_category",
    "osm_facilities",
    "osm_row",
    "osm_table",
    "rename_columns",
]

#: Per layer, the tool's column names a study may map from the user's own.
COLUMN_TARGETS: dict[str, tuple[str, ...]] = {
    "communities": (
        "community_id", "name", "kind", "population", "households", "community_type",
    ),
    "facilities": ("facility_id", "category", "name", "floor_area_m2", "capacity"),
    "workplaces": ("workplace_id", "workers"),
    "candidates": ("candidate_id", "name"),
    "population": ("population",),
}  # fmt: skip

#: Shipped category presets: name -> what it maps.
CATEGORY_PRESETS = {"gaode": "Gaode (Amap) POI type codes", "osm": "OpenStreetMap tags"}

#: National Bureau of Statistics urban-rural classification codes (统计用城乡划分代码):
#: 1xx towns and cities (111 main urban area, 112 urban-rural fringe, 121 town centre,
#: 122 town-rural fringe, 123 special area), 2xx rural (210 township centre, 220 village).
NBS_KIND = {
    "111": "urban", "112": "urban", "121": "urban", "122": "urban", "123": "urban",
    "210": "rural", "220": "rural",
}  # fmt: skip


def rename_columns(gdf: gpd.GeoDataFrame, layer: str, mapping: dict[str, str]) -> gpd.GeoDataFrame:
    """The layer with the user's columns renamed to the tool's (``tool name -> user's``).

    A column of the tool's name already there is replaced by the mapped one.

    Raises
    ------
    MissingColumnError
        A mapped column the layer does not have, naming both names.

    Examples
    --------
    >>> import shapely
    >>> g = gpd.GeoDataFrame({"社区编码": ["A"]}, geometry=[shapely.Point(0, 0)])
    >>> list(rename_columns(g, "communities", {"community_id": "社区编码"}).columns)
    ['community_id', 'geometry']
    """
    if not mapping:
        return gdf
    missing = {t: u for t, u in mapping.items() if u not in gdf.columns}
    if missing:
        target, user = next(iter(missing.items()))
        have = ", ".join(str(c) for c in gdf.columns if c != gdf.geometry.name)
        raise MissingColumnError(
            layer,
            f"[columns.{layer}] maps {target} to the column {user!r}, which the layer does "
            f"not have (columns present: {have})",
            f"name one of the layer's columns for {target}, or remove the line",
        )
    out = gdf.drop(columns=[t for t in mapping if t in gdf.columns and t not in mapping.values()])
    return out.rename(columns={u: t for t, u in mapping.items()})


def category_preset(name: str) -> dict[str, str]:
    """A shipped preset's ``value -> category`` (``gaode``, ``osm``).

    >>> category_preset("gaode")["090300"]
    'health'
    """
    if name not in CATEGORY_PRESETS:
        raise StudyFileError(
            f"[categories] preset {name!r} is not shipped: use one of {', '.join(CATEGORY_PRESETS)}"
        )
    text = (resources.files("coverage") / "vocab" / f"{name}.csv").read_text(encoding="utf-8")
    return {row["value"]: row["category"] for row in csv.DictReader(text.splitlines())}


def _lookup(value: str, table: dict[str, str]) -> str | None:
    """A value's category: itself when it is one, else the table's; of a Gaode list of
    codes (``090300|090601``), the first mapped one."""
    if value in CATEGORIES:
        return value
    if value in table:
        return table[value]
    for part in value.split("|") if "|" in value else ():
        if part.strip() in table:
            return table[part.strip()]
    return None


def map_categories(
    gdf: gpd.GeoDataFrame, values: dict[str, str], presets: tuple[str, ...] = ()
) -> gpd.GeoDataFrame:
    """The layer with its ``category`` values mapped to the tool's categories.

    The study's own ``values`` win over the presets; values already in the
    vocabulary stay.

    Raises
    ------
    UnknownCategoryError
        Values neither mapped nor in the vocabulary, each with its count.

    Examples
    --------
    >>> import shapely
    >>> g = gpd.GeoDataFrame({"category": ["村卫生室", "090300", "health"]},
    ...                      geometry=[shapely.Point(0, 0)] * 3)
    >>> map_categories(g, {"村卫生室": "health"}, ("gaode",))["category"].tolist()
    ['health', 'health', 'health']
    """
    if "category" not in gdf.columns or (not values and not presets):
        return gdf
    table: dict[str, str] = {}
    for name in presets:
        table |= category_preset(name)
    table |= values
    raw = gdf["category"].fillna("").astype(str).str.strip()
    mapped = raw.map(lambda v: _lookup(v, table))
    unmapped = Counter(raw[mapped.isna()])
    if unmapped:
        listed = "; ".join(f"{v!r} ({n})" for v, n in unmapped.most_common(20))
        more = f"; and {len(unmapped) - 20} more values" if len(unmapped) > 20 else ""
        raise UnknownCategoryError(
            "facilities",
            f"{sum(unmapped.values())} feature(s) have category values that are neither "
            f"mapped in [categories] nor categories of the tool: {listed}{more}",
            'map each in [categories] (e.g. "村卫生室" = "health"), or drop those features; '
            f"the categories are: {', '.join(CATEGORIES)}",
        )
    out = gdf.copy()
    out["category_source"] = raw.to_numpy()
    out["category"] = mapped.to_numpy()
    return out


def kind_from_code(values: pd.Series) -> tuple[pd.Series, bool]:
    """``kind`` as ``urban``/``rural``, from words or NBS urban-rural codes.

    Returns the kinds (values neither word nor code unchanged, for the layer's
    check to refuse) and whether codes were read.

    >>> kind_from_code(pd.Series(["111", 220, "urban", "x"]))[0].tolist()
    ['urban', 'rural', 'urban', 'x']
    """
    text = values.map(_code_text)
    coded = text.isin(list(NBS_KIND))
    out = text.where(~coded, text.map(NBS_KIND)).str.lower()
    return out, bool(coded.any())


def _code_text(value: Any) -> str:
    if isinstance(value, float) and np.isfinite(value) and value == int(value):
        return str(int(value))
    return str(value).strip()


#: OSM keys whose tags the ``osm`` preset reads.
OSM_KEYS = ("amenity", "shop", "healthcare", "leisure", "social_facility", "craft")


def osm_category(tags: dict[str, str], table: dict[str, str]) -> str | None:
    """The category of an OSM object's tags: the most specific rule that matches
    (``amenity=school+isced:level=2`` before ``amenity=school``), else ``None``.

    >>> t = category_preset("osm")
    >>> osm_category({"amenity": "school", "isced:level": "2"}, t), osm_category({"shop": "bakery"}, t)
    ('middle_school', None)
    """
    best, parts = None, 0
    for rule, category in table.items():
        if "=" not in rule:
            continue
        pairs = [p.split("=", 1) for p in rule.split("+")]
        if all(tags.get(k) == v for k, v in pairs) and len(pairs) > parts:
            best, parts = category, len(pairs)
    return best


def osm_table(values: dict[str, str]) -> dict[str, str]:
    """The ``osm`` preset with the study's own tag values (``"amenity=clinic" = "health"``)."""
    return category_preset("osm") | {k: v for k, v in values.items() if "=" in k}


def osm_row(tags: dict[str, str], table: dict[str, str]) -> tuple[str, str, str] | None:
    """An OSM object's category, name (``name:zh``, else ``name``) and main tag, or ``None``
    when no rule maps its tags."""
    category = osm_category(tags, table)
    if category is None:
        return None
    tag = next((f"{k}={tags[k]}" for k in OSM_KEYS if k in tags), "")
    return category, tags.get("name:zh") or tags.get("name") or "", tag


def osm_facilities(path: Any, values: dict[str, str]) -> gpd.GeoDataFrame:
    """Facilities from an OpenStreetMap file: tagged nodes, and ways at the mean of their
    nodes, mapped by the ``osm`` preset and the study's own values (``"amenity=clinic" =
    "health"``). Columns ``facility_id`` (``osm-node-<id>``, ``osm-way-<id>``),
    ``category``, ``name`` (``name:zh``, else ``name``), ``osm_tag``; EPSG:4326.
    """
    import osmium

    table = osm_table(values)
    rows: list[tuple[str, str, str, str, float, float]] = []
    processor = (
        osmium.FileProcessor(str(path))
        .with_locations()
        .with_filter(osmium.filter.KeyFilter(*OSM_KEYS))
    )
    for obj in processor:
        row = osm_row(dict(obj.tags), table)
        if row is None:
            continue
        if isinstance(obj, osmium.osm.Node):
            kind, lon, lat = "node", obj.location.lon, obj.location.lat
        elif isinstance(obj, osmium.osm.Way):
            points = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
            if not points:
                continue
            kind = "way"
            lon, lat = (float(np.mean(c)) for c in zip(*points, strict=True))
        else:
            continue
        category, name, tag = row
        rows.append((f"osm-{kind}-{obj.id}", category, name, tag, lon, lat))
    frame = pd.DataFrame(rows, columns=["facility_id", "category", "name", "osm_tag", "x", "y"])
    return gpd.GeoDataFrame(
        frame.drop(columns=["x", "y"]),
        geometry=gpd.points_from_xy(frame["x"], frame["y"]),
        crs="EPSG:4326",
    )
