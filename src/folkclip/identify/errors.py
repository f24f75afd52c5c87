"""Errors of identification: a query that cannot be read, one of a kind folkclip does not
read, and one in which no melody was found.

The web route maps them to HTTP statuses: :class:`QueryError` (and
:class:`NoMelodyFound`) to 422, :class:`UnsupportedQuery` to 415.
"""

from __future__ import annotations

from folkclip.errors import FolkclipError


class QueryError(FolkclipError):
    """The query could not be read (unreadable file, faulty ABC, too few notes).

    Attributes:
        source: What the query was read from (a file name, ``"<stdin>"``).
        line: 1-based line of the fault in an ABC query, when known.
        reason: What is wrong, in words.
    """

    def __init__(self, reason: str, source: str = "<query>", line: int | None = None) -> None:
        where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: {reason}")
        self.source, self.line, self.reason = source, line, reason


class UnsupportedQuery(FolkclipError):
    """A query of a kind folkclip does not read (an unknown file suffix)."""


class NoMelodyFound(QueryError):
    """The query was read, but it holds no melody to match (silence, noise, a drum track)."""
