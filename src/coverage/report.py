"""Write a run's outputs (METHOD.md, "The command-line contract") and its console table.

Every output is written into a staging folder inside the output folder and
moved into place when all are complete, ``run.json`` last (with the SHA-256 of
every other output), so an interrupted run never leaves a half-written file
that looks complete, nor a mix of two runs under one ``run.json``. Tables are deterministic: the same inputs and settings give
byte-identical ``indicators.csv``, ``communities.csv`` and ``shortfalls.csv``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from coverage import __version__
from coverage.catalogue import AccessIndicator
from coverage.indicators import MESSAGE_COLUMNS, rounded_indicators
from coverage.maps import render_map
from coverage.messages import COLUMN_LABELS, SHEET_LABELS, VALUE_LABELS, Message, render_all
from coverage.network import MODES
from coverage.pipeline import StudyResult
from coverage.report_html import report_html

if TYPE_CHECKING:
    import geopandas as gpd

PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "geopandas",
    "shapely",
    "pyproj",
    "pyogrio",
    "osmium",
    "osmnx",
    "networkx",
    "folium",
    "rasterio",
    "matplotlib",
    "xlsxwriter",
)


def _publish(stage: Path, out_dir: Path, names: list[str]) -> None:
    """Move finished outputs from the staging folder into ``out_dir``, run.json last.

    The previous run's ``run.json`` goes first, so that from then until the new
    one lands the folder says "incomplete"; outputs of the previous run that
    this run does not write (e.g. ``sites.csv`` after a ``site`` run) are
    removed, so that no file of another run stays beside the new ``run.json``.
    """
    old_run = out_dir / "run.json"
    stale: list[str] = []
    if old_run.exists():
        try:
            stale = list(
                json.loads(old_run.read_text(encoding="utf-8")).get("outputs", {}).values()
            )
        except (ValueError, AttributeError):
            stale = []
        old_run.unlink()
    for name in stale:
        if name not in names and name != "run.json" and Path(name).name == name:
            (out_dir / name).unlink(missing_ok=True)
    for name in names:
        if name != "run.json":
            os.replace(stage / name, out_dir / name)
    os.replace(stage / "run.json", out_dir / "run.json")


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


#: CSV encoding: UTF-8 with a byte-order mark, so that Excel on Chinese Windows
#: reads the Chinese text (without it, Excel takes GBK and shows mojibake).
CSV_ENCODING = "utf-8-sig"


def _csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n", encoding=CSV_ENCODING)


#: The time GeoPackages record as their layers' last change (``gpkg_contents``),
#: fixed so that the same run gives byte-identical files; run.json has the real time.
GPKG_TIMESTAMP = "2000-01-01T00:00:00.000Z"


def _gpkg(path: Path, layers: dict[str, Any]) -> None:
    """Write layers into one GeoPackage, byte-identical for the same data."""
    import pyogrio

    saved = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_TIMESTAMP})
    try:
        for name, frame in layers.items():
            frame.to_file(path, layer=name, driver="GPKG")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": saved})


def sha256(path: Path) -> str:
    """SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: Most per-community indicator rows written as a workbook sheet (more: indicators.csv only).
WORKBOOK_COMMUNITY_ROWS = 20_000

#: Columns the per-community rows leave empty: the aggregate rows of the same indicator
#: and preset carry them (the plan's words need not be repeated for every community).
PLAN_WORDS = ["binding", "wording_zh", "wording_en", "source"]


def indicators_table(result: StudyResult) -> pd.DataFrame:
    """``indicators.csv`` as written: shares to 6 decimals, residents to 3; the plan's
    words (:data:`PLAN_WORDS`) on the aggregate rows only."""
    table = rounded_indicators(result.indicators)
    per_community = ~table["scope"].isin(["all", "urban", "rural"]).to_numpy()
    for col in PLAN_WORDS:
        table[col] = table[col].astype(object).where(~per_community, None)
    return table


