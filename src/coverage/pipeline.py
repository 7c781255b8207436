"""The whole run: four layers in, indicators, shortfalls and tables out.

:func:`run_study` chains the stages and returns a frozen :class:`StudyResult`;
writing files is left to :mod:`coverage.report` and :mod:`coverage.maps`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from coverage import demand as demand_mod
from coverage.capacity import two_step_fca, weighted_mean_by_group
from coverage.catalogue import AccessIndicator, Indicator, RuleIndicator, load_catalogue
from coverage.categories import CATEGORIES
from coverage.config import Study
from coverage.errors import InputLayerError, StudyFileError
from coverage.indicators import (
    TOLERANCE,
    IndicatorSpec,
    evaluate,
    indicator_frame,
    shortfall_areas,
    shortfalls,
    target_columns,
    targets_for,
)
from coverage.inputs import (
    check_communities_meet_the_others,
    check_near_communities,
    check_study_crs,
    convert_datum,
    read_communities,
    read_facilities,
    read_population,
    read_workplaces,
    resolve_overlaps,
)
from coverage.network import MODES, Mode, StreetNetwork, load_networks
from coverage.reach import (
    ReachGraph,
    SegmentIndex,
    Snaps,
    build_reach_graph,
    costs_within,
    nearest,
    reachable_pieces,
    service_area_polygon,
    stranded_points,
)
from coverage.rules import (
    RuleCheck,
    check_rules,
    evaluate_rules,
    facility_community,
    rule_details,
)
from coverage.targets import Target, load_presets

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class ModeReach:
    """Reach results of one mode, aligned to the demand points and facilities.

    Attributes
    ----------
    speed_kmh, highway_kmh
        The mode's speed and its speeds by ``highway`` value.
    snap_limit_m
        The snapping limit.
    demand_snaps, facility_snaps
        Where points join the network.
    demand_stranded, facility_stranded
        Off-network points near a street cut off from the main component.
    minutes
        ``(n_demand, n_categories)`` minutes to the nearest facility of each category.
    nearest_facility
        ``(n_demand, n_categories)`` row index of that facility, ``-1`` when none.
    threshold_min
        The catchment threshold (the A1 circle for walking, A2's for cycling).
    facility_served_population
        Residents for whom the facility is the nearest of its category and
        within ``threshold_min``.
    facility_within_population
        Residents within ``threshold_min`` of the facility (shared between
        facilities that overlap).
    service_areas
        Display polygons, one row per category with facilities on the network.
    network
        Network summary.
    reach_graph
        The mode's reach graph in seconds (for further catchment queries).
    """

    speed_kmh: float
    highway_kmh: dict[str, float]
    snap_limit_m: float
    demand_snaps: Snaps
    facility_snaps: Snaps
    demand_stranded: np.ndarray
    facility_stranded: np.ndarray
    minutes: np.ndarray
    nearest_facility: np.ndarray
    threshold_min: float
    facility_served_population: np.ndarray
    facility_within_population: np.ndarray
    service_areas: list[dict[str, Any]]
    network: dict[str, Any]
    reach_graph: ReachGraph


@dataclass(frozen=True)
class StudyResult:
    """Everything a run computed, aligned to its inputs."""

    study: Study
    crs: str
    communities: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    demand: demand_mod.Demand
    categories: tuple[str, ...]
    reach: dict[str, ModeReach]
    specs: list[IndicatorSpec]
    indicators: pd.DataFrame
    shortfalls: pd.DataFrame
    shortfall_areas: gpd.GeoDataFrame
    service_areas: gpd.GeoDataFrame
    targets: list[Target]
    catalogue: dict[str, Indicator]
    rule_checks: list[RuleCheck]
    capacity_access: pd.DataFrame
    networks: dict[str, StreetNetwork]
    costs: Costs
    accounting: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)


def _categories(facilities: gpd.GeoDataFrame, study: Study) -> tuple[str, ...]:
    wanted = set(facilities["category"]) | set(study.indicators.service_circle)
    wanted |= set(study.indicators.rural_services)
    return tuple(c for c in CATEGORIES if c in wanted)


def _mode_reach(
    net: StreetNetwork,
    study: Study,
    demand_xy: np.ndarray,
    population: np.ndarray,
    facility_xy: np.ndarray,
    facility_group: np.ndarray,
    groups: tuple[str, ...],
) -> ModeReach:
    mode = net.mode
    speed_kmh = study.speeds.walk_kmh if mode == "walk" else study.speeds.cycle_kmh
    limit_m = study.snapping.walk_limit_m if mode == "walk" else study.snapping.cycle_limit_m
    threshold = study.indicators.circle_min if mode == "walk" else study.indicators.rural_cycle_min
    highway_kmh = study.speeds.highway_kmh(mode)
    speed_ms = speed_kmh / 3.6
    allowed = net.seg_main if study.network.component == "largest" else None
    if allowed is None:
        allowed = np.ones(net.n_segments, dtype=bool)
    index = SegmentIndex(net, allowed)
    dsnap = index.snap(demand_xy, limit_m)
    fsnap = index.snap(facility_xy, limit_m)
    rg = build_reach_graph(
        net.node_xy,
        net.seg_u,
        net.seg_v,
        net.segment_seconds(speed_kmh, highway_kmh),
        net.seg_forward,
        net.seg_backward,
        dsnap,
        dsnap.access_m / speed_ms,
        fsnap,
        fsnap.access_m / speed_ms,
        study.snapping.oneway_tie_m,
        net.seg_length_m,
    )
    near = nearest(rg, facility_group, len(groups))
    minutes = near.cost / 60.0
    limit_s = threshold * 60.0
    # catchments: nearest-facility assignment, and everyone within the threshold
    nf = len(facility_group)
    served = np.zeros(nf)
    for g in range(len(groups)):
        # compared in seconds, as in costs_within, so the two catchments agree
        ok = (near.facility[:, g] >= 0) & (near.cost[:, g] <= limit_s + TOLERANCE)
        served += np.bincount(near.facility[ok, g], weights=population[ok], minlength=nf)
    within = _within_population(rg, nf, limit_s, population)
    areas = []
    for g, cat in enumerate(groups):
        if not np.isfinite(near.node_cost[g]).any():
            continue
        pieces = reachable_pieces(rg, near.node_cost[g], limit_s)
        geom = service_area_polygon(pieces, study.network.service_area_buffer_m)
        if geom.is_empty:
            continue
        areas.append({"mode": mode, "category": cat, "minutes": threshold, "geometry": geom})
    return ModeReach(
        speed_kmh=speed_kmh,
        highway_kmh=highway_kmh,
        snap_limit_m=limit_m,
        demand_snaps=dsnap,
        facility_snaps=fsnap,
        demand_stranded=stranded_points(net, demand_xy, limit_m, dsnap, allowed),
        facility_stranded=stranded_points(net, facility_xy, limit_m, fsnap, allowed),
        minutes=minutes,
        nearest_facility=near.facility,
        threshold_min=threshold,
        facility_served_population=served,
        facility_within_population=within,
        service_areas=areas,
        network=net.summary(),
        reach_graph=rg,
    )


#: Range of (population layer total / declared community total) taken as plausible.
TOTALS_PLAUSIBLE = (0.5, 2.0)

#: Share of residents off the network above which the run says so in a note.
OFF_NETWORK_NOTE_SHARE = 0.05

#: Share of a community's area the population raster must cover not to be noted.
RASTER_COVER_SHARE = 0.99


def _raster_cover_notes(population: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> list[str]:
    """Name the communities a population raster does not (fully) cover.

    Residents beyond the raster's extent are unknown, not absent: the figures
    of such communities rest on part of their area only.
    """
    bounds = population.attrs.get("raster_bounds")
    if bounds is None:
        return []
    # in the raster's own CRS: its extent may be global, which no metric CRS can hold
    own = communities.geometry.to_crs(population.attrs["raster_crs"])
    extent = shapely.box(*bounds)
    inside = own.intersection(extent).area / own.area
    share = inside.to_numpy()
    part = share < RASTER_COVER_SHARE
    if not part.any():
        return []
    ids = communities["community_id"].to_numpy()
    worst = np.flatnonzero(part)[np.argsort(share[part], kind="stable")][:5]
    shown = ", ".join(f"{ids[i]} ({share[i]:.0%} inside)" for i in worst)
    return [
        f"the population raster does not cover {int(part.sum())} of {len(communities)} "
        f"communities in full ({shown}): their residents beyond its edge are unknown, so their "
        "figures rest on the covered part only; give a raster that covers the study area"
    ]


def _within_population(
    rg: ReachGraph, nf: int, limit_s: float, population: np.ndarray
) -> np.ndarray:
    """Residents within ``limit_s`` of each facility (sparse cost matrix times population)."""
    within = costs_within(rg, np.arange(nf), limit_s)
    hit = within.copy()
    hit.data = np.ones_like(hit.data)
    return np.asarray(hit @ population, dtype=float)


def run_study(
    study: Study,
    progress: Progress = _quiet,
    extra_facilities: gpd.GeoDataFrame | None = None,
) -> StudyResult:
    """Run a study end to end.

    Parameters
    ----------
    study
        The validated study.
    progress
        Called with a short message at the start of each stage.
    extra_facilities
        Facilities added to the study's layer (``facility_id``, ``category``,
        point geometry with a CRS), e.g. proposed sites for a before/after run.

    Returns
    -------
    StudyResult
        Indicators, shortfalls and per-community and per-demand-point figures.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    progress("reading and validating the input layers")
    communities, notes = read_communities(study.inputs.communities)
    communities, dnotes = convert_datum(
        communities, study.datum.communities, "communities", "community_id"
    )
    facilities, fnotes = read_facilities(study.inputs.facilities)
    facilities, dfnotes = convert_datum(
        facilities, study.datum.facilities, "facilities", "facility_id"
    )
    notes += dnotes + fnotes + dfnotes
    if extra_facilities is not None and len(extra_facilities):
        extra = extra_facilities.to_crs(facilities.crs)
        clash = set(extra["facility_id"]) & set(facilities["facility_id"])
        if clash:
            raise StudyFileError(
                f"added facilities reuse facility_id {sorted(clash)[0]!r} of the facilities layer"
            )
        facilities = gpd.GeoDataFrame(
            pd.concat(
                [facilities, extra[["facility_id", "category", "geometry"]]], ignore_index=True
            ),
            geometry="geometry",
            crs=facilities.crs,
        )
        notes.append(f"{len(extra)} proposed facilities were added to the facilities layer")
    population = None
    if study.inputs.population is not None:
        population, pnotes = read_population(study.inputs.population)
        notes += pnotes
    crs = check_study_crs(study.crs, communities)
    communities, onotes = resolve_overlaps(communities.to_crs(crs))
    notes += onotes
    others = {"facilities": facilities, "population": population}
    check_communities_meet_the_others(
        communities, {k: v for k, v in others.items() if v is not None}
    )
    notes += check_near_communities(communities, facilities, "facilities")
    facilities = facilities.to_crs(crs)
    if population is not None:
        check_near_communities(communities, population, "population", note_far=False)
        notes += _raster_cover_notes(population, communities)
    boundary_ll = communities.to_crs("EPSG:4326").union_all().buffer(0.02)
    base_dir = study.source.parent if study.source else None
    targets = load_presets(study.targets.preset, base_dir)
    catalogue = _catalogue(study)
    workplaces = None
    if study.inputs.workplaces is not None:
        workplaces, wnotes = read_workplaces(study.inputs.workplaces)
        workplaces, dwnotes = convert_datum(
            workplaces, study.datum.workplaces, "workplaces", "workplace_id"
        )
        notes += wnotes + dwnotes + check_near_communities(communities, workplaces, "workplaces")
        workplaces = workplaces.to_crs(crs)
    stage("read inputs")

    progress("building the walk and cycle networks")
    networks: dict[Mode, StreetNetwork] = load_networks(
        study.inputs.network,
        crs,
        boundary=boundary_ll,
        push=study.speeds.push,
        cache_dir=study.network.cache_path(base_dir),
        attempts=study.network.download_attempts,
    )
    for mode, net in networks.items():
        nodes = gpd.GeoDataFrame(geometry=shapely.points(net.node_xy), crs=crs)
        check_near_communities(communities, nodes, f"network ({mode})", note_far=False)
        for highway in study.speeds.highway_kmh(mode):
            if not (net.seg_highway == highway).any():
                notes.append(
                    f"speeds: the {mode} speed for highway={highway} applies to no street of the "
                    f"{mode} network"
                )
    stage("build networks")

    progress("placing demand points")
    if population is not None:
        dem = demand_mod.demand_from_population(population.to_crs(crs), communities)
    else:
        walk = networks["walk"]
        dem = demand_mod.demand_from_community_counts(communities, walk.node_xy[walk.node_main])
        notes.append(
            "no population layer: each community's population was spread evenly over the "
            "network nodes inside it (the weakest option)"
        )
    if population is not None and communities["population"].notna().any():
        derived = dem.points.groupby("community_id")["population"].sum()
        declared = communities.set_index("community_id")["population"]
        diff = (declared - derived.reindex(declared.index).fillna(0.0)).abs()
        off = diff[declared.notna() & (diff > 0.5)]
        if len(off):
            notes.append(
                f"{len(off)} communities declare a population that differs from the population "
                f"layer by more than one resident (e.g. {off.index[0]}); the population layer is used"
            )
        known = declared.dropna()
        layer_total = float(derived.reindex(known.index).fillna(0.0).sum())
        ratio = layer_total / float(known.sum()) if known.sum() > 0 else float("nan")
        if known.sum() > 0 and not TOTALS_PLAUSIBLE[0] <= ratio <= TOTALS_PLAUSIBLE[1]:
            notes.append(
                f"check the population layer: it puts {layer_total:,.0f} residents in the "
                f"{len(known)} communities that declare {float(known.sum()):,.0f} ({ratio:.2f} "
                "times as many); a density read as residents per cell, or another unit, gives "
                "such totals. Shares are unaffected; resident counts are not"
            )
    if dem.input_population > 0 and dem.used_population == 0:
        raise InputLayerError(
            "population",
            f"none of the {dem.input_population:,.0f} residents of the population layer lies "
            "inside a community",
            "check that the population layer and the communities cover the same area "
            "(open them together in a GIS)",
        )
    if dem.outside_population > 0.5:
        notes.append(
            f"{dem.outside_population:,.0f} residents of the population layer "
            f"({dem.outside_population / dem.input_population:.1%}) lie outside every community "
            "(in gaps between boundaries or beyond them): they are in no figure"
        )
    empty = sorted(set(communities["community_id"]) - set(dem.points["community_id"]))
    if empty:
        notes.append(
            f"{len(empty)} communities receive no residents from the population layer "
            f"(e.g. {empty[0]}): check that the layer covers them"
        )
    stage("demand points")

    categories = _categories(facilities, study)
    complex_category = study.indicators.complex_category
    groups = categories if complex_category in categories else (*categories, complex_category)
    group_index = {c: i for i, c in enumerate(groups)}
    # every facility category is in `categories`, so every facility has a group
    fgroup = facilities["category"].map(group_index).astype(np.int64).to_numpy()
    demand_xy = np.column_stack([dem.points.geometry.x, dem.points.geometry.y])
    fac_xy = np.column_stack([facilities.geometry.x, facilities.geometry.y])
    pop = dem.points["population"].to_numpy(dtype=float)
    reach: dict[str, ModeReach] = {}
    for mode in MODES:
        progress(f"{mode}: snapping, nearest facilities, catchments and service areas")
        reach[mode] = _mode_reach(networks[mode], study, demand_xy, pop, fac_xy, fgroup, groups)
    # network distances along the walk network and straight-line distances, in metres
    walk_net, wr = networks["walk"], reach["walk"]
    walk_m = _walk_metres(
        walk_net,
        wr.demand_snaps,
        wr.facility_snaps,
        fgroup,
        len(groups),
        study.snapping.oneway_tie_m,
    )
    straight_m = np.full((len(demand_xy), len(groups)), np.inf)
    for g in range(len(groups)):
        if (fgroup == g).any():
            straight_m[:, g], _ = cKDTree(fac_xy[fgroup == g]).query(demand_xy)
    costs = Costs(groups, {m: reach[m].minutes for m in MODES}, walk_m, straight_m)
    capacity_access, capacity_ratio, cap_notes = _capacity_access(
        study, reach, facilities, fgroup, groups, pop
    )
    notes += cap_notes
    stage("reach")

    progress("computing indicators against targets")
    present = set(facilities["category"])
    specs = _specs(study, categories, costs, present)
    specs += _catalogue_specs(catalogue, costs, present)
    comm_ids = communities["community_id"].tolist()
    kinds = communities["kind"].tolist()
    cindex = pd.Index(comm_ids).get_indexer(dem.points["community_id"]).astype(np.int64)
    table = evaluate(specs, pop, cindex, comm_ids, kinds, targets)
    residents_c = np.bincount(cindex, weights=pop, minlength=len(comm_ids)).astype(float)
    rules = [r for r in catalogue.values() if isinstance(r, RuleIndicator)]
    checks = check_rules(rules, communities, facilities, residents_c)
    tables = [table, evaluate_rules(checks, comm_ids, np.asarray(kinds), residents_c, targets)]
    tables.append(
        _workplace_rows(
            catalogue,
            workplaces,
            walk_net,
            facilities,
            fgroup,
            groups,
            communities,
            study,
            targets,
        )
    )
    table = pd.concat([t for t in tables if len(t)], ignore_index=True)
    short = shortfalls(table, specs, pop, cindex, comm_ids, rule_details(checks, comm_ids))
    areas = _shortfall_areas(specs, targets, dem, communities, cindex)
    communities = _community_table(communities, specs, pop, cindex, table, reach)
    communities = _with_rules_and_capacity(communities, checks, capacity_access, pop, cindex)
    facilities = facilities.copy()
    for mode in MODES:
        facilities[f"on_network_{mode}"] = reach[mode].facility_snaps.on_network
        facilities[f"snap_distance_{mode}_m"] = np.round(reach[mode].facility_snaps.access_m, 3)
        facilities[f"stranded_{mode}"] = reach[mode].facility_stranded
        facilities[f"served_population_{mode}"] = np.round(
            reach[mode].facility_served_population, 3
        )
        facilities[f"population_within_{mode}"] = np.round(
            reach[mode].facility_within_population, 3
        )
    if capacity_access.shape[1]:
        facilities["places_per_1000_within_2sfca"] = np.round(capacity_ratio, 6)
    service_areas = gpd.GeoDataFrame(
        [a for mode in MODES for a in reach[mode].service_areas],
        columns=["mode", "category", "minutes", "geometry"],
        geometry="geometry",
        crs=crs,
    )
    stage("indicators")

    accounting = {
        "input_population": dem.input_population,
        "used_population": dem.used_population,
        "outside_communities_population": dem.outside_population,
        "demand_method": dem.method,
        "demand_points": len(dem.points),
        "facilities": len(facilities),
    }
    for mode in MODES:
        on = reach[mode].demand_snaps.on_network
        off_share = float(pop[~on].sum()) / max(float(pop.sum()), 1e-12)
        if off_share > OFF_NETWORK_NOTE_SHARE:
            notes.append(
                f"{off_share:.1%} of residents are farther than the {mode} snapping limit from "
                f"the {mode} network and count as not covered: check that the network covers "
                "every community"
            )
        accounting[f"off_network_population_{mode}"] = float(pop[~on].sum())
        accounting[f"off_network_demand_points_{mode}"] = int((~on).sum())
        accounting[f"off_network_facilities_{mode}"] = int(
            (~facilities[f"on_network_{mode}"]).sum()
        )
        stranded = reach[mode].demand_stranded
        accounting[f"stranded_population_{mode}"] = float(pop[stranded].sum())
        accounting[f"stranded_demand_points_{mode}"] = int(stranded.sum())
        accounting[f"stranded_facilities_{mode}"] = int(reach[mode].facility_stranded.sum())
    return StudyResult(
        study=study,
        crs=crs,
        communities=communities,
        facilities=facilities,
        demand=dem,
        categories=categories,
        reach=reach,
        specs=specs,
        indicators=table,
        shortfalls=short,
        shortfall_areas=areas,
        service_areas=service_areas,
        targets=targets,
        catalogue=catalogue,
        rule_checks=checks,
        capacity_access=capacity_access,
        networks={str(m): n for m, n in networks.items()},
        costs=costs,
        accounting=accounting,
        notes=notes,
        timings_s=timings,
    )


