"""Population to demand points (METHOD.md, "Demand points").

Each population polygon is cut by the community boundaries; each piece becomes
one demand point carrying ``population * piece area / polygon area`` (exact
area split, not by centroid). The point is the piece's centroid when that lies
inside the piece, else its representative point. Population points fall in the
community that contains them (on a shared border: the first community in layer
order). Population outside every community is counted, never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coverage.errors import InputLayerError

#: Relative tolerance on area sums when checking that communities do not overlap.
OVERLAP_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Demand:
    """Demand points and the population account.

    Attributes
    ----------
    points
        GeoDataFrame of demand points (metric CRS): ``demand_id``, ``community_id``,
        ``source_id``, ``population``, point geometry, and ``piece`` (the polygon
        piece it stands for, or the point itself).
    input_population
        Total residents in the population layer.
    outside_population
        Residents of the population layer outside every community.
    method
        ``"polygons"``, ``"points"`` or ``"network nodes"`` (the weakest fallback).
    """

    points: gpd.GeoDataFrame
    input_population: float
    outside_population: float
    method: str

    @property
    def used_population(self) -> float:
        """Residents carried by demand points."""
        return float(self.points["population"].sum())


def _demand_frame(frame: pd.DataFrame, points: Any, pieces: Any, crs: Any) -> gpd.GeoDataFrame:
    """The demand-point frame: ids, community, source, residents, point and piece geometry."""
    return gpd.GeoDataFrame(
        {
            "demand_id": np.arange(len(frame), dtype=np.int64),
            "community_id": frame["community_id"].astype(str).to_numpy(),
            "source_id": frame["source_id"].astype(str).to_numpy(),
            "population": frame["population"].astype(float).to_numpy(),
            "piece": gpd.GeoSeries(pieces, crs=crs),
        },
        geometry=gpd.GeoSeries(points, crs=crs),
        crs=crs,
    )


def _point_in_piece(pieces: gpd.GeoSeries) -> gpd.GeoSeries:
    centroid = pieces.centroid
    inside = centroid.within(pieces)
    return gpd.GeoSeries(
        np.where(inside, centroid.values, pieces.representative_point().values),
        index=pieces.index,
        crs=pieces.crs,
    )


def split_by_communities(polys: gpd.GeoDataFrame, comm: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The pieces of population polygons inside each community (their intersections).

    What ``geopandas.overlay(how="intersection", keep_geom_type=True)`` gives, in
    time that grows with the polygons rather than with polygons × communities: a
    polygon that meets one community only and lies inside it is its own piece; the
    others (at borders, a few per cent of a raster's cells) are cut pair by pair.
    Rows: the polygon's columns, then the community's, with the piece's geometry.

    Examples
    --------
    >>> a = shapely.box(0, 0, 2, 2)
    >>> comm = gpd.GeoDataFrame({"community_id": ["A", "B"]},
    ...                         geometry=[shapely.box(0, 0, 1, 4), shapely.box(1, 0, 4, 4)])
    >>> cells = gpd.GeoDataFrame({"source_id": ["in", "cut"]},
    ...                          geometry=[shapely.box(2, 2, 3, 3), shapely.box(0.5, 0, 1.5, 1)])
    >>> out = split_by_communities(cells, comm)
    >>> [(r.source_id, r.community_id, r.geometry.area) for r in out.itertuples()]
    [('in', 'B', 1.0), ('cut', 'A', 0.5), ('cut', 'B', 0.5)]
    """
    pgeom, cgeom = polys.geometry.values, comm.geometry.values
    pi, ci = shapely.STRtree(cgeom).query(pgeom, predicate="intersects")
    order = np.lexsort((ci, pi))
    pi, ci = pi[order], ci[order]
    alone = np.bincount(pi, minlength=len(polys))[pi] == 1
    whole = alone & shapely.contains_properly(cgeom[ci], pgeom[pi])
    pieces = np.asarray(pgeom[pi], dtype=object)
    cut = np.flatnonzero(~whole)
    if cut.size:
        pieces[cut] = _polygonal_part(shapely.intersection(pgeom[pi[cut]], cgeom[ci[cut]]))
    keep = ~shapely.is_empty(pieces) & (shapely.area(pieces) > 0)
    left = polys.drop(columns=polys.geometry.name).iloc[pi[keep]].reset_index(drop=True)
    right = comm.drop(columns=comm.geometry.name).iloc[ci[keep]].reset_index(drop=True)
    return gpd.GeoDataFrame(pd.concat([left, right], axis=1), geometry=pieces[keep], crs=polys.crs)


