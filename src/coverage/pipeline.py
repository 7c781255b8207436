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
from coverage.indicators import IndicatorSpec, evaluate, shortfall_areas, shortfalls
from coverage.inputs import read_communities, read_facilities, read_population
from coverage.network import MODES, Mode, StreetNetwork, load_network
from coverage.reach import Snaps, nearest_costs, snap_points
from coverage.targets import Target, load_preset

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class ModeReach:
    """Reach results of one mode."""

    speed_kmh: float
    snap_limit_m: float
    demand_snaps: Snaps
    facility_snaps: Snaps
    minutes: np.ndarray  # (n_demand, n_categories)
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
    speed_kmh: float,
    limit_m: float,
    demand_xy: np.ndarray,
    facility_xy: np.ndarray,
    facility_group: np.ndarray,
    n_groups: int,
) -> ModeReach:
    speed_ms = speed_kmh / 3.6
    dsnap = snap_points(net, demand_xy, limit_m)
    fsnap = snap_points(net, facility_xy, limit_m)
    seconds = nearest_costs(
        net.n_nodes,
        net.seg_u,
        net.seg_v,
        net.seg_length_m / speed_ms,
        net.seg_forward,
        net.seg_backward,
        dsnap,
        dsnap.access_m / speed_ms,
        fsnap,
        fsnap.access_m / speed_ms,
        facility_group,
        n_groups,
    )
    return ModeReach(speed_kmh, limit_m, dsnap, fsnap, seconds / 60.0, net.summary())


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

    networks: dict[Mode, StreetNetwork] = {}
    for mode in MODES:
        progress(f"building the {mode} network")
        networks[mode] = load_network(study.inputs.network, mode, crs, boundary=boundary_ll)
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
    groups = (*categories, study.indicators.complex_category)
    group_index = {c: i for i, c in enumerate(groups)}
    # every facility category is in `categories`, so every facility has a group
    fgroup = facilities["category"].map(group_index).astype(np.int64).to_numpy()
    demand_xy = np.column_stack([dem.points.geometry.x, dem.points.geometry.y])
    fac_xy = np.column_stack([facilities.geometry.x, facilities.geometry.y])
    speeds = {"walk": study.speeds.walk_kmh, "cycle": study.speeds.cycle_kmh}
    limits = {"walk": study.snapping.walk_limit_m, "cycle": study.snapping.cycle_limit_m}
    reach: dict[str, ModeReach] = {}
    for mode in MODES:
        progress(f"{mode}: snapping and shortest paths to the nearest facility of each category")
        reach[mode] = _mode_reach(
            networks[mode],
            speeds[mode],
            limits[mode],
            demand_xy,
            fac_xy,
            fgroup,
            len(groups),
        )
    # A3, network variant: walking network distance in metres to the nearest complex
    walk_net, wr = networks["walk"], reach["walk"]
    is_complex = fgroup == group_index[study.indicators.complex_category]
    fsn = wr.facility_snaps
    complex_snaps = Snaps(
        fsn.segment[is_complex], fsn.fraction[is_complex], fsn.access_m[is_complex]
    )
    complex_net_m = nearest_costs(
        walk_net.n_nodes,
        walk_net.seg_u,
        walk_net.seg_v,
        walk_net.seg_length_m,
        walk_net.seg_forward,
        walk_net.seg_backward,
        wr.demand_snaps,
        wr.demand_snaps.access_m,
        complex_snaps,
        complex_snaps.access_m,
        np.zeros(int(is_complex.sum()), dtype=np.int64),
        1,
    )[:, 0]
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
    pop = dem.points["population"].to_numpy(dtype=float)
    table = evaluate(specs, pop, cindex, comm_ids, communities["kind"].tolist(), targets)
    short = shortfalls(table, specs, pop, cindex, comm_ids)
    areas = _shortfall_areas(specs, targets, dem, communities, cindex)
    communities = _community_table(communities, specs, pop, cindex, table, reach)
    facilities = facilities.copy()
    for mode in MODES:
        facilities[f"on_network_{mode}"] = reach[mode].facility_snaps.on_network
        facilities[f"snap_distance_{mode}_m"] = np.round(reach[mode].facility_snaps.access_m, 3)
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
