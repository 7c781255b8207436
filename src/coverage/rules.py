"""Rules each community must meet: facility sets, floor areas, places, size norms.

A :class:`~coverage.catalogue.RuleIndicator` is checked community by community
on measures taken from the facilities inside it (point in polygon; a facility
outside every community counts for none) and from the community's own
``households`` and residents. The rule's value over a scope is the share of the
applicable communities that comply; ``covered_population`` is the residents of
complying communities. Communities whose measure cannot be taken (no
``households``, no ``floor_area_m2`` or ``capacity`` column) are left out of
the share and counted in the row's note; when none can be measured the status
is ``no data``. Facilities of a counted category without a floor area or
capacity count as 0 (never overstating compliance), and the note says how
many there are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from coverage.catalogue import RuleIndicator
from coverage.indicators import ScopeRows, indicator_frame, indicator_rows
from coverage.messages import Message, Note, render
from coverage.targets import Target
from coverage.terms import TOLERANCE

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Community type assumed for urban communities when the layer has no ``community_type``.
DEFAULT_URBAN_TYPE = "traditional"


@dataclass(frozen=True)
class RuleCheck:
    """One rule checked for every community (arrays aligned to the communities).

    Attributes
    ----------
    rule
        The rule.
    applies
        The rule applies to the community (scope, type and ``when``).
    known
        The measure could be taken.
    complies
        Applies, known, and within the bounds.
    measure
        The measure (for ``each`` rules: the smallest over the categories).
    detail
        Per community, what falls short (empty when it complies), in English.
    note
        Data gaps, for every row of the rule.
    messages
        Per community, what falls short as a :class:`~coverage.messages.Message`
        (``None`` when it complies), for reports in any language.
    """

    rule: RuleIndicator
    applies: BoolArray
    known: BoolArray
    complies: BoolArray
    measure: FloatArray
    detail: list[str]
    note: Note
    messages: list[Message | None] = field(default_factory=list)


def facility_community(facilities: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> np.ndarray:
    """Position of the community containing each facility (first in layer order), or -1."""
    out = np.full(len(facilities), -1, dtype=np.int64)
    if len(facilities) == 0 or len(communities) == 0:
        return out
    fi, ci = communities.sindex.query(facilities.geometry.values, predicate="intersects")
    order = np.lexsort((ci, fi))
    fi, ci = fi[order], ci[order]
    first = np.r_[True, fi[1:] != fi[:-1]] if fi.size else np.zeros(0, dtype=bool)
    out[fi[first]] = ci[first]
    return out


def _within(value: FloatArray, lo: float | None, hi: float | None) -> BoolArray:
    ok = np.ones(value.shape, dtype=bool)
    if lo is not None:
        ok &= value >= lo - TOLERANCE
    if hi is not None:
        ok &= value <= hi + TOLERANCE
    return ok


def _bounds_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{number(lo)}–{number(hi)}"
    return f"≥ {number(lo)}" if lo is not None else f"≤ {number(hi)}"


def number(value: float | None) -> str:
    """A figure for people to read: thousands separated, never in e-notation.

    >>> number(21840.4), number(0.25), number(3.0), number(1234567)
    ('21,840', '0.25', '3', '1,234,567')
    """
    if value is None or not np.isfinite(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) >= 1 else f"{value:.2g}"


def check_rule(  # noqa: C901
    rule: RuleIndicator,
    kinds: np.ndarray,
    types: np.ndarray,
    households: FloatArray,
    residents: FloatArray,
    facility_category: np.ndarray,
    facility_community_pos: np.ndarray,
    floor_area_m2: FloatArray | None,
    capacity: FloatArray | None,
    surveyed: tuple[str, ...] = (),
) -> RuleCheck:
    """Check one rule for every community.

    Parameters
    ----------
    rule
        The rule.
    kinds, types
        Each community's kind (``urban``/``rural``) and type (``community_type``).
    households, residents
        Per community (households NaN when unknown).
    facility_category, facility_community_pos
        Each facility's category and the position of its community (-1: none).
    floor_area_m2, capacity
        Per facility, or ``None`` when the layer has no such column.
    surveyed
        Categories the study declares surveyed (none exist). A rule on
        facilities of a category absent from the layer and not surveyed
        cannot be checked: every community reads ``no data``.

    Returns
    -------
    RuleCheck
        Arrays aligned to the communities.
    """
    nc = len(kinds)
    applies = np.ones(nc, dtype=bool) if rule.scope == "all" else kinds == rule.scope
    if rule.community_type is not None:
        applies &= types == rule.community_type
    notes: list[Message] = []
    if rule.when is not None:
        cond = households if rule.when == "households" else residents
        unknown_when = int((applies & ~np.isfinite(cond)).sum())
        applies &= np.isfinite(cond) & _within(cond, rule.when_min, rule.when_max)
        if unknown_when:
            notes.append(Message("when_unknown", {"count": unknown_when, "measure": rule.when}))
    absent = [c for c in rule.categories if c not in set(facility_category)]
    no_data = [c for c in absent if c not in surveyed]
    if no_data:
        notes.append(Message("absent", {"categories": no_data}))
    elif absent:
        notes.append(Message("surveyed_none", {"categories": absent}))
    inside = facility_community_pos >= 0
    in_cats = np.isin(facility_category, list(rule.categories)) & inside

    def per_community(weights: FloatArray, mask: BoolArray) -> FloatArray:
        counted = np.bincount(facility_community_pos[mask], weights=weights[mask], minlength=nc)
        return counted.astype(float)

    ones = np.ones(len(facility_category))
    messages: list[Message | None] = [None] * nc
    if rule.measure == "facilities" and rule.each:
        counts = np.column_stack(
            [per_community(ones, in_cats & (facility_category == c)) for c in rule.categories]
        )
        ok_each = _within(counts, rule.min, rule.max)
        measure = counts.min(axis=1)
        complies_raw = ok_each.all(axis=1)
        for j in np.flatnonzero(~complies_raw):
            lacking = [c for k, c in enumerate(rule.categories) if not ok_each[j, k]]
            items = [
                Message(
                    "lacks_item",
                    {
                        "category": c,
                        "count": int(counts[j, rule.categories.index(c)]),
                        "bounds": _bounds_text(rule.min, rule.max),
                    },
                )
                for c in lacking
            ]
            messages[j] = Message("lacks", {"items": items})
        known = np.ones(nc, dtype=bool)
    else:
        if rule.measure == "facilities":
            measure = per_community(ones, in_cats)
            known = np.ones(nc, dtype=bool)
        elif rule.measure in ("floor_area_m2", "floor_area_m2_per_100_households"):
            if floor_area_m2 is None:
                measure, known = np.full(nc, np.nan), np.zeros(nc, dtype=bool)
                notes.append(Message("no_column", {"column": "floor_area_m2"}))
            else:
                missing = int((in_cats & ~np.isfinite(floor_area_m2)).sum())
                if missing:
                    notes.append(
                        Message("column_missing", {"count": missing, "column": "floor_area_m2"})
                    )
                area = per_community(np.nan_to_num(floor_area_m2), in_cats)
                if rule.measure == "floor_area_m2":
                    measure, known = area, np.ones(nc, dtype=bool)
                else:
                    known = np.isfinite(households) & (households > 0)
                    measure = np.divide(
                        area * 100.0,
                        households,
                        out=np.full(nc, np.nan),
                        where=known,
                    )
        elif rule.measure == "capacity_per_1000_residents":
            if capacity is None:
                measure, known = np.full(nc, np.nan), np.zeros(nc, dtype=bool)
                notes.append(Message("no_column", {"column": "capacity"}))
            else:
                missing = int((in_cats & ~np.isfinite(capacity)).sum())
                if missing:
                    notes.append(
                        Message("column_missing", {"count": missing, "column": "capacity"})
                    )
                places = per_community(np.nan_to_num(capacity), in_cats)
                known = residents > 0
                measure = np.divide(
                    places * 1000.0, residents, out=np.full(nc, np.nan), where=known
                )
        elif rule.measure == "households":
            measure, known = households.astype(float), np.isfinite(households)
        else:  # residents
            measure, known = residents.astype(float), np.ones(nc, dtype=bool)
        complies_raw = known & _within(np.nan_to_num(measure, nan=-np.inf), rule.min, rule.max)
        unit = {
            "floor_area_m2": "m²",
            "floor_area_m2_per_100_households": "per100",
            "capacity_per_1000_residents": "per1000",
        }.get(rule.measure, "")
        for j in np.flatnonzero(known & ~complies_raw):
            messages[j] = Message(
                "measure",
                {
                    "measure": rule.measure,
                    "value": number(measure[j]),
                    "unit": unit,
                    "bounds": _bounds_text(rule.min, rule.max),
                },
            )
    if no_data and rule.measure not in ("households", "residents"):
        # facilities of the absent categories can only add to a sum: a community already at
        # the minimum with the others complies; any other is unknown
        sums = not rule.each and rule.max is None
        known = known & complies_raw if sums else np.zeros(nc, dtype=bool)
        messages = [m if k else None for m, k in zip(messages, known, strict=True)]
    unknown = int((applies & ~known).sum())
    if unknown and not no_data and not any(n.code == "no_column" for n in notes):
        why = "households" if "households" in rule.measure else "residents"
        notes.append(Message("rule_unknown", {"count": unknown, "measure": why}))
    return RuleCheck(
        rule,
        applies,
        known,
        applies & known & complies_raw,
        np.asarray(measure, dtype=float),
        [render(m, "en") if m is not None else "" for m in messages],
        Note.of(notes),
        messages,
    )


def community_inputs(
    communities: gpd.GeoDataFrame,
) -> tuple[np.ndarray, np.ndarray, FloatArray]:
    """Kinds, types (``community_type`` or the default) and households of the communities."""
    kinds = communities["kind"].to_numpy(dtype=object)
    if "community_type" in communities.columns:
        types = communities["community_type"].fillna("").astype(str).to_numpy(dtype=object)
    else:
        types = np.where(kinds == "urban", DEFAULT_URBAN_TYPE, "").astype(object)
    if "households" in communities.columns:
        households = pd.to_numeric(communities["households"], errors="coerce").to_numpy(float)
    else:
        households = np.full(len(communities), np.nan)
    return kinds, types, households


def _optional(facilities: gpd.GeoDataFrame, column: str) -> FloatArray | None:
    if column not in facilities.columns:
        return None
    values = pd.to_numeric(facilities[column], errors="coerce").to_numpy(float)
    return values if np.isfinite(values).any() else None


def check_rules(
    rules: list[RuleIndicator],
    communities: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    residents: FloatArray,
    surveyed: tuple[str, ...] = (),
) -> list[RuleCheck]:
    """Check every rule for every community (the GeoDataFrame shell of :func:`check_rule`)."""
    kinds, types, households = community_inputs(communities)
    pos = facility_community(facilities, communities)
    cats = facilities["category"].to_numpy(dtype=object)
    area = _optional(facilities, "floor_area_m2")
    cap = _optional(facilities, "capacity")
    return [
        check_rule(r, kinds, types, households, residents, cats, pos, area, cap, surveyed)
        for r in rules
    ]


def evaluate_rules(
    checks: list[RuleCheck],
    community_ids: list[str],
    kinds: np.ndarray,
    residents: FloatArray,
    targets: list[Target],
) -> pd.DataFrame:
    """Indicator rows of the rules: aggregate scopes and each applicable community.

    ``value`` is the share of applicable, measurable communities that comply;
    ``communities_fully_covered`` counts complying communities and
    ``communities_with_residents`` the applicable, measurable ones.
    """
    kinds = np.asarray(kinds, dtype=object)
    frames: list[dict[str, np.ndarray]] = []
    for chk in checks:
        rule = chk.rule
        counted = chk.applies & chk.known
        sc = ScopeRows.of(rule.scope, community_ids, kinds, listed=chk.applies)
        ok = sc.sums(chk.complies)
        n = sc.sums(counted)
        # a community's own row says what it has; aggregates carry the rule's note
        own = [_own_note(chk, j) for j in sc.communities]
        applies = sc.sums(chk.applies) > 0
        frames.append(
            indicator_rows(
                indicator=rule.id,
                scopes=sc,
                mode="rule",
                threshold=np.nan,
                categories=rule.categories,
                covered=ok,
                total=n,
                fully=ok.astype(np.int64),
                counted=n.astype(np.int64),
                note=np.array([chk.note] * len(sc.masks) + own, dtype=object),
                targets=targets,
                empty=np.where(applies, "no data", "not applicable"),
                population=(
                    sc.sums(np.where(chk.complies, residents, 0.0)),
                    sc.sums(np.where(counted, residents, 0.0)),
                ),
            )
        )
    return indicator_frame(frames)


def _own_note(chk: RuleCheck, j: int) -> Note:
    """A community's own row note: what falls short, else its measure, else the rule's note."""
    message = chk.messages[j] if j < len(chk.messages) else None
    if message is not None:
        return Note.of([message])
    if np.isfinite(chk.measure[j]):
        value = {"measure": chk.rule.measure, "value": number(chk.measure[j])}
        return Note.of([Message("measure_value", value)])
    return chk.note


def rule_details(
    checks: list[RuleCheck], community_ids: list[str]
) -> dict[tuple[str, str], Message]:
    """``(rule id, community id) -> what falls short``, for the shortfall list."""
    out: dict[tuple[str, str], Message] = {}
    for chk in checks:
        for j, cid in enumerate(community_ids):
            message = chk.messages[j] if j < len(chk.messages) else None
            if message is not None:
                out[(chk.rule.id, cid)] = message
    return out
