"""Scanning of an ABC tune body into :class:`~folkclip.abc.model.Note`, ``Bar`` and
``Change`` events.

One compiled regular expression with a named group per symbol drives the scan;
the scanner keeps the state that ABC makes implicit: key signature and bar
accidentals, unit length, tuplets, broken rhythm, ties, pending decorations,
chord symbols and grace notes, bar index and position in the bar, and the voice.
"""

from __future__ import annotations

import re

from folkclip.abc.fields import (
    WHOLE,
    Key,
    bar_length,
    default_unit,
    parse_key,
    parse_length,
    parse_meter,
    parse_unit,
)
from folkclip.abc.limits import (
    MAX_EVENTS_PER_TUNE,
    MAX_FIELD_CHARS,
    MAX_LINE_CHARS,
    MAX_MULTI_REST_BARS,
    MAX_TUPLET,
    MAX_WARNINGS_KEPT,
    MIN_NOTE_TICKS,
    check_number,
    exceeded,
)
from folkclip.abc.model import Bar, Change, Event, Note
from folkclip.abc.pitches import NoteArithmetic, key_pitches, unit_ticks
from folkclip.abc.symbols import (
    CHORD_SYMBOL_RE,
    FIELD_LINE_RE,
    INNER_NOTE_RE,
    REPEATS,
    TOKEN_RE,
    TUPLET_Q,
    bar_kind,
)
from folkclip.errors import AbcSyntaxError, FolkclipError

