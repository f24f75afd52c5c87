"""The text of token fields that the tokenizer writes for every note: durations and
positions as fractions of a beat, and pitch names (``p62``, degree, octave) per tonic, each
from a bounded table filled as they are met (the tokenizer's hot path)."""

from __future__ import annotations

from fractions import Fraction

from folkclip.abc.limits import MAX_PITCH, MIN_PITCH
from folkclip.abc.pitches import kept_table

NONE = "-"  # the value of a field an event does not have

_FRAC_CACHE: dict[tuple[int, int], str] = {}
FRAC_CACHE_SIZE = 100_000
_FRAC_TABLES: dict[int, dict[int, str]] = {}  # per beat: ticks -> fraction string
_FRAC_TABLES_KEPT = 64  # beats remembered (a tune has one or two)
# Pitch tokens by MIDI number: the reader's range plus any transposition shift (-5..+6).
PITCH_TOKENS = {p: f"p{p}" for p in range(MIN_PITCH - 12, MAX_PITCH + 13)}
SMALL = [str(i) for i in range(256)]
_PITCH_NAMES_CACHE: dict[tuple[int, bool], dict[int, tuple[str, str, str]]] = {}


def frac(ticks: int, beat: int) -> str:
    """``ticks / beat`` as a fraction string, at most 48ths (memoised: it is hot)."""
    key = (ticks, beat)
    text = _FRAC_CACHE.get(key)
    if text is None:
        f = Fraction(ticks, beat)
        if f.denominator > 48:
            f = f.limit_denominator(48)
        if len(_FRAC_CACHE) > FRAC_CACHE_SIZE:
            _FRAC_CACHE.clear()  # bounded: odd lengths from odd input must not pile up
        text = _FRAC_CACHE[key] = str(f)
    return text


def beat_fractions(beat: int) -> dict[int, str]:
    """The fraction strings of ``ticks / beat`` found so far, by ticks (for :func:`frac_into`)."""
    return kept_table(_FRAC_TABLES, beat, _FRAC_TABLES_KEPT)


def frac_into(table: dict[int, str], ticks: int, beat: int) -> str:
    """:func:`frac`, remembered in ``table`` (the table of ``beat``; bounded)."""
    if len(table) > FRAC_CACHE_SIZE:
        table.clear()  # odd lengths from odd input must not pile up
    text = table[ticks] = frac(ticks, beat)
    return text


def pitch_names(tonic: int, no_octave: bool) -> dict[int, tuple[str, str, str]]:
    """Per (transposed) MIDI pitch: its ``token``, ``degree`` and ``octave`` fields above
    ``tonic`` (with the octave removed: the pitch moved into the octave above middle C)."""
    names = _PITCH_NAMES_CACHE.get((tonic, no_octave))
    if names is None:
        names = _PITCH_NAMES_CACHE[(tonic, no_octave)] = {}
        for p in range(MIN_PITCH - 12, MAX_PITCH + 13):
            degree = (p - tonic) % 12
            names[p] = ((PITCH_TOKENS[60 + degree + tonic], SMALL[degree], NONE) if no_octave
                        else (PITCH_TOKENS[p], SMALL[degree], str(p // 12 - 1)))
    return names
