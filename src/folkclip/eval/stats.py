"""Statistics for comparing retrieval runs, from :mod:`scipy.stats` (imported when used,
so ``import folkclip`` does not need SciPy).

* :func:`mean_ci` — mean and Student-t interval (e.g. over seeds).
* :func:`bootstrap_mean_ci` — percentile bootstrap interval of a mean (over queries).
* :func:`paired_difference` — mean per-query difference of two systems on the same
  queries, with a bootstrap CI of the mean difference and a paired permutation p-value.
* :func:`holm` — Holm's step-down adjustment of the p-values of one table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

N_RESAMPLES = 9999  # bootstrap and permutation resamples: p-values down to 1e-4


@dataclass(frozen=True)
class PairedDifference:
    """Mean of ``a - b`` over ``n`` paired queries, its 95% CI and a two-sided p-value."""

    mean: float
    low: float
    high: float
    p: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t interval of ``values`` (NaN bounds for one value).

    Returns:
        (mean, low, high); all NaN for no values.
    """
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(v.mean())
    if v.size == 1:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, v.size - 1) * stats.sem(v))
    return mean, mean - half, mean + half


def bootstrap_mean_ci(values: Sequence[float], n_resamples: int = 1000,
                      confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (NaNs dropped first).

    Returns:
        (low, high); NaN for no finite values, the value itself for constant data.
    """
    from scipy import stats

    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return math.nan, math.nan
    if np.all(v == v[0]):
        return float(v[0]), float(v[0])
    res = stats.bootstrap((v,), np.mean, n_resamples=n_resamples, confidence_level=confidence,
                          method="percentile", rng=np.random.default_rng(seed),
                          batch=max(1, (1 << 22) // v.size))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def paired_difference(a: Sequence[float], b: Sequence[float], seed: int = 0,
                      n_resamples: int = N_RESAMPLES) -> PairedDifference:
    """Compare two systems on the same queries: ``a[i]`` and ``b[i]`` score query ``i``.

    The CI is a percentile bootstrap of the mean of ``a - b`` resampling queries (the
    paired bootstrap); the p-value is a two-sided paired permutation test of the mean
    difference (each query's pair of values swapped or not: the signs of the differences
    flipped, ``scipy.stats.permutation_test`` with ``permutation_type='samples'``).
    Both are seeded, so the same input gives the same numbers.

    Raises:
        ValueError: When ``a`` and ``b`` differ in length.
    """
    from scipy import stats

    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.shape} vs {y.shape}")
    d = x - y
    if d.size == 0:
        return PairedDifference(math.nan, math.nan, math.nan, math.nan, 0)
    if np.all(d == 0):  # no difference at all: no swap changes anything
        return PairedDifference(0.0, 0.0, 0.0, 1.0, int(d.size))
    low, high = bootstrap_mean_ci(d, n_resamples, seed=seed)
    batch = max(1, (1 << 22) // d.size)
    # one sample with permutation_type="samples": the signs of the differences are flipped,
    # i.e. each query's two values swapped or not (the paired test, and faster)
    res = stats.permutation_test((d,), lambda u, axis: np.mean(u, axis=axis),
                                 permutation_type="samples", vectorized=True,
                                 n_resamples=n_resamples, rng=np.random.default_rng(seed),
                                 batch=batch)
    return PairedDifference(float(d.mean()), low, high, float(res.pvalue), int(d.size))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), NaNs passed through.

    The i-th smallest of m p-values becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out
