"""Queries for ``benchmarks/identify.py``: fragments of indexed melodies, typed as a
player would (another key, another tempo, a note or two changed, ornaments added or
removed), held-out identity groups, and a synthetic collection for latency at scale.

Every function takes a ``numpy`` Generator, so a seed fixes every query.
"""

from __future__ import annotations

import numpy as np

from folkclip.identify.melody import Melody
from folkclip.identify.notes import QueryNotes

EDITS = ("wrong_note", "ornament_add", "passing_note", "ornament_remove")
HELD_OUT_SHARE = 0.08  # of the identity groups: one share to calibrate on, one to measure on
TARGET_FALSE_IDENTIFICATION = 0.03  # on the calibration queries (the goal is <= 5%)


def fragment(m: Melody, bars: int, rng: np.random.Generator) -> np.ndarray | None:
    """Note indices of ``bars`` consecutive bars (in playing order, so a fragment may run
    across a repeat) from a random place; ``None`` when the melody is shorter."""
    starts = np.concatenate([[0], np.nonzero(np.diff(m.bar) != 0)[0] + 1, [len(m.bar)]])
    if len(starts) < bars + 2:
        return None
    k = int(rng.integers(0, len(starts) - bars - 1))
    return np.arange(starts[k], starts[k + bars])


def _ioi(m: Melody, idx: np.ndarray) -> np.ndarray:
    nxt = np.minimum(idx + 1, len(m.onset_beats) - 1)
    ioi = m.onset_beats[nxt] - m.onset_beats[idx]
    last = idx == len(m.onset_beats) - 1
    ioi[last] = m.duration_beats[idx[last]]
    return np.maximum(ioi, 1e-6)


def apply_edit(pitch: list[float], dur: list[float], kind: str, rng: np.random.Generator
               ) -> str:
    """Change the note lists in place by one edit of ``kind``; returns the kind applied
    (an ornament that cannot be removed is added instead, a passing note with no third to
    fill becomes a wrong note)."""
    n = len(pitch)
    if kind == "ornament_remove":
        spots = [i for i in range(n - 2) if pitch[i] == pitch[i + 2] != pitch[i + 1]
                 and dur[i] == dur[i + 1] == dur[i + 2]]
        if spots:
            i = spots[int(rng.integers(len(spots)))]
            pitch[i:i + 3] = [pitch[i]]
            dur[i:i + 3] = [3 * dur[i]]
            return kind
        kind = "ornament_add"
    if kind == "passing_note":
        spots = [i for i in range(n - 1) if abs(pitch[i + 1] - pitch[i]) in (3, 4)]
        if spots:
            i = spots[int(rng.integers(len(spots)))]
            step = 2 if pitch[i + 1] > pitch[i] else -2
            d = dur[i] / 2
            pitch[i:i + 1] = [pitch[i], pitch[i] + step]
            dur[i:i + 1] = [d, d]
            return kind
        kind = "wrong_note"
    i = int(rng.integers(n))
    if kind == "ornament_add":  # a note turned into a triplet turn: p, upper neighbour, p
        d = dur[i] / 3
        pitch[i:i + 1] = [pitch[i], pitch[i] + int(rng.choice([1, 2])), pitch[i]]
        dur[i:i + 1] = [d, d, d]
        return kind
    pitch[i] += int(rng.choice([-2, -1, 1, 2]))
    return "wrong_note"


def typed_query(m: Melody, bars: int, rng: np.random.Generator, edits: bool = True,
                source: str = "typed") -> QueryNotes | None:
    """``bars`` bars from a random place, transposed by -6..6 semitones (not 0), played at
    0.8-1.25 times the tempo, with 1-2 edits (:data:`EDITS`) when ``edits``."""
    idx = fragment(m, bars, rng)
    if idx is None:
        return None
    pitch = (m.midi_pitch[idx].astype(float) + int(rng.choice([-6, -5, -4, -3, -2, -1, 1, 2,
                                                               3, 4, 5, 6]))).tolist()
    dur = (_ioi(m, idx) * float(rng.uniform(0.8, 1.25))).tolist()
    if edits:
        for _ in range(int(rng.integers(1, 3))):
            apply_edit(pitch, dur, EDITS[int(rng.integers(len(EDITS)))], rng)
    d = np.array(dur)
    onset = np.concatenate([[0.0], np.cumsum(d)[:-1]])
    return QueryNotes(np.array(pitch), onset, d, source)


