"""Reading a query tune (ABC text) for the index: parse, tokenize, embed, profile.

Malformed ABC raises :class:`AbcQueryError`, which carries the reader's own problems
(line, reason) so that a command line or web page can show them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from folkclip.errors import FolkclipError, Problem
from folkclip.index.query_encoder import QueryEncoder

MAX_QUERY_CHARS = 100_000  # one tune; a whole tunebook is not a query


class AbcQueryError(FolkclipError):
    """The ABC text given as a query could not be read.

    Attributes:
        problems: The reader's problems, each ``{"line", "reason", "tune", "severity"}``.
    """

    def __init__(self, message: str, problems: list[Problem]) -> None:
        detail = "; ".join(f"line {p.line}: {p.reason}" for p in problems[:3])
        super().__init__(f"{message}: {detail}" if detail else message)
        self.problems = [{"line": p.line, "reason": p.reason, "tune": p.tune,
                          "severity": p.severity} for p in problems]


@dataclass
class QueryTune:
    """A query tune read and embedded.

    Attributes:
        vector: (D,) L2-normalised tune embedding.
        document: Its interval n-gram document (see :mod:`folkclip.index.profiles`).
        title: Its title as written (``""`` without ``T:``).
        abc: The ABC text.
        warnings: Things the reader read past, as in :attr:`AbcQueryError.problems`.
        tune: The parsed tune (:class:`~folkclip.abc.model.Tune`).
    """

    vector: np.ndarray
    document: str
    title: str
    abc: str
    warnings: list[dict]
    tune: object = None


def read_tune(abc: str, source: str = "<query>") -> tuple[object, list[Problem]]:
    """The first tune of ``abc``, checked as a query, and the reader's problems.

    Raises:
        AbcQueryError: When the text is too long or empty, or no tune with notes is read.
    """
    from folkclip.abc.parser import parse_tunebook

    if len(abc) > MAX_QUERY_CHARS:
        raise AbcQueryError(f"the query holds {len(abc)} characters, more than the "
                            f"{MAX_QUERY_CHARS} one tune may have",
                            [Problem(source, "-", 0, "too long")])
    if not abc.strip():
        raise AbcQueryError("the query is empty", [Problem(source, "-", 0, "empty text")])
    tunes, problems = parse_tunebook(abc, source)
    if not tunes:
        raise AbcQueryError("the ABC query could not be read", problems)
    tune = tunes[0]
    if not any(n.pitch is not None for n in tune.notes):
        raise AbcQueryError("the ABC query has no notes",
                            [Problem(source, tune.ref, tune.line, "no notes in the tune body")])
    return tune, problems


def read_query(abc: str, fm: object, source: str = "<query>",
               encoder: QueryEncoder | None = None) -> QueryTune:
    """Parse the first tune of ``abc`` and embed it with ``fm``'s tune tower.

    Args:
        abc: ABC text of one tune (``X:`` and ``T:`` may be left out; ``K:`` is needed).
        fm: A :class:`~folkclip.export.FolkclipModel`.
        source: Name used in problem reports.
        encoder: The model's :class:`~folkclip.index.query_encoder.QueryEncoder` (made
            for this call when ``None``; a server keeps one).

    Raises:
        AbcQueryError: When no tune can be read (with the reader's problems).
    """
    from folkclip.data.batch import tune_batch
    from folkclip.data.dataset import tokenize_corpus
    from folkclip.index.profiles import ngram_document, pitches_of
    from folkclip.io.sources import Corpus

    tune, problems = read_tune(abc, source)
    tc = tokenize_corpus(Corpus([tune]), fm.tokenizer_config)  # type: ignore[attr-defined]
    ids = tc.remap(fm.vocab)  # type: ignore[attr-defined]
    if encoder is None:
        encoder = QueryEncoder(fm, backend="torch")
    batch = tune_batch(tc, [0], fm.max_events, ids=ids)  # type: ignore[attr-defined]
    vec = encoder.tune_vector(batch)  # (D,)
    warnings = [{"line": p.line, "reason": p.reason, "tune": p.tune, "severity": p.severity}
                for p in problems if p.severity == "warning" and p.tune == tune.ref]
    return QueryTune(vec, ngram_document(pitches_of(tune)), tune.title, abc, warnings,
                     tune)
