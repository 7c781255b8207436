"""Coverage indicators, plan targets and shortfalls (METHOD.md, "Indicators").

The core (:func:`coverage_by_group`, :func:`evaluate`) works on arrays: a
population weight, a group index and a cost matrix per demand point. An
indicator is an :class:`IndicatorSpec`: a cost per demand point for each
category of a set, in minutes or metres, and a threshold. A demand point is
covered when its cost to the nearest facility of *every* category of the set is
within the threshold (a comparison tolerance of 1e-9 absorbs rounding).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from coverage.catalogue import AccessIndicator
from coverage.equity import palma_ratio, share_below, weighted_gini, weighted_median_by_group
from coverage.messages import NO_NOTE, Message, Note, render_all
from coverage.targets import Target
from coverage.terms import TOLERANCE

__all__ = [
    "EQUITY_COLUMNS",
    "INDICATOR_COLUMNS",
    "MESSAGE_COLUMNS",
    "Costs",
    "IndicatorSpec",
    "ScopeRows",
    "absent_note",
    "catalogue_specs",
    "community_figures",
    "core_specs",
    "coverage_by_group",
    "equity_columns",
    "evaluate",
    "indicator_frame",
    "indicator_rows",
    "judge",
    "missing_data",
    "rounded_indicators",
    "shortfall_areas",
    "shortfalls",
    "targeted_shortfall_areas",
    "targets_for",
]

if TYPE_CHECKING:
    from coverage.config import IndicatorSettings

FloatArray = npt.NDArray[np.float64]

INDICATOR_COLUMNS = [
    "indicator",
    "scope",
    "mode",
    "minutes_or_metres",
    "categories",
    "target",
    "value",
    "status",
    "gap",
    "covered_population",
    "total_population",
    "communities_fully_covered",
    "communities_with_residents",
    "target_year",
    "binding",
    "wording_zh",
    "wording_en",
    "source",
    "note",
    "preset",
    "gini",
    "palma",
    "below_half_target_share",
]

#: Columns of :data:`INDICATOR_COLUMNS` on the spread between communities (aggregate
#: rows of access indicators; empty elsewhere): :mod:`coverage.equity`.
EQUITY_COLUMNS = ["gini", "palma", "below_half_target_share"]


@dataclass(frozen=True)
class IndicatorSpec:
    """One access indicator over demand points.

    Attributes
    ----------
    indicator
        Id as written in ``indicators.csv`` (``A1_service_circle``, ``category_coverage``...).
    mode
        ``walk``, ``cycle`` or ``straight``.
    threshold
        Minutes (``unit == "min"``) or metres (``unit == "m"``).
    unit
        ``"min"`` or ``"m"``.
    categories
        The category set; all must be within the threshold.
    costs
        ``(n_demand, len(categories))`` cost to the nearest facility of each category.
    scope
        ``all``: every community (rows for the whole area, its urban and rural
        parts and each community); ``urban`` or ``rural``: only communities of
        that kind (A2 counts rural residents only).
    note
        Note carried to every row (the messages of absent categories, say).
    name
        Column name in per-community tables; default: made from the id and threshold.
    missing
        Categories of the set with no data (absent from the facilities layer
        and not declared surveyed): the indicator reads ``no data``.
    items
        Per community, also count the categories of the set within reach
        (:func:`community_figures`).
    nth
        2: ``costs`` are to the second-nearest facility (redundancy).
    profile
        The walking profile ``costs`` are at (``""``: the standard walker).
    """

    indicator: str
    mode: str
    threshold: float
    unit: str
    categories: tuple[str, ...]
    costs: FloatArray
    scope: str = "all"
    note: Note = NO_NOTE
    name: str = ""
    missing: tuple[str, ...] = ()
    items: bool = False
    nth: int = 1
    profile: str = ""

    @property
    def covered(self) -> npt.NDArray[np.bool_]:
        """Whether each demand point is covered."""
        if self.costs.shape[1] == 0:
            return np.zeros(self.costs.shape[0], dtype=bool)
        return np.asarray(self.costs.max(axis=1) <= self.threshold + TOLERANCE)

    @property
    def column(self) -> str:
        """Column name for per-community tables, e.g. ``A1_service_circle_15min``
        or ``cov_walk_15min_health``."""
        if self.name:
            return self.name
        thr = f"{self.threshold:g}{self.unit}"
        if self.indicator == "category_coverage":
            return f"cov_{self.mode}_{thr}_{'+'.join(self.categories)}"
        return f"{self.indicator}_{thr}"


def coverage_by_group(
    population: FloatArray,
    covered: npt.NDArray[np.bool_],
    group: npt.NDArray[np.int64],
    n_groups: int,
) -> tuple[FloatArray, FloatArray]:
    """Covered and total population per group.

    Examples
    --------
    >>> import numpy as np
    >>> coverage_by_group(np.array([10., 20., 30.]), np.array([True, False, True]),
    ...                   np.array([0, 0, 1]), 2)
    (array([10., 30.]), array([30., 30.]))
    """
    total = np.bincount(group, weights=population, minlength=n_groups).astype(float)
    cov = np.bincount(group, weights=np.where(covered, population, 0.0), minlength=n_groups)
    return cov.astype(float), total


def judge(
    covered: npt.ArrayLike,
    total: npt.ArrayLike,
    target: npt.ArrayLike,
    empty: npt.ArrayLike = "no residents",
) -> tuple[FloatArray, npt.NDArray[np.object_], FloatArray]:
    """Value, status and gap (target - value) of ``covered`` out of ``total``, element-wise.

    One rule for every row: met when ``covered >= target * total`` up to the
    comparison tolerance; no target (NaN): ``no target``; ``empty`` (``no
    residents``, ``no data``, ``not applicable``) when nothing is counted.

    Examples
    --------
    >>> value, status, gap = judge([80.0, 0.0, 5.0], [100.0, 0.0, 10.0], [0.8, 0.8, np.nan])
    >>> value.tolist(), status.tolist(), gap.tolist()[:1]
    ([0.8, nan, 0.5], ['met', 'no residents', 'no target'], [0.0])
    """
    cov, tot = np.asarray(covered, dtype=float), np.asarray(total, dtype=float)
    tgt = np.asarray(target, dtype=float)
    some = tot > 0
    value = np.divide(cov, tot, out=np.full(np.broadcast(cov, tot).shape, np.nan), where=some)
    met = cov >= tgt * tot - TOLERANCE * np.maximum(tot, 1.0)
    status = np.where(np.isnan(tgt), "no target", np.where(met, "met", "short")).astype(object)
    status = np.where(some, status, np.broadcast_to(np.asarray(empty, dtype=object), status.shape))
    gap = np.where(some, tgt - value, np.nan)
    return value, status.astype(object), gap


def indicator_rows(
    *,
    indicator: str,
    scopes: ScopeRows,
    mode: str,
    threshold: float,
    categories: tuple[str, ...],
    covered: FloatArray,
    total: FloatArray,
    fully: npt.ArrayLike,
    counted: npt.ArrayLike,
    note: npt.ArrayLike,
    targets: list[Target],
    empty: npt.ArrayLike = "no residents",
    population: tuple[FloatArray, FloatArray] | None = None,
    no_data: bool = False,
    community: tuple[FloatArray, FloatArray] | None = None,
) -> dict[str, np.ndarray]:
    """Rows of ``indicators.csv`` (:data:`INDICATOR_COLUMNS`) for one indicator: the only place rows are made.

    One row per scope and per preset with a target for it (:func:`targets_for`;
    none: one row with an empty ``preset``). ``covered`` of ``total`` per scope
    gives the value and status (:func:`judge`); ``population`` (covered, total
    residents per scope) is written instead when the row counts something else
    (communities, for rules). ``fully`` and ``counted`` fill
    ``communities_fully_covered`` / ``communities_with_residents``. With
    ``no_data`` an input the figure needs is missing: every row reads ``no
    data`` with no value (METHOD.md, "Statuses"). ``community`` (covered and
    total residents of every community) fills :data:`EQUITY_COLUMNS` of the
    aggregate rows (:func:`equity_columns`). Columns are returned as arrays;
    :func:`indicator_frame` makes the table.
    """
    per_kind = {k: targets_for(targets, indicator, k) for k in set(scopes.kinds)}
    chosen = [per_kind[k] for k in scopes.kinds]
    rep = np.repeat(np.arange(len(scopes.names)), [len(t) for t in chosen])
    flat = [t for ts in chosen for t in ts]
    n = len(scopes.names)

    def each(values: npt.ArrayLike) -> np.ndarray:
        return np.broadcast_to(np.asarray(values, dtype=object), (n,))[rep]

    target = np.array([t.target if t else np.nan for t in flat], dtype=float)
    cov, tot = np.asarray(covered, float)[rep], np.asarray(total, float)[rep]
    value, status, gap = judge(cov, tot, target, each(empty))
    pop_cov, pop_tot = population if population is not None else (covered, total)
    if no_data:
        value, gap = np.full(rep.size, np.nan), np.full(rep.size, np.nan)
        status = np.full(rep.size, "no data", dtype=object)
        pop_cov = np.full(len(scopes.names), np.nan)
    m = rep.size
    equity = equity_columns(scopes, rep, target, None if no_data else community)

    def text(values: list[str]) -> np.ndarray:
        return np.asarray(values, dtype=object).reshape(m)

    return {
        "indicator": np.full(m, indicator, dtype=object),
        "scope": np.asarray(scopes.names, dtype=object)[rep],
        "mode": np.full(m, mode, dtype=object),
        "minutes_or_metres": np.full(m, float(threshold)),
        "categories": np.full(m, "+".join(categories), dtype=object),
        "target": target,
        "value": value,
        "status": status,
        "gap": gap,
        "covered_population": np.asarray(pop_cov, float)[rep],
        "total_population": np.asarray(pop_tot, float)[rep],
        "communities_fully_covered": each(fully).astype(np.int64),
        "communities_with_residents": each(counted).astype(np.int64),
        "target_year": np.array([t.year if t else np.nan for t in flat], dtype=float),
        "binding": text([t.binding if t else "" for t in flat]),
        "wording_zh": text([t.wording_zh if t else "" for t in flat]),
        "wording_en": text([t.wording_en if t else "" for t in flat]),
        "source": text([t.source if t else "" for t in flat]),
        "note": each(note),
        "preset": text([t.preset if t else "" for t in flat]),
        **equity,
    }


def equity_columns(
    scopes: ScopeRows,
    rep: npt.NDArray[np.int64],
    target: FloatArray,
    community: tuple[FloatArray, FloatArray] | None,
) -> dict[str, FloatArray]:
    """:data:`EQUITY_COLUMNS` of rows ``rep`` (positions in ``scopes``) with ``target``.

    For an aggregate scope, over its communities with residents: the Gini
    coefficient and Palma ratio of community coverage weighted by residents,
    and the share of residents in communities below half the row's target.
    Community rows, and every row without ``community``, are NaN; so is a
    Palma ratio without bound (the worst-served 40 % have no coverage while
    someone has: a Gini with an empty Palma), as files cannot all hold ``inf``.
    """
    out = {c: np.full(rep.size, np.nan) for c in EQUITY_COLUMNS}
    if community is None:
        return out
    cov_c, tot_c = (np.asarray(a, dtype=float) for a in community)
    share = np.divide(cov_c, tot_c, out=np.zeros_like(tot_c), where=tot_c > 0)
    for k, mask in enumerate(scopes.masks):
        rows = np.flatnonzero(rep == k)
        if rows.size == 0:
            continue
        x, w = share[mask], tot_c[mask]
        out["gini"][rows] = weighted_gini(x, w)
        palma = palma_ratio(x, w)  # unbounded (the bottom 40 % uncovered): left empty
        out["palma"][rows] = palma if np.isfinite(palma) else np.nan
        out["below_half_target_share"][rows] = [share_below(x, w, t / 2.0) for t in target[rows]]
    return out


def targets_for(targets: list[Target], indicator: str, scope_kind: str) -> list[Target | None]:
    """The targets of an indicator at a scope, one per preset.

    Within a preset, a target for the scope's own kind (``urban``/``rural``)
    wins over one for ``all``. No target at all: ``[None]``.
    """
    chosen: dict[str, Target] = {}
    for t in targets:
        if t.indicator != indicator or t.scope not in ("all", scope_kind):
            continue
        if t.preset not in chosen or (t.scope == scope_kind and chosen[t.preset].scope == "all"):
            chosen[t.preset] = t
    return list(chosen.values()) or [None]


@dataclass(frozen=True)
class ScopeRows:
    """The scopes an indicator is reported for: aggregates first, then each community.

    Attributes
    ----------
    names
        ``all``/``urban``/``rural`` (or the one kind an indicator is for), then ``community:<id>``.
    kinds
        The kind each scope's targets are looked up by.
    masks
        Community masks of the aggregate scopes.
    communities
        Positions of the communities listed, in layer order.
    """

    names: list[str]
    kinds: list[str]
    masks: list[npt.NDArray[np.bool_]]
    communities: npt.NDArray[np.int64]

    @classmethod
    def of(
        cls,
        scope: str,
        community_ids: list[str],
        kinds: npt.NDArray[np.object_],
        listed: npt.NDArray[np.bool_] | None = None,
    ) -> ScopeRows:
        """Scopes of an indicator for ``all`` communities or one kind; ``listed``
        limits the communities given a row of their own."""
        kinds = np.asarray(kinds, dtype=object)
        if scope == "all":
            aggs = [("all", np.ones(len(kinds), bool)), ("urban", kinds == "urban")]
            aggs.append(("rural", kinds == "rural"))
        else:
            aggs = [(scope, kinds == scope)]
        inside = aggs[0][1] if listed is None else aggs[0][1] & listed
        comm = np.flatnonzero(inside)
        return cls(
            [a for a, _ in aggs] + [f"community:{community_ids[j]}" for j in comm],
            [a for a, _ in aggs] + [str(k) for k in kinds[comm]],
            [m for _, m in aggs],
            comm,
        )

    def sums(self, per_community: npt.ArrayLike) -> FloatArray:
        """A per-community value summed over each aggregate, then each listed community's own."""
        v = np.asarray(per_community, dtype=float)
        return np.r_[[float(v[m].sum()) for m in self.masks], v[self.communities]]


