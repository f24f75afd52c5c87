"""Every bound folkclip's readers put on their input, named once, with its reason.

The readers check these where input enters (a file, a record, a tune, a line, a
number); a tune that goes past one becomes a :class:`~folkclip.errors.Problem`
naming the file, tune, line and the limit, never a crash, a hang or a memory blow-up.
The values sit far above anything in the built-in collections (measured on
``default`` and ``nottingham``: longest line 145 characters, longest tune 2,438
characters and 864 events, longest note 12 units, lowest/highest pitch MIDI 55/93,
largest multi-bar rest ``Z2``) so that no real tune is refused; they exist to bound
the work and memory that one absurd tune can cost.

Changing a value can change which tunes are read: bump
:data:`folkclip.abc.parser.READER_VERSION` with it so cached tokens are rebuilt.
"""

from __future__ import annotations

from folkclip.errors import AbcSyntaxError

# ----------------------------------------------------------------- numbers
MAX_NUMBER_DIGITS = 9
"""Digits in any number the reader turns into an int (note lengths, ``M:``, ``L:``,
multi-bar rests, tuplets, part repeats). Nine digits exceed every musical use and
stay far below Python's 4,300-digit int conversion limit (a ``ValueError``)."""

MAX_LENGTH_CHARS = 12
"""Characters in a note length such as ``3/2`` or ``//``: two numbers of a few digits
and a few slashes. Longer (``A/////////////``) is garbage, and each slash doubles
the denominator (``2**n``)."""

# ------------------------------------------------------------------ durations
MAX_NOTE_UNITS = 64
"""A note or rest may last at most 64 unit lengths (the longest real one is 12):
longer is a sign of garbage."""

MIN_NOTE_TICKS = 1
"""A note or rest lasts at least one tick (1/80,640 of a whole note); a zero length
(``A0``, ``A/0``, a broken rhythm on a one-tick note) is refused. Lengths that are
not whole ticks are rounded down (with a warning)."""

MAX_METER_NUMERATOR = 128
"""Largest ``M:`` numerator (after summing ``2+3+2``): longer bars are not meters."""

MAX_METER_DENOMINATOR = 64
"""Largest ``M:`` denominator: a beat shorter than a 64th note is not a beat, and
``M:4/99999`` would make a zero-tick beat that durations are divided by."""

MAX_UNIT_DENOMINATOR = 512
"""Largest ``L:`` denominator (``L:1/512``); ``L:`` must also divide the whole note
into whole ticks."""

MAX_UNIT_WHOLES = 4
"""Largest ``L:`` value in whole notes (``L:4``)."""

MAX_MULTI_REST_BARS = 1000
"""Largest multi-bar rest ``Z1000``: the rest is expanded bar by bar (two events per
bar), so ``Z999999999`` would cost unbounded time and memory."""

MAX_TUPLET = 64
"""Largest ``p``, ``q`` or ``r`` of a tuplet ``(p:q:r``."""

# ------------------------------------------------------------------- pitch
MIN_PITCH, MAX_PITCH = 0, 127
"""MIDI range a note must fall in after its octave marks (``C,,,,,,`` is below 0,
``c''''''`` above 127); the tokenizer's pitch tokens cover exactly this range
(plus the transposition shift)."""

# ------------------------------------------------------------------ sizes
MAX_FIELD_CHARS = 1000
"""Characters in the value of a field that shapes the notes (``K:``, ``M:``, ``L:``,
``P:``, also inline, and a Session ``mode``): such values are a few characters, and
the patterns that read them must not meet pages of text."""

MAX_LINE_CHARS = 20_000
"""Characters in one line of ABC (a Session body may be one long line). It bounds the
work of the body scanner on one line."""

MAX_TUNE_CHARS = 200_000
"""Characters in one tune's text (the longest real tune has 2,438)."""

MAX_EVENTS_PER_TUNE = 50_000
"""Body events (notes, rests, bar lines, changes) in one tune, in written order."""

MAX_WARNINGS_KEPT = 20
"""Warnings whose text is kept per tune; all warnings are counted
(``Tune.warning_count``), only the first ones are listed."""

MAX_RECORD_CHARS = 1_000_000
"""Characters in one JSON-lines record (one line of a ``.jsonl`` file)."""

MAX_CSV_FIELD_CHARS = 1_000_000
"""Characters in one CSV field (a Session ``abc`` field holds one tune: at most
:data:`MAX_TUNE_CHARS`, written with escapes). Python's ``csv`` default of 131,072 is
raised to this bound while a Session CSV is read; a field past it skips only its row,
with a problem naming the row."""

MAX_NUL_BYTE_SHARE = 0.05
"""Share of NUL bytes above which a file is binary, not text (refused with a problem).
Fewer NUL bytes are stray ones (a damaged copy, an editor's padding): they are
removed with a warning naming their number and first line, and the rest is read."""

MAX_JSON_DEPTH = 16
"""Nesting of arrays/objects in a JSON record (a record is flat, ``titles`` a list):
deeper nesting would make Python's JSON decoder recurse without need."""

MAX_FILE_BYTES = 1 << 30
"""Size of a file read whole into memory (``.abc`` tunebooks, Session ``tunes.json``)."""

# ----------------------------------------------------------------- repeats
MAX_UNFOLD_GROWTH = 64
"""Unfolding repeats and parts emits at most 64 times the written events."""

MAX_PART_ORDER = 256
"""Parts in an expanded header ``P:`` order (``P:(AB)2C`` is 5)."""

MAX_PART_NESTING = 8
"""Parentheses nested in a header ``P:`` order."""


def exceeded(what: str, value: object, limit: object, name: str,
             line: int | None = None) -> AbcSyntaxError:
    """The error for a value past a limit, naming the limit.

    Args:
        what: The thing measured, in words (``"multi-bar rest"``).
        value: Its value (or a short description such as ``"12,000 characters"``).
        limit: The limit's value.
        name: The limit's name in this module.
        line: The line in the source file, when known.

    Returns:
        An :class:`~folkclip.errors.AbcSyntaxError` to raise.
    """
    return AbcSyntaxError(f"{what} {value} is past folkclip's limit of {limit} ({name})", line)


def check_number(text: str, what: str, line: int | None = None) -> int:
    """``int(text)`` after checking it has at most :data:`MAX_NUMBER_DIGITS` digits.

    Raises:
        AbcSyntaxError: When the number is too long.
    """
    if len(text) > MAX_NUMBER_DIGITS:
        raise exceeded(what, f"with {len(text)} digits", MAX_NUMBER_DIGITS,
                       "MAX_NUMBER_DIGITS", line)
    return int(text)
