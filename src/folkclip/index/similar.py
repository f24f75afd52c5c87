"""Scoring similar tunes: the tune tower's cosine, interval n-gram TF-IDF, or both.

``benchmarks/similar_quality.py`` measures the three on versions of one tune (tunes
sharing a title identity group across files); :data:`DEFAULT_MODE`,
:data:`EMBEDDING_WEIGHT` and :data:`ALIGN_DEFAULT` are set from that measurement. With the
``make demo`` model (10 epochs on ``default``), MAP on ``default`` (726 queries): embedding
0.453, TF-IDF 0.663, combined (w = 0.5) 0.637, combined re-ranked by alignment
(:mod:`folkclip.index.rerank`) 0.656, TF-IDF re-ranked 0.673. Re-ranking beats the combined
score (paired difference +0.020, CI +0.011 to +0.029), so it is on by default; it is level
with TF-IDF alone (-0.007, CI -0.017 to +0.003). Combined was chosen with an earlier
2-epoch model, with which it matched TF-IDF (0.662 vs 0.663); with the demo model it is
below TF-IDF (-0.026, CI -0.038 to -0.016), and TF-IDF re-ranked is the best measured
(+0.010 over TF-IDF, CI +0.002 to +0.018; found after that first run, so not yet the
default).
"""

from __future__ import annotations

import numpy as np

from folkclip.index.profiles import Profiles
from folkclip.index.vectors import EXACT_UP_TO, VectorIndex

MODES = ("embedding", "tfidf", "combined")
DEFAULT_MODE = "combined"
ALIGN_DEFAULT = True  # re-rank the best tunes by alignment (folkclip.index.rerank)
EMBEDDING_WEIGHT = 0.5  # combined = w * embedding cosine + (1 - w) * TF-IDF cosine
CANDIDATES = 200  # per method, beyond EXACT_UP_TO tunes, for the combined score


def full_scores(vectors: np.ndarray, profiles: Profiles, vector: np.ndarray,
                cols: np.ndarray, weights: np.ndarray, mode: str,
                w: float = EMBEDDING_WEIGHT) -> np.ndarray:
    """(N,) similarity of every indexed tune to a query under ``mode``.

    Args:
        vectors: (N, D) tune vectors.
        profiles: The index's n-gram profiles.
        vector: (D,) the query's tune vector.
        cols: The query's n-gram columns; weights: its TF-IDF weights (see
            :meth:`Profiles.query`).
        mode: One of :data:`MODES`.
        w: Embedding weight of the combined score.
    """
    if mode == "embedding":
        return vectors @ vector
    tf = profiles.tfidf_scores(cols, weights)
    if mode == "tfidf":
        return tf
    return w * (vectors @ vector) + (1 - w) * tf


def top_similar(index: VectorIndex, profiles: Profiles, vector: np.ndarray, cols: np.ndarray,
                weights: np.ndarray, k: int, exclude: set[int], mode: str = DEFAULT_MODE,
                w: float = EMBEDDING_WEIGHT) -> list[tuple[int, float]]:
    """The ``k`` most similar tunes (id, score), best first, without ``exclude``.

    Up to :data:`EXACT_UP_TO` tunes every score is computed; beyond, the embedding
    candidates come from the vector index and the combined score is computed on the
    union of both methods' :data:`CANDIDATES` best.
    """
    n = len(index)
    want = k + len(exclude)
    if n <= EXACT_UP_TO or mode == "tfidf":
        scores = full_scores(index.vectors, profiles, vector, cols, weights, mode, w)
        return _best(scores, np.arange(n), k, exclude)
    if mode == "embedding":
        s, ids = index.search(vector, want)
        return _best(s[0], ids[0], k, exclude)
    _, emb_ids = index.search(vector, max(CANDIDATES, want))
    tf = profiles.tfidf_scores(cols, weights)
    tf_ids = np.argpartition(-tf, min(CANDIDATES, n - 1))[:CANDIDATES]
    cand = np.union1d(emb_ids[0][emb_ids[0] >= 0], tf_ids)
    scores = w * (index.vectors[cand] @ vector) + (1 - w) * tf[cand]
    return _best(scores, cand, k, exclude)


def _best(scores: np.ndarray, ids: np.ndarray, k: int, exclude: set[int]
          ) -> list[tuple[int, float]]:
    want = k + len(exclude)
    if len(scores) > 4 * want + 64:  # sort only the best few
        keep = np.argpartition(-scores, want)[:want + 1]
        scores, ids = scores[keep], ids[keep]
    order = np.lexsort((ids, -scores))  # ties: lower id first
    out = []
    for j in order:
        if int(ids[j]) in exclude:
            continue
        out.append((int(ids[j]), float(scores[j])))
        if len(out) == k:
            break
    return out
