"""Read and validate the four input layers (METHOD.md, "Inputs").

Each reader returns a new GeoDataFrame in the layer's own CRS, with ids as
strings and the optional columns filled; every broken rule raises an
:class:`~coverage.errors.InputLayerError` subclass naming the layer, the
feature or column, the problem and the fix.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import prcoords
import pyproj
import shapely

from coverage.categories import CATEGORIES
from coverage.errors import (
    DuplicateIdError,
    EmptyLayerError,
    GeometryError,
    InputLayerError,
    MissingColumnError,
    MissingIdError,
    NoCrsError,
    UnknownCategoryError,
    ValueColumnError,
)

KINDS = ("urban", "rural")

#: Converters to WGS84 (prcoords, exact inversions) and the names of the datums.
_TO_WGS84 = {"gcj02": prcoords.gcj_wgs_bored, "bd09": prcoords.bd_wgs_bored}
_DATUM_NAMES = {"gcj02": "GCJ-02", "bd09": "BD-09"}


def read_layer(path: Path, layer: str) -> gpd.GeoDataFrame:
    """Read a vector file, refusing unreadable files, empty layers and a missing CRS."""
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise InputLayerError(
            layer,
            f"{path} could not be read as a vector file ({exc})",
            "give a GeoPackage, GeoJSON or Shapefile",
        ) from exc
    if len(gdf) == 0:
        raise EmptyLayerError(layer, f"{path} holds no features", "give a file with features")
    if gdf.crs is None:
        raise NoCrsError(
            layer,
            f"{path} carries no coordinate reference system",
            "set the CRS in the file (e.g. geopandas: gdf.set_crs('EPSG:4326'))",
        )
    return gdf


def _require_columns(gdf: pd.DataFrame, layer: str, columns: tuple[str, ...]) -> None:
    for col in columns:
        if col not in gdf.columns:
            have = ", ".join(c for c in gdf.columns if c != "geometry")
            raise MissingColumnError(
                layer,
                f"required column {col!r} is missing (columns present: {have})",
                f"add a {col!r} column or rename the matching one",
            )


def _check_ids(gdf: pd.DataFrame, layer: str, column: str) -> pd.Series:
    raw = gdf[column]
    missing = raw.isna() | (raw.astype(str).str.strip() == "")
    if missing.any():
        rows = ", ".join(str(i) for i in np.flatnonzero(missing.to_numpy())[:5])
        raise MissingIdError(
            layer,
            f"{int(missing.sum())} feature(s) have no {column} (rows {rows})",
            f"give every feature a unique {column}",
        )
    ids = raw.astype(str).str.strip()
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        shown = ", ".join(sorted(set(dup))[:5])
        raise DuplicateIdError(
            layer, f"{column} values are repeated: {shown}", f"make {column} unique"
        )
    return ids


def _numeric(
    gdf: pd.DataFrame, layer: str, column: str, id_col: str, *, required: bool
) -> pd.Series:
    values = pd.to_numeric(gdf[column], errors="coerce")
    bad = values.isna() & (gdf[column].notna() | required)
    if bad.any():
        feats = ", ".join(gdf[id_col].astype(str)[bad].head(5))
        raise ValueColumnError(
            layer,
            f"column {column!r} is missing or not numeric for feature(s) {feats}",
            f"give a number (0 or more) in {column!r} for every feature",
        )
    neg = values < 0
    if neg.any():
        feats = ", ".join(gdf[id_col].astype(str)[neg].head(5))
        raise ValueColumnError(
            layer,
            f"column {column!r} is negative for feature(s) {feats}",
            f"{column!r} must be 0 or more",
        )
    return values.astype(float)


def _check_geometry(gdf: gpd.GeoDataFrame, layer: str, id_col: str, types: tuple[str, ...]) -> None:
    geom = gdf.geometry
    empty = geom.isna() | geom.is_empty
    if empty.any():
        feats = ", ".join(gdf[id_col].astype(str)[empty].head(5))
        raise GeometryError(
            layer,
            f"feature(s) {feats} have empty or missing geometry",
            "give every feature a geometry, or remove it",
        )
    wrong = ~geom.geom_type.isin(types)
    if wrong.any():
        feats = ", ".join(
            f"{i} ({t})"
            for i, t in zip(
                gdf[id_col].astype(str)[wrong].head(5), geom.geom_type[wrong].head(5), strict=True
            )
        )
        raise GeometryError(
            layer,
            f"feature(s) {feats} have the wrong geometry type",
            f"this layer takes {' or '.join(types)} geometries",
        )


def read_communities(path: Path) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read the communities layer.

    Returns
    -------
    communities : GeoDataFrame
        Columns ``community_id`` (str), ``name``, ``kind`` (``urban``/``rural``),
        ``population`` and ``households`` (NaN when not given), geometry.
    notes : list of str
        What was repaired or assumed (e.g. invalid polygons made valid).
    """
    layer = "communities"
    gdf = read_layer(path, layer)
    _require_columns(gdf, layer, ("community_id", "name"))
    ids = _check_ids(gdf, layer, "community_id")
    out = gpd.GeoDataFrame({"community_id": ids}, geometry=gdf.geometry.values, crs=gdf.crs)
    _check_geometry(out, layer, "community_id", ("Polygon", "MultiPolygon"))
    out["name"] = gdf["name"].fillna("").astype(str).to_numpy()
    notes: list[str] = []
    if "kind" in gdf.columns:
        kind = gdf["kind"].astype(str).str.strip().str.lower()
        bad = ~kind.isin(KINDS)
        if bad.any():
            feats = ", ".join(
                f"{i} ({k})"
                for i, k in zip(ids[bad].head(5), gdf["kind"][bad].head(5), strict=True)
            )
            raise ValueColumnError(
                layer,
                f"'kind' must be 'urban' or 'rural'; feature(s) {feats} have other values",
                "set kind to urban or rural",
            )
        out["kind"] = kind.to_numpy()
    else:
        out["kind"] = "urban"
        notes.append("communities have no 'kind' column: all treated as urban")
    for col in ("population", "households"):
        out[col] = (
            _numeric(gdf, layer, col, "community_id", required=False).to_numpy()
            if col in gdf.columns
            else np.nan
        )
    invalid = ~out.geometry.is_valid
    if invalid.any():
        feats = ", ".join(out["community_id"][invalid].head(5))
        out.loc[invalid, "geometry"] = shapely.make_valid(out.geometry[invalid].values)
        out.loc[invalid, "geometry"] = out.geometry[invalid].apply(_polygonal)
        notes.append(f"invalid polygons repaired with make_valid: {feats}")
    return out, notes


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep the polygonal part of a repaired geometry."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(polys)


