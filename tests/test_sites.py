"""Siting on the demo study: proposals, fixed existing facilities, infeasible targets,
candidate testing, determinism, and the outputs."""

import re
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from coverage.cli import main
from coverage.config import demo_study
from coverage.pipeline import LoadedStudy
from coverage.sites import site_study


@pytest.fixture(scope="module")
def demo():
    study = demo_study()
    return study, LoadedStudy.load(study)


def with_siting(study, **changes):
    return study.with_overrides(siting=replace(study.siting, spacing_m=500.0, **changes))


def test_maximal_covering_adds_up_and_matches_the_rerun(demo):
    study, loaded = demo
    out = site_study(loaded, with_siting(study, p=2).siting)
    assert out.solution.optimal and out.solution.method == "milp"
    assert len(out.sites) == 2
    gains = out.sites["incremental_gain"].to_numpy()
    assert gains[0] >= gains[1] > 0
    assert out.figures["covered_after"] == pytest.approx(
        out.figures["covered_before"] + gains.sum()
    )
    # the rerun with the two sites added as complexes gives the same A3 figure
    ba = out.before_after
    a3 = ba[(ba["indicator"] == "A3_complex_radius_straight") & (ba["scope"] == "all")].iloc[0]
    # before: the demo has no complexes (no data); after: the proposed ones are the data
    assert a3["status_before"] == "no data" and np.isnan(a3["value_before"])
    assert a3["value_after"] == pytest.approx(out.figures["share_after"], abs=1e-9)
    assert out.sizes["candidates_kept"] <= out.sizes["candidates"]


def test_existing_facilities_are_fixed(demo):
    study, loaded = demo
    result = loaded.result
    out = site_study(
        loaded, with_siting(study, category="health", mode="walk", minutes=15.0, p=1).siting
    )
    ind = result.indicators
    health = ind[
        (ind["indicator"] == "category_coverage")
        & (ind["categories"] == "health")
        & (ind["mode"] == "walk")
        & (ind["minutes_or_metres"] == 15)
        & (ind["scope"] == "all")
    ].iloc[0]
    assert out.figures["covered_before"] == pytest.approx(health["covered_population"])
    ba = out.before_after
    after = ba[
        (ba["indicator"] == "category_coverage")
        & (ba["categories"] == "health")
        & (ba["mode"] == "walk")
        & (ba["minutes_or_metres"] == 15)
        & (ba["scope"] == "all")
    ].iloc[0]
    new = out.sites["incremental_gain"].sum()
    assert after["covered_population_after"] == pytest.approx(health["covered_population"] + new)


def test_unreachable_target_reports_the_best_feasible_share(demo):
    study, loaded = demo
    out = site_study(loaded, with_siting(study, model="set_cover", target_share=1.0).siting)
    assert out.figures["unreachable_by_any_candidate"] > 0
    assert any("highest feasible" in n for n in map(str, out.notes))
    reachable = out.figures["residents_counted"] - out.figures["unreachable_by_any_candidate"]
    assert out.figures["covered_after"] == pytest.approx(reachable)


def test_candidate_testing_ranks_the_given_plots(demo, tmp_path):
    study, loaded = demo
    result = loaded.result
    comm = result.communities.sort_values("population", ascending=False).head(5)
    plots = gpd.GeoDataFrame(
        {"candidate_id": [f"plot-{i}" for i in range(5)]},
        geometry=comm.geometry.representative_point().values,
        crs=result.crs,
    ).to_crs("EPSG:4326")
    path = tmp_path / "plots.geojson"
    plots.to_file(path, driver="GeoJSON")
    out = site_study(loaded, with_siting(study, model="test", candidates=str(path)).siting)
    sites = out.sites
    assert sorted(sites["candidate_id"]) == [f"plot-{i}" for i in range(5)]
    # each site's gain alone is at least what it adds in build order
    assert (sites["gain_alone"] >= sites["incremental_gain"] - 1e-6).all()
    assert sites["gain_alone"].iloc[0] == sites["gain_alone"].max()
    assert sites["incremental_gain"].is_monotonic_decreasing
    # the exact best k of the plots is never worse than the first k in build order
    assert (sites["best_k_new"] >= sites["cumulative_new"] - 1e-6).all()
    assert sites["best_k_new"].iloc[-1] == pytest.approx(sites["cumulative_new"].iloc[-1])
    joint = sites["cumulative_new"].iloc[-1]
    assert joint <= sites["gain_alone"].sum() + 1e-6


