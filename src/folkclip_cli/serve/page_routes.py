"""The routes of the page itself: ``/``, the offline ``/docs`` and abcjs's note samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response

from folkclip_cli.pages import render
from folkclip_cli.serve import limits as L
from folkclip_cli.serve.tones import INSTRUMENT_DIR, midi_pitch, tone_wav

STATIC = Path(__file__).with_name("static")
ABCJS_VERSION = (STATIC / "VERSIONS").read_text().split("abcjs ")[1].split()[0]


def page_router(index: Any, call: Any = None) -> APIRouter:
    """``/``, ``/docs`` and ``/soundfont/{instrument}/{note}`` (``call`` is unused: these
    routes never wait for the index)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return render("serve.html", n_tunes=len(index), abcjs_version=ABCJS_VERSION,
                      max_abc_chars=L.MAX_ABC_CHARS)

    @router.get("/docs", response_class=HTMLResponse)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="folkclip API",
                                   swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg",
                                   swagger_ui_parameters={"validatorUrl": None})

    @router.get("/soundfont/{instrument}/{note}")
    async def sound(instrument: str, note: str) -> Response:
        pitch = midi_pitch(note)
        if pitch is None or not INSTRUMENT_DIR.fullmatch(instrument):
            return JSONResponse({"detail": "no such note"}, 404)
        return Response(tone_wav(pitch), media_type="audio/wav",
                        headers={"Cache-Control": "max-age=86400"})

    return router
