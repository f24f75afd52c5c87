"""A tune's melody as identification stores it: its notes in playing order (repeats,
variant endings and parts unfolded), ties merged, rests and grace notes left out, each with
its onset in beats and the bar it was written in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from folkclip.abc.fields import WHOLE, bar_length
from folkclip.abc.model import Note, Tune
from folkclip.abc.unfold import unfold
from folkclip.identify.limits import MAX_TUNE_NOTES
from folkclip.identify.notes import QueryNotes

BEAT_TICKS = WHOLE // 4
"""Ticks of the nominal beat (a quarter note) in which ABC onsets are given: only ratios
of durations matter to the matcher, so any unit would do."""


@dataclass(frozen=True)
class Melody:
    """A tune's notes in playing order.

    Attributes:
        midi_pitch: (N,) int16 MIDI pitches.
        onset_beats: (N,) float64 onsets in quarter-note beats from the start.
        duration_beats: (N,) float64 written durations (tied notes merged) in beats.
        bar: (N,) int32 written bar index of each note (:attr:`Note.bar`: 0-based, a
            pickup is bar 0); a repeated bar appears once per pass with the same index.
        pickup: Whether the tune opens with a pickup (a first bar shorter than the meter's
            bar): musicians then count the first full bar as bar 1 and the pickup as 0.
    """

    midi_pitch: np.ndarray
    onset_beats: np.ndarray
    duration_beats: np.ndarray
    bar: np.ndarray
    pickup: bool

    def bar_number(self, index: int) -> int:
        """The musician's number of written bar ``index`` (first full bar = 1)."""
        return index if self.pickup else index + 1

    def to_query(self, source: str, abc: str | None = None) -> QueryNotes:
        """The melody as :class:`QueryNotes` (onsets and durations in beats)."""
        return QueryNotes(self.midi_pitch.astype(np.float64), self.onset_beats,
                          self.duration_beats, source, abc)


def tune_melody(tune: Tune, max_notes: int = MAX_TUNE_NOTES) -> Melody:
    """The notes of ``tune`` as played (see :func:`folkclip.abc.unfold.unfold`).

    Args:
        tune: A parsed tune.
        max_notes: Keep at most this many notes (the first ones).
    """
    parts = tune.fields.get("P", [None])[0]
    pitch: list[int] = []
    onset: list[int] = []
    dur: list[int] = []
    bar: list[int] = []
    t = 0
    tied = False
    for ev in unfold(tune.events, parts):
        if type(ev) is not Note:
            continue
        if ev.pitch is None:
            tied = False
        elif tied and pitch and pitch[-1] == ev.pitch:
            dur[-1] += ev.duration  # a tie lengthens the note before
            tied = ev.tie
        else:
            if len(pitch) >= max_notes:
                break
            pitch.append(ev.pitch)
            onset.append(t)
            dur.append(ev.duration)
            bar.append(ev.bar)
            tied = ev.tie
        t += ev.duration
    return Melody(np.array(pitch, np.int16), np.array(onset, np.float64) / BEAT_TICKS,
                  np.array(dur, np.float64) / BEAT_TICKS, np.array(bar, np.int32),
                  _has_pickup(tune))


def _has_pickup(tune: Tune) -> bool:
    full = bar_length(tune.meter)
    notes = [e for e in tune.events if type(e) is Note]
    if full is None or not notes or notes[-1].bar == 0:
        return False
    first = sum(n.duration for n in notes if n.bar == 0)
    return first < full
