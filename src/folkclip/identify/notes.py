"""A melody as identification sees it: a monophonic line of notes, whatever it came from.

Every query reader (ABC fragment, MIDI file, audio recording) turns its input into
:class:`QueryNotes`; the matcher (:mod:`folkclip.identify`) turns those into
transposition- and tempo-invariant symbols. Keeping this one small type between the readers
and the matcher lets each side be tested alone.

Durations: the matcher uses only the inter-onset intervals (the time from one onset to the
next; the last note's ``duration_s``) and only their ratios, so onsets may be in seconds
(audio, MIDI) or in beats (ABC: quarter-note beats of a nominal tempo).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

QUERY_KINDS = ("symbolic", "audio")


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
        abc: The query as a whole ABC tune (header included), when it was read from ABC;
            ``None`` otherwise. The title-suggestion fallback embeds it.
        kind: ``"symbolic"`` (written notes: ABC, MIDI) or ``"audio"`` (pitch-tracked
            from a recording). Each kind has its own calibration
            (:data:`folkclip.identify.calibration.CALIBRATIONS`): tracking errors lower an
            audio query's alignment score without making its best match less likely right.
    """

    midi_pitch: np.ndarray
    onset_s: np.ndarray
    duration_s: np.ndarray
    source: str = "<query>"
    abc: str | None = None
    kind: str = "symbolic"

    def __post_init__(self) -> None:
        n = len(self.midi_pitch)
        if len(self.onset_s) != n or len(self.duration_s) != n:
            raise ValueError("midi_pitch, onset_s and duration_s must have the same length")
        if self.kind not in QUERY_KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {QUERY_KINDS}")

    def __len__(self) -> int:
        return len(self.midi_pitch)

    def inter_onset(self) -> np.ndarray:
        """(N,) time from each onset to the next (the last note: its duration), > 0."""
        ioi = np.empty(len(self), np.float64)
        if len(self):
            ioi[:-1] = np.diff(np.asarray(self.onset_s, np.float64))
            ioi[-1] = float(self.duration_s[-1])
        return np.maximum(ioi, 1e-6)
