"""Interval n-gram profiles of melodies: raw counts (near-duplicates, as the leakage
check measures them) and scikit-learn TF-IDF (the symbolic similar-tune baseline).

A melody's profile is the bag of its pitch-interval 4-grams
(:func:`folkclip.data.splits.interval_ngrams`), so it does not change under transposition.
Counts are kept in CSR rows; TF-IDF in CSC columns, so that a query touches only the
posting lists of its own n-grams.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from folkclip.data.splits import interval_ngrams

NGRAM = 4  # as in the leakage check (folkclip data check-leakage)
NEAR_DUPLICATE = 0.9  # cosine of count profiles; the leakage check's default threshold


def ngram_document(pitches: Sequence[int], n: int = NGRAM) -> str:
    """A melody's interval n-grams as one space-separated string of tokens (``2_-2_0_5``)."""
    return " ".join("_".join(map(str, g)) for g in interval_ngrams(list(pitches), n))


def pitches_of(tune: object) -> list[int]:
    """MIDI pitches of a :class:`~folkclip.abc.model.Tune`'s notes (rests left out)."""
    return [n.pitch for n in tune.notes if n.pitch is not None]  # type: ignore[attr-defined]


def pitch_array(tune: object) -> np.ndarray:
    """:func:`pitches_of` as a compact (P,) int16 array (a reading feature of the index)."""
    return np.array(pitches_of(tune), dtype=np.int16)


_STEP_BITS = 10  # one interval in 10 bits: |interval| < 512 (pitches lie within 0..127)
_STEP_OFFSET = 1 << (_STEP_BITS - 1)


