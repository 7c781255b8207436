"""The shipped bad-input examples (tests/data/bad/, written by scripts/make_bad_inputs.py).

Each case runs ``service-coverage run CASE.toml``: the run must stop with exit
code 2 before writing anything, and the message must name the layer, the
feature or setting, the problem and the fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from coverage.cli import main

BAD = Path(__file__).parent / "data" / "bad"

#: case -> (layer or file named, the problem as printed)
CASES = {
    "no_crs": (
        "communities layer",
        "communities_no_crs.shp carries no coordinate reference system",
    ),
    "metres_as_degrees": ("communities layer", "feature(s) A, B have coordinates such as"),
    "degrees_as_metres": ("facilities layer", "they look like longitude and latitude in degrees"),
    "swapped_axes": ("facilities layer", "so the axes look swapped"),
    "layers_far_apart": ("facilities layer", "the nearest is about 18,455 km away"),
    "swapped_communities": (
        "communities layer",
        "the facilities and population layers lie together, but none of their features comes "
        "within 100 km of the communities",
    ),
    "bow_tie": (
        "communities layer",
        "the boundary of community B crosses itself near (-51.295, -30.095)",
    ),
    "overlapping_communities": ("communities layer", "A and B (106,773 m², 20.0% of the smaller)"),
    "empty_geometry": ("communities layer", "feature(s) B have empty or missing geometry"),
    "wrong_geometry_type": (
        "communities layer",
        "feature(s) B (LineString) have the wrong geometry",
    ),
    "duplicate_ids": ("communities layer", "community_id values are repeated: A"),
    "unknown_category": (
        "facilities layer",
        "cs1 ('clinic', did you mean 'health'?). Fix: use one of: community_service",
    ),
    "population_negative": ("population layer", "'population' is negative for feature(s) p3"),
    "population_text": (
        "population layer",
        "'population' is missing or not numeric for feature(s) p3",
    ),
    "population_null": (
        "population layer",
        "'population' is missing or not numeric for feature(s) p3",
    ),
    "network_empty": ("network layer", "no way usable by the walk mode was found"),
    "network_not_osm": ("network layer", "could not be read as an OpenStreetMap file"),
    "network_elsewhere": ("network (walk) layer", "the nearest is about 19"),
    "missing_file": ("missing_file.toml", "inputs.population file not found"),
    "unknown_key": ("unknown_key.toml", "unknown key speeds.walk_kph (did you mean 'walk_kmh'?)"),
    "wrong_type": ("wrong_type.toml", "speeds.walk_kmh must be a number, got 'fast'"),
}


def test_every_shipped_case_is_tested():
    assert {p.stem for p in BAD.glob("*.toml")} == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_stops_the_run_with_a_clear_message(case, tmp_path, capsys):
    layer, problem = CASES[case]
    out = tmp_path / "out"
    assert main(["run", str(BAD / f"{case}.toml"), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("service-coverage: error: ") and layer in err and problem in err
    assert "Fix: " in err or "did you mean" in err or "must be" in err
    assert not out.exists()


def test_the_tiny_good_study_runs(tmp_path, capsys):
    assert main(["run", str(BAD / "tiny" / "study.toml"), "--out", str(tmp_path)]) == 0
    assert "residents: input 2,000, used 2,000" in capsys.readouterr().out
