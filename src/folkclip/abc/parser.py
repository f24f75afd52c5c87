"""A fast, forgiving reader for ABC tunebooks.

:func:`parse_tunebook` splits a file into ``X:`` records and reads each one with
:func:`parse_tune`; tunes that cannot be read become :class:`~folkclip.errors.Problem`
records, never exceptions. The body is scanned with one compiled regular expression;
durations are exact integer ticks.
"""

from __future__ import annotations

import re

from folkclip.abc.body import BodyScanner
from folkclip.abc.fields import default_unit, parse_key, parse_meter, parse_unit
from folkclip.abc.limits import MAX_FIELD_CHARS, MAX_TUNE_CHARS, MAX_WARNINGS_KEPT, exceeded
from folkclip.abc.model import Tune
from folkclip.abc.unfold import part_order
from folkclip.errors import AbcSyntaxError, FolkclipError, Problem
from folkclip.abc.titles import UNKNOWN_TYPE, canonical_type, is_untitled, normalise_title

READER_VERSION = 3
"""Version of what the reader makes of a text: bump it whenever a change to the reader
(or to :mod:`folkclip.abc.limits`) can change the tunes, events or problems it gives;
the token cache is keyed by it. 1: first release; 2: limits, internal-error records; 3: stray NUL bytes removed with a
warning, Session CSV fields up to ``MAX_CSV_FIELD_CHARS``."""

_FIELD_RE = re.compile(r"^([A-Za-z+]):\s?(.*)$")
_SESSION_RE = re.compile(r"thesession\.org/tunes/(\d+)(?:#setting(\d+))?")


def strip_comment(line: str) -> str:
    """Remove a ``%`` comment (but not an escaped ``\\%``) from a line."""
    pos = line.find("%")
    while pos > 0 and line[pos - 1] == "\\":
        pos = line.find("%", pos + 1)
    return line if pos < 0 else line[:pos]


def parse_tunebook(text: str, source: str = "<string>", *, collection: str = "",
                   default_type: str | None = None) -> tuple[list[Tune], list[Problem]]:
    """Read every tune of an ABC file.

    Args:
        text: The file's text.
        source: Name of the file, used in problem reports.
        collection: Collection name stored on each tune.
        default_type: Tune type for tunes without ``R:`` or a type suffix
            (e.g. from a Nottingham file name).

    Returns:
        The tunes that could be read, and a problem per tune that could not
        (plus warnings for tunes read with something ignored).
    """
    tunes: list[Tune] = []
    problems: list[Problem] = []
    lines = text.splitlines()
    file_header: dict[str, str] = {}
    records = _split_records(lines, file_header)
    if not records:
        if any(_FIELD_RE.match(ln) and ln.startswith("K:") for ln in lines):
            records = [(0, lines)]  # a single tune written without X:
        else:
            problems.append(Problem(source, "-", 0, "no tunes found (no X: or K: field)"))
    for start, rec in records:
        number = rec[0][2:].strip()[:40] if rec and rec[0].startswith("X:") else "1"
        try:
            tune = parse_tune(rec, source, first_line=start + 1, collection=collection,
                              default_type=default_type, defaults=file_header)
        except AbcSyntaxError as err:
            problems.append(Problem(source, _record_ref(number, rec), err.line or start + 1,
                                    err.reason))
            continue
        except FolkclipError as err:
            problems.append(Problem(source, _record_ref(number, rec), start + 1, str(err)))
            continue
        except Exception as err:  # noqa: BLE001 - last line of defence: one tune, not the file
            problems.append(Problem.internal(source, _record_ref(number, rec), start + 1, err,
                                             "\n".join(rec)))
            continue
        tunes.append(tune)
        problems.extend(warning_problems(tune, source, tune.ref))
    return tunes, problems


def warning_problems(tune: Tune, source: str, ref: str) -> list[Problem]:
    """The tune's warnings as problems (severity ``warning``), plus one that says how many
    more there were when only the first :data:`~folkclip.abc.limits.MAX_WARNINGS_KEPT` are
    listed."""
    out = [Problem(source, ref, tune.line, w, "warning") for w in tune.warnings]
    if tune.warning_count > len(tune.warnings):
        out.append(Problem(source, ref, tune.line,
                           f"{tune.warning_count - len(tune.warnings)} more warning(s) not "
                           f"listed (MAX_WARNINGS_KEPT = {MAX_WARNINGS_KEPT})", "warning"))
    return out


def _record_ref(number: str, rec: list[str]) -> str:
    for ln in rec:
        if ln.startswith("T:"):
            return f"X:{number} {ln[2:].strip()[:100]!r}"
    return f"X:{number}"