def test_site_command_writes_sites_and_is_deterministic(tmp_path, capsys):
    args = ["site", "--out", str(tmp_path / "a"), "--p", "2", "--spacing", "500", "--quiet"]
    args += ["--preset", "suining-2025"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "proven optimal" in text
    sites = pd.read_csv(tmp_path / "a" / "sites.csv")
    assert list(sites.columns[:3]) == ["rank", "candidate_id", "gain_alone"]
    assert len(sites) == 2
    layers = set(gpd.list_layers(tmp_path / "a" / "sites.gpkg")["name"])
    assert {"sites", "catchments", "candidates"} <= layers
    assert (tmp_path / "a" / "before_after.csv").exists()
    page = (tmp_path / "a" / "map.html").read_text(encoding="utf-8")
    assert "proposed site 1" in page
    # indicators are listed by name, not id; without complexes before (no data) the map opens on A1
    first = re.search(r'option value=\\"0\\">([^<]*)<', page)
    assert first and "15-minute community service circle" in first[1] and "A1_" not in first[1]
    assert 'id="sites"' in (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    args[2] = str(tmp_path / "b")
    assert main(args) == 0
    again = pd.read_csv(tmp_path / "b" / "sites.csv")
    assert again.equals(sites)
    assert np.all(again["rank"] == [1, 2])


def test_the_map_opens_on_the_sited_indicator(demo, tmp_path):
    from coverage.report import write_outputs

    study, loaded = demo
    siting = with_siting(study, category="health", mode="walk", minutes=15.0, p=1).siting
    out = site_study(loaded, siting)
    paths = write_outputs(loaded.result, tmp_path, siting=out)
    page = paths["map"].read_text(encoding="utf-8")
    first = re.search(r'option value=\\"0\\">([^<]*)<', page)
    assert first and first[1].startswith("community health station") and "15 min" in first[1]


def test_p_median_lowers_total_travel_time(demo):
    study, loaded = demo
    siting = dict(model="p_median", category="health", mode="walk", minutes=15.0, p=2)
    out = site_study(loaded, with_siting(study, **siting).siting)
    sol = out.solution
    assert sol.optimal and len(out.sites) == 2
    assert sol.extra["total"] < sol.extra["total_before"]
    assert sol.covered == pytest.approx(sol.extra["total_before"] - sol.extra["total"])
    assert any("p-median" in n for n in map(str, out.notes))


def test_sites_say_where_they_are_and_keep_the_candidates_own_attributes(demo, tmp_path):
    study, loaded = demo
    comm = loaded.result.communities.sort_values("population", ascending=False).head(2)
    plots = gpd.GeoDataFrame(
        {
            "candidate_id": ["east", "west"],
            "name": ["东区地块", "西区地块"],
            "area_m2": [1200, 900],
        },
        geometry=comm.geometry.representative_point().values,
        crs=loaded.result.crs,
    ).to_crs("EPSG:4326")
    path = tmp_path / "plots.gpkg"
    plots.to_file(path)
    out = site_study(loaded, with_siting(study, model="test", candidates=str(path)).siting)
    sites = out.sites.set_index("candidate_id")
    assert set(sites["name"]) == {"东区地块", "西区地块"} and set(sites["area_m2"]) == {1200, 900}
    assert set(sites["community_id"]) == set(comm["community_id"])
    back = plots.set_index("candidate_id").geometry
    np.testing.assert_allclose(sites.loc[back.index, "lon"], back.x, atol=1e-6)
    np.testing.assert_allclose(sites.loc[back.index, "lat"], back.y, atol=1e-6)
    xy = plots.to_crs(loaded.result.crs).set_index("candidate_id").geometry
    np.testing.assert_allclose(sites.loc[xy.index, "x_m"], xy.x, atol=0.01)
