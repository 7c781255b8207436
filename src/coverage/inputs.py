"""Read and validate the four input layers (METHOD.md, "Inputs").

Each reader returns a new GeoDataFrame in the layer's own CRS, with ids as
strings and the optional columns filled; every broken rule raises an
:class:`~coverage.errors.InputLayerError` subclass naming the layer, the
feature or column, the problem and the fix.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import prcoords
import pyproj
import shapely

from coverage.categories import CATEGORIES, suggest_category
from coverage.errors import (
    CoordinateError,
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
from coverage.messages import Message
from coverage.vocabulary import kind_from_code, rename_columns

KINDS = ("urban", "rural")

#: Converters to WGS84 (prcoords, exact inversions) and the names of the datums.
_TO_WGS84 = {"gcj02": prcoords.gcj_wgs_bored, "bd09": prcoords.bd_wgs_bored}
_DATUM_NAMES = {"gcj02": "GCJ-02", "bd09": "BD-09"}

#: Columns that name a feature in messages, in order of preference.
_ID_COLUMNS = ("community_id", "facility_id", "candidate_id", "workplace_id", "id", "name")

#: Degrees beyond ±180/±90 accepted in a geographic CRS (a global raster's edge
#: may overshoot by part of a pixel).
GEOGRAPHIC_TOLERANCE_DEG = 0.05

#: Degrees around a projected CRS's area of use within which coordinates are accepted.
AREA_OF_USE_MARGIN_DEG = 3.0

#: A layer feature farther than this from every community can serve or hold no one
#: under the plans' usual settings (15 min cycling at 12 km/h is 3 km, plus
#: snapping): such features are named in a note.
FAR_FROM_COMMUNITIES_M = 10_000.0

#: A layer none of whose features comes this close to a community does not meet
#: the communities: refused. Swapped axes or a wrong CRS move a layer by hundreds
#: or thousands of km; a remote township may lie tens of km from its nearest clinic.
DO_NOT_MEET_M = 100_000.0


def read_layer(path: Path, layer: str, mask: gpd.GeoSeries | None = None) -> gpd.GeoDataFrame:
    """Read a vector file, refusing unreadable files, empty layers and a missing CRS.

    ``mask`` (a polygon with its CRS) reads only the features meeting it. A ``.csv``
    file is a table of points in lon/lat (:func:`read_point_table`).
    """
    if path.suffix.lower() == ".csv":
        gdf = read_point_table(path, layer)
        if mask is not None:
            gdf = gdf[gdf.intersects(mask.to_crs(gdf.crs).union_all())]
        return check_frame(gdf, layer, path)
    try:
        with warnings.catch_warnings():
            # a GeoJSON column of mixed types is read as text; the value checks say more
            warnings.filterwarnings(
                "ignore", message="Could not parse column", category=UserWarning
            )
            gdf = gpd.read_file(path, mask=mask)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise InputLayerError(
            layer,
            f"{path} could not be read as a vector file ({exc})",
            "give a GeoPackage, GeoJSON or Shapefile",
        ) from exc
    return check_frame(gdf, layer, path)


#: Column names read as longitude and latitude in a table of points (lower case).
LON_COLUMNS = ("lon", "lng", "longitude", "x", "经度")
LAT_COLUMNS = ("lat", "latitude", "y", "纬度")


def read_point_table(path: Path, layer: str) -> gpd.GeoDataFrame:
    """A CSV table of points in lon/lat (EPSG:4326; declare a Chinese map service's datum
    in ``[datum]``): ``lon``/``lat`` columns (or ``lng``, ``longitude``, ``经度``/``纬度``),
    or Gaode's ``location`` column (``"104.06,30.57"``). UTF-8 (with or without a BOM) or
    GB18030, as Chinese tools export.
    """
    frame = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
            break
        except UnicodeDecodeError:
            continue
        except Exception as exc:  # pandas raises several types for unreadable files
            raise InputLayerError(layer, f"{path} could not be read as CSV ({exc})",
                                  "give a CSV table with lon and lat columns") from exc  # fmt: skip
    if frame is None:
        raise InputLayerError(layer, f"{path} is neither UTF-8 nor GB18030 text",
                              "save the table as UTF-8 CSV")  # fmt: skip
    lower = {str(c).strip().lower(): c for c in frame.columns}
    lon = next((lower[c] for c in LON_COLUMNS if c in lower), None)
    lat = next((lower[c] for c in LAT_COLUMNS if c in lower), None)
    if (lon is None or lat is None) and "location" in lower:
        parts = frame[lower["location"]].str.split(",", n=1, expand=True)
        frame = frame.assign(_lon=parts[0], _lat=parts[1] if parts.shape[1] > 1 else "")
        lon, lat = "_lon", "_lat"
    if lon is None or lat is None:
        raise InputLayerError(
            layer,
            f"{path} has no coordinate columns (columns present: {', '.join(map(str, frame.columns))})",
            "give lon and lat columns (or Gaode's location column) in degrees",
        )
    x = pd.to_numeric(frame[lon].str.strip(), errors="coerce")
    y = pd.to_numeric(frame[lat].str.strip(), errors="coerce")
    bad = x.isna() | y.isna()
    if bad.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad.to_numpy())[:5])
        raise CoordinateError(layer, f"{path}: rows {rows} have no numeric lon/lat",
                              "fill in or remove those rows")  # fmt: skip
    data = frame.drop(columns=[c for c in ("_lon", "_lat") if c in frame.columns])
    return gpd.GeoDataFrame(data, geometry=gpd.points_from_xy(x, y), crs="EPSG:4326")


def check_frame(
    gdf: gpd.GeoDataFrame, layer: str, source: Path | str = "the GeoDataFrame"
) -> gpd.GeoDataFrame:
    """Refuse an empty layer, a missing CRS and coordinates that do not fit the CRS.

    ``source`` names where the layer came from in messages (a path, or a
    frame given from Python).
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputLayerError(
            layer, f"{source} is a {type(gdf).__name__}", "give a geopandas GeoDataFrame"
        )
    if len(gdf) == 0:
        raise EmptyLayerError(layer, f"{source} holds no features", "give a layer with features")
    if gdf.crs is None:
        raise NoCrsError(
            layer,
            f"{source} carries no coordinate reference system",
            "set the CRS in the file (e.g. geopandas: gdf.set_crs('EPSG:4326'))",
        )
    check_coordinates(
        gdf.geometry.bounds.to_numpy(), _feature_names(gdf), gdf.crs, layer, Path(str(source))
    )
    return gdf