def demand_table(result: StudyResult) -> pd.DataFrame:
    """Per demand point: community, residents, minutes to the nearest facility per mode and category."""
    pts = result.demand.points
    out = pd.DataFrame(
        {
            "demand_id": pts["demand_id"].to_numpy(),
            "community_id": pts["community_id"].to_numpy(),
            "source_id": pts["source_id"].to_numpy(),
            "population": pts["population"].round(3).to_numpy(),
        }
    )
    for mode in MODES:
        r = result.reach[mode]
        out[f"{mode}_access_m"] = np.round(
            np.where(r.demand_snaps.on_network, r.demand_snaps.access_m, np.nan), 3
        )
        out[f"{mode}_stranded"] = r.demand_stranded
        fac_ids = result.facilities["facility_id"].to_numpy(dtype=object)
        for k, cat in enumerate(result.categories):
            out[f"{mode}_min_{cat}"] = np.round(
                np.where(np.isfinite(r.minutes[:, k]), r.minutes[:, k], np.nan), 4
            )
            which = r.nearest_facility[:, k]
            out[f"{mode}_nearest_{cat}"] = np.where(which >= 0, fac_ids[np.maximum(which, 0)], None)
    for spec in result.specs:
        if spec.indicator != "category_coverage":
            out[f"covered_{spec.column}"] = spec.covered
    return out


def _flatten(value: Any, key: str, out: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        if not value:
            out.append((key, ""))
        for k, v in value.items():
            _flatten(v, f"{key}.{k}" if key else str(k), out)
    elif isinstance(value, list | tuple):
        if all(not isinstance(v, dict | list | tuple) for v in value):
            out.append((key, ", ".join(str(v) for v in value)))
        else:
            for i, v in enumerate(value):
                _flatten(v, f"{key}[{i}]", out)
    elif value is None:
        out.append((key, ""))
    elif isinstance(value, bool | int | float | str):
        out.append((key, value))
    else:
        out.append((key, str(value)))


def settings_table(run: dict[str, Any]) -> pd.DataFrame:
    """The run record as ``key`` / ``value`` rows (nested keys joined with dots).

    Examples
    --------
    >>> t = settings_table({"study": "x", "settings": {"speeds": {"walk_kmh": 4.0}}, "notes": []})
    >>> t.values.tolist()
    [['study', 'x'], ['settings.speeds.walk_kmh', 4.0], ['notes', '']]
    """
    rows: list[tuple[str, Any]] = []
    _flatten(run, "", rows)
    return pd.DataFrame(rows, columns=["key", "value"], dtype=object)


def _width(value: object) -> int:
    """Display width of a cell: CJK characters count double."""
    text = "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _in_chinese(
    sheets: dict[str, pd.DataFrame], shares: set[str], shortfalls: pd.DataFrame
) -> tuple[dict[str, pd.DataFrame], set[str]]:
    """The workbook in Chinese: sheet names, headers, statuses, scopes and modes, and the
    shortfall reasons rendered from their messages; ids, figures and user data as they are."""
    columns, values = COLUMN_LABELS["zh"], VALUE_LABELS["zh"]
    words = ("status", "scope", "kind", "mode", "status_before", "status_after")
    out = {}
    for name, frame in sheets.items():
        frame = frame.copy()
        for col in (c for c in words if c in frame.columns):
            frame[col] = frame[col].map(lambda v: values.get(v, v) if isinstance(v, str) else v)
        if name == "shortfalls":
            frame["missing_categories"] = [render_all(m, "zh") for m in shortfalls["reasons"]]
            frame["worst_nearest"] = [render_all(m, "zh") for m in shortfalls["worst"]]
        out[SHEET_LABELS["zh"].get(name, name)] = frame.rename(columns=columns)
    return out, shares | {columns[c] for c in shares if c in columns}


def _headline_sheet(aggregate: pd.DataFrame) -> pd.DataFrame:
    """The rows a bureau quotes: indicators with a target and data, for the area and its parts."""
    rows = aggregate[aggregate["status"].isin(["met", "short"])]
    cols = [
        "indicator",
        "scope",
        "preset",
        "mode",
        "minutes_or_metres",
        "categories",
        "target",
        "value",
        "status",
        "gap",
        "covered_population",
        "total_population",
        "wording_zh",
        "wording_en",
        "source",
    ]
    return rows[cols].reset_index(drop=True)


