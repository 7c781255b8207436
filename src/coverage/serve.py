"""``service-coverage serve``: the scenario workbench as a local web application.

A Starlette application on uvicorn around one :class:`coverage.workbench.Workbench`
(the study loaded once). The server trusts nothing in a request:

- it binds to 127.0.0.1 unless told otherwise; on any other address it asks
  for a token, printed at start, on every request (``?token=`` on the page's
  address once, then a cookie, or an ``X-Token`` header);
- the ``Host`` header must name the address served (Starlette's
  ``TrustedHostMiddleware``), which stops DNS-rebinding pages;
- bodies are read up to :data:`MAX_BODY_BYTES` and parsed field by field;
  no file path is ever taken from a request (scenarios are rows of one SQLite
  file chosen at start);
- a bad request gets a 4xx answer with a message in the page's language; the
  server keeps running.

Each browser gets a session cookie; saved scenarios belong to their session.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import multiprocessing
import os
import re
import secrets
import signal
import sys
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from importlib import resources
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from coverage.errors import CoverageError
from coverage.messages import Message, render
from coverage.workbench import RequestError, Scenario, ScenarioStore, Workbench, parse_scenario

__all__ = ["MAX_BODY_BYTES", "create_app", "is_loopback", "page_html", "serve"]

#: Largest request body read, bytes.
MAX_BODY_BYTES = 256 * 1024
#: Worker processes computing what-ifs at once under :func:`serve`.
WORKERS = max(1, min(4, os.cpu_count() or 1))
SESSION_COOKIE = "sc_session"
TOKEN_COOKIE = "sc_token"
_SESSION = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def page_html(workbench: Workbench, tiles: str, attribution: str) -> str:
    """The single page: Leaflet inlined, our script, the study's words in its language."""
    from coverage.maps import CLASS_BOUNDS, CLASS_COLOURS, NO_VALUE_COLOUR, PALETTE, leaflet_assets
    from coverage.messages import WEB_LABELS

    css, js, _ = leaflet_assets()
    folder = resources.files("coverage") / "web"
    page = (folder / "workbench.html").read_text(encoding="utf-8")
    script = (folder / "workbench.js").read_text(encoding="utf-8")
    config = {
        "words": WEB_LABELS[workbench.lang],
        "tiles": tiles,
        "attribution": attribution,
        # the map's own classes and colours (coverage.maps), one source for both pages
        "bounds": list(CLASS_BOUNDS),
        "colours": list(CLASS_COLOURS),
        "none": NO_VALUE_COLOUR,
        "palette": PALETTE,
    }
    data = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    lang = "zh-CN" if workbench.lang == "zh" else "en"
    return (
        page.replace("{{lang}}", lang)
        .replace("{{title}}", WEB_LABELS[workbench.lang]["title"])
        .replace("{{leaflet_css}}", css)
        .replace("{{leaflet_js}}", js)
        .replace("{{config}}", data)
        .replace("{{script}}", script)
    )


def _csp(tiles: str) -> str:
    from coverage.maps import tile_source

    img = "data:" + ("" if tiles in ("", "none") else f" {tile_source(tiles)}")
    return (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        f"img-src {img}; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; "
        "base-uri 'none'"
    )


#: The workbench of a forked worker process (set before the fork, inherited by it).
_WORKBENCH: Workbench | None = None


def _call(workbench: Workbench, method: str, *args: Any) -> Any:
    try:
        return getattr(workbench, method)(*args)
    except CoverageError as exc:  # raised again in the server process, whole
        raise RequestError("refused", status=422, text=str(exc)) from None


def _in_worker(method: str, *args: Any) -> Any:
    assert _WORKBENCH is not None, "worker processes are forked from serve()"
    return _call(_WORKBENCH, method, *args)


def _ready(_: int) -> int:
    return os.getpid()


