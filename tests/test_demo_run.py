"""The whole run on the shipped Porto Alegre demo, through the command line."""

import contextlib
import json
import re
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from coverage.cli import main
from coverage.indicators import INDICATOR_COLUMNS

DEMO_POPULATION = 812_935  # IPEA grid total (2010 census), see data/PROVENANCE.md


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["run", "--out", str(out), "--quiet"]) == 0
    return out


def test_outputs_exist(run_dir):
    for name in (
        "indicators.csv",
        "communities.csv",
        "communities.gpkg",
        "shortfalls.csv",
        "map.html",
        "run.json",
    ):
        assert (run_dir / name).stat().st_size > 0, name
    assert not list(run_dir.glob(".partial-*")), "staging folder left behind"
    assert {p.name for p in run_dir.iterdir() if p.name.startswith(".")} == set()


def test_indicator_table_follows_method(run_dir):
    ind = pd.read_csv(run_dir / "indicators.csv")
    assert list(ind.columns) == INDICATOR_COLUMNS
    assert set(ind["status"]) <= {
        "met",
        "short",
        "no target",
        "no residents",
        "no data",
        "not applicable",
    }
    values = ind["value"].dropna()
    assert ((values >= 0) & (values <= 1)).all()
    agg = ind[ind["scope"].isin(["all", "urban", "rural"])]
    keys = set(
        zip(
            agg["indicator"],
            agg["scope"],
            agg["mode"],
            agg["minutes_or_metres"],
            agg["categories"],
            strict=True,
        )
    )
    for cat in ("primary_school", "health"):
        for minutes in (5, 10, 15):
            assert ("category_coverage", "all", "walk", minutes, cat) in keys
    a1 = agg[(agg["indicator"] == "A1_service_circle") & (agg["scope"] == "urban")].iloc[0]
    assert a1["categories"] == "primary_school+health" and a1["target"] == 1.0
    assert a1["status"] == ("met" if a1["value"] >= 1 else "short")
    assert a1["gap"] == pytest.approx(1.0 - a1["value"], abs=1e-6)
    assert "城市社区" in a1["wording_zh"] and a1["target_year"] == 2025
    a2 = agg[agg["indicator"] == "A2_rural_cycling"]
    assert list(a2["scope"]) == ["rural"] and a2.iloc[0]["target"] == 0.8
    a3 = agg[agg["indicator"].str.startswith("A3")]
    assert set(a3["indicator"]) == {"A3_complex_radius_straight", "A3_complex_radius_network"}
    # the demo has no community complexes and does not say it surveyed them: no data, not 0 %
    assert (a3["status"] == "no data").all() and a3["value"].isna().all()
    assert a3["note"].str.contains("no data: no community_complex facilities were given").all()
    assert a3["note"].str.contains("surveyed_categories").all()


def test_coverage_rises_with_time(run_dir):
    ind = pd.read_csv(run_dir / "indicators.csv")
    cat = ind[(ind["indicator"] == "category_coverage") & (ind["mode"] == "walk")]
    wide = cat.pivot_table(
        index=["scope", "categories"], columns="minutes_or_metres", values="value"
    )
    assert (wide[5.0] <= wide[10.0] + 1e-12).all() and (wide[10.0] <= wide[15.0] + 1e-12).all()
    # on the demo, cycling 15 min (3x the speed) reaches at least the residents walking 15 min
    # does: a sanity check that caught points snapped into one-way dead ends
    cyc = ind[(ind["indicator"] == "category_coverage") & (ind["mode"] == "cycle")].set_index(
        ["scope", "categories"]
    )
    walk15 = wide[15.0]
    assert (cyc["value"].reindex(walk15.index).dropna() >= walk15.dropna() - 1e-12).all()