def write_xlsx(
    sheets: dict[str, pd.DataFrame], path: Path, percent: set[str] | None = None
) -> None:
    """Write tables as sheets of one workbook: header row frozen, columns sized to fit.

    Text is always stored as text: a value such as ``=HYPERLINK(...)`` in a
    community name is never turned into a formula.

    Parameters
    ----------
    sheets
        Sheet name -> table, in order.
    path
        The ``.xlsx`` file to write.
    percent
        Columns holding shares (0–1), shown as percentages (the cells keep the share).
    """
    import xlsxwriter

    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    book = xlsxwriter.Workbook(str(path), options)
    try:
        share_format = book.add_format({"num_format": "0.0%"})
        bold = book.add_format({"bold": True})
        for name, frame in sheets.items():
            ws = book.add_worksheet(name)
            ws.freeze_panes(1, 0)
            sample = frame.head(200)
            for k, column in enumerate(frame.columns):
                values = [column, *sample[column].tolist()]
                width = max((_width(v) for v in values), default=8)
                fmt = share_format if column in (percent or set()) else None
                ws.set_column(k, k, min(max(width + 2, 8), 60), fmt)
                ws.write_string(0, k, str(column), bold)
                _write_column(ws, k, frame[column])
    finally:
        book.close()


def _write_column(ws: Any, k: int, column: pd.Series) -> None:
    """One column's cells below the header, by type (no per-cell type sniffing): numbers
    as numbers (blank when missing or not finite), text as text, true/false as such."""
    if pd.api.types.is_bool_dtype(column.dtype):
        for i, v in enumerate(column.tolist(), start=1):
            if v is not None and v is not pd.NA:
                ws.write_boolean(i, k, bool(v))
        return
    if pd.api.types.is_numeric_dtype(column.dtype):
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        for i in np.flatnonzero(np.isfinite(values)).tolist():
            ws.write_number(i + 1, k, float(values[i]))
        return
    for i, v in enumerate(column.tolist(), start=1):
        if v is None or (isinstance(v, float) and not np.isfinite(v)) or v is pd.NA:
            continue
        if isinstance(v, bool | np.bool_):
            ws.write_boolean(i, k, bool(v))
        elif isinstance(v, int | float | np.integer | np.floating):
            ws.write_number(i, k, float(v))
        else:
            ws.write_string(i, k, str(v))


