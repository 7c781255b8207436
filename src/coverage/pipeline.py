"""A study loaded once: layers in, reach held, indicators out, what-ifs without re-reading.

:class:`LoadedStudy` takes checked :class:`~coverage.layers.Layers`, places
the demand points, joins them and the facilities to each mode's network and
holds the graphs, the segment indexes and the nearest-facility costs. Its
:attr:`~LoadedStudy.result` is the run's :class:`StudyResult`;
:meth:`~LoadedStudy.what_if` adds or removes facilities and returns the
result a full run with those facilities would give, without reading a file
or rebuilding a graph. :func:`run_study` reads a study's files and returns its
result. Writing files is left to :mod:`coverage.report` and :mod:`coverage.maps`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csr_matrix, vstack
from scipy.spatial import cKDTree

from coverage import demand as demand_mod
from coverage.capacity import two_step_fca, weighted_mean_by_group
from coverage.catalogue import AccessIndicator, Indicator, RuleIndicator, study_catalogue
from coverage.categories import CATEGORIES
from coverage.config import Study
from coverage.errors import EmptyLayerError, InputLayerError, StudyFileError
from coverage.indicators import (
    Costs,
    IndicatorSpec,
    ScopeRows,
    catalogue_specs,
    community_figures,
    core_specs,
    evaluate,
    indicator_frame,
    indicator_rows,
    shortfalls,
    targeted_shortfall_areas,
)
from coverage.inputs import check_facilities, check_frame, check_near_communities, convert_datum
from coverage.layers import Layers, Progress, load_layers, quiet
from coverage.messages import Message, Note
from coverage.network import StreetNetwork
from coverage.reach import (
    Joined,
    Nearest,
    ReachGraph,
    SegmentIndex,
    Segments,
    Snaps,
    build_reach_graph,
    costs_to_new,
    costs_within,
    first_at_same_place,
    kth_nearest_cost,
    nearest,
    nearest_what_if,
    new_node_costs,
    stranded_points,
    weight_within,
)
from coverage.rules import RuleCheck, check_rules, evaluate_rules, facility_community, rule_details
from coverage.service_areas import facility_pieces, reachable_pieces, service_area_polygon
from coverage.targets import Target, load_presets
from coverage.terms import MODES, PROFILES, TOLERANCE, Mode

__all__ = ["LoadedStudy", "ModeReach", "StudyResult", "run_study"]

#: Range of (population layer total / declared community total) taken as plausible.
TOTALS_PLAUSIBLE = (0.5, 2.0)

#: Share of residents off the network above which the run says so in a note.
OFF_NETWORK_NOTE_SHARE = 0.05

#: How far the second-nearest facility is searched for: this many times the largest
#: threshold of the redundancy indicators (``nth = 2``) of the mode.
SECOND_SEARCH_FACTOR = 1.5


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
        ``(n_demand, n_groups)`` minutes to the nearest facility of each group
        (the result's ``categories`` first).
    nearest_facility
        ``(n_demand, n_groups)`` row index of that facility, ``-1`` when none.
    threshold_min
        The catchment threshold (the A1 circle for walking, A2's for cycling).
    facility_served_population
        Residents for whom the facility is the nearest of its category and
        within ``threshold_min``.
    facility_within_population
        Residents within ``threshold_min`` of the facility (shared between
        facilities that overlap).
    network
        Network summary.
    reach_graph
        The mode's reach graph in seconds, built with the loaded study's own
        facilities (a what-if's added facilities are not in it).
    node_cost
        ``(n_groups, n_nodes)`` seconds from every street and snap node of the
        graph to the nearest facility of each group (for service areas).
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
    network: dict[str, Any]
    reach_graph: ReachGraph
    node_cost: np.ndarray


@dataclass(frozen=True)
class StudyResult:
    """Everything a run computed, aligned to its inputs.

    ``shortfalls``, ``shortfall_areas`` and ``service_areas`` are computed on
    first use (they take longer than the figures and a what-if rarely needs
    them).
    """

    study: Study
    crs: str
    communities: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    demand: demand_mod.Demand
    categories: tuple[str, ...]
    reach: dict[str, ModeReach]
    specs: list[IndicatorSpec]
    indicators: pd.DataFrame
    targets: list[Target]
    catalogue: dict[str, Indicator]
    rule_checks: list[RuleCheck]
    capacity_access: pd.DataFrame
    networks: dict[str, StreetNetwork]
    costs: Costs
    accounting: dict[str, Any]
    notes: list[Message] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def community_index(self) -> np.ndarray:
        """Position in ``communities`` of each demand point's community."""
        ids = pd.Index(self.communities["community_id"])
        return ids.get_indexer(self.demand.points["community_id"]).astype(np.int64)

    @cached_property
    def shortfalls(self) -> pd.DataFrame:
        """Communities below target, per indicator and preset, with what they lack."""
        ids = self.communities["community_id"].tolist()
        pop = self.demand.points["population"].to_numpy(dtype=float)
        details = rule_details(self.rule_checks, ids)
        return shortfalls(self.indicators, self.specs, pop, self.community_index, ids, details)

    @cached_property
    def shortfall_areas(self) -> gpd.GeoDataFrame:
        """Dissolved uncovered demand of every indicator with a target, ranked by residents."""
        pts = self.demand.points
        kinds = self.communities["kind"].to_numpy()[self.community_index]
        return targeted_shortfall_areas(
            self.specs,
            self.targets,
            pts["piece"],
            pts["population"].to_numpy(dtype=float),
            pts["community_id"].to_numpy(dtype=object),
            kinds,
        )

    @cached_property
    def service_areas(self) -> gpd.GeoDataFrame:
        """Display polygons: the streets within each mode's threshold of each category of
        the service circles (A1, A2) and the complexes (a city's every category would be
        dozens of city-wide shapes; the category coverage figures cover the rest)."""
        rows = []
        buffer_m = self.study.network.service_area_buffer_m
        ind = self.study.indicators
        drawn = {*ind.service_circle, *ind.rural_services, ind.complex_category}
        for mode in MODES:
            r = self.reach[mode]
            cats = self.facilities["category"].to_numpy()
            legs = r.facility_snaps.access_m / (r.speed_kmh / 3.6)
            for g, cat in enumerate(self.costs.groups):
                if cat not in drawn or not np.isfinite(r.node_cost[g]).any():
                    continue
                budget = r.threshold_min * 60.0
                own = cats == cat
                pieces = np.concatenate(
                    [
                        reachable_pieces(r.reach_graph, r.node_cost[g], budget),
                        facility_pieces(
                            r.reach_graph.segments,
                            Snaps(
                                r.facility_snaps.segment[own],
                                r.facility_snaps.fraction[own],
                                r.facility_snaps.access_m[own],
                            ),
                            legs[own],
                            budget,
                        ),
                    ]
                )
                geom = service_area_polygon(pieces, buffer_m)
                if not geom.is_empty:
                    rows.append(
                        {
                            "mode": mode,
                            "category": cat,
                            "minutes": r.threshold_min,
                            "geometry": geom,
                        }
                    )
        return gpd.GeoDataFrame(
            rows,
            columns=["mode", "category", "minutes", "geometry"],
            geometry="geometry",
            crs=self.crs,
        )


