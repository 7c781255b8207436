"""Study files: validation, closest-key suggestions and the demo study."""

import pytest

from coverage.config import demo_study, load_study
from coverage.errors import StudyFileError


def study_file(tmp_path, body):
    (tmp_path / "c.geojson").write_text("{}")
    (tmp_path / "f.geojson").write_text("{}")
    path = tmp_path / "study.toml"
    path.write_text(
        '[inputs]\ncommunities = "c.geojson"\nfacilities = "f.geojson"\n' + body, encoding="utf-8"
    )
    return path


def test_defaults_follow_method(tmp_path):
    study = load_study(study_file(tmp_path, ""))
    assert study.speeds.walk_kmh == 4.0 and study.speeds.cycle_kmh == 12.0
    assert study.snapping.walk_limit_m == 300.0 and study.snapping.cycle_limit_m == 1000.0
    assert study.snapping.oneway_tie_m == 1.0
    assert study.indicators.service_circle == ("community_service",)
    assert study.indicators.complex_radius_m == 1500.0
    assert study.targets.preset == ("suining-2025",)
    assert study.inputs.communities == (tmp_path / "c.geojson").resolve()


def test_unknown_key_names_the_closest(tmp_path):
    with pytest.raises(
        StudyFileError, match="unknown key speeds.walk_kph \\(did you mean 'walk_kmh'\\?\\)"
    ):
        load_study(study_file(tmp_path, "[speeds]\nwalk_kph = 5\n"))
    with pytest.raises(StudyFileError, match="unknown key 'speed' \\(did you mean 'speeds'\\?\\)"):
        load_study(study_file(tmp_path, "[speed]\nwalk_kmh = 5\n"))


def test_wrong_types_and_values(tmp_path):
    with pytest.raises(StudyFileError, match="speeds.walk_kmh must be a number, got 'fast'"):
        load_study(study_file(tmp_path, '[speeds]\nwalk_kmh = "fast"\n'))
    with pytest.raises(StudyFileError, match="speeds.cycle_kmh must be a positive number"):
        load_study(study_file(tmp_path, "[speeds]\ncycle_kmh = 0\n"))
    with pytest.raises(
        StudyFileError, match="unknown category 'helth' \\(did you mean 'health'\\?\\)"
    ):
        load_study(study_file(tmp_path, '[indicators]\nservice_circle = ["helth"]\n'))


def test_missing_files_and_sections(tmp_path):
    path = study_file(tmp_path, "")
    path.write_text(path.read_text().replace("f.geojson", "nope.geojson"))
    with pytest.raises(StudyFileError, match="inputs.facilities file not found"):
        load_study(path)
    path.write_text("[speeds]\nwalk_kmh = 4\n")
    with pytest.raises(StudyFileError, match="missing section \\[inputs\\]"):
        load_study(path)
    with pytest.raises(StudyFileError, match="study file not found"):
        load_study(tmp_path / "absent.toml")
    path.write_text("[inputs\n")
    with pytest.raises(StudyFileError, match="not valid TOML"):
        load_study(path)


def test_demo_study_is_shipped():
    study = demo_study()
    assert study.inputs.network is not None and study.inputs.network.name == "poa_osm.pbf"
    assert study.indicators.service_circle == ("primary_school", "health")


def test_speeds_by_highway_pushing_and_component(tmp_path):
    study = load_study(
        study_file(
            tmp_path,
            "[speeds]\ncycle_push_kmh = 4.0\n[speeds.walk_highway_kmh]\nsteps = 2\n"
            '[speeds.cycle_highway_kmh]\nsteps = 1.5\ntrack = 8\n[network]\ncomponent = "all"\n',
        )
    )
    assert study.speeds.highway_kmh("walk") == {"steps": 2.0}
    # pushing covers footways; the user's steps speed wins over the pushing speed
    assert study.speeds.highway_kmh("cycle") == {"footway": 4.0, "steps": 1.5, "track": 8.0}
    assert study.speeds.push and study.network.component == "all"
    assert "cycle 12 km/h (footway 4, steps 1.5, track 8 km/h)" in study.speeds.describe()


def test_bad_speed_tables_and_component(tmp_path):
    with pytest.raises(StudyFileError, match="speeds.walk_highway_kmh must be a table of numbers"):
        load_study(study_file(tmp_path, '[speeds]\nwalk_highway_kmh = "steps"\n'))
    with pytest.raises(StudyFileError, match="speeds.cycle_highway_kmh.steps must be a positive"):
        load_study(study_file(tmp_path, "[speeds.cycle_highway_kmh]\nsteps = 0\n"))
    with pytest.raises(StudyFileError, match="cycle_push_kmh must be 0 \\(no pushing\\)"):
        load_study(study_file(tmp_path, "[speeds]\ncycle_push_kmh = -1\n"))
    with pytest.raises(StudyFileError, match='network.component must be "largest" or "all"'):
        load_study(study_file(tmp_path, '[network]\ncomponent = "biggest"\n'))