@dataclass(frozen=True)
class Costs:
    """Costs from each demand point to the nearest facility of each group.

    ``minutes[mode]`` by travel time, ``walk_m`` along the walk network and
    ``straight_m`` in a straight line, each ``(n_demand, len(groups))``.
    """

    groups: tuple[str, ...]
    minutes: dict[str, np.ndarray]
    walk_m: np.ndarray
    straight_m: np.ndarray

    def of(self, mode: str, unit: str, cats: tuple[str, ...]) -> np.ndarray:
        """``(n_demand, len(cats))`` costs; a category without facilities is unreachable."""
        if unit == "min":
            table = self.minutes[mode]
        else:
            table = self.straight_m if mode == "straight" else self.walk_m
        col = {c: i for i, c in enumerate(self.groups)}
        out = np.full((table.shape[0], len(cats)), np.inf)
        for k, c in enumerate(cats):
            if c in col:
                out[:, k] = table[:, col[c]]
        return out


def _walk_metres(
    net: StreetNetwork,
    dsnap: Snaps,
    fsnap: Snaps,
    fgroup: np.ndarray,
    n_groups: int,
    oneway_tie_m: float,
) -> np.ndarray:
    """Walking network distance, metres, from each demand point to each group's nearest."""
    metres = build_reach_graph(
        net.node_xy,
        net.seg_u,
        net.seg_v,
        net.seg_length_m,
        net.seg_forward,
        net.seg_backward,
        dsnap,
        dsnap.access_m,
        fsnap,
        fsnap.access_m,
        oneway_tie_m,
        net.seg_length_m,
    )
    return nearest(metres, fgroup, n_groups).cost


