"""Evaluation sets honest about shared titles, metrics both ways, TREC output."""

from __future__ import annotations

import numpy as np
import pytest

from folkclip.abc.parser import parse_tunebook
from folkclip.data.dataset import tokenize_corpus
from folkclip.eval.evaluation import EvalSet, score, write_trec
from folkclip.eval.metrics import retrieval_metrics
from folkclip.io.sources import Corpus

BOOK = """X:1
T:The Kesh
R:jig
K:G
GAG GAB|

X:2
T:Kesh, The
R:jig
K:G
GBG GAB|

X:3
T:Morrison's
T:The Stick Across the Hearth
R:jig
K:Edor
EBB EBB|

X:4
T:The Silver Spear
R:reel
K:D
FAAB AFED|

X:5
T:x
R:reel
K:D
FAAB AFED|
"""


@pytest.fixture
def tc():
    tunes, _ = parse_tunebook(BOOK, "book.abc")
    return tokenize_corpus(Corpus(tunes, [], []))


def test_eval_set_merges_title_variants_and_keeps_alternatives(tc):
    es = EvalSet(tc, range(len(tc)))
    assert es.tunes == [0, 1, 2, 3]  # the untitled tune is left out
    assert es.titles == ["The Kesh", "Morrison's", "The Stick Across the Hearth",
                         "The Silver Spear"]
    assert es.tune_titles == [[0], [0], [1, 2], [3]]
    assert es.title_tunes == [[0, 1], [2], [2], [3]]


def test_score_matches_metrics_on_a_hand_built_ranking(tc):
    es = EvalSet(tc, range(len(tc)))
    # Perfect embeddings: each tune points at its first title, titles are orthonormal.
    title_emb = np.eye(4, dtype=np.float32)
    tune_emb = title_emb[[0, 0, 1, 3]]
    m = score(es, tune_emb, title_emb, n_boot=50)
    # tune->title: tune 2 has relevant {1, 2}; its first relevant item is at rank 1.
    assert m["tune_to_title/mrr"] == pytest.approx(1.0)
    assert m["tune_to_title/recall@1"] == pytest.approx((1 + 1 + 0.5 + 1) / 4)
    assert m["tune_to_title/hit@1"] == pytest.approx(1.0)  # tune 2 finds one of its 2 titles
    # title->tune: "The Stick Across the Hearth" (title 2) scores 0 with every tune; its only
    # relevant tune (index 2) loses the tie-break to tunes 0 and 1 -> rank 3.
    direct = retrieval_metrics(tune_emb @ title_emb.T, [np.array(r) for r in es.tune_titles])
    assert m["tune_to_title/map"] == pytest.approx(direct["map"])
    assert m["title_to_tune/mrr"] == pytest.approx((1 + 1 + 1 / 3 + 1) / 4)
    assert m["n_tunes"] == 4 and m["n_titles"] == 4
    assert set(m["per_type"]) == {"jig", "reel"} and m["per_type"]["reel"]["n_tunes"] == 1
    lo, hi = m["ci95"]["title_to_tune/mrr"]
    assert lo <= m["title_to_tune/mrr"] <= hi


def test_trec_files_hold_full_rankings_and_qrels(tc, tmp_path):
    es = EvalSet(tc, range(len(tc)))
    rng = np.random.default_rng(0)
    run, qrels = write_trec(es, rng.standard_normal((4, 8)), rng.standard_normal((4, 8)),
                            tmp_path / "run.trec")
    lines = run.read_text().splitlines()
    assert len(lines) == 4 * 4 + 4 * 4  # every query ranks every candidate, both ways
    qid, q0, doc, rank, _score, name = lines[0].split()
    assert q0 == "Q0" and rank == "1" and name == "folkclip" and qid.startswith("t2t:")
    rel = qrels.read_text().splitlines()
    assert "t2u:0 0 tune:1 1" in rel and "t2t:2 0 title:2 1" in rel
