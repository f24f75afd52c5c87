"""Monophonic pitch tracking (librosa's pYIN) and note segmentation.

A recording at :data:`~folkclip.identify.query_limits.ANALYSIS_SR_HZ` first loses its late
reverberation (:mod:`folkclip.audio.dereverb`), then becomes an f0 track (one value per
hop), and the track becomes notes: a note is a run of voiced frames whose pitch stays
within :data:`PITCH_CHANGE_ST` of its median; a change held for :data:`HOLD_FRAMES` frames
starts a new note, and so does an onset (a new bow stroke, breath or tongued attack on a
repeated pitch). Notes shorter than :data:`MIN_NOTE_S` (cuts, taps, the scrape of a bow)
are left out: the matcher tolerates missing ornaments better than invented notes.

The pYIN settings were chosen for speed at equal accuracy (``benchmarks/identify_audio.py
--pyin-settings`` prints the timing of each): a 20 ms hop still gives five frames to the
shortest note of a fast reel, and a quarter-semitone grid keeps the Viterbi decoding
(quadratic in the number of pitch bins) at a fifth of the cost of the default tenth.
"""

from __future__ import annotations

import numpy as np

from folkclip.audio.dereverb import suppress_late_reverb
from folkclip.identify import query_limits as QL
from folkclip.identify.errors import NoMelodyFound
from folkclip.identify.limits import MAX_QUERY_NOTES, MIN_QUERY_NOTES
from folkclip.identify.notes import QueryNotes

FMIN_HZ = 80.0  # E2: a low hummed voice; fiddle G3 (196 Hz), flute C4, accordion ~A2
FMAX_HZ = 2_400.0  # D7 (2,349 Hz): the top of the D whistle's second octave
FRAME_LENGTH = 1_024  # 64 ms at 16 kHz: two periods of FMIN_HZ fit in pYIN's window
HOP_LENGTH = 320  # 20 ms at 16 kHz
RESOLUTION_ST = 0.25  # pYIN's pitch grid, semitones
PYIN_BETA_PARAMETERS = (2, 8)  # pYIN's beta prior over YIN thresholds: mean 0.2, the most
# tolerant of the pYIN paper's three (librosa's default (2, 18) has mean 0.1). Noise and
# reverberation make YIN's dips shallower, and at the default pYIN left whole notes
# unvoiced: on a separate sample (100 rendered extracts, seed 77) top-1 clean / reverb+20
# dB / reverb+10 dB went from 0.95 / 0.88 / 0.76 to 0.95 / 0.87 / 0.83

PITCH_CHANGE_ST = 0.5  # a pitch this far from the note's median may start a new note
HOLD_FRAMES = 3  # ... when held this long (60 ms); shorter is a slide or vibrato
MIN_NOTE_S = 0.06  # notes shorter than this are ornaments or glitches: left out
ONSET_SETTLE_S = 0.1  # an attack splits a note only this long after the note began: the
# detector's peak trails the start of voicing by a few frames (it split every first note)
ONSET_DELTA = 0.2  # onset strength (of the track's peak) an attack must rise above its
# surroundings. Only clear attacks split a repeated pitch: at 0.05 the detector also fired on
# reverberation and noise, splitting held notes. On 100 rendered 12-s extracts of indexed
# tunes (a sample apart from the benchmark's), clean / reverb+20 dB / reverb+10 dB, top-1
# went from 0.93 / 0.77 / 0.68 at 0.05 to 0.95 / 0.81 / 0.75 at 0.2, the same as with no
# onset splitting at all
MIN_VOICED_PROB = 0.1  # mean pYIN voicing probability a melody's voiced frames reach (noise and
# chords stay under 0.05; reverberation and 10 dB of noise over a melody lower it to 0.1-0.3:
# at 0.2, 9 of those 100 extracts were refused, at 0.1 none, and top-1 rose to 0.79)


def track_f0(y: np.ndarray, sr_hz: int) -> tuple[np.ndarray, np.ndarray]:
    """The f0 track of a mono recording.

    Args:
        y: Samples ``(N,)``.
        sr_hz: Their rate.

    Returns:
        ``(midi, prob)``: fractional MIDI pitch per frame ``(T,)`` (NaN where unvoiced)
        and pYIN's voicing probability ``(T,)``; frame ``t`` starts at ``t * hop_s``.
    """
    import librosa

    f0_hz, voiced, prob = librosa.pyin(
        y, fmin=FMIN_HZ, fmax=FMAX_HZ, sr=sr_hz, frame_length=FRAME_LENGTH,
        hop_length=HOP_LENGTH, resolution=RESOLUTION_ST, center=True,
        beta_parameters=PYIN_BETA_PARAMETERS)
    midi = np.where(voiced & np.isfinite(f0_hz),
                    librosa.hz_to_midi(np.nan_to_num(f0_hz, nan=1.0)), np.nan)  # (T,)
    return midi, np.nan_to_num(prob)


