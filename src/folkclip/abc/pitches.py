"""The pitch and length arithmetic of the body scanner's notes.

:class:`NoteArithmetic` is a part of :class:`~folkclip.abc.body.BodyScanner`, which holds
the state it reads and writes: the key signature and the bar's accidentals, the unit
length, a running tuplet or broken rhythm, the last note (a tie carries its pitch), and the
tables that make a plain note two look-ups (a pitch per name under the key and the bar's
accidentals, ticks per written length under the unit).
"""

from __future__ import annotations

from folkclip.abc.fields import LETTER_PC, parse_length
from folkclip.abc.limits import MAX_NOTE_UNITS, MAX_PITCH, MIN_NOTE_TICKS, MIN_PITCH
from folkclip.abc.model import Note
from folkclip.abc.symbols import ACCIDENTALS, name_key
from folkclip.errors import AbcSyntaxError

# The plain notes' pitches per key signature and lengths' ticks per unit, shared by the
# scanners of a process (a few dozen signatures and units occur; the tables are bounded).
_KEY_PITCHES: dict[tuple[tuple[str, int], ...], dict[str, int]] = {}
_UNIT_TICKS: dict[int, dict[str, int]] = {}
_TABLES_KEPT = 256  # signatures (and units) remembered; past it the tables start afresh
CACHED_CHARS = 4  # names and lengths remembered (``c''``, ``3/2``; longer ones are rare)


def kept_table(tables: dict, key: object, kept: int = _TABLES_KEPT) -> dict:
    """The table ``tables`` keeps for ``key`` (filled by its user), made empty if new;
    past ``kept`` tables they start afresh (odd input must not pile them up)."""
    table = tables.get(key)
    if table is None:
        if len(tables) >= kept:
            tables.clear()
        table = tables[key] = {}
    return table


def key_pitches(key_acc: dict[str, int]) -> dict[str, int]:
    """The table of plain-note pitches for a key signature."""
    return kept_table(_KEY_PITCHES, tuple(sorted(key_acc.items())))


def unit_ticks(unit: int) -> dict[str, int]:
    """The table of written lengths' ticks for a unit length."""
    return kept_table(_UNIT_TICKS, unit)


class NoteArithmetic:
    """Pitches and lengths of notes, for :class:`~folkclip.abc.body.BodyScanner`."""

    key_acc: dict[str, int]
    bar_acc: dict[str, int]
    unit: int
    tuplet_left: int
    tuplet_num: int
    tuplet_den: int
    broken_next: tuple[int, int] | None
    last: Note | None
    last_name: str | None
    _pcache: dict[str, int]
    _lcache: dict[str, int]

    def _warn(self, text: str) -> None:  # the scanner's
        raise NotImplementedError

    def _plain_pitch(self, name: str, lineno: int) -> int:
        """Pitch of a note name without accidental under the key and the bar's accidentals,
        remembered until they change."""
        upper, octave, octs = _name_octave(name)
        alter = self.bar_acc.get(upper)
        pitch = octave + LETTER_PC[upper] + (
            self.key_acc.get(upper, 0) if alter is None else alter)
        if octs and not MIN_PITCH <= pitch <= MAX_PITCH:
            raise _pitch_error(pitch, lineno)
        if len(name) <= CACHED_CHARS:
            self._pcache[name] = pitch
        return pitch

    def _marked_pitch(self, acc: str | None, name: str, lineno: int) -> int:
        """Pitch of a note with an accidental (which then holds for the bar), or of a note
        after a tie (which keeps the tied note's pitch when it names the same note)."""
        upper, octave, octs = _name_octave(name)
        last = self.last
        if acc:
            alter = ACCIDENTALS[acc]
            self.bar_acc[upper] = alter
            self._pcache = {}
            pitch = octave + LETTER_PC[upper] + alter
        elif last is not None and last.tie and last.pitch and \
                name_key(self.last_name) == (upper, octave):
            pitch = last.pitch  # a tie carries the accidental over the bar line
        else:
            alter = self.bar_acc.get(upper)
            pitch = octave + LETTER_PC[upper] + (
                self.key_acc.get(upper, 0) if alter is None else alter)
        if octs and not MIN_PITCH <= pitch <= MAX_PITCH:
            raise _pitch_error(pitch, lineno)
        return pitch

    def _plain_length(self, length: str, lineno: int) -> int:
        """Ticks of a written length outside tuplets and broken rhythm, remembered until the
        unit changes when they are whole ticks (a rounded one warns each time)."""
        num, den = parse_length(length)
        ticks = self._duration(num, den, lineno)
        if not (num * self.unit) % den and len(length) <= CACHED_CHARS:
            self._lcache[length] = ticks
        return ticks

    def _duration(self, num: int, den: int, lineno: int) -> int:
        num *= self.unit
        if self.tuplet_left:
            num *= self.tuplet_num
            den *= self.tuplet_den
            self.tuplet_left -= 1
        if self.broken_next is not None:
            num *= self.broken_next[0]
            den *= self.broken_next[1]
            self.broken_next = None
        if num % den:
            self._warn(f"line {lineno}: duration rounded")
        ticks = num // den
        if ticks < MIN_NOTE_TICKS or ticks > MAX_NOTE_UNITS * self.unit:
            raise AbcSyntaxError(f"impossible note length ({num}/{den} ticks; a note lasts "
                                 f"{MIN_NOTE_TICKS} tick to {MAX_NOTE_UNITS} units)", lineno)
        return ticks

    def _pitch(self, acc: str | None, letter: str, octs: str) -> int:
        upper = letter.upper()
        octave = 60 if letter.isupper() else 72
        if octs:
            octave += 12 * (octs.count("'") - octs.count(","))
        if acc is not None:
            alter = ACCIDENTALS[acc]
            self.bar_acc[upper] = alter
            self._pcache = {}
        elif (self.last is not None and self.last.tie and self.last.pitch is not None
              and name_key(self.last_name) == (upper, octave)):
            return self.last.pitch  # a tie carries the accidental over the bar line
        else:
            alter = self.bar_acc.get(upper)
            if alter is None:
                alter = self.key_acc.get(upper, 0)
        pitch = octave + LETTER_PC[upper] + alter
        if not MIN_PITCH <= pitch <= MAX_PITCH:
            raise _pitch_error(pitch, None)
        return pitch


def _name_octave(name: str) -> tuple[str, int, bool]:
    """``(upper-case letter, MIDI pitch of the C below it, whether octave marks follow)`` of
    a note name such as ``c''`` or ``B,``."""
    letter = name[0]
    octave = 60 if letter < "a" else 72
    octs = len(name) > 1
    if octs:
        octave += 12 * (name.count("'") - name.count(","))
    return letter.upper(), octave, octs


def _pitch_error(pitch: int, lineno: int | None) -> AbcSyntaxError:
    return AbcSyntaxError(f"pitch {pitch} (MIDI) outside {MIN_PITCH}..{MAX_PITCH}: too many "
                          "octave marks", lineno)
