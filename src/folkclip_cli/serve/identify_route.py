"""``POST /api/identify``: name the tune of an uploaded recording or MIDI file, or of a few
typed bars of ABC (multipart form: ``file`` or ``abc``, and ``k``).

Answers ``{"results": [...], "generated": [...]}``: ``results`` as ``folkclip identify
--json`` prints them, less the names written by the index's title model in a "no known
tune" answer, which come apart in ``generated`` (title, bits, novel, score); 413 for a body
or file over its limit, 415 for a kind of file folkclip does not read, 422 for one it
cannot read or that holds no melody, 501 for an index built without identification data,
503 when uploads queue up or one takes too long to read.
The upload is read into memory (never written to disk) and handed to the library's
readers, which bound it again (:mod:`folkclip.identify.query_limits`). Reading a recording
(pitch tracking: about 0.4 s of CPU for 12 s of audio) runs on its own thread with its own
time limit, so the index thread stays free for searches; that thread warms pYIN up when the
app is made (its first call compiles code for seconds).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from folkclip.errors import FolkclipError
from folkclip.identify import query_limits as QL
from folkclip.identify.errors import UnsupportedQuery
from folkclip_cli.serve import limits as L
from folkclip_cli.serve.schemas import GeneratedName

MIDI_SUFFIXES = (".mid", ".midi")
# A browser names a recording by its type only: the suffix the readers dispatch on.
SUFFIX_OF_TYPE = {"audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav",
                  "audio/flac": ".flac", "audio/ogg": ".ogg", "audio/mpeg": ".mp3",
                  "audio/midi": ".mid", "audio/x-midi": ".mid"}


class Identified(BaseModel):
    """One answer: an identified tune (with every name and the matched bars) or, when no
    known tune matches, one of the model's suggested existing titles (kind
    ``suggestion``)."""

    model_config = ConfigDict(extra="allow")
    tune_id: int | None
    title: str
    titles: list[str]
    bars: list[int] | None
    score: float
    confidence: float | None
    kind: str


class Identifications(BaseModel):
    """The answers to one query, best first; when no known tune matches, also the names
    the index's title model writes for it (not identifications)."""

    results: list[Identified]
    generated: list[GeneratedName] = Field(default_factory=list)


class Unavailable(FolkclipError):
    """Identification cannot run on this index (answered with 501)."""


class ReaderBusy(FolkclipError):
    """Too many uploads wait to be read, or one took too long (answered with 503)."""


STATUS = {UnsupportedQuery: 415, Unavailable: 501, ReaderBusy: 503}


def _query_name(filename: str | None, content_type: str | None) -> str:
    """The upload's base name (never a client path), with a suffix the readers know."""
    name = PurePath((filename or "").replace("\\", "/")).name[:200] or "upload"
    if not PurePath(name).suffix:
        name += SUFFIX_OF_TYPE.get((content_type or "").split(";")[0].strip().lower(), "")
    return name