def run_study(study: Study, progress: Progress = quiet) -> StudyResult:
    """Read a study's files and run it end to end.

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
    return LoadedStudy.load(study, progress).result


# ------------------------------------------------------------------ what the facilities change


@dataclass(frozen=True)
class _ModeBase:
    """What a mode keeps whatever the facilities: network, index, demand joined."""

    mode: Mode
    network: StreetNetwork
    index: SegmentIndex
    allowed: np.ndarray
    speed_kmh: float
    highway_kmh: dict[str, float]
    limit_m: float
    threshold_min: float
    segments: Segments
    demand: Joined
    demand_stranded: np.ndarray

    def join(self, xy: np.ndarray, metres: bool = False) -> Joined:
        """Snap points to the mode's network; legs in seconds at its speed, or in metres."""
        snaps = self.index.snap(xy, self.limit_m)
        return Joined.at_speed(snaps, None if metres else self.speed_kmh / 3.6)

    def stranded(self, xy: np.ndarray, snaps: Snaps) -> np.ndarray:
        """Which off-network points lie by a street cut off from the main component."""
        return stranded_points(self.network, xy, self.limit_m, snaps, self.allowed)


def _mode_base(study: Study, net: StreetNetwork, demand_xy: np.ndarray) -> _ModeBase:
    mode = net.mode
    walk = mode == "walk"
    speed = study.speeds.walk_kmh if walk else study.speeds.cycle_kmh
    limit = study.snapping.walk_limit_m if walk else study.snapping.cycle_limit_m
    highway = study.speeds.highway_kmh(mode)
    allowed = (
        net.seg_main if study.network.component == "largest" else np.ones(net.n_segments, bool)
    )
    index = SegmentIndex(net, allowed)
    dsnap = index.snap(demand_xy, limit)
    return _ModeBase(
        mode=mode,
        network=net,
        index=index,
        allowed=allowed,
        speed_kmh=speed,
        highway_kmh=highway,
        limit_m=limit,
        threshold_min=study.indicators.circle_min if walk else study.indicators.rural_cycle_min,
        segments=Segments.of(net, net.segment_seconds(speed, highway)),
        demand=Joined.at_speed(dsnap, speed / 3.6),
        demand_stranded=stranded_points(net, demand_xy, limit, dsnap, allowed),
    )


@dataclass(frozen=True)
class _ModeFacilities:
    """One mode's reach of one set of facilities."""

    snaps: Snaps
    stranded: np.ndarray
    nearest: Nearest
    within_population: np.ndarray


@dataclass(frozen=True)
class _Reach:
    """Everything the facilities decide, for one set of facilities.

    ``nearest`` facility indices count the set's own rows; cost columns
    follow ``groups``.
    """

    groups: tuple[str, ...]
    fgroup: np.ndarray
    modes: dict[Mode, _ModeFacilities]
    walk_m: Nearest
    straight_m: np.ndarray
    workplace_walk_m: Nearest | None
    capacity: tuple[pd.DataFrame, np.ndarray, list[Message]]


