"""Melodies made into audio and MIDI for the query-reader, API and browser tests
(numpy and mido only: no synthesizer, no SoundFont)."""

from __future__ import annotations

import io

import numpy as np


def synth_notes(midi_pitch, duration_s, *, sr_hz: int = 22_050, wave: str = "saw",
                cents: float = 0.0, level: float = 0.3) -> np.ndarray:
    """Band-limited sawtooth (or sine) notes, each with a 10 ms attack and 30 ms release.

    Args:
        midi_pitch: (N,) pitches; duration_s: (N,) note lengths in seconds.

    Returns:
        Samples (M,) float32, peak at ``level``.
    """
    out = []
    for p, d in zip(midi_pitch, duration_s, strict=True):
        f_hz = 440.0 * 2 ** ((p + cents / 100 - 69) / 12)
        t = np.arange(int(d * sr_hz)) / sr_hz
        ks = range(1, 12) if wave == "saw" else range(1, 2)
        x = sum(np.sin(2 * np.pi * k * f_hz * t) / k for k in ks if k * f_hz < sr_hz / 2)
        env = np.clip(np.minimum(t / 0.01, (t[-1] - t) / 0.03), 0, 1)
        out.append(x * env)
    y = np.concatenate(out)
    return (level * y / np.abs(y).max()).astype(np.float32)


def synth(pitches, beats, *, beat_s: float = 0.25, **kw) -> np.ndarray:
    """:func:`synth_notes` with lengths in beats of ``beat_s`` seconds."""
    return synth_notes(pitches, [b * beat_s for b in beats], **kw)


def encode(y: np.ndarray, sr_hz: int = 22_050, fmt: str = "WAV") -> bytes:
    """Samples as the bytes of an audio file (``WAV``, ``FLAC``, ``OGG``, ``MP3``)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, y, sr_hz, format=fmt)
    return buf.getvalue()


def midi_file(pitches, duration_s, ticks_per_beat: int = 480) -> bytes:
    """One-track MIDI file (120 bpm) of a monophonic line."""
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    track = mido.MidiTrack()
    for p, d in zip(pitches, duration_s, strict=True):
        ticks = max(1, round(d * 2 * ticks_per_beat))  # 2 beats per second
        track.append(mido.Message("note_on", note=int(round(p)), velocity=80, time=0))
        track.append(mido.Message("note_off", note=int(round(p)), velocity=0, time=ticks))
    mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()