_finditer = TOKEN_RE.finditer
class BodyScanner(NoteArithmetic):
    """Turns body lines into events. Feed lines with :meth:`feed`, then call :meth:`finish`.

    Args:
        key: Header key.
        meter: Header meter (``None`` for free meter).
        unit: Header unit length in ticks.
        first_voice: The first ``V:`` id of the header, if any; only that voice is kept.
    """

    def __init__(self, key: Key, meter: tuple[int, int] | None, unit: int,
                 first_voice: str | None = None) -> None:
        self.key_acc = key.accidentals
        self.meter = meter
        self.unit = unit
        self.events: list[Event] = []
        self.warnings: list[str] = []  # the first MAX_WARNINGS_KEPT
        self.warning_count = 0
        self.n_notes = 0
        self.voice = first_voice.split()[0] if first_voice and first_voice.split() else None
        self.in_voice = True
        # Accidentals written earlier in the bar, per letter: they apply to every octave of
        # that letter until the bar line (ABC 2.1's default, and what abc2midi plays).
        self.bar_acc: dict[str, int] = {}
        self.bar = 0
        self.onset = 0
        self.bar_has_music = False
        self.decos: list[str] = []
        self.chord_symbol: str | None = None
        self.grace: tuple[int, ...] = ()
        self.tuplet_left = 0
        self.tuplet_num = self.tuplet_den = 1
        self.broken_next: tuple[int, int] | None = None
        self.last: Note | None = None
        self.last_name: str | None = None  # the last note's name as written (``c'``)
        self._unknown: dict[str, int] = {}
        self._unknown_total = 0
        self._voice_warned = False
        # What makes a plain note cheap: its pitch per name under the key alone (``_kcache``)
        # and under the key and the bar's accidentals (``_pcache``, the same dict while the
        # bar has none), its ticks per written length under the unit (``_lcache``), and
        # flags for a tie before it and for decorations, chord symbols or grace notes
        # waiting for it.
        self._kcache = key_pitches(self.key_acc)
        self._pcache = self._kcache
        self._lcache = unit_ticks(unit)
        self._tied = False
        self._pending = False

    # ------------------------------------------------------------------ lines
    def feed(self, line: str, lineno: int) -> None:
        """Scan one body line (comments, field lines and continuations included)."""
        if not line or line[0] == "%":
            return
        m = FIELD_LINE_RE.match(line)
        if m and (len(line) < 3 or line[2] != "|"):
            self._field(m.group(1), m.group(2).split("%", 1)[0].strip(), lineno)
            return
        if not self.in_voice:
            return
        if len(line) > MAX_LINE_CHARS:
            raise exceeded("line of", f"{len(line)} characters", MAX_LINE_CHARS,
                           "MAX_LINE_CHARS", lineno)
        try:
            self._scan(line, lineno)
        except AbcSyntaxError as err:
            if err.line is None:  # from a helper that does not know the line
                raise AbcSyntaxError(err.reason, lineno) from None
            raise
        if len(self.events) > MAX_EVENTS_PER_TUNE:
            raise exceeded("tune of", f"more than {len(self.events) - 1} events",
                           MAX_EVENTS_PER_TUNE, "MAX_EVENTS_PER_TUNE", lineno)

    def finish(self) -> list[Event]:
        """Close the scan and return the events."""
        for ch, count in self._unknown.items():
            self._warn(f"ignored {count} unexpected character(s) {ch!r}")
        return self.events

    def _warn(self, text: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_WARNINGS_KEPT:
            self.warnings.append(text)

    # ----------------------------------------------------------------- fields
    def _field(self, name: str, value: str, lineno: int) -> None:
        if name == "V":
            vid = value.split()[0] if value.split() else ""
            if self.voice is None:
                self.voice = vid
            self.in_voice = vid == self.voice
            if not self.in_voice and not self._voice_warned:
                self._voice_warned = True
                self._warn(f"several voices: kept voice {self.voice!r} only")
            return
        if not self.in_voice:
            return
        if len(value) > MAX_FIELD_CHARS:
            raise exceeded("field value of", f"{len(value)} characters", MAX_FIELD_CHARS,
                           "MAX_FIELD_CHARS", lineno)
        try:
            if name == "K":
                key = parse_key(value)
                self.key_acc = key.accidentals
                self.bar_acc = {}
                self._kcache = self._pcache = key_pitches(self.key_acc)
                self.events.append(Change("K", key, value))
            elif name == "M":
                self.meter = parse_meter(value)
                self.events.append(Change("M", self.meter, value))
            elif name == "L":
                self.unit = parse_unit(value) if value else default_unit(self.meter)
                self._lcache = unit_ticks(self.unit)
                self.events.append(Change("L", self.unit, value))
            elif name == "P":
                self.events.append(Change("P", value, value))
        except FolkclipError as err:
            raise AbcSyntaxError(str(err), lineno) from None

    # ------------------------------------------------------------------- scan
    def _scan(self, line: str, lineno: int) -> None:
        """Scan one body line: one loop dispatching on the token regex's named groups, kept
        whole on purpose (the reader's hot path; the branches share the scanner state).

        A plain note (no accidental, no tie before it, no tuplet or broken rhythm) costs a
        match, two dictionary look-ups (its pitch and length under the current key, bar
        accidentals and unit) and a :class:`Note`; everything else goes to a helper."""
        events_append = self.events.append
        for m in _finditer(line):
            kind = m.lastgroup
            if kind == "note":
                acc, name, length = m.group(2, 3, 4)  # NOTE_GROUPS
                if acc or self._tied:
                    pitch = self._marked_pitch(acc, name, lineno)
                else:
                    pitch = self._pcache.get(name)
                    if pitch is None:
                        pitch = self._plain_pitch(name, lineno)
                self.last_name = name
                if self.tuplet_left or self.broken_next is not None:
                    num, den = parse_length(length)
                    duration = self._duration(num, den, lineno)
                elif length:
                    duration = self._lcache.get(length)
                    if duration is None:
                        duration = self._plain_length(length, lineno)
                else:
                    duration = self.unit
                if self._pending:
                    note = Note(pitch, duration, self.bar, self.onset, False,
                                tuple(self.decos) if self.decos else (), self.chord_symbol,
                                self.grace, (), lineno)
                    if self.decos:
                        self.decos = []
                    self.chord_symbol = None
                    self.grace = ()
                    self._pending = False
                else:
                    note = Note(pitch, duration, self.bar, self.onset, False, (), None, (), (),
                                lineno)
                self.onset += duration
                self.bar_has_music = True
                events_append(note)
                self.last = note
                self._tied = False
                self.n_notes += 1
            elif kind == "bar":
                self._bar(m.group("bar"))
            elif kind == "broken":
                self._broken(m.group("broken"))
            elif kind == "space" or kind == "slur" or kind == "comment":
                continue
            elif kind == "deco":
                text = m.group("deco")
                self.decos.append(text[1:-1] if len(text) > 1 else text)
                self._pending = True
            elif kind == "tuplet":
                self._tuplet(m.group("tuplet"))
            elif kind == "chordsym":
                text = m.group("chordsym")[1:-1]
                if CHORD_SYMBOL_RE.match(text):
                    self.chord_symbol = text
                    self._pending = True
            elif kind == "grace":
                self.grace = self._grace(m.group("grace")[1:-1])
                self._pending = True
            elif kind == "other":
                ch = m.group("other")
                if ch == "\\" and not line[m.end("other"):].strip(" \t"):
                    return  # line continuation
                if ch not in "\\\r":
                    self._unknown[ch] = self._unknown.get(ch, 0) + 1
                    self._unknown_total += 1
                    if self._unknown_total > max(40, self.n_notes):
                        raise AbcSyntaxError(
                            f"too many unexpected characters ({ch!r} ...): not ABC music",
                            lineno)
            elif kind == "rest":
                self._rest(m.group("rlen"), lineno)
            elif kind == "tie":
                if self.last is not None:
                    self.last.tie = True
                    self._tied = True
            elif kind == "chord":
                self._chord(m, lineno)
            elif kind == "field":
                text = m.group("field")[1:-1]
                self._field(text[0], text[2:].strip(), lineno)
                if not self.in_voice:
                    return
            elif kind == "ending":
                self._ending(m.group("ending")[1:])
            elif kind == "mrest":
                self._multi_rest(m.group("mlen"), lineno)
            elif kind == "overlay":
                self._warn("voice overlay '&' found: kept the first line of music only")
                return

    def _emit(self, pitch: int | None, duration: int, lineno: int,
              chord: tuple[int, ...] = ()) -> None:
        note = Note(pitch, duration, self.bar, self.onset, False, tuple(self.decos),
                    self.chord_symbol, self.grace, chord, lineno)
        if self.decos:
            self.decos = []
        self.chord_symbol = None
        self.grace = ()
        self._pending = False
        self.onset += duration
        self.bar_has_music = True
        self.events.append(note)
        self.last = note
        self._tied = False
        if pitch is not None:
            self.n_notes += 1

    def _chord(self, m: re.Match[str], lineno: int) -> None:
        text = m.group("chord")
        inner = text[1:text.rindex("]")]
        pitches = []
        first_len = (1, 1)
        tie = False
        for i, (acc, letter, octs, length, dash) in enumerate(INNER_NOTE_RE.findall(inner)):
            pitches.append(self._pitch(acc or None, letter, octs))
            if i == 0:
                first_len = parse_length(length)
            tie = tie or bool(dash)
        cnum, cden = parse_length(m.group("clen"))
        duration = self._duration(first_len[0] * cnum, first_len[1] * cden, lineno)
        chord = tuple(sorted(set(pitches)))
        self._emit(chord[-1], duration, lineno, chord if len(chord) > 1 else ())
        self.last_name = None  # no accidental carried by a tie out of a chord
        if tie and self.last is not None:
            self.last.tie = True
            self._tied = True

    def _rest(self, length: str, lineno: int) -> None:
        num, den = parse_length(length)
        self._emit(None, self._duration(num, den, lineno), lineno)

    def _multi_rest(self, length: str, lineno: int) -> None:
        full = bar_length(self.meter) or WHOLE  # free meter: a whole note, as abc2midi
        saved, saved_cache = self.bar_acc, self._pcache
        bars = check_number(length, "multi-bar rest", lineno) if length else 1
        if bars > MAX_MULTI_REST_BARS:
            raise exceeded("multi-bar rest of", f"{bars} bars", MAX_MULTI_REST_BARS,
                           "MAX_MULTI_REST_BARS", lineno)
        if len(self.events) + 2 * bars > MAX_EVENTS_PER_TUNE:  # many rests on one line
            raise exceeded("tune of", f"more than {MAX_EVENTS_PER_TUNE} events",
                           MAX_EVENTS_PER_TUNE, "MAX_EVENTS_PER_TUNE", lineno)
        for _ in range(bars):
            self._emit(None, full, lineno)
            self._bar("|")
        self.bar_acc = saved  # a multi-bar rest keeps the bar's accidentals (abc2midi)
        self._pcache = saved_cache

    def _grace(self, inner: str) -> tuple[int, ...]:
        saved, saved_cache = dict(self.bar_acc), self._pcache
        pitches = tuple(self._pitch(a or None, l, o) for a, l, o, _, _ in
                        INNER_NOTE_RE.findall(inner))
        self.bar_acc = saved  # grace accidentals do not last
        self._pcache = saved_cache
        return pitches

    def _tuplet(self, text: str) -> None:
        parts = text[1:].split(":")
        p = int(parts[0])
        if p < 2:
            return
        q = check_number(parts[1], "tuplet q") if len(parts) > 1 and parts[1] else 0
        r = check_number(parts[2], "tuplet r") if len(parts) > 2 and parts[2] else p
        if q > MAX_TUPLET or r > MAX_TUPLET:
            raise exceeded("tuplet", text, MAX_TUPLET, "MAX_TUPLET")
        if not q:
            compound = self.meter is not None and self.meter[0] % 3 == 0 and self.meter[0] > 3
            q = TUPLET_Q.get(p, 3 if compound else 2)
        self.tuplet_num, self.tuplet_den, self.tuplet_left = q, p, r

    def _broken(self, text: str) -> None:
        n = len(text)
        long_num, den = 2 ** (n + 1) - 1, 2**n  # > : 3/2 ; >> : 7/4 ; >>> : 15/8
        short = (1, den)
        longer = (long_num, den)
        first, second = (longer, short) if text[0] == ">" else (short, longer)
        last = self.last
        if last is None:
            return
        old = last.duration
        last.duration = old * first[0] // first[1]
        if (old * first[0]) % first[1]:
            self._warn(f"line {last.line}: duration rounded")
        if last.duration < MIN_NOTE_TICKS:
            raise AbcSyntaxError(f"broken rhythm {text!r} leaves a note of no length")
        self.onset += last.duration - old
        self.broken_next = second

    # ------------------------------------------------------------------- bars
    def _bar(self, text: str) -> None:
        kind, ending = bar_kind(text)
        if self.bar_has_music:
            self.events.append(Bar(kind, ending, self.bar))
            self.bar += 1
            self.onset = 0
            self.bar_has_music = False
        elif self.events and isinstance(self.events[-1], Bar):
            prev = self.events[-1]  # two bar lines in a row, e.g. "|" then "|:" on the next line
            if {prev.kind, kind} == {":|", "|:"}:
                prev.kind = "::"
            elif kind in REPEATS or prev.kind not in REPEATS and kind != "|":
                prev.kind = kind  # a plain bar line never replaces a repeat sign
            prev.ending = prev.ending or ending
        else:
            self.events.append(Bar(kind, ending, self.bar))
        self.bar_acc = {}
        self._pcache = self._kcache
        self.tuplet_left = 0

    def _ending(self, number: str) -> None:
        if self.events and isinstance(self.events[-1], Bar):
            self.events[-1].ending = number
        else:
            self.events.append(Bar("|", number, self.bar))