def _groups(facilities: gpd.GeoDataFrame, study: Study) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The categories reported (vocabulary order) and the groups costed (those, and A3's)."""
    wanted = set(facilities["category"]) | set(study.indicators.service_circle)
    wanted |= set(study.indicators.rural_services)
    categories = tuple(c for c in CATEGORIES if c in wanted)
    cx = study.indicators.complex_category
    return categories, categories if cx in categories else (*categories, cx)


def _group_of(facilities: gpd.GeoDataFrame, groups: tuple[str, ...]) -> np.ndarray:
    return facilities["category"].map({c: i for i, c in enumerate(groups)}).to_numpy(np.int64)


def _straight(origin_xy: np.ndarray, fac_xy: np.ndarray, fgroup: np.ndarray, n: int) -> np.ndarray:
    """Straight-line metres from each origin to the nearest facility of each group."""
    out = np.full((len(origin_xy), n), np.inf)
    for g in range(n):
        if (fgroup == g).any() and len(origin_xy):
            out[:, g], _ = cKDTree(fac_xy[fgroup == g]).query(origin_xy)
    return out


def _xy(frame: gpd.GeoDataFrame) -> np.ndarray:
    if len(frame) == 0:
        return np.zeros((0, 2))
    return np.column_stack([frame.geometry.x, frame.geometry.y])


def _count_within(within: csr_matrix, population: np.ndarray) -> np.ndarray:
    """Residents within reach of each facility (rows of a sparse cost matrix)."""
    hit = within.copy()
    hit.data = np.ones_like(hit.data)
    return np.asarray(hit @ population, dtype=float)


def _dense_within(rg: ReachGraph, node_costs: np.ndarray, limit: float) -> csr_matrix:
    """Rows of node costs (new facilities) as demand costs within ``limit``, sparse."""
    don = np.flatnonzero(rg.demand_node >= 0)
    cost = np.full((node_costs.shape[0], rg.n_demand), np.inf)
    cost[:, don] = node_costs[:, rg.demand_node[don]] + rg.demand_access[don]
    r, c = np.nonzero(cost <= limit + TOLERANCE)
    return csr_matrix((cost[r, c], (r, c)), shape=cost.shape)


def _remap(near: Nearest, index: np.ndarray, order: list[int]) -> Nearest:
    """Facility indices renumbered through ``index``; group columns taken in ``order``."""
    which = near.facility[:, order]
    which = np.where(which >= 0, index[np.maximum(which, 0)], -1)
    return Nearest(near.cost[:, order], which, near.node_cost[order])


# ------------------------------------------------------------------------- the loaded study


#: Seconds between progress reports of a long stage.
PROGRESS_EVERY_S = 3.0


def every_few_seconds(progress: Progress, stage: Message) -> Callable[[float], None]:
    """A callback taking the share done that reports ``stage`` and its percentage to
    ``progress`` at most every :data:`PROGRESS_EVERY_S` seconds."""
    last = [time.perf_counter()]

    def tick(done: float) -> None:
        now = time.perf_counter()
        if now - last[0] >= PROGRESS_EVERY_S and done < 1.0:
            last[0] = now
            progress(Message("progress_share", {"stage": stage, "percent": f"{100 * done:.0f}"}))

    return tick


class LoadedStudy:
    """A study loaded once, to answer many questions.

    Holds the checked layers, the demand points, each mode's network,
    segment index and reach graph, and the nearest-facility costs of the
    study's own facilities. :attr:`result` is the run; :meth:`what_if` adds
    and removes facilities without reading a file or rebuilding a graph and
    returns what a full run with those facilities gives, row for row.

    Parameters
    ----------
    study
        The validated study.
    layers
        Its checked layers (:func:`coverage.layers.load_layers` or
        :func:`coverage.layers.layers_from_frames`).
    progress
        Called with a short message at the start of each stage.

    Examples
    --------
    A notebook session is in ``docs/api.md``.
    """

    def __init__(self, study: Study, layers: Layers, progress: Progress = quiet) -> None:
        clock = time.perf_counter()
        self.study, self.layers = study, layers
        self._progress = progress
        self.timings_s: dict[str, float] = {}
        self.targets = load_presets(
            study.targets.preset, study.source.parent if study.source else None
        )
        self.catalogue = study_catalogue(study)
        progress(Message("progress_demand"))
        self.demand, notes = place_demand(study, layers)
        self.notes = [*layers.notes, *notes]
        pts = self.demand.points
        self.population = pts["population"].to_numpy(dtype=float)
        ids = pd.Index(layers.communities["community_id"])
        self.community_index = ids.get_indexer(pts["community_id"]).astype(np.int64)
        self._demand_xy = _xy(pts)
        clock = self._stage("demand points", clock)
        self._modes = {}
        for mode in MODES:
            progress(Message("progress_reach", {"mode": mode}))
            self._modes[mode] = _mode_base(study, layers.networks[mode], self._demand_xy)
        self._graphs: dict[str, ReachGraph] = {}
        self._union: Any = None  # the communities' union, prepared on the first what-if
        self._cap_within: dict[str, csr_matrix] = {}
        self._base = self._reach_all(layers.facilities)
        second = self._second_nearest(layers.facilities, self._base)
        clock = self._stage("reach", clock)
        progress(Message("progress_indicators"))
        self.result = self._result(layers.facilities, self._base, self.notes, second)
        self._stage("indicators", clock)

    def _stage(self, name: str, clock: float) -> float:
        now = time.perf_counter()
        self.timings_s[name] = round(now - clock, 3)
        return now

    @classmethod
    def load(cls, study: Study, progress: Progress = quiet) -> LoadedStudy:
        """Read the study's files (:func:`coverage.layers.load_layers`) and load it."""
        clock = time.perf_counter()
        layers = load_layers(study, progress)
        read_s = round(time.perf_counter() - clock, 3)
        loaded = cls(study, layers, progress)
        loaded.timings_s = {"read inputs and networks": read_s, **loaded.timings_s}
        loaded.result.timings_s.clear()
        loaded.result.timings_s.update(loaded.timings_s)
        return loaded

    # ---------------------------------------------------------------- what-ifs

    def what_if(
        self,
        add: gpd.GeoDataFrame | None = None,
        remove: Sequence[str] = (),
        exact: bool = False,
    ) -> StudyResult:
        """The study's result with facilities added and removed.

        Parameters
        ----------
        add
            New facilities: points (or polygons, at their representative
            point) with a ``facility_id`` and a ``category``, optionally
            ``name``, ``floor_area_m2``, ``capacity``; any CRS (lon/lat as the
            study's ``[datum] facilities`` says; projected coordinates are taken as true). An id being removed may be
            added back (a facility moved).
        remove
            ``facility_id`` values of the study's facilities to take away.
        exact
            Search from the added facilities without bound, so that every
            travel time is a full run's too (slower on a large study).

        Returns
        -------
        StudyResult
            Equal, row for row, to a full run with the facilities so changed
            (facilities in the order kept, then added). Without ``exact``, an
            added facility is searched only up to the largest threshold in use
            (:meth:`search_bound`): times beyond it keep the earlier, longer
            value, and a note says so; every figure compared with a threshold
            is exact.

        Raises
        ------
        StudyFileError
            An id to remove that is not a facility of the study, or an added
            id that already is one.
        InputLayerError
            Added facilities that break the facilities layer's rules, lie far
            from every community, or nothing left.
        """
        clock = time.perf_counter()
        facilities, keep, added, notes = self._changed_facilities(add, remove)
        reach = self._reach_changed(facilities, keep, added, exact)
        notes = [*self.notes, *notes]
        if len(added) or not keep.all():
            notes.append(Message("whatif", {"added": len(added), "removed": int((~keep).sum())}))
        if len(added) and not exact:
            notes.append(self._bound_note())
        second = self._second_nearest(facilities, reach, keep, added)
        result = self._result(facilities, reach, notes, second)
        result.timings_s["what-if"] = round(time.perf_counter() - clock, 3)
        return result

    def _bound_note(self) -> Message:
        walk, cycle = (self.search_bound(m, "min") / 60.0 for m in ("walk", "cycle"))
        metres = self.search_bound("walk", "m")
        return Message(
            "whatif_bound", {"walk": f"{walk:g}", "cycle": f"{cycle:g}", "metres": f"{metres:g}"}
        )

    def _changed_facilities(
        self, add: gpd.GeoDataFrame | None, remove: Sequence[str]
    ) -> tuple[gpd.GeoDataFrame, np.ndarray, gpd.GeoDataFrame, list[Message]]:
        base = self.layers.facilities
        ids = base["facility_id"].to_numpy(dtype=object)
        gone = {str(r) for r in remove}
        unknown = sorted(gone - set(ids))
        if unknown:
            raise StudyFileError(
                f"what-if: facility_id {unknown[0]!r} to remove is not a facility of the study"
            )
        keep = ~np.isin(ids, list(gone))
        added, notes = base.iloc[:0], list[Message]()
        if add is not None and len(add):
            added, notes = self._check_added(add, set(ids[keep]))
        if not keep.any() and not len(added):
            raise EmptyLayerError(
                "facilities",
                "the what-if removes every facility and adds none",
                "keep or add at least one facility",
            )
        frame = pd.concat([base[keep], added], ignore_index=True)
        frame = gpd.GeoDataFrame(frame, geometry="geometry", crs=self.layers.crs)
        return frame, keep, added, notes

    def _check_added(
        self, add: gpd.GeoDataFrame, kept_ids: set[str]
    ) -> tuple[gpd.GeoDataFrame, list[Message]]:
        """Added facilities checked as the facilities layer is, in the study CRS."""
        frame = check_frame(add, "facilities", "the facilities to add")
        added, notes = check_facilities(frame)
        if added.crs is not None and added.crs.is_geographic:
            # lon/lat as the facilities layer's datum says; projected ones are taken as true
            datum = self.study.datum.facilities
            added, n = convert_datum(added, datum, "facilities", "facility_id")
            notes += n
        clash = set(added["facility_id"]) & kept_ids
        if clash:
            raise StudyFileError(
                f"what-if: added facility_id {sorted(clash)[0]!r} is already a facility of "
                "the study; give new ids"
            )
        if self._union is None:
            self._union = shapely.union_all(self.layers.communities.geometry.values)
            shapely.prepare(self._union)
        notes += check_near_communities(
            self.layers.communities, added, "added facilities", union=self._union
        )
        return added.to_crs(self.layers.crs), notes

    def costs_to_points(
        self, xy: np.ndarray, mode: str, limit: float, metres: bool = False
    ) -> tuple[csr_matrix, Snaps]:
        """Costs from every demand point to each of some points (candidate sites), within ``limit``.

        Parameters
        ----------
        xy
            ``(n, 2)`` points in the study CRS.
        mode
            ``walk`` or ``cycle``.
        limit
            Seconds, or metres with ``metres``.
        metres
            Walking distance along the network instead of time.

        Returns
        -------
        within, snaps
            ``(n_demand, n)`` sparse costs (stored zeros: a resident at the
            point) and the points' snaps.
        """
        b = self._modes["walk" if mode == "walk" else "cycle"]
        joined = b.join(np.asarray(xy, dtype=float).reshape(-1, 2), metres=metres)
        segments = Segments.of(b.network) if metres else b.segments
        demand = Joined.at_speed(b.demand.snaps) if metres else b.demand
        rg = build_reach_graph(segments, demand, joined, self.study.snapping.oneway_tie_m)
        within = costs_within(rg, np.arange(len(joined)), limit)
        return csr_matrix(within.T), joined.snaps

    # ---------------------------------------------------------------- reach

    def search_bound(self, mode: str, unit: str) -> float:
        """How far a what-if searches from an added facility: the largest threshold in use.

        Parameters
        ----------
        mode
            ``walk`` or ``cycle``.
        unit
            ``min`` (the bound is returned in seconds) or ``m`` (walking metres).
        """
        ind, cap = self.study.indicators, self.study.capacity
        if unit == "min":
            values = [*ind.tiers_min, ind.circle_min if mode == "walk" else ind.rural_cycle_min]
            values += [cap.minutes] if cap.mode == mode else []
        else:
            values = [ind.complex_radius_m]
        values += [
            e.threshold
            for e in self.catalogue.values()
            if isinstance(e, AccessIndicator) and e.mode == mode and e.unit == unit
        ]
        return float(max(values)) * (60.0 if unit == "min" else 1.0)

    def _reach_all(self, facilities: gpd.GeoDataFrame) -> _Reach:
        """The reach of the study's own facilities, from scratch; keeps the graphs."""
        _, groups = _groups(facilities, self.study)
        fgroup, n = _group_of(facilities, groups), len(groups)
        fac_xy, tie = _xy(facilities), self.study.snapping.oneway_tie_m
        modes = {}
        for mode, b in self._modes.items():
            joined = b.join(fac_xy)
            rg = self._graphs[mode] = build_reach_graph(b.segments, b.demand, joined, tie)
            within_population = self._catchment_counts(rg, len(facilities), mode, b.threshold_min)
            modes[mode] = _ModeFacilities(
                joined.snaps,
                b.stranded(fac_xy, joined.snaps),
                nearest(rg, fgroup, n),
                within_population,
            )
        walk = self._modes["walk"]
        metres, fw = Segments.of(walk.network), Joined.at_speed(modes["walk"].snaps)
        rg = self._graphs["metres"] = build_reach_graph(
            metres, Joined.at_speed(walk.demand.snaps), fw, tie
        )
        walk_m = nearest(rg, fgroup, n)
        wp_m = None
        if self.layers.workplaces is not None and len(self.layers.workplaces):
            origins = walk.join(_xy(self.layers.workplaces), metres=True)
            rg = self._graphs["workplaces"] = build_reach_graph(metres, origins, fw, tie)
            wp_m = nearest(rg, fgroup, n)
        straight = _straight(self._demand_xy, fac_xy, fgroup, n)
        capacity = self._capacity(facilities, groups, fgroup, np.ones(len(facilities), bool), {})
        held = [walk_m, *(m.nearest for m in modes.values()), *([wp_m] if wp_m else [])]
        for near in held:  # results hand these out: what-ifs read them, no one may write
            for array in (near.cost, near.facility, near.node_cost):
                array.flags.writeable = False
        return _Reach(groups, fgroup, modes, walk_m, straight, wp_m, capacity)

    def _catchment_counts(
        self, rg: ReachGraph, n_facilities: int, mode: Mode, threshold_min: float
    ) -> np.ndarray:
        """Residents within ``threshold_min`` of each facility (NaN when the study turns
        ``network.catchment_counts`` off)."""
        if not self.study.network.catchment_counts:
            return np.full(n_facilities, np.nan)
        tick = every_few_seconds(self._progress, Message("progress_catchments", {"mode": mode}))
        return weight_within(
            rg, np.arange(n_facilities), threshold_min * 60.0, self.population, progress=tick
        )

    def _reach_changed(
        self,
        facilities: gpd.GeoDataFrame,
        keep: np.ndarray,
        added: gpd.GeoDataFrame,
        exact: bool = False,
    ) -> _Reach:
        """The reach with facilities kept and added: held graphs, bounded passes from the new."""
        base = self._base
        _, groups = _groups(facilities, self.study)
        ext = (*base.groups, *(g for g in groups if g not in base.groups))
        order = [ext.index(g) for g in groups]
        new_group = _group_of(added, ext)
        n_kept = int(keep.sum())
        # graph facility index (kept, removed) then new -> row of the changed facilities
        index = np.r_[np.where(keep, np.cumsum(keep) - 1, -1), n_kept + np.arange(len(added))]
        add_xy = _xy(added)
        modes = {}
        new_walk: Joined | None = None
        for mode, b in self._modes.items():
            joined = b.join(add_xy)
            new_walk = joined if mode == "walk" else new_walk
            near, nodes = nearest_what_if(
                self._graphs[mode],
                base.modes[mode].nearest,
                base.fgroup,
                keep,
                joined,
                new_group,
                len(ext),
                np.inf if exact else self.search_bound(mode, "min"),
            )
            if self.study.network.catchment_counts:
                within = _dense_within(self._graphs[mode], nodes, b.threshold_min * 60.0)
                counts = _count_within(within, self.population)
            else:
                counts = np.full(len(added), np.nan)
            old = base.modes[mode]
            modes[mode] = _ModeFacilities(
                _concat_snaps(old.snaps, keep, joined.snaps),
                np.r_[old.stranded[keep], b.stranded(add_xy, joined.snaps)],
                _remap(near, index, order),
                np.r_[old.within_population[keep], counts],
            )
        assert new_walk is not None
        fw = Joined.at_speed(new_walk.snaps)
        limit_m = np.inf if exact else self.search_bound("walk", "m")
        walk_m = self._metres_what_if(
            "metres", base.walk_m, keep, fw, new_group, ext, order, limit_m
        )
        wp_m = None
        if base.workplace_walk_m is not None:
            wp_m = self._metres_what_if(
                "workplaces", base.workplace_walk_m, keep, fw, new_group, ext, order, limit_m
            )
        fgroup = _group_of(facilities, groups)
        straight = _straight(self._demand_xy, _xy(facilities), fgroup, len(groups))
        capacity = self._capacity(
            facilities, groups, fgroup, keep, {"added": added, "modes": modes}
        )
        return _Reach(groups, fgroup, modes, walk_m, straight, wp_m, capacity)

    def _metres_what_if(
        self,
        graph: str,
        held: Nearest,
        keep: np.ndarray,
        new: Joined,
        new_group: np.ndarray,
        ext: tuple[str, ...],
        order: list[int],
        limit_m: float,
    ) -> Nearest:
        """Walking metres to the nearest facility of each group after the change."""
        near, _ = nearest_what_if(
            self._graphs[graph],
            held,
            self._base.fgroup,
            keep,
            new,
            new_group,
            len(ext),
            limit_m,
        )
        return Nearest(near.cost[:, order], near.facility[:, order], near.node_cost[order])

    def _capacity(
        self,
        facilities: gpd.GeoDataFrame,
        groups: tuple[str, ...],
        fgroup: np.ndarray,
        keep: np.ndarray,
        change: dict[str, Any],
    ) -> tuple[pd.DataFrame, np.ndarray, list[Message]]:
        """2SFCA access per demand point for the capacity categories that carry a capacity.

        Returns
        -------
        access, ratio, notes
            Per demand point ``access_2sfca_<category>`` in places per 1 000
            residents; per facility its places per 1 000 residents within its
            catchment (NaN when not computed); notes for the report.
        """
        cap = self.study.capacity
        access = pd.DataFrame(index=pd.RangeIndex(len(self.population)))
        ratio = np.full(len(facilities), np.nan)
        notes: list[Message] = []
        if "capacity" not in facilities.columns:
            return access, ratio, notes
        capacity = pd.to_numeric(facilities["capacity"], errors="coerce").to_numpy(dtype=float)
        for cat in cap.categories:
            if cat not in groups:
                continue
            members = np.flatnonzero(fgroup == groups.index(cat))
            if not np.isfinite(capacity[members]).any():
                continue
            missing = int((~np.isfinite(capacity[members])).sum())
            if missing:
                notes.append(Message("capacity_missing", {"category": cat, "count": missing}))
            within = self._capacity_within(cat, keep, change)
            r, a = two_step_fca(within, capacity[members], self.population)
            ratio[members] = r * 1000.0
            access[f"access_2sfca_{cat}"] = a * 1000.0
        return access, ratio, notes

    def _capacity_within(self, cat: str, keep: np.ndarray, change: dict[str, Any]) -> csr_matrix:
        """Costs within the 2SFCA time from each facility of a category (kept, then added)."""
        cap = self.study.capacity
        limit = cap.minutes * 60.0
        rg = self._graphs[cap.mode]
        base_members = np.flatnonzero(self.layers.facilities["category"].to_numpy() == cat)
        if cat not in self._cap_within:
            self._cap_within[cat] = costs_within(rg, base_members, limit)
        held = self._cap_within[cat][np.flatnonzero(keep[base_members])]
        added = change.get("added")
        if added is None or not (added["category"] == cat).any():
            return csr_matrix(held)
        b = self._modes["walk" if cap.mode == "walk" else "cycle"]
        joined = b.join(_xy(added[added["category"] == cat]))
        nodes = new_node_costs(rg, joined, limit)
        return csr_matrix(vstack([held, _dense_within(rg, nodes, limit)]))

    # ---------------------------------------------------------------- second nearest

    def _second_wanted(self) -> dict[str, tuple[set[str], float]]:
        """Per street mode, the categories of the redundancy indicators (``nth = 2``) and
        how far to search, in seconds (:data:`SECOND_SEARCH_FACTOR`)."""
        out: dict[str, tuple[set[str], float]] = {}
        for e in self.catalogue.values():
            if isinstance(e, AccessIndicator) and e.nth == 2:
                cats, bound = out.get(e.mode, (set(), 0.0))
                limit = SECOND_SEARCH_FACTOR * e.threshold * 60.0
                out[e.mode] = (cats | set(e.categories), max(bound, limit))
        return out

    def _second_nearest(
        self,
        facilities: gpd.GeoDataFrame,
        reach: _Reach,
        keep: np.ndarray | None = None,
        added: gpd.GeoDataFrame | None = None,
    ) -> dict[str, np.ndarray]:
        """Minutes from each demand point to the second-nearest facility of each group, per
        street mode (``inf`` beyond the search bound), for the redundancy indicators.

        Facilities at the same place count once (:func:`~coverage.reach.first_at_same_place`):
        the second must stand elsewhere. Bounded passes from the study's own
        facilities of those categories are held (as the 2SFCA's are); a what-if
        takes the kept ones' and adds passes from the added ones (``keep``,
        ``added``), so it gives what a full run gives.
        """
        groups = reach.groups
        cats_of = facilities["category"].to_numpy()
        out: dict[str, np.ndarray] = {}
        for mode, (cats, limit) in self._second_wanted().items():
            table = np.full((len(self.population), len(groups)), np.inf)
            first = first_at_same_place(reach.fgroup, reach.modes[mode].snaps)  # type: ignore[index]
            distinct = first == np.arange(first.size)
            for cat in sorted(cats & set(groups)):
                within = self._within_category(mode, cat, limit, keep, added)
                within = within[np.flatnonzero(distinct[cats_of == cat])]
                table[:, groups.index(cat)] = kth_nearest_cost(within, 2) / 60.0
            out[mode] = table
        return out

    def _within_category(
        self,
        mode: str,
        cat: str,
        limit: float,
        keep: np.ndarray | None,
        added: gpd.GeoDataFrame | None,
    ) -> csr_matrix:
        """Seconds from the facilities of a category (kept, then added) to each demand point,
        within ``limit``."""
        rg = self._graphs[mode]
        members = np.flatnonzero(self.layers.facilities["category"].to_numpy() == cat)
        key = f"second:{mode}:{cat}"
        if key not in self._cap_within:
            self._cap_within[key] = costs_within(rg, members, limit)
        held = self._cap_within[key]
        if keep is not None:
            held = held[np.flatnonzero(keep[members])]
        if added is None or not (added["category"] == cat).any():
            return csr_matrix(held)
        joined = self._modes["walk" if mode == "walk" else "cycle"].join(
            _xy(added[added["category"] == cat])
        )
        return csr_matrix(vstack([held, costs_to_new(rg, joined, limit)]))

    # ---------------------------------------------------------------- figures

    def _result(
        self,
        facilities: gpd.GeoDataFrame,
        reach: _Reach,
        notes: list[Message],
        second: dict[str, np.ndarray] | None = None,
    ) -> StudyResult:
        """Every figure of one set of facilities, from its reach (and the minutes to the
        second-nearest facility, :meth:`_second_nearest`)."""
        comm = self.layers.communities
        categories = _groups(facilities, self.study)[0]
        modes = {m: self._mode_reach(m, reach) for m in MODES}
        speeds = self.study.speeds
        costs = Costs(
            reach.groups,
            {m: modes[m].minutes for m in MODES},
            reach.walk_m.cost,
            reach.straight_m,
            second_minutes=second or {},
            walk_factor={p: speeds.walk_kmh / speeds.profile_kmh(p) for p in PROFILES},
        )
        present = set(facilities["category"])
        specs = self._specs(categories, costs, present)
        table, checks = self._table(facilities, specs, reach, present)
        access, ratio, cap_notes = reach.capacity
        off = {
            f"off_network_population_{m}": np.bincount(
                self.community_index,
                weights=np.where(modes[m].demand_snaps.on_network, 0.0, self.population),
                minlength=len(comm),
            ).astype(float)
            for m in MODES
        }
        out = community_figures(comm, specs, self.population, self.community_index, table, off)
        out = _with_rules_and_capacity(out, checks, access, self.population, self.community_index)
        return StudyResult(
            study=self.study,
            crs=self.layers.crs,
            communities=out,
            facilities=_facility_table(facilities, modes, ratio, access.shape[1] > 0),
            demand=self.demand,
            categories=categories,
            reach={str(m): r for m, r in modes.items()},
            specs=specs,
            indicators=table,
            targets=self.targets,
            catalogue=self.catalogue,
            rule_checks=checks,
            capacity_access=access,
            networks={str(m): b.network for m, b in self._modes.items()},
            costs=costs,
            accounting=self._accounting(facilities, modes),
            notes=[*notes, *cap_notes, *self._off_network_notes(modes)],
            timings_s=dict(self.timings_s),
        )

    def _specs(
        self, categories: tuple[str, ...], costs: Costs, present: set[str]
    ) -> list[IndicatorSpec]:
        entries = [
            e
            for e in self.catalogue.values()
            if isinstance(e, AccessIndicator) and e.origins == "residents"
        ]
        surveyed = self.study.inputs.surveyed_categories
        return [
            *core_specs(self.study.indicators, categories, costs, present, surveyed),
            *catalogue_specs(entries, costs, present, surveyed=surveyed),
        ]

    def _table(
        self,
        facilities: gpd.GeoDataFrame,
        specs: list[IndicatorSpec],
        reach: _Reach,
        present: set[str],
    ) -> tuple[pd.DataFrame, list[RuleCheck]]:
        """Indicator rows of the access indicators, the rules and the workplace indicators."""
        comm = self.layers.communities
        ids, kinds = comm["community_id"].tolist(), comm["kind"].tolist()
        pop, cindex = self.population, self.community_index
        residents = np.bincount(cindex, weights=pop, minlength=len(ids)).astype(float)
        rules = [r for r in self.catalogue.values() if isinstance(r, RuleIndicator)]
        checks = check_rules(
            rules, comm, facilities, residents, self.study.inputs.surveyed_categories
        )
        tables = [
            evaluate(specs, pop, cindex, ids, kinds, self.targets),
            evaluate_rules(checks, ids, np.asarray(kinds), residents, self.targets),
            self._workplace_rows(facilities, reach, present),
        ]
        return pd.concat([t for t in tables if len(t)], ignore_index=True), checks

    def _workplace_rows(
        self, facilities: gpd.GeoDataFrame, reach: _Reach, present: set[str]
    ) -> pd.DataFrame:
        """Rows of the indicators counted over workplaces (A7), weighted by ``workers``.

        Without a workplaces layer each such indicator gets ``no data`` rows
        saying what to give.
        """
        entries = [
            e
            for e in self.catalogue.values()
            if isinstance(e, AccessIndicator) and e.origins == "workplaces"
        ]
        wp = self.layers.workplaces
        if wp is None or reach.workplace_walk_m is None:
            return _no_workplace_rows(entries, self.targets)
        wp_xy = _xy(wp)
        straight = _straight(wp_xy, _xy(facilities), reach.fgroup, len(reach.groups))
        costs = Costs(reach.groups, {}, reach.workplace_walk_m.cost, straight)
        comm = self.layers.communities
        pos = facility_community(wp, comm)
        ids = [*comm["community_id"].tolist(), "(outside communities)"]
        kinds = [*comm["kind"].tolist(), "outside"]
        cindex = np.where(pos >= 0, pos, len(ids) - 1)
        specs = catalogue_specs(entries, costs, present, (Message("over_workplaces"),))
        weight = wp["workers"].to_numpy(dtype=float)
        table = evaluate(specs, weight, cindex, ids, kinds, self.targets)
        return table[table["scope"] != "community:(outside communities)"].reset_index(drop=True)

    def _mode_reach(self, mode: Mode, reach: _Reach) -> ModeReach:
        b, r = self._modes[mode], reach.modes[mode]
        minutes = r.nearest.cost / 60.0
        limit_s = b.threshold_min * 60.0
        nf = r.snaps.segment.size
        # facilities at the same place tie for everyone: the first in the layer serves
        first = first_at_same_place(reach.fgroup, r.snaps)
        which = np.where(r.nearest.facility >= 0, first[np.maximum(r.nearest.facility, 0)], -1)
        served = np.zeros(nf)
        for g in range(len(reach.groups)):
            # compared in seconds, as in costs_within, so the two catchments agree
            ok = (which[:, g] >= 0) & (r.nearest.cost[:, g] <= limit_s + TOLERANCE)
            served += np.bincount(which[ok, g], weights=self.population[ok], minlength=nf)
        return ModeReach(
            speed_kmh=b.speed_kmh,
            highway_kmh=b.highway_kmh,
            snap_limit_m=b.limit_m,
            demand_snaps=b.demand.snaps,
            facility_snaps=r.snaps,
            demand_stranded=b.demand_stranded,
            facility_stranded=r.stranded,
            minutes=minutes,
            nearest_facility=which,
            threshold_min=b.threshold_min,
            facility_served_population=served,
            facility_within_population=r.within_population,
            network=b.network.summary(),
            reach_graph=self._graphs[mode],
            node_cost=r.nearest.node_cost,
        )

    def _accounting(
        self, facilities: gpd.GeoDataFrame, modes: dict[Mode, ModeReach]
    ) -> dict[str, Any]:
        dem, pop = self.demand, self.population
        out: dict[str, Any] = {
            "input_population": dem.input_population,
            "used_population": dem.used_population,
            "outside_communities_population": dem.outside_population,
            "demand_method": dem.method,
            "demand_points": len(dem.points),
            "facilities": len(facilities),
        }
        for mode, r in modes.items():
            on = r.demand_snaps.on_network
            out[f"off_network_population_{mode}"] = float(pop[~on].sum())
            out[f"off_network_demand_points_{mode}"] = int((~on).sum())
            out[f"off_network_facilities_{mode}"] = int((~r.facility_snaps.on_network).sum())
            out[f"stranded_population_{mode}"] = float(pop[r.demand_stranded].sum())
            out[f"stranded_demand_points_{mode}"] = int(r.demand_stranded.sum())
            out[f"stranded_facilities_{mode}"] = int(r.facility_stranded.sum())
        return out

    def _off_network_notes(self, modes: dict[Mode, ModeReach]) -> list[Message]:
        notes: list[Message] = []
        pop = self.population
        for mode, r in modes.items():
            off = float(pop[~r.demand_snaps.on_network].sum()) / max(float(pop.sum()), 1e-12)
            if off > OFF_NETWORK_NOTE_SHARE:
                notes.append(Message("off_network", {"share": f"{off:.1%}", "mode": mode}))
        return notes


def _concat_snaps(old: Snaps, keep: np.ndarray, new: Snaps) -> Snaps:
    return Snaps(
        np.r_[old.segment[keep], new.segment],
        np.r_[old.fraction[keep], new.fraction],
        np.r_[old.access_m[keep], new.access_m],
    )


def _no_workplace_rows(entries: list[AccessIndicator], targets: list[Target]) -> pd.DataFrame:
    """``no data`` rows of the workplace indicators, saying what to give."""
    frames: list[dict[str, np.ndarray]] = []
    for e in entries:
        names = ["all", "urban", "rural"] if e.scope == "all" else [e.scope]
        scopes = ScopeRows(names, names, [np.zeros(0, bool)] * len(names), np.zeros(0, np.int64))
        nan = np.full(len(names), np.nan)
        frames.append(
            indicator_rows(
                indicator=e.id,
                scopes=scopes,
                mode=e.mode,
                threshold=e.threshold,
                categories=e.categories,
                covered=nan,
                total=np.zeros(len(names)),
                fully=0,
                counted=0,
                note=Note.of([Message("no_workplaces")]),
                targets=targets,
                empty="no data",
                population=(nan, nan),
            )
        )
    return indicator_frame(frames)


def _facility_table(
    facilities: gpd.GeoDataFrame, modes: dict[Mode, ModeReach], ratio: np.ndarray, has_cap: bool
) -> gpd.GeoDataFrame:
    """The facilities with, per mode, their snap, catchment and served residents."""
    out = facilities.copy()
    for mode, r in modes.items():
        out[f"on_network_{mode}"] = r.facility_snaps.on_network
        out[f"snap_distance_{mode}_m"] = np.round(r.facility_snaps.access_m, 3)
        out[f"stranded_{mode}"] = r.facility_stranded
        out[f"served_population_{mode}"] = np.round(r.facility_served_population, 3)
        out[f"population_within_{mode}"] = np.round(r.facility_within_population, 3)
    if has_cap:
        out["places_per_1000_within_2sfca"] = np.round(ratio, 6)
    return out


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


# ------------------------------------------------------------------------- demand


def place_demand(study: Study, layers: Layers) -> tuple[demand_mod.Demand, list[Message]]:
    """Demand points from the population layer (or the communities' own counts), with notes.

    Raises
    ------
    InputLayerError
        When the population layer puts no resident inside a community.
    """
    comm = layers.communities
    if layers.population is not None:
        dem = demand_mod.demand_from_population(layers.population, comm)
        notes = _declared_total_notes(dem, comm)
    else:
        walk = layers.networks["walk"]
        dem = demand_mod.demand_from_community_counts(comm, walk.node_xy[walk.node_main])
        notes = [Message("no_population_layer")]
    if dem.input_population > 0 and dem.used_population == 0:
        raise InputLayerError(
            "population",
            f"none of the {dem.input_population:,.0f} residents of the population layer lies "
            "inside a community",
            "check that the population layer and the communities cover the same area "
            "(open them together in a GIS)",
        )
    if dem.outside_population > 0.5:
        share = dem.outside_population / dem.input_population
        notes.append(
            Message(
                "outside_population",
                {"residents": f"{dem.outside_population:,.0f}", "share": f"{share:.1%}"},
            )
        )
    empty = sorted(set(comm["community_id"]) - set(dem.points["community_id"]))
    if empty:
        code = "empty_community" if len(empty) == 1 else "empty_communities"
        notes.append(Message(code, {"count": len(empty), "example": empty[0]}))
    return dem, notes


def _declared_total_notes(dem: demand_mod.Demand, communities: gpd.GeoDataFrame) -> list[Message]:
    """Notes where the population layer disagrees with the communities' declared totals."""
    if not communities["population"].notna().any():
        return []
    notes: list[Message] = []
    derived = dem.points.groupby("community_id")["population"].sum()
    declared = communities.set_index("community_id")["population"]
    diff = (declared - derived.reindex(declared.index).fillna(0.0)).abs()
    off = diff[declared.notna() & (diff > 0.5)]
    if len(off):
        notes.append(Message("declared_differs", {"count": len(off), "example": off.index[0]}))
    known = declared.dropna()
    layer_total = float(derived.reindex(known.index).fillna(0.0).sum())
    if known.sum() > 0:
        ratio = layer_total / float(known.sum())
        if not TOTALS_PLAUSIBLE[0] <= ratio <= TOTALS_PLAUSIBLE[1]:
            params = {
                "layer_total": f"{layer_total:,.0f}",
                "count": len(known),
                "declared": f"{float(known.sum()):,.0f}",
                "ratio": f"{ratio:.2f}",
            }
            notes.append(Message("declared_total", params))
    return notes
