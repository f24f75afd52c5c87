"""Baselines without a trained two-tower model: nearest-melody title transfer.

For a query tune, its k nearest training tunes by interval n-gram TF-IDF
(:class:`folkclip.index.profiles.Profiles`) vote for each candidate title with their own
titles' similarity to it (MiniLM vectors in the study), each vote weighted by the
neighbour's melody similarity:

    score(q, m) = Σ_{j ∈ top-k(q)} melody_sim(q, j) · title_sim(j, m)

The reverse (title → tune) is the same with the roles swapped: a title query's k nearest
training titles vote for each candidate tune with their melodies' similarity to it,
weighted by title similarity. ``k`` is chosen on validation queries (:func:`choose_k`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from folkclip.eval.metrics import per_query_metrics

K_CHOICES = (1, 3, 5, 10, 20, 50)  # neighbour counts tried on validation


def neighbour_scores(query_sim: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Similarity-weighted sum over each query's ``k`` most similar training items.

    Args:
        query_sim: (Q, T) similarity of each query to each training item.
        values: (T, C) what each training item says about each candidate.
        k: Neighbours per query (ties broken by the lower training index).

    Returns:
        (Q, C) scores; negative similarities count as 0.
    """
    q, t = query_sim.shape
    k = min(k, t)
    if k <= 0 or q == 0:
        return np.zeros((q, values.shape[1]), dtype=np.float32)
    order = np.argsort(-query_sim, axis=1, kind="stable")[:, :k]  # (Q, k)
    weights = np.zeros_like(query_sim, dtype=np.float32)  # (Q, T)
    rows = np.arange(q)[:, None]
    weights[rows, order] = np.maximum(query_sim[rows, order], 0.0)
    return weights @ values.astype(np.float32)  # (Q, C)


def tfidf_similarity(query_pitches: Sequence[Sequence[int]],
                     train_pitches: Sequence[Sequence[int]]) -> np.ndarray:
    """Cosine of interval 4-gram TF-IDF profiles, fitted on the training melodies.

    Returns:
        (Q, T) float32 similarities.
    """
    from scipy import sparse

    from folkclip.index.profiles import Profiles, ngram_document

    profiles = Profiles.fit([ngram_document(p) for p in train_pitches])
    rows, cols, vals = [], [], []
    for i, p in enumerate(query_pitches):
        idx, _, w = profiles.query(ngram_document(p))
        rows += [i] * len(idx)
        cols += idx.tolist()
        vals += w.tolist()
    queries = sparse.csr_matrix((vals, (rows, cols)),
                                shape=(len(query_pitches), len(profiles.vocab)))
    return np.asarray((queries @ profiles.tfidf.T).todense(), dtype=np.float32)


def mean_rr(scores: np.ndarray, relevant: Sequence[Sequence[int]]) -> float:
    """Mean reciprocal rank of ``scores`` (Q, C) against the relevant candidates."""
    rr = per_query_metrics(scores, [np.asarray(r, dtype=np.int64) for r in relevant])["rr"]
    return float(np.mean(rr)) if len(rr) else 0.0


def choose_k(score_of: Callable[[int], np.ndarray], relevant: Sequence[Sequence[int]],
             ks: Sequence[int] = K_CHOICES) -> tuple[int, dict[int, float]]:
    """The ``k`` whose scores (``score_of(k)``, (Q, C)) give the highest MRR on the
    validation queries ``relevant`` (the smallest k among ties). Any ordered setting
    serves as ``k``: the linear baseline chooses its ridge penalty with it.

    Returns:
        ``(k, {k: MRR})``.
    """
    mrr = {k: mean_rr(score_of(k), relevant) for k in ks}
    best = max(mrr.values())
    return min(k for k, v in mrr.items() if v == best), mrr