def read_facilities(path: Path) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read the facilities layer.

    Polygons are replaced by their representative point. Returns columns
    ``facility_id``, ``category``, ``name``, ``floor_area_m2``, ``capacity``.
    """
    layer = "facilities"
    gdf = read_layer(path, layer)
    _require_columns(gdf, layer, ("facility_id", "category"))
    ids = _check_ids(gdf, layer, "facility_id")
    out = gpd.GeoDataFrame({"facility_id": ids}, geometry=gdf.geometry.values, crs=gdf.crs)
    _check_geometry(out, layer, "facility_id", ("Point", "Polygon", "MultiPolygon"))
    cat = gdf["category"].astype(str).str.strip()
    unknown = ~cat.isin(list(CATEGORIES))
    if unknown.any():
        shown = ", ".join(
            f"{i} ({c!r})" for i, c in zip(ids[unknown].head(5), cat[unknown].head(5), strict=True)
        )
        raise UnknownCategoryError(
            layer,
            f"unknown category for feature(s) {shown}",
            f"use one of: {', '.join(CATEGORIES)}",
        )
    out["category"] = cat.to_numpy()
    out["name"] = gdf["name"].fillna("").astype(str).to_numpy() if "name" in gdf.columns else ""
    for col in ("floor_area_m2", "capacity"):
        out[col] = (
            _numeric(gdf, layer, col, "facility_id", required=False).to_numpy()
            if col in gdf.columns
            else np.nan
        )
    notes: list[str] = []
    poly = out.geometry.geom_type != "Point"
    if poly.any():
        out.loc[poly, "geometry"] = out.geometry[poly].representative_point()
        notes.append(f"{int(poly.sum())} polygon facilities replaced by their representative point")
    return out, notes


def read_population(path: Path) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read a population layer: polygons or points with ``population``, or a raster.

    A GeoTIFF of residents per cell becomes one square polygon per cell with
    population > 0 (so cells cut by community boundaries split by area).
    """
    layer = "population"
    if path.suffix.lower() in (".tif", ".tiff"):
        return _population_from_raster(path)
    gdf = read_layer(path, layer)
    _require_columns(gdf, layer, ("population",))
    gdf = gdf.reset_index(drop=True)
    gdf["_row"] = gdf.index.astype(str)
    id_col = next((c for c in ("id", "cell_id", "population_id") if c in gdf.columns), "_row")
    pop = _numeric(gdf, layer, "population", id_col, required=True)
    out = gpd.GeoDataFrame(
        {"source_id": gdf[id_col].astype(str).to_numpy(), "population": pop.to_numpy()},
        geometry=gdf.geometry.values,
        crs=gdf.crs,
    )
    _check_geometry(out, layer, "source_id", ("Point", "Polygon", "MultiPolygon"))
    notes = []
    invalid = ~out.geometry.is_valid
    if invalid.any():
        out.loc[invalid, "geometry"] = out.geometry[invalid].apply(
            lambda g: _polygonal(shapely.make_valid(g))
        )
        notes.append(f"{int(invalid.sum())} invalid population polygons repaired with make_valid")
    return out, notes


