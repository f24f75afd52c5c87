"""The symbols of an ABC tune body: the one regular expression that tokenizes a body line
(a named group per symbol), the smaller patterns and tables the scanner
(:mod:`folkclip.abc.body`) uses, and the reading of a bar-line symbol."""

from __future__ import annotations

import re
from functools import lru_cache

# A length is written ``\d*(?:/+\d*)?`` (the same strings as ``\d*/*\d*``) so that a digit
# run can be split one way only: with two ``\d*`` an unclosed chord ``[A999A999...``
# backtracked through every split, in time exponential in its notes.
NOTE_PATTERN = r"(?:\^\^|\^|__|_|=)?[A-Ga-g][,']*\d*(?:/+\d*)?"
# Spaces and slurs mean nothing to the scanner: every symbol takes those after it along
# (possessively: it never gives them back), so the scan makes one step per symbol, not
# three. A "(" before a digit opens a tuplet and is not taken.
_IGNORED_AFTER = r"(?:[ \t`y$*)]|\((?!\d))*+"
TOKEN_RE = re.compile(
    r"(?:(?P<note>(?P<acc>\^\^|\^|__|_|=)?(?P<name>[A-Ga-g][,']*)(?P<len>\d*/*\d*))"
    r"|(?P<space>[ \t`y$*]+)"
    r"|(?P<comment>%.*)"
    r"|(?P<field>\[[A-Za-z]:[^\]]*\])"
    r"|(?P<bar>(?:\.?:*(?:\[\||\|+\]?)|::|:\|\]|\|\]):*(?:\s*\[?\d+(?:[,-]\d+)*(?![\d/]))?)"
    r"|(?P<ending>\[\d+(?:[,-]\d+)*)"
    r"|(?P<chordsym>\"[^\"]*\")"
    r"|(?P<deco>![^!\n]*!|\+[^+\s]*\+|[.~HLMOPSTuvJR])"
    r"|(?P<grace>\{[^}]*\})"
    r"|(?P<tuplet>\(\d(?::\d*)?(?::\d*)?)"
    r"|(?P<slur>[()])"
    r"|(?P<chord>\[(?:" + NOTE_PATTERN + r"-?\s*)+\](?P<clen>\d*/*\d*))"
    r"|(?P<rest>[zx](?P<rlen>\d*/*\d*))"
    r"|(?P<mrest>[ZX](?P<mlen>\d*))"
    r"|(?P<tie>-)"
    r"|(?P<broken>[<>]{1,3})"
    r"|(?P<overlay>&)"
    r"|(?P<other>[\s\S]))"  # any other character: counted as unexpected
    + _IGNORED_AFTER
)
NOTE_GROUPS = (2, 3, 4)
"""Numbers of the note's ``acc``, ``name`` and ``len`` groups in :data:`TOKEN_RE` (read by
number on the hot path)."""
INNER_NOTE_RE = re.compile(r"(\^\^|\^|__|_|=)?([A-Ga-g])([,']*)(\d*/*\d*)(-?)")
CHORD_SYMBOL_RE = re.compile(r"^\(?[A-G][b#♭♯]?[^ ]{0,10}$")
FIELD_LINE_RE = re.compile(r"^([A-Za-z]):(.*)$")
ACCIDENTALS = {"^": 1, "^^": 2, "_": -1, "__": -2, "=": 0}
TUPLET_Q = {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}
REPEATS = frozenset({"|:", ":|", "::"})
_BAR_ENDING_RE = re.compile(r"\[?(\d+(?:[,-]\d+)*)$")
BAR_KINDS_CACHED = 256  # bar-line spellings remembered (a few dozen occur; each is short)


@lru_cache(maxsize=BAR_KINDS_CACHED)  # the reader's hot path meets the same few spellings
def bar_kind(text: str) -> tuple[str, str]:
    """The kind of a bar-line symbol (``|``, ``||``, ``|]``, ``[|``, ``|:``, ``:|``, ``::``)
    and the ending number written with it (``:|2`` -> (``":|"``, ``"2"``)); dots and repeat
    colons are normalised (``:||:`` is ``::``)."""
    text = text.strip()
    ending = ""
    digits = _BAR_ENDING_RE.search(text)
    if digits:
        ending = digits.group(1)
        text = text[: digits.start()].rstrip()
    text = text.lstrip(".")
    if text.startswith(":") and text.endswith(":") and len(text) > 1:
        return "::", ending
    if text.startswith(":"):
        return ":|", ending
    if text.endswith(":"):
        return "|:", ending
    return (text if text in ("||", "|]", "[|") else "|"), ending


def name_key(name: str | None) -> tuple[str, int] | None:
    """Letter and octave of a note name as written (``"c'"`` -> (``"C"``, 84)): names that
    sound the same (``c`` and ``C'``) have the same key; ``None`` for ``None``."""
    if name is None:
        return None
    letter = name[0]
    return letter.upper(), (60 if letter < "a" else 72) + 12 * (name.count("'") - name.count(","))
