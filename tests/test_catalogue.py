"""The indicator catalogue: the shipped file, validation, and overrides from a study."""

import pytest

from coverage.catalogue import (
    AccessIndicator,
    RuleIndicator,
    indicator_label,
    load_catalogue,
    parse_entry,
)
from coverage.errors import StudyFileError
from coverage.indicators import targets_for
from coverage.targets import Target, load_presets, shipped_presets


def test_shipped_catalogue_covers_the_plan_indicators():
    cat = load_catalogue()
    ids = set(cat)
    for prefix in ("A4", "A5", "A6", "A7", "A8", "A9", "A10", "B1", "B3", "B7", "C1", "C2", "D1"):
        assert any(i.startswith(prefix + "_") for i in ids), prefix
    tier = cat["A4_circle_300m"]
    assert isinstance(tier, AccessIndicator) and tier.unit == "m" and tier.threshold == 300
    assert cat["A6_culture_5km"].scope == "rural"
    assert isinstance(cat["B1_required_facilities"], RuleIndicator)
    assert all(e.label_zh and e.label_en and e.source for e in cat.values())


def test_every_preset_names_known_indicators():
    known = set(load_catalogue()) | {
        "A1_service_circle",
        "A2_rural_cycling",
        "A3_complex_radius_straight",
        "A3_complex_radius_network",
    }
    for name in shipped_presets():
        targets = load_presets([name])
        assert targets, name
        for t in targets:
            assert t.indicator in known, (name, t.indicator)
            assert t.preset == name and t.wording_zh and t.wording_en and t.source


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"kind": "access", "mode": "walk", "minutes": 5, "categories": ["shop"]},
            "unknown category",
        ),
        ({"kind": "access", "mode": "bus", "minutes": 5, "categories": ["health"]}, "mode must be"),
        ({"kind": "access", "mode": "walk", "categories": ["health"]}, "exactly one of minutes"),
        (
            {"kind": "access", "mode": "straight", "minutes": 5, "categories": ["health"]},
            "needs metres",
        ),
        (
            {"kind": "access", "mode": "walk", "minutes": 5, "categories": ["health"], "radius": 1},
            "unknown key",
        ),
        (
            {"kind": "rule", "measure": "floor_area_m2", "categories": ["health"]},
            "min, max or both",
        ),
        ({"kind": "rule", "measure": "area", "min": 1}, "measure must be"),
        ({"kind": "other"}, "kind must be"),
    ],
)
def test_bad_entries_are_refused_with_the_fix(entry, message):
    with pytest.raises(StudyFileError, match=message):
        parse_entry("X1", entry, "catalogue test")


def test_user_catalogue_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        '[X_clinic_8min]\nkind = "access"\nmode = "cycle"\nminutes = 8\n'
        'categories = ["health"]\nlabel_en = "clinic by bike"\n',
        encoding="utf-8",
    )
    cat = load_catalogue(path)
    assert list(cat) == ["X_clinic_8min"]
    assert indicator_label("X_clinic_8min", "en", cat) == "clinic by bike"
    assert indicator_label("A1_service_circle", "zh").startswith("城市社区")


def test_targets_of_several_presets_and_scope_precedence():
    targets = [
        Target("A1", "all", 0.5, 2022, "b", "z", "e", "s", "p1"),
        Target("A1", "urban", 0.9, 2022, "b", "z", "e", "s", "p1"),
        Target("A1", "all", 1.0, 2025, "b", "z", "e", "s", "p2"),
    ]
    urban = targets_for(targets, "A1", "urban")
    assert [(t.preset, t.target) for t in urban] == [("p1", 0.9), ("p2", 1.0)]
    rural = targets_for(targets, "A1", "rural")
    assert [(t.preset, t.target) for t in rural] == [("p1", 0.5), ("p2", 1.0)]
    assert targets_for(targets, "A2", "rural") == [None]