def ngram_counts(pitch_arrays: Sequence[np.ndarray], n: int = NGRAM
                 ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Interval n-grams of many melodies at once, without a Python loop over notes.

    Returns:
        The distinct n-gram tokens (as :func:`ngram_document` writes them) sorted as
        strings, and per occurrence its melody (row) and its token's position (column).
    """
    lens = np.array([len(p) for p in pitch_arrays], dtype=np.int64)
    if not len(lens) or lens.sum() == 0:
        return [], np.zeros(0, np.int64), np.zeros(0, np.int64)
    flat = np.concatenate([np.asarray(p, dtype=np.int64) for p in pitch_arrays])  # (P,)
    ends = np.cumsum(lens)  # one past each melody's last note
    steps = np.diff(flat) + _STEP_OFFSET  # (P-1,) interval from note k to k+1
    m = len(steps) - n + 1  # n-grams starting at notes 0..m-1 (some cross melodies)
    if m <= 0:
        return [], np.zeros(0, np.int64), np.zeros(0, np.int64)
    keys = np.zeros(m, np.int64)
    for j in range(n):
        keys |= steps[j:j + m] << (_STEP_BITS * j)
    row = np.repeat(np.arange(len(lens)), lens)[:m]
    valid = np.arange(m) + n < ends[row]  # the n-gram's last note is in the same melody
    keys, row = keys[valid], row[valid]
    uniq, inverse = np.unique(keys, return_inverse=True)
    mask = (1 << _STEP_BITS) - 1
    tokens = ["_".join(str(((int(k) >> (_STEP_BITS * j)) & mask) - _STEP_OFFSET)
                       for j in range(n)) for k in uniq]
    order = sorted(range(len(tokens)), key=tokens.__getitem__)  # CountVectorizer's order
    column = np.empty(len(order), np.int64)
    column[order] = np.arange(len(order))
    return [tokens[i] for i in order], row, column[inverse]


class Profiles:
    """Count and TF-IDF profiles of the indexed tunes.

    Attributes:
        vocab: n-gram token -> column.
        idf: (V,) inverse document frequencies (scikit-learn's smoothed idf).
        counts: (N, V) CSR count profiles, rows L2-normalised.
        tfidf: (N, V) CSC TF-IDF profiles, rows L2-normalised.
    """

    def __init__(self, vocab: dict[str, int], idf: np.ndarray, counts, tfidf) -> None:
        self.vocab, self.idf, self.counts, self.tfidf = vocab, idf, counts, tfidf

    @classmethod
    def fit(cls, documents: Sequence[str]) -> Profiles:
        """Count n-grams with CountVectorizer and weight them with TfidfTransformer."""
        from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
        from sklearn.preprocessing import normalize

        cv = CountVectorizer(analyzer=str.split, dtype=np.float32)
        counts = cv.fit_transform(documents)  # (N, V)
        tt = TfidfTransformer().fit(counts)
        tfidf = tt.transform(counts).astype(np.float32).tocsc()
        vocab = {t: int(i) for t, i in cv.vocabulary_.items()}
        return cls(vocab, tt.idf_.astype(np.float32), normalize(counts).tocsr(), tfidf)

    @classmethod
    def from_pitches(cls, pitch_arrays: Sequence[np.ndarray]) -> Profiles:
        """:meth:`fit` of the melodies' :func:`ngram_document` texts, computed from their
        pitches in bulk (the same vocabulary, counts and weights)."""
        from scipy import sparse
        from sklearn.feature_extraction.text import TfidfTransformer
        from sklearn.preprocessing import normalize

        tokens, rows, cols = ngram_counts(pitch_arrays)
        counts = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                                   shape=(len(pitch_arrays), len(tokens)), dtype=np.float32)
        counts.sum_duplicates()
        vocab = {t: i for i, t in enumerate(tokens)}
        if not tokens:  # no melody has n notes: empty profiles, every score 0
            return cls(vocab, np.zeros(0, np.float32), counts, counts.tocsc())
        tt = TfidfTransformer().fit(counts)
        tfidf = tt.transform(counts).astype(np.float32).tocsc()
        return cls(vocab, tt.idf_.astype(np.float32), normalize(counts).tocsr(), tfidf)

    def query(self, document: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Columns, normalised counts and normalised TF-IDF weights of a new melody."""
        cols: dict[int, float] = {}
        for tok in document.split():
            c = self.vocab.get(tok)
            if c is not None:
                cols[c] = cols.get(c, 0.0) + 1.0
        idx = np.array(sorted(cols), dtype=np.int64)
        cnt = np.array([cols[c] for c in idx.tolist()], dtype=np.float32)
        w = cnt * self.idf[idx] if len(idx) else cnt
        return idx, cnt / max(float(np.linalg.norm(cnt)), 1e-9), \
            w / max(float(np.linalg.norm(w)), 1e-9)

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Columns, counts and TF-IDF weights of indexed tune ``i`` (as :meth:`query`)."""
        r = self.counts[i]
        idx = r.indices.astype(np.int64)
        order = np.argsort(idx)
        idx, cnt = idx[order], r.data[order]
        w = np.asarray(self.tfidf[i, idx].todense()).ravel() if len(idx) else cnt
        return idx, cnt, w.astype(np.float32)

    def tfidf_scores(self, idx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """(N,) cosine of every indexed tune's TF-IDF profile with a query's."""
        if len(idx) == 0:
            return np.zeros(self.tfidf.shape[0], np.float32)
        return np.asarray(self.tfidf[:, idx] @ weights).ravel().astype(np.float32)

    def count_cosine(self, rows: np.ndarray, idx: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Cosine of the count profiles of indexed tunes ``rows`` with a query's."""
        if len(idx) == 0 or len(rows) == 0:
            return np.zeros(len(rows), np.float32)
        sub = self.counts[rows][:, idx]  # (R, q)
        return np.asarray(sub @ counts).ravel().astype(np.float32)

    def save(self, folder: Path) -> None:
        from scipy import sparse

        (folder / "ngram_vocab.json").write_text(json.dumps(self.vocab))
        np.save(folder / "ngram_idf.npy", self.idf)
        sparse.save_npz(folder / "ngram_counts.npz", self.counts)
        sparse.save_npz(folder / "ngram_tfidf.npz", self.tfidf)

    @classmethod
    def load(cls, folder: Path) -> Profiles:
        from scipy import sparse

        return cls(json.loads((folder / "ngram_vocab.json").read_text()),
                   np.load(folder / "ngram_idf.npy"),
                   sparse.load_npz(folder / "ngram_counts.npz").tocsr(),
                   sparse.load_npz(folder / "ngram_tfidf.npz").tocsc())
