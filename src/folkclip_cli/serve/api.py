"""The JSON API over a tune index: search, suggest, similar, one tune, the map, info.

:func:`api_router` declares the routes as closures over the index and the app's
:class:`~folkclip_cli.serve.app.IndexCalls` (which bounds waiting queries and their time).
Another capability adds its own router the same way (see ``ROUTERS`` in ``app.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query

from folkclip.errors import FolkclipError
from folkclip_cli.serve import limits as L
from folkclip_cli.serve.schemas import (
    ABC_ERRORS,
    Results,
    SimilarRequest,
    Suggestions,
    SuggestRequest,
)

Call = Callable[..., Awaitable[Any]]  # runs fn(*args, **kwargs) on the index's thread


class UnknownTune(LookupError):
    """A tune id that the index does not hold (answered with 404)."""


def api_router(index: Any, call: Call) -> APIRouter:
    """The ``/api/...`` routes over ``index``.

    Args:
        index: A :class:`folkclip.index.TuneIndex` (or anything with its methods).
        call: Runs a function of the index off the event loop, within the app's limits.
    """
    router = APIRouter()

    @router.get("/api/search", response_model=Results, tags=["tunes"])
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

    @router.post("/api/suggest", response_model=Suggestions, responses=ABC_ERRORS,
                 tags=["tunes"])
    async def suggest(req: SuggestRequest) -> dict:
        """Titles for a tune, each flagged when it names a near-duplicate of the tune; and,
        in ``generated``, names written for it by the index's title model (if any)."""
        def run() -> dict:
            return {"results": index.suggest(req.abc, k=req.k, titles=req.titles),
                    "generated": generated_names(index, req.abc, req.k)}
        return await call(run)

    @router.post("/api/similar", response_model=Results,
                 responses={**ABC_ERRORS, 404: {"description": "unknown tune id"}},
                 tags=["tunes"])
    async def similar(req: SimilarRequest) -> dict:
        """The indexed tunes closest to a tune (not counting the tune itself)."""
        if req.tune_id is not None:
            await call(_tune, index, req.tune_id)  # 404 for an unknown id
        return {"results": await call(index.similar, abc=req.abc, tune_id=req.tune_id,
                                      k=req.k)}

    @router.get("/api/tunes/{tune_id}", responses={404: {"description": "unknown tune id"}},
                tags=["tunes"])
    async def tune(tune_id: Annotated[int, _path_id()]) -> dict:
        """One indexed tune: its metadata and ABC text."""
        return await call(_tune, index, tune_id)

    cache: dict[str, dict] = {}

    @router.get("/api/map", tags=["map"])
    async def map_points() -> dict:
        """The index's 2-D map: points with title and type, and a colour per type."""
        if "map" not in cache:  # the same for every request: made once, kept in memory
            cache["map"] = await call(_map, index)
        return cache["map"]

    @router.get("/api/info", tags=["map"])
    async def info() -> dict:
        """How many tunes the index holds, and the limits of this server."""
        return {"tunes": len(index), "generated_names": has_title_model(index),
                "max_k": L.MAX_K, "max_abc_chars": L.MAX_ABC_CHARS,
                "max_query_chars": L.MAX_QUERY_CHARS, "max_upload_bytes": L.MAX_UPLOAD_BYTES}

    return router


def has_title_model(index: Any) -> bool:
    """Whether the index carries a title model (an index object without the attribute:
    none)."""
    return getattr(index, "title_model", None) is not None


def generated_names(index: Any, abc: str, k: int) -> list[dict]:
    """Up to ``min(k, GENERATED_NAMES)`` names the index's title model writes for the
    tune (seed 0: the same tune gets the same names), as dicts; ``[]`` without one."""
    from folkclip.identify.limits import GENERATED_NAMES

    if not has_title_model(index):
        return []
    return [g.to_dict() for g in index.names(abc, min(k, GENERATED_NAMES))]


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
