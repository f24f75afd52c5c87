"""The FastAPI app of ``folkclip serve``: a JSON API over a tune index and one page.

Routes (``/docs`` lists them with their models):

- ``GET /`` — the page; ``GET /static/...`` — its script, abcjs and swagger-ui (package data);
- ``GET /api/search?q=...&k=10`` — tunes whose melody fits a title or free text;
- ``POST /api/suggest`` ``{"abc", "k", "titles"}`` — titles for a tune;
- ``POST /api/similar`` ``{"abc" | "tune_id", "k"}`` — the closest indexed tunes;
- ``POST /api/identify`` (multipart: ``file`` or ``abc``, ``k``) — name the tune of a
  recording, a MIDI file or a few typed bars (:mod:`folkclip_cli.serve.identify_route`);
- ``GET /api/tunes/{tune_id}`` — one tune with its ABC text;
- ``GET /api/map`` — the index's 2-D map, coloured by tune type;
- ``GET /soundfont/{instrument}/{note}`` — note samples for abcjs's synth (made in memory).

Nothing a request sends names a file; nothing a request does writes to disk; CORS is closed
unless origins are given; each request is answered within ``REQUEST_TIMEOUT_S``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, model_validator

from folkclip.errors import FolkclipError
from folkclip_cli.pages import render
from folkclip_cli.serve import limits as L
from folkclip_cli.serve.identify_route import add_identify_route
from folkclip_cli.serve.tones import INSTRUMENT_DIR, midi_pitch, tone_wav

STATIC = Path(__file__).with_name("static")
ABCJS_VERSION = (STATIC / "VERSIONS").read_text().split("abcjs ")[1].split()[0]

Title = Annotated[str, Field(min_length=1, max_length=L.MAX_QUERY_CHARS)]
K = Annotated[int, Field(ge=1, le=L.MAX_K, description="how many results")]
TuneId = Annotated[int, Field(ge=0, le=L.MAX_TUNE_ID, description="id of an indexed tune")]
Abc = Annotated[str, Field(min_length=1, max_length=L.MAX_ABC_CHARS,
                           description="one tune in ABC notation (T: optional)")]


class SuggestRequest(BaseModel):
    """A tune to name."""

    model_config = ConfigDict(extra="forbid")
    abc: Abc
    k: K = 10
    titles: list[Title] | None = Field(None, max_length=L.MAX_USER_TITLES,
                                       description="your own candidate titles")


class SimilarRequest(BaseModel):
    """A tune (ABC text or an indexed tune's id) to find neighbours of."""

    model_config = ConfigDict(extra="forbid")
    abc: Abc | None = None
    tune_id: TuneId | None = None
    k: K = 10

    @model_validator(mode="after")
    def _one_query(self) -> SimilarRequest:
        if (self.abc is None) == (self.tune_id is None):
            raise ValueError("give exactly one of abc and tune_id")
        return self


class Hit(BaseModel):
    """One ranked result (tune or title); fields beyond these come from the index."""

    model_config = ConfigDict(extra="allow")
    title: str
    score: float
    tune_id: int | None = None


class Results(BaseModel):
    """Ranked results of one query."""

    results: list[Hit]


class Problem(BaseModel):
    """What the ABC reader found wrong, and where."""

    line: int | None = None
    reason: str


class AbcError(BaseModel):
    """The answer to unreadable ABC (status 422)."""

    detail: str
    problems: list[Problem]


class UnknownTune(LookupError):
    """A tune id that the index does not hold (answered with 404)."""


class Busy(RuntimeError):
    """Too many queries already wait for the index (answered with 503)."""


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

    Long on purpose: each route is a closure over the index and its lock, declared here with
    its pydantic models and limits.

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
    # one worker thread: the index (torch, SQLite) is used by one request at a time
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="folkclip-index")

    pending = [0]  # queries waiting for or running on the index (event-loop thread only)

    async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if pending[0] >= max_pending:
            raise Busy()
        pending[0] += 1
        try:
            loop = asyncio.get_running_loop()
            job = loop.run_in_executor(pool, lambda: _plain(fn(*args, **kwargs)))
            return await asyncio.wait_for(job, timeout_s)
        finally:
            pending[0] -= 1

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

    _add_api(app, index, call)
    add_identify_route(app, index, call)
    _add_pages(app, index)
    return app


