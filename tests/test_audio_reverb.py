"""Reverberant recordings: late reverberation suppressed before pitch tracking
(numpy-synthesized audio and rooms; every random draw seeded)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("soundfile")
pytest.importorskip("librosa")

from melody_audio import encode, synth  # tests/melody_audio.py

from folkclip.audio import read_audio
from folkclip.audio.dereverb import ASSUMED_RT60_S, GAIN_FLOOR, suppress_late_reverb
from folkclip.audio.pitch import FRAME_LENGTH, HOP_LENGTH

SR_HZ = 16_000
# a reel-like line with no repeated notes (a room can merge those into one)
MELODY = [62, 66, 69, 66, 71, 69, 66, 64, 62, 64, 66, 67, 69, 71, 74, 71, 69, 67, 66, 64]
BEATS = [1.0] * len(MELODY)


def room(y: np.ndarray, rt60_s: float, sr_hz: int, seed: int = 0) -> np.ndarray:
    """``y`` in a synthetic room: a direct path and an exponentially decaying noise tail,
    as ``benchmarks/identify_audio.py`` makes them."""
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(seed)
    t = np.arange(int(rt60_s * sr_hz)) / sr_hz
    ir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60_s) * 0.3
    ir[0] = 1.0
    wet = fftconvolve(y, ir)[: len(y)]
    return (0.9 * wet / np.abs(wet).max()).astype(np.float32)


def _power_db(y: np.ndarray, a_s: float, b_s: float) -> float:
    part = y[int(a_s * SR_HZ): int(b_s * SR_HZ)].astype(np.float64)
    return 10 * np.log10(np.mean(part ** 2))


def _sine(envelope: np.ndarray) -> np.ndarray:
    t = np.arange(len(envelope)) / SR_HZ
    return (0.5 * envelope * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)


def test_a_held_note_loses_little():
    y = _sine(np.ones(SR_HZ))  # 1 s of A4
    out = suppress_late_reverb(y, SR_HZ, FRAME_LENGTH, HOP_LENGTH)
    assert out.shape == y.shape
    # the power LATE_DELAY_S earlier, decayed, is a quarter of a held note's: -1.2 dB
    assert -2.0 < _power_db(out, 0.2, 0.8) - _power_db(y, 0.2, 0.8) < -0.5


def test_a_tail_decaying_at_the_rooms_rate_is_taken_down_to_the_floor():
    t = np.arange(SR_HZ) / SR_HZ
    y = _sine(10 ** (-3 * t / ASSUMED_RT60_S))  # amplitude: 60 dB of power per RT60
    out = suppress_late_reverb(y, SR_HZ, FRAME_LENGTH, HOP_LENGTH)
    drop_db = _power_db(out, 0.2, 0.6) - _power_db(y, 0.2, 0.6)
    assert drop_db == pytest.approx(20 * np.log10(GAIN_FLOOR), abs=3.0)


def test_a_reverberant_noisy_melody_keeps_its_intervals():
    y = room(synth(MELODY, BEATS, beat_s=0.2, sr_hz=SR_HZ), 0.7, SR_HZ)
    noise = np.random.default_rng(1).standard_normal(len(y)).astype(np.float32)
    y = y + noise * np.sqrt(np.mean(y ** 2) / 10)  # 10 dB SNR
    q = read_audio(encode(y / np.abs(y).max() * 0.9, SR_HZ), "room.wav")
    assert np.rint(np.diff(q.midi_pitch)).astype(int).tolist() == np.diff(MELODY).tolist()
