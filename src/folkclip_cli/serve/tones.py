"""Note samples for abcjs's synth, made here instead of fetched from a sound-font CDN.

abcjs asks for ``<soundFontUrl><instrument>-mp3/<note>.mp3`` (note names such as ``A4``,
``Bb3``) and decodes whatever comes back with the browser's ``decodeAudioData``, which reads
WAV as well as MP3. So the server answers with a short plucked tone as 16-bit WAV, made in
memory; nothing is vendored and nothing is written to disk.
"""

from __future__ import annotations

import io
import re
import wave
from functools import lru_cache

import numpy as np

SAMPLE_RATE = 22050  # Hz; plenty for fiddle-range tunes
DURATION_S = 2.5  # abcjs cuts each sample to its note's length; longer notes are rare
NOTE_FILE = re.compile(r"([A-G])(b?)([0-8])\.mp3")
INSTRUMENT_DIR = re.compile(r"[a-z0-9_]{1,40}-mp3")
_SEMITONE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def midi_pitch(note_file: str) -> int | None:
    """The MIDI pitch of an abcjs note file name (``"Bb3.mp3"`` -> 58), or None."""
    m = NOTE_FILE.fullmatch(note_file)
    if not m:
        return None
    pitch = 12 * (int(m.group(3)) + 1) + _SEMITONE[m.group(1)] - (1 if m.group(2) else 0)
    return pitch if 21 <= pitch <= 108 else None


@lru_cache(maxsize=96)
def tone_wav(pitch: int) -> bytes:
    """A plucked tone of MIDI ``pitch``: a few decaying harmonics, as mono 16-bit WAV bytes."""
    t = np.arange(int(SAMPLE_RATE * DURATION_S)) / SAMPLE_RATE  # (S,)
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    wave_sum = np.zeros_like(t)
    for h, amp in enumerate((1.0, 0.5, 0.3, 0.15, 0.08), start=1):
        if f0 * h < SAMPLE_RATE / 2:
            wave_sum += amp * np.sin(2 * np.pi * f0 * h * t) * np.exp(-t * (1.5 + h))
    attack = np.minimum(t / 0.008, 1.0)  # 8 ms: no click at the start
    pcm = (wave_sum * attack / 2.2 * 32767 * 0.8).astype("<i2")  # (S,)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()
