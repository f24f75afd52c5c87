"""Leakage-safe splits grouped by tune identity."""

from __future__ import annotations

import numpy as np
import pytest

from folkclip.data.dataset import tokenize_corpus
from folkclip.errors import FolkclipError
from folkclip.io.sources import read_sources
from folkclip.data.splits import (
    TuneIdentity,
    assign_folds,
    assign_splits,
    crossing_groups,
    group_ids,
    identity_of,
    melody_vectors,
    near_duplicates,
)


def test_groups_join_shared_ids_and_titles_transitively():
    idents = [
        TuneIdentity("s/1", ("The Kesh",)),
        TuneIdentity("s/1", ("Kesh Jig",)),          # same tune id as 0
        TuneIdentity(None, ("kesh jig, the",)),     # same title key as 1 -> joins 0 too
        TuneIdentity(None, ("Other Tune",)),
        TuneIdentity(None, ()),                     # untitled: a group of its own
        TuneIdentity(None, ()),
    ]
    g = group_ids(idents)
    assert g[0] == g[1] == g[2]
    assert len({g[0], g[3], g[4], g[5]}) == 4


def test_split_is_deterministic_grouped_and_roughly_proportional():
    rng = np.random.default_rng(0)
    idents = [TuneIdentity(f"c/{rng.integers(0, 1500)}", (f"Tune {rng.integers(0, 5000)}",))
              for _ in range(2000)]
    a = assign_splits(idents, seed=3)
    assert a == assign_splits(idents, seed=3)
    assert a != assign_splits(idents, seed=4)
    assert crossing_groups(idents, a) == []
    share = a.count("train") / len(a)
    assert 0.6 < share < 0.95


def test_crossing_groups_detects_a_leak():
    idents = [TuneIdentity(None, ("A",)), TuneIdentity(None, ("a!",)), TuneIdentity(None, ("B",))]
    assert crossing_groups(idents, ["train", "test", "train"]) == [int(group_ids(idents)[0])]


def test_near_duplicates_are_transposition_free():
    tune = [60, 62, 64, 65, 67, 65, 64, 62, 60, 67, 69, 71, 72]
    up = [p + 5 for p in tune]
    other = [60, 60, 72, 61, 59, 70, 63, 60, 66, 60, 61, 75, 62]
    v = melody_vectors([tune, up, other])
    pairs = near_duplicates(v[:1], v[1:], threshold=0.99)
    assert [(i, j) for i, j, _ in pairs] == [(0, 0)]


def _random_identities(n: int = 600, seed: int = 0) -> list[TuneIdentity]:
    rng = np.random.default_rng(seed)
    return [TuneIdentity(None, (f"Tune {rng.integers(0, n)}",
                                *([f"Alt {rng.integers(0, n)}"] if rng.random() < 0.3 else ())),
                         f"c:f#{k}") for k in range(n)]


def test_split_does_not_depend_on_the_order_of_the_tunes():
    # (a group's key was its first member's position when tunes had no tune id)
    idents = _random_identities()
    order = np.random.default_rng(1).permutation(len(idents))
    a = assign_splits(idents, seed=2)
    b = assign_splits([idents[i] for i in order], seed=2)
    assert [a[i] for i in order] == b
    folds = assign_folds(idents, 5, seed=2)
    assert (folds[order] == assign_folds([idents[i] for i in order], 5, seed=2)).all()


def test_folds_test_every_tune_once_and_keep_groups_whole():
    idents = _random_identities()
    folds = assign_folds(idents, 4, seed=7)
    assert set(folds.tolist()) == {0, 1, 2, 3}
    assert crossing_groups(idents, folds.tolist()) == []
    tested = np.zeros(len(idents), dtype=int)
    for k in range(4):
        sides = np.array(assign_splits(idents, (0.8, 0.1, 0.1), seed=7, folds=4, fold=k))
        tested += sides == "test"
        assert ((sides == "test") == (folds == k)).all()
        assert crossing_groups(idents, sides.tolist()) == []
        held = sides[folds != k]  # the training folds: shared by train and validation
        assert set(held.tolist()) == {"train", "validation"}
        assert 0.03 < (held == "validation").mean() < 0.25  # about 0.1 / 0.9
    assert (tested == 1).all()


@pytest.mark.parametrize("folds,fold", [(1, 0), (-2, 0), (3, 3), (3, -1)])
def test_bad_folds_are_refused(folds, fold):
    with pytest.raises(FolkclipError):
        assign_splits(_random_identities(20), folds=folds, fold=fold)


def test_tokenized_corpus_and_check_leakage_build_the_same_identities(tmp_path):
    # placeholders such as "Untitled" link nothing, on both paths
    book = tmp_path / "book.abc"
    book.write_text("".join(f"X:{k}\nT:{t}\nM:4/4\nL:1/8\nK:G\nGABc dedB|\n\n" for k, t in
                            enumerate(["Untitled", "Untitled", "The Kesh", "x", "Kesh, The"], 1)))
    corpus = read_sources([str(book)])
    tc = tokenize_corpus(corpus)
    idents = [identity_of(t) for t in corpus.tunes]
    assert tc.identities() == idents
    groups = group_ids(idents)
    assert groups[2] == groups[4] and len(set(groups.tolist())) == 4
    assert [s for s in assign_splits(idents, seed=1)] == [
        {int(i): name for name, v in tc.split(1).items() for i in v}[k] for k in range(5)]
    assert len(set(tc.refs())) == 5
