"""Alignment re-ranking of ``similar`` (:mod:`folkclip.index.rerank`): hand-worked alignment
scores, the re-ordering, query and index symbols agreeing, ``TuneIndex.similar`` and the
``--no-align`` flag, and an index without identification data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from random_reels import random_bars, reel_abc  # tests/random_reels.py

from folkclip.errors import FolkclipError
from folkclip.identify.melody import Melody, tune_melody
from folkclip.identify.store import IdentifyData
from folkclip.index.rerank import alignment_scores, query_symbols, rerank, tune_symbols


def _melody(pitches: list[int]) -> Melody:
    n = len(pitches)
    return Melody(np.array(pitches, np.int16), np.arange(n, dtype=np.float64) / 2,
                  np.full(n, 0.5), np.arange(n, dtype=np.int32) // 8, False)


@pytest.fixture
def data() -> IdentifyData:
    # tune 0: C D E F G inside other notes, a fifth up (intervals +2 +2 +1 +2 in it);
    # tune 1: C D E F# G (+2 +2 +2 +1): two intervals a semitone off; tune 2: leaps only
    return IdentifyData.build([_melody([50, 40, 67, 69, 71, 72, 74, 60]),
                               _melody([60, 62, 64, 66, 67]),
                               _melody([60, 72, 60, 72, 60, 72])], np.arange(3))


def test_alignment_scores_hand_worked(data):
    q_iv, q_rh = tune_symbols(IdentifyData.build([_melody([60, 62, 64, 65, 67])],
                                                 np.zeros(1)), 0)
    got = alignment_scores(data, q_iv, q_rh, np.array([0, 1, 2]))
    # 4 symbols x (interval 2 + rhythm 1) = 12 is the best. Tune 1 (+2 +2 +2 +1): the
    # query's +2 +2 +1 against its last three, 3 x 3 = 9 (aligning all four in place
    # gives only 3 + 3 + 0.5 + 0.5 = 7); tune 2: every interval off by 10 or more
    np.testing.assert_allclose(got, [1.0, 9 / 12, 0.0], atol=1e-6)


def test_rerank_orders_by_alignment_plus_score_and_keeps_the_rest(data):
    q_iv, q_rh = tune_symbols(data, 1)  # tune 1 itself: alignment 1.0 with tune 1
    pairs = [(2, 0.9), (1, 0.5), (0, 0.45)]
    got = rerank(data, q_iv, q_rh, pairs, n=2)
    # tune 1: 1.0 + 0.5; tune 2 (only leaps) keeps 0.9; tune 0, past n, follows unchanged
    assert [t for t, _ in got] == [1, 2, 0]
    np.testing.assert_allclose([s for _, s in got], [1.5, 0.9, 0.45], atol=1e-6)
    assert rerank(data, q_iv, q_rh, []) == []


def test_query_symbols_equal_the_indexed_tune_with_repeats_unfolded():
    from folkclip.abc.parser import parse_tunebook

    abc = ("X:1\nT:t\nM:6/8\nL:1/8\nK:D\n|:A|dfa agf|e2d cBA|dfa a2g|fdd d2:|\n"
           "|:f|gbb gab|faa fga|1 gbb gab|fdd d2:|2 afd ecA|d3 d2|]\n")
    tune = parse_tunebook(abc, "q.abc")[0][0]
    data = IdentifyData.build([tune_melody(tune)], np.zeros(1))
    for n in (8, 64):  # cut inside the tune, and past its first part's repeat
        want_iv, want_rh = tune_symbols(data, 0, n)
        got_iv, got_rh = query_symbols(tune, n)
        np.testing.assert_array_equal(got_iv, want_iv)
        np.testing.assert_array_equal(got_rh, want_rh)
    assert len(query_symbols(tune, 64)[0]) > 40  # the repeats were unfolded


# ---------------------------------------------------------------- on a built index
torch = pytest.importorskip("torch")
@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[object, Path, Path]:
    """An index of random reels with an untrained model; tune 0's version (tune 10, in
    another book) keeps its first four bars and changes the other four."""
    from folkclip.data.dataset import load_tokenized
    from folkclip.data.tokenize import TokenizerConfig
    from folkclip.export import export_model
    from folkclip.index import TuneIndex
    from folkclip.models import create_model

    rng = np.random.default_rng(1)
    folder = tmp_path_factory.mktemp("rerank-books")
    tunes = [random_bars(rng) for _ in range(10)]
    (folder / "a.abc").write_text("\n".join(reel_abc(i + 1, f"Reel {i}", m)
                                            for i, m in enumerate(tunes)))
    version = tunes[0][:4] + random_bars(rng, 4)
    (folder / "b.abc").write_text(reel_abc(1, "Reel 0", version, key="A") + "\n" +
                                  reel_abc(2, "Other", random_bars(rng)))
    torch.manual_seed(0)
    tok = TokenizerConfig()
    tc = load_tokenized([str(folder)], tok, use_cache=False)
    model = create_model("gru", {f: len(v) for f, v in tc.vocab.items()}, embed_dim=16,
                         **{"melody.dim": 16, "title.dim": 16})
    run = folder.parent / "rerank-run"
    export_model(model, model.config, tc.vocab, tok, 128, run / "model")
    out = folder.parent / "rerank-idx"
    return TuneIndex.build(run, [str(folder)], out, progress=False), run, out


def test_similar_re_ranks_the_plain_scores_by_alignment(built):
    idx, _, _ = built
    data = idx.identify_data()
    plain = idx.similar(tune_id=0, k=50, align=False)
    got = idx.similar(tune_id=0, k=5)
    ids = np.array([r["tune_id"] for r in plain])
    want = alignment_scores(data, *tune_symbols(data, 0), ids) + \
        np.array([r["score"] for r in plain])
    order = np.lexsort((ids, -want))[:5]
    assert [r["tune_id"] for r in got] == ids[order].tolist()
    np.testing.assert_allclose([r["score"] for r in got], want[order], atol=1e-5)
    assert got[0]["tune_id"] == 10 and got[0]["score"] >= 0.5  # the version, found whole
    # the same tune given as ABC text (itself left out) answers the same
    by_abc = idx.similar(abc=idx.tune(0)["abc"], k=5)
    assert [r["tune_id"] for r in by_abc] == [r["tune_id"] for r in got]
    np.testing.assert_allclose([r["score"] for r in by_abc], [r["score"] for r in got],
                               atol=1e-4)


def test_cli_no_align_flag(built, capsys):
    from folkclip_cli.main import main

    idx, _, folder = built
    assert main(["similar", str(folder), "--id", "0", "-k", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == idx.similar(tune_id=0, k=4)
    assert main(["similar", str(folder), "--id", "0", "-k", "4", "--json", "--no-align"]) == 0
    assert json.loads(capsys.readouterr().out) == idx.similar(tune_id=0, k=4, align=False)


def test_an_index_without_identification_data(built, tmp_path, capsys):
    from folkclip.index import TuneIndex
    from folkclip_cli.main import main

    _, _, folder = built
    old = tmp_path / "old-idx"
    shutil.copytree(folder, old)
    shutil.rmtree(old / "identify")
    idx = TuneIndex.load(old)
    with pytest.raises(FolkclipError, match="rebuild it with `folkclip index`.*--no-align"):
        idx.similar(tune_id=0, k=3)
    assert len(idx.similar(tune_id=0, k=3, align=False)) == 3
    assert main(["similar", str(old), "--id", "0"]) == 2
    err = capsys.readouterr().err
    assert "--no-align" in err and "Traceback" not in err
    assert main(["similar", str(old), "--id", "0", "--no-align"]) == 0
