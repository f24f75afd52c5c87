"""How well labelled groups separate in an embedding space, under cosine distance.

Pure numpy functions over an (N, D) embedding matrix and N hashable labels (e.g. tune
types): the mean silhouette coefficient and leave-one-out k-nearest-neighbour accuracy.
Rows need not be normalised (they are scaled to unit length here); the cosine distance
is ``1 - cos``, clipped to [0, 2], as in scikit-learn. Work is done in row blocks, so
memory grows with N, not N².
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np

_BLOCK = 512  # rows of the distance matrix held at once


def _unit_rows(emb: np.ndarray) -> np.ndarray:
    x = np.asarray(emb, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be (N, D), got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)  # (N, 1)
    return x / np.where(norms > 0, norms, 1.0)


def _codes(labels: Sequence[Hashable], n: int) -> tuple[np.ndarray, int]:
    """Labels -> (N,) int codes in order of first appearance, and the number of groups."""
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} embeddings")
    index: dict[Hashable, int] = {}
    codes = np.array([index.setdefault(lab, len(index)) for lab in labels], dtype=np.int64)
    return codes, len(index)


def _distances(x: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Cosine distances of rows ``start:stop`` to all rows: (B, N), self-distance 0."""
    d = np.clip(1.0 - x[start:stop] @ x.T, 0.0, 2.0)  # (B, N)
    rows = np.arange(stop - start)
    d[rows, rows + start] = 0.0
    return d


def silhouette(emb: np.ndarray, labels: Sequence[Hashable]) -> float:
    """Mean silhouette coefficient of ``labels`` under cosine distance.

    For each item, ``a`` is its mean distance to the other members of its group and ``b``
    the smallest mean distance to the members of another group; its coefficient is
    ``(b - a) / max(a, b)`` (0 when both are 0). Members of one-item groups score 0, as in
    ``sklearn.metrics.silhouette_score``.

    Args:
        emb: (N, D) embeddings.
        labels: N group labels.

    Returns:
        The mean over all items, in [-1, 1]; NaN with fewer than two groups.
    """
    x = _unit_rows(emb)
    codes, n_groups = _codes(labels, len(x))
    if n_groups < 2:
        return float("nan")
    n = len(x)
    onehot = np.zeros((n, n_groups))  # (N, C)
    onehot[np.arange(n), codes] = 1.0
    sizes = onehot.sum(0)  # (C,)
    scores = np.zeros(n)
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        rows = np.arange(stop - start)
        own = codes[start:stop]  # (B,)
        sums = _distances(x, start, stop) @ onehot  # (B, C) summed distance to each group
        a = sums[rows, own] / np.maximum(sizes[own] - 1, 1)  # (B,)
        means = sums / sizes  # (B, C)
        means[rows, own] = np.inf
        b = means.min(1)  # (B,)
        denom = np.maximum(a, b)
        s = np.divide(b - a, denom, out=np.zeros_like(a), where=denom > 0)
        s[sizes[own] == 1] = 0.0
        scores[start:stop] = s
    return float(scores.mean())


def knn_predictions(emb: np.ndarray, labels: Sequence[Hashable], k: int = 10) -> list[Hashable]:
    """Leave-one-out k-nearest-neighbour label of each item under cosine distance.

    Each item's ``k`` nearest other items (``N - 1`` when fewer; equal distances are
    ordered by index) vote with equal weight; among labels tied for the most votes the
    one held by the nearest of the neighbours wins.

    Args:
        emb: (N, D) embeddings.
        labels: N labels.
        k: Neighbours per item.

    Returns:
        N predicted labels (empty when N < 2).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    x = _unit_rows(emb)
    codes, n_groups = _codes(labels, len(x))
    n = len(x)
    if n < 2:
        return []
    names = list(dict.fromkeys(labels))  # code -> label
    k = min(k, n - 1)
    out: list[Hashable] = []
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        d = _distances(x, start, stop)  # (B, N)
        d[np.arange(stop - start), np.arange(start, stop)] = np.inf  # leave the item out
        kth = np.partition(d, k - 1, axis=1)[:, k - 1]  # (B,) distance of the k-th neighbour
        for r in range(stop - start):
            cand = np.flatnonzero(d[r] <= kth[r])
            near = cand[np.lexsort((cand, d[r, cand]))][:k]  # (k,) nearest first
            votes = codes[near]
            counts = np.bincount(votes, minlength=n_groups)
            tied = counts == counts.max()
            out.append(names[next(int(v) for v in votes if tied[v])])
    return out


def knn_accuracy(emb: np.ndarray, labels: Sequence[Hashable], k: int = 10) -> float:
    """Share of items whose leave-one-out k-NN label (:func:`knn_predictions`) is their own.

    Args:
        emb: (N, D) embeddings.
        labels: N labels.
        k: Neighbours per item.

    Returns:
        Accuracy in [0, 1]; NaN with fewer than two items or two distinct labels.
    """
    if len(set(labels)) < 2:
        return float("nan")
    pred = knn_predictions(emb, labels, k)
    return float(np.mean([p == t for p, t in zip(pred, labels)]))


def majority_share(labels: Sequence[Hashable]) -> float:
    """Share of the most frequent label (what always guessing it scores); NaN when empty."""
    if not len(labels):
        return float("nan")
    return max(Counter(labels).values()) / len(labels)