def _capacity_access(
    study: Study,
    reach: dict[str, ModeReach],
    facilities: gpd.GeoDataFrame,
    fgroup: np.ndarray,
    groups: tuple[str, ...],
    population: np.ndarray,
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """2SFCA access per demand point for the capacity categories that carry a capacity.

    Returns
    -------
    access, ratio, notes
        Per demand point ``access_2sfca_<category>`` in places per 1 000
        residents; per facility its places per 1 000 residents within its
        catchment (NaN when not computed); notes for the report.
    """
    cap = study.capacity
    access = pd.DataFrame(index=pd.RangeIndex(len(population)))
    ratio = np.full(len(facilities), np.nan)
    notes: list[str] = []
    if "capacity" not in facilities.columns:
        return access, ratio, notes
    capacity = pd.to_numeric(facilities["capacity"], errors="coerce").to_numpy(dtype=float)
    rg = reach[cap.mode].reach_graph
    for cat in cap.categories:
        if cat not in groups:
            continue
        members = np.flatnonzero(fgroup == groups.index(cat))
        if not np.isfinite(capacity[members]).any():
            continue
        missing = int((~np.isfinite(capacity[members])).sum())
        if missing:
            notes.append(f"2SFCA {cat}: {missing} facilities lack a capacity and count as 0 places")
        within = costs_within(rg, members, cap.minutes * 60.0)
        r, a = two_step_fca(within, capacity[members], population)
        ratio[members] = r * 1000.0
        access[f"access_2sfca_{cat}"] = a * 1000.0
    return access, ratio, notes


def _with_rules_and_capacity(
    communities: gpd.GeoDataFrame,
    checks: list[RuleCheck],
    capacity_access: pd.DataFrame,
    pop: np.ndarray,
    cindex: np.ndarray,
) -> gpd.GeoDataFrame:
    """Per-community rule results (1 complies, 0 not, empty: not applicable or no data)
    and population-weighted 2SFCA access."""
    out = communities.copy()
    for chk in checks:
        value = np.where(chk.complies, 1.0, 0.0)
        value[~(chk.applies & chk.known)] = np.nan
        out[chk.rule.id] = value
    for col in capacity_access.columns:
        out[col] = np.round(
            weighted_mean_by_group(
                capacity_access[col].to_numpy(dtype=float), pop, cindex, len(out)
            ),
            6,
        )
    return out


def _catalogue(study: Study) -> dict[str, Indicator]:
    """The indicator catalogue with the study's facility-set overrides applied."""
    path = None
    if study.indicators.catalogue:
        path = Path(study.indicators.catalogue)
        if study.source is not None and not path.is_absolute():
            path = study.source.parent / path
    catalogue = load_catalogue(path)
    for ident, cats in study.indicators.sets.items():
        if ident not in catalogue:
            raise StudyFileError(
                f"indicators.sets names {ident!r}, which is not in the indicator catalogue; "
                f"valid ids: {', '.join(catalogue)}"
            )
        catalogue[ident] = replace(catalogue[ident], categories=cats)
    return catalogue


def _note(cats: tuple[str, ...], present: set[str]) -> str:
    absent = [c for c in cats if c not in present]
    return f"no {', '.join(absent)} facilities were given" if absent else ""


def _specs(
    study: Study, categories: tuple[str, ...], costs: Costs, present: set[str]
) -> list[IndicatorSpec]:
    """The core indicators of METHOD.md: category coverage, A1, A2, A3."""
    ind = study.indicators
    specs = []
    for minutes in ind.tiers_min:
        for c in categories:
            specs.append(
                IndicatorSpec(
                    "category_coverage",
                    "walk",
                    minutes,
                    "min",
                    (c,),
                    costs.of("walk", "min", (c,)),
                    note=_note((c,), present),
                )
            )
    for c in categories:
        specs.append(
            IndicatorSpec(
                "category_coverage",
                "cycle",
                ind.rural_cycle_min,
                "min",
                (c,),
                costs.of("cycle", "min", (c,)),
                note=_note((c,), present),
            )
        )
    specs.append(
        IndicatorSpec(
            "A1_service_circle",
            "walk",
            ind.circle_min,
            "min",
            ind.service_circle,
            costs.of("walk", "min", ind.service_circle),
            note=_note(ind.service_circle, present),
        )
    )
    specs.append(
        IndicatorSpec(
            "A2_rural_cycling",
            "cycle",
            ind.rural_cycle_min,
            "min",
            ind.rural_services,
            costs.of("cycle", "min", ind.rural_services),
            scope="rural",
            note=_note(ind.rural_services, present),
        )
    )
    cx = (ind.complex_category,)
    for ident, mode in (
        ("A3_complex_radius_straight", "straight"),
        ("A3_complex_radius_network", "walk"),
    ):
        specs.append(
            IndicatorSpec(
                ident,
                mode,
                ind.complex_radius_m,
                "m",
                cx,
                costs.of(mode, "m", cx),
                note=_note(cx, present),
            )
        )
    return specs


def _catalogue_specs(
    catalogue: dict[str, Indicator], costs: Costs, present: set[str]
) -> list[IndicatorSpec]:
    """Access indicators of the catalogue counted over residents."""
    return [
        IndicatorSpec(
            e.id,
            e.mode,
            e.threshold,
            e.unit,
            e.categories,
            costs.of(e.mode, e.unit, e.categories),
            scope=e.scope,
            note=_note(e.categories, present),
            name=e.id,
        )
        for e in catalogue.values()
        if isinstance(e, AccessIndicator) and e.origins == "residents"
    ]


def _workplace_rows(
    catalogue: dict[str, Indicator],
    workplaces: gpd.GeoDataFrame | None,
    walk_net: StreetNetwork,
    facilities: gpd.GeoDataFrame,
    fgroup: np.ndarray,
    groups: tuple[str, ...],
    communities: gpd.GeoDataFrame,
    study: Study,
    targets: list[Target],
) -> pd.DataFrame:
    """Rows of the indicators counted over workplaces (A7), weighted by ``workers``.

    Without a workplaces layer each such indicator gets one ``no data`` row
    saying what to give.
    """
    entries = [
        e
        for e in catalogue.values()
        if isinstance(e, AccessIndicator) and e.origins == "workplaces"
    ]
    present = set(facilities["category"])
    if workplaces is None or len(workplaces) == 0:
        rows = []
        for e in entries:
            for scope, kind in (("all", "all"), ("urban", "urban"), ("rural", "rural")):
                if e.scope not in ("all", kind):
                    continue
                for target in targets_for(targets, e.id, kind):
                    rows.append(
                        {
                            "indicator": e.id,
                            "scope": scope,
                            "mode": e.mode,
                            "minutes_or_metres": e.threshold,
                            "categories": "+".join(e.categories),
                            "value": np.nan,
                            "status": "no data",
                            "gap": np.nan,
                            "covered_population": np.nan,
                            "total_population": np.nan,
                            "communities_fully_covered": 0,
                            "communities_with_residents": 0,
                            "note": "counted over industrial parks and office buildings: give "
                            "[inputs] workplaces (points or polygons, optional `workers` column)",
                            **target_columns(target),
                        }
                    )
        return indicator_frame(rows)
    xy = np.column_stack([workplaces.geometry.x, workplaces.geometry.y])
    fac_xy = np.column_stack([facilities.geometry.x, facilities.geometry.y])
    allowed = walk_net.seg_main if study.network.component == "largest" else None
    index = SegmentIndex(walk_net, allowed)
    wsnap = index.snap(xy, study.snapping.walk_limit_m)
    fsnap = index.snap(fac_xy, study.snapping.walk_limit_m)
    walk_m = _walk_metres(walk_net, wsnap, fsnap, fgroup, len(groups), study.snapping.oneway_tie_m)
    straight_m = np.full((len(xy), len(groups)), np.inf)
    for g in range(len(groups)):
        if (fgroup == g).any():
            straight_m[:, g], _ = cKDTree(fac_xy[fgroup == g]).query(xy)
    costs = Costs(groups, {}, walk_m, straight_m)
    pos = facility_community(workplaces, communities)
    comm_ids = communities["community_id"].tolist()
    # workplaces outside every community form a pseudo-community of their own
    ids = [*comm_ids, "(outside communities)"]
    kinds = [*communities["kind"].tolist(), "outside"]
    cindex = np.where(pos >= 0, pos, len(comm_ids))
    weight = workplaces["workers"].to_numpy(dtype=float)
    specs = [
        IndicatorSpec(
            e.id,
            e.mode,
            e.threshold,
            e.unit,
            e.categories,
            costs.of(e.mode, e.unit, e.categories),
            scope=e.scope,
            note=(_note(e.categories, present) + "; " if _note(e.categories, present) else "")
            + "counted over workplaces, weighted by workers",
        )
        for e in entries
    ]
    table = evaluate(specs, weight, cindex, ids, kinds, targets)
    return table[table["scope"] != "community:(outside communities)"].reset_index(drop=True)


def _shortfall_areas(
    specs: list[IndicatorSpec],
    targets: list[Target],
    dem: demand_mod.Demand,
    communities: gpd.GeoDataFrame,
    cindex: np.ndarray,
) -> gpd.GeoDataFrame:
    """Shortfall areas of every indicator that has a target, over the scope the target covers."""
    kinds = communities["kind"].to_numpy()[cindex]
    pop = dem.points["population"].to_numpy(dtype=float)
    ids = dem.points["community_id"].to_numpy(dtype=object)
    frames = []
    # indicators often leave the same residents uncovered (every circle of a category the
    # study lacks): dissolve each distinct set once
    done: dict[bytes, gpd.GeoDataFrame] = {}
    for spec in specs:
        scopes = {t.scope for t in targets if t.indicator == spec.indicator}
        if not scopes:
            continue
        counted = np.ones(len(pop), dtype=bool) if "all" in scopes else np.isin(kinds, list(scopes))
        if spec.scope != "all":
            counted &= kinds == spec.scope
        uncovered = counted & ~spec.covered
        key = np.packbits(uncovered).tobytes()
        if key not in done:
            done[key] = shortfall_areas(dem.points["piece"], pop, ids, uncovered, spec.indicator)
        frame = done[key].copy()
        frame["indicator"] = spec.indicator
        frames.append(frame)
    if not frames:
        return shortfall_areas(dem.points["piece"], pop, ids, np.zeros(len(pop), bool), "")
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=communities.crs)


