"""folkclip.eval.stats against hand-worked examples and scipy.stats called directly."""

from __future__ import annotations

import math

import numpy as np
import pytest

stats = pytest.importorskip("scipy.stats")

from folkclip.eval.stats import bootstrap_mean_ci, holm, mean_ci, paired_difference  # noqa: E402


def test_mean_ci_hand_worked():
    mean, lo, hi = mean_ci([1.0, 2.0, 3.0])  # sd 1, half-width t(0.975, 2) / sqrt(3)
    assert mean == 2.0
    assert hi - mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert mean - lo == pytest.approx(hi - mean)
    one = mean_ci([0.5])
    assert one[0] == 0.5 and math.isnan(one[1]) and math.isnan(one[2])
    assert all(math.isnan(x) for x in mean_ci([]))


def test_bootstrap_mean_ci_is_scipys_percentile_bootstrap():
    v = np.random.default_rng(3).random(200)
    ours = bootstrap_mean_ci(v, n_resamples=500, seed=11)
    ref = stats.bootstrap((v,), np.mean, n_resamples=500, method="percentile",
                          rng=np.random.default_rng(11)).confidence_interval
    assert ours == pytest.approx((ref.low, ref.high))
    assert ours == bootstrap_mean_ci(v, n_resamples=500, seed=11)
    assert bootstrap_mean_ci([0.25] * 5) == (0.25, 0.25)
    assert all(math.isnan(x) for x in bootstrap_mean_ci([math.nan]))


def test_paired_difference_hand_worked_exact_permutation():
    # differences 1, 0, 1, 2: mean 1; of the 16 sign flips only "all +" (the zero's sign
    # free: 2 of 16) reach a mean >= 1, so the two-sided p is 2 * 2/16 = 0.25 (exact: 16
    # arrangements < resamples)
    d = paired_difference([1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 2.0, 2.0], seed=0)
    assert d.mean == 1.0 and d.n == 4
    assert d.p == pytest.approx(0.25)
    assert d.low <= 1.0 <= d.high


def test_paired_difference_matches_scipy_and_is_paired():
    rng = np.random.default_rng(0)
    base = rng.random(300)  # large between-query spread
    a = base + 0.02 + 0.01 * rng.standard_normal(300)  # small, consistent improvement
    b = base
    d = paired_difference(a, b, seed=5, n_resamples=999)
    ref = stats.permutation_test((a - b,), lambda x, axis: np.mean(x, axis=axis),
                                 permutation_type="samples", vectorized=True,
                                 n_resamples=999, rng=np.random.default_rng(5))
    assert d.p == pytest.approx(ref.pvalue)
    # the same test as swapping each query's two values (scipy's two-sample form)
    two = stats.permutation_test((a, b), lambda x, y, axis: np.mean(x - y, axis=axis),
                                 permutation_type="samples", vectorized=True,
                                 n_resamples=999, rng=np.random.default_rng(5))
    assert two.pvalue < 0.01 and two.statistic == pytest.approx(d.mean)
    assert d.mean == pytest.approx(np.mean(a - b))
    assert d.p < 0.01 and 0 < d.low < d.high
    # pairing matters: the interval is far narrower than the spread of either sample
    assert d.half_width < 0.1 * np.std(b)
    assert d == paired_difference(a, b, seed=5, n_resamples=999)
    with pytest.raises(ValueError):
        paired_difference([1.0], [1.0, 2.0])
    same = paired_difference([0.3, 0.4], [0.3, 0.4])
    assert same.mean == 0.0 and same.p == 1.0
    shift = paired_difference([1.0] * 6, [0.0] * 6)  # only 2 of 64 flips reach |mean| 1
    assert shift.mean == 1.0 and (shift.low, shift.high) == (1.0, 1.0)
    assert shift.p == pytest.approx(2 / 64)


def test_holm_hand_worked():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> running
    # max 0.02, 0.03, 0.06, 0.06
    got = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(got, [0.03, 0.06, 0.06, 0.02])
    got = holm([0.5, math.nan, 0.4])
    assert math.isnan(got[1]) and got[0] == pytest.approx(0.8) and got[2] == pytest.approx(0.8)
    np.testing.assert_allclose(holm([0.9, 0.8]), [1.0, 1.0])
    assert holm([]).shape == (0,)


def test_holm_matches_statsmodels_when_installed():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = np.random.default_rng(1).random(12) ** 3
    np.testing.assert_allclose(holm(p), multitest.multipletests(p, method="holm")[1])
