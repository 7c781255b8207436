"""The shipped demo files are exactly what scripts/build_demo.py makes from the raw files."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT.parent / "shared" / "data" / "porto-alegre"


@pytest.mark.skipif(
    not (RAW / "poa_hexgrid.csv").is_file(), reason="raw Porto Alegre files not beside the checkout"
)
def test_build_demo_reproduces_the_shipped_files(tmp_path):
    spec = importlib.util.spec_from_file_location("build_demo", ROOT / "scripts" / "build_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build(RAW, tmp_path)
    for rel in (
        "population/poa_population.geojson",
        "facilities/poa_facilities.geojson",
        "boundaries/poa_communities.geojson",
        "network/poa_osm.pbf",
    ):
        assert (tmp_path / rel).read_bytes() == (ROOT / "data" / rel).read_bytes(), rel


def test_shipped_demo_counts_match_the_raw_totals():
    import geopandas as gpd

    pop = gpd.read_file(ROOT / "data/population/poa_population.geojson")
    fac = gpd.read_file(ROOT / "data/facilities/poa_facilities.geojson")
    assert len(pop) == 1227 and pop["population"].sum() == 812_935
    assert (fac["category"] == "primary_school").sum() == 194
    assert (fac["category"] == "health").sum() == 141
