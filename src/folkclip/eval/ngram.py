"""Unigram and bigram baselines of the language model's ``token`` predictions.

Both are estimated on training sequences with add-one (Laplace) smoothing over a
vocabulary of ``vocab_size`` symbols and scored on held-out sequences exactly where
the language model is: every event but the first (``<bos>``, which is given).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import numpy as np


def unigram_perplexity(train: Sequence[np.ndarray], test: Sequence[np.ndarray],
                       vocab_size: int) -> float:
    """Perplexity of ``P(w) = (c(w) + 1) / (N + V)`` on the test targets.

    Args:
        train: Token-id sequences to count (events 1.. of each).
        test: Token-id sequences to score (events 1.. of each).
        vocab_size: V, the number of symbols the model may predict.
    """
    seen = np.concatenate([np.asarray(s[1:], dtype=np.int64) for s in train] or [[]])
    counts = np.bincount(seen.astype(np.int64), minlength=vocab_size + 1)
    targets = np.concatenate([np.asarray(s[1:], dtype=np.int64) for s in test] or [[]])
    if targets.size == 0:
        return float("nan")
    targets = targets.astype(np.int64)
    c = np.where(targets < len(counts), counts[np.minimum(targets, len(counts) - 1)], 0)
    logp = np.log(c + 1.0) - math.log(seen.size + vocab_size)
    return float(math.exp(-logp.mean()))


def bigram_perplexity(train: Sequence[np.ndarray], test: Sequence[np.ndarray],
                      vocab_size: int) -> float:
    """Perplexity of ``P(w | v) = (c(v, w) + 1) / (c(v) + V)`` on the test targets,
    where ``c(v)`` counts ``v`` as the first event of a training pair."""
    pairs: dict[tuple[int, int], int] = {}
    history: dict[int, int] = {}
    for seq in train:
        s = [int(x) for x in seq]
        for v, w in pairwise(s):
            pairs[v, w] = pairs.get((v, w), 0) + 1
            history[v] = history.get(v, 0) + 1
    total, n = 0.0, 0
    for seq in test:
        s = [int(x) for x in seq]
        for v, w in pairwise(s):
            total += math.log(pairs.get((v, w), 0) + 1)
            total -= math.log(history.get(v, 0) + vocab_size)
            n += 1
    return float(math.exp(-total / n)) if n else float("nan")
