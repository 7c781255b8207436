"""The workbench server through Starlette's test client, on the demo loaded once.

Figures are checked against the command line's engine (``site --model test``
with the exported candidates file); every refusal is a 4xx with a message and
the server keeps answering; sessions do not see each other's scenarios;
scenarios survive a restart (a new store on the same file).
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from starlette.testclient import TestClient

from coverage.serve import MAX_BODY_BYTES, create_app
from coverage.sites import site_study
from coverage.workbench import ScenarioStore, Workbench

HOST = "http://127.0.0.1:8765"


@pytest.fixture(scope="module")
def workbench(demo_loaded):
    return Workbench(demo_loaded, "en")


@pytest.fixture(scope="module")
def point(workbench):
    """A point in the middle of the demo, lon/lat."""
    w, s, e, n = workbench.study_payload()["bounds"]
    return (w + e) / 2, (s + n) / 2


@pytest.fixture
def client(workbench, tmp_path):
    app = create_app(workbench, ScenarioStore(tmp_path / "s.sqlite"))
    with TestClient(app, base_url=HOST) as c:
        c.get("/")  # the session cookie
        yield c


def complex_at(point, name=None):
    body = {"add": [{"category": "community_complex", "lon": point[0], "lat": point[1]}]}
    if name:
        body["name"] = name
    return body


def test_page_and_study(client, workbench):
    page = client.get("/")
    assert page.status_code == 200 and "sc-config" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "https://" not in page.headers["content-security-policy"]  # no basemap asked for
    study = client.get("/api/study").json()
    assert len(study["facilities"]) == len(workbench.baseline.facilities)
    assert len(study["communities"]["features"]) == len(workbench.baseline.communities)
    assert study["indicators"][0]["id"] == "A1_service_circle"


def test_an_added_site_gives_the_command_lines_figures(client, workbench, point, tmp_path):
    out = client.post("/api/evaluate", json=complex_at(point)).json()
    rows = {(r["indicator"], r["scope"]): r for r in out["headline"]}
    a3 = rows[("A3_complex_radius_straight", "urban")]
    assert a3["before"] is None and a3["after"] > 0 and a3["status_before"] == "no data"
    assert rows[("A1_service_circle", "urban")]["change_pp"] == 0  # complexes are not in A1
    assert out["newly_covered"]["community_complex"]["residents"] > 0
    # the exported candidates file tested by the command line's engine
    file = tmp_path / "candidates.geojson"
    file.write_bytes(client.post("/api/export/candidates", json=complex_at(point)).content)
    siting = dataclasses.replace(
        workbench.loaded.study.siting, model="test", candidates=str(file), p=1
    )
    ba = site_study(workbench.loaded, siting).before_after
    cli = ba[(ba["indicator"] == "A3_complex_radius_straight") & (ba["scope"] == "urban")]
    assert math.isclose(float(cli["value_after"].iloc[0]), a3["after"], abs_tol=1e-6)
    # the newly covered residents are those the test model counts for the site
    gain = site_study(workbench.loaded, siting).sites["gain_alone"].sum()
    assert math.isclose(gain, out["newly_covered"]["community_complex"]["residents"], rel_tol=1e-6)


def test_removing_a_facility_lowers_coverage(client, workbench):
    health = workbench.baseline.facilities
    ids = health[health["category"] == "health"]["facility_id"].astype(str).tolist()[:40]
    out = client.post("/api/evaluate", json={"remove": ids}).json()
    a1 = next(r for r in out["headline"] if r["indicator"] == "A1_service_circle")
    assert a1["change_pp"] < 0 and a1["change_residents"] < 0
    assert set(out["communities"]) == set(workbench.baseline.communities["community_id"])


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"add": [{"category": "spa", "lon": 0, "lat": 0}]}, 400, "unknown category 'spa'"),
        ({"add": [{"category": "health", "lon": 0.0, "lat": 0.0}]}, 400, "outside the study area"),
        ({"add": [{"category": "health", "lon": "x", "lat": 0}]}, 400, "lon: give a number"),
        ({"add": [{"category": "health", "lon": 1e9, "lat": 0}]}, 400, "lon: give a number"),
        ({"remove": ["no-such-facility"]}, 400, "no-such-facility is not a facility"),
        ({"add": [], "path": "/etc/passwd"}, 400, "not a scenario"),
        ([1, 2], 400, "not a scenario"),
        ({"add": [{"category": "health", "lon": 0, "lat": 0}] * 201}, 400, "at most 200"),
    ],
)
def test_bad_requests_are_refused_and_the_server_keeps_running(client, point, body, status, words):
    answer = client.post("/api/evaluate", json=body)
    assert answer.status_code == status and words in answer.json()["error"]
    assert client.post("/api/evaluate", json=complex_at(point)).status_code == 200


def test_malformed_and_oversized_bodies(client):
    bad = client.post("/api/evaluate", content=b"{not json")
    assert bad.status_code == 400 and "not JSON" in bad.json()["error"]
    big = client.post("/api/evaluate", content=b"[" + b"0," * MAX_BODY_BYTES + b"0]")
    assert big.status_code == 413
    assert client.post("/api/evaluate?indicator=nope", json={}).status_code == 400
    assert client.get("/api/evaluate").status_code == 405


def test_names_are_text_not_markup(client, point):
    evil = client.post("/api/scenarios", json=complex_at(point, "<script>alert(1)</script>"))
    assert evil.status_code == 400


def test_host_header_and_token(workbench, tmp_path):
    store = ScenarioStore(tmp_path / "s.sqlite")
    with TestClient(create_app(workbench, store), base_url="http://evil.example:8765") as c:
        assert c.get("/").status_code == 400  # a DNS-rebinding page is refused
    app = create_app(workbench, store, host="10.1.2.3", token="s3cret-token")
    with TestClient(app, base_url="http://10.1.2.3:8765") as c:
        assert c.get("/").status_code == 403
        assert c.get("/api/study").status_code == 403
        assert c.get("/api/study", headers={"X-Token": "wrong"}).status_code == 403
        assert c.get("/?token=s3cret-token").status_code == 200  # sets the token cookie
        assert c.get("/api/study").status_code == 200
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        assert c.get("/").status_code == 400  # off the loopback, only the address served


def test_sessions_keep_their_own_scenarios_across_a_restart(workbench, point, tmp_path):
    path = tmp_path / "s.sqlite"
    with TestClient(create_app(workbench, ScenarioStore(path)), base_url=HOST) as a:
        a.get("/")
        with TestClient(create_app(workbench, ScenarioStore(path)), base_url=HOST) as b:
            b.get("/")
            assert a.post("/api/scenarios", json=complex_at(point, "东区地块")).status_code == 200
            assert b.get("/api/scenarios").json()["names"] == []
            assert b.get("/api/scenarios/东区地块").status_code == 404
        cookie = a.cookies.get("sc_session")
    # a new server on the same file: the browser's cookie finds its scenario again
    with TestClient(create_app(workbench, ScenarioStore(path)), base_url=HOST) as again:
        again.cookies.set("sc_session", cookie)
        record = again.get("/api/scenarios/东区地块").json()
        assert record["name"] == "东区地块" and record["add"][0]["category"] == "community_complex"
        moved = dict(record, name="东区地块 moved")
        moved["add"] = [dict(record["add"][0], lon=point[0] + 0.01)]
        assert again.post("/api/scenarios", json=moved).status_code == 200
        both = again.post("/api/compare", json={"a": "东区地块", "b": "东区地块 moved"}).json()
        assert both["a"]["name"] == "东区地块" and both["b"]["headline"]
        gone = again.delete("/api/scenarios/东区地块").json()["names"]
        assert gone == ["东区地块 moved"]


def test_optimiser_proposals_match_the_siting_engine(client, workbench):
    out = client.post(
        "/api/optimise", json={"scenario": {}, "category": "community_complex", "p": 2}
    ).json()
    siting = dataclasses.replace(workbench.loaded.study.siting, p=2, time_limit_s=20.0)
    sites = site_study(workbench.loaded, siting).sites
    assert [p["rank"] for p in out["proposals"]] == [1, 2]
    assert [p["added"] for p in out["proposals"]] == pytest.approx(
        sites["incremental_gain"].tolist()
    )
    assert client.post("/api/optimise", json={"category": "health"}).status_code == 400
    too_many = {"scenario": {}, "category": "health", "p": 500}
    assert client.post("/api/optimise", json=too_many).status_code == 400


def test_exports_of_a_scenario(client, point):
    report = client.post("/api/export/report", json=complex_at(point, "east"))
    assert report.status_code == 200 and report.text.startswith("<!DOCTYPE html>")
    assert 'filename="east-report.html"' in report.headers["content-disposition"]
    book = client.post("/api/export/workbook", json=complex_at(point))
    assert book.status_code == 200 and book.content[:2] == b"PK"
    assert client.post("/api/export/..%2Fetc", json={}).status_code == 404
    candidates = json.loads(client.post("/api/export/candidates", json=complex_at(point)).text)
    assert candidates["features"][0]["properties"]["category"] == "community_complex"


def test_export_names_in_chinese(client, point):
    answer = client.post("/api/export/candidates", json=complex_at(point, "东区地块"))
    header = answer.headers["content-disposition"]
    assert answer.status_code == 200 and 'filename="scenario-candidates.geojson"' in header
    assert "filename*=UTF-8''%E4%B8%9C%E5%8C%BA%E5%9C%B0%E5%9D%97-candidates.geojson" in header
