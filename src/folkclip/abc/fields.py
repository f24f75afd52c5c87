"""Parsing of the ABC header fields that shape the notes: key (``K:``), meter (``M:``)
and unit note length (``L:``).

Durations are exact integers in *ticks*; :data:`WHOLE` ticks make a whole note, a
number divisible by every tuplet and dotting factor that occurs in practice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from folkclip.abc.limits import (
    MAX_LENGTH_CHARS,
    MAX_METER_DENOMINATOR,
    MAX_METER_NUMERATOR,
    MAX_UNIT_DENOMINATOR,
    MAX_UNIT_WHOLES,
    check_number,
    exceeded,
)
from folkclip.errors import AbcSyntaxError, FolkclipError

WHOLE = 2**8 * 3**2 * 5 * 7  # ticks in a whole note (80640)

LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_MAJOR_FIFTHS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F": -1}
# Mode name (first three letters) -> (canonical name, fifths relative to major).
MODES = {
    "maj": ("major", 0), "ion": ("major", 0), "": ("major", 0),
    "min": ("minor", -3), "m": ("minor", -3), "aeo": ("minor", -3),
    "mix": ("mixolydian", -1), "dor": ("dorian", -2), "phr": ("phrygian", -4),
    "lyd": ("lydian", 1), "loc": ("locrian", -5),
}
_SHARP_ORDER = "FCGDAEB"
_KEY_RE = re.compile(r"^\s*([A-Ga-g])([#b♯♭]?)\s*([A-Za-z]*)")
_EXPLICIT_RE = re.compile(r"(\^\^|\^|__|_|=)([A-Ga-g])")
_KEY_WORDS = {"clef", "middle", "transpose", "stafflines", "octave"}


@dataclass(frozen=True, slots=True)
class Key:
    """A key signature.

    Attributes:
        tonic: Tonic name as written, e.g. ``"F#"`` (``"C"`` for ``K:none``).
        tonic_pc: Tonic pitch class, 0 = C.
        mode: Canonical mode name (``major``, ``minor``, ``dorian``, ...).
        accidentals: Alteration in semitones per note letter, e.g. ``{"F": 1}``.
    """

    tonic: str
    tonic_pc: int
    mode: str
    accidentals: dict[str, int]

    @property
    def name(self) -> str:
        return f"{self.tonic}{'' if self.mode == 'major' else ' ' + self.mode}"


def parse_key(value: str) -> Key:
    """Parse the value of a ``K:`` field.

    Accepts ``G``, ``Gm``, ``Ador``, ``E Minor``, ``C Major``, ``F#mix``, ``Bb``,
    ``none``, ``HP``/``Hp`` (Highland pipes), extra explicit accidentals
    (``D exp ^c``, ``D ^c``) and trailing clef/transpose settings.

    Raises:
        FolkclipError: When the value is not a key.
    """
    text = value.split("%", 1)[0].strip()
    if text in ("", "none", "None", "NONE") or text.startswith(("clef=", "none ")):
        return Key("C", 0, "major", {})
    if text in ("HP", "Hp"):
        # Highland pipes: both play F# and C# (HP only hides the signature when printed).
        return Key("A", 9, "mixolydian", {"F": 1, "C": 1, "G": 0})
    m = _KEY_RE.match(text)
    if not m:
        if _EXPLICIT_RE.match(text.lstrip()):  # K:^f ^c  (accidentals only)
            return Key("C", 0, "major", _explicit(text, {}))
        raise FolkclipError(f"cannot read key {value!r}")
    letter, acc, mode_word = m.group(1).upper(), m.group(2), m.group(3).lower()
    explicit_only = mode_word.startswith("exp") or " exp" in text[m.end():]
    if mode_word in _KEY_WORDS or mode_word.startswith(("clef", "exp")):
        mode_word = ""
    mode_key = mode_word[:3] if mode_word not in ("m",) else "m"
    if mode_key not in MODES:
        raise FolkclipError(f"unknown mode {mode_word!r} in key {value!r}")
    mode, offset = MODES[mode_key]
    sharp = 1 if acc in ("#", "♯") else -1 if acc in ("b", "♭") else 0
    fifths = _MAJOR_FIFTHS[letter] + 7 * sharp + offset
    accidentals: dict[str, int] = {}
    if fifths > 0:
        for i in range(min(fifths, 7)):
            accidentals[_SHARP_ORDER[i]] = 1
        for i in range(fifths - 7):  # double sharps for very sharp keys
            accidentals[_SHARP_ORDER[i]] = 2
    elif fifths < 0:
        for i in range(min(-fifths, 7)):
            accidentals[_SHARP_ORDER[6 - i]] = -1
        for i in range(-fifths - 7):
            accidentals[_SHARP_ORDER[6 - i]] = -2
    rest = text[m.end():]
    accidentals = _explicit(rest, {} if explicit_only else accidentals)
    tonic = letter + ("#" if sharp > 0 else "b" if sharp < 0 else "")
    return Key(tonic, (LETTER_PC[letter] + sharp) % 12, mode, accidentals)


def _explicit(text: str, accidentals: dict[str, int]) -> dict[str, int]:
    out = dict(accidentals)
    for acc, letter in _EXPLICIT_RE.findall(text):
        out[letter.upper()] = {"^^": 2, "^": 1, "__": -2, "_": -1, "=": 0}[acc]
    return out


def parse_meter(value: str) -> tuple[int, int] | None:
    """Parse an ``M:`` value into (numerator, denominator); ``None`` for free meter.

    ``C`` is 4/4, ``C|`` is 2/2 and additive numerators such as ``2+3/8`` are summed.

    Raises:
        FolkclipError: When the value is not a meter.
    """
    text = " ".join(value.split("%", 1)[0].split())  # one space at most: no backtracking
    if text in ("C", "c"):
        return (4, 4)
    if text in ("C|", "c|"):
        return (2, 2)
    if text.lower() in ("none", ""):
        return None
    m = re.match(r"^\(?([\d+ ]+)\)?\s*/\s*(\d+)", text)
    if not m:
        raise FolkclipError(f"cannot read meter {value!r}")
    parts = m.group(1).replace(" ", "").split("+")
    if not all(parts):
        raise FolkclipError(f"cannot read meter {value!r}")
    num = sum(check_number(p, "meter numerator") for p in parts)
    den = check_number(m.group(2), "meter denominator")
    if num <= 0 or den <= 0:
        raise FolkclipError(f"cannot read meter {value!r}")
    if num > MAX_METER_NUMERATOR:
        raise exceeded("meter numerator", num, MAX_METER_NUMERATOR, "MAX_METER_NUMERATOR")
    if den > MAX_METER_DENOMINATOR:
        raise exceeded("meter denominator", den, MAX_METER_DENOMINATOR,
                       "MAX_METER_DENOMINATOR")
    return (num, den)


def parse_unit(value: str) -> int:
    """Parse an ``L:`` value into ticks (``1/8`` -> ``WHOLE // 8``).

    Raises:
        FolkclipError: When the value is not a note length.
    """
    text = value.split("%", 1)[0].strip()
    m = re.match(r"^(\d+)\s*(?:/\s*(\d+))?$", text)
    if not m:
        raise FolkclipError(f"cannot read unit note length {value!r}")
    num = check_number(m.group(1), "unit length numerator")
    den = check_number(m.group(2) or "1", "unit length denominator")
    if num <= 0 or den <= 0 or (WHOLE * num) % den:
        raise FolkclipError(f"unsupported unit note length {value!r}")
    if den > MAX_UNIT_DENOMINATOR:
        raise exceeded("unit length denominator", den, MAX_UNIT_DENOMINATOR,
                       "MAX_UNIT_DENOMINATOR")
    if num > MAX_UNIT_WHOLES * den:
        raise exceeded("unit length", value.strip(), MAX_UNIT_WHOLES, "MAX_UNIT_WHOLES")
    return WHOLE * num // den


def default_unit(meter: tuple[int, int] | None) -> int:
    """The ABC standard's default unit length: 1/16 below 3/4, else 1/8."""
    if meter is not None and Fraction(*meter) < Fraction(3, 4):
        return WHOLE // 16
    return WHOLE // 8


def bar_length(meter: tuple[int, int] | None) -> int | None:
    """Ticks in a full bar of ``meter`` (``None`` for free meter)."""
    return None if meter is None else WHOLE * meter[0] // meter[1]


def beat_length(meter: tuple[int, int] | None) -> int:
    """Ticks in one beat: dotted quarter in compound meters (6/8, 9/8, 12/8), else 1/den.

    Raises:
        FolkclipError: For a meter whose denominator is past
            :data:`~folkclip.abc.limits.MAX_METER_DENOMINATOR` (its beat would be 0 ticks).
    """
    if meter is None:
        return WHOLE // 4
    num, den = meter
    if not 0 < den <= MAX_METER_DENOMINATOR:
        raise FolkclipError(f"meter {num}/{den}: denominator outside 1..{MAX_METER_DENOMINATOR}")
    if den == 8 and num % 3 == 0 and num > 3:
        return 3 * WHOLE // 8
    return WHOLE // den


def parse_length(text: str) -> tuple[int, int]:
    """Length multiplier as (numerator, denominator): ``"3/2"`` -> (3, 2), ``"/"`` -> (1, 2).

    Raises:
        AbcSyntaxError: For a length longer than
            :data:`~folkclip.abc.limits.MAX_LENGTH_CHARS` or a zero denominator (``/0``).
    """
    if not text:
        return 1, 1
    if len(text) > MAX_LENGTH_CHARS:
        raise exceeded("note length", f"of {len(text)} characters", MAX_LENGTH_CHARS,
                       "MAX_LENGTH_CHARS")
    slash = text.find("/")
    if slash < 0:
        return int(text), 1
    num = int(text[:slash]) if slash else 1
    after = text[slash:].lstrip("/")
    n_slash = len(text) - slash - len(after)
    den = int(after) * 2 ** (n_slash - 1) if after else 2**n_slash
    if not den:
        raise AbcSyntaxError(f"note length {text!r} divides by zero")
    return num, den
