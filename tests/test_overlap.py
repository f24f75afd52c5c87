"""Cross-collection evaluation leaves out what training has seen (bias 3 of issue 11)."""

from __future__ import annotations

import json

import pytest

from folkclip.abc.parser import parse_tunebook
from folkclip.data.dataset import load_tokenized, tokenize_corpus
from folkclip.eval.overlap import pitch_sequences, training_overlap
from folkclip.io.sources import Corpus

TRAIN = """X:1
T:The Blackbird
R:hornpipe
M:4/4
L:1/8
K:G
GABc dedB|dcBA GFED|GABc d2g2|fedc BAGF|]

X:2
T:Cuckoo's Nest
T:The Cuckoo
R:hornpipe
M:4/4
L:1/8
K:D
FAdA FAdA|GBdB GBdB|FAdA fdAF|GBAG FDD2|]
"""

EVAL = """X:1
T:Blackbird, The
R:reel
M:4/4
L:1/8
K:A
EFGA BAGE|DEFG A2d2|]

X:2
T:A New Name
R:hornpipe
M:4/4
L:1/8
K:A
ABcd efec|edcB AGFE|ABcd e2a2|gfed cBAG|]

X:3
T:Never Heard
R:jig
M:6/8
L:1/8
K:Em
EGB EGB|DFA DFA|]

X:4
T:the cuckoo
R:hornpipe
M:4/4
L:1/8
K:C
CEGc e2c2|]
"""


def corpus(text: str):
    tunes, _ = parse_tunebook(text, "book.abc")
    return tokenize_corpus(Corpus(tunes, [], []))


def test_seen_by_title_identity_or_near_duplicate_melody():
    train, ev = corpus(TRAIN), corpus(EVAL)
    # tune 2 of EVAL is tune 1 of TRAIN transposed from G to A: the same intervals
    a, b = pitch_sequences(ev, [1])[0], pitch_sequences(train, [0])[0]
    assert [y - x for x, y in zip(a, a[1:])] == [y - x for x, y in zip(b, b[1:])]
    o = training_overlap(ev, range(4), train, [0, 1])
    assert o.title_seen.tolist() == [True, False, False, True]  # "Blackbird, The", alt title
    assert o.melody_seen.tolist() == [False, True, False, False]
    assert o.unseen_indices() == [2]
    s = o.summary()
    assert (s["seen"], s["seen_title"], s["seen_melody"], s["unseen"]) == (3, 2, 1, 1)
    assert s["examples"][1] == {"title": "A New Name", "title_seen": False,
                                "similar_to": "The Blackbird", "similarity": 1.0}
    # only the training split counts
    assert training_overlap(ev, range(4), train, [1]).unseen_indices() == [0, 1, 2]


def test_evaluate_on_another_collection_reports_overlap_and_scores_the_unseen(
        tmp_path, capsys):
    pytest.importorskip("lightning")
    from conftest import TINY_TRAIN

    from folkclip_cli.main import main

    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *TINY_TRAIN,
                 "--set", "trainer.progress_bar=false"]) == 0
    tc = load_tokenized(["tiny"])
    train = tc.split(0, (0.8, 0.1, 0.1))["train"]
    seen_title = tc.meta[int(train[0])]["title"]
    melody = tc.meta[int(train[1])]["abc"]  # a training tune's ABC under a new title
    body = melody[melody.index("\nK:"):]
    book = tmp_path / "other.abc"
    book.write_text(f"X:1\nT:{seen_title}\nM:3/4\nL:1/8\nK:C\nCDE FGA|\n\n"
                    f"X:2\nT:Utterly Unknown Title One{body}\n\n"
                    "X:3\nT:Utterly Unknown Title Two\nM:6/8\nL:1/8\nK:G\nGAB cde|dcB AGF|\n\n"
                    "X:4\nT:Utterly Unknown Title Three\nM:2/4\nL:1/8\nK:D\nDFAd|fedc|\n")
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(book), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    o = m["overlap"]
    assert (o["n_tunes"], o["seen_title"], o["seen_melody"], o["unseen"]) == (4, 1, 1, 2)
    assert o["evaluated"] == "unseen" and m["n_tunes"] == 2
    assert main(["evaluate", str(run), "--data", str(book), "--json", "--include-seen"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["n_tunes"] == 4 and m["overlap"]["evaluated"] == "all"
    assert main(["evaluate", str(run), "--data", str(book)]) == 0
    assert "2 of 4 tunes seen" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--json"]) == 0  # its own test split: no overlap
    assert "overlap" not in json.loads(capsys.readouterr().out)