def test_download_settings_and_the_cache_folder(tmp_path, monkeypatch):
    study = load_study(study_file(tmp_path, ""))
    assert study.network.cache_dir == "" and study.network.download_attempts == 3
    assert study.network.cache_path(tmp_path) is None  # the default folder of coverage.network
    study = load_study(
        study_file(tmp_path, '[network]\ncache_dir = "osm-cache"\ndownload_attempts = 5\n')
    )
    assert study.network.download_attempts == 5
    # relative to the study file's folder, like the input paths
    assert study.source is not None
    assert study.network.cache_path(study.source.parent) == tmp_path.resolve() / "osm-cache"
    elsewhere = (tmp_path / "elsewhere").as_posix()
    study = load_study(study_file(tmp_path, f'[network]\ncache_dir = "{elsewhere}"\n'))
    assert study.network.cache_path(tmp_path / "ignored") == tmp_path / "elsewhere"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    study = load_study(study_file(tmp_path, '[network]\ncache_dir = "~/osm"\n'))
    assert study.network.cache_path(tmp_path) == tmp_path / "home" / "osm"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("download_attempts = 0", "network.download_attempts must be 1 or more, got 0"),
        ('download_attempts = "three"', "network.download_attempts must be a whole number"),
        ("download_attempts = 2.5", "network.download_attempts must be a whole number"),
        ("cache_dir = 5", "network.cache_dir must be a string, got 5"),
        (
            'cache_folder = "c"',
            "unknown key network.cache_folder \\(did you mean 'cache_dir'\\?\\)",
        ),
    ],
)
def test_bad_download_settings(tmp_path, body, match):
    with pytest.raises(StudyFileError, match=match):
        load_study(study_file(tmp_path, f"[network]\n{body}\n"))


def test_one_way_tie_setting(tmp_path):
    assert (
        load_study(study_file(tmp_path, "[snapping]\noneway_tie_m = 0\n")).snapping.oneway_tie_m
        == 0
    )
    for bad in ("-1", "25"):
        with pytest.raises(StudyFileError, match="snapping.oneway_tie_m must be between 0"):
            load_study(study_file(tmp_path, f"[snapping]\noneway_tie_m = {bad}\n"))


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("[indicators]\ntiers_min = []\n", "indicators.tiers_min"),
        ("[indicators]\ntiers_min = [5, -10]\n", "indicators.tiers_min"),
        ("[targets]\npreset = []\n", "targets.preset must name at least one preset"),
        ('[capacity]\nmode = "drive"\n', 'capacity.mode must be "walk" or "cycle", got \'drive\''),
        ("[capacity]\nminutes = 0\n", "capacity.minutes must be a positive number, got 0"),
        (
            '[capacity]\ncategories = ["nurseries"]\n',
            ": capacity.categories names unknown category 'nurseries'",
        ),
        ('[siting]\nmode = "bus"\n', "siting.mode must be one of walk, cycle, straight, got 'bus'"),
        ('[siting]\nmode = "cycle"\nminutes = 0\n', "siting by cycle needs siting.minutes > 0"),
        (
            '[siting]\nmode = "straight"\nmetres = 0\n',
            "siting.mode = straight needs siting.metres > 0",
        ),
        (
            '[siting]\nmodel = "p_median"\nmode = "straight"\nmetres = 800\n',
            "p_median works on travel time",
        ),
        ("[siting]\np = 0\n", "siting.p must be 1 or more, got 0"),
        ("[siting]\ntarget_share = 1.5\n", "siting.target_share must be in \\(0, 1\\], got 1.5"),
        ("[siting]\nspacing_m = 0\n", "siting.spacing_m must be positive"),
        ('[siting]\nmodel = "test"\n', 'siting.model = "test" ranks your own sites'),
        (
            '[siting]\ncategory = "hospital"\n',
            ": siting.category names unknown category 'hospital' \\(did you mean 'health'\\?\\)",
        ),
    ],
)
def test_refusals_of_tiers_presets_capacity_and_siting(tmp_path, body, match):
    with pytest.raises(StudyFileError, match=match):
        load_study(study_file(tmp_path, body))


def test_walking_profiles_and_catalogue_sets_in_a_study_file(tmp_path):
    body = (
        "[speeds]\nolder_walk_kmh = 3.0\n"
        '[indicators.sets]\nT2_village_circle = ["health", "community_service"]\n'
    )
    study = load_study(study_file(tmp_path, body))
    assert study.speeds.profile_kmh("older") == 3.0 and study.speeds.profile_kmh("child") == 3.2
    assert study.indicators.sets == {"T2_village_circle": ("health", "community_service")}
    with pytest.raises(StudyFileError, match="speeds.child_walk_kmh must be a positive"):
        load_study(study_file(tmp_path, "[speeds]\nchild_walk_kmh = 0\n"))
    with pytest.raises(StudyFileError, match="indicators.sets must be a table of category lists"):
        load_study(study_file(tmp_path, '[indicators]\nsets = ["health"]\n'))
