"""A melody as identification sees it: a monophonic line of notes, whatever it came from.

Every query reader (ABC fragment, MIDI file, audio recording) turns its input into
:class:`QueryNotes`; the matcher (:mod:`folkclip.identify`) turns those into
transposition- and tempo-invariant symbols. Keeping this one small type between the readers
and the matcher lets each side be tested alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class QueryNotes:
    """A monophonic note sequence.

    Attributes:
        midi_pitch: (N,) float array of MIDI pitch numbers; fractional values are allowed
            (audio pitch tracking), rests are not notes (leave them out).
        onset_s: (N,) float array of onsets in seconds, non-decreasing. For symbolic
            input (ABC) the "seconds" are beats of a nominal tempo: only ratios matter.
        duration_s: (N,) float array of durations in the same unit, all > 0.
        source: what the notes were read from, for messages (a file name, ``"<stdin>"``).
    """

    midi_pitch: np.ndarray
    onset_s: np.ndarray
    duration_s: np.ndarray
    source: str = "<query>"

    def __post_init__(self) -> None:
        n = len(self.midi_pitch)
        if len(self.onset_s) != n or len(self.duration_s) != n:
            raise ValueError("midi_pitch, onset_s and duration_s must have the same length")

    def __len__(self) -> int:
        return len(self.midi_pitch)
