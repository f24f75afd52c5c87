"""ABC queries: a whole tune, or a few bars typed from memory without a header.

A text with a ``K:`` field is read as a tune (its first tune when it holds several). A
text without one is a fragment: header fields written before its notes are respected, and
the defaults ``M:4/4``, ``L:1/8`` and ``K:C`` fill in the rest (a fragment's key only
spells its notes; matching does not depend on it). Faults become a
:class:`~folkclip.identify.errors.QueryError` naming the line and the reason.
"""

from __future__ import annotations

import re

import numpy as np

from folkclip.errors import FolkclipError
from folkclip.identify.errors import QueryError
from folkclip.identify.limits import MAX_QUERY_BYTES, MAX_QUERY_NOTES, MIN_QUERY_NOTES
from folkclip.identify.melody import tune_melody
from folkclip.identify.notes import QueryNotes

_FIELD_RE = re.compile(r"^([A-Za-z]):")
_WARN_LINE_RE = re.compile(r"^line (-?\d+): ")
_UNEXPECTED_RE = re.compile(r"unexpected character\(s\) '(.)'")
FRAGMENT_DEFAULTS = ("M:4/4", "L:1/8")
FRAGMENT_KEY = "K:C"


def read_abc_query(text: str, source: str = "<query>") -> QueryNotes:
    """Read an ABC query (a tune, or a fragment of a few bars) into notes.

    Args:
        text: The ABC text.
        source: Its name, for messages.

    Returns:
        The notes as played (repeats unfolded, onsets in quarter-note beats), with ``abc``
        set to a whole tune (the fragment given a header).

    Raises:
        QueryError: For empty or oversized text, faulty ABC (naming the line), or fewer
            than :data:`~folkclip.identify.limits.MIN_QUERY_NOTES` notes.
    """
    from folkclip.abc.parser import parse_tune, parse_tunebook

    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_QUERY_BYTES:
        raise QueryError(f"the query holds {size} bytes, past folkclip's limit of "
                         f"{MAX_QUERY_BYTES} (MAX_QUERY_BYTES)", source)
    if "\0" in text:
        raise QueryError("the query is not text (it holds NUL bytes)", source)
    if not text.strip():
        raise QueryError("the query is empty", source)
    lines = text.splitlines()
    if any(ln.startswith("K:") for ln in lines):
        tunes, problems = parse_tunebook(text, source)
        if not tunes:
            p = next((p for p in problems if p.severity == "error"), None)
            raise QueryError(p.reason if p else "no tune could be read", source,
                             p.line if p else None)
        tune, abc = tunes[0], tunes[0].abc
    else:
        head = 0
        while head < len(lines) and (_FIELD_RE.match(lines[head]) or not lines[head].strip()
                                     or lines[head].startswith("%")):
            head += 1
        prefix = list(FRAGMENT_DEFAULTS)
        full = prefix + lines[:head] + [FRAGMENT_KEY] + lines[head:]
        try:
            tune = parse_tune(full, source, first_line=1 - len(prefix))
        except FolkclipError as err:
            line = getattr(err, "line", None)
            raise QueryError(getattr(err, "reason", str(err)), source,
                             _user_line(line, head)) from None
        if tune.warnings:  # a fragment is a few bars: anything read past is a typing slip
            raise _fragment_fault(tune.warnings[0], lines, head, source)
        abc = "\n".join(["X:1", *full])
    try:
        melody = tune_melody(tune, MAX_QUERY_NOTES)
    except FolkclipError as err:
        raise QueryError(str(err), source) from None
    if len(melody.midi_pitch) < MIN_QUERY_NOTES:
        raise QueryError(f"the query holds {len(melody.midi_pitch)} note(s); identification "
                         f"needs at least {MIN_QUERY_NOTES} (MIN_QUERY_NOTES)", source)
    return melody.to_query(source, abc)


def _fragment_fault(warning: str, lines: list[str], head: int, source: str) -> QueryError:
    """The error for a fragment's first warning, naming its line (and column, for an
    unexpected character, which the reader reports without one)."""
    m = _WARN_LINE_RE.match(warning)
    if m:
        return QueryError(warning[m.end():], source, _user_line(int(m.group(1)), head))
    c = _UNEXPECTED_RE.search(warning)
    if c:
        ch = c.group(1)
        for i, line in enumerate(lines[head:], head + 1):
            col = line.find(ch)
            if col >= 0:
                return QueryError(f"{warning} (column {col + 1})", source, i)
    return QueryError(warning, source)


def _user_line(line: int | None, head: int) -> int | None:
    """A line of the fragment given a header, as a line of the text the user wrote (the
    ``K:`` inserted after the user's ``head`` header lines shifts the body by one)."""
    if line is None:
        return None
    return line - 1 if line > head + 1 else max(line, 1)


_NAMES = ("C", "^C", "D", "^D", "E", "F", "^F", "G", "^G", "A", "^A", "B")
_NATURAL = {"C", "D", "E", "F", "G", "A", "B"}
UNITS_PER_BAR = 8  # eighth notes per bar of M:4/4 in notes_to_abc
MAX_NOTE_UNITS = 8  # longest note notes_to_abc writes, in eighths


def notes_to_abc(notes: QueryNotes) -> str:
    """A plain ABC tune of a note sequence (for the title suggestions of a MIDI or audio
    query): ``K:C``, ``L:1/8``, the median inter-onset interval as an eighth note, every
    note with an explicit accidental, a bar line every :data:`UNITS_PER_BAR` eighths."""
    pitch = np.rint(np.asarray(notes.midi_pitch, np.float64)).astype(int)
    ioi = notes.inter_onset()
    unit = float(np.median(ioi)) if len(ioi) else 1.0
    body: list[str] = []
    filled = 0
    for p, d in zip(pitch.tolist(), ioi.tolist()):
        n = int(min(max(round(d / unit), 1), MAX_NOTE_UNITS))
        name = _NAMES[p % 12]
        letter = name[-1]
        octave = p // 12 - 5  # 0: C..B from middle C
        if name in _NATURAL:
            name = "=" + name
        if octave >= 1:
            name = name[:-1] + letter.lower() + "'" * (octave - 1)
        else:
            name = name + "," * (-octave)
        body.append(name + (str(n) if n > 1 else ""))
        filled += n
        if filled >= UNITS_PER_BAR:
            body.append("|")
            filled = 0
    return "\n".join(["X:1", "T:", "M:4/4", "L:1/8", "K:C", " ".join(body)])
