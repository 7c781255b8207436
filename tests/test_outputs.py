"""Outputs are complete or absent: staging, run.json last, hashes, byte-identical reruns."""

from __future__ import annotations

import json
import shutil

import pytest

from coverage import report
from coverage.report import sha256, write_outputs


@pytest.fixture(scope="module")
def written(demo_result, tmp_path_factory):
    """The demo's outputs, written once (copy before changing them)."""
    out = tmp_path_factory.mktemp("written")
    return out, write_outputs(demo_result, out)


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_run_json_holds_the_hash_of_every_other_output(written):
    out, paths = written
    run = json.loads(paths["run"].read_text(encoding="utf-8"))
    assert set(run["output_sha256"]) == {p.name for p in paths.values()} - {"run.json"}
    for name, digest in run["output_sha256"].items():
        assert sha256(out / name) == digest, name
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths.values())


class SimulatedCrashError(Exception):
    pass


@pytest.mark.parametrize("stage", ["write_xlsx", "report_html"])
def test_an_interrupted_run_leaves_nothing_in_a_new_folder(
    demo_result, tmp_path, monkeypatch, stage
):
    def fail(*args, **kwargs):
        raise SimulatedCrashError("killed while writing")

    monkeypatch.setattr(report, stage, fail)
    out = tmp_path / "out"
    with pytest.raises(SimulatedCrashError):
        write_outputs(demo_result, out)
    assert list(out.iterdir()) == []  # no output, no staging folder


def test_an_interrupted_rerun_keeps_the_previous_complete_outputs(
    demo_result, written, tmp_path, monkeypatch
):
    shutil.copytree(written[0], tmp_path, dirs_exist_ok=True)
    before = _snapshot(tmp_path)

    def fail(*args, **kwargs):
        raise SimulatedCrashError("disk full")

    monkeypatch.setattr(report, "write_xlsx", fail)
    with pytest.raises(SimulatedCrashError):
        write_outputs(demo_result, tmp_path, lang="zh")
    assert _snapshot(tmp_path) == before


def test_a_failure_while_moving_outputs_in_leaves_no_run_json(
    demo_result, written, tmp_path, monkeypatch
):
    shutil.copytree(written[0], tmp_path, dirs_exist_ok=True)
    real_replace = report.os.replace

    def replace(src, dst):
        if str(dst).endswith("map.html"):
            raise SimulatedCrashError("power cut")
        real_replace(src, dst)

    monkeypatch.setattr(report.os, "replace", replace)
    with pytest.raises(SimulatedCrashError):
        write_outputs(demo_result, tmp_path, lang="zh")
    names = {p.name for p in tmp_path.iterdir()}
    # the folder no longer claims to be complete, and no staging folder is left
    assert "run.json" not in names and not any(n.startswith(".partial") for n in names)


def test_outputs_of_an_earlier_run_that_this_run_does_not_write_are_removed(demo_result, tmp_path):
    (tmp_path / "sites.csv").write_text("candidate_id\nold\n")
    (tmp_path / "notes.txt").write_text("the planner's own file\n")
    (tmp_path / "run.json").write_text(json.dumps({"outputs": {"sites_csv": "sites.csv"}}))
    write_outputs(demo_result, tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert "sites.csv" not in names and "notes.txt" in names


def test_map_ids_are_renumbered_but_user_text_is_kept():
    import folium

    from coverage.maps import _stable_ids

    user_id = "poi_5d41402abc4b2a76b9719d911017c592"  # looks like a folium id
    pages = []
    for _ in range(2):
        fmap = folium.Map(location=(0, 0), tiles=None)
        folium.Marker((0, 0), popup=user_id).add_to(fmap)
        pages.append(_stable_ids(fmap.get_root().render(), fmap))
    assert pages[0] == pages[1]
    assert user_id in pages[0] and f"map_{0:032x}" in pages[0]
