"""Transposition- and tempo-invariant symbols of a melody, and their n-gram codes.

Note ``i >= 1`` of a melody becomes one symbol: the pitch interval from note ``i - 1``
in semitones (rounded, clipped to :data:`~folkclip.identify.limits.MAX_INTERVAL`), and a
rhythm class, ``round(log2(ioi_i / ioi_{i-1}))`` clipped to ``±RHYTHM_CLASSES`` (``ioi``:
inter-onset interval). Transposing a melody leaves the intervals, and playing it faster or
slower leaves the ratios, unchanged. Note 0 has no symbol: its place holds :data:`START`,
which matches nothing, so that symbol arrays line up with note arrays.
"""

from __future__ import annotations

import numpy as np

from folkclip.identify.limits import MAX_INTERVAL, NGRAM

START = 127
"""Interval value at a melody's first note (no interval): never equal to a real one."""

RHYTHM_CLASSES = 2
"""Rhythm classes run from -2 to 2: halving or doubling is ±1; a dotted pair (3:1) is ±2."""

_BASE = 2 * MAX_INTERVAL + 1  # distinct clipped intervals


def melody_symbols(midi_pitch: np.ndarray, ioi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interval and rhythm symbols of one melody.

    Args:
        midi_pitch: (N,) pitches (fractional allowed).
        ioi: (N,) inter-onset intervals, > 0, any unit.

    Returns:
        (N,) int8 intervals (``START`` at 0) and (N,) int8 rhythm classes (0 at 0).
    """
    n = len(midi_pitch)
    interval = np.full(n, START, np.int8)
    rhythm = np.zeros(n, np.int8)
    if n > 1:
        steps = np.rint(np.diff(np.asarray(midi_pitch, np.float64)))
        interval[1:] = np.clip(steps, -MAX_INTERVAL, MAX_INTERVAL).astype(np.int8)
        ratio = np.log2(np.asarray(ioi[1:], np.float64) / np.asarray(ioi[:-1], np.float64))
        rhythm[1:] = np.clip(np.rint(ratio), -RHYTHM_CLASSES, RHYTHM_CLASSES).astype(np.int8)
    return interval, rhythm


def ngram_codes(interval: np.ndarray, n: int = NGRAM) -> np.ndarray:
    """Integer code of every run of ``n`` intervals that holds no :data:`START`.

    Args:
        interval: (L,) int8 intervals of one or several melodies laid end to end (each
            melody's first place holds ``START``, so no run crosses from one to the next).

    Returns:
        (L,) int64: at place ``j`` the code of intervals ``j - n + 1 .. j``, or -1 where that
        run is not whole (it reaches a ``START`` or the array's start).
    """
    length = len(interval)
    codes = np.full(length, -1, np.int64)
    if length < n:
        return codes
    iv = interval.astype(np.int64)
    bad = iv == START
    digits = np.where(bad, 0, iv + MAX_INTERVAL)
    acc = np.zeros(length - n + 1, np.int64)
    broken = np.zeros(length - n + 1, bool)
    for k in range(n):
        acc = acc * _BASE + digits[k:length - n + 1 + k]
        broken |= bad[k:length - n + 1 + k]
    codes[n - 1:] = np.where(broken, -1, acc)
    return codes
