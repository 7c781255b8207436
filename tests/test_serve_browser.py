"""The workbench in a real browser (Debian chromium via Playwright) on a real uvicorn server.

A click on the map adds a community complex; the page's table must show the
figures the command line's ``site --model test`` gives for that point. The page
asks nothing of any machine but the server (no basemap was asked for). A
bounded load test runs a few clients against the same server on the loopback:
no error, and the server still answers.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest

from coverage.serve import create_app
from coverage.sites import site_study
from coverage.workbench import ScenarioStore, Workbench

CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def server(demo_loaded, tmp_path_factory):
    """The demo's workbench on uvicorn on a free loopback port: its origin."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = ScenarioStore(tmp_path_factory.mktemp("scenarios") / "s.sqlite")
    app = create_app(Workbench(demo_loaded, "zh"), store)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")
def test_click_to_add_a_site_shows_the_command_lines_figures(server, demo_loaded, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 850})
        requests: list[str] = []
        errors: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server + "/")
        page.wait_for_selector('#sc-status[data-seq="1"][data-state="ready"]', timeout=30_000)
        box = page.query_selector("#sc-map").bounding_box()
        page.mouse.click(box["x"] + 0.45 * box["width"], box["y"] + 0.45 * box["height"])
        page.wait_for_selector('#sc-status[data-seq="2"][data-state="ready"]', timeout=30_000)
        added = page.query_selector("#sc-added li")
        lon, lat = float(added.get_attribute("data-lon")), float(added.get_attribute("data-lat"))
        row = page.query_selector(
            '#sc-table tr[data-indicator="A3_complex_radius_straight"][data-scope="urban"]'
        )
        shown = float(row.get_attribute("data-after"))
        cells = [c.inner_text() for c in row.query_selector_all("td")]
        page.fill("#sc-name", "东区地块")
        page.click("#sc-save")
        page.wait_for_selector("#sc-saved li", timeout=10_000)
        saved = page.inner_text("#sc-saved")
        # two more sites, one of them dragged; then the optimiser's first proposal kept
        for k, (fx, fy) in enumerate(((0.3, 0.6), (0.6, 0.35)), start=3):
            page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
            page.wait_for_selector(f'#sc-status[data-seq="{k}"][data-state="ready"]')
        marker = page.query_selector_all(".leaflet-marker-icon")[-1].bounding_box()
        mx, my = marker["x"] + marker["width"] / 2, marker["y"] + marker["height"] / 2
        page.mouse.move(mx, my)
        page.mouse.down()
        page.mouse.move(mx + 40, my + 30, steps=5)
        page.mouse.up()
        page.wait_for_selector('#sc-status[data-seq="5"][data-state="ready"]')
        lons = [
            float(li.get_attribute("data-lon")) for li in page.query_selector_all("#sc-added li")
        ]
        page.fill("#sc-p", "2")
        page.click("#sc-optimise")
        page.wait_for_selector("#sc-proposals li", timeout=60_000)
        page.click("#sc-proposals li .sc-keep")
        page.wait_for_selector('#sc-status[data-seq="6"][data-state="ready"]', timeout=30_000)
        kept = len(page.query_selector_all("#sc-added li"))
        with page.expect_download() as download:
            page.click("#sc-export-candidates")
        exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
        page.screenshot(path=str(tmp_path / "workbench.png"))
        browser.close()
    assert len(lons) == 3 and lons[2] != lons[1] and kept == 4
    assert len(exported["features"]) == 4
    assert errors == []
    assert all(u.startswith(server + "/") for u in requests), requests
    assert "社区综合体" in cells[0] and cells[3] == f"{100 * shown:.1f}%"
    assert "东区地块" in saved
    # the same point through the command line's engine: site --model test --candidates FILE
    file = tmp_path / "candidates.geojson"
    feature = {
        "type": "Feature",
        "properties": {"candidate_id": "clicked", "category": "community_complex"},
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }
    file.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    siting = dataclasses.replace(demo_loaded.study.siting, model="test", candidates=str(file), p=1)
    ba = site_study(demo_loaded, siting).before_after
    cli = ba[(ba["indicator"] == "A3_complex_radius_straight") & (ba["scope"] == "urban")]
    assert math.isclose(float(cli["value_after"].iloc[0]), shown, abs_tol=1e-6)


def test_a_bounded_load_on_the_loopback(server):
    """Four clients, five what-ifs each: every answer 200, and the server still answers.

    The full load (20 clients × 50 what-ifs, latency and memory) is
    ``benchmarks/bench_serve.py``.
    """
    study = httpx2.get(server + "/api/study", timeout=30).json()
    w, s, e, n = study["bounds"]

    def client(k: int) -> list[int]:
        codes = []
        with httpx2.Client(base_url=server, timeout=60) as c:
            for j in range(5):
                lon = w + (e - w) * (0.3 + 0.08 * k)
                lat = s + (n - s) * (0.3 + 0.08 * j)
                body = {"add": [{"category": "health", "lon": lon, "lat": lat}]}
                codes.append(c.post("/api/evaluate", json=body).status_code)
        return codes

    with ThreadPoolExecutor(4) as pool:
        codes = [c for cs in pool.map(client, range(4)) for c in cs]
    assert codes == [200] * 20
    assert httpx2.get(server + "/api/study", timeout=30).status_code == 200


def test_the_serve_command_on_worker_processes(tmp_path):
    """``service-coverage serve`` as a planner starts it: it prints its address, answers
    what-ifs from its forked worker processes, refuses bad ones with a 4xx, and stops."""
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "coverage.cli", "serve", "--port", str(port), "--offline",
           "--quiet", "--lang", "zh", "--scenarios", str(tmp_path)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                study = httpx2.get(url + "/api/study", timeout=5).json()
                break
            except httpx2.HTTPError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
        f = study["facilities"][0]
        body = {"add": [{"category": "health", "lon": f["lon"], "lat": f["lat"]}]}
        ok = httpx2.post(url + "/api/evaluate", json=body, timeout=60)
        assert ok.status_code == 200 and ok.json()["headline"]
        bad = httpx2.post(url + "/api/evaluate", json={"add": [dict(body["add"][0], category="x")]})
        assert bad.status_code == 400 and "未知设施类别" in bad.json()["error"]
        assert httpx2.get(url + "/", headers={"Host": "evil.example"}).status_code == 400
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"情景工作台地址：{url}/" in out
    assert (tmp_path / "demo.scenarios.sqlite").is_file()
