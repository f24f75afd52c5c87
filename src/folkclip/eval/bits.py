"""Bits of held-out titles: per-tune means, paired differences between conditions, and
character n-gram baselines for scale.

A *bits table* is a list of rows, one per scored title, with at least ``ref`` (the
tune), ``bits`` (``-log2 p(title | condition)``) and ``chars`` (folded length). A tune
with several titles counts once: :func:`per_tune` averages its titles. Two conditions
are compared on the tunes both scored (:func:`paired_rows`): the mean per-tune difference
with a paired bootstrap CI and a paired permutation p-value
(:func:`folkclip.eval.stats.paired_difference`), Holm-adjusted over one table's rows.

The difference of two conditions' cross-entropies estimates how many bits the extra
input saves; it is an estimate, not a bound: each cross-entropy is an upper bound on
its conditional entropy only up to the model's misfit, and the misfits of the two
models need not be equal, so their difference is neither a lower nor an upper bound
on the mutual information. The same model family, data, training and seed on both sides
is what makes the misfits comparable.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from folkclip.eval.stats import holm, paired_difference


def per_tune(rows: Sequence[dict]) -> dict[str, tuple[float, float]]:
    """Per tune, the mean over its titles of (bits per title, bits per character), where
    a title of n folded characters has n + 1 predicted symbols (its end included)."""
    sums: dict[str, list[float]] = {}
    for r in rows:
        b, n = float(r["bits"]), int(r["chars"]) + 1
        acc = sums.setdefault(str(r["ref"]), [0.0, 0.0, 0.0])
        acc[0] += b
        acc[1] += b / n
        acc[2] += 1
    return {ref: (a[0] / a[2], a[1] / a[2]) for ref, a in sums.items()}


def paired_rows(a: dict[str, tuple[float, float]], b: dict[str, tuple[float, float]]
                ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The tunes both per-tune tables hold (sorted) and their values: (refs, (N, 2), (N, 2))."""
    refs = sorted(set(a) & set(b))
    return (refs, np.array([a[r] for r in refs], dtype=np.float64).reshape(-1, 2),
            np.array([b[r] for r in refs], dtype=np.float64).reshape(-1, 2))


def compare(tables: dict[str, dict[str, tuple[float, float]]],
            pairs: Sequence[tuple[str, str, str]], seed: int = 0,
            n_resamples: int = 9999) -> list[dict]:
    """Paired differences ``bits(first) - bits(second)`` per tune, one row per pair.

    Args:
        tables: Per condition label, its :func:`per_tune` table.
        pairs: (row name, first label, second label); pairs naming a label missing from
            ``tables`` are left out.
        seed: Seed of the bootstrap and permutation resamples.
        n_resamples: Resamples of both.

    Returns:
        Per pair: ``comparison``, ``first``, ``second``, ``n_tunes``, ``delta_bits`` with
        ``ci_low``/``ci_high``, ``p`` and ``p_holm`` (over the rows returned), and
        ``delta_bits_per_char``.
    """
    out = []
    for name, first, second in pairs:
        if first not in tables or second not in tables:
            continue
        refs, x, y = paired_rows(tables[first], tables[second])
        d = paired_difference(x[:, 0], y[:, 0], seed=seed, n_resamples=n_resamples)
        out.append({"comparison": name, "first": first, "second": second, "n_tunes": len(refs),
                    "delta_bits": d.mean, "ci_low": d.low, "ci_high": d.high, "p": d.p,
                    "delta_bits_per_char": float(np.mean(x[:, 1] - y[:, 1])) if refs
                    else math.nan})
    for row, p in zip(out, holm([r["p"] for r in out])):
        row["p_holm"] = float(p)
    return out


def ngram_bits(train: Sequence[str], test: Sequence[str], order: int,
               alphabet: int) -> np.ndarray:
    """Bits of each ``test`` string (its end included) under an add-one smoothed
    character unigram (``order`` 1) or bigram (``order`` 2) model counted on ``train``.

    Args:
        train: Training strings (already folded).
        test: Strings to score.
        order: 1 or 2.
        alphabet: Number of symbols the model may predict (characters and the end).

    Returns:
        (len(test),) float64 bits.
    """
    end = "\x00"  # the end of a title, a symbol of its own
    grams: Counter[tuple[str, ...]] = Counter()
    history: Counter[str] = Counter()
    for s in train:
        seq = ["^", *s, end]
        if order == 1:
            grams.update((c,) for c in seq[1:])
        else:
            grams.update(pairwise(seq))
            history.update(seq[:-1])
    total = sum(grams.values())
    out = np.zeros(len(test), dtype=np.float64)
    for k, s in enumerate(test):
        seq = ["^", *s, end]
        nats = 0.0
        for v, w in pairwise(seq):
            if order == 1:
                nats -= math.log((grams[(w,)] + 1) / (total + alphabet))
            else:
                nats -= math.log((grams[(v, w)] + 1) / (history[v] + alphabet))
        out[k] = nats / math.log(2.0)
    return out
