"""Propose and test sites for new facilities on a finished run (METHOD.md, "Siting").

The GeoDataFrame shell around :mod:`coverage.siting`: candidates (a user layer
or generated network nodes), coverage sets from the reach engine (bounded
catchments by time or network distance, on the loaded study's networks) or a
radius, the existing facilities held fixed, the model solved, and the
before/after table from a what-if of the loaded study with the chosen sites
added (no second run).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.spatial import cKDTree

from coverage.config import Siting
from coverage.errors import StudyFileError
from coverage.inputs import check_geometry, check_near_communities, convert_datum, read_layer
from coverage.messages import Message
from coverage.pipeline import LoadedStudy, StudyResult
from coverage.pmedian import milp_p_median
from coverage.rules import facility_community
from coverage.siting import (
    Solution,
    build_order,
    covered_weight,
    greedy_max_cover,
    greedy_with_bound,
    milp_max_cover,
    milp_set_cover,
    reduce_problem,
)
from coverage.vocabulary import rename_columns

__all__ = [
    "SITE_COLUMNS",
    "SitingResult",
    "before_after",
    "coverage_sets",
    "describe_rule",
    "existing_coverage",
    "generate_candidates",
    "read_candidates",
    "rule_message",
    "site_study",
]

#: Where a site is, in the study CRS (metres) and in WGS84 degrees, and its community.
PLACE_COLUMNS = ["community_id", "x_m", "y_m", "lon", "lat"]

SITE_COLUMNS = [
    "rank",
    "candidate_id",
    "gain_alone",
    "incremental_gain",
    "cumulative_new",
    "covered_after",
    "share_after",
]


@dataclass(frozen=True)
class SitingResult:
    """Proposed or tested sites and their effect.

    Attributes
    ----------
    settings
        The siting settings used.
    rule
        The coverage rule in words.
    candidates
        Every candidate: ``candidate_id``, ``source``, ``snap_distance_m``, geometry.
    sites
        Chosen (or tested) sites in build order with :data:`SITE_COLUMNS`.
    catchments
        Per site, the demand it newly covers (dissolved population pieces).
    solution
        Solver output (proof status, bound, gap, time).
    sizes
        Problem sizes before and after reduction.
    figures
        Residents counted, covered before (existing facilities), reachable by
        no candidate, covered after.
    before_after
        Aggregate indicator rows before and after adding the sites.
    notes
        What the report should say.
    """

    settings: Siting
    rule: str
    candidates: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    catchments: gpd.GeoDataFrame
    solution: Solution
    sizes: dict[str, int]
    figures: dict[str, float]
    before_after: pd.DataFrame
    notes: list[Message] = field(default_factory=list)


#: Column names of ours that a candidate layer's own attributes must not take.
RESERVED = {
    "candidate_id",
    "source",
    "snap_distance_m",
    "rank",
    "gain_alone",
    "incremental_gain",
    "cumulative_new",
    "covered_after",
    "share_after",
    "best_k_new",
    *PLACE_COLUMNS,
}


def rule_message(s: Siting) -> Message:
    """The coverage rule as a message, e.g. ``within 1500 m in a straight line``."""
    if s.mode == "straight":
        return Message("rule_straight", {"metres": f"{s.metres:g}"})
    if s.minutes > 0:
        return Message("rule_minutes", {"minutes": f"{s.minutes:g}", "mode": s.mode})
    return Message("rule_network", {"metres": f"{s.metres:g}"})


def describe_rule(s: Siting) -> str:
    """The coverage rule in English words, e.g. ``within 1500 m in a straight line``."""
    return str(rule_message(s))


def read_candidates(
    path: Path, crs: str, datum: str = "wgs84", columns: dict[str, str] | None = None
) -> gpd.GeoDataFrame:
    """A user's candidate sites (points; polygons stand at their representative point).

    ``datum``: ``"gcj02"`` or ``"bd09"`` converts lon/lat plots exported from
    Chinese map services to WGS84 first. ``columns``: the study's
    ``[columns.candidates]`` (e.g. ``candidate_id = "地块编号"``).
    """
    layer = "candidates"
    gdf = rename_columns(read_layer(path, layer), layer, columns or {}).reset_index(drop=True)
    gdf["_row"] = (gdf.index + 1).astype(str)
    id_col = next((c for c in ("candidate_id", "id", "name") if c in gdf.columns), "_row")
    check_geometry(gdf, layer, id_col, ("Point", "Polygon", "MultiPolygon"))
    gdf, _ = convert_datum(gdf, datum, layer, id_col)
    ids = gdf[id_col].astype(str)
    if ids.duplicated().any():
        raise StudyFileError(
            f"candidates layer {path}: {id_col} {ids[ids.duplicated()].iloc[0]!r} is repeated; "
            "give every candidate its own id"
        )
    geom = gdf.geometry.to_crs(crs)
    pts = np.where(geom.geom_type == "Point", geom.values, geom.representative_point().values)
    # the user's own attributes (e.g. a plot's name) travel with the candidate
    own = gdf.drop(columns=[gdf.geometry.name, "_row", id_col])
    own = own.rename(columns={c: f"{c}_given" for c in own.columns if c in RESERVED})
    return gpd.GeoDataFrame(
        {"candidate_id": ids.to_numpy(), "source": "user", **{c: own[c].to_numpy() for c in own}},
        geometry=gpd.GeoSeries(pts, crs=crs).values,
        crs=crs,
    )


def generate_candidates(
    result: StudyResult, spacing_m: float, area: shapely.Geometry
) -> gpd.GeoDataFrame:
    """Walk-network nodes of the main component, one per ``spacing_m`` grid cell inside ``area``.

    In each cell the node nearest the cell centre is kept (ties: lowest node).
    """
    net = result.networks["walk"]
    nodes = np.flatnonzero(net.node_main)
    xy = net.node_xy[nodes]
    inside = shapely.contains_xy(area, xy[:, 0], xy[:, 1]) if len(xy) else np.zeros(0, bool)
    nodes, xy = nodes[inside], xy[inside]
    cell = np.floor(xy / spacing_m).astype(np.int64)
    centre = (cell + 0.5) * spacing_m
    d = np.hypot(*(xy - centre).T)
    order = np.lexsort((nodes, d, cell[:, 1], cell[:, 0]))
    cs = cell[order]
    first = np.r_[True, (cs[1:] != cs[:-1]).any(axis=1)] if len(cs) else np.zeros(0, bool)
    keep = np.sort(order[first])
    return gpd.GeoDataFrame(
        {
            "candidate_id": [f"node-{int(net.node_osmid[n])}" for n in nodes[keep]],
            "source": "generated",
        },
        geometry=shapely.points(xy[keep]),
        crs=result.crs,
    )


def existing_coverage(result: StudyResult, s: Siting) -> np.ndarray:
    """Whether each demand point is covered by an existing facility of the category
    under the siting rule (existing facilities are fixed)."""
    costs = result.costs
    nd = len(result.demand.points)
    if s.category not in costs.groups:
        return np.zeros(nd, dtype=bool)
    g = costs.groups.index(s.category)
    if s.mode == "straight":
        return np.asarray(costs.straight_m[:, g] <= s.metres + 1e-9)
    if s.minutes > 0:
        return np.asarray(costs.minutes[s.mode][:, g] <= s.minutes + 1e-9)
    return np.asarray(costs.walk_m[:, g] <= s.metres + 1e-9)


def coverage_sets(
    loaded: LoadedStudy, s: Siting, cand_xy: np.ndarray
) -> tuple[sp.csr_array, np.ndarray]:
    """Which demand points each candidate covers under the siting rule.

    Returns
    -------
    cover, snap_m
        ``(n_demand, n_candidates)`` sparse coverage (bounded catchments from
        the reach engine, or a radius); each candidate's snapping distance
        (NaN for the radius rule and for candidates off the network).
    """
    dem = loaded.result.demand.points
    demand_xy = np.column_stack([dem.geometry.x, dem.geometry.y])
    nd, nc = len(demand_xy), len(cand_xy)
    if s.mode == "straight":
        lists = cKDTree(cand_xy).query_ball_point(demand_xy, r=s.metres)
        sizes = np.fromiter((len(x) for x in lists), dtype=np.int64, count=nd)
        indices = np.fromiter((j for x in lists for j in sorted(x)), dtype=np.int64)
        cover = sp.csr_array(
            (np.ones(indices.size, dtype=bool), indices, np.r_[0, np.cumsum(sizes)]),
            shape=(nd, nc),
        )
        return cover, np.full(nc, np.nan)
    by_time = s.minutes > 0
    limit = s.minutes * 60 if by_time else s.metres
    within, snaps = loaded.costs_to_points(cand_xy, s.mode, limit, metres=not by_time)
    cover = sp.csr_array(within)
    snap_m = np.where(snaps.on_network, snaps.access_m, np.nan)
    return cover, snap_m


def _pieces_area(result: StudyResult, mask: np.ndarray) -> shapely.Geometry:
    pieces = result.demand.points["piece"].values[mask]
    return shapely.union_all(pieces) if len(pieces) else shapely.Polygon()


def site_study(loaded: LoadedStudy, settings: Siting | None = None) -> SitingResult:
    """Propose (``mclp``, ``set_cover``) or test (``test``) sites; before/after by a what-if.

    Parameters
    ----------
    loaded
        The loaded study (its result is the "before").
    settings
        The siting settings; default: the study's ``[siting]``.

    Returns
    -------
    SitingResult
    """
    s = settings or loaded.study.siting
    result = loaded.result
    notes: list[Message] = []
    dem = result.demand.points
    pop = dem["population"].to_numpy(dtype=float)
    kinds = result.communities.set_index("community_id")["kind"]
    kind = dem["community_id"].map(kinds).to_numpy()
    counted = np.ones(len(pop), dtype=bool) if s.scope == "all" else kind == s.scope
    # coverage by existing facilities first (needed for generated candidates in shortfalls)
    existing = existing_coverage(result, s)
    weight = np.where(counted & ~existing, pop, 0.0)
    cands = _candidates(loaded, s, weight, notes)
    cand_xy = np.column_stack([cands.geometry.x, cands.geometry.y])
    cover, snap_m = coverage_sets(loaded, s, cand_xy)
    cands = cands.assign(snap_distance_m=np.round(snap_m, 3))
    off = int(np.isnan(snap_m).sum())
    if s.mode != "straight" and off:
        notes.append(Message("candidates_off", {"count": off}))
    total = float(pop[counted].sum())
    before = float(pop[counted & existing].sum())
    started = time.perf_counter()  # the solver's time limit counts the reduction too
    red = reduce_problem(cover, weight)
    csc = sp.csc_array(cover)
    if s.model == "p_median":
        limit_s = s.time_limit_s - time.perf_counter() + started
        solution = _p_median(result, s, cover, pop, counted, limit_s)
        chosen = solution.chosen
        totals = {
            "minutes": f"{s.minutes:g}",
            "before": f"{solution.extra['total_before']:,.0f}",
            "after": f"{solution.extra['total']:,.0f}",
        }
        notes.append(Message("p_median", totals))
    else:
        solution = _solve(s, red, total, before, s.time_limit_s - time.perf_counter() + started)
        chosen = red.candidates[solution.chosen] if s.model != "test" else np.arange(len(cands))
    order, inc = build_order(csc, weight, chosen)
    sites = _sites_frame(cands, csc, weight, order, inc, before, total, result.crs)
    sites = _with_places(sites, cands.iloc[order], result.communities)
    if s.model == "test" and len(order) <= 30:
        notes += _best_k(sites, red, s)
    figures = _figures(total, before, float(inc.sum()) if len(inc) else 0.0, red)
    notes += _solver_notes(solution)
    if red.unreachable_weight > 0:
        notes.append(Message("out_of_reach", {"residents": f"{red.unreachable_weight:,.0f}"}))
    extra = gpd.GeoDataFrame(
        {"facility_id": [f"proposed-{c}" for c in sites["candidate_id"]], "category": s.category},
        geometry=sites.geometry.values,
        crs=result.crs,
    )
    return SitingResult(
        settings=s,
        rule=describe_rule(s),
        candidates=cands,
        sites=sites,
        catchments=_catchments(result, csc, weight, order, sites),
        solution=solution,
        sizes=red.sizes,
        figures=figures,
        before_after=before_after(result, loaded.what_if(add=extra)),
        notes=notes,
    )


def _figures(total: float, before: float, new: float, red: Any) -> dict[str, float]:
    """Residents counted, covered before and after, and out of every candidate's reach."""
    share = (lambda x: x / total) if total > 0 else (lambda x: float("nan"))
    return {
        "residents_counted": total,
        "covered_before": before,
        "share_before": share(before),
        "unreachable_by_any_candidate": red.unreachable_weight,
        "new_covered": new,
        "covered_after": before + new,
        "share_after": share(before + new),
    }


