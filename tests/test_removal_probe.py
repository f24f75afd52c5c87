"""The residual-information probe of ``folkclip data check-removal`` (issue 11, bias 6)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from folkclip.abc.parser import parse_tunebook
from folkclip.data.dataset import tokenize_corpus
from folkclip.errors import FolkclipError
from folkclip.data.removal_probe import (
    ngram_counts,
    probe_accuracy,
    residual_cell,
    target_labels,
)
from folkclip.io.sources import Corpus
from folkclip.data.tokenize import FIELDS, TokenizerConfig

BOOK = """X:1
T:One
R:reel
M:4/4
L:1/8
K:G
GABc dedB|G2B2 d4|]

X:2
T:Two
R:jig
M:6/8
L:1/8
K:D
d3 d3|A3 A2F|]

X:3
T:Three
R:reel
M:4/4
L:1/8
K:G
G4 A4|B4 c4|]
"""


def corpus(remove: tuple[str, ...] = ()):
    tunes, _ = parse_tunebook(BOOK, "book.abc")
    return tokenize_corpus(Corpus(tunes, [], []), TokenizerConfig(remove=remove))


def test_labels_and_majority_note_length():
    tc = corpus()
    assert target_labels(tc, "meter") == ["4/4", "6/8", "4/4"]
    assert target_labels(tc, "type") == ["reel", "jig", "reel"]
    assert target_labels(tc, "key") == ["G", "D", "G"]
    # durations in quarter notes: tune 1 has 8 eighths, 2 quarters, 1 half; tune 2 four
    # dotted quarters, one quarter, one eighth; tune 3 four halves
    assert target_labels(tc, "rhythm", corpus(("meter",))) == ["1/2", "3/2", "2"]
    with pytest.raises(FolkclipError):
        target_labels(tc, "rhythm")  # needs the meter-free tokens
    with pytest.raises(FolkclipError):
        target_labels(tc, "pitch")


def test_ngram_counts_stay_inside_tunes(monkeypatch):
    import folkclip.data.removal_probe as rp

    tc = corpus()
    x = ngram_counts(tc, n=2).toarray()
    assert ((x > 0).sum(axis=0) >= 2).all()  # rare n-grams dropped
    monkeypatch.setattr(rp, "MIN_DOCUMENT_FREQUENCY", 1)
    x = ngram_counts(tc, n=2).toarray()
    n_events, n_tunes = int(tc.offsets[-1]), len(tc)
    # per field: one unigram per event and one bigram per pair of events *in one tune*
    assert x.sum() == len(FIELDS) * (n_events + n_events - n_tunes)
    np.testing.assert_array_equal(x.sum(axis=1), len(FIELDS) * (2 * np.diff(tc.offsets) - 1))
    # hand count: the token unigram "<bos>" once per tune (in a column of its own)
    assert ((x == 1).sum(axis=0) == n_tunes).any()


def test_probe_reads_a_perfect_signal_and_the_majority_rule():
    rng = np.random.default_rng(0)
    y = np.array(["a", "b"] * 20)
    x = rng.poisson(1.0, size=(40, 6)).astype(float)
    x[:, 0] = (y == "a") * 3.0  # one telling feature
    groups = np.arange(40) // 2
    r = probe_accuracy(x, list(y), groups, folds=4)
    assert r["accuracy"] == 1.0 and len(r["fold_accuracy"]) == 4
    assert r["majority_cv"] <= 0.6
    with pytest.raises(FolkclipError):
        probe_accuracy(x, list(y), np.zeros(40), folds=4)  # one group cannot make 4 folds


def test_check_removal_command_on_tiny(capsys):
    pytest.importorskip("sklearn")
    from folkclip_cli.main import main

    assert main(["data", "check-removal", "tiny", "--remove", "meter+pitch", "--folds", "3",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    r = out["results"]["meter"]
    assert out["not_probed"] == ["pitch"]
    assert r["n_tunes"] > 50 and 0 < r["majority_share"] < 0.5
    # the meter token makes it readable when kept; removed, only indirect cues remain
    assert r["kept"]["accuracy"] > 0.9
    assert r["majority_share"] < r["removed"]["accuracy"] < r["kept"]["accuracy"]
    assert residual_cell(out["results"]).startswith("meter ")
    assert main(["data", "check-removal", "tiny", "--remove", ","]) == 2


def test_residual_column_of_an_ablation_table(monkeypatch):
    import folkclip.data.removal_probe as rp

    calls = []

    def fake_check(sources, element, **kw):  # the probe itself is tested above
        calls.append(element)
        return {"removed": {"accuracy": 0.5}, "kept": {"accuracy": 0.9}, "majority_share": 0.25}

    monkeypatch.setattr(rp, "check_removal", fake_check)
    col = rp.residual_column(["full", "rhythm", "type+meter", "pitch", "meter"], "tiny")
    assert col["full"] == col["pitch"] == "—"
    assert col["rhythm"] == "rhythm 0.50 (kept 0.90, majority 0.25)"
    assert col["type+meter"].startswith("type 0.50") and "; meter 0.50" in col["type+meter"]
    assert calls == ["rhythm", "type", "meter"]  # each element probed once


def test_ablate_residual_files(monkeypatch, tmp_path):
    pytest.importorskip("lightning")
    import folkclip.data.removal_probe as rp
    from folkclip_cli.study.sweep import write_residual
    from folkclip_cli.train.config import DataConfig

    seen = []

    def fake_check(sources, element, base=None, **kw):
        seen.append((sources, element, base.remove))
        return {"removed": {"accuracy": 0.5}, "kept": {"accuracy": 0.9}, "majority_share": 0.25}

    monkeypatch.setattr(rp, "check_removal", fake_check)
    data = DataConfig(transpose=True, remove=["ornaments"], sources=["tiny"])
    write_residual(tmp_path, ["full", "meter"], data)
    assert json.loads((tmp_path / "residual.json").read_text())["meter"].startswith("meter 0.50")
    assert "| meter | meter 0.50" in (tmp_path / "residual.md").read_text()
    assert seen == [(["tiny"], "meter", ("ornaments",))]  # from the config's own removals