def _feature_names(gdf: pd.DataFrame) -> np.ndarray:
    """How messages name each feature: its id, or its row number (from 1)."""
    col = next((c for c in _ID_COLUMNS if c in gdf.columns), None)
    if col is None:
        return np.array([f"row {i + 1}" for i in range(len(gdf))], dtype=object)
    return gdf[col].astype(str).to_numpy(dtype=object)


def _listed(names: np.ndarray, mask: np.ndarray) -> str:
    shown = ", ".join(str(n) for n in names[mask][:5])
    more = int(mask.sum()) - 5
    return shown + (f" and {more} more" if more > 0 else "")


def check_coordinates(
    bounds: np.ndarray, names: np.ndarray, crs: object, layer: str, source: object
) -> None:
    """Refuse coordinates that cannot be in the CRS the layer declares.

    Catches metres declared as degrees, latitude and longitude swapped (when
    that puts a latitude beyond 90°), degrees declared as metres, a wrong
    projected CRS (coordinates outside its area of use, widened by
    :data:`AREA_OF_USE_MARGIN_DEG`), and NaN or infinite coordinates.

    Parameters
    ----------
    bounds
        ``(n, 4)`` bounds of each feature (minx, miny, maxx, maxy), NaN for
        empty geometries (which are refused elsewhere).
    names
        How to name each feature in messages.
    crs
        The declared CRS.
    layer, source
        Layer name and file, for messages.

    Raises
    ------
    CoordinateError
        Naming the features, the problem and the fix.
    """
    bounds = np.asarray(bounds, dtype=float).reshape(-1, 4)
    nan_rows = np.isnan(bounds).all(axis=1)  # empty geometry: refused by the geometry check
    bad = ~np.isfinite(bounds).all(axis=1) & ~nan_rows
    if bad.any():
        raise CoordinateError(
            layer,
            f"{source}: feature(s) {_listed(names, bad)} have NaN or infinite coordinates",
            "fix or remove those features",
        )
    ok = ~nan_rows
    b, named = bounds[ok], names[ok]
    if not len(b):
        return
    declared = pyproj.CRS.from_user_input(crs)
    xs, ys = b[:, [0, 2]], b[:, [1, 3]]
    if declared.is_geographic:
        tol = GEOGRAPHIC_TOLERANCE_DEG  # a global raster's edge may overshoot by a pixel
        out = (np.abs(xs) > 180 + tol).any(axis=1) | (np.abs(ys) > 90 + tol).any(axis=1)
        if not out.any():
            return
        x, y = xs[out][0, 0], ys[out][0, 0]
        if (np.abs(b[out]) > 360).any():
            problem = (
                f"{source} declares {declared.name}, in degrees, but feature(s) "
                f"{_listed(named, out)} have coordinates such as ({x:.0f}, {y:.0f}), far "
                "beyond ±180° and ±90°: they look like metres of a projected CRS"
            )
            fix = (
                "declare the CRS the coordinates were made in, e.g. the UTM or CGCS2000 "
                "Gauss-Krüger zone (geopandas: gdf.set_crs('EPSG:...', allow_override=True), "
                "which declares without converting)"
            )
        elif (np.abs(xs) <= 90).all() and (np.abs(ys) <= 180).all():
            problem = (
                f"{source}: feature(s) {_listed(named, out)} have a latitude beyond 90° "
                f"(e.g. x={x:.4f}, y={y:.4f}): longitude and latitude look swapped"
            )
            fix = (
                "store longitude as x and latitude as y (shapely: "
                "shapely.ops.transform(lambda x, y: (y, x), geometry))"
            )
        else:
            problem = (
                f"{source}: feature(s) {_listed(named, out)} have coordinates outside "
                f"±180° longitude / ±90° latitude (e.g. {x:.4f}, {y:.4f})"
            )
            fix = "correct those coordinates, or declare the CRS they were made in"
        raise CoordinateError(layer, problem, fix)
    area = declared.area_of_use
    if area is None:
        return
    to_ll = pyproj.Transformer.from_crs(declared, "EPSG:4326", always_xy=True)
    with np.errstate(all="ignore"):
        lon0, lat0 = to_ll.transform(b[:, 0], b[:, 1], errcheck=False)
        lon1, lat1 = to_ll.transform(b[:, 2], b[:, 3], errcheck=False)
    lon = np.column_stack([lon0, lon1])
    lat = np.column_stack([lat0, lat1])
    m = AREA_OF_USE_MARGIN_DEG
    out = ~np.isfinite(lon).all(axis=1) | ~np.isfinite(lat).all(axis=1)
    out |= ((lat < area.south - m) | (lat > area.north + m)).any(axis=1)
    if area.west <= area.east:  # areas across the antimeridian: latitude check only
        out |= ((lon < area.west - m) | (lon > area.east + m)).any(axis=1)
    if not out.any():
        return
    where = (
        f"its area of use (lon {area.west:g}..{area.east:g}, lat {area.south:g}..{area.north:g})"
    )
    if (np.abs(xs) <= 180).all() and (np.abs(ys) <= 90).all():
        problem = (
            f"{source} declares {declared.name}, in metres, but every coordinate lies within "
            f"±180/±90 (e.g. {xs[0, 0]:.4f}, {ys[0, 0]:.4f}): they look like longitude and "
            f"latitude in degrees, and would put the layer outside {where}"
        )
        fix = (
            "declare EPSG:4326 (or the geographic CRS they were made in), e.g. geopandas: "
            "gdf.set_crs('EPSG:4326', allow_override=True)"
        )
    else:
        first = int(np.flatnonzero(out)[0])
        at = (
            f"lon {lon[first, 0]:.3f}, lat {lat[first, 0]:.3f}"
            if np.isfinite(lon[first]).all() and np.isfinite(lat[first]).all()
            else "a place that cannot be located"
        )
        problem = (
            f"{source}: feature(s) {_listed(named, out)} fall outside the area where "
            f"{declared.name} is used, {where}; the first lands at {at}"
        )
        fix = (
            "check the declared CRS (a wrong UTM or Gauss-Krüger zone, a zone number left in "
            "front of x, a wrong EPSG code) and declare the one the coordinates were made in; "
            "or correct those features"
        )
    raise CoordinateError(layer, problem, fix)


