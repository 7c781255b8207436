"""The scenario workbench: what-ifs on a loaded study, as plain data for the web page.

A scenario is facilities added (a category and a point in lon/lat) and
facilities of the study removed. :class:`Workbench` checks a scenario sent by
a browser (:func:`parse_scenario`: nothing in it is trusted), runs it as a
what-if on the study loaded once (:meth:`coverage.pipeline.LoadedStudy.what_if`)
and answers with the headline indicators against baseline and target, the
communities' values of the chosen indicator and the residents the scenario
newly covers. :class:`ScenarioStore` keeps named scenarios per browser session
in one SQLite file (each save is one transaction: a crash leaves the file as it
was). The HTTP shell is :mod:`coverage.serve`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coverage.catalogue import indicator_label
from coverage.categories import CATEGORIES, label
from coverage.messages import Message, render

if TYPE_CHECKING:
    from coverage.pipeline import LoadedStudy, StudyResult

__all__ = [
    "MAX_ADDED",
    "RequestError",
    "Scenario",
    "ScenarioStore",
    "Workbench",
    "parse_scenario",
]

#: Most facilities a scenario may add (a request beyond is refused).
MAX_ADDED = 200
#: Longest scenario or facility name, characters.
MAX_NAME = 80
#: How far outside the communities an added facility may stand, metres.
EDGE_M = 1_000.0
#: Most newly covered demand points sent back for drawing.
MAX_POINTS = 5_000
_NAME = re.compile(r"^[^\x00-\x1f<>]{1,80}$")


class RequestError(ValueError):
    """A request the workbench refuses: a message code and parameters, HTTP status 4xx."""

    def __init__(self, code: str, status: int = 400, **params: Any) -> None:
        self.message = Message(code, params)
        self.status = status
        super().__init__(str(self.message))

    def render(self, lang: str) -> str:
        """The refusal in ``lang``."""
        return render(self.message, lang)

    def __reduce__(self) -> tuple[Any, ...]:
        # crosses process boundaries whole (the server's worker processes)
        return (_request_error, (self.message.code, self.status, self.message.params))


def _request_error(code: str, status: int, params: dict[str, Any]) -> RequestError:
    return RequestError(code, status, **params)


@dataclass(frozen=True)
class Added:
    """A facility added by a scenario."""

    facility_id: str
    category: str
    lon: float
    lat: float
    name: str = ""


@dataclass(frozen=True)
class Scenario:
    """Facilities added and facility ids removed; ``name`` when saved."""

    add: tuple[Added, ...] = ()
    remove: tuple[str, ...] = ()
    name: str = ""

    def record(self) -> dict[str, Any]:
        """The scenario as JSON-ready data (what :func:`parse_scenario` reads)."""
        return {
            "name": self.name,
            "add": [
                {"id": a.facility_id, "category": a.category, "lon": a.lon, "lat": a.lat}
                | ({"name": a.name} if a.name else {})
                for a in self.add
            ],
            "remove": list(self.remove),
        }


def _text(value: Any, what: str, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not _NAME.match(value):
        raise RequestError("bad_text", field=what, most=MAX_NAME)
    return value


def _number(value: Any, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RequestError("bad_number", field=what)
    if not low <= float(value) <= high:
        raise RequestError("bad_number", field=what)
    return float(value)


def parse_scenario(body: Any, facility_ids: set[str]) -> Scenario:
    """A scenario from a request body, checked field by field.

    Raises
    ------
    RequestError
        A body that is not an object, an unknown field, too many facilities,
        an unknown category, a coordinate that is not a number in range, a
        name with control characters or markup, an id removed that is not a
        facility of the study.

    Examples
    --------
    >>> s = parse_scenario({"add": [{"category": "health", "lon": 1, "lat": 2}]}, set())
    >>> s.add[0].category, s.add[0].facility_id
    ('health', 'added-1')
    >>> parse_scenario({"add": [{"category": "spa", "lon": 1, "lat": 2}]}, set())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    coverage.workbench.RequestError: unknown category 'spa': use one of ...
    """
    if not isinstance(body, dict) or set(body) - {"add", "remove", "name"}:
        raise RequestError("bad_body")
    add, remove = body.get("add") or [], body.get("remove") or []
    if not isinstance(add, list) or not isinstance(remove, list):
        raise RequestError("bad_body")
    if len(add) > MAX_ADDED:
        raise RequestError("too_many", most=MAX_ADDED)
    added = tuple(_added(item, k) for k, item in enumerate(add, start=1))
    ids = [a.facility_id for a in added]
    if len(set(ids)) != len(ids) or set(ids) & facility_ids:
        raise RequestError("bad_body")
    removed = tuple(_text(r, "remove") for r in remove)
    unknown = [r for r in removed if r not in facility_ids]
    if unknown or len(set(removed)) != len(removed):
        raise RequestError("unknown_facility", id=(unknown or removed)[0])
    name = _text(body.get("name"), "name", required=False)
    return Scenario(added, removed, name)


def _added(item: Any, k: int) -> Added:
    if not isinstance(item, dict) or set(item) - {"category", "lon", "lat", "name", "id"}:
        raise RequestError("bad_body")
    category = item.get("category")
    if category not in CATEGORIES:
        raise RequestError("unknown_category", category=str(category)[:40], valid=tuple(CATEGORIES))
    ident = _text(item.get("id"), "id", required=False) or f"added-{k}"
    if not ident.startswith("added-"):
        raise RequestError("bad_text", field="id", most=MAX_NAME)
    return Added(
        ident,
        str(category),
        _number(item.get("lon"), "lon", -180.0, 180.0),
        _number(item.get("lat"), "lat", -90.0, 90.0),
        _text(item.get("name"), "name", required=False),
    )


class Workbench:
    """A loaded study answering scenarios for the web page.

    Parameters
    ----------
    loaded
        The study, loaded once (:meth:`coverage.pipeline.LoadedStudy.load`).
    lang
        ``en`` or ``zh``: labels and refusals.
    """

    def __init__(self, loaded: LoadedStudy, lang: str = "en") -> None:
        self.loaded = loaded
        self.lang = lang
        base = loaded.result
        self.baseline = base
        self.facility_ids = set(base.facilities["facility_id"].astype(str))
        self._area = shapely.union_all(base.communities.geometry.values).buffer(EDGE_M)
        shapely.prepare(self._area)
        points = base.demand.points.to_crs("EPSG:4326")
        self._demand_lonlat = np.round(np.column_stack([points.geometry.x, points.geometry.y]), 6)
        self._population = base.demand.points["population"].to_numpy(dtype=float)
        self._warm()

    def _warm(self) -> None:
        """One what-if adding a facility of every category, so that the loaded study's lazy
        caches are filled before requests share it from several threads."""
        point = self.baseline.communities.geometry.iloc[0].representative_point()
        cats = list(dict.fromkeys([*self.loaded.study.capacity.categories, *CATEGORIES]))
        frame = gpd.GeoDataFrame(
            {"facility_id": [f"warm-{c}" for c in cats], "category": cats},
            geometry=[point] * len(cats),
            crs=self.baseline.crs,
        )
        self.loaded.what_if(add=frame)

    # -- the study as the page first draws it ------------------------------------------

    def study_payload(self) -> dict[str, Any]:
        """Communities, facilities, categories and indicators for the page (lon/lat)."""
        base = self.baseline
        comm = base.communities.to_crs("EPSG:4326")
        comm = comm.assign(geometry=comm.geometry.simplify(1e-5))
        fac = base.facilities.to_crs("EPSG:4326")
        return {
            "name": base.study.name,
            "lang": self.lang,
            "bounds": [float(v) for v in comm.total_bounds],
            "communities": json.loads(comm[["community_id", "geometry"]].to_json()),
            "facilities": [
                {
                    "id": str(r.facility_id),
                    "category": str(r.category),
                    "name": str(getattr(r, "name", "") or ""),
                    "lon": round(float(r.geometry.x), 6),
                    "lat": round(float(r.geometry.y), 6),
                }
                for r in fac.itertuples()
            ],
            "categories": [{"id": c, "label": label(c, self.lang)} for c in CATEGORIES],
            "indicators": self._indicator_choices(),
        }

    def _indicator_choices(self) -> list[dict[str, str]]:
        table = self.baseline.indicators
        per = table[table["scope"].str.startswith("community:")]
        ids = [i for i in dict.fromkeys(per["indicator"]) if i != "category_coverage"]
        return [
            {"id": i, "label": indicator_label(i, self.lang, self.baseline.catalogue)} for i in ids
        ]

    # -- scenarios ---------------------------------------------------------------------

    def frame(self, scenario: Scenario) -> gpd.GeoDataFrame | None:
        """The added facilities as a layer in lon/lat, checked inside the study area."""
        if not scenario.add:
            return None
        frame = gpd.GeoDataFrame(
            {
                "facility_id": [a.facility_id for a in scenario.add],
                "category": [a.category for a in scenario.add],
                "name": [a.name for a in scenario.add],
            },
            geometry=gpd.points_from_xy(
                [a.lon for a in scenario.add], [a.lat for a in scenario.add]
            ),
            crs="EPSG:4326",
        )
        metric = frame.to_crs(self.baseline.crs)
        inside = shapely.contains(self._area, metric.geometry.values)
        outside = [a for a, ok in zip(scenario.add, inside, strict=True) if not ok]
        if outside:
            raise RequestError("outside", id=outside[0].facility_id, lon=outside[0].lon,
                               lat=outside[0].lat)  # fmt: skip
        return frame

    def result(self, scenario: Scenario) -> StudyResult:
        """The study's result under the scenario (a what-if on the loaded study)."""
        frame = self.frame(scenario)
        if frame is None and not scenario.remove:
            return self.baseline
        # the page's points are true WGS84 (whatever datum the facilities layer came in):
        # projected, they are taken as they are
        metric = None if frame is None else frame.to_crs(self.baseline.crs)
        return self.loaded.what_if(add=metric, remove=list(scenario.remove))

    def evaluate(self, scenario: Scenario, indicator: str = "A1_service_circle") -> dict[str, Any]:
        """Headline rows against baseline and target, community values, newly covered residents."""
        start = time.perf_counter()
        after = self.result(scenario)
        return {
            "headline": self.headline(after),
            "communities": self.community_values(after, indicator),
            "newly_covered": self.newly_covered(after, scenario),
            "seconds": round(time.perf_counter() - start, 3),
        }

    def headline(self, after: StudyResult) -> list[dict[str, Any]]:
        """Targeted aggregate rows with data, before and after, in the page's language."""
        from coverage.sites import before_after

        ba = before_after(self.baseline, after)
        known = ba["status_before"].isin(["met", "short"]) | ba["status_after"].isin(
            ["met", "short"]
        )
        rows = ba[ba["target"].notna() & known]
        return [_headline_row(r, self.lang, self.baseline) for _, r in rows.iterrows()]

    def community_values(self, after: StudyResult, indicator: str) -> dict[str, float | None]:
        """``community_id -> value`` of one indicator (``None``: no value)."""
        table = after.indicators
        rows = table[
            (table["indicator"] == indicator) & table["scope"].str.startswith("community:")
        ]
        if rows.empty:
            raise RequestError("unknown_indicator", indicator=indicator[:60])
        rows = rows.drop_duplicates("scope")
        return {
            str(s)[len("community:") :]: (None if pd.isna(v) else round(float(v), 4))
            for s, v in zip(rows["scope"], rows["value"], strict=True)
        }

    def newly_covered(self, after: StudyResult, scenario: Scenario) -> dict[str, Any]:
        """Per added category, the residents newly within its reference threshold, and where."""
        out: dict[str, Any] = {}
        for cat in dict.fromkeys(a.category for a in scenario.add):
            mode, unit, limit = self._reference(cat)
            before = self.baseline.costs.of(mode, unit, (cat,))[:, 0]
            now = after.costs.of(mode, unit, (cat,))[:, 0]
            new = np.flatnonzero((now <= limit + 1e-9) & ~(before <= limit + 1e-9))
            new = new[np.argsort(-self._population[new], kind="stable")][:MAX_POINTS]
            out[cat] = {
                "residents": round(float(self._population[new].sum()), 1),
                "threshold": limit if unit == "m" else limit / 60.0,
                "unit": unit,
                "mode": mode,
                "points": [
                    [*self._demand_lonlat[i].tolist(), round(float(self._population[i]), 1)]
                    for i in new
                ],
            }
        return out

    def _reference(self, category: str) -> tuple[str, str, float]:
        """The threshold a category's new coverage is counted at: mode, unit and limit.

        Community complexes: the plan's service radius in a straight line; every
        other category: the 15-minute walk (seconds).
        """
        ind = self.loaded.study.indicators
        if category == ind.complex_category:
            return "straight", "m", float(ind.complex_radius_m)
        return "walk", "min", float(ind.circle_min) * 60.0

    def optimise(
        self, scenario: Scenario, category: str, p: int | None, target_share: float | None
    ) -> list[dict[str, Any]]:
        """Proposed sites for ``category`` given the scenario (maximal covering or set cover).

        Residents the scenario already covers stay covered: the optimiser runs on
        the scenario's result. Each proposal: rank, lon, lat, community and the
        residents it newly covers alone and in build order.
        """
        from coverage.sites import site_study

        if category not in CATEGORIES:
            raise RequestError("unknown_category", category=category[:40], valid=tuple(CATEGORIES))
        view = copy.copy(self.loaded)
        view.result = self.result(scenario)
        s = dataclasses.replace(
            self.loaded.study.siting,
            category=category,
            candidates="",
            model="mclp" if target_share is None else "set_cover",
            p=int(p or 1),
            target_share=float(target_share or 1.0),
            time_limit_s=20.0,
        )
        sites = site_study(view, s).sites
        return [
            {
                "rank": int(r.rank),
                "lon": round(float(r.lon), 6),
                "lat": round(float(r.lat), 6),
                "community_id": None if pd.isna(r.community_id) else str(r.community_id),
                "alone": round(float(r.gain_alone), 1),
                "added": round(float(r.incremental_gain), 1),
            }
            for r in sites.itertuples()
        ]

    # -- exports -----------------------------------------------------------------------

    def candidates_geojson(self, scenario: Scenario, category: str | None = None) -> str:
        """The scenario's added facilities as a candidates file for ``site --model test``."""
        frame = self.frame(scenario)
        if frame is None:
            raise RequestError("nothing_added")
        if category:
            frame = frame[frame["category"] == category]
        frame = frame.rename(columns={"facility_id": "candidate_id"})
        return str(frame.to_json(drop_id=True))

    def export(self, scenario: Scenario, what: str) -> tuple[bytes, str, str]:
        """The report (``report``) or workbook (``workbook``) of the scenario's result.

        Returns the file's bytes, its media type and its file name.
        """
        from coverage.report import write_outputs

        result = self.result(scenario)
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_outputs(result, Path(tmp) / "out", lang=self.lang)
            if what == "report":
                return paths["report"].read_bytes(), "text/html; charset=utf-8", "report.html"
            data = paths["xlsx"].read_bytes()
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return data, media, "indicators.xlsx"


