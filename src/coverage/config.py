"""The study: an explicit, validated, frozen configuration object.

A study file is TOML. Paths are relative to the study file's folder. Every
section and key is optional except ``[inputs]``; unknown keys are refused with
the closest valid key::

    name = "Porto Alegre demo"
    crs = "EPSG:32722"            # optional; default: UTM zone of the study area
    attribution = "population: IPEA"   # data credits shown on the map and in reports

    [inputs]
    communities = "boundaries/poa_communities.geojson"
    facilities = "facilities/poa_facilities.geojson"
    population = "population/poa_population.geojson"   # optional
    network = "network/poa_osm.pbf"                    # optional: osmnx download

    [speeds]
    walk_kmh = 4.0
    cycle_kmh = 12.0
    cycle_push_kmh = 0.0          # > 0: cyclists may push on footways/steps at this speed
    older_walk_kmh = 3.2          # walking profile of residents over 60 (A1 "for older residents")
    child_walk_kmh = 3.2          # walking profile of children (school indicators)
    [speeds.walk_highway_kmh]     # optional speeds for particular OSM highway values
    steps = 2.0
    [speeds.cycle_highway_kmh]
    track = 8.0

    [network]
    component = "largest"         # "largest": the largest (strongly) connected part; "all"
    service_area_buffer_m = 50.0  # half-width of the drawn service areas (display only)
    cache_dir = ""                # downloaded networks; "": $SERVICE_COVERAGE_CACHE or ~/.cache
    download_attempts = 3         # tries per download when the failure may pass

    [snapping]
    walk_limit_m = 300.0
    cycle_limit_m = 1000.0
    oneway_tie_m = 1.0            # one-way street: a facility less than this behind is reached

    [indicators]
    service_circle = ["community_service"]     # A1 set S
    rural_services = ["community_service"]     # A2 basic public services
    tiers_min = [5, 10, 15]
    circle_min = 15
    rural_cycle_min = 15
    complex_category = "community_complex"
    complex_radius_m = 1500.0

    catalogue = ""                # optional: your own indicator catalogue (TOML)
    [indicators.sets]             # optional: replace the facility set of a catalogue indicator
    A4_circle_5min = ["community_service", "kindergarten", "convenience"]

    [capacity]                    # 2SFCA for facilities whose capacity matters
    categories = ["nursery", "elderly_care"]
    mode = "walk"
    minutes = 15.0

    [targets]
    preset = ["suining-2025"]     # shipped preset names and/or paths to CSV files

    [map]
    basemap = "osm"               # "osm", "none" or a tile URL template ({z}/{x}/{y})
    offline = false               # true: no remote basemap (assets are always inlined)

    [datum]                       # lon/lat layers exported from Chinese map services
    facilities = "gcj02"          # "wgs84" (default), "gcj02" (Gaode, Tencent) or "bd09" (Baidu)
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from coverage.categories import CATEGORIES, suggest_category
from coverage.errors import StudyFileError
from coverage.terms import ONEWAY_TIE_M


@dataclass(frozen=True)
class Inputs:
    """Paths of the input layers (absolute after loading), and the categories surveyed.

    ``surveyed_categories``: facility categories the study has looked for and
    found none of. An indicator needing a category absent from the facilities
    layer reads ``no data`` (METHOD.md, "Statuses") unless the category is
    listed here: then its 0 % is real and may be ``short``.
    """

    communities: Path
    #: a file, or ``"osm"``: the facilities of OpenStreetMap (the network's file, or a
    #: download with the network), completeness unknown
    facilities: Path | str
    population: Path | None = None
    network: Path | None = None
    workplaces: Path | None = None
    surveyed_categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Speeds:
    """Travel speeds per mode, km/h.

    ``*_highway_kmh`` give speeds for particular OSM ``highway`` values; access
    legs and every other street use the mode's speed. ``cycle_push_kmh > 0``
    adds footways and steps to the cycle network, travelled at that speed
    (pushing), unless ``cycle_highway_kmh`` names them.

    ``older_walk_kmh`` and ``child_walk_kmh`` are the walking profiles of
    :data:`coverage.terms.PROFILES` (METHOD.md, "Walking profiles"): a profile
    walks every street, and its access legs, at ``walk_kmh`` scaled by
    ``profile / walk_kmh`` (a ``walk_highway_kmh`` speed scales alike), so its
    times are the standard walker's times times ``walk_kmh / profile``.
    Default 3.2 km/h (0.89 m/s) for both: GB 50180-2018's 15-minute circle at
    its lower bound of 800 m, and just under the 0.91 m/s (3.0 ft/s, 3.3 km/h)
    design speed recommended for older pedestrians by Knoblauch, Pietrucha and
    Nitzburg (1996, Transportation Research Record 1538; from memory, check
    against the paper). No children's figure is verified here: the child
    default is the same cautious 3.2 km/h.
    """

    walk_kmh: float = 4.0
    cycle_kmh: float = 12.0
    walk_highway_kmh: dict[str, float] = field(default_factory=dict)
    cycle_highway_kmh: dict[str, float] = field(default_factory=dict)
    cycle_push_kmh: float = 0.0
    older_walk_kmh: float = 3.2
    child_walk_kmh: float = 3.2

    def profile_kmh(self, profile: str) -> float:
        """The walking speed of a profile (``""``: the standard walker).

        Examples
        --------
        >>> Speeds().profile_kmh("older"), Speeds().profile_kmh("")
        (3.2, 4.0)
        """
        return float(getattr(self, f"{profile}_walk_kmh")) if profile else self.walk_kmh

    def highway_kmh(self, mode: str) -> dict[str, float]:
        """Speeds by ``highway`` value for a mode, pushing speeds included."""
        if mode == "walk":
            return dict(self.walk_highway_kmh)
        pushed = dict.fromkeys(("footway", "steps"), self.cycle_push_kmh) if self.push else {}
        return pushed | dict(self.cycle_highway_kmh)

    @property
    def push(self) -> bool:
        """Whether cyclists may push on footways and steps."""
        return self.cycle_push_kmh > 0

    def describe(self) -> str:
        """The speeds in words, for reports."""
        parts = []
        for mode, kmh in (("walk", self.walk_kmh), ("cycle", self.cycle_kmh)):
            extra = ", ".join(f"{k} {v:g}" for k, v in sorted(self.highway_kmh(mode).items()))
            parts.append(f"{mode} {kmh:g} km/h" + (f" ({extra} km/h)" if extra else ""))
        return "; ".join(parts)


@dataclass(frozen=True)
class Snapping:
    """Largest straight access leg to the network, metres, per mode, and the one-way tie.

    ``oneway_tie_m``: on a one-way segment, a facility less than this far
    behind a resident (along the segment) is reached by riding back to it,
    not round the block: two points at the same spot snap to fractions that
    differ by float noise (METHOD.md, "One-way streets"). 0 turns the rule
    off; at most :data:`MAX_ONEWAY_TIE_M`.
    """

    walk_limit_m: float = 300.0
    cycle_limit_m: float = 1000.0
    oneway_tie_m: float = ONEWAY_TIE_M


#: Largest accepted ``[snapping] oneway_tie_m``: beyond it the rule would let
#: cyclists ride against one-way streets, not just settle float noise.
MAX_ONEWAY_TIE_M = 10.0


@dataclass(frozen=True)
class NetworkSettings:
    """Which part of the network is used, how service areas are drawn, and downloads.

    ``cache_dir`` and ``download_attempts`` apply when ``[inputs] network`` is
    omitted and the network is downloaded with OSMnx. ``cache_dir``: the folder
    downloads are kept in and reused from (relative to the study file's
    folder; empty: :func:`coverage.network.default_cache_dir`).
    ``download_attempts``: tries per download when the failure may pass (no
    connection, timeouts, a busy server). ``catchment_counts``: count, per
    facility and mode, the residents within the mode's threshold
    (``population_within_<mode>`` of the facilities layer, the facility
    popups); false leaves them empty (one bounded pass per facility less: about
    half of the reach stage on a prefecture).
    """

    component: str = "largest"
    service_area_buffer_m: float = 50.0
    cache_dir: str = ""
    download_attempts: int = 3
    catchment_counts: bool = True

    def cache_path(self, base_dir: Path | None = None) -> Path | None:
        """The download cache folder, or ``None`` for the default one.

        Parameters
        ----------
        base_dir
            Folder a relative ``cache_dir`` is read from (the study file's).

        Returns
        -------
        Path or None
            ``cache_dir`` with ``~`` expanded, under ``base_dir`` when relative.

        Examples
        --------
        >>> NetworkSettings(cache_dir="cache").cache_path(Path("/studies")).as_posix()
        '/studies/cache'
        >>> NetworkSettings().cache_path(Path("/studies")) is None
        True
        """
        if not self.cache_dir:
            return None
        path = Path(self.cache_dir).expanduser()
        if base_dir is not None and not path.is_absolute():
            path = Path(base_dir) / path
        return path


@dataclass(frozen=True)
class IndicatorSettings:
    """Which categories and thresholds make up the indicators of METHOD.md."""

    service_circle: tuple[str, ...] = ("community_service",)
    rural_services: tuple[str, ...] = ("community_service",)
    tiers_min: tuple[float, ...] = (5.0, 10.0, 15.0)
    circle_min: float = 15.0
    rural_cycle_min: float = 15.0
    complex_category: str = "community_complex"
    complex_radius_m: float = 1500.0
    catalogue: str = ""
    sets: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Capacity:
    """Capacity-aware access: two-step floating catchment (2SFCA) ratios.

    For each category listed that has facilities with a ``capacity``, the ratio
    of a facility is its capacity over the residents within ``minutes`` by
    ``mode``; a demand point's access is the sum of the ratios of the facilities
    within ``minutes`` of it (places per 1 000 residents in the outputs).
    """

    categories: tuple[str, ...] = ("nursery", "elderly_care")
    mode: str = "walk"
    minutes: float = 15.0


@dataclass(frozen=True)
class Siting:
    """Where new facilities should go (``service-coverage site``).

    The coverage rule: ``mode`` ``walk`` or ``cycle`` with ``minutes`` (travel
    time), ``walk`` with ``metres`` (walking network distance), or
    ``straight`` with ``metres`` (radius; the default: the 1.5 km rule of
    community complexes). Residents already covered by existing facilities of
    ``category`` are fixed and left out. ``model``: ``mclp`` (choose ``p``
    sites), ``set_cover`` (fewest sites reaching ``target_share`` of the
    residents of ``scope``), ``p_median`` (``p`` sites minimising the
    residents' total travel time, times capped at ``minutes``) or ``test``
    (rank the user's ``candidates``).
    Candidates: the ``candidates`` layer, or walk-network nodes every
    ``spacing_m`` inside the study area (``within = "study"``) or inside the
    uncovered demand (``within = "shortfall"``).
    """

    category: str = "community_complex"
    mode: str = "straight"
    minutes: float = 0.0
    metres: float = 1500.0
    scope: str = "all"
    model: str = "mclp"
    p: int = 3
    target_share: float = 1.0
    candidates: str = ""
    spacing_m: float = 200.0
    within: str = "study"
    solver: str = "milp"
    time_limit_s: float = 60.0


@dataclass(frozen=True)
class MapSettings:
    """The interactive map: basemap, offline use, size cap and simplification.

    ``basemap``: ``"osm"`` (OpenStreetMap's tile servers), ``"none"``, or a
    tile URL template with ``{z}``, ``{x}`` and ``{y}`` (a local tile server
    or a ``file://`` folder of tiles), credited with ``basemap_attribution``.
    Empty: ``"osm"``, or ``"none"`` when ``offline``. ``offline``: the map
    loads nothing from the internet (Leaflet is inlined in every map; this
    refuses the OpenStreetMap tile servers). ``max_size_mb``: the largest
    map file written; geometries are simplified further (doubling
    ``simplify_m``) until the page fits. ``demand_grid``: include the
    demand grid as a layer (hidden until ticked). ``service_areas``: trace
    the service areas for the map and ``communities.gpkg`` (false skips them:
    on a prefecture they are among the slowest outputs).
    """

    basemap: str = ""
    basemap_attribution: str = ""
    offline: bool = False
    max_size_mb: float = 20.0
    simplify_m: float = 2.0
    demand_grid: bool = True
    service_areas: bool = True

    def tiles(self) -> str:
        """The basemap in use: ``"osm"``, ``"none"`` or a URL template."""
        return self.basemap or ("none" if self.offline else "osm")


#: Coordinate systems of lon/lat layers accepted for conversion to WGS84.
DATUMS = ("wgs84", "gcj02", "bd09")


@dataclass(frozen=True)
class Datums:
    """The datum of each lon/lat vector layer: ``wgs84``, ``gcj02`` or ``bd09``.

    Layers exported from Gaode (Amap) or Tencent maps are in GCJ-02 and from
    Baidu maps in BD-09: declared as EPSG:4326 they sit hundreds of metres
    off. A layer declared here is converted to WGS84 when read.
    """

    communities: str = "wgs84"
    facilities: str = "wgs84"
    workplaces: str = "wgs84"
    candidates: str = "wgs84"


@dataclass(frozen=True)
class Targets:
    """Target presets: shipped names (see :mod:`coverage.targets`) or CSV paths."""

    preset: tuple[str, ...] = ("suining-2025",)

    def describe(self) -> str:
        """The presets in words, for reports."""
        return ", ".join(self.preset)


@dataclass(frozen=True)
class CategoryMap:
    """``[categories]``: the user's facility type values mapped to the tool's categories.

    ``preset``: shipped mappings (``gaode`` for Gaode POI type codes, ``osm`` for
    OpenStreetMap tags: :mod:`coverage.vocabulary`); ``values``: the study's own
    (``"村卫生室" = "health"``), which win over the presets.
    """

    preset: tuple[str, ...] = ()
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Study:
    """A whole study: inputs and every setting that shapes a number."""

    inputs: Inputs
    name: str = "study"
    crs: str | None = None
    attribution: str = ""
    speeds: Speeds = field(default_factory=Speeds)
    snapping: Snapping = field(default_factory=Snapping)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    indicators: IndicatorSettings = field(default_factory=IndicatorSettings)
    capacity: Capacity = field(default_factory=Capacity)
    siting: Siting = field(default_factory=Siting)
    targets: Targets = field(default_factory=Targets)
    map: MapSettings = field(default_factory=MapSettings)
    datum: Datums = field(default_factory=Datums)
    #: ``[columns.<layer>]``: per layer, the tool's column name -> the user's.
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    categories: CategoryMap = field(default_factory=CategoryMap)
    source: Path | None = None

    def __post_init__(self) -> None:
        _validate(self)

    def with_overrides(self, **changes: Any) -> Study:
        """Return a copy with top-level fields replaced (validated again)."""
        return replace(self, **changes)


def _validate(study: Study) -> None:  # noqa: C901
    where = f"study file {study.source}" if study.source else "study"
    for name, value in (
        ("speeds.walk_kmh", study.speeds.walk_kmh),
        ("speeds.cycle_kmh", study.speeds.cycle_kmh),
        ("speeds.older_walk_kmh", study.speeds.older_walk_kmh),
        ("speeds.child_walk_kmh", study.speeds.child_walk_kmh),
        ("snapping.walk_limit_m", study.snapping.walk_limit_m),
        ("snapping.cycle_limit_m", study.snapping.cycle_limit_m),
        ("indicators.circle_min", study.indicators.circle_min),
        ("indicators.rural_cycle_min", study.indicators.rural_cycle_min),
        ("indicators.complex_radius_m", study.indicators.complex_radius_m),
        ("network.service_area_buffer_m", study.network.service_area_buffer_m),
        *(
            (f"speeds.{mode}_highway_kmh.{k}", v)
            for mode in ("walk", "cycle")
            for k, v in getattr(study.speeds, f"{mode}_highway_kmh").items()
        ),
    ):
        if not value > 0:
            raise StudyFileError(f"{where}: {name} must be a positive number, got {value!r}")
    if not study.speeds.cycle_push_kmh >= 0:
        raise StudyFileError(
            f"{where}: speeds.cycle_push_kmh must be 0 (no pushing) or a positive number, "
            f"got {study.speeds.cycle_push_kmh!r}"
        )
    if not 0 <= study.snapping.oneway_tie_m <= MAX_ONEWAY_TIE_M:
        raise StudyFileError(
            f"{where}: snapping.oneway_tie_m must be between 0 (off) and "
            f"{MAX_ONEWAY_TIE_M:g} metres, got {study.snapping.oneway_tie_m!r}; "
            f"the default is {ONEWAY_TIE_M:g}"
        )
    if study.network.component not in ("largest", "all"):
        raise StudyFileError(
            f'{where}: network.component must be "largest" or "all", '
            f"got {study.network.component!r}"
        )
    if not study.network.download_attempts >= 1:
        raise StudyFileError(
            f"{where}: network.download_attempts must be 1 or more, "
            f"got {study.network.download_attempts!r}"
        )
    if not study.indicators.tiers_min or any(not t > 0 for t in study.indicators.tiers_min):
        raise StudyFileError(
            f"{where}: indicators.tiers_min must be a non-empty list of positive minutes, "
            f"got {list(study.indicators.tiers_min)!r}"
        )
    if not study.targets.preset:
        raise StudyFileError(f"{where}: targets.preset must name at least one preset")
    if study.capacity.mode not in ("walk", "cycle"):
        raise StudyFileError(
            f'{where}: capacity.mode must be "walk" or "cycle", got {study.capacity.mode!r}'
        )
    if not study.capacity.minutes > 0:
        raise StudyFileError(
            f"{where}: capacity.minutes must be a positive number, got {study.capacity.minutes!r}"
        )
    _validate_siting(where, study.siting)
    _validate_map(where, study.map)
    for key in ("communities", "facilities", "workplaces", "candidates"):
        value = getattr(study.datum, key)
        if value not in DATUMS:
            raise StudyFileError(
                f"{where}: datum.{key} must be one of {', '.join(DATUMS)}, got {value!r}"
                f"{_suggest(value, DATUMS)}"
            )
    for cat in study.inputs.surveyed_categories:
        if cat not in CATEGORIES:
            raise StudyFileError(
                f"{where}: inputs.surveyed_categories names unknown category {cat!r}"
                f"{_category_hint(cat)}. Valid categories: {', '.join(CATEGORIES)}"
            )
    ind = study.indicators
    for key, cats in (
        ("indicators.service_circle", ind.service_circle),
        ("indicators.rural_services", ind.rural_services),
        ("indicators.complex_category", (ind.complex_category,)),
        *((f"indicators.sets.{k}", v) for k, v in ind.sets.items()),
        ("capacity.categories", study.capacity.categories or ("nursery",)),
        ("siting.category", (study.siting.category,)),
    ):
        if not cats:
            raise StudyFileError(f"{where}: {key} must name at least one category")
        for cat in cats:
            if cat not in CATEGORIES:
                raise StudyFileError(
                    f"{where}: {key} names unknown category {cat!r}"
                    f"{_category_hint(cat)}. Valid categories: {', '.join(CATEGORIES)}"
                )


def _validate_siting(where: str, s: Siting) -> None:
    choices = {
        "mode": (s.mode, ("walk", "cycle", "straight")),
        "scope": (s.scope, ("all", "urban", "rural")),
        "model": (s.model, ("mclp", "set_cover", "p_median", "test")),
        "within": (s.within, ("study", "shortfall")),
        "solver": (s.solver, ("milp", "greedy")),
    }
    for key, (value, valid) in choices.items():
        if value not in valid:
            raise StudyFileError(
                f"{where}: siting.{key} must be one of {', '.join(valid)}, got {value!r}"
            )
    if s.mode == "cycle" and not s.minutes > 0:
        raise StudyFileError(f"{where}: siting by cycle needs siting.minutes > 0")
    if s.mode == "straight" and not s.metres > 0:
        raise StudyFileError(f"{where}: siting.mode = straight needs siting.metres > 0")
    if s.mode == "walk" and not (s.minutes > 0 or s.metres > 0):
        raise StudyFileError(f"{where}: siting by walking needs siting.minutes or siting.metres")
    if s.model == "p_median" and not (s.mode in ("walk", "cycle") and s.minutes > 0):
        raise StudyFileError(
            f"{where}: siting.model = p_median works on travel time: give siting.mode "
            '"walk" or "cycle" and siting.minutes (the cut-off beyond which no site serves)'
        )
    if not s.p >= 1:
        raise StudyFileError(f"{where}: siting.p must be 1 or more, got {s.p!r}")
    if not 0 < s.target_share <= 1:
        raise StudyFileError(
            f"{where}: siting.target_share must be in (0, 1], got {s.target_share!r}"
        )
    for key in ("spacing_m", "time_limit_s"):
        if not getattr(s, key) > 0:
            raise StudyFileError(f"{where}: siting.{key} must be positive")
    if s.model == "test" and not s.candidates:
        raise StudyFileError(
            f'{where}: siting.model = "test" ranks your own sites: name them in siting.candidates'
        )


def _validate_map(where: str, m: MapSettings) -> None:
    tiles = m.tiles()
    if tiles not in ("osm", "none") and not all(k in tiles for k in ("{z}", "{x}", "{y}")):
        raise StudyFileError(
            f'{where}: map.basemap must be "osm", "none" or a tile URL template with {{z}}, '
            f"{{x}} and {{y}} (e.g. http://localhost:8080/{{z}}/{{x}}/{{y}}.png), got {tiles!r}"
        )
    if m.offline and tiles == "osm":
        raise StudyFileError(
            f"{where}: an offline map cannot use the OpenStreetMap tile servers. Fix: set "
            'map.basemap = "none", or a tile URL template of a local tile server or folder'
        )
    for key in ("max_size_mb", "simplify_m"):
        if not getattr(m, key) > 0:
            raise StudyFileError(
                f"{where}: map.{key} must be a positive number, got {getattr(m, key)!r}"
            )


def _category_hint(word: str) -> str:
    best = suggest_category(word)
    return f" (did you mean {best!r}?)" if best else ""


def _suggest(word: str, valid: Any) -> str:
    close = difflib.get_close_matches(word, list(valid), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


_SECTIONS: dict[str, type] = {
    "inputs": Inputs,
    "speeds": Speeds,
    "snapping": Snapping,
    "network": NetworkSettings,
    "indicators": IndicatorSettings,
    "capacity": Capacity,
    "siting": Siting,
    "targets": Targets,
    "map": MapSettings,
    "datum": Datums,
}
_TOP_SCALARS = {"name": str, "crs": str, "attribution": str}


def _typed(where: str, key: str, value: Any, default: Any, annotation: str) -> Any:  # noqa: C901
    """Check one value against the type of its field and convert it."""
    if "Path" in annotation:
        if not isinstance(value, str) or not value:
            raise StudyFileError(f"{where}: {key} must be a file path string, got {value!r}")
        return value
    if "tuple[str" in annotation and not annotation.startswith("dict["):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise StudyFileError(f"{where}: {key} must be a list of strings, got {value!r}")
        return tuple(value)
    if annotation.startswith("dict[str, tuple[str"):
        if not isinstance(value, dict) or not all(
            isinstance(v, list) and all(isinstance(c, str) for c in v) for v in value.values()
        ):
            raise StudyFileError(
                f"{where}: {key} must be a table of category lists, e.g. "
                f'{{ A5_market_10min = ["market", "supermarket"] }}, got {value!r}'
            )
        return {str(k): tuple(v) for k, v in value.items()}
    if annotation.startswith("dict[str, float"):
        if not isinstance(value, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
        ):
            raise StudyFileError(
                f"{where}: {key} must be a table of numbers, e.g. {{ steps = 2.0 }}, got {value!r}"
            )
        return {str(k): float(v) for k, v in value.items()}
    if "tuple[float" in annotation:
        if not isinstance(value, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ):
            raise StudyFileError(f"{where}: {key} must be a list of numbers, got {value!r}")
        return tuple(float(v) for v in value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise StudyFileError(f"{where}: {key} must be true or false, got {value!r}")
        return value
    if isinstance(default, float):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise StudyFileError(f"{where}: {key} must be a number, got {value!r}")
        return float(value)
    if isinstance(default, int) and not isinstance(default, bool):
        if not isinstance(value, int) or isinstance(value, bool):
            raise StudyFileError(f"{where}: {key} must be a whole number, got {value!r}")
        return value
    if isinstance(default, str) or annotation.startswith("str"):
        if not isinstance(value, str):
            raise StudyFileError(f"{where}: {key} must be a string, got {value!r}")
        return value
    return value


def study_from_dict(data: dict[str, Any], base_dir: Path, source: Path | None = None) -> Study:  # noqa: C901
    """Build a validated :class:`Study` from parsed TOML.

    Parameters
    ----------
    data
        The parsed study file.
    base_dir
        Folder that relative input paths are resolved against.
    source
        The study file, for messages.

    Returns
    -------
    Study
        The validated study.

    Raises
    ------
    StudyFileError
        On unknown keys (with the closest valid key), wrong types, missing
        required keys or input files that do not exist.
    """
    where = f"study file {source}" if source else "study"
    valid_top = [*_SECTIONS, *_TOP_SCALARS, "columns", "categories"]
    for key in data:
        if key not in valid_top:
            raise StudyFileError(
                f"{where}: unknown key {key!r}{_suggest(key, valid_top)}. "
                f"Valid top-level keys: {', '.join(valid_top)}"
            )
    if "inputs" not in data:
        raise StudyFileError(
            f"{where}: missing section [inputs]. Fix: add [inputs] with communities = ... "
            "and facilities = ... (population and network are optional)"
        )
    kwargs: dict[str, Any] = {}
    for key, typ in _TOP_SCALARS.items():
        if key in data:
            if not isinstance(data[key], typ):
                raise StudyFileError(f"{where}: {key} must be a string, got {data[key]!r}")
            # an empty crs means "choose the UTM zone"
            kwargs[key] = (data[key] or None) if key == "crs" else data[key]
    for section, cls in _SECTIONS.items():
        if section not in data:
            continue
        raw = data[section]
        if not isinstance(raw, dict):
            raise StudyFileError(f"{where}: [{section}] must be a table, got {raw!r}")
        flds = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in flds:
                raise StudyFileError(
                    f"{where}: unknown key {section}.{key}{_suggest(key, flds)}. "
                    f"Valid keys in [{section}]: {', '.join(flds)}"
                )
            f = flds[key]
            values[key] = _typed(where, f"{section}.{key}", value, f.default, str(f.type))
        if section == "inputs":
            for required in ("communities", "facilities"):
                if required not in values:
                    raise StudyFileError(
                        f"{where}: [inputs] lacks {required!r}. Fix: add "
                        f'{required} = "path/to/{required}.geojson"'
                    )
            for key, rel in list(values.items()):
                if key == "surveyed_categories" or (key == "facilities" and rel == "osm"):
                    continue
                path = (base_dir / rel).resolve()
                if not path.exists():
                    raise StudyFileError(
                        f"{where}: inputs.{key} file not found: {path}. Fix: correct the path "
                        "(relative paths are read from the study file's folder)"
                    )
                values[key] = path
        kwargs[section] = cls(**values)
    if "columns" in data:
        kwargs["columns"] = _column_map(where, data["columns"])
    if "categories" in data:
        kwargs["categories"] = _category_map(where, data["categories"])
    return Study(source=source, **kwargs)


def _column_map(where: str, raw: Any) -> dict[str, dict[str, str]]:
    """``[columns.<layer>]`` checked: known layers and column names, text values, one user
    column per tool column."""
    from coverage.vocabulary import COLUMN_TARGETS

    if not isinstance(raw, dict):
        raise StudyFileError(f"{where}: [columns] must hold tables such as [columns.communities]")
    out: dict[str, dict[str, str]] = {}
    for layer, table in raw.items():
        if layer not in COLUMN_TARGETS:
            raise StudyFileError(
                f"{where}: unknown layer [columns.{layer}]{_suggest(layer, COLUMN_TARGETS)}. "
                f"Layers: {', '.join(COLUMN_TARGETS)}"
            )
        if not isinstance(table, dict):
            raise StudyFileError(f"{where}: [columns.{layer}] must be a table")
        for target, user in table.items():
            valid = COLUMN_TARGETS[layer]
            if target not in valid:
                raise StudyFileError(
                    f"{where}: columns.{layer}.{target} is not a column of the tool"
                    f"{_suggest(target, valid)}. Columns: {', '.join(valid)}"
                )
            if not isinstance(user, str) or not user:
                raise StudyFileError(
                    f"{where}: columns.{layer}.{target} must name a column, got {user!r}"
                )
        if len(set(table.values())) != len(table):
            raise StudyFileError(f"{where}: [columns.{layer}] maps one column to two names")
        out[layer] = dict(table)
    return out


def _category_map(where: str, raw: Any) -> CategoryMap:
    """``[categories]`` checked: shipped presets, and values mapped to known categories."""
    from coverage.vocabulary import CATEGORY_PRESETS

    if not isinstance(raw, dict):
        raise StudyFileError(f'{where}: [categories] must be a table ("村卫生室" = "health")')
    presets = raw.get("preset", [])
    presets = [presets] if isinstance(presets, str) else presets
    if not isinstance(presets, list) or not all(p in CATEGORY_PRESETS for p in presets):
        raise StudyFileError(
            f"{where}: categories.preset must name shipped presets "
            f"({', '.join(CATEGORY_PRESETS)}), got {raw.get('preset')!r}"
        )
    values = {k: v for k, v in raw.items() if k != "preset"}
    for value, category in values.items():
        if category not in CATEGORIES:
            raise StudyFileError(
                f"{where}: categories.{value!r} maps to {category!r}, which is not a category"
                f"{_suggest(str(category), CATEGORIES)}. Categories: {', '.join(CATEGORIES)}"
            )
    return CategoryMap(tuple(presets), values)


def load_study(path: str | Path) -> Study:
    """Read and validate a study file.

    Parameters
    ----------
    path
        A TOML study file.

    Returns
    -------
    Study
        The validated study, input paths made absolute.

    Examples
    --------
    >>> study = load_study("data/demo.toml")  # doctest: +SKIP
    >>> study.speeds.walk_kmh  # doctest: +SKIP
    4.0
    """
    path = Path(path)
    if not path.is_file():
        raise StudyFileError(f"study file not found: {path}. Fix: give the path of a .toml file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise StudyFileError(f"study file {path}: not valid TOML ({exc})") from exc
    return study_from_dict(data, path.parent.resolve(), source=path.resolve())


def demo_data_dir() -> Path:
    """Return the folder of the embedded demo study (the repository's ``data/``).

    Editable installs read the repository's ``data/``; wheels carry a copy as
    ``coverage/demo_data``.
    """
    here = Path(__file__).resolve()
    packaged = here.parent / "demo_data"
    if (packaged / "demo.toml").is_file():
        return packaged
    repo = here.parents[2] / "data"
    if (repo / "demo.toml").is_file():
        return repo
    raise StudyFileError(
        "the embedded demo study was not found (looked in "
        f"{packaged} and {repo}). Fix: install from a clone of the repository "
        "with `pip install -e .`, or pass a study file"
    )


def demo_study() -> Study:
    """Load the embedded Porto Alegre demo study."""
    return load_study(demo_data_dir() / "demo.toml")