def _require_columns(gdf: pd.DataFrame, layer: str, columns: tuple[str, ...]) -> None:
    for col in columns:
        if col not in gdf.columns:
            have = ", ".join(c for c in gdf.columns if c != "geometry")
            raise MissingColumnError(
                layer,
                f"required column {col!r} is missing (columns present: {have})",
                f"add a {col!r} column, or name the matching one in the study file "
                f'([columns.{layer}] {col} = "your column")',
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
    inf = np.isinf(values)
    if inf.any():
        feats = ", ".join(gdf[id_col].astype(str)[inf].head(5))
        raise ValueColumnError(
            layer,
            f"column {column!r} is infinite for feature(s) {feats}",
            f"give a finite number (0 or more) in {column!r}",
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


def check_geometry(gdf: gpd.GeoDataFrame, layer: str, id_col: str, types: tuple[str, ...]) -> None:
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


def read_communities(path: Path) -> tuple[gpd.GeoDataFrame, list[Message]]:
    """Read the communities layer from a file and check it (:func:`check_communities`)."""
    return check_communities(read_layer(path, "communities"))


def check_communities(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[Message]]:
    """Check a communities layer (read by :func:`check_frame`) and bring it to the contract.

    Returns
    -------
    communities : GeoDataFrame
        Columns ``community_id`` (str), ``name``, ``kind`` (``urban``/``rural``),
        ``population`` and ``households`` (NaN when not given), geometry.
    notes : list of str
        What was repaired or assumed (e.g. invalid polygons made valid).
    """
    layer = "communities"
    _require_columns(gdf, layer, ("community_id", "name"))
    ids = _check_ids(gdf, layer, "community_id")
    out = gpd.GeoDataFrame({"community_id": ids}, geometry=gdf.geometry.values, crs=gdf.crs)
    check_geometry(out, layer, "community_id", ("Polygon", "MultiPolygon"))
    out["name"] = gdf["name"].fillna("").astype(str).to_numpy()
    notes: list[Message] = []
    if "kind" in gdf.columns:
        kind, coded = kind_from_code(gdf["kind"])
        if coded:
            notes.append(Message("kind_codes"))
        bad = ~kind.isin(KINDS)
        if bad.any():
            feats = ", ".join(
                f"{i} ({k})"
                for i, k in zip(ids[bad].head(5), gdf["kind"][bad].head(5), strict=True)
            )
            raise ValueColumnError(
                layer,
                f"'kind' must be 'urban' or 'rural' (or a statistical urban-rural code: 111-123 "
                f"urban, 210 or 220 rural); feature(s) {feats} have other values",
                "set kind to urban or rural, or to the community's urban-rural code",
            )
        out["kind"] = kind.to_numpy()
    else:
        out["kind"] = "urban"
        notes.append(Message("no_kind"))
    for col in ("population", "households"):
        out[col] = (
            _numeric(gdf, layer, col, "community_id", required=False).to_numpy()
            if col in gdf.columns
            else np.nan
        )
    notes += _repair_invalid_boundaries(out)
    return out, notes


def _where_invalid(geoms: np.ndarray) -> list[str]:
    """What is wrong with each invalid geometry and where, from GEOS's reason.

    >>> from shapely import Polygon
    >>> _where_invalid(np.array([Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])]))
    ['crosses itself near (1, 1)']
    """
    out = []
    for reason in shapely.is_valid_reason(geoms):
        what, _, where = str(reason).partition("[")
        xy = where.rstrip("]").split()
        what = {
            "Self-intersection": "crosses itself",
            "Ring Self-intersection": "crosses itself",
        }.get(what, what.lower())
        out.append(
            f"{what} near ({float(xy[0]):.6g}, {float(xy[1]):.6g})" if len(xy) == 2 else what
        )
    return out


def _repair_invalid_boundaries(communities: gpd.GeoDataFrame) -> list[Message]:
    """Repair invalid community boundaries in place, or refuse when the repair overlaps.

    A boundary that crosses itself (a bow tie) is repaired with ``make_valid``
    when the repaired shape overlaps no other community by more than
    :data:`SLIVER_SHARE` of the smaller one; the note names the feature and
    where it crosses itself. Otherwise the user's drawing is ambiguous: it is
    refused with "redraw this boundary", never reported as an overlap of a
    shape the user did not draw.
    """
    invalid = np.flatnonzero(~communities.geometry.is_valid.to_numpy())
    if not invalid.size:
        return []
    geoms = communities.geometry.values
    where = _where_invalid(np.asarray(geoms[invalid]))
    ids = communities["community_id"].to_numpy(dtype=object)
    fixed = np.array([_polygonal(g) for g in shapely.make_valid(np.asarray(geoms[invalid]))])
    tree = shapely.STRtree(np.asarray(geoms))
    for k, (i, geom) in enumerate(zip(invalid, fixed, strict=True)):
        others = [j for j in tree.query(geom, predicate="intersects") if j != i]
        for j in others:
            other = geoms[j] if shapely.is_valid(geoms[j]) else shapely.make_valid(geoms[j])
            over = shapely.area(shapely.intersection(geom, other))
            if over > SLIVER_SHARE * min(shapely.area(geom), shapely.area(other)):
                raise GeometryError(
                    "communities",
                    f"the boundary of community {ids[i]} {where[k]} (coordinates in the layer's "
                    f"CRS); repaired automatically it would overlap community {ids[j]}, so its "
                    "intended shape is unclear",
                    f"redraw the boundary of community {ids[i]} so that it does not cross itself",
                )
    communities.loc[communities.index[invalid], communities.geometry.name] = fixed
    listed = "; ".join(f"{ids[i]} {w}" for i, w in zip(invalid[:5], where[:5], strict=True))
    more = f"; and {invalid.size - 5} more" if invalid.size > 5 else ""
    return [Message("boundaries_repaired", {"count": invalid.size, "listed": listed + more})]


#: Largest scale error of the study CRS accepted at the study area (UTM zones stay
#: under 0.1 %; Web Mercator at 30° latitude is 15 % off).
MAX_SCALE_ERROR = 0.01


def check_study_crs(crs: str | None, communities: gpd.GeoDataFrame) -> str:
    """Refuse a study CRS that is not metric or distorts distances at the study area.

    Every distance (streets, access legs, straight lines) is measured in this
    CRS, so its scale must be close to 1 where the study is.

    Parameters
    ----------
    crs
        The study CRS.
    communities
        The communities, in any CRS (their centre is where the scale is measured).
    chosen_by
        Who chose it, for messages (``"the study file's crs"``).

    Raises
    ------
    StudyFileError
        When the CRS is unknown, geographic, or off by more than
        :data:`MAX_SCALE_ERROR` along either axis.
    """
    from coverage.errors import StudyFileError

    chosen_by = "the study's crs" if crs else "the UTM zone chosen for the communities,"
    crs = crs or communities.estimate_utm_crs().to_string()
    try:
        declared = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise StudyFileError(
            f"{chosen_by} {crs!r} is not a CRS pyproj knows ({exc}); name an EPSG code "
            "such as 'EPSG:32650', or leave crs out to use the UTM zone of the communities"
        ) from exc
    if not declared.is_projected:
        raise StudyFileError(
            f"{chosen_by} {crs!r} ({declared.name}) is not projected: distances must be "
            "measured in metres. Name a projected CRS (UTM, CGCS2000 Gauss-Krüger), or leave "
            "crs out to use the UTM zone of the communities"
        )
    centre = communities.to_crs("EPSG:4326").union_all().centroid
    geod = pyproj.Geod(ellps="WGS84")
    to_xy = pyproj.Transformer.from_crs("EPSG:4326", declared, always_xy=True)
    x0, y0 = to_xy.transform(centre.x, centre.y)
    errors = []
    for azimuth in (90.0, 0.0):  # 1 km east and 1 km north, on the ellipsoid
        lon, lat, _ = geod.fwd(centre.x, centre.y, azimuth, 1000.0)
        x1, y1 = to_xy.transform(lon, lat)
        errors.append(float(np.hypot(x1 - x0, y1 - y0)) / 1000.0 - 1.0)
    worst = max(errors, key=abs)
    if not abs(worst) <= MAX_SCALE_ERROR:
        raise StudyFileError(
            f"{chosen_by} {crs!r} ({declared.name}) {'stretches' if worst > 0 else 'shrinks'} "
            f"distances by {abs(worst):.1%} at the study area (lon {centre.x:.3f}, lat "
            f"{centre.y:.3f}), beyond the {MAX_SCALE_ERROR:.0%} accepted: travel times would be "
            "wrong. Name a local projected CRS (the UTM or CGCS2000 Gauss-Krüger zone of the "
            "area), or leave crs out to use the UTM zone of the communities"
        )
    return crs


#: Overlaps between two communities up to this share of the smaller one are
#: slivers of digitising, resolved by giving them to the community earlier in
#: the layer; larger overlaps are refused.
SLIVER_SHARE = 0.01

#: Overlaps below this area (m²) are rounding noise and left alone.
NOISE_AREA_M2 = 0.01


def resolve_overlaps(communities: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[Message]]:
    """Make community polygons disjoint, or refuse when they truly overlap.

    A resident inside two communities would be counted twice. Overlaps up to
    :data:`SLIVER_SHARE` of the smaller community are digitising slivers: the
    community later in the layer loses them to the earlier one. Larger
    overlaps are refused, naming the pairs.

    Parameters
    ----------
    communities
        ``community_id`` and polygons, in a metric CRS.

    Returns
    -------
    tuple
        A new GeoDataFrame (geometry changed only where slivers were removed)
        and notes.

    Raises
    ------
    GeometryError
        When two communities overlap by more than :data:`SLIVER_SHARE`.
    """
    geoms = communities.geometry.values
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if not len(left):
        return communities, []
    overlap_m2 = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    real = overlap_m2 > NOISE_AREA_M2
    left, right, overlap_m2 = left[real], right[real], overlap_m2[real]
    if not len(left):
        return communities, []
    area = shapely.area(geoms)
    share = overlap_m2 / np.minimum(area[left], area[right])
    ids = communities["community_id"].to_numpy(dtype=object)
    big = share > SLIVER_SHARE
    if big.any():
        order = np.argsort(-share[big], kind="stable")
        pairs = [
            f"{ids[a]} and {ids[b]} ({m2:,.0f} m², {s:.1%} of the smaller)"
            for a, b, m2, s in zip(
                left[big][order][:3],
                right[big][order][:3],
                overlap_m2[big][order][:3],
                share[big][order][:3],
                strict=True,
            )
        ]
        more = int(big.sum()) - len(pairs)
        raise GeometryError(
            "communities",
            f"{int(big.sum())} pair(s) of communities overlap, so residents there would be "
            f"counted twice: {'; '.join(pairs)}" + (f"; and {more} more" if more else ""),
            "make community boundaries disjoint (clip each against its neighbours, e.g. "
            "geopandas.overlay(how='difference')); overlaps up to "
            f"{SLIVER_SHARE:.0%} of the smaller community are resolved automatically",
        )
    out = communities.copy()
    for later in np.unique(right):
        earlier = left[right == later]
        cut = shapely.difference(geoms[later], shapely.union_all(geoms[earlier]))
        out.iloc[later, out.columns.get_loc(out.geometry.name)] = _polygonal(cut)
    first = int(np.argmax(overlap_m2))
    note = Message(
        "slivers",
        {
            "count": len(left),
            "area_m2": f"{float(overlap_m2.sum()):,.0f}",
            "share": f"{SLIVER_SHARE:.0%}",
            "first": ids[left[first]],
            "second": ids[right[first]],
        },
    )
    return out, [note]


def check_near_communities(
    communities: gpd.GeoDataFrame,
    layer_gdf: gpd.GeoDataFrame,
    layer: str,
    *,
    limit_m: float = FAR_FROM_COMMUNITIES_M,
    refuse_m: float = DO_NOT_MEET_M,
    note_far: bool = True,
    union: shapely.Geometry | None = None,
) -> list[Message]:
    """Check that a layer meets the communities.

    Parameters
    ----------
    communities
        Community polygons in the study's metric CRS.
    layer_gdf
        The other layer, in its own CRS (projected here).
    layer
        Its name, for messages.
    limit_m
        Features farther than this from every community are named in a note.
    refuse_m
        When no feature comes this close, the layer is refused.
    note_far
        Whether to note the far features when some are near (not wanted for
        population, whose residents outside communities are accounted anyway).
    union
        The communities' union, prepared (:func:`shapely.prepare`), when the
        caller checks many layers against the same communities.

    Returns
    -------
    list of str
        A note when some features lie beyond ``limit_m``.

    Raises
    ------
    CoordinateError
        When every feature lies beyond ``refuse_m``: the layers do not meet,
        and every figure would be zero. The message says when swapping
        longitude and latitude would make them meet.
    """
    names = _feature_names(layer_gdf)
    dist = _distance_to(communities, layer_gdf.geometry, union)
    far = dist > limit_m
    crs = pyproj.CRS.from_user_input(layer_gdf.crs)
    if (dist > refuse_m).all():
        hint = ""
        b = layer_gdf.geometry.bounds.to_numpy()
        can_swap = (np.abs(b[:, [1, 3]]) <= 180).all() and (np.abs(b[:, [0, 2]]) <= 90).all()
        if crs.is_geographic and can_swap:
            swapped = shapely.transform(layer_gdf.geometry.values, lambda xy: xy[:, ::-1])
            back = gpd.GeoSeries(swapped, crs=layer_gdf.crs)
            if (_distance_to(communities, back) <= refuse_m).any():
                hint = (
                    "; with longitude and latitude swapped it would meet them, so the "
                    "axes look swapped"
                )
        raise CoordinateError(
            layer,
            f"no feature lies within {refuse_m / 1000:g} km of the communities: the nearest is "
            f"about {_geodesic_km(communities, layer_gdf.geometry, int(np.argmin(dist))):,.0f} km "
            f"away, so the layers do not meet{hint}",
            "check both layers' coordinates and declared CRS (open them together in a GIS); "
            + (
                "store longitude as x and latitude as y"
                if crs.is_geographic
                else f"the {layer} layer declares the projected CRS {crs.name}: check that its "
                "coordinates really are in it (a raster's georeferencing, a shapefile's .prj)"
            ),
        )
    if not far.any() or not note_far:
        return []
    return [
        Message(
            "far_features",
            {
                "layer": layer,
                "count": int(far.sum()),
                "total": len(far),
                "km": f"{limit_m / 1000:g}",
                "listed": _listed(names, far),
            },
        )
    ]


def _lonlat_box(geoms: gpd.GeoSeries, swap: bool = False) -> np.ndarray:
    """``[west, south, east, north]`` of a layer in degrees (axes swapped on request)."""
    with np.errstate(all="ignore"):
        b = np.asarray(geoms.to_crs("EPSG:4326").total_bounds, dtype=float)
    return b[[1, 0, 3, 2]] if swap else b


def _boxes_meet(a: np.ndarray, b: np.ndarray, margin_deg: float) -> bool:
    return bool(
        a[0] - margin_deg <= b[2]
        and b[0] - margin_deg <= a[2]
        and a[1] - margin_deg <= b[3]
        and b[1] - margin_deg <= a[3]
    )


def check_communities_meet_the_others(
    communities: gpd.GeoDataFrame,
    layers: dict[str, gpd.GeoDataFrame],
    *,
    refuse_m: float = DO_NOT_MEET_M,
) -> None:
    """Blame the communities when every other layer misses them but the others meet each other.

    :func:`check_near_communities` measures each layer against the
    communities and would name that layer; when two or more other layers lie
    together, away from the communities, the communities are the odd one out.

    Parameters
    ----------
    communities
        Community polygons in the study's metric CRS.
    layers
        The other point or polygon layers by name (facilities, population,
        workplaces), each in its own CRS.
    refuse_m
        As for :func:`check_near_communities`.

    Raises
    ------
    CoordinateError
        Naming the communities layer, the layers that agree, the distance and,
        when swapping longitude and latitude would make the communities meet
        them, that the axes look swapped.
    """
    if len(layers) < 2:
        return
    dist = {name: _distance_to(communities, g.geometry) for name, g in layers.items()}
    if any((d <= refuse_m).any() for d in dist.values()):
        return
    margin = refuse_m / 111_000.0
    boxes = {name: _lonlat_box(g.geometry) for name, g in layers.items()}
    names = list(boxes)
    if not all(_boxes_meet(boxes[names[0]], boxes[n], margin) for n in names[1:]):
        return  # the others disagree too: check_near_communities names the first
    first = names[0]
    km = _geodesic_km(communities, layers[first].geometry, int(np.argmin(dist[first])))
    swapped = _lonlat_box(communities.geometry, swap=True)
    hint = (
        "; with longitude and latitude swapped the communities would meet them, so their axes "
        "look swapped"
        if _boxes_meet(swapped, boxes[first], margin)
        else ""
    )
    together = " and ".join(names)
    raise CoordinateError(
        "communities",
        f"the {together} layers lie together, but none of their features comes within "
        f"{refuse_m / 1000:g} km of the communities (about {km:,.0f} km away), so the "
        f"communities layer is the one out of place{hint}",
        "check the communities layer's coordinates and declared CRS (open the layers together "
        "in a GIS); store longitude as x and latitude as y",
    )


def _geodesic_km(communities: gpd.GeoDataFrame, geoms: gpd.GeoSeries, i: int) -> float:
    """Great-circle km from feature ``i`` to the communities' centre (for messages:
    a metric CRS distorts distances far outside its zone)."""
    with np.errstate(all="ignore"):
        here = geoms.iloc[[i]].to_crs("EPSG:4326").union_all().centroid
        there = communities.to_crs("EPSG:4326").union_all().centroid
    _, _, metres = pyproj.Geod(ellps="WGS84").inv(here.x, here.y, there.x, there.y)
    return float(metres) / 1000


def _distance_to(
    communities: gpd.GeoDataFrame, geoms: gpd.GeoSeries, union: shapely.Geometry | None = None
) -> np.ndarray:
    """Distance (m) from each geometry to the nearest community.

    Fast path: the centre of each geometry's bounds inside a community means
    distance 0 (10^5 raster cells take a fraction of a second); the others,
    usually few, are measured exactly.
    """
    with np.errstate(all="ignore"):
        metric = geoms.to_crs(communities.crs)
        bounds = metric.bounds.to_numpy()
    dist = np.full(len(bounds), np.inf)
    finite = np.flatnonzero(np.isfinite(bounds).all(axis=1))
    if not finite.size:
        return dist
    b = bounds[finite]
    points = shapely.points((b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2)
    if union is None:
        union = shapely.union_all(communities.geometry.values)
        shapely.prepare(union)
    inside = shapely.intersects(union, points)
    dist[finite[inside]] = 0.0
    if (~inside).any():
        rest = finite[~inside]
        idx, d = communities.sindex.nearest(
            metric.values[rest], return_distance=True, return_all=False
        )
        dist[rest[idx[0]]] = d
    return dist


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep the polygonal part of a repaired geometry."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(polys)


def read_facilities(path: Path) -> tuple[gpd.GeoDataFrame, list[Message]]:
    """Read the facilities layer from a file and check it (:func:`check_facilities`)."""
    return check_facilities(read_layer(path, "facilities"))


def check_facilities(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[Message]]:
    """Check a facilities layer (read by :func:`check_frame`) and bring it to the contract.

    Polygons are replaced by their representative point. Returns columns
    ``facility_id``, ``category``, ``name``, ``floor_area_m2``, ``capacity``.
    """
    layer = "facilities"
    _require_columns(gdf, layer, ("facility_id", "category"))
    ids = _check_ids(gdf, layer, "facility_id")
    out = gpd.GeoDataFrame({"facility_id": ids}, geometry=gdf.geometry.values, crs=gdf.crs)
    check_geometry(out, layer, "facility_id", ("Point", "Polygon", "MultiPolygon"))
    cat = gdf["category"].astype(str).str.strip()
    unknown = ~cat.isin(list(CATEGORIES))
    if unknown.any():
        shown = ", ".join(
            f"{i} ({c!r}"
            + (f", did you mean {suggest_category(c)!r}?" if suggest_category(c) else "")
            + ")"
            for i, c in zip(ids[unknown].head(5), cat[unknown].head(5), strict=True)
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
    notes: list[Message] = []
    poly = out.geometry.geom_type != "Point"
    if poly.any():
        out.loc[poly, "geometry"] = out.geometry[poly].representative_point()
        notes.append(Message("polygon_facilities", {"count": int(poly.sum())}))
    return out, notes


def read_population(
    path: Path, columns: dict[str, str] | None = None
) -> tuple[gpd.GeoDataFrame, list[Message]]:
    """Read a population layer: polygons or points with ``population``, or a raster.

    A GeoTIFF of residents per cell becomes one square polygon per cell with
    population > 0 (so cells cut by community boundaries split by area).
    ``columns``: the study's ``[columns.population]`` (``population = "常住人口"``).
    """
    if path.suffix.lower() in (".tif", ".tiff"):
        return _population_from_raster(path)
    layer = read_layer(path, "population")
    return check_population(rename_columns(layer, "population", columns or {}))


def check_population(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[Message]]:
    """Check a vector population layer (polygons or points with ``population``).

    Returns columns ``source_id``, ``population``, geometry.
    """
    layer = "population"
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
    check_geometry(out, layer, "source_id", ("Point", "Polygon", "MultiPolygon"))
    notes = []
    invalid = ~out.geometry.is_valid
    if invalid.any():
        out.loc[invalid, "geometry"] = out.geometry[invalid].apply(
            lambda g: _polygonal(shapely.make_valid(g))
        )
        notes.append(Message("population_repaired", {"count": int(invalid.sum())}))
    return out, notes


def _population_from_raster(path: Path) -> tuple[gpd.GeoDataFrame, list[Message]]:
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
        bounds = tuple(src.bounds)
    check_coordinates(np.array([bounds]), np.array(["the raster"]), crs, layer, path)
    values = np.ma.filled(band.astype(float), np.nan)
    if np.isnan(values).all():
        raise EmptyLayerError(layer, f"raster {path} holds only nodata", "give a populated raster")
    if np.isinf(values).any():
        r, c = np.argwhere(np.isinf(values))[0]
        raise ValueColumnError(
            layer,
            f"raster {path} has infinite residents (first at row {r}, column {c})",
            "residents per cell must be finite; set the raster's nodata value if these mark no data",
        )
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
    notes = [Message("raster_nodata", {"count": nodata, "total": values.size})] if nodata else []
    notes += _density_notes(values, transform, crs, path)
    # the extent, so that the run can tell communities the raster does not cover
    frame.attrs["raster_bounds"] = bounds
    frame.attrs["raster_crs"] = crs.to_string()
    return frame, notes


#: Residents per km² above which a cell is implausible: about twice the densest
#: blocks of Hong Kong or Mumbai. A density raster read as counts exceeds it
#: on any grid finer than about 1 km.
PLAUSIBLE_DENSITY_PER_KM2 = 500_000.0


def _density_notes(values: np.ndarray, transform: object, crs: object, path: Path) -> list[Message]:
    """Warn when cells hold implausibly many residents for their area.

    The usual cause is a raster of density (residents per km² or per hectare)
    given where residents per cell are expected. Coverage shares do not
    change (every cell scales alike), but resident counts would be wrong.
    """
    rows, cols = values.shape
    t = transform
    corners = [  # the middle cell of the raster, in the raster's CRS
        (t @ (cols // 2 + dx, rows // 2 + dy))  # type: ignore[operator]
        for dx, dy in ((0, 0), (1, 0), (1, 1), (0, 1))
    ]
    declared = pyproj.CRS.from_user_input(crs)
    if declared.is_geographic:
        lons, lats = zip(*corners, strict=True)
        area_m2, _ = pyproj.Geod(ellps="WGS84").polygon_area_perimeter(lons, lats)
        cell_km2 = abs(area_m2) / 1e6
    else:
        unit = declared.axis_info[0].unit_conversion_factor
        cell_km2 = float(shapely.Polygon(corners).area) * unit**2 / 1e6
    if not cell_km2 > 0:
        return []
    density = np.nan_to_num(values) / cell_km2
    high = density > PLAUSIBLE_DENSITY_PER_KM2
    if not high.any():
        return []
    r, c = np.unravel_index(int(np.argmax(density)), density.shape)
    return [
        Message(
            "dense_raster",
            {
                "count": int(high.sum()),
                "limit": f"{PLAUSIBLE_DENSITY_PER_KM2:,.0f}",
                "row": int(r),
                "col": int(c),
                "residents": f"{values[r, c]:,.0f}",
                "cell_m2": f"{cell_km2 * 1e6:,.0f}",
                "density": f"{density[r, c]:,.0f}",
                "file": path.name,
            },
        )
    ]


def read_workplaces(path: Path) -> tuple[gpd.GeoDataFrame, list[Message]]:
    """Read a workplaces layer (industrial parks, office buildings) for A7.

    Points or polygons (polygons stand at their representative point), with an
    optional ``workers`` weight (default 1 per feature: the indicator is then
    the share of workplaces).
    """
    return check_workplaces(read_layer(path, "workplaces"))


def check_workplaces(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[Message]]:
    """Check a workplaces layer (points or polygons, optional ``workers``)."""
    layer = "workplaces"
    gdf = gdf.reset_index(drop=True)
    gdf["_row"] = gdf.index.astype(str)
    id_col = next((c for c in ("workplace_id", "id", "name") if c in gdf.columns), "_row")
    check_geometry(gdf, layer, id_col, ("Point", "Polygon", "MultiPolygon"))
    notes = []
    if "workers" in gdf.columns:
        workers = _numeric(gdf, layer, "workers", id_col, required=True).to_numpy(dtype=float)
    else:
        workers = np.ones(len(gdf))
        notes.append(Message("no_workers"))
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
) -> tuple[gpd.GeoDataFrame, list[Message]]:
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
    note = Message(
        "datum_shift",
        {"layer": layer, "datum": name, "shift_m": f"{float(np.median(shift)):.0f}"},
    )
    return out, [note]
