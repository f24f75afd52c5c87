"""What an embedding encodes: cross-validated linear probes and title-word predictability.

Both measures are grouped by tune identity (versions of one tune never straddle a
training and a held-out fold) and use scikit-learn (the ``train`` extra):

- :func:`linear_probe` — logistic regression from features (embeddings or token counts)
  to a label (tune type, meter, mode, key), accuracy pooled over folds next to the
  majority share and a bootstrap CI;
- :func:`title_word_auc` — for each word in at least ``min_titles`` titles, how well the
  features predict whether a tune's title contains it (ROC AUC of out-of-fold scores,
  bootstrap 95% CI over tunes).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import stats

WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)?")
STOP_WORDS = frozenset(("the", "of", "a", "an", "and", "to", "in", "on", "at", "s"))


def _folds(y: np.ndarray, groups: np.ndarray, k: int, seed: int) -> list:
    from sklearn.model_selection import StratifiedGroupKFold

    k = max(2, min(k, len(np.unique(groups))))
    return list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
                .split(np.zeros(len(y)), y, groups))


def _model(seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0,
                                                              random_state=seed))


def _bootstrap(values: tuple[np.ndarray, ...], statistic, seed: int,
               n_resamples: int = 1000) -> tuple[float, float]:
    res = stats.bootstrap(values, statistic, paired=True, vectorized=False,
                          n_resamples=n_resamples, method="percentile",
                          random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def linear_probe(features: np.ndarray, labels: Sequence[str], groups: Sequence[int], *,
                 folds: int = 5, seed: int = 0, min_class: int = 5) -> dict:
    """Cross-validated accuracy of a logistic-regression probe from ``features`` to ``labels``.

    Classes with fewer than ``min_class`` examples are left out (they cannot be spread over
    folds). Folds are grouped by ``groups`` (tune identity) and stratified by label.

    Args:
        features: (N, D) features, e.g. tune embeddings or token counts.
        labels: N class names.
        groups: N identity-group ids.
        folds: Number of folds.
        seed: Seed of the fold assignment, the model and the bootstrap.
        min_class: Smallest class kept.

    Returns:
        ``accuracy`` (pooled out-of-fold), ``ci`` (bootstrap 95% over tunes),
        ``majority`` (share of the largest class among the kept tunes), ``n`` and
        ``classes``.
    """
    labels_arr = np.asarray(labels, dtype=object)
    counts = Counter(labels_arr.tolist())
    keep = np.array([counts[c] >= min_class for c in labels_arr.tolist()], dtype=bool)
    x, y, g = np.asarray(features, dtype=np.float64)[keep], labels_arr[keep], \
        np.asarray(groups)[keep]
    classes = sorted(set(y.tolist()))
    if len(classes) < 2:
        return {"accuracy": float("nan"), "ci": (float("nan"), float("nan")),
                "majority": 1.0, "n": len(y), "classes": classes}
    pred = np.empty(len(y), dtype=object)
    for train, test in _folds(y, g, folds, seed):
        model = _model(seed).fit(x[train], y[train])
        pred[test] = model.predict(x[test])
    correct = (pred == y).astype(np.float64)
    return {"accuracy": float(correct.mean()),
            "ci": _bootstrap((correct,), np.mean, seed),
            "majority": max(Counter(y.tolist()).values()) / len(y), "n": len(y),
            "classes": classes}


def rank_auc(y: np.ndarray, scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """ROC AUC along ``axis`` by the Mann-Whitney identity (ties count one half):
    ``(sum of the positives' ranks - n1 (n1 + 1) / 2) / (n1 n0)``; 0.5 where a sample
    has one class only. Vectorised, for :func:`scipy.stats.bootstrap`."""
    y = np.moveaxis(np.asarray(y, dtype=np.float64), axis, -1)
    ranks = stats.rankdata(np.moveaxis(np.asarray(scores), axis, -1), axis=-1)
    n1 = y.sum(-1)
    n0 = y.shape[-1] - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((ranks * y).sum(-1) - n1 * (n1 + 1) / 2) / (n1 * n0)
    return np.where((n1 > 0) & (n0 > 0), auc, 0.5)


def title_words(title: str) -> set[str]:
    """The lower-case words of a title, without stop words (``Mrs.`` -> ``mrs``)."""
    return {w for w in WORD_RE.findall(title.lower()) if w not in STOP_WORDS}


def frequent_words(titles: Sequence[str], min_titles: int = 15) -> list[str]:
    """Words found in at least ``min_titles`` distinct titles, most frequent first."""
    counts = Counter(w for t in set(titles) for w in title_words(t))
    return [w for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            if n >= min_titles]


def title_word_auc(features: np.ndarray, titles: Sequence[str], groups: Sequence[int], *,
                   words: Sequence[str] | None = None, min_titles: int = 15, folds: int = 5,
                   seed: int = 0, n_resamples: int = 1000) -> list[dict]:
    """How well ``features`` predict that a tune's title contains each word.

    Args:
        features: (N, D) per-tune features.
        titles: N titles (the tune's main title).
        groups: N identity-group ids (folds never split a group).
        words: Words to test (default: :func:`frequent_words` of ``titles``).
        min_titles: For the default word list.
        folds: Number of grouped, stratified folds.
        seed: Seed of folds, probe and bootstrap.
        n_resamples: Bootstrap resamples of the AUC.

    Returns:
        One dict per word, best AUC first: ``word``, ``tunes`` (positives), ``rate``
        (positive share), ``auc`` (out-of-fold ROC AUC) and ``ci`` (bootstrap 95%).
    """
    from sklearn.metrics import roc_auc_score

    x = np.asarray(features, dtype=np.float64)
    g = np.asarray(groups)
    word_sets = [title_words(t) for t in titles]
    rows = []
    for word in (words if words is not None else frequent_words(titles, min_titles)):
        y = np.array([word in ws for ws in word_sets])
        if y.sum() < 2 or (~y).sum() < 2:
            continue
        scores = np.zeros(len(y))
        for train, test in _folds(y.astype(int), g, folds, seed):
            if len(np.unique(y[train])) < 2:
                continue
            model = _model(seed).fit(x[train], y[train])
            scores[test] = model.decision_function(x[test])
        auc = float(roc_auc_score(y, scores))
        res = stats.bootstrap((y.astype(np.float64), scores), rank_auc, paired=True,
                              vectorized=True, n_resamples=n_resamples, method="percentile",
                              random_state=np.random.default_rng(seed))
        ci = (float(res.confidence_interval.low), float(res.confidence_interval.high))
        rows.append({"word": word, "tunes": int(y.sum()), "rate": float(y.mean()),
                     "auc": auc, "ci": ci})
    return sorted(rows, key=lambda r: -r["auc"])
