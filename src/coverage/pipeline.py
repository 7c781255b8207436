"""The whole run: four layers in, indicators, shortfalls and tables out.

:func:`run_study` chains the stages and returns a frozen :class:`StudyResult`;
writing files is left to :mod:`coverage.report` and :mod:`coverage.maps`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from coverage import demand as demand_mod
from coverage.categories import CATEGORIES
from coverage.config import Study
from coverage.indicators import TOLERANCE, IndicatorSpec, evaluate, shortfall_areas, shortfalls
from coverage.inputs import read_communities, read_facilities, read_population
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
from coverage.targets import Target, load_preset

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
    )


def _within_population(
    rg: ReachGraph, nf: int, limit_s: float, population: np.ndarray
) -> np.ndarray:
    """Residents within ``limit_s`` of each facility (sparse cost matrix times population)."""
    within = costs_within(rg, np.arange(nf), limit_s)
    hit = within.copy()
    hit.data = np.ones_like(hit.data)
    return np.asarray(hit @ population, dtype=float)


def run_study(study: Study, progress: Progress = _quiet) -> StudyResult:
    """Run a study end to end.

    Parameters
    ----------
    study
        The validated study.
    progress
        Called with a short message at the start of each stage.

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
    facilities, fnotes = read_facilities(study.inputs.facilities)
    notes += fnotes
    population = None
    if study.inputs.population is not None:
        population, pnotes = read_population(study.inputs.population)
        notes += pnotes
    crs = study.crs or communities.estimate_utm_crs().to_string()
    communities = communities.to_crs(crs)
    facilities = facilities.to_crs(crs)
    boundary_ll = communities.to_crs("EPSG:4326").union_all().buffer(0.02)
    targets = load_preset(study.targets.preset, study.source.parent if study.source else None)
    stage("read inputs")

    progress("building the walk and cycle networks")
    networks: dict[Mode, StreetNetwork] = load_networks(
        study.inputs.network, crs, boundary=boundary_ll, push=study.speeds.push
    )
    for mode, net in networks.items():
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
    # A3, network variant: walking network distance in metres to the nearest complex
    walk_net, wr = networks["walk"], reach["walk"]
    is_complex = fgroup == group_index[study.indicators.complex_category]
    metres = build_reach_graph(
        walk_net.node_xy,
        walk_net.seg_u,
        walk_net.seg_v,
        walk_net.seg_length_m,
        walk_net.seg_forward,
        walk_net.seg_backward,
        wr.demand_snaps,
        wr.demand_snaps.access_m,
        wr.facility_snaps,
        wr.facility_snaps.access_m,
    )
    complex_net_m = nearest(metres, np.where(is_complex, 0, -1), 1).cost[:, 0]
    complex_xy = fac_xy[facilities["category"].to_numpy() == study.indicators.complex_category]
    if len(complex_xy):
        complex_line_m, _ = cKDTree(complex_xy).query(demand_xy)
    else:
        complex_line_m = np.full(len(demand_xy), np.inf)
    stage("reach")

    progress("computing indicators against targets")
    specs = _specs(study, categories, reach, complex_line_m, complex_net_m, facilities)
    comm_ids = communities["community_id"].tolist()
    cindex = pd.Index(comm_ids).get_indexer(dem.points["community_id"]).astype(np.int64)
    table = evaluate(specs, pop, cindex, comm_ids, communities["kind"].tolist(), targets)
    short = shortfalls(table, specs, pop, cindex, comm_ids)
    areas = _shortfall_areas(specs, targets, dem, communities, cindex)
    communities = _community_table(communities, specs, pop, cindex, table, reach)
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
        accounting=accounting,
        notes=notes,
        timings_s=timings,
    )


def _specs(
    study: Study,
    categories: tuple[str, ...],
    reach: dict[str, ModeReach],
    complex_line_m: np.ndarray,
    complex_net_m: np.ndarray,
    facilities: gpd.GeoDataFrame,
) -> list[IndicatorSpec]:
    ind = study.indicators
    present = set(facilities["category"])
    col = {c: i for i, c in enumerate(categories)}

    def note(cats: tuple[str, ...]) -> str:
        absent = [c for c in cats if c not in present]
        return f"no {', '.join(absent)} facilities were given" if absent else ""

    def costs(mode: str, cats: tuple[str, ...]) -> np.ndarray:
        return reach[mode].minutes[:, [col[c] for c in cats]]

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
                    costs("walk", (c,)),
                    note=note((c,)),
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
                costs("cycle", (c,)),
                note=note((c,)),
            )
        )
    specs.append(
        IndicatorSpec(
            "A1_service_circle",
            "walk",
            ind.circle_min,
            "min",
            ind.service_circle,
            costs("walk", ind.service_circle),
            note=note(ind.service_circle),
        )
    )
    specs.append(
        IndicatorSpec(
            "A2_rural_cycling",
            "cycle",
            ind.rural_cycle_min,
            "min",
            ind.rural_services,
            costs("cycle", ind.rural_services),
            rural_only=True,
            note=note(ind.rural_services),
        )
    )
    cx = (ind.complex_category,)
    specs.append(
        IndicatorSpec(
            "A3_complex_radius_straight",
            "straight",
            ind.complex_radius_m,
            "m",
            cx,
            complex_line_m[:, None],
            note=note(cx),
        )
    )
    specs.append(
        IndicatorSpec(
            "A3_complex_radius_network",
            "walk",
            ind.complex_radius_m,
            "m",
            cx,
            complex_net_m[:, None],
            note=note(cx),
        )
    )
    return specs


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
    for spec in specs:
        scopes = {t.scope for t in targets if t.indicator == spec.indicator}
        if not scopes:
            continue
        counted = np.ones(len(pop), dtype=bool) if "all" in scopes else np.isin(kinds, list(scopes))
        if spec.rural_only:
            counted &= kinds == "rural"
        frames.append(
            shortfall_areas(dem.points["piece"], pop, ids, counted & ~spec.covered, spec.indicator)
        )
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
        if spec.rural_only:
            share[out["kind"].to_numpy() != "rural"] = np.nan
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
