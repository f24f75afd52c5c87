"""Reading the ABC text a command is given: a file, or ``-`` for standard input."""

from __future__ import annotations

import sys
from pathlib import Path

from folkclip.errors import FolkclipError


def read_abc_text(path: str, max_chars: int | None = None) -> str:
    """The ABC text of ``path`` (``-``: standard input), read as UTF-8 with undecodable
    bytes replaced.

    Args:
        path: A file name, or ``-``.
        max_chars: Characters read at most, plus one (default: the query limit,
            :data:`folkclip.index.query.MAX_QUERY_CHARS`): a longer text is cut there, so
            that the reader, which checks the limit, refuses it without the whole file
            in memory.

    Raises:
        FolkclipError: For a missing or unreadable file.
    """
    if max_chars is None:
        from folkclip.index.query import MAX_QUERY_CHARS  # imports torch: only when run

        max_chars = MAX_QUERY_CHARS
    if path == "-":
        return sys.stdin.read(max_chars + 1)
    p = Path(path)
    if not p.is_file():
        raise FolkclipError(f"ABC file {path!r} not found")
    try:
        with p.open(encoding="utf-8", errors="replace") as fh:
            return fh.read(max_chars + 1)
    except OSError as err:
        raise FolkclipError(f"cannot read {path}: {err.strerror or err}") from None