def _add_api(app: FastAPI, index: Any, call: Callable[..., Any]) -> None:
    errors = {413: {"description": "ABC text or body too large"},
              422: {"model": AbcError, "description": "unreadable ABC or bad parameters"}}

    @app.get("/api/search", response_model=Results, tags=["tunes"])
    async def search(q: Annotated[str, Query(min_length=1, max_length=L.MAX_QUERY_CHARS,
                                             description="a title or free text")],
                     k: Annotated[int, Query(ge=1, le=L.MAX_K)] = 10,
                     abc: Annotated[bool, Query(description="include ABC text")] = True
                     ) -> dict:
        """Tunes whose melody fits a title or free text, best first."""
        def run() -> list[dict]:
            hits = index.search(q, k=k)
            if abc:
                hits = [{**h, "abc": h.get("abc") or index.tune(h["tune_id"])["abc"]}
                        for h in hits]
            return hits
        return {"results": await call(run)}

    @app.post("/api/suggest", response_model=Results, responses=errors, tags=["tunes"])
    async def suggest(req: SuggestRequest) -> dict:
        """Titles for a tune, each flagged when it names a near-duplicate of the tune."""
        return {"results": await call(index.suggest, req.abc, k=req.k, titles=req.titles)}

    @app.post("/api/similar", response_model=Results,
              responses={**errors, 404: {"description": "unknown tune id"}}, tags=["tunes"])
    async def similar(req: SimilarRequest) -> dict:
        """The indexed tunes closest to a tune (not counting the tune itself)."""
        if req.tune_id is not None:
            await call(_tune, index, req.tune_id)  # 404 for an unknown id
        return {"results": await call(index.similar, abc=req.abc, tune_id=req.tune_id,
                                      k=req.k)}

    @app.get("/api/tunes/{tune_id}", responses={404: {"description": "unknown tune id"}},
             tags=["tunes"])
    async def tune(tune_id: Annotated[int, _path_id()]) -> dict:
        """One indexed tune: its metadata and ABC text."""
        return await call(_tune, index, tune_id)

    cache: dict[str, dict] = {}

    @app.get("/api/map", tags=["map"])
    async def map_points() -> dict:
        """The index's 2-D map: points with title and type, and a colour per type."""
        if "map" not in cache:  # the same for every request: made once, kept in memory
            cache["map"] = await call(_map, index)
        return cache["map"]

    @app.get("/api/info", tags=["map"])
    async def info() -> dict:
        """How many tunes the index holds, and the limits of this server."""
        return {"tunes": len(index), "max_k": L.MAX_K, "max_abc_chars": L.MAX_ABC_CHARS,
                "max_query_chars": L.MAX_QUERY_CHARS, "max_upload_bytes": L.MAX_UPLOAD_BYTES}


def _path_id() -> Any:
    from fastapi import Path as PathParam

    return PathParam(ge=0, le=L.MAX_TUNE_ID, description="id of an indexed tune")


def _tune(index: Any, tune_id: int) -> dict:
    """One tune; :class:`UnknownTune` (404) whatever the index raises for an unknown id."""
    try:
        found = index.tune(tune_id)
    except (KeyError, IndexError, FolkclipError):
        found = None
    if not found:
        raise UnknownTune(tune_id)
    return found


def _map(index: Any) -> dict:
    """Map points (thinned evenly to ``MAX_MAP_POINTS``) and a colour for each type."""
    from folkclip_cli.study.maps import _groups

    points = list(index.map_coordinates())
    step = max(1, -(-len(points) // L.MAX_MAP_POINTS))
    points = points[::step]
    names, codes, colors = _groups([p.get("type") or "unknown" for p in points])
    for p, c in zip(points, codes):
        p["group"] = int(c)
    return {"points": points, "groups": [{"name": n, "color": c} for n, c in zip(names, colors)],
            "total": len(index)}


def _add_pages(app: FastAPI, index: Any) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return render("serve.html", n_tunes=len(index), abcjs_version=ABCJS_VERSION,
                      max_abc_chars=L.MAX_ABC_CHARS)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="folkclip API",
                                   swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg",
                                   swagger_ui_parameters={"validatorUrl": None})

    @app.get("/soundfont/{instrument}/{note}", include_in_schema=False)
    async def sound(instrument: str, note: str) -> Response:
        pitch = midi_pitch(note)
        if pitch is None or not INSTRUMENT_DIR.fullmatch(instrument):
            return JSONResponse({"detail": "no such note"}, 404)
        return Response(tone_wav(pitch), media_type="audio/wav",
                        headers={"Cache-Control": "max-age=86400"})