def _candidates(
    loaded: LoadedStudy, s: Siting, weight: np.ndarray, notes: list[Message]
) -> gpd.GeoDataFrame:
    """The user's candidate layer, or walk-network nodes generated in the area asked for."""
    result, study = loaded.result, loaded.study
    if s.candidates:
        path = Path(s.candidates)
        if study.source is not None and not path.is_absolute():
            path = study.source.parent / path
        if not path.is_file():
            raise StudyFileError(f"siting.candidates file not found: {path}")
        cands = read_candidates(
            path, result.crs, study.datum.candidates, study.columns.get("candidates")
        )
        notes += check_near_communities(result.communities, cands, "candidates")
    else:
        if s.within == "shortfall":
            area = _pieces_area(result, weight > 0)
        else:
            area = shapely.union_all(result.communities.geometry.values)
        cands = generate_candidates(result, s.spacing_m, area)
        within = "uncovered demand" if s.within == "shortfall" else "study area"
        notes.append(
            Message(
                "generated",
                {"count": len(cands), "spacing_m": f"{s.spacing_m:g}", "within": within},
            )
        )
    if len(cands) == 0:
        raise StudyFileError("siting: there are no candidate sites (check candidates / within)")
    return cands


def _sites_frame(
    cands: gpd.GeoDataFrame,
    csc: sp.csc_array,
    weight: np.ndarray,
    order: np.ndarray,
    inc: np.ndarray,
    before: float,
    total: float,
    crs: str,
) -> gpd.GeoDataFrame:
    """The chosen sites in build order with :data:`SITE_COLUMNS`."""
    alone = np.array([covered_weight(csc, weight, np.array([c])) for c in order])
    cum = np.cumsum(inc)
    return gpd.GeoDataFrame(
        {
            "rank": np.arange(1, len(order) + 1),
            "candidate_id": cands["candidate_id"].to_numpy()[order],
            "gain_alone": np.round(alone, 3),
            "incremental_gain": np.round(inc, 3),
            "cumulative_new": np.round(cum, 3),
            "covered_after": np.round(before + cum, 3),
            "share_after": np.round((before + cum) / total, 6) if total > 0 else np.nan,
        },
        geometry=cands.geometry.values[order],
        crs=crs,
    )


