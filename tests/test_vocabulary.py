"""Local data as it arrives: column mapping, category mapping (own values and presets),
Gaode CSV exports in GCJ-02, statistical urban-rural codes; refusals that name what is
unmapped. The example study (tests/data/local_study, written by
scripts/make_local_study.py) runs end to end through the command line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from coverage.cli import main
from coverage.config import load_study
from coverage.errors import MissingColumnError, StudyFileError, UnknownCategoryError
from coverage.inputs import read_point_table
from coverage.vocabulary import category_preset, kind_from_code, map_categories, rename_columns

LOCAL = Path(__file__).parent / "data" / "local_study"


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "out"
    assert main(["run", str(LOCAL / "study.toml"), "--out", str(out), "--quiet"]) == 0
    return out


def test_the_local_example_runs_end_to_end(local_run):
    comm = pd.read_csv(local_run / "communities.csv", dtype={"community_id": str})
    assert comm["community_id"].tolist()[0] == "510903001001"  # from 社区编码
    assert comm.set_index("name")["kind"].to_dict() == {
        "东街社区": "urban", "西街社区": "urban", "南坝社区": "urban", "石桥村": "rural",
    }  # fmt: skip
    assert comm.set_index("name").loc["东街社区", "households"] == 1210  # from 户数
    run = json.loads((local_run / "run.json").read_text(encoding="utf-8"))
    assert any("statistical urban-rural codes" in n for n in run["notes"])
    assert any("converted from GCJ-02 to WGS84" in n for n in run["notes"])
    fac = gpd.read_file(local_run / "communities.gpkg", layer="facilities")
    counts = fac["category"].value_counts().to_dict()
    assert counts == {"health": 3, "primary_school": 2, "kindergarten": 1,
                      "community_service": 1, "convenience": 1}  # fmt: skip
    assert set(fac["facility_id"]) >= {"B0FFA1", "B0FFA8"}
    ind = pd.read_csv(local_run / "indicators.csv")
    a1 = ind[(ind["indicator"] == "A1_service_circle") & (ind["scope"] == "urban")]
    assert a1["status"].iloc[0] in ("met", "short") and 0 < a1["value"].iloc[0] <= 1


def test_the_gaode_pois_land_where_they_are(local_run):
    """GCJ-02 taken back to WGS84: each clinic within a few metres of where it was drawn."""
    fac = gpd.read_file(local_run / "communities.gpkg", layer="facilities").to_crs("EPSG:32648")
    clinic = fac[fac["facility_id"] == "B0FFA1"].geometry.iloc[0]
    drawn = shapely.Point(557_000 + 2.5 * 150, 3_378_000 + 2.5 * 150)
    assert clinic.distance(drawn) < 1.0


def _study_copy(tmp_path: Path, replace: tuple[str, str]) -> Path:
    folder = tmp_path / "study"
    shutil.copytree(LOCAL, folder)
    path = folder / "study.toml"
    text = path.read_text(encoding="utf-8")
    assert replace[0] in text
    path.write_text(text.replace(*replace), encoding="utf-8")
    return path


def test_a_mapped_column_that_is_missing_is_refused_naming_both(tmp_path, capsys):
    path = _study_copy(tmp_path, ('households = "户数"', 'households = "总户数"'))
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "households" in err and "'总户数'" in err and "户数" in err


def test_unmapped_category_values_are_listed_with_their_counts(tmp_path, capsys):
    path = _study_copy(tmp_path, ('"130106" = "community_service"', ""))
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "'130106' (1)" in err and "[categories]" in err


@pytest.mark.parametrize(
    ("replace", "words"),
    [
        (('preset = ["gaode"]', 'preset = ["baidu"]'), "categories.preset"),
        (("[columns.facilities]", "[columns.facility]"), "unknown layer [columns.facility]"),
        (('facility_id = "id"', 'faciliti_id = "id"'), "did you mean"),
        (('"130106" = "community_service"', '"130106" = "community_centre"'), "not a category"),
    ],
)
def test_bad_mappings_in_the_study_file(tmp_path, replace, words):
    path = _study_copy(tmp_path, replace)
    with pytest.raises(StudyFileError, match=words.replace("[", r"\[").replace("]", r"\]")):
        load_study(path)


def test_mapping_rules_by_hand():
    g = gpd.GeoDataFrame(
        {"类型": ["村卫生室", "090300|090601", "health", "090601"], "category": ["x"] * 4},
        geometry=[shapely.Point(0, 0)] * 4,
        crs="EPSG:4326",
    )
    renamed = rename_columns(g, "facilities", {"category": "类型"})
    assert renamed["category"].tolist()[0] == "村卫生室"  # the old 'category' replaced
    mapped = map_categories(renamed, {"村卫生室": "health"}, ("gaode",))
    assert mapped["category"].tolist() == ["health", "health", "health", "pharmacy"]
    assert mapped["category_source"].tolist()[1] == "090300|090601"
    with pytest.raises(UnknownCategoryError, match=r"'090601' \(1\)"):
        map_categories(renamed, {"村卫生室": "health"})
    with pytest.raises(MissingColumnError, match="'类别'"):
        rename_columns(g, "facilities", {"category": "类别"})
    assert category_preset("osm")["amenity=clinic"] == "health"
    kinds, coded = kind_from_code(pd.Series([111, "122", "210", 220.0, "rural"]))
    assert kinds.tolist() == ["urban", "urban", "rural", "rural", "rural"] and coded


def test_point_tables_in_the_forms_chinese_tools_export(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("名称,经度,纬度\n诊所,105.6,30.5\n", encoding="gb18030")
    b = tmp_path / "b.csv"
    b.write_text('id,location\nB1,"105.6,30.5"\n', encoding="utf-8-sig")
    for path in (a, b):
        gdf = read_point_table(path, "facilities")
        assert gdf.crs == "EPSG:4326" and (gdf.geometry.x.iloc[0], gdf.geometry.y.iloc[0]) == (
            105.6, 30.5,
        )  # fmt: skip
    c = tmp_path / "c.csv"
    c.write_text("id,lon,lat\nB1,105.6,\n", encoding="utf-8")
    with pytest.raises(Exception, match="rows 2 have no numeric lon/lat"):
        read_point_table(c, "facilities")
    d = tmp_path / "d.csv"
    d.write_text("id,name\nB1,x\n", encoding="utf-8")
    with pytest.raises(Exception, match="no coordinate columns"):
        read_point_table(d, "facilities")


def _osm_file(path: Path) -> Path:
    """The local example's streets with tagged facilities added (nodes and one way)."""
    text = (LOCAL / "streets.osm").read_text(encoding="utf-8")
    lon0, lat0 = 105.6015, 30.5336
    extra = [
        f'<node id="9001" version="1" lat="{lat0}" lon="{lon0}"><tag k="amenity" v="clinic"/>'
        '<tag k="name:zh" v="东街诊所"/></node>',
        f'<node id="9002" version="1" lat="{lat0 + 0.004}" lon="{lon0 + 0.004}">'
        '<tag k="amenity" v="school"/><tag k="isced:level" v="1"/></node>',
        f'<node id="9003" version="1" lat="{lat0 + 0.002}" lon="{lon0 + 0.006}">'
        '<tag k="shop" v="bakery"/></node>',
        f'<node id="9101" version="1" lat="{lat0 + 0.006}" lon="{lon0}"/>',
        f'<node id="9102" version="1" lat="{lat0 + 0.006}" lon="{lon0 + 0.001}"/>',
        f'<node id="9103" version="1" lat="{lat0 + 0.007}" lon="{lon0 + 0.001}"/>',
        '<way id="9201" version="1"><nd ref="9101"/><nd ref="9102"/><nd ref="9103"/>'
        '<nd ref="9101"/><tag k="amenity" v="kindergarten"/></way>',
    ]
    nodes_end = text.index("<way ")
    text = text[:nodes_end] + "\n".join(extra[:6]) + "\n" + text[nodes_end:]
    text = text.replace("</osm>", extra[6] + "\n</osm>")
    path.write_text(text, encoding="utf-8")
    return path


