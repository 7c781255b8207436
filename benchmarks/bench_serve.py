"""Load test of the workbench server on the loopback: latency, errors and memory.

``service-coverage serve`` runs in its own process; CLIENTS threads each send
REQUESTS what-ifs (a facility added near a random existing one, of a random
category) and wait for each answer. Printed: round-trip and server-side
latency (median, p95, max), errors, throughput, the server's resident memory
before and after the run, the same what-if as one command-line run
(``site --model test`` with a candidates file: what a planner does without
the server) and, when Playwright and Debian chromium are present, the browser's
click-to-table time over a few clicks.

    python benchmarks/bench_serve.py                  # the demo, 20 clients x 50
    python benchmarks/bench_serve.py --cells 1e5 --requests 10
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(study: Path | None, port: int, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    cmd = [sys.executable, "-m", "coverage.cli", "serve", "--port", str(port), "--offline",
           "--quiet", "--scenarios", str(folder)]  # fmt: skip
    if study is not None:
        cmd.insert(4, str(study))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            if httpx2.get(url + "/api/study", timeout=5).status_code == 200:
                return proc, url
        except httpx2.HTTPError:
            time.sleep(0.25)
        if proc.poll() is not None:
            raise SystemExit(proc.stderr.read().decode() if proc.stderr else "server died")
    raise SystemExit("the server did not start")


def load(url: str, clients: int, requests: int, seed: int) -> dict[str, object]:
    study = httpx2.get(url + "/api/study", timeout=60).json()
    facilities = study["facilities"]
    cats = ["health", "primary_school", "community_complex", "kindergarten"]
    trips: list[float] = []
    server: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        rng = random.Random(seed + k)
        with httpx2.Client(base_url=url, timeout=120) as c:
            for _ in range(requests):
                f = rng.choice(facilities)
                body = {"add": [{"category": rng.choice(cats), "lon": f["lon"] + rng.uniform(-0.003, 0.003),
                                 "lat": f["lat"] + rng.uniform(-0.003, 0.003)}]}  # fmt: skip
                t = time.perf_counter()
                r = c.post("/api/evaluate", json=body)
                dt = time.perf_counter() - t
                with lock:
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:120]}")
                    else:
                        trips.append(dt)
                        server.append(float(r.json()["seconds"]))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    rt, sv = np.array(trips), np.array(server)
    return {
        "requests": clients * requests,
        "errors": len(errors),
        "first_errors": errors[:3],
        "wall_s": round(wall, 1),
        "per_second": round(len(trips) / wall, 1),
        "round_trip_ms": {q: round(float(np.percentile(rt, p)) * 1e3, 1)
                          for q, p in (("p50", 50), ("p95", 95), ("max", 100))},
        "server_ms": {q: round(float(np.percentile(sv, p)) * 1e3, 1)
                      for q, p in (("p50", 50), ("p95", 95), ("max", 100))},
    }  # fmt: skip


def cli_try(study: Path | None, url: str, folder: Path) -> float:
    """One try as a planner does it without the server: ``site --model test`` on a file."""
    f = httpx2.get(url + "/api/study", timeout=60).json()["facilities"][0]
    feature = {"type": "Feature", "properties": {"candidate_id": "try"},
               "geometry": {"type": "Point", "coordinates": [f["lon"] + 0.001, f["lat"]]}}  # fmt: skip
    cand = folder / "try.geojson"
    cand.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    cmd = [sys.executable, "-m", "coverage.cli", "site", "--model", "test", "--candidates",
           str(cand), "--category", "health", "--mode", "walk", "--minutes", "15", "--quiet",
           "--offline", "--out", str(folder / "cli-out")]  # fmt: skip
    if study is not None:
        cmd.insert(4, str(study))
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def browser_clicks(url: str, clicks: int = 8) -> list[float] | None:
    """Click-to-table times in Chromium, seconds (``None`` without Playwright/chromium)."""
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None
    times = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 850})
        page.goto(url + "/")
        page.wait_for_selector('#sc-status[data-seq="1"][data-state="ready"]', timeout=120_000)
        box = page.query_selector("#sc-map").bounding_box()
        for k in range(clicks):
            t = time.perf_counter()
            x = box["x"] + box["width"] * (0.35 + 0.04 * k)
            page.mouse.click(x, box["y"] + box["height"] * 0.5)
            page.wait_for_selector(f'#sc-status[data-seq="{k + 2}"][data-state="ready"]',
                                   timeout=120_000)  # fmt: skip
            times.append(time.perf_counter() - t)
        browser.close()
    return times


def server_rss_mb(pid: int) -> float:
    """Resident memory of the server and its worker processes, MB (shared pages counted
    in each process, so an upper bound)."""
    total = rss_mb(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        total += sum(rss_mb(int(c)) for c in children)
    return total


def sample_rss(pid: int, stop: threading.Event, out: list[float]) -> None:
    """The server's resident memory every second until ``stop``."""
    while not stop.wait(1.0):
        out.append(round(server_rss_mb(pid), 1))


def measure(url: str, pid: int, args: argparse.Namespace) -> dict[str, object]:
    """The load, with the server's memory sampled through it."""
    load(url, 2, 5, args.seed + 1000)  # warm up
    before = server_rss_mb(pid)
    stop, series = threading.Event(), []
    sampler = threading.Thread(target=sample_rss, args=(pid, stop, series))
    sampler.start()
    figures = load(url, args.clients, args.requests, args.seed)
    stop.set()
    sampler.join()
    quarter = max(1, len(series) // 4)
    return {
        **figures,
        "rss_mb": {
            "before": round(before, 1),
            "first_quarter_max": max(series[:quarter], default=before),
            "last_quarter_max": max(series[-quarter:], default=before),
            "after": round(server_rss_mb(pid), 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=float, default=0, help="demand cells (0: the demo)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50, help="what-ifs per client")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        study = None
        if args.cells:
            from bench_map import raster_study

            raster_study(folder, int(args.cells))
            study = folder / "study.toml"
        t = time.perf_counter()
        proc, url = start(study, free_port(), folder)
        started = time.perf_counter() - t
        try:
            figures = measure(url, proc.pid, args)
            clicks = browser_clicks(url)
            cli_s = cli_try(study, url, folder)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    median_trip = figures["round_trip_ms"]["p50"] / 1e3  # type: ignore[index]
    out = {
        "study": f"{int(args.cells)} cells" if args.cells else "demo",
        "clients": args.clients,
        "requests_per_client": args.requests,
        "server_start_s": round(started, 1),
        **figures,
        "browser_click_to_table_s": None if clicks is None else _spread(clicks),
        "cli_site_test_s": round(cli_s, 2),
        "cli_over_server_round_trip": round(cli_s / median_trip, 1),
    }
    print(json.dumps(out, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False))


def _spread(values: list[float]) -> dict[str, float]:
    return {"p50": round(float(np.median(values)), 3), "max": round(max(values), 3)}


if __name__ == "__main__":
    main()