def _worker_start() -> None:
    """In each worker: leave Ctrl+C to the server, and die with it (Linux)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").prctl(pr_set_pdeathsig, signal.SIGTERM)


def worker_processes(workbench: Workbench, n: int = WORKERS) -> ProcessPoolExecutor | None:
    """``n`` worker processes forked from the loaded study (``None`` where fork is missing).

    Forking after the study is loaded shares its arrays copy-on-write; the
    processes are started here, before any server thread exists.
    """
    global _WORKBENCH
    if n < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    _WORKBENCH = workbench
    pool = ProcessPoolExecutor(
        max_workers=n, mp_context=multiprocessing.get_context("fork"), initializer=_worker_start
    )
    list(pool.map(_ready, range(n)))  # start every process now
    return pool


class _Server:
    """The request handlers around a workbench and a scenario store."""

    def __init__(
        self,
        workbench: Workbench,
        store: ScenarioStore,
        token: str | None,
        tiles: str,
        attribution: str,
        executor: Executor | None = None,
    ) -> None:
        self.wb = workbench
        self.store = store
        self.token = token
        self.tiles = tiles
        self.page = page_html(workbench, tiles, attribution)
        self.study = json.dumps(workbench.study_payload(), ensure_ascii=False).encode()
        # what-ifs run on ``executor``: by default one thread (the loaded study is shared;
        # Python runs one what-if at a time anyway); :func:`serve` gives worker processes
        # forked from the loaded study, one per core
        self.pool = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="what-if")

    # -- plumbing ------------------------------------------------------------------------

    def error(self, exc: RequestError) -> JSONResponse:
        return JSONResponse({"error": exc.render(self.wb.lang)}, status_code=exc.status)

    def authorised(self, request: Request) -> bool:
        if self.token is None:
            return True
        given = (
            request.headers.get("x-token")
            or request.cookies.get(TOKEN_COOKIE)
            or request.query_params.get("token")
            or ""
        )
        return secrets.compare_digest(given.encode(), self.token.encode())

    def session(self, request: Request) -> str:
        value = request.headers.get("x-session") or request.cookies.get(SESSION_COOKIE) or ""
        if not _SESSION.match(value):
            raise RequestError("bad_text", field="session", most=64)
        return value

    async def body(self, request: Request) -> Any:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            raise RequestError("too_large", status=413, most=MAX_BODY_BYTES)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise RequestError("too_large", status=413, most=MAX_BODY_BYTES)
            chunks.append(chunk)
        try:
            return json.loads(b"".join(chunks) or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestError("bad_json") from exc

    async def scenario(self, request: Request, key: str | None = None) -> tuple[Scenario, Any]:
        body = await self.body(request)
        part = body.get(key) if key and isinstance(body, dict) else body
        return parse_scenario(part, self.wb.facility_ids), body

    async def work(self, method: str, *args: Any) -> Any:
        """``workbench.method(*args)`` on the executor (a thread, or a forked process)."""
        loop = asyncio.get_running_loop()
        if isinstance(self.pool, ProcessPoolExecutor):
            return await loop.run_in_executor(self.pool, _in_worker, method, *args)
        return await loop.run_in_executor(self.pool, _call, self.wb, method, *args)

    # -- routes --------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        response = HTMLResponse(self.page, headers=self.headers())
        if request.cookies.get(SESSION_COOKIE) is None:
            response.set_cookie(SESSION_COOKIE, secrets.token_urlsafe(24), max_age=30 * 86400,
                                httponly=True, samesite="strict")  # fmt: skip
        if self.token is not None:
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
        return response

    def headers(self) -> dict[str, str]:
        return {
            "Content-Security-Policy": _csp(self.tiles),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        }

    async def study_data(self, request: Request) -> Response:
        return Response(self.study, media_type="application/json")

    async def evaluate(self, request: Request) -> Response:
        scenario, _ = await self.scenario(request)
        indicator = request.query_params.get("indicator", "A1_service_circle")[:80]
        return JSONResponse(await self.work("evaluate", scenario, indicator))

    async def optimise(self, request: Request) -> Response:
        scenario, body = await self.scenario(request, "scenario")
        category = body.get("category") if isinstance(body, dict) else None
        p, share = body.get("p"), body.get("target_share")
        if (p is None) == (share is None):
            raise RequestError("bad_body")
        if p is not None and (isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 50):
            raise RequestError("bad_number", field="p")
        if share is not None and (
            isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1
        ):
            raise RequestError("bad_number", field="target_share")
        proposals = await self.work("optimise", scenario, str(category), p, share)
        return JSONResponse({"proposals": proposals})

    async def scenarios(self, request: Request) -> Response:
        session = self.session(request)
        if request.method == "POST":
            scenario, _ = await self.scenario(request)
            await run_in_threadpool(self.store.save, session, scenario)
        return JSONResponse({"names": await run_in_threadpool(self.store.names, session)})

    async def one_scenario(self, request: Request) -> Response:
        session = self.session(request)
        name = request.path_params["name"]
        if request.method == "DELETE":
            await run_in_threadpool(self.store.delete, session, name)
            return JSONResponse({"names": await run_in_threadpool(self.store.names, session)})
        return JSONResponse(await run_in_threadpool(self.store.load, session, name))

    async def compare(self, request: Request) -> Response:
        session = self.session(request)
        body = await self.body(request)
        if not isinstance(body, dict) or not {"a", "b"} <= set(body):
            raise RequestError("bad_body")
        indicator = str(body.get("indicator") or "A1_service_circle")[:80]
        out = {}
        for key in ("a", "b"):
            record = await run_in_threadpool(self.store.load, session, str(body[key])[:80])
            scenario = parse_scenario(record, self.wb.facility_ids)
            out[key] = await self.work("evaluate", scenario, indicator)
            out[key]["name"] = scenario.name
        return JSONResponse(out)

    async def export(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        scenario, _ = await self.scenario(request)
        stem = re.sub(r"[^\w-]+", "_", scenario.name or "scenario")[:60]
        if kind == "candidates":
            text = await self.work("candidates_geojson", scenario)
            data, media, name = text.encode(), "application/geo+json", "candidates.geojson"
        elif kind in ("report", "workbook"):
            data, media, name = await self.work("export", scenario, kind)
        else:
            raise RequestError("not_found", status=404)
        ascii_stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "scenario"
        disposition = (
            f'attachment; filename="{ascii_stem}-{name}"; '
            f"filename*=UTF-8''{quote(stem + '-' + name)}"
        )
        return Response(data, media_type=media, headers={"Content-Disposition": disposition})


def create_app(
    workbench: Workbench,
    store: ScenarioStore,
    host: str = "127.0.0.1",
    token: str | None = None,
    tiles: str = "none",
    attribution: str = "",
    executor: Executor | None = None,
) -> Starlette:
    """The ASGI application.

    Parameters
    ----------
    workbench
        The loaded study.
    store
        Where named scenarios are kept.
    host
        The address served: the only ``Host`` accepted (with ``localhost`` and
        ``127.0.0.1`` when it is a loopback address).
    token
        Required on every request when given (always, off the loopback).
    tiles, attribution
        The basemap's tile URL template (``none``: no basemap) and credits.
    executor
        Where what-ifs run: :func:`worker_processes`, or by default one thread.
    """
    server = _Server(workbench, store, token, tiles, attribution, executor)

    def guarded(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            if not server.authorised(request):
                return server.error(RequestError("bad_token", status=403))
            try:
                return await handler(request)
            except RequestError as exc:
                return server.error(exc)
            except CoverageError as exc:
                return JSONResponse({"error": str(exc)}, status_code=422)

        return endpoint

    routes = [
        Route("/", guarded(server.index)),
        Route("/api/study", guarded(server.study_data)),
        Route("/api/evaluate", guarded(server.evaluate), methods=["POST"]),
        Route("/api/optimise", guarded(server.optimise), methods=["POST"]),
        Route("/api/scenarios", guarded(server.scenarios), methods=["GET", "POST"]),
        Route("/api/scenarios/{name}", guarded(server.one_scenario), methods=["GET", "DELETE"]),
        Route("/api/compare", guarded(server.compare), methods=["POST"]),
        Route("/api/export/{kind}", guarded(server.export), methods=["POST"]),
    ]
    hosts = [host, "localhost", "127.0.0.1"] if is_loopback(host) else [host]
    return Starlette(
        routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)]
    )


def _stop_on_signals(server: Any) -> Any:
    @contextlib.contextmanager
    def capture() -> Any:
        def stop(signum: int, frame: Any) -> None:
            server.should_exit = True

        old = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)

    return capture


def serve(
    workbench: Workbench,
    store: ScenarioStore,
    host: str = "127.0.0.1",
    port: int = 8765,
    tiles: str = "none",
    attribution: str = "",
    announce: Any = print,
) -> None:
    """Run the workbench on uvicorn until interrupted, printing its address first."""
    import uvicorn

    token = None if is_loopback(host) else secrets.token_urlsafe(18)
    pool = worker_processes(workbench)
    app = create_app(workbench, store, host, token, tiles, attribution, pool)
    address = f"http://{host}:{port}/" + (f"?token={token}" if token else "")
    announce(render(Message("serving", {"address": address}), workbench.lang))
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    # stop on Ctrl+C or SIGTERM, then shut the worker processes down (uvicorn's own
    # handlers re-raise the signal after its shutdown, which would skip that)
    server.capture_signals = _stop_on_signals(server)  # type: ignore[method-assign]
    try:
        asyncio.run(server.serve())
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
