"""The FastAPI app of ``folkclip serve``: a JSON API over a tune index and one page.

Routes (``/docs`` lists them with their models):

- ``GET /`` — the page; ``GET /static/...`` — its script, abcjs and swagger-ui (package data);
- ``GET /api/search?q=...&k=10`` — tunes whose melody fits a title or free text;
- ``POST /api/suggest`` ``{"abc", "k", "titles"}`` — titles for a tune;
- ``POST /api/similar`` ``{"abc" | "tune_id", "k"}`` — the closest indexed tunes;
- ``POST /api/identify`` (multipart: ``file`` or ``abc``, ``k``) — name the tune of a
  recording, a MIDI file or a few typed bars (:mod:`~folkclip_cli.serve.identify_route`);
- ``GET /api/tunes/{tune_id}`` — one tune with its ABC text;
- ``GET /api/map`` — the index's 2-D map, coloured by tune type;
- ``GET /soundfont/{instrument}/{note}`` — note samples for abcjs's synth (made in memory).

The routes live in modules of their own (:mod:`~folkclip_cli.serve.api`,
:mod:`~folkclip_cli.serve.page_routes`), each a function ``(index, call) -> APIRouter``
listed in :data:`ROUTERS`; a new capability adds its router there.

Nothing a request sends names a file; nothing a request does writes to disk; CORS is closed
unless origins are given; each request is answered within ``REQUEST_TIMEOUT_S``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from folkclip.errors import FolkclipError
from folkclip_cli.serve import limits as L
from folkclip_cli.serve.api import UnknownTune, api_router
from folkclip_cli.serve.identify_route import identify_router
from folkclip_cli.serve.page_routes import STATIC, page_router

# Each router is made from the index and the app's IndexCalls; a new capability adds its own.
ROUTERS: tuple[Callable[[Any, Any], APIRouter], ...] = (api_router, identify_router,
                                                        page_router)


class Busy(RuntimeError):
    """Too many queries already wait for the index (answered with 503)."""


class IndexCalls:
    """Runs the index's functions on one thread, off the event loop, within limits.

    One thread per process: the index (torch, SQLite) serves one query at a time, and on
    a small machine more threads per process only wait for each other; more throughput
    comes from worker processes (``folkclip serve --workers``).

    Args:
        timeout_s: Longest time one call may take (then :class:`asyncio.TimeoutError`).
        max_pending: Calls that may wait or run at once (one more raises :class:`Busy`).
    """

    def __init__(self, timeout_s: float, max_pending: int) -> None:
        self.timeout_s, self.max_pending = timeout_s, max_pending
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="folkclip-index")
        self.pending = 0  # touched on the event-loop thread only

    async def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.pending >= self.max_pending:
            raise Busy()
        self.pending += 1
        try:
            loop = asyncio.get_running_loop()
            job = loop.run_in_executor(self.pool, lambda: _plain(fn(*args, **kwargs)))
            return await asyncio.wait_for(job, self.timeout_s)
        finally:
            self.pending -= 1


def _plain(x: Any) -> Any:
    """JSON-ready copies of index results (numpy numbers become Python numbers)."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if hasattr(x, "item") and callable(x.item):  # numpy scalar
        return x.item()
    return x


def _problems(err: FolkclipError) -> list[dict]:
    """The reader's problems carried by an error: ``{"line", "reason"}`` each."""
    out = []
    for p in getattr(err, "problems", None) or [err]:
        d = p if isinstance(p, dict) else {"line": getattr(p, "line", None),
                                           "reason": getattr(p, "reason", None)}
        out.append({"line": d.get("line") or None, "reason": d.get("reason") or str(p)})
    return out


def _too_large(request: Request, exc: RequestValidationError) -> JSONResponse | None:
    """413 when the only complaint is an ABC text over the size limit."""
    errs = exc.errors()
    if errs and all(e.get("type") == "string_too_long" and "abc" in e.get("loc", ())
                    for e in errs):
        return JSONResponse({"detail": f"ABC text over {L.MAX_ABC_CHARS} characters"}, 413)
    return None


def create_app(index: Any, *, allow_origins: tuple[str, ...] = (),
               timeout_s: float = L.REQUEST_TIMEOUT_S, max_pending: int = L.MAX_PENDING
               ) -> FastAPI:
    """The app over a loaded :class:`folkclip.index.TuneIndex`.

    Args:
        index: The index (anything with its ``search``/``suggest``/``similar``/``tune``/
            ``map_coordinates`` methods and ``len``).
        allow_origins: Origins allowed by CORS; none (the default) keeps CORS closed.
        timeout_s: Longest time one request may take (then 503).
        max_pending: Queries that may wait for the index at once (more: 503 at once).

    Returns:
        The FastAPI application.
    """
    app = FastAPI(title="folkclip", version="1", docs_url=None, redoc_url=None,
                  max_body_size=L.MAX_BODY_BYTES,
                  description="Search, name and compare folk tunes with a folkclip index.")
    if allow_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(allow_origins),
                           allow_methods=["GET", "POST"], allow_headers=["content-type"])
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_error_handlers(app, timeout_s, max_pending)
    call = IndexCalls(timeout_s, max_pending)
    for make_router in ROUTERS:
        app.include_router(make_router(index, call))
    return app


def _add_error_handlers(app: FastAPI, timeout_s: float, max_pending: int) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        from fastapi.exception_handlers import request_validation_exception_handler

        return _too_large(request, exc) or await request_validation_exception_handler(
            request, exc)

    @app.exception_handler(FolkclipError)
    async def unreadable(request: Request, exc: FolkclipError) -> JSONResponse:
        if isinstance(exc, LookupError):  # the index's unknown-tune error
            return JSONResponse({"detail": str(exc)}, 404)
        return JSONResponse({"detail": str(exc), "problems": _problems(exc)}, 422)

    @app.exception_handler(UnknownTune)
    async def unknown(request: Request, exc: UnknownTune) -> JSONResponse:
        return JSONResponse({"detail": f"no tune with id {exc.args[0]}"}, 404)

    @app.exception_handler(asyncio.TimeoutError)
    async def slow(request: Request, exc: asyncio.TimeoutError) -> JSONResponse:
        return JSONResponse({"detail": f"not answered within {timeout_s:g} s"}, 503)

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy) -> JSONResponse:
        return JSONResponse({"detail": f"busy: {max_pending} queries are waiting"}, 503,
                            headers={"Retry-After": "1"})