def _headline_row(r: pd.Series, lang: str, base: StudyResult) -> dict[str, Any]:
    def num(v: Any) -> float | None:
        return None if pd.isna(v) else round(float(v), 6)

    covered = num(r["covered_population_after"]), num(r["covered_population_before"])
    return {
        "indicator": str(r["indicator"]),
        "label": indicator_label(str(r["indicator"]), lang, base.catalogue),
        "scope": str(r["scope"]),
        "preset": str(r["preset"]),
        "target": num(r["target"]),
        "before": num(r["value_before"]),
        "after": num(r["value_after"]),
        "change_pp": num(r["change_pp"]),
        "status_before": str(r["status_before"]),
        "status_after": str(r["status_after"]),
        "change_residents": (
            None if None in covered else round(covered[0] - covered[1], 1)  # type: ignore[operator]
        ),
    }


class ScenarioStore:
    """Named scenarios per session in one SQLite file.

    Each save is one transaction, so the file survives a crash or a restart of
    the server whole. A session sees only its own scenarios.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> store = ScenarioStore(pathlib.Path(tempfile.mkdtemp()) / "s.sqlite")
    >>> store.save("session-a", Scenario(name="east plot"))
    >>> store.names("session-a"), store.names("session-b")
    (['east plot'], [])
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS scenarios (session TEXT NOT NULL, name TEXT NOT NULL,"
                " saved REAL NOT NULL, body TEXT NOT NULL, PRIMARY KEY (session, name))"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10.0)

    def save(self, session: str, scenario: Scenario) -> None:
        """Save (or replace) a named scenario of a session."""
        if not scenario.name:
            raise RequestError("no_name")
        body = json.dumps(scenario.record(), ensure_ascii=False)
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO scenarios VALUES (?, ?, ?, ?)",
                (session, scenario.name, time.time(), body),
            )

    def names(self, session: str) -> list[str]:
        """The session's scenario names, newest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT name FROM scenarios WHERE session = ? ORDER BY saved DESC", (session,)
            ).fetchall()
        return [r[0] for r in rows]

    def load(self, session: str, name: str) -> dict[str, Any]:
        """A saved scenario's record."""
        with self._connect() as db:
            row = db.execute(
                "SELECT body FROM scenarios WHERE session = ? AND name = ?", (session, name)
            ).fetchone()
        if row is None:
            raise RequestError("no_scenario", status=404, name=name[:MAX_NAME])
        return dict(json.loads(row[0]))

    def delete(self, session: str, name: str) -> None:
        """Delete a saved scenario."""
        with self._connect() as db:
            db.execute("DELETE FROM scenarios WHERE session = ? AND name = ?", (session, name))