def write_outputs(
    result: StudyResult,
    out_dir: Path,
    lang: str = "en",
    elapsed_s: float | None = None,
    siting: Any = None,
    extra: dict[str, Any] | None = None,
    progress: Callable[[Message], None] | None = None,
) -> dict[str, Path]:
    """Write every output of a run into ``out_dir``.

    With ``siting`` (a :class:`coverage.sites.SitingResult`), also
    ``sites.csv``, ``sites.gpkg`` (layers ``sites``, ``catchments``,
    ``candidates``) and ``before_after.csv``; the map gets the proposed sites
    and the report their section. ``extra`` entries are added to ``run.json``
    (e.g. a batch's area and key). ``progress`` hears of each file as it is begun.

    Returns
    -------
    dict
        Output name -> path.
    """
    tell = progress or (lambda _: None)
    # the map first: a map over its size cap stops the run before anything is written
    tell(Message("progress_output", {"name": "map.html"}))
    page, map_figures = render_map(result, lang, siting)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = {
        "indicators": "indicators.csv",
        "communities_csv": "communities.csv",
        "communities_gpkg": "communities.gpkg",
        "shortfalls": "shortfalls.csv",
        "map": "map.html",
        "report": "report.html",
        "xlsx": "indicators.xlsx",
        "run": "run.json",
    }
    if siting is not None:
        names |= {
            "sites_csv": "sites.csv",
            "sites_gpkg": "sites.gpkg",
            "before_after": "before_after.csv",
        }
    # everything is written into a staging folder beside the outputs, then moved in
    stage = Path(tempfile.mkdtemp(prefix=".partial-", dir=out_dir))
    try:
        staged = {k: stage / v for k, v in names.items()}
        run = _write_all(result, staged, page, map_figures, lang, elapsed_s, siting, tell)
        run |= extra or {}
        run["outputs"] = dict(names)
        run["output_sha256"] = {v: sha256(staged[k]) for k, v in names.items() if k != "run"}
        staged["run"].write_text(
            json.dumps(run, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )
        _publish(stage, out_dir, list(names.values()))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return {k: out_dir / v for k, v in names.items()}


def _geopackage_layers(
    result: StudyResult, communities: gpd.GeoDataFrame, demand: gpd.GeoDataFrame
) -> dict[str, gpd.GeoDataFrame]:
    """The layers of ``communities.gpkg``: shortfall and service areas when there are any
    (service areas only when the study's ``map.service_areas`` is on)."""
    layers = {
        "communities": communities,
        "demand_points": demand,
        "facilities": result.facilities,
    }
    if len(result.shortfall_areas):
        layers["shortfall_areas"] = result.shortfall_areas
    if result.study.map.service_areas and len(result.service_areas):
        layers["service_areas"] = result.service_areas
    return layers


def _write_all(
    result: StudyResult,
    paths: dict[str, Path],
    page: str,
    map_figures: Any,
    lang: str,
    elapsed_s: float | None,
    siting: Any,
    tell: Callable[[Message], None],
) -> dict[str, Any]:
    """Write every output but run.json to ``paths``; return the run record."""
    if siting is not None:
        _write_siting(siting, paths)
    tell(Message("progress_output", {"name": "indicators.csv"}))
    _csv(indicators_table(result), paths["indicators"])
    comm = result.communities
    _csv(pd.DataFrame(comm.drop(columns="geometry")), paths["communities_csv"])
    short = result.shortfalls.drop(columns=MESSAGE_COLUMNS)
    names = comm.set_index("community_id")["name"]
    short.insert(1, "name", short["community_id"].map(names))
    for col in ("target", "value", "gap"):
        short[col] = short[col].astype(float).round(6)
    short["uncovered_population"] = short["uncovered_population"].astype(float).round(3)
    _csv(short, paths["shortfalls"])
    dem = result.demand.points[["demand_id", "geometry"]].merge(
        demand_table(result), on="demand_id"
    )
    tell(Message("progress_output", {"name": "communities.gpkg"}))
    _gpkg(paths["communities_gpkg"], _geopackage_layers(result, comm, dem))
    _write_text(paths["map"], page)
    run = run_record(result, elapsed_s)
    run["map"] = map_figures.record()
    run["outputs"] = {k: v.name for k, v in paths.items()}
    if siting is not None:
        run["siting"] = siting_record(siting)
    table = indicators_table(result)
    aggregate = table["scope"].isin(["all", "urban", "rural"])
    sheets = {
        "headline": _headline_sheet(table[aggregate]),
        "indicators": table[aggregate],
        "community_indicators": table[~aggregate].drop(columns=PLAN_WORDS),
        "communities": pd.DataFrame(comm.drop(columns="geometry")),
        "shortfalls": short,
    }
    if int((~aggregate).sum()) > WORKBOOK_COMMUNITY_ROWS:
        # a city's per-community rows: in indicators.csv; the communities sheet has every
        # community's figures side by side
        del sheets["community_indicators"]
        run["workbook"] = {"community_indicators": "omitted: see indicators.csv",
                           "rows": int((~aggregate).sum())}  # fmt: skip
    if siting is not None:
        sheets["sites"] = pd.DataFrame(siting.sites.drop(columns="geometry"))
    sheets["settings"] = settings_table(run)
    shares = {"value", "target", "gap", "value_before", "value_after", "share_after"}
    shares |= {spec.column for spec in result.specs}
    if lang == "zh":
        sheets, shares = _in_chinese(sheets, shares, result.shortfalls)
    tell(Message("progress_output", {"name": "indicators.xlsx"}))
    write_xlsx(sheets, paths["xlsx"], percent=shares)
    tell(Message("progress_output", {"name": "report.html"}))
    _write_text(paths["report"], report_html(result, run, lang, siting))
    return run


def _write_siting(siting: Any, paths: dict[str, Path]) -> None:
    sites = siting.sites
    _csv(pd.DataFrame(sites.drop(columns="geometry")), paths["sites_csv"])
    ba = siting.before_after.copy()
    for col in ("target", "value_before", "value_after"):
        ba[col] = ba[col].astype(float).round(6)
    _csv(ba, paths["before_after"])

    catch = siting.catchments[~siting.catchments.geometry.is_empty]
    _gpkg(
        paths["sites_gpkg"],
        {"sites": sites}
        | ({"catchments": catch} if len(catch) else {})
        | {"candidates": siting.candidates},
    )


def siting_record(siting: Any) -> dict[str, Any]:
    """The siting request, solver status, problem sizes and figures, for ``run.json``."""
    sol = siting.solution
    return {
        "settings": dataclasses.asdict(siting.settings),
        "rule": siting.rule,
        "method": sol.method,
        "optimal": sol.optimal,
        "bound": sol.bound,
        "gap": sol.gap,
        "solver_seconds": round(sol.seconds, 3),
        "solver_message": sol.message,
        "solver_stages": {k: round(float(v), 6) for k, v in sol.extra.items()},
        "problem_sizes": siting.sizes,
        "figures": siting.figures,
        "sites": siting.sites["candidate_id"].tolist(),
        "notes": [str(n) for n in siting.notes],
    }


def run_record(result: StudyResult, elapsed_s: float | None = None) -> dict[str, Any]:
    """Settings, input hashes, versions, population account and timings of a run."""
    study = result.study
    settings = dataclasses.asdict(study)
    inputs: dict[str, dict[str, Any]] = {}
    for key, path in dataclasses.asdict(study.inputs).items():
        if isinstance(path, str | Path):
            p = Path(path)
            if not p.is_file():  # facilities = "osm": taken from the network's source
                inputs[key] = {"source": str(path)}
                continue
            inputs[key] = {"path": str(p), "sha256": sha256(p), "bytes": p.stat().st_size}
    versions = {"service-coverage": __version__, "python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {
        "study": study.name,
        "finished_at_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "elapsed_s": round(elapsed_s, 3) if elapsed_s is not None else None,
        "stage_timings_s": result.timings_s,
        "crs": result.crs,
        "settings": settings,
        "inputs": inputs,
        "targets": [dataclasses.asdict(t) for t in result.targets],
        "population": result.accounting,
        "networks": {m: r.network for m, r in result.reach.items()},
        "notes": [str(n) for n in result.notes],
        "versions": versions,
    }


def _headline_zh(result: StudyResult, brief: bool) -> str:
    """The console headline in Chinese: the plan's targets with data, one line each."""
    from coverage.catalogue import indicator_label
    from coverage.categories import STATUS_LABELS

    ind = indicators_table(result)
    agg = ind[ind["scope"].isin(["all", "urban", "rural"]) & ind["target"].notna()]
    scopes = VALUE_LABELS["zh"]
    lines = [result.study.name]
    for _, r in agg[agg["status"].isin(["met", "short"])].iterrows():
        label = indicator_label(str(r["indicator"]), "zh", result.catalogue)
        gap = f"，差 {100 * r['gap']:.1f} 个百分点" if r["status"] == "short" else ""
        lines.append(
            f"{label}（{scopes.get(r['scope'], r['scope'])}）：{100 * r['value']:.1f}%，"
            f"目标 {100 * r['target']:g}%（{r['preset']}），{STATUS_LABELS['zh'][r['status']]}{gap}"
        )
    short = result.shortfalls.groupby("indicator")["community_id"].nunique()
    listed = "；".join(
        f"{indicator_label(str(k), 'zh', result.catalogue)} {v} 个" for k, v in short.items()
    )
    lines.append(
        f"未达标社区：{listed or '无'}（共 {len(result.communities)} 个社区，见 shortfalls.csv）"
    )
    missing = agg[agg["status"] == "no data"]["indicator"].nunique()
    if missing:
        lines.append(f"另有 {missing} 项目标缺少数据，无法测算（见报告“缺少数据的目标”）")
    if not brief:
        acc = result.accounting
        lines.append(
            f"人口：输入 {acc['input_population']:,.0f}，参与计算 {acc['used_population']:,.0f}，"
            f"未接入路网 {acc['off_network_population_walk']:,.0f}（步行）"
        )
    return "\n".join(lines)


def _no_data_lines(agg: pd.DataFrame) -> list[str]:
    """One line naming the targeted indicators that have no data, and what to supply."""
    missing = agg[(agg["status"] == "no data") & agg["target"].notna()]
    if missing.empty:
        return []
    ids = sorted(set(missing["indicator"]))
    shown = ", ".join(ids[:8]) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
    return [
        "",
        f"no data for {len(ids)} targeted indicators ({shown}): their facilities or inputs "
        "were not given; each row of indicators.csv says what to supply",
    ]


def headline(result: StudyResult, brief: bool = False, lang: str = "en") -> str:
    """The console table: headline indicators against targets, and the population account.

    ``brief`` (``--quiet``): the study's name, the table and the communities below
    target only, without the settings, the population account, the legend and the notes.
    ``lang="zh"``: in Chinese, one line per targeted indicator (:func:`_headline_zh`).
    """
    if lang == "zh":
        return _headline_zh(result, brief)
    study = result.study
    acc = result.accounting
    ind = indicators_table(result)
    agg = ind[ind["scope"].isin(["all", "urban", "rural"])]
    units = {spec.indicator: spec.unit for spec in result.specs}
    units |= {e.id: e.unit for e in result.catalogue.values() if isinstance(e, AccessIndicator)}
    keep = agg[
        (agg["status"].isin(["met", "short"]))
        | ((agg["indicator"] == "A1_service_circle") & (agg["scope"] == "all"))
        | (
            (agg["indicator"] == "category_coverage")
            & (agg["scope"] == "all")
            & (agg["mode"] == "walk")
            & (agg["minutes_or_metres"] == study.indicators.circle_min)
        )
    ]
    settings = [
        f"targets: {study.targets.describe()}; speeds: {study.speeds.describe()}; "
        f"snapping limit: walk {study.snapping.walk_limit_m:g} m, "
        f"cycle {study.snapping.cycle_limit_m:g} m; one-way tie "
        f"{study.snapping.oneway_tie_m:g} m; network: {study.network.component} component",
        f"residents: input {acc['input_population']:,.0f}, used {acc['used_population']:,.0f}, "
        f"outside communities {acc['outside_communities_population']:,.0f}, off-network "
        f"{acc['off_network_population_walk']:,.0f} (walk) / {acc['off_network_population_cycle']:,.0f} (cycle), "
        f"of whom stranded beside a street cut off from the network "
        f"{acc['stranded_population_walk']:,.0f} / {acc['stranded_population_cycle']:,.0f}",
        "",
    ]
    lines = [
        f"{study.name}",
        *([] if brief else settings),
        f"{'indicator':<28} {'scope':<6} {'mode':<8} {'T':>7} {'categories':<24} "
        f"{'target':>7} {'value':>7} {'status':<10} {'gap pp':>7} {'communities':>11}  preset",
    ]
    noted: set[str] = set()
    for _, r in keep.iterrows():
        unit = units.get(r["indicator"], "min")
        threshold = (
            "rule".rjust(7)
            if pd.isna(r["minutes_or_metres"])
            else f"{r['minutes_or_metres']:>4g}{unit:<3}"
        )
        target = "" if pd.isna(r["target"]) else f"{100 * r['target']:.0f} %"
        value = "" if pd.isna(r["value"]) else f"{100 * r['value']:.1f} %"
        gap = "" if pd.isna(r["gap"]) else f"{100 * r['gap']:+.1f}"
        comms = f"{r['communities_fully_covered']}/{r['communities_with_residents']}"
        lines.append(
            f"{r['indicator']:<28} {r['scope']:<6} {r['mode']:<8} {threshold} "
            f"{r['categories'][:24]:<24} {target:>7} {value:>7} {r['status']:<10} {gap:>7} {comms:>11}"
            f"  {r['preset']}"
        )
        if r["note"] and r["indicator"] not in noted and not brief:
            noted.add(r["indicator"])
            lines.append(f"{'':<30}note: {r['note']}")
    short = result.shortfalls.groupby("indicator")["community_id"].nunique()
    below = (
        "communities below target: "
        + (", ".join(f"{k} {v}" for k, v in short.items()) or "none")
        + f" (of {len(result.communities)}; see shortfalls.csv)"
    )
    if brief:
        return "\n".join([*lines, below])
    lines += _no_data_lines(agg)
    lines += [
        "",
        "value: population-weighted share (rules: share of the communities they apply to); "
        "communities: fully covered / with residents (rules: complying / applicable); "
        "gap pp: target − value in percentage points",
        below,
    ]
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)
