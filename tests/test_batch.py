"""Batches of study areas on Dask: the same results as one by one, failures kept apart, reruns skipped."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from coverage.batch import area_tasks, gather, run_area, run_batch
from coverage.cli import main
from tiny_study import (
    LAT0,
    LON0,
    STEP,
    make_communities,
    make_facilities,
    make_population,
    write_study,
)

WEST = box(LON0 - STEP, LAT0 - STEP, LON0 + 5 * STEP, LAT0 + 11 * STEP)
EAST = box(LON0 + 5 * STEP, LAT0 - STEP, LON0 + 11 * STEP, LAT0 + 11 * STEP)


def _areas(tmp_path, **columns):
    path = tmp_path / "areas.geojson"
    gpd.GeoDataFrame(
        {"area_id": ["west", "east"], "name": ["West", "East"], **columns},
        geometry=[WEST, EAST],
        crs="EPSG:4326",
    ).to_file(path)
    return path


@pytest.fixture(scope="module")
def clipped(tmp_path_factory):
    """The tiny study split into two areas, run on a local Dask cluster of two workers."""
    tmp = tmp_path_factory.mktemp("batch")
    study = write_study(tmp)
    tasks, _ = area_tasks(_areas(tmp), study, tmp / "out")
    statuses = run_batch(tasks, workers=2, progress=lambda _: None)
    paths = gather(tasks, statuses, tmp / "out")
    return tmp, study, tasks, statuses, paths


def test_each_area_is_one_task_and_every_output_is_gathered(clipped):
    tmp, _, _, statuses, paths = clipped
    assert [s["status"] for s in statuses] == ["done", "done"]
    table = pd.read_csv(paths["indicators"])
    assert list(table.columns[:2]) == ["area", "indicator"] and set(table["area"]) == {
        "west",
        "east",
    }
    # each community in exactly one area: the west one holds A, the east one B
    comm = gpd.read_file(paths["areas_gpkg"], layer="communities")
    assert sorted(zip(comm["area"], comm["community_id"], strict=True)) == [
        ("east", "B"),
        ("west", "A"),
    ]
    page = paths["index"].read_text(encoding="utf-8")
    for area in ("west", "east"):
        assert (
            f'href="areas/{area}/map.html"' in page and f'href="areas/{area}/report.html"' in page
        )
        assert (tmp / "out" / "areas" / area / "map.html").is_file()
    record = json.loads(paths["batch"].read_text(encoding="utf-8"))
    assert record["done"] == 2 and record["failed"] == 0


def test_the_facility_across_the_border_still_serves(clipped):
    """East's residents are served by the centre in the west (within the study's reach)."""
    _, _, _, _, paths = clipped
    table = pd.read_csv(paths["indicators"])
    a1 = table[(table["indicator"] == "A1_service_circle") & (table["scope"] == "all")]
    assert a1.set_index("area").loc["east", "value"] > 0
    east_fac = gpd.read_file(paths["indicators"].parent / "areas/east/inputs/facilities.gpkg")
    assert list(east_fac["facility_id"]) == ["cs1"]


def test_the_same_as_running_the_areas_one_by_one(clipped, tmp_path):
    tmp, study, tasks, _, _ = clipped
    serial, _ = area_tasks(_areas(tmp_path), study, tmp_path / "serial")
    for task in serial:
        assert run_area(task)["status"] == "done"
    for task in tasks:
        for name in ("indicators.csv", "communities.csv", "shortfalls.csv"):
            a = (task.out_dir / name).read_bytes()
            b = (tmp_path / "serial" / "areas" / task.area_id / name).read_bytes()
            assert a == b, (task.area_id, name)
    # and the same as `service-coverage run` on the area's own (clipped) inputs
    west = tasks[0].out_dir
    text = (tmp / "study.toml").read_text(encoding="utf-8")
    for layer in ("communities", "facilities", "population"):
        text = text.replace(
            f'"{layer}.gpkg"', f'"{(west / "inputs" / f"{layer}.gpkg").as_posix()}"'
        )
    text = text.replace('"net.osm"', f'"{(west / "inputs" / "network.osm.pbf").as_posix()}"')
    (tmp_path / "west.toml").write_text(text, encoding="utf-8")
    assert (
        main(["run", str(tmp_path / "west.toml"), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    )
    assert (tmp_path / "run" / "indicators.csv").read_bytes() == (
        west / "indicators.csv"
    ).read_bytes()


def test_a_given_scheduler_gives_the_same_results(clipped, tmp_path):
    from distributed import LocalCluster

    _, study, tasks, _, _ = clipped
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster:
        again, _ = area_tasks(_areas(tmp_path), study, tmp_path / "out")
        statuses = run_batch(again, scheduler=cluster.scheduler_address, progress=lambda _: None)
    assert [s["status"] for s in statuses] == ["done", "done"]
    for a, b in zip(tasks, again, strict=True):
        assert (a.out_dir / "indicators.csv").read_bytes() == (
            b.out_dir / "indicators.csv"
        ).read_bytes()


def test_a_failed_area_is_reported_and_the_others_kept_and_reruns_skip(tmp_path, capsys):
    """Areas with their own inputs: one broken; then a rerun skips what is unchanged."""
    base = write_study(tmp_path)
    broken = make_facilities()
    broken["category"] = ["clinic"]
    broken.to_file(tmp_path / "broken.gpkg")
    shutil.copy(tmp_path / "facilities.gpkg", tmp_path / "east_facilities.gpkg")
    areas = _areas(
        tmp_path,
        communities=["communities.gpkg", "communities.gpkg"],
        facilities=["broken.gpkg", "east_facilities.gpkg"],
        population=["population.gpkg", "population.gpkg"],
    )
    study_file = str(base.source)
    out = str(tmp_path / "out")
    args = ["batch", str(areas), "--study", study_file, "--out", out, "--workers", "2", "--quiet"]
    assert main(args) == 3
    printed = capsys.readouterr().out
    assert "1 run, 0 unchanged (skipped), 1 failed" in printed
    assert (
        "area west failed: facilities layer: unknown category for feature(s) cs1 ('clinic', did you mean 'health'?)"
        in printed
    )
    record = json.loads((tmp_path / "out" / "batch.json").read_text(encoding="utf-8"))
    assert [a["status"] for a in record["areas"]] == ["failed", "done"]
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "failed" in page and "unknown category" in page
    assert not (tmp_path / "out" / "areas" / "west" / "run.json").exists()
    # fix the west area: only it runs again; the east area is unchanged and skipped
    shutil.copy(tmp_path / "facilities.gpkg", tmp_path / "broken.gpkg")
    assert main(args) == 0
    assert "1 run, 1 unchanged (skipped), 0 failed" in capsys.readouterr().out
    # a changed input reruns its area
    fac = make_facilities()
    fac["name"] = ["renamed"]
    fac.to_file(tmp_path / "east_facilities.gpkg")
    assert main(args) == 0
    assert "1 run, 1 unchanged (skipped), 0 failed" in capsys.readouterr().out
    # a damaged output is not taken for a complete run
    (tmp_path / "out" / "areas" / "east" / "indicators.csv").write_text("half a table")
    assert main(args) == 0
    assert "1 run, 1 unchanged (skipped), 0 failed" in capsys.readouterr().out


def test_bad_areas_layers_are_refused(tmp_path, capsys):
    path = tmp_path / "areas.geojson"
    gpd.GeoDataFrame({"area_id": ["a", "a"]}, geometry=[WEST, EAST], crs=4326).to_file(path)
    assert main(["batch", str(path), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "areas layer: area_id 'a' is repeated" in capsys.readouterr().err
    gpd.GeoDataFrame({"area_id": ["../x"]}, geometry=[WEST], crs=4326).to_file(path)
    assert main(["batch", str(path), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "cannot name a folder" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "none.gpkg"), "--quiet"]) == 2
    assert "areas file not found" in capsys.readouterr().err


def test_the_reach_follows_the_study(tmp_path):
    from coverage.batch import reach_m

    study = write_study(tmp_path)
    # the default catalogue's longest time threshold by bicycle at 12 km/h, plus 1 km snapping
    longest = reach_m(study)
    faster = study.with_overrides(speeds=dataclasses.replace(study.speeds, cycle_kmh=24.0))
    assert reach_m(faster) - 1000 == pytest.approx(2 * (longest - 1000))
    assert longest >= 12.0 / 3.6 * 60 * 15 + 1000


def test_communities_are_given_to_one_area_each_and_the_rest_reported(tmp_path):
    """Overlapping areas: A and B both in the first; a community in no area is named."""
    from coverage.batch import area_tasks

    comm = make_communities()
    comm.loc[2] = ["C", "far", "urban", box(LON0 + 20 * STEP, LAT0, LON0 + 21 * STEP, LAT0 + STEP)]
    study = write_study(tmp_path, communities=comm)
    path = tmp_path / "areas.geojson"
    whole = box(LON0 - STEP, LAT0 - STEP, LON0 + 11 * STEP, LAT0 + 11 * STEP)
    gpd.GeoDataFrame({"area_id": ["all", "west"]}, geometry=[whole, WEST], crs=4326).to_file(path)
    tasks, notes = area_tasks(path, study, tmp_path / "out")
    got = gpd.read_file(tasks[0].out_dir / "inputs" / "communities.gpkg")
    assert sorted(got["community_id"]) == ["A", "B"]
    assert not (tasks[1].out_dir / "inputs" / "communities.gpkg").exists()
    assert any("1 of 3 communities lie in no area (e.g. C)" in n for n in map(str, notes))
    assert any("1 communities lie in several areas (e.g. A)" in n for n in map(str, notes))
    # the west area, now empty, fails with a clear message; the other runs
    statuses = [run_area(t) for t in tasks]
    assert [s["status"] for s in statuses] == ["done", "failed"]
    assert "no community of communities.gpkg has its representative point" in statuses[1]["error"]


def test_a_sliver_between_two_areas_is_counted_once(tmp_path):
    """B reaches 2 m into A over the area border: its residents there belong to A only."""
    comm = make_communities()
    mid = LON0 + 5 * STEP
    comm.loc[1, "geometry"] = box(mid - 0.00002, LAT0, LON0 + 10 * STEP, LAT0 + 10 * STEP)
    pop = make_population()
    pop.loc[len(pop)] = ["edge", 500.0, Point(mid - 0.00001, LAT0 + 5 * STEP)]
    study = write_study(tmp_path, communities=comm, population=pop)
    tasks, notes = area_tasks(_areas(tmp_path), study, tmp_path / "out")
    assert any("sliver overlap" in n for n in map(str, notes))
    statuses = [run_area(t) for t in tasks]
    assert [s["status"] for s in statuses] == ["done", "done"]
    used = 0.0
    for t in tasks:
        run = json.loads((t.out_dir / "run.json").read_text(encoding="utf-8"))
        used += run["population"]["used_population"]
    assert used == pytest.approx(2500.0)  # not 3000: the 500 are counted in A only


def test_the_rerun_key_follows_preset_files(tmp_path):
    """Editing a target in the study's own preset CSV changes every area's key."""
    import coverage

    preset = tmp_path / "mine.csv"
    shutil.copy(Path(coverage.__file__).parent / "presets" / "suining-2025.csv", preset)
    write_study(tmp_path)
    text = (tmp_path / "study.toml").read_text(encoding="utf-8")
    (tmp_path / "study.toml").write_text(text.replace('"suining-2025"', '"mine.csv"'))
    from coverage.config import load_study

    study = load_study(tmp_path / "study.toml")
    before = [t.key for t in area_tasks(_areas(tmp_path), study, tmp_path / "out")[0]]
    preset.write_text(preset.read_text(encoding="utf-8").replace("1.0", "0.9", 1), encoding="utf-8")
    after = [t.key for t in area_tasks(_areas(tmp_path), study, tmp_path / "out")[0]]
    assert len(set(before)) == 2 and not set(before) & set(after)


def test_the_demo_in_four_areas_counts_every_resident_once(tmp_path, capsys):
    """`service-coverage batch` on the shipped quadrants of the demo, two local workers."""
    from coverage.config import demo_data_dir

    areas = demo_data_dir() / "areas" / "poa_quadrants.geojson"
    out = tmp_path / "out"
    assert main(["batch", str(areas), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    assert "4 areas: 4 run, 0 unchanged (skipped), 0 failed" in capsys.readouterr().out
    used = sum(
        json.loads((out / "areas" / a / "run.json").read_text(encoding="utf-8"))["population"][
            "used_population"
        ]
        for a in ("NW", "NE", "SW", "SE")
    )
    assert used == pytest.approx(812_935, abs=1e-6)  # the demo's residents, each once
    comm = gpd.read_file(out / "areas.gpkg", layer="communities")
    assert len(comm) == 44 and not comm["community_id"].duplicated().any()
    layer = gpd.read_file(out / "areas.gpkg", layer="areas")
    assert list(layer["area_id"]) == ["NW", "NE", "SW", "SE"]
    assert (layer["status"] == "done").all() and layer.geometry.notna().all()


def test_a_population_raster_is_windowed_without_losing_residents(tmp_path):
    """Each area's raster window holds all of its communities' cells: the areas add up."""
    import numpy as np
    import rasterio
    from affine import Affine

    from coverage.pipeline import run_study

    comm = make_communities().to_crs("EPSG:32722")
    x0, y0, x1, y1 = comm.total_bounds
    cell = 70.0  # not a divisor of the communities' size: cells are cut by boundaries
    ncol, nrow = int((x1 - x0) // cell) + 3, int((y1 - y0) // cell) + 3
    grid = np.arange(nrow * ncol, dtype="float64").reshape(nrow, ncol) % 7 + 1
    with rasterio.open(
        tmp_path / "pop.tif",
        "w",
        driver="GTiff",
        height=nrow,
        width=ncol,
        count=1,
        dtype="float64",
        crs="EPSG:32722",
        transform=Affine(cell, 0, x0 - 1.3 * cell, 0, -cell, y1 + 1.3 * cell),
    ) as dst:
        dst.write(grid, 1)
    study = write_study(tmp_path, population="pop.tif")
    whole = run_study(study).accounting["used_population"]
    tasks, _ = area_tasks(_areas(tmp_path), study, tmp_path / "out")
    statuses = [run_area(t) for t in tasks]
    assert [s["status"] for s in statuses] == ["done", "done"]
    used = sum(
        json.loads((t.out_dir / "run.json").read_text(encoding="utf-8"))["population"][
            "used_population"
        ]
        for t in tasks
    )
    assert used == pytest.approx(whole, rel=1e-12)


def test_index_page_in_chinese_when_the_batch_runs_in_chinese(clipped, tmp_path):
    """``--lang zh``: the index's title, headers, statuses and links are Chinese."""
    _, _, tasks, statuses, _ = clipped
    zh = [dataclasses.replace(t, lang="zh") for t in tasks]
    failed = {**statuses[0], "status": "failed", "error": "boom <b>"}
    paths = gather(zh, [failed, {**statuses[1], "status": "skipped"}], tmp_path / "out")
    page = paths["index"].read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and "<title>服务设施覆盖分析：批量运行</title>" in page
    assert "批量运行：2 个区域" in page
    for word in (
        "区域",
        "名称",
        "状态",
        "常住人口",
        "输出",
        "失败",
        "跳过（已有结果）",
        "地图",
        "报告",
    ):
        assert word in page, word
    assert "boom &lt;b&gt;" in page  # the error is shown as text
    body = page.split("<body>", 1)[1]
    text = re.sub(r"<[^>]+>|&\w+;", " ", body)
    latin = set(re.findall(r"[A-Za-z]{2,}", text))
    # beyond the user's data (area ids and names) and the error text, no English
    assert latin <= {"west", "West", "east", "East", "boom"}, latin