def _population_from_raster(path: Path) -> tuple[gpd.GeoDataFrame, list[str]]:
    import rasterio

    layer = "population"
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise InputLayerError(
            layer,
            f"{path} could not be read as a raster ({exc})",
            "give a GeoTIFF of residents per cell",
        ) from exc
    with src:
        if src.crs is None:
            raise NoCrsError(layer, f"raster {path} carries no CRS", "set the raster's CRS")
        band = src.read(1, masked=True)
        transform = src.transform
        crs = src.crs
    values = np.ma.filled(band.astype(float), np.nan)
    if np.isnan(values).all():
        raise EmptyLayerError(layer, f"raster {path} holds only nodata", "give a populated raster")
    if (values < 0).any():
        r, c = np.argwhere(values < 0)[0]
        raise ValueColumnError(
            layer,
            f"raster {path} has negative residents (first at row {r}, column {c})",
            "residents per cell must be 0 or more; set the raster's nodata value if these mark no data",
        )
    rows, cols = np.nonzero(np.nan_to_num(values) > 0)
    t = transform
    x0, y0 = t.c + t.a * cols + t.b * rows, t.f + t.d * cols + t.e * rows
    x1, y1 = x0 + t.a + t.b, y0 + t.d + t.e
    geoms = shapely.box(
        np.minimum(x0, x1), np.minimum(y0, y1), np.maximum(x0, x1), np.maximum(y0, y1)
    )
    frame = gpd.GeoDataFrame(
        {
            "source_id": [f"r{r}c{c}" for r, c in zip(rows, cols, strict=True)],
            "population": values[rows, cols],
        },
        geometry=geoms,
        crs=crs,
    )
    nodata = int(np.isnan(values).sum())
    notes = (
        [f"population raster: {nodata} of {values.size} cells are nodata (no residents there)"]
        if nodata
        else []
    )
    return frame, notes


