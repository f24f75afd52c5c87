"""MIDI queries: a Standard MIDI File read with ``mido``, reduced to one melody line.

The melody is the *skyline* (highest sounding note) of the main part, the non-drum
(track, channel) with the most notes: a tune exported from notation software puts the
melody on one track, often with chords or a bass on others; a type-0 file puts every part
on one track, told apart by channel. Tempo changes are honoured (onsets in seconds).

``mido`` is imported inside :func:`read_midi`, so ``folkclip.identify`` imports without the
``midi`` extra.
"""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

import numpy as np

from folkclip.identify import query_limits as QL
from folkclip.identify.errors import NoMelodyFound, QueryError
from folkclip.identify.limits import MAX_QUERY_NOTES
from folkclip.identify.notes import QueryNotes
from folkclip.identify.query_file import read_bytes

DRUM_CHANNEL = 9  # General MIDI percussion: channel 10, 0-based 9
MIDO_ERRORS = (OSError, EOFError, ValueError, KeyError, IndexError, TypeError)
"""What mido raises on a damaged file (seen in a mutation fuzz of 3,000 files: OSError,
EOFError, IndexError, ValueError)."""
DEFAULT_TEMPO_US = 500_000  # microseconds per beat when a file sets none (120 bpm)

Note = tuple[float, float, int]  # (onset_s, end_s, midi_pitch)


def read_midi(path_or_bytes: str | Path | bytes, source: str = "<midi>") -> QueryNotes:
    """The melody line of a MIDI file.

    Args:
        path_or_bytes: A ``.mid`` file's path or its bytes.
        source: The name used in messages (the upload's file name).

    Returns:
        The skyline of the main non-drum part, onsets and durations in seconds.

    Raises:
        QueryError: Not a MIDI file, or over :data:`~folkclip.identify.query_limits.MAX_MIDI_BYTES`.
        NoMelodyFound: No notes, or drum notes only.
    """
    import mido

    data = read_bytes(path_or_bytes, source, QL.MAX_MIDI_BYTES)
    if not data.startswith(b"MThd"):
        raise QueryError("not a MIDI file (it does not start with 'MThd')", source)
    try:
        mid = mido.MidiFile(file=io.BytesIO(data))
    except MIDO_ERRORS as err:
        raise QueryError(f"unreadable MIDI file: {type(err).__name__}: "
                         f"{str(err)[:200]}", source) from None
    if not mid.ticks_per_beat or mid.ticks_per_beat <= 0:
        raise QueryError("unreadable MIDI file: no ticks per beat", source)
    parts, drums = _notes_by_part(mid)
    if not parts:
        if drums:
            raise NoMelodyFound("no melody found: the file holds only drum notes "
                                "(MIDI channel 10)", source)
        raise NoMelodyFound("no melody found: the file holds no notes", source)
    main = max(parts.values(), key=len)
    line = skyline(main)
    if not line:
        raise NoMelodyFound(f"no melody found: every note is shorter than "
                            f"{QL.MIN_MIDI_NOTE_S * 1000:g} ms", source)
    line = line[: MAX_QUERY_NOTES]
    onset = np.array([n[0] for n in line])
    return QueryNotes(midi_pitch=np.array([float(n[2]) for n in line]), onset_s=onset,
                      duration_s=np.array([n[1] - n[0] for n in line]), source=source)


def _tempo_map(mid) -> list[tuple[int, int]]:
    """``(tick, microseconds per beat)`` changes, sorted; tempo is global in types 0 and 1."""
    changes = [(0, DEFAULT_TEMPO_US)]
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo" and msg.tempo > 0:
                changes.append((tick, msg.tempo))
    changes.sort(key=lambda c: c[0])
    return changes


def _notes_by_part(mid) -> tuple[dict[tuple[int, int], list[Note]], int]:
    """Notes of each non-drum (track, channel), and the number of drum notes."""
    tempo = _tempo_map(mid)
    starts = np.array([t for t, _ in tempo], dtype=np.float64)
    # seconds at each tempo change, so that a tick converts in O(log n)
    secs = np.zeros(len(tempo))
    for i in range(1, len(tempo)):
        secs[i] = secs[i - 1] + (tempo[i][0] - tempo[i - 1][0]) * tempo[i - 1][1] / (
            1e6 * mid.ticks_per_beat)

    def seconds(tick: int) -> float:
        i = int(np.searchsorted(starts, tick, side="right")) - 1
        return float(secs[i] + (tick - tempo[i][0]) * tempo[i][1] / (1e6 * mid.ticks_per_beat))

    parts: dict[tuple[int, int], list[Note]] = defaultdict(list)
    drums = 0
    for ti, track in enumerate(mid.tracks):
        tick = 0
        sounding: dict[tuple[int, int], float] = {}  # (channel, pitch) -> onset_s
        for msg in track:
            tick += msg.time
            if msg.type not in ("note_on", "note_off"):
                continue
            t = seconds(tick)
            if t > QL.MAX_MIDI_SECONDS:
                break
            key = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                if msg.channel == DRUM_CHANNEL:
                    drums += 1
                    continue
                if key in sounding:  # re-struck before its note-off: end the old note
                    parts[(ti, msg.channel)].append((sounding[key], t, msg.note))
                sounding[key] = t
            elif key in sounding:
                parts[(ti, msg.channel)].append((sounding.pop(key), t, msg.note))
        for (channel, pitch), onset in sounding.items():  # never released: end with the track
            parts[(ti, channel)].append((onset, max(seconds(tick), onset), pitch))
    return {k: v for k, v in parts.items() if v}, drums


def skyline(notes: list[Note]) -> list[Note]:
    """The highest sounding note at each moment, as a monophonic line.

    Notes starting together keep the highest; a note starting under a higher sounding one
    is hidden; a higher note cuts the one sounding. Notes shorter than
    :data:`~folkclip.identify.query_limits.MIN_MIDI_NOTE_S` are left out.

    Args:
        notes: ``(onset_s, end_s, midi_pitch)`` of one part, in any order.

    Returns:
        The line, sorted by onset, without overlaps.
    """
    out: list[Note] = []
    for onset, end, pitch in sorted(notes, key=lambda n: (n[0], -n[2])):
        if end - onset < QL.MIN_MIDI_NOTE_S:
            continue
        if out:
            o0, e0, p0 = out[-1]
            if onset < e0 - 1e-9:  # overlaps the sounding note
                if onset - o0 < 1e-9 or pitch <= p0:
                    continue  # a chord tone below it, or hidden under it
                out[-1] = (o0, onset, p0)  # the higher note cuts the sounding one
                if onset - o0 < QL.MIN_MIDI_NOTE_S:
                    out.pop()
        out.append((onset, end, pitch))
    return out