def _polygonal_part(geoms: np.ndarray) -> np.ndarray:
    """Polygonal geometries as they are; of a collection, its polygons (lines, points dropped)."""
    out = np.asarray(geoms, dtype=object).copy()
    mixed = np.flatnonzero(shapely.get_type_id(out) == 7)  # GeometryCollection
    for k in mixed:
        parts = [g for g in shapely.get_parts(out[k]) if shapely.get_type_id(g) in (3, 6)]
        out[k] = shapely.union_all(parts) if parts else shapely.Polygon()
    return out


def demand_from_population(population: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> Demand:
    """Split a population layer (polygons or points) among communities.

    Parameters
    ----------
    population
        ``source_id``, ``population``, geometry, in the same metric CRS as ``communities``.
    communities
        ``community_id``, geometry.

    Returns
    -------
    Demand
        Demand points ordered by (community order, source order).

    Raises
    ------
    InputLayerError
        When communities overlap (a resident would be counted twice).
    """
    pop = population[population["population"] > 0].reset_index(drop=True)
    total = float(population["population"].sum())
    comm = communities[["community_id", "geometry"]].reset_index(drop=True)
    comm["_corder"] = np.arange(len(comm))
    is_point = pop.geometry.geom_type == "Point"
    frames = []
    if (~is_point).any():
        polys = pop[~is_point].copy()
        polys["_area"] = polys.geometry.area
        polys["_porder"] = polys.index
        pieces = split_by_communities(polys, comm)
        pieces["_piece_area"] = pieces.geometry.area
        share = pieces.groupby("_porder")["_piece_area"].sum() / polys.set_index("_porder")["_area"]
        over = share[share > 1 + OVERLAP_TOLERANCE]
        if len(over):
            sid = polys.set_index("_porder").loc[over.index[0], "source_id"]
            raise InputLayerError(
                "communities",
                f"communities overlap: population feature {sid} is covered "
                f"{float(over.iloc[0]):.4f} times by community polygons "
                f"({len(over)} population feature(s) affected), so residents would be counted twice",
                "make community boundaries disjoint (e.g. clip each against its neighbours)",
            )
        pieces["population"] = pieces["population"] * pieces["_piece_area"] / pieces["_area"]
        pieces["piece"] = pieces.geometry
        pieces = pieces.set_geometry(_point_in_piece(pieces.geometry))
        frames.append(pieces)
    if is_point.any():
        pts = pop[is_point].copy()
        pts["_porder"] = pts.index
        joined = gpd.sjoin(pts, comm, how="inner", predicate="intersects")
        joined = joined.sort_values(["_porder", "_corder"]).drop_duplicates("_porder")
        joined["piece"] = joined.geometry
        frames.append(joined.drop(columns=["index_right"]))
    if frames:
        points = pd.concat(frames, ignore_index=True)
    else:
        points = gpd.GeoDataFrame(
            {
                "community_id": [],
                "source_id": [],
                "population": [],
                "_corder": [],
                "_porder": [],
                "piece": [],
            },
            geometry=[],
            crs=communities.crs,
        )
    points = points.sort_values(["_corder", "_porder"], kind="stable").reset_index(drop=True)
    points = _demand_frame(points, points.geometry.values, points["piece"].values, communities.crs)
    used = float(points["population"].sum())
    return Demand(
        points, total, max(total - used, 0.0), "polygons" if (~is_point).any() else "points"
    )


def demand_from_community_counts(communities: gpd.GeoDataFrame, node_xy: np.ndarray) -> Demand:
    """Spread each community's ``population`` evenly over the network nodes inside it.

    The weakest fallback, used when no population layer is given; reports say so.
    A community with population but no node inside gets one point at its
    representative point.
    """
    if communities["population"].isna().any():
        missing = ", ".join(
            communities.loc[communities["population"].isna(), "community_id"].head(5)
        )
        raise InputLayerError(
            "communities",
            f"no population layer was given and community/ies {missing} have no 'population'",
            "give a population layer in [inputs], or a population for every community",
        )
    nodes = gpd.GeoDataFrame(geometry=shapely.points(node_xy), crs=communities.crs)
    rows = []
    for corder, (cid, geom, popn) in enumerate(
        zip(
            communities["community_id"],
            communities.geometry,
            communities["population"],
            strict=True,
        )
    ):
        if popn <= 0:
            continue
        idx = nodes.sindex.query(geom, predicate="intersects")
        pts = nodes.geometry.values[np.sort(idx)] if idx.size else [geom.representative_point()]
        share = float(popn) / len(pts)
        for k, p in enumerate(pts):
            rows.append((cid, f"{cid}#{k}", share, corder, p))
    frame = pd.DataFrame(
        rows, columns=["community_id", "source_id", "population", "_corder", "geometry"]
    )
    geoms = frame["geometry"].values
    points = _demand_frame(frame, geoms, geoms, communities.crs)
    total = float(communities["population"].sum())
    return Demand(points, total, 0.0, "network nodes")