def test_population_is_conserved(run_dir):
    run = json.loads((run_dir / "run.json").read_text())
    pop = run["population"]
    assert pop["input_population"] == DEMO_POPULATION
    assert pop["used_population"] == pytest.approx(DEMO_POPULATION, abs=1e-6)
    assert pop["outside_communities_population"] == pytest.approx(0, abs=1e-6)
    comm = pd.read_csv(run_dir / "communities.csv")
    assert comm["population"].sum() == pytest.approx(DEMO_POPULATION, abs=1e-3)
    ind = pd.read_csv(run_dir / "indicators.csv")
    # every access indicator over residents counts every resident
    over_residents = (ind["scope"] == "all") & (ind["mode"] != "rule") & ind["value"].notna()
    total = ind[over_residents]["total_population"]
    assert np.allclose(total, DEMO_POPULATION)
    # the off-network residents are counted, and they are not covered
    assert pop["off_network_population_walk"] > 0
    dem = gpd.read_file(run_dir / "communities.gpkg", layer="demand_points")
    off = dem["walk_access_m"].isna()
    assert dem.loc[off, "population"].sum() == pytest.approx(
        pop["off_network_population_walk"], abs=1e-3
    )
    assert not dem.loc[off, "covered_A1_service_circle_15min"].any()


def test_run_json_records_settings_hashes_versions(run_dir):
    run = json.loads((run_dir / "run.json").read_text())
    assert run["settings"]["speeds"] == {
        "walk_kmh": 4.0,
        "cycle_kmh": 12.0,
        "walk_highway_kmh": {},
        "cycle_highway_kmh": {},
        "cycle_push_kmh": 0.0,
        "older_walk_kmh": 3.2,
        "child_walk_kmh": 3.2,
    }
    assert run["settings"]["network"] == {
        "component": "largest",
        "service_area_buffer_m": 50.0,
        "cache_dir": "",
        "download_attempts": 3,
        "catchment_counts": True,
    }
    assert len(run["inputs"]["network"]["sha256"]) == 64
    assert run["versions"]["scipy"] != "not installed"
    assert run["elapsed_s"] > 0 and run["crs"] == "EPSG:32722"


def test_communities_table_and_gpkg(run_dir):
    comm = gpd.read_file(run_dir / "communities.gpkg", layer="communities")
    assert len(comm) == 44 and comm["community_id"].is_unique
    assert {"A1_service_circle_15min", "shortfall", "short_indicators", "kind"} <= set(comm.columns)
    short = pd.read_csv(run_dir / "shortfalls.csv")
    a1 = short[short["indicator"] == "A1_service_circle"]
    assert len(a1) > 0 and (a1["uncovered_population"] > 0).all()
    assert a1["missing_categories"].str.contains("residents beyond 15 min").all()


def test_map_has_layers_legend_and_popups(run_dir):
    page = (run_dir / "map.html").read_text(encoding="utf-8")
    assert "L.map" in page and "POA-01" in page
    assert "facilities: primary school" in page and "facilities: community health station" in page
    assert "sc-legend" in page and "OpenStreetMap contributors" in page and "IPEA" in page
    assert "bindPopup" in page


def test_determinism(run_dir, tmp_path):
    """A rerun gives byte-identical tables, GeoPackage and map; run.json differs in time only."""
    assert main(["run", "--out", str(tmp_path), "--quiet"]) == 0
    for name in (
        "indicators.csv",
        "communities.csv",
        "shortfalls.csv",
        "communities.gpkg",
        "map.html",
    ):
        assert (tmp_path / name).read_bytes() == (run_dir / name).read_bytes(), name
    runs = [json.loads((d / "run.json").read_text(encoding="utf-8")) for d in (run_dir, tmp_path)]
    for run in runs:
        for key in ("finished_at_utc", "elapsed_s", "stage_timings_s"):
            run.pop(key)
        # the workbook's settings sheet and the report print the run's time
        for name in ("indicators.xlsx", "report.html"):
            run["output_sha256"].pop(name)
    assert runs[0] == runs[1]