def _split_records(lines: list[str], file_header: dict[str, str]) -> list[tuple[int, list[str]]]:
    """Split lines into (start index, lines) per ``X:`` record; a blank line ends a tune."""
    records: list[tuple[int, list[str]]] = []
    current: list[str] | None = None
    seen_x = False
    for i, line in enumerate(lines):
        if line.startswith("X:"):
            seen_x = True
            current = [line]
            records.append((i, current))
        elif current is not None:
            if line.strip() == "":
                current = None
            else:
                current.append(line)
        elif not seen_x:
            m = _FIELD_RE.match(line)
            if m and m.group(1) in "LMRKQ":
                file_header[m.group(1)] = m.group(2)
    return records


def parse_tune(lines: list[str] | str, source: str = "<string>", *, first_line: int = 1,
               collection: str = "", default_type: str | None = None,
               defaults: dict[str, str] | None = None) -> Tune:
    """Read one tune (an ``X:`` record, or a bare tune without ``X:``).

    Long on purpose: the header fields and the body are read in one pass over the lines,
    sharing the key, meter and unit state that each field changes.

    Args:
        lines: The record's lines (or its text).
        source: File name for messages.
        first_line: Line number of the record's first line in ``source``.
        collection: Collection name stored on the tune.
        default_type: Type used when the tune gives none.
        defaults: File-header fields (``L``, ``M``, ``R``) that apply when the tune has none.

    Raises:
        AbcSyntaxError: When the tune cannot be read (no key, unreadable field, no notes ...).
    """
    if isinstance(lines, str):
        lines = lines.splitlines()
    size = sum(len(ln) + 1 for ln in lines)
    if size > MAX_TUNE_CHARS:
        raise exceeded("tune of", f"{size} characters", MAX_TUNE_CHARS, "MAX_TUNE_CHARS",
                       first_line)
    fields: dict[str, list[str]] = {}
    header_warnings: list[str] = []
    last_field = ""
    body_start = len(lines)
    for i, raw in enumerate(lines):
        if raw.startswith("%"):
            continue
        m = _FIELD_RE.match(raw)
        if not m:
            if raw.strip():
                header_warnings.append(f"line {first_line + i}: ignored a line that is not a "
                                       "field in the header (before K:)")
            continue
        name, value = m.group(1), strip_comment(m.group(2)).strip()
        if name == "+" and last_field:
            fields[last_field][-1] += " " + value
            continue
        fields.setdefault(name, []).append(value)
        last_field = name
        if name == "K":
            body_start = i + 1
            break
    if "K" not in fields:
        raise AbcSyntaxError("no K: (key) field" if not header_warnings else
                             "no K: (key) field before the music", first_line)
    header_line = first_line + body_start - 1
    merged = dict(defaults or {})
    key = _field(parse_key, fields["K"][-1], header_line)
    meter_text = fields["M"][-1] if "M" in fields else merged.get("M")
    meter = _field(parse_meter, meter_text, header_line) if meter_text is not None else None
    unit_text = fields["L"][-1] if "L" in fields else merged.get("L")
    unit = _field(parse_unit, unit_text, header_line) if unit_text else default_unit(meter)

    titles: list[str] = []
    suffix_type = None
    for raw_title in fields.get("T", []):
        title, stype = normalise_title(raw_title)
        suffix_type = suffix_type or stype
        if title and not (title.startswith("(") and title.endswith(")")):
            titles.append(title)
    if titles and is_untitled(titles[0]):
        titles[0] = ""
    rtype = fields.get("R", [merged.get("R", "")])[0]
    tune_type = canonical_type(rtype) if rtype else suffix_type or canonical_type(default_type)
    if "P" in fields:
        _field(part_order, fields["P"][0], header_line)  # checks the order's size and nesting

    scanner = BodyScanner(key, meter, unit, fields.get("V", [None])[0])
    for offset, raw in enumerate(lines[body_start:]):
        scanner.feed(raw, first_line + body_start + offset)
    events = scanner.finish()
    if scanner.n_notes == 0:
        raise AbcSyntaxError("no notes in the tune body", first_line)

    tune_id = setting_id = None
    for s in fields.get("S", []):
        sm = _SESSION_RE.search(s)
        if sm:
            tune_id, setting_id = sm.group(1), sm.group(2)
    number = fields["X"][0] if "X" in fields else "1"
    return Tune(
        source=source, number=number, line=first_line,
        title=titles[0] if titles else "", alt_titles=titles[1:],
        tune_type=tune_type if tune_type else UNKNOWN_TYPE,
        meter=meter, unit=unit, key=key, fields=fields, events=events,
        abc="\n".join(lines), tune_id=tune_id, setting_id=setting_id,
        collection=collection, warnings=(header_warnings + scanner.warnings)[:MAX_WARNINGS_KEPT],
        warning_count=len(header_warnings) + scanner.warning_count,
    )


def _field(parse, value: str, line: int):  # noqa: ANN001, ANN202 - tiny local adapter
    if len(value) > MAX_FIELD_CHARS:
        raise exceeded("field value of", f"{len(value)} characters", MAX_FIELD_CHARS,
                       "MAX_FIELD_CHARS", line)
    try:
        return parse(value)
    except FolkclipError as err:
        raise AbcSyntaxError(str(err), line) from None