def test_facilities_from_openstreetmap_say_completeness_is_unknown(tmp_path):
    folder = tmp_path / "study"
    shutil.copytree(LOCAL, folder)
    _osm_file(folder / "streets.osm")
    study = folder / "study.toml"
    text = study.read_text(encoding="utf-8")
    text = text.replace('facilities = "gaode_pois.csv"', 'facilities = "osm"')
    text = text.replace('facilities = "gcj02"', "")
    study.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(study), "--out", str(out), "--quiet"]) == 0
    fac = gpd.read_file(out / "communities.gpkg", layer="facilities")
    assert sorted(zip(fac["facility_id"], fac["category"], strict=True)) == [
        ("osm-node-9001", "health"), ("osm-node-9002", "primary_school"),
        ("osm-way-9201", "kindergarten"),
    ]  # fmt: skip
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert any("completeness is unknown" in n for n in run["notes"])
    assert run["inputs"]["facilities"] == {"source": "osm"}
    ind = pd.read_csv(out / "indicators.csv")
    complexes = ind[ind["indicator"] == "A3_complex_radius_straight"]
    # absent from OSM: unknown, never a real 0 %
    assert len(complexes) and (complexes["status"] == "no data").all()


def test_population_and_candidate_columns_are_mapped_too(tmp_path):
    from coverage.pipeline import LoadedStudy
    from coverage.sites import site_study

    folder = tmp_path / "study"
    shutil.copytree(LOCAL, folder)
    pop = gpd.read_file(folder / "population.geojson").rename(columns={"population": "人口"})
    pop.to_file(folder / "population.geojson", driver="GeoJSON")
    plots = gpd.GeoDataFrame(
        {"地块编号": ["东区地块"]}, geometry=[shapely.Point(105.6035, 30.5360)], crs="EPSG:4326"
    )
    plots.to_file(folder / "plots.geojson", driver="GeoJSON")
    text = (folder / "study.toml").read_text(encoding="utf-8")
    text += (
        '\n[columns.population]\npopulation = "人口"\n\n[columns.candidates]\n'
        'candidate_id = "地块编号"\n\n[siting]\nmodel = "test"\ncategory = "health"\n'
        'mode = "walk"\nminutes = 15\ncandidates = "plots.geojson"\n'
    )
    (folder / "study.toml").write_text(text, encoding="utf-8")
    loaded = LoadedStudy.load(load_study(folder / "study.toml"))
    assert loaded.result.demand.input_population > 10_000
    sites = site_study(loaded).sites
    assert sites["candidate_id"].tolist() == ["东区地块"]
