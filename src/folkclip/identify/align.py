"""Local alignment (Smith–Waterman, linear gaps) of a query's symbols against many tunes.

The query is short and the candidates many, so the dynamic programme runs one query
symbol at a time over a (C, L) block of all candidates at once. Within a row the
horizontal (gap in the query) dependency ``H[j] = max(E[j], H[j-1] + gap)`` unrolls to
``H[j] = max_{k<=j}(E[k] - gap*k) + gap*j``, one ``np.maximum.accumulate``; the place
where each local alignment starts in the tune is carried along the same way, so a match
maps to a range of bars without a traceback.

Scoring (:class:`Scoring`): equal intervals score ``interval_match``, intervals one
semitone apart ``interval_near`` (a mode or a slip of the finger), others
``interval_mismatch``; equal rhythm classes add ``rhythm_match``, others
``rhythm_mismatch``; every skipped symbol on either side costs ``gap``. An ornament
(a triplet or cut in place of a long note) or a passing note is a short run of gaps,
a wrong note two mismatched intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from folkclip.identify.store import IdentifyData
from folkclip.identify.symbols import START


@dataclass(frozen=True)
class Scoring:
    """Substitution and gap scores of the alignment (see the module's docstring)."""

    interval_match: float = 2.0
    interval_near: float = -0.5
    interval_mismatch: float = -2.0
    rhythm_match: float = 1.0
    rhythm_mismatch: float = -0.5
    gap: float = -1.5

    @property
    def best_per_symbol(self) -> float:
        """Score of one perfectly matched symbol: a query's score divided by its
        length times this is its normalised score (1.0 = found whole, unchanged)."""
        return self.interval_match + self.rhythm_match


DEFAULT_SCORING = Scoring()
_NEVER = -1e4  # substitution score at padding and at a melody's first place
ALIGN_BLOCK = 25  # candidates aligned together (sorted by length, padded to the longest)


def substitution(q_interval: int, q_rhythm: int, t_interval: np.ndarray, t_rhythm: np.ndarray,
                 s: Scoring = DEFAULT_SCORING) -> np.ndarray:
    """Score of one query symbol against every tune symbol: same shape as ``t_interval``."""
    ti = t_interval.astype(np.int16)
    diff = np.abs(ti - np.int16(q_interval))
    out = np.where(diff == 0, s.interval_match,
                   np.where(diff == 1, s.interval_near, s.interval_mismatch)).astype(np.float32)
    out += np.where(t_rhythm == q_rhythm, s.rhythm_match, s.rhythm_mismatch).astype(np.float32)
    return np.where(ti == START, np.float32(_NEVER), out)


def align_batch(q_interval: np.ndarray, q_rhythm: np.ndarray, t_interval: np.ndarray,
                t_rhythm: np.ndarray, s: Scoring = DEFAULT_SCORING
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best local alignment of one query with each of C tunes.

    Args:
        q_interval: (M,) query intervals; q_rhythm: (M,) its rhythm classes. Places
            holding :data:`~folkclip.identify.symbols.START` are skipped.
        t_interval: (C, L) tune intervals, padded with ``START``; t_rhythm: (C, L).
        s: The scoring.

    Returns:
        (C,) float32 best scores, (C,) int64 tune place of the alignment's first symbol,
        (C,) int64 tune place of its last symbol (both -1 where the best score is 0).
    """
    c, length = t_interval.shape
    gap = np.float32(s.gap)
    ramp = gap * np.arange(length, dtype=np.float32)  # gap * k
    places = np.arange(length, dtype=np.int64)
    h_prev = np.zeros((c, length + 1), np.float32)  # H of the previous query symbol
    st_prev = np.zeros((c, length + 1), np.int64)  # where its alignments start
    best = np.zeros(c, np.float32)
    best_start = np.full(c, -1, np.int64)
    best_end = np.full(c, -1, np.int64)
    rows = np.arange(c)
    for qi, qr in zip(q_interval.tolist(), q_rhythm.tolist()):
        if qi == START:
            continue
        sub = substitution(qi, qr, t_interval, t_rhythm, s)  # (C, L)
        diag = h_prev[:, :-1] + sub
        diag_start = np.where(h_prev[:, :-1] > 0, st_prev[:, :-1], places)
        up = h_prev[:, 1:] + gap  # the query symbol skipped
        e = np.maximum(diag, up)
        e_start = np.where(diag >= up, diag_start, st_prev[:, 1:])
        keep = e > 0
        e = np.where(keep, e, np.float32(0))
        # left moves (tune symbols skipped): running max of e - gap*k, plus gap*j
        val = e - ramp
        run = np.maximum.accumulate(val, axis=1)
        arg = np.maximum.accumulate(np.where(val >= run, places, 0), axis=1)
        h = run + ramp
        h_start = np.take_along_axis(e_start, arg, axis=1)
        h_prev = np.concatenate([np.zeros((c, 1), np.float32), h], axis=1)
        st_prev = np.concatenate([np.zeros((c, 1), np.int64), h_start], axis=1)
        j = h.argmax(axis=1)
        top = h[rows, j]
        better = top > best
        best = np.where(better, top, best)
        best_end = np.where(better, j, best_end)
        best_start = np.where(better, h_start[rows, j], best_start)
    return best, best_start, best_end


def align_candidates(data: IdentifyData, q_iv: np.ndarray, q_rh: np.ndarray, cand: np.ndarray,
                     scoring: Scoring = DEFAULT_SCORING
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`~folkclip.identify.align.align_batch` of one query against indexed tunes, in
    blocks of :data:`ALIGN_BLOCK` of similar length (shortest first), so that little of the
    work goes into padding.

    Args:
        data: The index's identification data.
        q_iv: (M,) query intervals; q_rh: (M,) its rhythm classes.
        cand: (C,) indexed tune ids.

    Returns:
        (C,) float32 raw scores, (C,) int64 first and (C,) int64 last aligned tune places.
    """
    offs = np.asarray(data.offsets)
    by_length = np.argsort(offs[cand + 1] - offs[cand], kind="stable")
    raw = np.zeros(len(cand), np.float32)
    start = np.zeros(len(cand), np.int64)
    end = np.zeros(len(cand), np.int64)
    for a in range(0, len(cand), ALIGN_BLOCK):
        rows = by_length[a:a + ALIGN_BLOCK]
        t_iv, t_rh = _block(data, cand[rows])
        raw[rows], start[rows], end[rows] = align_batch(q_iv, q_rh, t_iv, t_rh, scoring)
    return raw, start, end


def _block(data: IdentifyData, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(C, L) interval and rhythm symbols of the candidates, padded with ``START``."""
    offs = np.asarray(data.offsets)
    lengths = offs[cand + 1] - offs[cand]
    width = int(lengths.max())
    t_iv = np.full((len(cand), width), START, np.int8)
    t_rh = np.zeros((len(cand), width), np.int8)
    for row, (t, n) in enumerate(zip(cand.tolist(), lengths.tolist())):
        a = int(offs[t])
        t_iv[row, :n] = data.interval[a:a + n]
        t_rh[row, :n] = data.rhythm[a:a + n]
    return t_iv, t_rh