def evaluate(
    specs: list[IndicatorSpec],
    population: FloatArray,
    community_index: npt.NDArray[np.int64],
    community_ids: list[str],
    community_kinds: list[str],
    targets: list[Target],
) -> pd.DataFrame:
    """Evaluate indicators for the whole area, the urban and rural parts and each community.

    Parameters
    ----------
    specs
        Indicators.
    population
        Residents per demand point.
    community_index
        Community (position in ``community_ids``) of each demand point.
    community_ids, community_kinds
        Communities and their ``urban``/``rural`` kind.
    targets
        The targets of every preset.

    Returns
    -------
    DataFrame
        One row per indicator, scope and preset with :data:`INDICATOR_COLUMNS`;
        scopes are ``all``, ``urban``, ``rural`` and ``community:<id>``. A row
        is repeated for each preset with a target for it; with none, one row
        with an empty ``preset``.
    """
    nc = len(community_ids)
    kinds = np.asarray(community_kinds, dtype=object)
    frames: list[dict[str, np.ndarray]] = []
    scopes = {s: ScopeRows.of(s, community_ids, kinds) for s in {sp.scope for sp in specs}}
    for spec in specs:
        cov_c, tot_c = coverage_by_group(population, spec.covered, community_index, nc)
        full_c = (tot_c > 0) & (tot_c - cov_c <= TOLERANCE * np.maximum(tot_c, 1.0))
        sc = scopes[spec.scope]
        frames.append(
            indicator_rows(
                indicator=spec.indicator,
                scopes=sc,
                mode=spec.mode,
                threshold=spec.threshold,
                categories=spec.categories,
                covered=sc.sums(cov_c),
                total=sc.sums(tot_c),
                fully=sc.sums(full_c).astype(np.int64),
                counted=sc.sums(tot_c > 0).astype(np.int64),
                note=spec.note,
                targets=targets,
                no_data=bool(spec.missing),
                community=(cov_c, tot_c),
            )
        )
    return indicator_frame(frames)


