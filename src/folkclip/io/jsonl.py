"""Reader for tunes stored as JSON lines: one JSON object per line.

Each object has an ``abc`` text and optional metadata::

    {"abc": "X:1\\nT:Kesh\\nK:G\\n...", "id": 55}
    {"abc": "GAB c2d|...", "title": "Kesh, The", "type": "jig", "meter": "6/8", "key": "G"}

Keys: ``abc`` (required: a whole tune with its header, or only the body when
``key`` or ``mode`` is given), ``title`` and/or ``titles`` (string or list),
``type``, ``meter``, ``key`` (a ``K:`` value) or ``mode`` (Session style,
``"Edorian"``), ``id``/``tune_id`` and ``setting_id``. A body gets a header built
as for The Session (``L:1/8``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from folkclip.abc.limits import MAX_JSON_DEPTH, MAX_RECORD_CHARS
from folkclip.abc.model import Tune
from folkclip.abc.parser import parse_tune, warning_problems
from folkclip.errors import AbcSyntaxError, FolkclipError, Problem
from folkclip.io.session import (
    as_text,
    json_int,
    session_mode_to_key,
    split_abc_lines,
    tune_from_row,
)
from folkclip.abc.titles import is_untitled, normalise_title, title_key

_FIELD_RE = re.compile(r"^[A-Za-z+]:")
_JSON_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"')


def has_header(lines: list[str]) -> bool:
    """True when ``lines`` open with ABC header fields that end with a ``K:`` line.

    A body that merely contains a key change (``K:`` after some music) is not a header.
    """
    for line in lines:
        if not line.strip() or line.startswith("%"):
            continue
        if not _FIELD_RE.match(line):
            return False
        if line.startswith("K:"):
            return True
    return False


def _titles(record: dict[str, object]) -> list[str]:
    raw: list[object] = []
    if record.get("title") is not None:
        raw.append(record["title"])
    extra = record.get("titles")
    raw.extend(extra if isinstance(extra, list) else [] if extra is None else [extra])
    return [" ".join(as_text(t).split()) for t in raw if as_text(t)]


def _ref(record: dict[str, object], titles: list[str], lineno: int) -> str:
    ident = as_text(record.get("setting_id")) or as_text(record.get("id")) \
        or as_text(record.get("tune_id"))
    head = f"id {ident[:40]}" if ident else f"record {lineno}"
    return f"{head} '{titles[0][:100]}'" if titles else head


def json_depth(text: str) -> int:
    """Deepest nesting of arrays/objects in a JSON text (brackets inside strings ignored)."""
    depth = deepest = 0
    for ch in _JSON_STRING_RE.sub("", text):
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _lines(handle: object) -> Iterator[tuple[int, str | None]]:
    """(line number, text) per line, text ``None`` for a line longer than
    :data:`~folkclip.abc.limits.MAX_RECORD_CHARS` (read past in chunks, never held whole)."""
    lineno = 0
    while True:
        line = handle.readline(MAX_RECORD_CHARS + 1)  # type: ignore[attr-defined]
        if not line:
            return
        lineno += 1
        if len(line) > MAX_RECORD_CHARS and not line.endswith("\n"):
            while line and not line.endswith("\n"):
                line = handle.readline(MAX_RECORD_CHARS)  # type: ignore[attr-defined]
            yield lineno, None
            continue
        yield lineno, line


def _decode(line: str) -> object:
    """The JSON value of one line.

    Raises:
        FolkclipError: With the reason in words (malformed, too deep, huge integer).
    """
    if line.count("[") + line.count("{") > MAX_JSON_DEPTH and json_depth(line) > MAX_JSON_DEPTH:
        raise FolkclipError(f"JSON nested deeper than folkclip's limit of {MAX_JSON_DEPTH} "
                            "(MAX_JSON_DEPTH)")
    try:
        return json.loads(line, parse_int=json_int)
    except json.JSONDecodeError as err:
        raise FolkclipError(f"malformed JSON at column {err.colno}: "
                            f"{err.msg.removesuffix(' at')}") from None
    except ValueError as err:  # an integer past the limit
        raise FolkclipError(f"malformed JSON: {err}") from None


def tune_from_record(record: dict[str, object], source: str, lineno: int,
                     collection: str = "") -> tuple[Tune, list[str]]:
    """Read one JSON-lines record.

    Args:
        record: The decoded JSON object.
        source: File name for messages.
        lineno: The record's line in ``source``; it becomes ``Tune.line``.
        collection: Collection name stored on the tune.

    Returns:
        The tune and its warnings.

    Raises:
        FolkclipError: With a reason when the record cannot be read.
    """
    abc = record.get("abc")
    if not isinstance(abc, str) or not abc.strip():
        raise FolkclipError("record has no 'abc' text")
    titles = _titles(record)
    tune_id = as_text(record.get("tune_id")) or as_text(record.get("id"))
    setting_id = as_text(record.get("setting_id"))
    rtype = as_text(record.get("type")) or None
    lines = split_abc_lines(abc)
    if has_header(lines):
        try:
            tune = parse_tune(lines, source, first_line=lineno, collection=collection,
                              default_type=rtype)
        except AbcSyntaxError as err:
            where = (err.line or 0) - lineno
            raise AbcSyntaxError(f"abc line {where + 1}: {err.reason}" if where >= 0
                                 else err.reason, lineno) from None
        tune.line = lineno
        if "X" not in tune.fields:
            tune.number = setting_id or tune_id or str(lineno)
        known = {title_key(t) for t in [tune.title, *tune.alt_titles] if t}
        for raw in titles:
            title, _ = normalise_title(raw)
            if is_untitled(title) or title_key(title) in known:
                continue
            known.add(title_key(title))
            if tune.title:
                tune.alt_titles.append(title)
            else:
                tune.title = title
        tune.tune_id = tune_id or tune.tune_id
        tune.setting_id = setting_id or tune.setting_id
        return tune, list(tune.warnings)
    key = as_text(record.get("key"))
    mode = as_text(record.get("mode"))
    if not key and not mode:
        raise FolkclipError("abc has no header with a K: line, and the record gives no "
                            "'key' or 'mode'")
    row = {"name": titles[0] if titles else "", "type": rtype, "meter": record.get("meter"),
           "abc": abc, "tune_id": tune_id, "setting_id": setting_id}
    tune, warnings = tune_from_row(row, source, lineno, collection=collection,
                                   key=key or session_mode_to_key(mode))
    if not setting_id:
        tune.number = tune_id or str(lineno)
    tune.alt_titles = [t for t in (normalise_title(r)[0] for r in titles[1:])
                       if not is_untitled(t)]
    return tune, warnings


def read_jsonl(path: str | Path, *, collection: str | None = None
               ) -> tuple[list[Tune], list[Problem]]:
    """Read a JSON-lines file of tunes.

    Blank lines are skipped; a malformed line or unreadable tune becomes a
    :class:`~folkclip.errors.Problem` with its line number, and reading goes on.

    Args:
        path: The ``.jsonl`` file.
        collection: Collection name stored on the tunes (default: the file's stem).

    Returns:
        The tunes that could be read and the problems (errors and warnings).

    Raises:
        FolkclipError: When the file cannot be opened.
    """
    source = str(path)
    collection = Path(path).stem if collection is None else collection
    tunes: list[Tune] = []
    problems: list[Problem] = []
    try:
        handle = open(path, encoding="utf-8-sig", errors="replace")  # noqa: SIM115
    except OSError as err:
        raise FolkclipError(f"{source}: cannot read: {err.strerror or err}") from None
    with handle:
        for lineno, line in _lines(handle):
            if line is None:
                problems.append(Problem(source, f"record {lineno}", lineno,
                                        f"line longer than folkclip's limit of "
                                        f"{MAX_RECORD_CHARS} characters (MAX_RECORD_CHARS)"))
                continue
            if not line.strip():
                continue
            item, ref = _read_line(line, source, lineno, collection)
            if isinstance(item, Tune):
                tunes.append(item)
                problems.extend(warning_problems(item, source, ref))
            else:
                problems.append(item)
    return tunes, problems


def _read_line(line: str, source: str, lineno: int, collection: str
               ) -> tuple[Tune | Problem, str]:
    """One JSON-lines record: its tune (or the problem that kept it from being read),
    and its reference for problem reports."""
    ref = f"record {lineno}"
    try:
        record = _decode(line)
        if not isinstance(record, dict):
            return Problem(source, ref, lineno, "line is not a JSON object"), ref
        ref = _ref(record, _titles(record), lineno)
        return tune_from_record(record, source, lineno, collection)[0], ref
    except AbcSyntaxError as err:
        return Problem(source, ref, lineno, err.reason), ref
    except FolkclipError as err:
        return Problem(source, ref, lineno, str(err)), ref
    except Exception as err:  # noqa: BLE001 - last line of defence: one record, not the file
        return Problem.internal(source, ref, lineno, err, line.rstrip("\n")), ref
