"""The indicator catalogue: definitions of every indicator beyond the core ones.

The core indicators of METHOD.md (A1 service circle, A2 rural cycling, A3
complex radius, per-category coverage) are defined by the study's
``[indicators]`` section. Everything else (GB 50180-2018 life-circle tiers,
A5-A10 circles, facility rules B1-B7, floor-area rules C1-C6, size norms
D1-D3) is data: ``presets/indicators.toml`` in the package, or a user's own
file. Each entry is an :class:`AccessIndicator` (a population-weighted
coverage) or a :class:`RuleIndicator` (a rule each community must meet).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coverage.categories import CATEGORIES
from coverage.errors import StudyFileError
from coverage.terms import PROFILES

if TYPE_CHECKING:
    from coverage.config import Study

SCOPES = ("all", "urban", "rural")
ACCESS_MODES = ("walk", "cycle", "straight")
ORIGINS = ("residents", "workplaces")
MEASURES = (
    "facilities",
    "floor_area_m2",
    "floor_area_m2_per_100_households",
    "capacity_per_1000_residents",
    "households",
    "residents",
)
WHEN_MEASURES = ("households", "residents")

#: Labels of the core indicators (the catalogue carries its own).
CORE_LABELS: dict[str, tuple[str, str]] = {
    "A1_service_circle": ("城市社区“15分钟社区服务圈”覆盖率", "15-minute community service circle"),
    "A1_service_circle_older": (
        "城市社区“15分钟社区服务圈”覆盖率（60岁以上居民，按老年人步行速度）",
        "15-minute community service circle for residents over 60 (older walkers' speed)",
    ),
    "A2_rural_cycling": (
        "乡村社区骑行15分钟基本公共服务居民覆盖率",
        "rural residents within a 15-minute bicycle ride of basic public services",
    ),
    "A3_complex_radius_straight": (
        "社区综合体1.5公里服务半径覆盖（直线）",
        "community complex within 1.5 km (straight line)",
    ),
    "A3_complex_radius_network": (
        "社区综合体1.5公里服务半径覆盖（路网）",
        "community complex within 1.5 km (walking network)",
    ),
    "category_coverage": ("单类设施覆盖率", "coverage by facility category"),
}


@dataclass(frozen=True)
class AccessIndicator:
    """A coverage indicator over demand points (or workplaces).

    Attributes
    ----------
    id
        Indicator id, e.g. ``A4_circle_5min``.
    mode
        ``walk``, ``cycle`` or ``straight``.
    threshold
        Minutes (``unit == "min"``) or metres (``unit == "m"``).
    unit
        ``"min"`` or ``"m"``; metres with ``walk`` are walking network distance.
    categories
        Every category of the set must be within the threshold.
    scope
        ``all``, ``urban`` or ``rural``: which communities' demand is counted.
    origins
        ``residents`` or ``workplaces`` (the study's workplaces layer).
    nth
        1: the nearest facility of each category counts; 2: the second nearest
        (redundancy: a resident is covered when two facilities of each
        category are within the threshold).
    profile
        ``""``: the standard walker; a walking profile of :data:`coverage.terms.PROFILES`
        (``older``, ``child``): times at that profile's walking speed.
    items
        Also count, per community, the categories of the set within reach
        (complete-community items).
    """

    id: str
    mode: str
    threshold: float
    unit: str
    categories: tuple[str, ...]
    scope: str = "all"
    origins: str = "residents"
    label_zh: str = ""
    label_en: str = ""
    source: str = ""
    nth: int = 1
    profile: str = ""
    items: bool = False


@dataclass(frozen=True)
class RuleIndicator:
    """A rule each applicable community must meet.

    A community complies when ``min <= measure <= max``; with ``each``, the
    measure is taken for every category separately and all must comply. The
    rule applies to communities of its ``scope`` (kind), of its
    ``community_type`` when given, and, with ``when``, whose ``when`` measure
    lies within ``when_min``..``when_max``.
    """

    id: str
    measure: str
    categories: tuple[str, ...] = ()
    each: bool = False
    min: float | None = None
    max: float | None = None
    when: str | None = None
    when_min: float | None = None
    when_max: float | None = None
    scope: str = "all"
    community_type: str | None = None
    label_zh: str = ""
    label_en: str = ""
    source: str = ""

    def describe(self) -> str:
        """The rule in words, e.g. ``facilities (police) >= 1, when residents >= 8000``."""
        what = self.measure + (f" ({', '.join(self.categories)})" if self.categories else "")
        if self.each:
            what = f"{self.measure} of each of {', '.join(self.categories)}"
        text = what + _bounds(self.min, self.max)
        if self.when:
            text += f", when {self.when}" + _bounds(self.when_min, self.when_max)
        if self.community_type:
            text += f", for community_type {self.community_type}"
        return text


Indicator = AccessIndicator | RuleIndicator


def _bounds(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" in {lo:g}..{hi:g}"
    if lo is not None:
        return f" >= {lo:g}"
    if hi is not None:
        return f" <= {hi:g}"
    return ""


_ACCESS_KEYS = {
    "kind",
    "mode",
    "minutes",
    "metres",
    "categories",
    "scope",
    "origins",
    "nth",
    "profile",
    "items",
}
_RULE_KEYS = {
    "kind",
    "measure",
    "categories",
    "each",
    "min",
    "max",
    "when",
    "when_min",
    "when_max",
    "scope",
    "community_type",
}
_TEXT_KEYS = {"label_zh", "label_en", "source"}


def _number(where: str, key: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StudyFileError(f"{where}: {key} must be a number, got {value!r}")
    return float(value)


def _categories(where: str, value: Any, required: bool) -> tuple[str, ...]:
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StudyFileError(f"{where}: categories must be a list of category ids, got {value!r}")
    if required and not value:
        raise StudyFileError(f"{where}: categories must name at least one category")
    for cat in value:
        if cat not in CATEGORIES:
            raise StudyFileError(
                f"{where}: unknown category {cat!r}; valid categories: {', '.join(CATEGORIES)}"
            )
    return tuple(value)


def _choice(where: str, key: str, value: Any, valid: tuple[str, ...]) -> str:
    if value not in valid:
        raise StudyFileError(f"{where}: {key} must be one of {', '.join(valid)}, got {value!r}")
    return str(value)


def _access_options(where: str, entry: dict[str, Any], minutes: bool) -> tuple[int, str, bool]:
    """The ``nth``, ``profile`` and ``items`` keys of an access entry, checked."""
    nth = entry.get("nth", 1)
    if nth not in (1, 2) or isinstance(nth, bool):
        raise StudyFileError(f"{where}: nth must be 1 (nearest) or 2 (second nearest), got {nth!r}")
    profile = entry.get("profile", "")
    if profile != "":
        profile = _choice(where, "profile", profile, PROFILES)
    timed = minutes and entry.get("mode") in ("walk", "cycle")
    if nth == 2 and not (timed and entry.get("origins", "residents") == "residents"):
        raise StudyFileError(
            f"{where}: nth = 2 (second nearest) is measured in minutes, walking or cycling, "
            "over residents"
        )
    if profile and not (minutes and entry.get("mode") == "walk"):
        raise StudyFileError(f'{where}: a walking profile needs mode = "walk" and minutes')
    items = entry.get("items", False)
    if not isinstance(items, bool):
        raise StudyFileError(f"{where}: items must be true or false, got {items!r}")
    return int(nth), str(profile), items


def parse_entry(ident: str, entry: dict[str, Any], where: str) -> Indicator:
    """Validate one catalogue entry and build its indicator."""
    here = f"{where}, [{ident}]"
    kind = entry.get("kind")
    allowed = (_ACCESS_KEYS if kind == "access" else _RULE_KEYS) | _TEXT_KEYS
    if kind not in ("access", "rule"):
        raise StudyFileError(f'{here}: kind must be "access" or "rule", got {kind!r}')
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise StudyFileError(
            f"{here}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(allowed))}"
        )
    text = {k: str(entry.get(k, "")) for k in _TEXT_KEYS}
    scope = _choice(here, "scope", entry.get("scope", "all"), SCOPES)
    if kind == "access":
        mode = _choice(here, "mode", entry.get("mode"), ACCESS_MODES)
        minutes = _number(here, "minutes", entry.get("minutes"))
        metres = _number(here, "metres", entry.get("metres"))
        if (minutes is None) == (metres is None):
            raise StudyFileError(f"{here}: give exactly one of minutes or metres")
        if mode == "straight" and metres is None:
            raise StudyFileError(f"{here}: a straight-line indicator needs metres")
        if mode == "cycle" and metres is not None:
            raise StudyFileError(f"{here}: network distances are measured on the walk network")
        threshold = minutes if minutes is not None else metres
        assert threshold is not None
        if not threshold > 0:
            raise StudyFileError(f"{here}: the threshold must be positive, got {threshold!r}")
        origins = _choice(here, "origins", entry.get("origins", "residents"), ORIGINS)
        if origins == "workplaces" and minutes is not None:
            raise StudyFileError(
                f"{here}: indicators over workplaces are measured in metres (walking along the "
                "network, or straight): give metres instead of minutes"
            )
        nth, profile, items = _access_options(here, entry, minutes is not None)
        return AccessIndicator(
            ident,
            mode,
            threshold,
            "min" if minutes is not None else "m",
            _categories(here, entry.get("categories"), required=True),
            scope,
            origins,
            **text,
            nth=nth,
            profile=profile,
            items=items,
        )
    measure = _choice(here, "measure", entry.get("measure"), MEASURES)
    needs_categories = measure not in ("households", "residents")
    when = entry.get("when")
    if when is not None:
        when = _choice(here, "when", when, WHEN_MEASURES)
    rule = RuleIndicator(
        ident,
        measure,
        _categories(here, entry.get("categories"), required=needs_categories),
        bool(entry.get("each", False)),
        _number(here, "min", entry.get("min")),
        _number(here, "max", entry.get("max")),
        when,
        _number(here, "when_min", entry.get("when_min")),
        _number(here, "when_max", entry.get("when_max")),
        scope,
        entry.get("community_type"),
        **text,
    )
    if rule.min is None and rule.max is None:
        raise StudyFileError(f"{here}: a rule needs min, max or both")
    return rule


def load_catalogue(path: Path | None = None) -> dict[str, Indicator]:
    """Load the shipped catalogue, or a user's catalogue file.

    Parameters
    ----------
    path
        A TOML file of the same form as ``presets/indicators.toml``; ``None``:
        the shipped catalogue.

    Returns
    -------
    dict
        Indicator id -> definition, in file order.

    Examples
    --------
    >>> cat = load_catalogue()
    >>> cat["A5_convenience_5min"].threshold, cat["A5_convenience_5min"].categories
    (5.0, ('convenience',))
    """
    if path is None:
        text = (resources.files("coverage") / "presets" / "indicators.toml").read_text("utf-8")
        where = "the shipped indicator catalogue"
    else:
        if not path.is_file():
            raise StudyFileError(f"indicator catalogue {path} does not exist")
        text = path.read_text("utf-8")
        where = f"indicator catalogue {path}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StudyFileError(f"{where} is not valid TOML ({exc})") from exc
    out: dict[str, Indicator] = {}
    for ident, entry in data.items():
        if not isinstance(entry, dict):
            raise StudyFileError(f"{where}: {ident} must be a table [{ident}]")
        out[ident] = parse_entry(ident, entry, where)
    return out


def study_catalogue(study: Study) -> dict[str, Indicator]:
    """The study's indicator catalogue: its own file or the shipped one, with its set overrides.

    ``[indicators] catalogue`` (relative to the study file) replaces the
    shipped catalogue; ``[indicators.sets]`` replaces the facility set of
    named indicators.
    """
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


def indicator_label(
    indicator: str, lang: str = "en", catalogue: dict[str, Indicator] | None = None
) -> str:
    """The human label of an indicator id, in ``en`` or ``zh``.

    Examples
    --------
    >>> indicator_label("A1_service_circle", "zh")
    '城市社区“15分钟社区服务圈”覆盖率'
    >>> indicator_label("A5_convenience_5min")
    'convenience store within 5 minutes'
    """
    if indicator in CORE_LABELS:
        zh, en = CORE_LABELS[indicator]
        return zh if lang == "zh" else en
    entry = (catalogue if catalogue is not None else load_catalogue()).get(indicator)
    if entry is None:
        return indicator
    return (entry.label_zh if lang == "zh" else entry.label_en) or indicator
