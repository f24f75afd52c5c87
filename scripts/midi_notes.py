"""Sounding notes read from Standard MIDI Files (for the abc2midi cross-check).

:func:`midi_melody` reads the melody track of an abc2midi file as :class:`SeqNote`
(onset, pitch, duration in whole notes); :func:`read_midi` is the small SMF reader
under it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction

_NAMES = ("C", "^C", "D", "^D", "E", "F", "^F", "G", "^G", "A", "^A", "B")


# ------------------------------------------------------------------ notes
@dataclass(frozen=True, slots=True)
class SeqNote:
    """A sounding note: onset and duration in whole notes (``duration`` ``None``:
    not compared), MIDI pitch, and the source line (folkclip side only)."""

    onset: Fraction
    pitch: int
    duration: Fraction | None
    line: int = 0
    ornament: bool = False

    def show(self) -> str:
        dur = "?" if self.duration is None else str(self.duration)
        return f"{pitch_name(self.pitch)}@{self.onset}+{dur}"


def pitch_name(pitch: int) -> str:
    """ABC-like name of a MIDI pitch: 60 -> ``C``, 72 -> ``c``, 84 -> ``c'``, 48 -> ``C,``."""
    name = _NAMES[pitch % 12]
    octave = pitch // 12 - 5
    if octave >= 1:
        return name.lower() + "'" * (octave - 1)
    return name + "," * (-octave)


# ------------------------------------------------------------------- MIDI
def _varlen(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos


def read_midi(data: bytes) -> tuple[int, list[list[tuple[int, int, int, int, int]]]]:
    """Read a Standard MIDI File.

    Returns:
        The division (ticks per quarter note) and, per track, its channel events
        as (absolute tick, status high nibble, channel, data1, data2).

    Raises:
        ValueError: When the data is not a MIDI file (or uses SMPTE time).
    """
    if data[:4] != b"MThd":
        raise ValueError("not a MIDI file")
    hlen = struct.unpack(">I", data[4:8])[0]
    _fmt, _ntrk, division = struct.unpack(">HHH", data[8:14])
    if division & 0x8000:
        raise ValueError("SMPTE time division is not supported")
    pos = 8 + hlen
    tracks: list[list[tuple[int, int, int, int, int]]] = []
    while pos + 8 <= len(data):
        chunk, length = data[pos:pos + 4], struct.unpack(">I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + length]
        pos += 8 + length
        if chunk != b"MTrk":
            continue
        events: list[tuple[int, int, int, int, int]] = []
        tick = i = status = 0
        while i < len(body):
            delta, i = _varlen(body, i)
            tick += delta
            byte = body[i]
            if byte == 0xFF:  # meta event
                size, i = _varlen(body, i + 2)
                i += size
                continue
            if byte in (0xF0, 0xF7):  # sysex
                size, i = _varlen(body, i + 1)
                i += size
                continue
            if byte & 0x80:
                status = byte
                i += 1
            kind = status & 0xF0
            if kind in (0xC0, 0xD0):
                events.append((tick, kind, status & 0x0F, body[i], 0))
                i += 1
            else:
                events.append((tick, kind, status & 0x0F, body[i], body[i + 1]))
                i += 2
        tracks.append(events)
    return division, tracks


def midi_melody(data: bytes) -> list[SeqNote]:
    """The melody of an abc2midi MIDI file as sounding notes (chords: highest pitch).

    The melody is the first track with notes, on the channel of its first note.
    """
    division, tracks = read_midi(data)
    whole = 4 * division
    for events in tracks:
        ons = [e for e in events if e[1] == 0x90 and e[4] > 0]
        if ons:
            channel = ons[0][2]
            break
    else:
        return []
    pending: dict[int, list[int]] = {}
    notes: list[tuple[int, int, int]] = []  # (on, off, pitch)
    for tick, kind, chan, key, vel in events:
        if chan != channel:
            continue
        if kind == 0x90 and vel > 0:
            pending.setdefault(key, []).append(tick)
        elif kind in (0x80, 0x90) and pending.get(key):
            notes.append((pending[key].pop(0), tick, key))
    notes.sort()
    out: list[SeqNote] = []
    group: list[tuple[int, int, int]] = []

    def flush() -> None:
        if group:
            on = group[0][0]
            off = max(g[1] for g in group)
            out.append(SeqNote(Fraction(on - 1, whole), max(g[2] for g in group),
                               Fraction(off - on + 1, whole)))

    for note in notes:
        if group and note[0] < min(g[1] for g in group):  # overlaps: same chord
            group.append(note)
        else:
            flush()
            group = [note]
    flush()
    return out
