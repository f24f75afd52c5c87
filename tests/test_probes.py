"""Linear probes and title-word AUCs (folkclip.eval.probes)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from folkclip.eval.probes import (  # noqa: E402
    _folds, frequent_words, linear_probe, title_word_auc, title_words,
)


def _data(n: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.array(["reel", "jig", "hornpipe"])[np.arange(n) % 3]
    groups = np.arange(n) // 2  # pairs of versions share a group
    return rng, labels, groups


def test_separable_features_are_probed_perfectly():
    rng, labels, groups = _data()
    onehot = (labels[:, None] == np.array(["reel", "jig", "hornpipe"])).astype(float)
    result = linear_probe(onehot + 0.01 * rng.normal(size=onehot.shape), labels, groups)
    assert result["accuracy"] == 1.0
    assert result["majority"] == pytest.approx(1 / 3)
    assert result["ci"][0] <= 1.0 <= result["ci"][1] + 1e-12


def test_noise_features_probe_near_chance():
    rng, labels, groups = _data(300)
    result = linear_probe(rng.normal(size=(300, 8)), labels, groups, seed=1)
    assert 0.15 < result["accuracy"] < 0.5
    assert result["ci"][0] < result["accuracy"] < result["ci"][1]


def test_rare_classes_are_left_out():
    _, labels, groups = _data(60)
    labels = labels.copy()
    labels[:3] = "waltz"  # 3 < min_class
    result = linear_probe(np.eye(60)[:, :5], labels, groups, min_class=5)
    assert "waltz" not in result["classes"] and result["n"] == 57


def test_folds_keep_groups_together():
    _, labels, groups = _data(90)
    for train, test in _folds(labels, groups, 5, seed=0):
        assert not set(groups[train]) & set(groups[test])


def test_title_words():
    assert title_words("The Humours of Ballyloughlin") == {"humours", "ballyloughlin"}
    assert title_words("Mrs. McLeod's Reel") == {"mrs", "mcleod's", "reel"}
    titles = ["Lady A", "Lady B", "Lady C", "Jig D", "Jig E"]
    assert frequent_words(titles, min_titles=2) == ["lady", "jig"]  # most titles first
    assert frequent_words(titles + ["Lady A"], min_titles=3) == ["lady"]  # distinct titles


def test_word_auc_finds_the_informative_word():
    rng = np.random.default_rng(0)
    n = 160
    has_lady = np.arange(n) % 4 == 0
    has_jig = np.arange(n) % 5 == 0
    titles = [("Lady " if a else "") + ("Jig " if b else "") + f"Tune {i}"
              for i, (a, b) in enumerate(zip(has_lady, has_jig))]
    x = np.column_stack([has_lady + 0.3 * rng.normal(size=n), rng.normal(size=(n, 3))])
    rows = {r["word"]: r for r in title_word_auc(x, titles, np.arange(n),
                                                 words=["lady", "jig"], n_resamples=200)}
    assert rows["lady"]["auc"] > 0.95
    assert rows["lady"]["ci"][0] > 0.85
    assert 0.3 < rows["jig"]["auc"] < 0.7  # not encoded in the features
    assert rows["lady"]["tunes"] == int(has_lady.sum())
    assert rows["lady"]["rate"] == pytest.approx(0.25)


def test_rank_auc_matches_sklearn_with_ties_and_one_class():
    from sklearn.metrics import roc_auc_score

    from folkclip.eval.probes import rank_auc

    rng = np.random.default_rng(3)
    for _ in range(20):
        y = rng.integers(0, 2, 40)
        s = rng.integers(0, 6, 40).astype(float)  # many ties
        if 0 < y.sum() < len(y):
            assert rank_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    # hand-worked: positives scored 3 and 1, negatives 2 and 0 -> 3 of 4 pairs ordered
    assert rank_auc(np.array([1, 0, 1, 0]), np.array([3.0, 2.0, 1.0, 0.0])) == 0.75
    assert rank_auc(np.ones(4), np.arange(4.0)) == 0.5
    batch = rank_auc(np.array([[1, 0], [0, 1]]), np.array([[1.0, 0.0], [1.0, 0.0]]))
    assert batch.tolist() == [1.0, 0.0]
