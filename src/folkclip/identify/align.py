"""Local alignment (Smith–Waterman, linear gaps, with note merges) of a query's symbols
against many tunes.

The query is short and the candidates many, so the dynamic programme runs one query
symbol at a time over a (C, L) block of all candidates at once. Within a row the
horizontal (gap in the query) dependency ``H[j] = max(E[j], H[j-1] + gap)`` unrolls to
``H[j] = max_{k<=j}(E[k] - gap*k) + gap*j``, one ``np.maximum.accumulate``; the place
where each local alignment starts in the tune is carried along the same way, so a match
maps to a range of bars without a traceback.

Scoring (:class:`Scoring`): equal intervals score ``interval_match``, intervals one
semitone apart ``interval_near`` (a mode or a slip of the finger), others
``interval_mismatch``; equal rhythm classes add ``rhythm_match``, others
``rhythm_mismatch``; every skipped symbol on either side costs ``gap``.

Merges (Mongeau and Sankoff's fragmentation and consolidation, 1990, in interval form):
``k`` consecutive query intervals and ``l`` tune intervals that span the same pitch
distance (equal sums) align as one unit scoring ``merge * k``, their rhythm ignored (per
query interval, so that no unit scores more than the query's best: the normalised score
stays at most 1). They are what a player's changes look like: a wrong note changes two
intervals but not their sum (2:2); a passing note splits one interval in two (2:1, or
1:2 when the tune has it); a turn or cut (note, neighbour, note) in place of one note
adds two intervals summing to nothing before the next (3:1, or 1:3 when the tune has
it). Without merges each of these costs several mismatches and gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from folkclip.identify.store import IdentifyData
from folkclip.identify.symbols import START


@dataclass(frozen=True)
class Scoring:
    """Substitution, gap and merge scores of the alignment (see the module's docstring).

    ``merges`` lists the (query intervals, tune intervals) units that may align by their
    sums; an empty tuple gives plain Smith–Waterman.
    """

    interval_match: float = 2.0
    interval_near: float = -0.5
    interval_mismatch: float = -2.0
    rhythm_match: float = 1.0
    rhythm_mismatch: float = -0.5
    gap: float = -1.5
    merge: float = 1.5
    merges: tuple[tuple[int, int], ...] = ((2, 2), (2, 1), (1, 2), (3, 1), (1, 3))

    @property
    def best_per_symbol(self) -> float:
        """Score of one perfectly matched symbol: a query's score divided by its
        length times this is its normalised score (1.0 = found whole, unchanged)."""
        return self.interval_match + self.rhythm_match


DEFAULT_SCORING = Scoring()
_NEVER = -1e4  # substitution score at padding and at a melody's first place
ALIGN_BLOCK = 25  # candidates aligned together (sorted by length, padded to the longest)
_NO_SUM = np.int16(10_000)  # window sum of tune intervals that reaches a START


def substitution(q_interval: int, q_rhythm: int, t_interval: np.ndarray, t_rhythm: np.ndarray,
                 s: Scoring = DEFAULT_SCORING) -> np.ndarray:
    """Score of one query symbol against every tune symbol: same shape as ``t_interval``."""
    ti = t_interval.astype(np.int16)
    diff = np.abs(ti - np.int16(q_interval))
    out = np.where(diff == 0, s.interval_match,
                   np.where(diff == 1, s.interval_near, s.interval_mismatch)).astype(np.float32)
    out += np.where(t_rhythm == q_rhythm, s.rhythm_match, s.rhythm_mismatch).astype(np.float32)
    return np.where(ti == START, np.float32(_NEVER), out)


def window_sums(t_interval: np.ndarray, width: int) -> np.ndarray:
    """(C, L) int16: at place ``j`` the sum of tune intervals ``j - width + 1 .. j``, or
    :data:`_NO_SUM` where that window reaches a ``START`` or the row's start."""
    ti = t_interval.astype(np.int16)
    bad = ti == START
    out = np.full(ti.shape, _NO_SUM, np.int16)
    if width > ti.shape[1]:
        return out
    acc = np.zeros((ti.shape[0], ti.shape[1] - width + 1), np.int16)
    broken = np.zeros(acc.shape, bool)
    for k in range(width):
        acc += ti[:, k:ti.shape[1] - width + 1 + k]
        broken |= bad[:, k:ti.shape[1] - width + 1 + k]
    out[:, width - 1:] = np.where(broken, _NO_SUM, acc)
    return out


def _shift(a: np.ndarray, by: int, fill: float) -> np.ndarray:
    """(C, L) from a (C, L + 1) row of the table: column ``j`` holds ``a[:, j + 1 - by]``
    (``fill`` where that is before column 0)."""
    c, width = a.shape
    if by == 1:
        return a[:, :-1]
    head = np.full((c, by - 1), fill, a.dtype)
    return np.concatenate([head, a[:, :width - by]], axis=1)


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
    keep_q = np.asarray(q_interval) != START
    q_iv = np.asarray(q_interval, np.int64)[keep_q]
    q_rh = np.asarray(q_rhythm, np.int64)[keep_q]
    sums = {w: window_sums(t_interval, w) for w in {l for _, l in s.merges}}
    zero = (np.zeros((c, length + 1), np.float32), np.zeros((c, length + 1), np.int64))
    past = [zero]  # rows i - 1, i - 2, ... of (H, start), each (C, L + 1); row 0 first
    best = np.zeros(c, np.float32)
    best_start = np.full(c, -1, np.int64)
    best_end = np.full(c, -1, np.int64)
    rows = np.arange(c)
    for i in range(len(q_iv)):
        h_prev, st_prev = past[-1]
        sub = substitution(int(q_iv[i]), int(q_rh[i]), t_interval, t_rhythm, s)  # (C, L)
        diag = h_prev[:, :-1] + sub
        up = h_prev[:, 1:] + gap  # the query symbol skipped
        e = np.maximum(diag, up)
        e_start = np.where(diag >= up, np.where(h_prev[:, :-1] > 0, st_prev[:, :-1], places),
                           st_prev[:, 1:])
        for k, l in s.merges:
            if i + 1 < k:
                continue
            h_k, st_k = past[-k]
            unit = np.where(sums[l] == int(q_iv[i + 1 - k:i + 1].sum()),
                            _shift(h_k, l, 0.0) + np.float32(s.merge * k),
                            np.float32(_NEVER))
            fresh = places - (l - 1)  # the first tune place the unit covers
            unit_start = np.where(_shift(h_k, l, 0.0) > 0, _shift(st_k, l, 0), fresh)
            better = unit > e
            e = np.where(better, unit, e)
            e_start = np.where(better, unit_start, e_start)
        keep = e > 0
        e = np.where(keep, e, np.float32(0))
        # left moves (tune symbols skipped): running max of e - gap*k, plus gap*j
        val = e - ramp
        run = np.maximum.accumulate(val, axis=1)
        arg = np.maximum.accumulate(np.where(val >= run, places, 0), axis=1)
        h = run + ramp
        h_start = np.take_along_axis(e_start, arg, axis=1)
        past.append((np.concatenate([np.zeros((c, 1), np.float32), h], axis=1),
                     np.concatenate([np.zeros((c, 1), np.int64), h_start], axis=1)))
        past = past[-4:]
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