def held_out_groups(groups: np.ndarray, share: float, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint sets of whole identity groups, each ``share`` of the groups: one to
    calibrate the threshold on, one to measure it on. Returns two boolean (N,) masks."""
    uniq = rng.permutation(np.unique(groups))
    cut = int(round(share * len(uniq)))
    return np.isin(groups, uniq[:cut]), np.isin(groups, uniq[cut:2 * cut])


def synthetic_melodies(melodies: list[Melody], n: int, rng: np.random.Generator
                       ) -> list[Melody]:
    """``n`` melodies made of real bars: each takes 16-32 bars at random from random
    melodies, so that interval n-grams occur about as often as in real tunes (the rhythm
    is plain eighths: only the work of a query is measured on them)."""
    chunks = []  # the pitches of every bar, in playing order
    for m in melodies:
        starts = np.concatenate([[0], np.nonzero(np.diff(m.bar) != 0)[0] + 1, [len(m.bar)]])
        chunks += [m.midi_pitch[a:b] for a, b in zip(starts[:-1], starts[1:]) if b > a]
    out = []
    for _ in range(n):
        picks = rng.integers(0, len(chunks), int(rng.integers(16, 33)))
        pitch = np.concatenate([chunks[p] for p in picks]).astype(np.int16)
        bar = np.concatenate([np.full(len(chunks[p]), j, np.int32)
                              for j, p in enumerate(picks)])
        onset = np.arange(len(pitch), dtype=np.float64) * 0.5
        out.append(Melody(pitch, onset, np.full(len(pitch), 0.5), bar, False))
    return out


def fit_calibration(feats: list[list[float]], right: list[int], outside: list[bool],
                    target: float = TARGET_FALSE_IDENTIFICATION) -> tuple[object, list[str]]:
    """The confidence's logistic weights and threshold from calibration queries.

    Args:
        feats: Per query, the best match's (normalised score, margin, log intervals).
        right: 1 where that match is the query's own identity group.
        outside: True for a query from a group left out of the ranking.
        target: Share of the out-of-collection queries the threshold lets pass.

    Returns:
        A :class:`~folkclip.identify.calibration.Calibration` (scikit-learn
        ``LogisticRegression(C=100)``, threshold at the ``1 - target`` quantile of the
        out-of-collection confidences, at least 0.5) and lines that say how it was set.
    """
    from sklearn.linear_model import LogisticRegression

    from folkclip.identify.calibration import Calibration

    x, y, out = np.array(feats), np.array(right), np.array(outside)
    lr = LogisticRegression(C=100.0, max_iter=1000).fit(x, y)
    conf = lr.predict_proba(x)[:, 1]
    lines = []
    for fir in (0.05, 0.04, 0.03, 0.02):
        t = float(np.quantile(conf[out], 1 - fir))
        lines.append(f"threshold {t:.3f}: {np.mean(conf[out] >= t):.3f} of out-of-collection "
                     f"queries pass, {np.mean(conf[~out & (y == 1)] >= t):.3f} of right "
                     "in-collection answers")
    thr = max(0.5, float(np.quantile(conf[out], 1 - target)))
    w = lr.coef_[0]
    cal = Calibration(intercept=round(float(lr.intercept_[0]), 3), w_score=round(float(w[0]), 3),
                      w_margin=round(float(w[1]), 3), w_log_symbols=round(float(w[2]), 3),
                      threshold=round(thr, 3))
    lines.append(f"{cal}")
    lines.append(f"calibration queries: {len(y)} ({int(out.sum())} out of collection); at that "
                 f"threshold {np.mean(conf[out] >= thr):.3f} of them pass, "
                 f"{np.mean(conf[~out & (y == 1)] >= thr):.3f} of the right in-collection "
                 "answers")
    return cal, lines
