"""Retrieval metrics for two-tower tune/title evaluation (binary relevance, numpy only).

Conventions used throughout:

* ``scores`` is a ``(Q, C)`` similarity matrix; higher means more similar.
* Every candidate is ranked (full ranking, no cut-off unless a metric takes ``k``).
* Ranks are 1-based. Ties are broken deterministically: candidates are ordered by
  descending score and, among equal scores, by ascending candidate index (what a
  stable sort of ``-scores`` gives).
* Per-query metrics take the 1-based ranks of a query's relevant candidates.
  ``n_relevant`` defaults to ``len(ranks)``; pass a larger value when some relevant
  items were not ranked at all (they then count as misses).
* A query with no relevant candidate has undefined metrics: per-query values are NaN,
  and :func:`retrieval_metrics` leaves it out of the means and of ``n_queries``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

_CHUNK_ELEMENTS = 1 << 22  # ~4M score entries per working block in rank_positions
_NDCG_CUTOFF = 10


def rank_positions(
    scores: np.ndarray, relevant: Sequence[np.ndarray | list[int]]
) -> list[np.ndarray]:
    """1-based ranks of each query's relevant candidates in the full ranking.

    The rank of relevant candidate ``r`` of query ``q`` is
    ``1 + #{c: s[q, c] > s[q, r]} + #{c < r: s[q, c] == s[q, r]}``, i.e. its position
    after a stable sort by descending score (ties go to the lower candidate index).
    Work is done in blocks of (query, relevant item) pairs, so memory stays at a few
    tens of MB even for ``Q = C = 5000``; no ``(Q, C)`` argsort is built.

    Args:
        scores: ``(Q, C)`` finite similarity matrix, higher is better.
        relevant: ``Q`` collections of relevant candidate indices in ``[0, C)``.
            Duplicates are ignored; an empty collection gives an empty result.

    Returns:
        ``Q`` int64 arrays, each sorted ascending, one rank per distinct relevant item.

    Raises:
        ValueError: on a non-2D or non-finite ``scores``, a length mismatch, or an
            out-of-range index.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (Q, C), got shape {scores.shape}")
    n_q, n_c = scores.shape
    if len(relevant) != n_q:
        raise ValueError(f"{len(relevant)} relevance lists for {n_q} queries")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or inf")
    rel = [np.unique(np.asarray(r, dtype=np.int64).reshape(-1)) for r in relevant]
    lens = np.array([len(r) for r in rel], dtype=np.int64)  # (Q,)
    if lens.sum() == 0:
        return [np.empty(0, dtype=np.int64) for _ in range(n_q)]
    q_of = np.repeat(np.arange(n_q), lens)  # (P,) query of each pair
    r_of = np.concatenate(rel)  # (P,) relevant candidate of each pair
    if r_of.min() < 0 or r_of.max() >= n_c:
        raise ValueError(f"relevant index out of range [0, {n_c})")
    cand = np.arange(n_c)[None, :]  # (1, C)
    ranks = np.empty(len(q_of), dtype=np.int64)  # (P,)
    step = max(1, _CHUNK_ELEMENTS // max(n_c, 1))
    for lo in range(0, len(q_of), step):
        q, r = q_of[lo : lo + step], r_of[lo : lo + step]
        rows = scores[q]  # (p, C)
        s_rel = scores[q, r][:, None]  # (p, 1)
        better = (rows > s_rel).sum(axis=1)
        tied_before = ((rows == s_rel) & (cand < r[:, None])).sum(axis=1)
        ranks[lo : lo + step] = 1 + better + tied_before
    return [np.sort(part) for part in np.split(ranks, np.cumsum(lens)[:-1])]


def _prep(ranks: np.ndarray | Sequence[int], n_relevant: int | None) -> tuple[np.ndarray, int]:
    r = np.sort(np.asarray(ranks, dtype=np.int64).reshape(-1))
    if r.size and r[0] < 1:
        raise ValueError("ranks are 1-based and must be >= 1")
    if r.size > 1 and np.any(r[1:] == r[:-1]):
        raise ValueError("ranks must be distinct")
    n = r.size if n_relevant is None else int(n_relevant)
    if n < r.size:
        raise ValueError(f"n_relevant={n} is smaller than the {r.size} ranks given")
    return r, n


def reciprocal_rank(ranks: np.ndarray | Sequence[int], n_relevant: int | None = None) -> float:
    """``1 / min(ranks)``; 0 if none of ``n_relevant`` items was ranked, NaN if none exist."""
    r, n = _prep(ranks, n_relevant)
    if n == 0:
        return float("nan")
    return float(1.0 / r[0]) if r.size else 0.0


def dcg(ranks: np.ndarray | Sequence[int], k: int | None = None) -> float:
    """Binary-relevance DCG ``sum(1 / log2(rank + 1))`` over ranks (``<= k`` if given)."""
    r, _ = _prep(ranks, None)
    if k is not None:
        r = r[r <= k]
    return float(np.sum(1.0 / np.log2(r + 1.0)))


def ndcg(
    ranks: np.ndarray | Sequence[int], k: int | None = None, n_relevant: int | None = None
) -> float:
    """DCG over the ideal DCG (all relevant items at ranks ``1..n_relevant``).

    With ``k``, only ranks ``<= k`` count and the ideal list is truncated to
    ``min(n_relevant, k)`` items. NaN when there are no relevant items.
    """
    r, n = _prep(ranks, n_relevant)
    if n == 0:
        return float("nan")
    n_ideal = n if k is None else min(n, k)
    ideal = float(np.sum(1.0 / np.log2(np.arange(1, n_ideal + 1) + 1.0)))
    return dcg(r, k) / ideal


def recall_at_k(
    ranks: np.ndarray | Sequence[int], k: int, n_relevant: int | None = None
) -> float:
    """Fraction of the relevant items ranked within the top ``k``; NaN if none exist."""
    r, n = _prep(ranks, n_relevant)
    if n == 0:
        return float("nan")
    return float(np.count_nonzero(r <= k) / n)


def hit_at_k(ranks: np.ndarray | Sequence[int], k: int, n_relevant: int | None = None) -> float:
    """1 if any relevant item is ranked within the top ``k``, else 0; NaN if none exist.

    This is the "R@k" of CLIP/MuLan/CLaMP papers (a hit rate); :func:`recall_at_k` is
    the fraction of the relevant items found, which is at most ``k / n_relevant``.
    """
    r, n = _prep(ranks, n_relevant)
    if n == 0:
        return float("nan")
    return float(r.size > 0 and r[0] <= k)


def average_precision(
    ranks: np.ndarray | Sequence[int], n_relevant: int | None = None
) -> float:
    """``(1 / n_relevant) * sum_i i / rank_i`` over sorted ranks; NaN if none exist."""
    r, n = _prep(ranks, n_relevant)
    if n == 0:
        return float("nan")
    return float(np.sum(np.arange(1, r.size + 1) / r) / n)


def per_query_metrics(
    scores: np.ndarray, relevant: Sequence[np.ndarray | list[int]], ks: Iterable[int] = (1, 5, 10)
) -> dict[str, np.ndarray]:
    """Per-query metric values, aligned with the rows of ``scores``.

    Args:
        scores: ``(Q, C)`` similarity matrix, higher is better.
        relevant: ``Q`` collections of relevant candidate indices.
        ks: cut-offs for ``recall@k`` and ``hit@k`` keys.

    Returns:
        Float arrays of shape ``(Q,)`` under ``rr``, ``dcg``, ``ndcg``, ``ndcg@10``,
        ``recall@k`` and ``hit@k`` for each ``k``, ``ap`` and ``first_rank``. Queries with
        no relevant candidate hold NaN everywhere (``dcg`` included).
    """
    ks = tuple(int(k) for k in ks)
    all_ranks = rank_positions(scores, relevant)
    keys = ["rr", "dcg", "ndcg", f"ndcg@{_NDCG_CUTOFF}", *(f"recall@{k}" for k in ks),
            *(f"hit@{k}" for k in ks), "ap", "first_rank"]
    out = {key: np.full(len(all_ranks), np.nan) for key in keys}
    for i, r in enumerate(all_ranks):
        if r.size == 0:
            continue
        out["rr"][i] = reciprocal_rank(r)
        out["dcg"][i] = dcg(r)
        out["ndcg"][i] = ndcg(r)
        out[f"ndcg@{_NDCG_CUTOFF}"][i] = ndcg(r, k=_NDCG_CUTOFF)
        for k in ks:
            out[f"recall@{k}"][i] = recall_at_k(r, k)
            out[f"hit@{k}"][i] = hit_at_k(r, k)
        out["ap"][i] = average_precision(r)
        out["first_rank"][i] = r[0]
    return out


def retrieval_metrics(
    scores: np.ndarray, relevant: Sequence[np.ndarray | list[int]], ks: Iterable[int] = (1, 5, 10)
) -> dict[str, float]:
    """Mean metrics over the queries that have at least one relevant candidate.

    Returns:
        ``mrr``, ``dcg``, ``ndcg``, ``ndcg@10``, ``recall@k`` and ``hit@k`` (each ``k``), ``map``
        (means of the per-query values), ``median_rank`` and ``mean_rank`` (median and
        mean of the first relevant rank) and ``n_queries`` (int, queries counted). All
        metrics are NaN when ``n_queries == 0``.
    """
    return aggregate(per_query_metrics(scores, relevant, ks))


def aggregate(per: dict[str, np.ndarray]) -> dict[str, float]:
    """Means of per-query metrics (as :func:`per_query_metrics` returns them, or pooled over
    cross-validation folds) over the queries that have a relevant candidate: the one
    aggregation behind :func:`retrieval_metrics` and the evaluation of a model."""
    valid = ~np.isnan(per["first_rank"])
    n = int(valid.sum())

    def agg(key: str, fn=np.mean) -> float:
        return float(fn(per[key][valid])) if n else float("nan")

    out = {"mrr": agg("rr"), "dcg": agg("dcg"), "ndcg": agg("ndcg")}
    out[f"ndcg@{_NDCG_CUTOFF}"] = agg(f"ndcg@{_NDCG_CUTOFF}")
    for key in per:
        if key.startswith(("recall@", "hit@")):
            out[key] = agg(key)
    out.update(map=agg("ap"), median_rank=agg("first_rank", np.median),
               mean_rank=agg("first_rank"), n_queries=n)
    return out


def bootstrap_ci(
    values: np.ndarray, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean
    (:func:`folkclip.eval.stats.bootstrap_mean_ci`, i.e. ``scipy.stats.bootstrap``).

    NaN entries (queries without relevant items) are dropped first; the resampling is
    fully determined by ``seed``.

    Returns:
        ``(low, high)`` quantiles ``alpha/2`` and ``1 - alpha/2`` of the resampled means;
        ``(nan, nan)`` for no finite values.
    """
    from folkclip.eval.stats import bootstrap_mean_ci

    if not 0.0 < alpha < 1.0 or n_boot < 1:
        raise ValueError("need 0 < alpha < 1 and n_boot >= 1")
    return bootstrap_mean_ci(values, n_boot, 1.0 - alpha, seed)


def _label_set(labels: set[str] | str | Iterable[str]) -> set[str]:
    return {labels} if isinstance(labels, str) else set(labels)


def relevance_from_labels(
    query_labels: Sequence[set[str] | str], candidate_labels: Sequence[set[str] | str]
) -> list[np.ndarray]:
    """Relevant candidate indices per query: candidates whose label set meets the query's.

    A plain string counts as a one-label set. Labels are compared exactly.

    Returns:
        One sorted int64 array per query (possibly empty).
    """
    index: dict[str, list[int]] = {}
    for j, labels in enumerate(candidate_labels):
        for label in _label_set(labels):
            index.setdefault(label, []).append(j)
    out = []
    for labels in query_labels:
        hits = [j for label in _label_set(labels) for j in index.get(label, ())]
        out.append(np.unique(np.asarray(hits, dtype=np.int64)))
    return out


def two_way_metrics(
    tune_emb: np.ndarray,
    title_emb: np.ndarray,
    tune_titles: Sequence[Sequence[str]],
    titles: Sequence[str],
) -> dict[str, float]:
    """Tune->title and title->tune retrieval metrics from embeddings.

    Similarity is the dot product (cosine for the L2-normalised inputs expected; the
    embeddings are not renormalised here).

    Args:
        tune_emb: ``(N, D)`` tune embeddings.
        title_emb: ``(M, D)`` embeddings of the ``M`` distinct titles.
        tune_titles: per tune, its title strings (main + alternatives), all in ``titles``.
        titles: the ``M`` distinct title strings, in ``title_emb`` row order.

    Returns:
        :func:`retrieval_metrics` keys prefixed ``tune_to_title/`` and ``title_to_tune/``
        (each with its own ``n_queries``; titles carried by no tune are not counted),
        plus ``n_tunes`` and ``n_titles``.

    Raises:
        ValueError: on shape mismatches, repeated titles or an unknown tune title.
    """
    tune_emb, title_emb = np.asarray(tune_emb), np.asarray(title_emb)
    if tune_emb.ndim != 2 or title_emb.ndim != 2 or tune_emb.shape[1] != title_emb.shape[1]:
        raise ValueError(f"bad embedding shapes {tune_emb.shape} and {title_emb.shape}")
    if len(tune_titles) != len(tune_emb) or len(titles) != len(title_emb):
        raise ValueError("tune_titles/titles do not match the embedding row counts")
    if len(set(titles)) != len(titles):
        raise ValueError("titles must be distinct")
    known = set(titles)
    tune_sets = [set(t) for t in tune_titles]
    for i, ts in enumerate(tune_sets):
        if not ts <= known:
            raise ValueError(f"tune {i} has titles missing from `titles`: {sorted(ts - known)}")
    dtype = np.result_type(tune_emb.dtype, title_emb.dtype, np.float32)
    scores = tune_emb.astype(dtype, copy=False) @ title_emb.astype(dtype, copy=False).T  # (N, M)
    out: dict[str, float] = {}
    t2t = retrieval_metrics(scores, relevance_from_labels(tune_sets, list(titles)))
    out.update({f"tune_to_title/{k}": v for k, v in t2t.items()})
    t2n = retrieval_metrics(
        np.ascontiguousarray(scores.T), relevance_from_labels(list(titles), tune_sets)
    )
    out.update({f"title_to_tune/{k}": v for k, v in t2n.items()})
    out.update(n_tunes=len(tune_emb), n_titles=len(title_emb))
    return out