def read_workplaces(path: Path) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read a workplaces layer (industrial parks, office buildings) for A7.

    Points or polygons (polygons stand at their representative point), with an
    optional ``workers`` weight (default 1 per feature: the indicator is then
    the share of workplaces).
    """
    layer = "workplaces"
    gdf = read_layer(path, layer).reset_index(drop=True)
    gdf["_row"] = gdf.index.astype(str)
    id_col = next((c for c in ("workplace_id", "id", "name") if c in gdf.columns), "_row")
    _check_geometry(gdf, layer, id_col, ("Point", "Polygon", "MultiPolygon"))
    notes = []
    if "workers" in gdf.columns:
        workers = _numeric(gdf, layer, "workers", id_col, required=True).to_numpy(dtype=float)
    else:
        workers = np.ones(len(gdf))
        notes.append("workplaces carry no 'workers' column: each counts once")
    geoms = gdf.geometry.values
    poly = gdf.geometry.geom_type != "Point"
    if poly.any():
        geoms = np.where(poly, gdf.geometry.representative_point().values, geoms)
    out = gpd.GeoDataFrame(
        {"workplace_id": gdf[id_col].astype(str).to_numpy(), "workers": workers},
        geometry=gpd.GeoSeries(geoms, crs=gdf.crs).values,
        crs=gdf.crs,
    )
    return out, notes


def convert_datum(
    gdf: gpd.GeoDataFrame, datum: str, layer: str, id_col: str
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Convert a lon/lat layer from GCJ-02 or BD-09 to WGS84.

    Chinese map services (Gaode/Amap and Tencent: GCJ-02; Baidu: BD-09) shift
    their lon/lat coordinates by a few hundred metres; exported facility lists
    keep the shift. The inverse transforms come from ``prcoords`` (iterated to
    well under a centimetre).

    Parameters
    ----------
    gdf
        The layer as read, declared in a geographic CRS (lon/lat).
    datum
        ``"wgs84"`` (returned unchanged), ``"gcj02"`` or ``"bd09"``.
    layer
        Layer name, for messages.
    id_col
        Id column, to name features in messages.

    Returns
    -------
    tuple
        A new GeoDataFrame in EPSG:4326 and notes (the median shift applied).

    Raises
    ------
    InputLayerError
        When the layer is projected (the offsets are defined on lon/lat only)
        or a feature lies outside China, where neither datum exists.
    """
    if datum == "wgs84":
        return gdf, []
    name = _DATUM_NAMES[datum]
    crs = pyproj.CRS.from_user_input(gdf.crs)
    if not crs.is_geographic:
        raise InputLayerError(
            layer,
            f"datum.{layer} says {name}, but the layer's CRS ({crs.name}) is projected; "
            f"{name} is a shift of lon/lat coordinates",
            f"give the layer in lon/lat (EPSG:4326) as the map service exported it, or remove "
            f"datum.{layer} if its coordinates are already WGS84",
        )
    ll = gdf.to_crs("EPSG:4326")
    # prcoords' own test of "inside China", on both corners of every feature
    b = ll.geometry.bounds.to_numpy()
    inside = [
        prcoords.sanity_in_china_p(prcoords.Coords(s, w))
        and prcoords.sanity_in_china_p(prcoords.Coords(n, e))
        for w, s, e, n in b
    ]
    outside = ~np.asarray(inside, dtype=bool)
    if outside.any():
        feats = ", ".join(ll[id_col].astype(str).to_numpy()[outside][:5])
        raise InputLayerError(
            layer,
            f"datum.{layer} says {name}, but feature(s) {feats} lie outside China, where "
            f"{name} is not defined",
            f"remove those features, or remove datum.{layer} if the layer is WGS84",
        )
    convert = _TO_WGS84[datum]

    def to_wgs84(xy: np.ndarray) -> np.ndarray:
        out = np.empty_like(xy)
        for i, (lon, lat) in enumerate(xy):
            wgs = convert((lat, lon), False)
            out[i] = (wgs.lon, wgs.lat)
        return out

    before = shapely.get_coordinates(ll.geometry.values)
    geoms = shapely.transform(ll.geometry.values, to_wgs84)
    after = shapely.get_coordinates(geoms)
    _, _, shift = pyproj.Geod(ellps="WGS84").inv(
        before[:, 0], before[:, 1], after[:, 0], after[:, 1]
    )
    out = gpd.GeoDataFrame(ll.drop(columns=ll.geometry.name), geometry=geoms, crs="EPSG:4326")
    note = (
        f"{layer}: coordinates converted from {name} to WGS84 (median shift "
        f"{float(np.median(shift)):.0f} m)"
    )
    return out, [note]
