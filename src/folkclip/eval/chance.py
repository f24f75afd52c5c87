"""What a random ranking scores, exactly: the expected per-query metrics of a uniformly
random order of ``n`` candidates of which ``r`` are relevant.

These are the expectations of the values :func:`folkclip.eval.metrics.per_query_metrics`
gives (same keys), so a "random" row can be pooled, averaged and compared query by query
like any model's. With ``S(k)`` the probability that none of the first ``k - 1`` places
holds a relevant item (hypergeometric, ``scipy.stats.hypergeom``), the first relevant rank
``F`` has ``P(F = k) = S(k) - S(k + 1)`` and

* ``E[RR] = Σ_k P(F = k) / k`` (for ``r = 1``: ``H_n / n``), ``E[F] = (n + 1) / (r + 1)``;
* every relevant item is at each place with probability ``1 / n``, so
  ``E[DCG] = (r / n) Σ_{i ≤ n} 1 / log2(i + 1)`` (``@k``: the sum up to ``min(k, n)``), and
  nDCG divides by the ideal DCG of ``r`` (``min(r, k)``) items;
* ``E[recall@k] = min(k, n) / n``, ``E[hit@k] = 1 - S(k + 1)``;
* ``E[AP] = (1 / n) (H_n + (r - 1) / (n - 1) · (n - H_n))`` (the precision at a relevant
  item at place ``p`` is ``(1 + X) / p`` with ``E[X] = (r - 1)(p - 1) / (n - 1)``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

_NDCG_CUTOFF = 10  # as folkclip.eval.metrics


def _discounts(n: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(1, n + 1) + 1.0)  # (n,) gain of places 1..n


def _none_before(n: int, r: int, places: np.ndarray) -> np.ndarray:
    """``S(k)``: P(no relevant item among the first ``k - 1`` places), for ``k`` in
    ``places``."""
    from scipy.stats import hypergeom

    before = np.clip(places - 1, 0, n)
    return hypergeom.pmf(0, n, r, before)


def expected_query_metrics(n: int, r: int, ks: Iterable[int] = (1, 5, 10)) -> dict[str, float]:
    """Expected metrics of one query with ``n`` candidates, ``r`` of them relevant.

    Raises:
        ValueError: Unless ``0 <= r <= n``.
    """
    if not 0 <= r <= n:
        raise ValueError(f"need 0 <= relevant <= candidates, got {r} of {n}")
    ks = tuple(int(k) for k in ks)
    keys = ["rr", "dcg", "ndcg", f"ndcg@{_NDCG_CUTOFF}", *(f"recall@{k}" for k in ks),
            *(f"hit@{k}" for k in ks), "ap", "first_rank"]
    if r == 0:
        return {key: float("nan") for key in keys}
    places = np.arange(1, n - r + 3)  # 1..n-r+2: S is 0 from n-r+2 on
    s = _none_before(n, r, places)
    first = s[:-1] - s[1:]  # (n-r+1,) P(F = k), k = 1..n-r+1
    k_first = places[:-1]
    gains = _discounts(n)
    ideal = _discounts(r)
    harmonic = float(np.sum(1.0 / np.arange(1, n + 1)))
    out = {"rr": float(np.sum(first / k_first)), "dcg": r / n * float(gains.sum())}
    out["ndcg"] = out["dcg"] / float(ideal.sum())
    cut = min(_NDCG_CUTOFF, n)
    out[f"ndcg@{_NDCG_CUTOFF}"] = (r / n * float(gains[:cut].sum())
                                   / float(ideal[:min(r, _NDCG_CUTOFF)].sum()))
    for k in ks:
        out[f"recall@{k}"] = min(k, n) / n
        out[f"hit@{k}"] = 1.0 - float(_none_before(n, r, np.array([k + 1]))[0])
    out["ap"] = (harmonic + ((r - 1) / (n - 1) * (n - harmonic) if n > 1 else 0.0)) / n
    out["first_rank"] = (n + 1) / (r + 1)
    return {key: out[key] for key in keys}


def expected_metrics(n_candidates: int, relevant: list[np.ndarray | list[int]],
                     ks: Iterable[int] = (1, 5, 10)) -> dict[str, np.ndarray]:
    """:func:`expected_query_metrics` of every query of a ``(Q, n_candidates)`` ranking, as
    :func:`folkclip.eval.metrics.per_query_metrics` lays them out (duplicates in a
    relevance list count once; queries without a relevant item hold NaN).

    Returns:
        ``{key: (Q,) float array}``.
    """
    ks = tuple(ks)
    cache: dict[int, dict[str, float]] = {}
    rows = []
    for rel in relevant:
        r = len(np.unique(np.asarray(rel, dtype=np.int64)))
        if r not in cache:
            cache[r] = expected_query_metrics(n_candidates, r, ks)
        rows.append(cache[r])
    keys = list(expected_query_metrics(max(n_candidates, 1), 0, ks))
    return {key: np.array([row[key] for row in rows], dtype=np.float64) for key in keys}