def identify_router(index: Any, call: Callable[..., Any]) -> APIRouter:
    """The router of ``POST /api/identify`` (listed in :data:`folkclip_cli.serve.app.ROUTERS`).

    Args:
        index: The app's :class:`~folkclip.index.TuneIndex` (``folder`` names its folder).
        call: The app's way to run work on the index thread (bounded queue and time).

    Returns:
        The router.
    """
    router = APIRouter()
    errors = {413: {"description": "body or file over its limit"},
              415: {"description": "a kind of file folkclip does not read"},
              422: {"description": "unreadable query, or no melody in it"},
              501: {"description": "the index holds no identification data"},
              503: {"description": "uploads queue up, or one took too long to read"}}
    if importlib.util.find_spec("multipart") is None:  # FastAPI reads forms with it
        @router.post("/api/identify", responses=errors, tags=["identify"])
        async def identify_unavailable() -> JSONResponse:
            """Needs python-multipart (the ``serve`` extra) to read uploads."""
            return JSONResponse({"detail": "uploads need python-multipart: "
                                           "pip install 'folkclip[serve]'"}, 501)
        return router

    state: dict[str, Any] = {}
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="folkclip-reader")
    reading = [0]  # uploads waiting for or being read (event-loop thread only)
    if importlib.util.find_spec("librosa") is not None:
        reader.submit(_warm_up)

    async def read(data: bytes, name: str) -> Any:
        from folkclip.identify import read_abc_query, read_query

        if reading[0] >= L.MAX_PENDING_READS:
            raise ReaderBusy(f"busy: {L.MAX_PENDING_READS} uploads are being read")
        reading[0] += 1
        try:
            job = asyncio.get_running_loop().run_in_executor(
                reader, lambda: read_query(data, name) if name else
                read_abc_query(data.decode("utf-8", "replace"), "typed bars"))
            return await asyncio.wait_for(job, L.READ_TIMEOUT_S)
        except TimeoutError:
            raise ReaderBusy(f"the upload was not read within {L.READ_TIMEOUT_S:g} s") from None
        finally:
            reading[0] -= 1

    def identify(notes: Any, k: int) -> dict:
        from folkclip.identify import Identifier

        if "identifier" not in state:
            try:
                state["identifier"] = Identifier.open(index.folder, tune_index=index)
            except FolkclipError as err:
                raise Unavailable(f"this index cannot identify tunes: {err}") from None
        found = state["identifier"].identify(notes, k)
        return {"results": [r.to_json() for r in found if r.kind != "generated"],
                "generated": [{"title": r.title, "bits": r.bits, "novel": r.novel,
                               "score": r.score} for r in found if r.kind == "generated"]}

    async def answer(data: bytes, name: str, k: int) -> Any:
        try:
            return await call(identify, await read(data, name), k)
        except (UnsupportedQuery, Unavailable, ReaderBusy) as err:
            status = STATUS[type(err)]
            return JSONResponse({"detail": str(err)}, status,
                                headers={"Retry-After": "1"} if status == 503 else None)

    @router.post("/api/identify", response_model=Identifications, responses=errors,
                 tags=["identify"], max_body_size=L.MAX_UPLOAD_BYTES)
    async def identify_route(
            file: Annotated[UploadFile | None, File(
                description="a recording (.wav .flac .ogg .mp3) or a MIDI file (.mid)")] = None,
            abc: Annotated[str | None, Form(min_length=1, max_length=L.MAX_ABC_CHARS,
                                            description="a few bars of ABC")] = None,
            k: Annotated[int, Form(ge=1, le=L.MAX_K, description="how many results")] = 5,
    ) -> Any:
        """Name the tune of a recording, a MIDI file or a few typed bars."""
        if (file is None) == (abc is None):
            return JSONResponse({"detail": "give exactly one of file and abc"}, 422)
        if abc is not None:
            return await answer(abc.encode(), "", k)
        name = _query_name(file.filename, file.content_type)
        limit = QL.MAX_MIDI_BYTES if PurePath(name).suffix.lower() in MIDI_SUFFIXES \
            else QL.MAX_AUDIO_BYTES
        data = await file.read(limit + 1)
        if len(data) > limit:
            return JSONResponse({"detail": f"{name}: over the limit of {limit:,} bytes for "
                                           "this kind of file"}, 413)
        return await answer(data, name, k)

    return router


def _warm_up() -> None:
    """Track the pitch of half a second of tone once (pYIN's first call compiles code)."""
    import numpy as np

    from folkclip.audio.pitch import track_f0
    from folkclip.identify.query_limits import ANALYSIS_SR_HZ

    t = np.arange(ANALYSIS_SR_HZ // 2) / ANALYSIS_SR_HZ
    track_f0(np.sin(2 * np.pi * 440 * t).astype(np.float32), ANALYSIS_SR_HZ)
