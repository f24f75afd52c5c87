"""Reader for thesession.org data dumps (``tunes.csv`` and ``tunes.json``).

A dump has one row per *setting* (version) of a tune, with the columns
``tune_id, setting_id, name, type, meter, mode, abc, date, username, composer``.
The ``abc`` column holds the tune body only; :func:`tune_from_row` writes the
header (``X:``, ``T:``, ``R:``, ``M:``, ``L:1/8``, ``K:``) from the other columns
and reads the result with :func:`folkclip.abc.parser.parse_tune`.

Rows that cannot be read become :class:`~folkclip.errors.Problem` records; only a
file that is not a Session dump at all raises :class:`~folkclip.errors.FolkclipError`.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from folkclip.abc.limits import (MAX_CSV_FIELD_CHARS, MAX_FIELD_CHARS, MAX_FILE_BYTES,
                                 MAX_NUMBER_DIGITS)
from folkclip.abc.model import Tune
from folkclip.abc.parser import parse_tune, warning_problems
from folkclip.errors import AbcSyntaxError, FolkclipError, Problem
from folkclip.abc.titles import is_untitled, normalise_title

COLLECTION = "thesession"
REQUIRED_COLUMNS = ("tune_id", "setting_id", "name", "type", "meter", "mode", "abc")
SESSION_UNIT = "1/8"  # The Session writes every body with L:1/8 unless the body says otherwise
_MODE_RE = re.compile(
    r"^\s*([A-Ga-g])\s*([#b♯♭]?)\s*"
    r"(major|minor|dorian|mixolydian|lydian|phrygian|locrian|ionian|aeolian"
    r"|maj|min|dor|mix|lyd|phr|loc|ion|aeo|m)?\s*$", re.IGNORECASE)


def session_mode_to_key(mode: str) -> str:
    """Turn a Session ``mode`` value into a ``K:`` value: ``"Edorian"`` -> ``"E dorian"``.

    Raises:
        FolkclipError: When ``mode`` is not a tonic followed by a mode name.
    """
    m = _MODE_RE.match(" ".join(mode.split())) if len(mode) <= MAX_FIELD_CHARS else None
    if not m:
        raise FolkclipError(f"cannot read mode {mode[:60]!r}")
    tonic = m.group(1).upper() + m.group(2).replace("♯", "#").replace("♭", "b")
    word = (m.group(3) or "major").lower()
    return f"{tonic} {word}"


def split_abc_lines(abc: str) -> list[str]:
    """Split a stored ABC text into lines.

    Real line breaks (``\\n``, ``\\r\\n``, ``\\r``) and the escaped two-character
    sequences ``\\\\r\\\\n`` / ``\\\\n`` (backslash, ``n``) are all line ends.
    """
    text = abc.replace("\\r\\n", "\n").replace("\\n", "\n")
    return text.splitlines()


def as_text(value: object) -> str:
    """A column value as a stripped string (JSON numbers included; ``None`` -> ``""``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _one_line(value: str) -> str:
    return " ".join(value.split())


def tune_from_row(row: Mapping[str, object], source: str, line: int, *,
                  collection: str = COLLECTION, key: str | None = None) -> tuple[Tune, list[str]]:
    """Build and read one tune from a Session-style record.

    Args:
        row: Column name -> value (``name``, ``type``, ``meter``, ``mode``, ``abc``,
            ``tune_id``, ``setting_id``; missing values count as empty).
        source: File name for messages and ``Tune.source``.
        line: Line (CSV) or record number (JSON) of the row; ``Tune.line`` is set to it
            and line ``k`` of the body gets line number ``line + k``.
        collection: Collection name stored on the tune.
        key: A ready ``K:`` value; when ``None`` it is made from ``row["mode"]``.

    Returns:
        The tune and its warnings (things read past in the body).

    Raises:
        FolkclipError: With a reason in words when the row cannot be read
            (``AbcSyntaxError`` for unreadable ABC).
    """
    setting_id = as_text(row.get("setting_id"))
    tune_id = as_text(row.get("tune_id"))
    name = _one_line(as_text(row.get("name")))
    body = split_abc_lines(as_text(row.get("abc")))
    if not any(ln.strip() for ln in body):
        raise FolkclipError("empty abc body")
    if key is None:
        key = session_mode_to_key(as_text(row.get("mode")))
    header = [f"X:{setting_id or line}", f"T:{name}"]
    if rtype := _one_line(as_text(row.get("type"))):
        header.append(f"R:{rtype}")
    if meter := _one_line(as_text(row.get("meter"))):
        header.append(f"M:{meter}")
    header += [f"L:{SESSION_UNIT}", f"K:{_one_line(key)}"]
    try:
        # Shift line numbers so that the body's first line is the row's line.
        tune = parse_tune(header + body, source, first_line=line - len(header),
                          collection=collection)
    except AbcSyntaxError as err:
        where = (err.line or 0) - line
        raise AbcSyntaxError(f"abc line {where + 1}: {err.reason}" if where >= 0
                             else err.reason, line) from None
    tune.line = line
    title, _ = normalise_title(name)  # from the column: a '%' in T: would start a comment
    tune.title = "" if is_untitled(title) else title
    tune.tune_id = tune_id or None
    tune.setting_id = setting_id or None
    return tune, list(tune.warnings)


def _ref(row: Mapping[str, object]) -> str:
    name = _one_line(as_text(row.get("name")))[:100]
    return f"setting {as_text(row.get('setting_id'))[:40] or '?'} '{name}'"


def _row_to_results(row: Mapping[str, object], source: str, line: int) -> list[Tune | Problem]:
    ref = _ref(row)
    missing = [c for c in REQUIRED_COLUMNS if c not in row]
    if missing:
        return [Problem(source, ref, line, f"row lacks column(s): {', '.join(missing)}")]
    if not as_text(row.get("setting_id")) or not as_text(row.get("tune_id")):
        return [Problem(source, ref, line, "row has no tune_id or setting_id")]
    try:
        tune, _warnings = tune_from_row(row, source, line)
    except AbcSyntaxError as err:
        return [Problem(source, ref, line, err.reason)]
    except FolkclipError as err:
        return [Problem(source, ref, line, str(err))]
    except Exception as err:  # noqa: BLE001 - last line of defence: one row, not the file
        return [Problem.internal(source, ref, line, err, row_text(row))]
    return [tune, *warning_problems(tune, source, ref)]


def row_text(row: Mapping[str, object]) -> str:
    """A row as JSON text, kept in an internal-error problem so it can be reported."""
    try:
        return json.dumps(row, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return repr(as_text(row.get("abc")))


def json_int(text: str) -> int:
    """``parse_int`` for :mod:`json`: an integer of at most
    :data:`~folkclip.abc.limits.MAX_NUMBER_DIGITS` * 4 digits (ids), else ``ValueError``."""
    if len(text.lstrip("-")) > 4 * MAX_NUMBER_DIGITS:
        raise ValueError(f"integer of {len(text)} digits is past folkclip's limit of "
                         f"{4 * MAX_NUMBER_DIGITS} (4 * MAX_NUMBER_DIGITS)")
    return int(text)


def _check_columns(columns: object, source: str) -> None:
    have = set(columns) if isinstance(columns, (list, tuple, dict)) else set()
    missing = [c for c in REQUIRED_COLUMNS if c not in have]
    if missing:
        raise FolkclipError(f"{source}: not a Session dump: missing column(s) "
                            f"{', '.join(missing)}")


class _RecordLines:
    """A CSV file's lines as ``csv.reader`` pulls them, with the lines of the record being
    read kept, so that a record the reader gave up on can be skipped to its end."""

    def __init__(self, handle: Iterator[str]) -> None:
        self.lines = iter(handle)
        self.record: list[str] = []
        self.line = 0  # lines read so far

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        text = next(self.lines)
        self.line += 1
        self.record.append(text)
        return text

    def next_record(self) -> None:
        self.record = []

    def skip_record(self) -> None:
        """Read on to the end of the current record: while its quotes are open (an odd
        number so far; a doubled ``""`` inside a field counts twice), the field goes on."""
        open_quote = sum(text.count('"') for text in self.record) % 2 == 1
        self.record = []
        while open_quote:
            try:
                text = next(self.lines)
            except StopIteration:
                return
            self.line += 1
            open_quote = (text.count('"') % 2 == 1) != open_quote


def _next_row(reader: Iterator[list[str]]) -> list[str]:
    """The next CSV row, with the field size limit raised to ``MAX_CSV_FIELD_CHARS``
    (and put back: it is global to Python's ``csv`` module)."""
    old = csv.field_size_limit(MAX_CSV_FIELD_CHARS)
    try:
        return next(reader)
    finally:
        csv.field_size_limit(old)


def iter_session_csv(path: str | Path) -> Iterator[Tune | Problem]:
    """Stream the tunes (and problems) of a Session ``tunes.csv``, one row at a time.

    A row with a field longer than :data:`~folkclip.abc.limits.MAX_CSV_FIELD_CHARS` is
    skipped with a problem; the rows after it are read.

    Raises:
        FolkclipError: When the file cannot be opened or its header lacks required columns.
    """
    source = str(path)
    try:
        handle = open(path, encoding="utf-8-sig", errors="replace", newline="")  # noqa: SIM115
    except OSError as err:
        raise FolkclipError(f"{source}: cannot read: {err.strerror or err}") from None
    with handle:
        lines = _RecordLines(handle)
        reader = csv.reader(lines)
        try:
            columns = [c.strip() for c in _next_row(reader)]
        except StopIteration:
            columns = []
        except csv.Error as err:
            raise FolkclipError(f"{source}: not a CSV file: {err}") from None
        _check_columns(columns, source)
        while True:
            start = lines.line + 1
            lines.next_record()
            try:
                values = _next_row(reader)
            except StopIteration:
                return
            except csv.Error as err:
                if "field larger than field limit" not in str(err):
                    yield Problem(source, "-", start, f"CSV error, rest of file not read: {err}")
                    return
                lines.skip_record()
                yield Problem(source, "-", start, "row skipped: a field is longer than "
                              f"folkclip's limit of {MAX_CSV_FIELD_CHARS} characters "
                              "(MAX_CSV_FIELD_CHARS)")
                continue
            if not any(v.strip() for v in values):
                continue  # blank line
            row: dict[str, object] = dict(zip(columns, values, strict=False))
            if len(values) != len(columns):
                yield Problem(source, _ref(row), start, f"row has {len(values)} fields, "
                              f"the header names {len(columns)}")
                continue
            yield from _row_to_results(row, source, start)


def read_session_csv(path: str | Path) -> tuple[list[Tune], list[Problem]]:
    """Read a Session ``tunes.csv`` dump.

    Args:
        path: The CSV file.

    Returns:
        The settings that could be read (``tune_id``/``setting_id`` set, collection
        ``"thesession"``), and a problem per row that could not (plus warnings).

    Raises:
        FolkclipError: When the file cannot be read or is not a Session dump.
    """
    return _collect(iter_session_csv(path))


def read_session_json(path: str | Path) -> tuple[list[Tune], list[Problem]]:
    """Read a Session ``tunes.json`` dump (a JSON array of objects keyed like the CSV columns).

    A record's line number is its 1-based index in the array.

    Raises:
        FolkclipError: When the file cannot be read, is not JSON, or is not a Session dump.
    """
    source = str(path)
    try:
        if Path(path).stat().st_size > MAX_FILE_BYTES:
            raise FolkclipError(f"{source}: file is past folkclip's limit of {MAX_FILE_BYTES} "
                                "bytes (MAX_FILE_BYTES)")
        with open(path, encoding="utf-8-sig") as handle:
            data = json.load(handle, parse_int=json_int)
    except OSError as err:
        raise FolkclipError(f"{source}: cannot read: {err.strerror or err}") from None
    except RecursionError:
        raise FolkclipError(f"{source}: not a Session dump: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
        raise FolkclipError(f"{source}: not a JSON file: {err}") from None
    if not isinstance(data, list):
        raise FolkclipError(f"{source}: not a Session dump: expected a JSON array of settings")
    first = next((r for r in data if isinstance(r, dict)), None)
    if data and first is None:
        raise FolkclipError(f"{source}: not a Session dump: no JSON objects in the array")
    if first is not None:
        _check_columns(first, source)
    tunes: list[Tune] = []
    problems: list[Problem] = []
    for index, record in enumerate(data):
        if not isinstance(record, dict):
            problems.append(Problem(source, "-", index + 1, "record is not a JSON object"))
            continue
        if any(isinstance(v, (dict, list)) for v in record.values()):
            problems.append(Problem(source, "-", index + 1,
                                    "record holds nested JSON (a Session record is flat)"))
            continue
        for item in _row_to_results(record, source, index + 1):
            (tunes if isinstance(item, Tune) else problems).append(item)
    return tunes, problems


def _collect(items: Iterator[Tune | Problem]) -> tuple[list[Tune], list[Problem]]:
    tunes: list[Tune] = []
    problems: list[Problem] = []
    for item in items:
        (tunes if isinstance(item, Tune) else problems).append(item)
    return tunes, problems