def indicator_frame(parts: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """Rows of :func:`indicator_rows` as one table with :data:`INDICATOR_COLUMNS`."""
    columns = {
        c: np.concatenate([p[c] for p in parts]) if parts else np.zeros(0, dtype=object)
        for c in INDICATOR_COLUMNS
    }
    frame = pd.DataFrame(columns, columns=INDICATOR_COLUMNS)
    frame["target_year"] = pd.array(
        np.where(np.isnan(frame["target_year"].to_numpy(float)), None, frame["target_year"]),
        dtype="Int64",
    )
    return frame


#: Columns of :func:`shortfalls` holding :class:`~coverage.messages.Message` lists (for
#: reports in any language); tables written to files carry their English renderings.
MESSAGE_COLUMNS = ["reasons", "worst"]


def _reasons(
    spec: IndicatorSpec, population: FloatArray, costs: FloatArray
) -> tuple[list[Message], list[Message]]:
    """Per category of a spec, the residents beyond its threshold and the worst nearest cost."""
    missing, worst = [], []
    for k, cat in enumerate(spec.categories):
        cost = costs[:, k]
        lacking = float(population[cost > spec.threshold + TOLERANCE].sum())
        finite = cost[np.isfinite(cost)]
        if np.isinf(cost).any() or finite.size == 0:
            worst.append(Message("unreachable", {"category": cat}))
        else:
            value = f"{finite.max():.1f}"
            worst.append(Message("worst", {"category": cat, "value": value, "unit": spec.unit}))
        if lacking > 0:
            params = {"category": cat, "residents": lacking, "unit": spec.unit}
            missing.append(Message("beyond", params | {"threshold": f"{spec.threshold:g}"}))
    return missing, worst


def rounded_indicators(table: pd.DataFrame) -> pd.DataFrame:
    """The indicator table as written: shares to 6 decimals, residents to 3 (a new frame)."""
    t = table.copy()
    for col in ("target", "value", "gap", *(c for c in EQUITY_COLUMNS if c in t)):
        t[col] = t[col].astype(float).round(6)
    for col in ("covered_population", "total_population"):
        t[col] = t[col].astype(float).round(3)
    return t


def shortfalls(
    indicators: pd.DataFrame,
    specs: list[IndicatorSpec],
    population: FloatArray,
    community_index: npt.NDArray[np.int64],
    community_ids: list[str],
    rule_details: dict[tuple[str, str], Message] | None = None,
) -> pd.DataFrame:
    """Communities below target, per indicator and preset, with what they lack.

    For each community row with status ``short``: its uncovered residents, and
    for each category of the indicator the residents beyond the threshold and
    the worst nearest-facility cost among its residents. Rule rows (no spec)
    take what they lack from ``rule_details[(indicator, community_id)]``.

    Returns
    -------
    DataFrame
        Columns ``community_id, indicator, mode, minutes_or_metres, categories,
        target, value, gap, uncovered_population, missing_categories,
        worst_nearest`` ranked by uncovered population (then community id).
    """
    by_key = {(s.indicator, s.mode, s.threshold, "+".join(s.categories)): s for s in specs}
    pos = {cid: i for i, cid in enumerate(community_ids)}
    short = indicators[
        (indicators["status"] == "short") & indicators["scope"].str.startswith("community:")
    ]
    rows = []
    for _, r in short.iterrows():
        cid = str(r["scope"]).split(":", 1)[1]
        spec = by_key.get((r["indicator"], r["mode"], r["minutes_or_metres"], r["categories"]))
        if spec is None:
            detail = (rule_details or {}).get((r["indicator"], cid))
            reason = [detail] if detail is not None else []
            rows.append(
                {
                    "community_id": cid,
                    "preset": r.get("preset", ""),
                    "indicator": r["indicator"],
                    "mode": r["mode"],
                    "minutes_or_metres": r["minutes_or_metres"],
                    "categories": r["categories"],
                    "target": r["target"],
                    "value": r["value"],
                    "gap": r["gap"],
                    "uncovered_population": r["total_population"],
                    "missing_categories": render_all(reason),
                    "worst_nearest": "",
                    "reasons": reason,
                    "worst": [],
                }
            )
            continue
        inside = community_index == pos[cid]
        missing, worst = _reasons(spec, population[inside], spec.costs[inside])
        rows.append(
            {
                "community_id": cid,
                "preset": r.get("preset", ""),
                "indicator": r["indicator"],
                "mode": r["mode"],
                "minutes_or_metres": r["minutes_or_metres"],
                "categories": r["categories"],
                "target": r["target"],
                "value": r["value"],
                "gap": r["gap"],
                "uncovered_population": r["total_population"] - r["covered_population"],
                "missing_categories": render_all(missing),
                "worst_nearest": render_all(worst),
                "reasons": missing,
                "worst": worst,
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "community_id",
            "preset",
            "indicator",
            "mode",
            "minutes_or_metres",
            "categories",
            "target",
            "value",
            "gap",
            "uncovered_population",
            "missing_categories",
            "worst_nearest",
            "reasons",
            "worst",
        ],
    )
    return out.sort_values(
        ["uncovered_population", "community_id", "indicator", "preset"],
        ascending=[False, True, True, True],
        kind="stable",
    ).reset_index(drop=True)


def shortfall_areas(
    pieces: gpd.GeoSeries,
    population: FloatArray,
    community_ids: npt.NDArray[np.object_],
    uncovered: npt.NDArray[np.bool_],
    indicator: str,
) -> gpd.GeoDataFrame:
    """Dissolve uncovered demand into contiguous shortfall areas, ranked by residents.

    Parameters
    ----------
    pieces
        The area each demand point stands for (population polygon cut by its
        community; a point for point population).
    population
        Residents per demand point.
    community_ids
        Community of each demand point.
    uncovered
        Demand points counted by the indicator and not covered.
    indicator
        Indicator id written in the ``indicator`` column.

    Returns
    -------
    GeoDataFrame
        ``rank, indicator, uncovered_population, demand_points, communities,
        area_km2``; rank 1 holds the most uncovered residents.
    """
    cols = ["rank", "indicator", "uncovered_population", "demand_points", "communities", "area_km2"]
    sel = np.flatnonzero(uncovered & (population > 0))
    if sel.size == 0:
        return gpd.GeoDataFrame(columns=[*cols, "geometry"], geometry="geometry", crs=pieces.crs)
    merged = shapely.union_all(pieces.values[sel])
    parts = np.asarray(shapely.get_parts(merged))
    tree = shapely.STRtree(parts)
    probe = shapely.point_on_surface(pieces.values[sel])
    pi, pj = tree.query(probe, predicate="intersects")
    part_of = np.full(sel.size, -1, dtype=np.int64)
    part_of[pi[::-1]] = pj[::-1]  # first matching part per piece
    uncovered_pop = np.bincount(part_of, weights=population[sel], minlength=parts.size)
    counts = np.bincount(part_of, minlength=parts.size)
    # each part's communities, in one sort (not a scan of every piece per part)
    pairs = pd.DataFrame({"part": part_of, "id": community_ids[sel].astype(str)})
    pairs = pairs.drop_duplicates().sort_values(["part", "id"], kind="stable")
    joined = pairs.groupby("part", sort=True)["id"].agg(", ".join)
    comms = joined.reindex(np.arange(parts.size), fill_value="").tolist()
    frame = gpd.GeoDataFrame(
        {
            "indicator": indicator,
            "uncovered_population": np.round(uncovered_pop, 3),
            "demand_points": counts,
            "communities": comms,
            "area_km2": np.round(shapely.area(parts) / 1e6, 4),
        },
        geometry=parts,
        crs=pieces.crs,
    )
    frame = frame.sort_values(
        ["uncovered_population", "communities"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame[[*cols, "geometry"]]


@dataclass(frozen=True)
class Costs:
    """Costs from each origin (demand point) to the nearest facility of each group.

    ``minutes[mode]`` by travel time, ``walk_m`` along the walk network and
    ``straight_m`` in a straight line, each ``(n_origins, len(groups))``.
    ``second_minutes[mode]``: minutes to the second-nearest facility of each
    group (``inf`` beyond its search bound or where the group has fewer than
    two); ``walk_factor[profile]``: a walking profile's times over the
    standard walker's (``walk_kmh / profile_kmh``).

    Examples
    --------
    >>> import numpy as np
    >>> c = Costs(("health",), {"walk": np.array([[10.0]])}, np.zeros((1, 1)), np.zeros((1, 1)),
    ...           walk_factor={"older": 1.25})
    >>> c.of("walk", "min", ("health",), profile="older"), c.of("walk", "min", ("post",))
    (array([[12.5]]), array([[inf]]))
    """

    groups: tuple[str, ...]
    minutes: dict[str, FloatArray]
    walk_m: FloatArray
    straight_m: FloatArray
    second_minutes: dict[str, FloatArray] = field(default_factory=dict)
    walk_factor: dict[str, float] = field(default_factory=dict)

    def of(
        self, mode: str, unit: str, cats: tuple[str, ...], nth: int = 1, profile: str = ""
    ) -> FloatArray:
        """``(n_origins, len(cats))`` costs to the ``nth`` nearest facility (1 or 2), at a
        walking ``profile``'s speed when given; a category without facilities is unreachable."""
        if unit == "min":
            table = (self.second_minutes if nth == 2 else self.minutes).get(mode)
            if table is None:  # no second-nearest pass for this mode
                table = np.full_like(self.minutes[mode], np.inf)
            if profile:
                table = table * self.walk_factor[profile]
        else:
            table = self.straight_m if mode == "straight" else self.walk_m
        col = {c: i for i, c in enumerate(self.groups)}
        out = np.full((table.shape[0], len(cats)), np.inf)
        for k, c in enumerate(cats):
            if c in col:
                out[:, k] = table[:, col[c]]
        return out


def absent_note(
    cats: tuple[str, ...], present: set[str], surveyed: tuple[str, ...] = ()
) -> list[Message]:
    """The note of an indicator some of whose categories have no facility (none: ``[]``).

    Examples
    --------
    >>> [str(m) for m in absent_note(("health", "post"), {"health"})]
    ['no data: no post facilities were given (give them in the facilities layer, or list the category in [inputs] surveyed_categories if the study area has none)']
    >>> [str(m) for m in absent_note(("health", "post"), {"health"}, surveyed=("post",))]
    ['no post facilities (surveyed: the study area has none)']
    """
    absent = [c for c in cats if c not in present]
    if not absent:
        return []
    unknown = [c for c in absent if c not in surveyed]
    if unknown:
        return [Message("absent", {"categories": unknown})]
    return [Message("surveyed_none", {"categories": absent})]


def missing_data(
    cats: tuple[str, ...], present: set[str], surveyed: tuple[str, ...]
) -> tuple[str, ...]:
    """Categories of a set with no data: absent from the facilities and not surveyed.

    >>> missing_data(("health", "post"), {"health"}, ())
    ('post',)
    """
    return tuple(c for c in cats if c not in present and c not in surveyed)


def core_specs(
    settings: IndicatorSettings,
    categories: tuple[str, ...],
    costs: Costs,
    present: set[str],
    surveyed: tuple[str, ...] = (),
) -> list[IndicatorSpec]:
    """The core indicators of METHOD.md: category coverage by tier and by bicycle, A1, A2, A3."""
    ind = settings
    specs = [
        IndicatorSpec("category_coverage", mode, minutes, "min", (c,), costs.of(mode, "min", (c,)))
        for mode, tiers in (("walk", ind.tiers_min), ("cycle", (ind.rural_cycle_min,)))
        for minutes in tiers
        for c in categories
    ]
    specs.append(
        IndicatorSpec(
            "A1_service_circle",
            "walk",
            ind.circle_min,
            "min",
            ind.service_circle,
            costs.of("walk", "min", ind.service_circle),
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
        )
    )
    cx = (ind.complex_category,)
    specs += [
        IndicatorSpec(ident, mode, ind.complex_radius_m, "m", cx, costs.of(mode, "m", cx))
        for ident, mode in (
            ("A3_complex_radius_straight", "straight"),
            ("A3_complex_radius_network", "walk"),
        )
    ]
    if "older" in costs.walk_factor:  # A1 read for residents over 60, at their speed
        older = costs.of("walk", "min", ind.service_circle, profile="older")
        specs.append(
            IndicatorSpec(
                "A1_service_circle_older",
                "walk",
                ind.circle_min,
                "min",
                ind.service_circle,
                older,
                profile="older",
            )
        )
    return [
        replace(
            s,
            note=Note.of(absent_note(s.categories, present, surveyed)),
            missing=missing_data(s.categories, present, surveyed),
        )
        for s in specs
    ]


def catalogue_specs(
    entries: list[AccessIndicator],
    costs: Costs,
    present: set[str],
    note: tuple[Message, ...] = (),
    surveyed: tuple[str, ...] = (),
) -> list[IndicatorSpec]:
    """Specs of catalogue access indicators over the origins ``costs`` is for.

    ``note`` is added after the absent-category note (e.g. "counted over workplaces").
    """
    out = []
    for e in entries:
        text = Note.of([*absent_note(e.categories, present, surveyed), *note])
        out.append(
            IndicatorSpec(
                e.id,
                e.mode,
                e.threshold,
                e.unit,
                e.categories,
                costs.of(e.mode, e.unit, e.categories, e.nth, e.profile),
                scope=e.scope,
                note=text,
                name=e.id,
                missing=missing_data(e.categories, present, surveyed),
                items=e.items,
                nth=e.nth,
                profile=e.profile,
            )
        )
    return out


def community_figures(
    communities: gpd.GeoDataFrame,
    specs: list[IndicatorSpec],
    pop: FloatArray,
    cindex: npt.NDArray[np.int64],
    table: pd.DataFrame,
    counts: dict[str, FloatArray] | None = None,
) -> gpd.GeoDataFrame:
    """Per community: residents, area, density, each indicator's share and what falls short.

    A new frame aligned to ``communities``; an indicator for one kind of
    community (A2: rural) is empty for the others. ``counts`` are further
    per-community columns (e.g. residents off the network), rounded to 0.001.
    """
    nc = len(communities)
    total = np.bincount(cindex, weights=pop, minlength=nc)
    area = np.round(communities.geometry.area.to_numpy() / 1e6, 4)
    cols: dict[str, np.ndarray] = {
        "population": np.round(total, 3),
        "area_km2": area,
        "density_per_km2": np.round(np.divide(total, area, out=np.zeros(nc), where=area > 0), 1),
    }
    kinds = communities["kind"].to_numpy()
    for spec in specs:
        cov = np.bincount(cindex, weights=np.where(spec.covered, pop, 0.0), minlength=nc)
        share = np.divide(cov, total, out=np.full(nc, np.nan), where=total > 0)
        if spec.scope != "all":
            share[kinds != spec.scope] = np.nan
        if spec.missing:
            share[:] = np.nan
        cols[spec.column] = np.round(share, 6)
        if spec.items:
            cols |= _item_columns(spec, pop, cindex, np.asarray(total, dtype=float), share)
        if spec.nth == 2:
            cols |= _second_columns(spec, pop, cindex, share)
    for name, values in (counts or {}).items():
        cols[name] = np.round(values, 3)
    rows = table[table["scope"].str.startswith("community:") & (table["status"] == "short")]
    short_ids = rows["scope"].str.split(":", n=1).str[1]
    names = rows["indicator"].where(
        rows["indicator"] != "category_coverage", rows["indicator"] + ":" + rows["categories"]
    )
    listed = names.groupby(short_ids.to_numpy()).agg(lambda s: ", ".join(sorted(set(s))))
    short = communities["community_id"].map(listed).fillna("").to_numpy(dtype=object)
    cols["short_indicators"] = short
    cols["shortfall"] = short != ""
    base = pd.DataFrame(communities).copy()
    for name in [c for c in cols if c in base.columns]:
        base[name] = cols.pop(name)
    frame = pd.concat([base, pd.DataFrame(cols, index=communities.index)], axis=1)
    return gpd.GeoDataFrame(frame, geometry=communities.geometry.name, crs=communities.crs)


def _item_columns(
    spec: IndicatorSpec,
    pop: FloatArray,
    cindex: npt.NDArray[np.int64],
    total: FloatArray,
    share: FloatArray,
) -> dict[str, FloatArray]:
    """Per community, the categories of a set within reach (complete-community items).

    ``<column>_items``: the categories every resident of the community reaches
    within the threshold; ``<column>_items_mean``: the mean number a resident
    reaches. Empty where the indicator's share is (another kind, no residents,
    no data).
    """
    nc = total.size
    within = spec.costs <= spec.threshold + TOLERANCE
    lacking = np.stack(
        [np.bincount(cindex, weights=np.where(w, 0.0, pop), minlength=nc) for w in within.T]
    )
    full = (lacking <= TOLERANCE * np.maximum(total, 1.0)).sum(axis=0).astype(float)
    reached = np.bincount(cindex, weights=within.sum(axis=1) * pop, minlength=nc)
    mean = np.divide(reached, total, out=np.full(nc, np.nan), where=total > 0)
    blank = np.isnan(share)
    full[blank], mean[blank] = np.nan, np.nan
    return {f"{spec.column}_items": full, f"{spec.column}_items_mean": np.round(mean, 3)}


def _second_columns(
    spec: IndicatorSpec, pop: FloatArray, cindex: npt.NDArray[np.int64], share: FloatArray
) -> dict[str, FloatArray]:
    """Per community, the median resident's minutes to the second-nearest facility (of every
    category of the set). Empty where the share is, and where that median lies beyond the
    search bound (files cannot all hold ``inf``)."""
    median = weighted_median_by_group(spec.costs.max(axis=1), pop, cindex, share.size)
    median[np.isnan(share) | np.isinf(median)] = np.nan
    return {f"{spec.column}_second_median_min": np.round(median, 3)}


def targeted_shortfall_areas(
    specs: list[IndicatorSpec],
    targets: list[Target],
    pieces: gpd.GeoSeries,
    pop: FloatArray,
    community_ids: npt.NDArray[np.object_],
    kinds: npt.NDArray[np.object_],
) -> gpd.GeoDataFrame:
    """Shortfall areas of every indicator that has a target, over the scope the target covers.

    ``community_ids`` and ``kinds`` are per demand point. Indicators often
    leave the same residents uncovered (every circle of a category the study
    lacks): each distinct set is dissolved once.
    """
    frames = []
    done: dict[bytes, gpd.GeoDataFrame] = {}
    for spec in specs:
        scopes = {t.scope for t in targets if t.indicator == spec.indicator}
        if not scopes or spec.missing:
            continue
        counted = np.ones(len(pop), dtype=bool) if "all" in scopes else np.isin(kinds, list(scopes))
        if spec.scope != "all":
            counted &= kinds == spec.scope
        uncovered = counted & ~spec.covered
        key = np.packbits(uncovered).tobytes()
        if key not in done:
            done[key] = shortfall_areas(pieces, pop, community_ids, uncovered, spec.indicator)
        frame = done[key].copy()
        frame["indicator"] = spec.indicator
        frames.append(frame)
    if not frames:
        return shortfall_areas(pieces, pop, community_ids, np.zeros(len(pop), bool), "")
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=pieces.crs)