def _community_table(
    communities: gpd.GeoDataFrame,
    specs: list[IndicatorSpec],
    pop: np.ndarray,
    cindex: np.ndarray,
    table: pd.DataFrame,
    reach: dict[str, ModeReach],
) -> gpd.GeoDataFrame:
    nc = len(communities)
    out = communities.copy()
    total = np.bincount(cindex, weights=pop, minlength=nc)
    out["population"] = np.round(total, 3)
    out["area_km2"] = np.round(out.geometry.area.to_numpy() / 1e6, 4)
    out["density_per_km2"] = np.round(
        np.divide(total, out["area_km2"].to_numpy(), out=np.zeros(nc), where=out["area_km2"] > 0), 1
    )
    for spec in specs:
        cov = np.bincount(cindex, weights=np.where(spec.covered, pop, 0.0), minlength=nc)
        share = np.divide(cov, total, out=np.full(nc, np.nan), where=total > 0)
        if spec.scope != "all":
            share[out["kind"].to_numpy() != spec.scope] = np.nan
        out[spec.column] = np.round(share, 6)
    for mode, r in reach.items():
        off = ~r.demand_snaps.on_network
        out[f"off_network_population_{mode}"] = np.round(
            np.bincount(cindex, weights=np.where(off, pop, 0.0), minlength=nc), 3
        )
    rows = table[table["scope"].str.startswith("community:")]
    short = rows[rows["status"] == "short"]
    short_ids = short["scope"].str.split(":", n=1).str[1]
    names = short["indicator"].where(
        short["indicator"] != "category_coverage", short["indicator"] + ":" + short["categories"]
    )
    listed = names.groupby(short_ids.to_numpy()).agg(lambda s: ", ".join(sorted(set(s))))
    out["short_indicators"] = out["community_id"].map(listed).fillna("")
    out["shortfall"] = out["short_indicators"] != ""
    return out