def _with_places(
    sites: gpd.GeoDataFrame, chosen: gpd.GeoDataFrame, communities: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """The sites with where they are (:data:`PLACE_COLUMNS`) and the candidates' own attributes."""
    out = sites.copy()
    pos = facility_community(out, communities)
    ids = communities["community_id"].to_numpy(dtype=object)
    out["community_id"] = np.where(pos >= 0, ids[np.maximum(pos, 0)], "")
    out["x_m"] = np.round(out.geometry.x.to_numpy(), 2)
    out["y_m"] = np.round(out.geometry.y.to_numpy(), 2)
    ll = out.geometry.to_crs("EPSG:4326")
    out["lon"], out["lat"] = np.round(ll.x.to_numpy(), 7), np.round(ll.y.to_numpy(), 7)
    own = [c for c in chosen.columns if c not in RESERVED and c != chosen.geometry.name]
    for col in own:
        out[col] = chosen[col].to_numpy()
    return out


def _best_k(sites: gpd.GeoDataFrame, red: Any, s: Siting) -> list[Message]:
    """Beside the greedy build order of tested plots, the best any k of them can do (exact)."""
    best = [
        milp_max_cover(red.cover, red.weight, k, s.time_limit_s).covered
        if red.cover.shape[1]
        else 0.0
        for k in range(1, len(sites) + 1)
    ]
    sites["best_k_new"] = np.round(best, 3)
    if (sites["best_k_new"] > sites["cumulative_new"] + 1e-6).any():
        return [Message("best_k")]
    return []


def _solver_notes(solution: Solution) -> list[Message]:
    """What the user must know of the solver's answer: a target out of reach, no proof."""
    notes = []
    if "reachable" in solution.extra:
        need = solution.extra["unreachable_need"]
        reach = solution.extra["reachable"]
        notes.append(
            Message("infeasible_target", {"need": f"{need:,.0f}", "reachable": f"{reach:,.0f}"})
        )
    if not solution.optimal:
        figures = {
            "gap": f"{solution.gap:.2%}",
            "method": solution.method,
            "seconds": f"{solution.seconds:.1f}",
        }
        notes.append(Message("not_proven", figures))
    return notes


def _p_median(
    result: StudyResult,
    s: Siting,
    cover: sp.csr_array,
    pop: np.ndarray,
    counted: np.ndarray,
    limit_s: float,
) -> Solution:
    """p-median on travel time: minutes of the pairs within the cut-off, existing times capped."""
    costs = result.costs
    if s.category in costs.groups:
        existing = costs.minutes[s.mode][:, costs.groups.index(s.category)]
    else:
        existing = np.full(cover.shape[0], np.inf)
    existing = np.minimum(existing, s.minutes)
    pairs = sp.csr_array(cover, dtype=float, copy=True)  # seconds, stored zeros kept
    pairs.data = pairs.data / 60.0
    return milp_p_median(pairs, np.where(counted, pop, 0.0), existing, s.p, max(limit_s, 0.0))


def _solve(s: Siting, red: Any, total: float, before: float, limit_s: float) -> Solution:
    """The chosen model on the reduced problem, within ``limit_s`` seconds."""
    limit_s = max(limit_s, 0.0)
    if s.model == "test":
        return greedy_max_cover(red.cover, red.weight, red.cover.shape[1])
    if s.model == "set_cover":
        need = s.target_share * total - before
        return milp_set_cover(red.cover, red.weight, need, limit_s)
    if s.solver == "greedy":
        return greedy_with_bound(red.cover, red.weight, s.p, limit_s)
    return milp_max_cover(red.cover, red.weight, s.p, limit_s)


def _catchments(
    result: StudyResult,
    cover: sp.csc_array,
    weight: np.ndarray,
    order: np.ndarray,
    sites: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    """The demand each site newly covers (first in build order claims it), dissolved."""
    pieces = result.demand.points["piece"].values
    taken = np.zeros(cover.shape[0], dtype=bool)
    rows = []
    for rank, c in enumerate(order, start=1):
        idx = cover.indices[cover.indptr[c] : cover.indptr[c + 1]]
        new = idx[~taken[idx] & (weight[idx] > 0)]
        taken[idx] = True
        geom = shapely.union_all(pieces[new]) if new.size else shapely.Polygon()
        rows.append(
            {
                "rank": rank,
                "candidate_id": sites["candidate_id"].iloc[rank - 1],
                "new_residents": round(float(weight[new].sum()), 3),
                "geometry": geom,
            }
        )
    return gpd.GeoDataFrame(
        rows,
        columns=["rank", "candidate_id", "new_residents", "geometry"],
        geometry="geometry",
        crs=result.crs,
    )


def before_after(before: StudyResult, after: StudyResult) -> pd.DataFrame:
    """Aggregate indicator rows (whole area, urban, rural) before and after, side by side."""
    keys = ["indicator", "scope", "mode", "minutes_or_metres", "categories", "preset"]
    cols = ["target", "value", "status", "covered_population", "total_population"]

    def agg(r: StudyResult) -> pd.DataFrame:
        t = r.indicators
        return t[t["scope"].isin(["all", "urban", "rural"])][keys + cols]

    merged = agg(before).merge(agg(after), on=keys, how="outer", suffixes=("_before", "_after"))
    merged["target"] = merged["target_before"].fillna(merged["target_after"])
    merged["change_pp"] = np.round(100 * (merged["value_after"] - merged["value_before"]), 4)
    out = merged[
        [
            *keys,
            "target",
            "value_before",
            "value_after",
            "change_pp",
            "status_before",
            "status_after",
            "covered_population_before",
            "covered_population_after",
        ]
    ]
    return out.reset_index(drop=True)