def onset_frames(y: np.ndarray, sr_hz: int) -> np.ndarray:
    """Frames where a note attack begins (librosa's spectral-flux onset detector)."""
    import librosa

    return librosa.onset.onset_detect(y=y, sr=sr_hz, hop_length=HOP_LENGTH, units="frames",
                                      delta=ONSET_DELTA)


def segment(midi: np.ndarray, onsets: np.ndarray, hop_s: float
            ) -> list[tuple[int, int, float]]:
    """Notes of an f0 track.

    Args:
        midi: Fractional MIDI pitch per frame ``(T,)``, NaN where unvoiced.
        onsets: Frames where an attack was detected (may split a repeated pitch).
        hop_s: Seconds per frame.

    Returns:
        ``(first_frame, end_frame, midi_pitch)`` per note, in order; ``end_frame`` is
        exclusive and the pitch the median of the note's frames.
    """
    min_frames = max(1, round(MIN_NOTE_S / hop_s))
    settle = max(min_frames, round(ONSET_SETTLE_S / hop_s))
    is_onset = np.zeros(len(midi) + 1, bool)
    is_onset[np.clip(onsets, 0, len(midi))] = True
    voiced = np.isfinite(midi)
    notes: list[tuple[int, int, float]] = []

    def emit(a: int, b: int) -> None:
        if b - a >= min_frames:
            notes.append((a, b, float(np.median(midi[a:b]))))

    t, n = 0, len(midi)
    while t < n:
        if not voiced[t]:
            t += 1
            continue
        end = t
        while end < n and voiced[end]:
            end += 1
        start, ref = t, midi[t]
        for j in range(t + 1, end):
            ahead = midi[j:min(j + HOLD_FRAMES, end)]
            if (len(ahead) == HOLD_FRAMES and np.all(np.abs(ahead - ref) >= PITCH_CHANGE_ST)
                    and np.ptp(ahead) < PITCH_CHANGE_ST):
                emit(start, j)
                start, ref = j, float(np.median(ahead))
            elif is_onset[j] and j - start >= settle and end - j >= min_frames:
                emit(start, j)
                start, ref = j, midi[j]
            else:
                ref = float(np.median(midi[start:j + 1]))
        emit(start, end)
        t = end
    return notes


def track_notes(y: np.ndarray, sr_hz: int, source: str = "<audio>") -> QueryNotes:
    """The notes of a mono recording, or :class:`NoMelodyFound`.

    Args:
        y: Samples ``(N,)``, peak-normalised.
        sr_hz: Their rate.
        source: The name used in messages.

    Returns:
        Notes in seconds, with fractional MIDI pitches (at most
        :data:`~folkclip.identify.query_limits.MAX_QUERY_NOTES`).

    Raises:
        NoMelodyFound: Too little voiced audio, too few notes, or voicing too unsure
            (noise, chords).
    """
    hop_s = HOP_LENGTH / sr_hz
    y = suppress_late_reverb(y, sr_hz, FRAME_LENGTH, HOP_LENGTH)
    midi, prob = track_f0(y, sr_hz)
    voiced = np.isfinite(midi)
    voiced_s = float(voiced.sum()) * hop_s
    if voiced_s < QL.MIN_MELODY_S:
        raise NoMelodyFound(f"no melody found: {voiced_s:.1f} s of steady pitch "
                            f"(at least {QL.MIN_MELODY_S:g} s needed)", source)
    sureness = float(prob[voiced].mean())
    if sureness < MIN_VOICED_PROB:
        raise NoMelodyFound(f"no melody found: no single clear pitch (noise or "
                            f"chords; voicing probability {sureness:.2f})", source)
    notes = segment(midi, onset_frames(y, sr_hz), hop_s)[: MAX_QUERY_NOTES]
    if len(notes) < MIN_QUERY_NOTES:
        raise NoMelodyFound(f"no melody found: {len(notes)} notes (at least "
                            f"{MIN_QUERY_NOTES} needed)", source)
    a = np.array([n[0] for n in notes], dtype=np.float64)
    b = np.array([n[1] for n in notes], dtype=np.float64)
    return QueryNotes(midi_pitch=np.array([n[2] for n in notes]), onset_s=a * hop_s,
                      duration_s=(b - a) * hop_s, source=source, kind="audio")