def test_preset_override_and_headline(tmp_path, capsys):
    assert main(["run", "--out", str(tmp_path), "--preset", "suining-2022", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "A1_service_circle" in printed and "60 %" in printed
    # --quiet: the headline only, in at most about 15 lines, no settings, account or notes
    assert len(printed.splitlines()) <= 16 and "residents: input" not in printed
    assert "note:" not in printed
    ind = pd.read_csv(tmp_path / "indicators.csv")
    a1 = ind[(ind["indicator"] == "A1_service_circle") & (ind["scope"] == "urban")].iloc[0]
    assert a1["target"] == 0.6 and a1["status"] == "met"


def test_bad_study_file_exits_with_a_message(tmp_path, capsys):
    bad = tmp_path / "s.toml"
    bad.write_text("[inputz]\n")
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "unknown key 'inputz' (did you mean 'inputs'?)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_shortfall_areas_hold_the_uncovered_residents(run_dir):
    areas = gpd.read_file(run_dir / "communities.gpkg", layer="shortfall_areas")
    ind = pd.read_csv(run_dir / "indicators.csv")
    a1 = ind[(ind["indicator"] == "A1_service_circle") & (ind["scope"] == "urban")].iloc[0]
    mine = areas[areas["indicator"] == "A1_service_circle"]
    assert mine["uncovered_population"].sum() == pytest.approx(
        a1["total_population"] - a1["covered_population"], abs=1e-2
    )
    assert list(mine["rank"]) == list(range(1, len(mine) + 1))
    assert mine["uncovered_population"].is_monotonic_decreasing


def test_catchments_add_up_to_the_coverage(run_dir):
    """Residents served by the facilities of a category = residents covered by that category."""
    fac = gpd.read_file(run_dir / "communities.gpkg", layer="facilities")
    ind = pd.read_csv(run_dir / "indicators.csv")
    for mode, minutes in (("walk", 15), ("cycle", 15)):
        rows = ind[
            (ind["indicator"] == "category_coverage")
            & (ind["scope"] == "all")
            & (ind["mode"] == mode)
            & (ind["minutes_or_metres"] == minutes)
        ]
        for _, r in rows.iterrows():
            served = fac.loc[fac["category"] == r["categories"], f"served_population_{mode}"].sum()
            assert served == pytest.approx(r["covered_population"], abs=0.5)
            within = fac.loc[fac["category"] == r["categories"], f"population_within_{mode}"]
            assert within.sum() >= served - 0.5  # overlapping catchments count residents twice


def test_demand_points_name_their_nearest_facility(run_dir):
    dem = gpd.read_file(run_dir / "communities.gpkg", layer="demand_points")
    fac = gpd.read_file(run_dir / "communities.gpkg", layer="facilities")
    ids = set(fac["facility_id"])
    reached = dem["walk_min_health"].notna()
    assert dem.loc[reached, "walk_nearest_health"].isin(ids).all()
    assert dem.loc[~reached, "walk_nearest_health"].isna().all()
    health = set(fac.loc[fac["category"] == "health", "facility_id"])
    assert dem.loc[reached, "walk_nearest_health"].isin(health).all()
    # the demo's off-network residents are all on islands: stranded beside cut-off streets
    assert (dem["walk_stranded"] == dem["walk_access_m"].isna()).all()


def test_service_areas_are_written_for_display(run_dir):
    areas = gpd.read_file(run_dir / "communities.gpkg", layer="service_areas")
    assert set(zip(areas["mode"], areas["category"], strict=True)) == {
        ("walk", "primary_school"),
        ("walk", "health"),
        ("cycle", "primary_school"),
        ("cycle", "health"),
    }
    assert areas.geometry.is_valid.all() and (areas.area > 1e6).all()
    html = (run_dir / "map.html").read_text(encoding="utf-8")
    assert "service area:" in html


def test_every_preset_target_appears_with_value_and_status(demo_loaded):
    """Measured against every shipped preset (``--preset all``), each target row is there."""
    from coverage.config import Targets
    from coverage.pipeline import LoadedStudy
    from coverage.targets import load_presets, shipped_presets

    every = demo_loaded.study.with_overrides(targets=Targets(preset=tuple(shipped_presets())))
    ind = LoadedStudy(every, demo_loaded.layers).result.indicators
    for name in shipped_presets():
        for t in load_presets([name]):
            rows = ind[
                (ind["preset"] == name)
                & (ind["indicator"] == t.indicator)
                & (ind["scope"] == t.scope)
            ]
            assert len(rows) == 1, (name, t.indicator, t.scope)
            row = rows.iloc[0]
            assert row["target"] == pytest.approx(t.target)
            assert row["status"] in {"met", "short", "no data", "not applicable"}
            assert row["wording_zh"] == t.wording_zh and row["target_year"] == t.year
            if row["status"] in ("met", "short"):
                assert 0 <= row["value"] <= 1


def test_surveyed_categories_make_a_zero_real(demo_loaded):
    """Declared surveyed ("we looked; there are none"), an absent category scores 0 % short."""
    from coverage.config import Inputs
    from coverage.pipeline import LoadedStudy

    study = demo_loaded.study
    inputs = Inputs(
        **{**{f: getattr(study.inputs, f) for f in ("communities", "facilities")}},
        population=study.inputs.population,
        network=study.inputs.network,
        surveyed_categories=("community_complex",),
    )
    result = LoadedStudy(study.with_overrides(inputs=inputs), demo_loaded.layers).result
    ind = result.indicators
    a3 = ind[(ind["indicator"] == "A3_complex_radius_straight") & (ind["scope"] == "all")]
    assert (a3["status"] != "no data").all() and (a3["value"] == 0).all()
    assert "surveyed: the study area has none" in a3["note"].iloc[0]
    # without the declaration the same rows read no data, with no value
    base = demo_loaded.result.indicators
    same = base.loc[a3.index]
    assert (same["status"] == "no data").all() and same["value"].isna().all()
    per_community = result.communities["A3_complex_radius_straight_1500m"]
    assert (per_community.dropna() == 0).all()
    assert demo_loaded.result.communities["A3_complex_radius_straight_1500m"].isna().all()


def test_command_line_values_are_checked_before_any_work(tmp_path, capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    cases = [
        (["run", "--out", str(a_file)], "--out", "is a file, not a folder"),
        (["run", "--out", str(a_file / "sub")], "--out", "so the folder cannot be made"),
        (["site", "--p", "0", "--out", str(tmp_path / "o")], "argument --p", "must be 1 or more"),
        (["site", "--candidates", str(tmp_path / "no.gpkg")], "argument --candidates", "not found"),
        (["site", "--target-share", "1.5"], "argument --target-share", "share in (0, 1]"),
        (["run", "--ouput", str(tmp_path)], "--ouput", "did you mean --out?"),
    ]
    for argv, flag, problem in cases:
        start = time.perf_counter()
        with contextlib.suppress(SystemExit):
            assert main(argv) == 2
        err = capsys.readouterr().err
        assert flag in err and problem in err, err
        assert len(err.strip().splitlines()) == 1, err  # one line, no usage dump
        assert time.perf_counter() - start < 1.0  # refused before reading anything
    assert not (tmp_path / "o").exists()


def test_the_chinese_console_headline(demo_result):
    from coverage.report import headline

    text = headline(demo_result, brief=True, lang="zh")
    lines = text.splitlines()
    assert lines[0] == demo_result.study.name and len(lines) <= 15
    assert (
        "城市社区“15分钟社区服务圈”覆盖率（城市社区）：79.6%，目标 100%（suining-2025），未达标"
        in text
    )
    # beyond the study's own name, the preset ids and file names, no English words
    rest = "\n".join(lines[1:]).replace("suining-2025", "").replace("shortfalls.csv", "")
    assert not re.search(r"[A-Za-z]{2,}", rest), rest
