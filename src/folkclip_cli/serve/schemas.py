"""The request and response models of ``folkclip serve``'s JSON API (pydantic)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from folkclip_cli.serve import limits as L

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


class GeneratedName(BaseModel):
    """A name written for the tune by the index's title model: not an identification.

    ``novel`` is false when the collection the title model learnt from has a title of this
    identity (then it is an existing title, of another tune); ``bits`` is its cost
    ``-log2 p(name | tune)``; ``score`` the two-tower score that ranks the names.
    """

    title: str
    bits: float
    novel: bool
    score: float | None = None


class Suggestions(Results):
    """Suggested existing titles, and names written by the title model (empty when the
    index carries none)."""

    generated: list[GeneratedName] = Field(default_factory=list)


class Problem(BaseModel):
    """What the ABC reader found wrong, and where."""

    line: int | None = None
    reason: str


class AbcError(BaseModel):
    """The answer to unreadable ABC (status 422)."""

    detail: str
    problems: list[Problem]


# Error answers shared by the routes that read ABC text (for the OpenAPI page).
ABC_ERRORS: dict[int | str, dict] = {
    413: {"description": "ABC text or body too large"},
    422: {"model": AbcError, "description": "unreadable ABC or bad parameters"}}
