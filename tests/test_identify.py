"""Identification: the ABC query reader, the aligner against a hand-worked example and a
plain reference, and the whole path on a small index (a fragment from the middle of a
repeated part, transposition and tempo, a tune not in the index, the command line)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from random_reels import random_bars  # tests/random_reels.py

from folkclip.errors import FolkclipError
from folkclip.identify import (
    Identifier,
    NoMelodyFound,
    QueryError,
    QueryNotes,
    UnsupportedQuery,
    notes_to_abc,
    read_abc_query,
    read_query,
)
from folkclip.identify.align import DEFAULT_SCORING, Scoring, align_batch
from folkclip.identify.symbols import START, melody_symbols, ngram_codes


# ------------------------------------------------------------------ the ABC reader
def test_fragment_without_header_uses_the_defaults():
    q = read_abc_query("GABc dedB|dBAG FGAF|", "q.abc")
    assert len(q) == 16
    np.testing.assert_array_equal(q.midi_pitch[:4], [67, 69, 71, 72])
    np.testing.assert_allclose(q.onset_s[:3], [0, 0.5, 1.0])  # eighths in quarter beats
    assert q.abc is not None and "K:C" in q.abc


def test_fragment_header_fields_are_respected():
    q = read_abc_query("L:1/16\nK:D\nGABc dedB|", "q.abc")
    np.testing.assert_allclose(q.onset_s[:2], [0, 0.25])
    assert q.midi_pitch[2] == 71 and q.midi_pitch[3] == 73  # c is sharp in D


def test_fragment_repeats_are_unfolded():
    q = read_abc_query("|:GABc dedB:|", "q.abc")
    assert len(q) == 16


@pytest.mark.parametrize("text, line, words", [
    ("GABc|d/0 e", 1, "divides by zero"),
    ("M:6/8\nGAB c2 hel|", 2, "column 8"),
    ("", None, "empty"),
    ("AB", None, "at least"),
])
def test_faulty_fragments_name_the_position(text, line, words):
    with pytest.raises(QueryError) as err:
        read_abc_query(text, "q.abc")
    assert err.value.line == line and words in str(err.value)
    assert str(err.value).startswith("q.abc")


def test_read_query_dispatches_on_the_suffix(tmp_path):
    path = tmp_path / "frag.abc"
    path.write_text("GABc dedB|dBAG FGAF|")
    assert len(read_query(path, "frag.abc")) == 16
    assert len(read_query(b"GABc dedB|", "frag.txt")) == 8
    with pytest.raises(UnsupportedQuery):
        read_query(b"whatever", "tune.docx")
    with pytest.raises(QueryError):
        read_query(tmp_path / "missing.abc", "missing.abc")


def test_notes_to_abc_reads_back_to_the_same_intervals():
    q = read_abc_query("L:1/8\nG2AB c^cdB|d2BG F=FGA|", "q.abc")
    back = read_abc_query(notes_to_abc(q), "back.abc")
    np.testing.assert_array_equal(np.diff(back.midi_pitch), np.diff(q.midi_pitch))
    np.testing.assert_allclose(np.diff(back.onset_s) / np.diff(q.onset_s),
                               np.diff(back.onset_s)[0] / np.diff(q.onset_s)[0])


# ----------------------------------------------------------------------- symbols
def test_symbols_do_not_change_under_transposition_and_tempo():
    pitch = np.array([60, 62, 64, 60, 67.0])
    ioi = np.array([1, 1, 2, 0.5, 1.0])
    a = melody_symbols(pitch, ioi)
    b = melody_symbols(pitch + 5.2, ioi * 1.7)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0], [START, 2, 2, -4, 7])
    np.testing.assert_array_equal(a[1], [0, 0, 1, -2, 1])


def test_ngram_codes_do_not_cross_melodies():
    iv = np.array([START, 1, 2, 3, 4, START, 1, 2, 3, 4], np.int8)
    codes = ngram_codes(iv, 4)
    assert (codes[:4] == -1).all() and codes[4] >= 0
    assert (codes[5:9] == -1).all() and codes[9] == codes[4]


# ----------------------------------------------------------------------- aligner
def test_aligner_on_a_hand_worked_example():
    # query intervals 2, 2, -4 against tune 2, 5, 2, -4 (rhythms all equal): the best
    # local alignment matches 2 (+3), skips the 5 (-1.5), matches 2 (+3) and -4 (+3): 7.5,
    # from tune place 1 to place 4.
    q_iv = np.array([START, 2, 2, -4], np.int8)
    t_iv = np.array([[START, 2, 5, 2, -4]], np.int8)
    score, start, end = align_batch(q_iv, np.zeros(4, np.int8), t_iv, np.zeros((1, 5), np.int8))
    assert score[0] == pytest.approx(7.5) and (start[0], end[0]) == (1, 4)


@pytest.mark.parametrize("q, t, merged, plain, span", [
    # a wrong note: 2 2 1 2 played 2 3 0 2 (the third note a semitone high). 2 (+3), the
    # pair 3 0 for 2 1 (same sum 3: merge 2 x 1.5 = +3), 2 (+3) = 9; plainly 3 against 2
    # and 0 against 1 are near misses (-0.5 + 1 each): 7.
    ([2, 3, 0, 2], [2, 2, 1, 2], 9.0, 7.0, (1, 4)),
    # a passing note: the third 4 filled as 2 2, then -2. Merge 2:1 (+3), -2 (+3) = 6;
    # plainly only the -2 (+3) is worth keeping.
    ([2, 2, -2], [4, -2], 6.0, 3.0, (1, 2)),
    # a turn (note, upper neighbour, note) on the second note of 2 2 2: played 2 1 -1 2 2.
    # 2 (+3), the unit 1 -1 2 for 2 (merge 3 x 1.5 = +4.5), 2 (+3) = 10.5; plainly two
    # gaps (-3) between three matches (+9): 6.
    ([2, 1, -1, 2, 2], [2, 2, 2], 10.5, 6.0, (1, 3)),
])
def test_merges_on_hand_worked_examples(q, t, merged, plain, span):
    q_iv = np.array([START, *q], np.int8)
    t_iv = np.array([[START, *t]], np.int8)
    q_rh, t_rh = np.zeros(len(q_iv), np.int8), np.zeros(t_iv.shape, np.int8)
    score, start, end = align_batch(q_iv, q_rh, t_iv, t_rh)
    assert score[0] == pytest.approx(merged) and (start[0], end[0]) == span
    assert align_batch(q_iv, q_rh, t_iv, t_rh, Scoring(merges=()))[0][0] == pytest.approx(plain)


def _reference(q_iv, q_rh, t_iv, t_rh, s: Scoring) -> float:
    """Smith–Waterman written plainly: a full (M+1, L+1) table, one cell at a time, with
    the merges of ``s.merges`` (k query and l tune intervals of equal sums)."""
    q = [(a, b) for a, b in zip(q_iv.tolist(), q_rh.tolist()) if a != START]
    t = [int(x) for x in t_iv.tolist()]
    h = [[0.0] * (len(t) + 1) for _ in range(len(q) + 1)]
    best = 0.0
    for i in range(1, len(q) + 1):
        for j in range(1, len(t) + 1):
            ti, tr = t[j - 1], int(t_rh[j - 1])
            if ti == START:
                sub = -1e4
            else:
                d = abs(q[i - 1][0] - ti)
                sub = (s.interval_match if d == 0 else s.interval_near if d == 1
                       else s.interval_mismatch)
                sub += s.rhythm_match if q[i - 1][1] == tr else s.rhythm_mismatch
            options = [0.0, h[i - 1][j - 1] + sub, h[i - 1][j] + s.gap, h[i][j - 1] + s.gap]
            for k, l in s.merges:
                window = t[j - l:j]
                if i >= k and j >= l and START not in window and \
                        sum(a for a, _ in q[i - k:i]) == sum(window):
                    options.append(h[i - k][j - l] + s.merge * k)
            h[i][j] = max(options)
            best = max(best, h[i][j])
    return best


@pytest.mark.parametrize("scoring", [DEFAULT_SCORING, Scoring(merges=())],
                         ids=["merges", "plain"])
def test_aligner_agrees_with_a_plain_reference(scoring):
    rng = np.random.default_rng(0)
    for _ in range(30):
        m, length, c = int(rng.integers(2, 12)), int(rng.integers(5, 40)), 4
        q_iv = rng.integers(-3, 4, m).astype(np.int8)
        q_iv[0] = START
        q_rh = rng.integers(-1, 2, m).astype(np.int8)
        t_iv = rng.integers(-3, 4, (c, length)).astype(np.int8)
        t_iv[:, 0] = START
        t_iv[1, length // 2:] = START  # a shorter, padded row
        t_rh = rng.integers(-1, 2, (c, length)).astype(np.int8)
        score, start, end = align_batch(q_iv, q_rh, t_iv, t_rh, scoring)
        for r in range(c):
            want = _reference(q_iv, q_rh, t_iv[r], t_rh[r], scoring)
            assert score[r] == pytest.approx(want, abs=1e-4)
            if want > 0:  # the reported span holds an alignment of that score
                span = _reference(q_iv, q_rh, t_iv[r, start[r]:end[r] + 1],
                                  t_rh[r, start[r]:end[r] + 1], scoring)
                assert span == pytest.approx(want, abs=1e-4)


# ------------------------------------------------------------- identification
@pytest.fixture(scope="module")
def index(tmp_path_factory) -> tuple[Path, list[list[str]]]:
    """An index of 12 random two-part reels (|: A :|: B :|), one with a second name in
    another book; and 4 more reels left out of it."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from folkclip.data.dataset import load_tokenized
    from folkclip.data.tokenize import TokenizerConfig
    from folkclip.export import export_model
    from folkclip.index import TuneIndex
    from folkclip.models import create_model

    rng = np.random.default_rng(1)
    parts = [random_bars(rng, 8) for _ in range(16)]
    base = tmp_path_factory.mktemp("identify")
    books = base / "books"
    books.mkdir()
    tunes = [f"X:{i + 1}\nT:Reel {i + 1}\nR:reel\nM:4/4\nL:1/8\nK:G\n"
             f"|:{'|'.join(p[:4])}:|\n|:{'|'.join(p[4:])}:|\n" for i, p in enumerate(parts[:12])]
    (books / "book1.abc").write_text("\n".join(tunes))
    (books / "book2.abc").write_text(f"X:1\nT:Reel 3\nT:The Other Name\nM:4/4\nL:1/8\nK:A\n"
                                     f"{'|'.join(random_bars(rng, 8))}|]\n")
    torch.manual_seed(0)
    tok = TokenizerConfig()
    tc = load_tokenized([str(books)], tok, use_cache=False)
    model = create_model("gru", {f: len(v) for f, v in tc.vocab.items()}, embed_dim=16,
                         **{"melody.dim": 16, "title.dim": 16})
    export_model(model, model.config, tc.vocab, tok, 128, base / "run" / "model")
    TuneIndex.build(base / "run", [str(books)], base / "idx", progress=False)
    return base / "idx", parts


def test_index_stores_the_identification_data(index):
    folder, _ = index
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["identify"]["n_tunes"] == 13 and manifest["identify"]["ngram"] == 4
    assert (folder / "identify" / "gram_codes.npy").exists()


def test_fragment_from_the_middle_of_a_repeated_part(index):
    folder, parts = index
    ident = Identifier.open(folder)
    # bars 3-4 of tune 5's A part (played twice), a tone higher
    frag = read_abc_query("K:G\n" + "|".join(parts[4][2:4]) + "|", "frag.abc")
    frag = QueryNotes(frag.midi_pitch + 2, frag.onset_s, frag.duration_s, "frag", frag.abc)
    best = ident.identify(frag, k=3)[0]
    assert best.kind == "identified" and best.tune_id == 4 and best.title == "Reel 5"
    assert best.bars == (3, 4) and best.bar_index == (2, 3)
    assert best.score == pytest.approx(1.0) and best.confidence > 0.5
    # across the repeat: the A part's last bar, then its first bar again
    frag = read_abc_query("K:G\n" + parts[4][3] + "|" + parts[4][0] + "|", "frag.abc")
    assert ident.identify(frag)[0].tune_id == 4


def test_all_names_of_the_identity_group(index):
    folder, parts = index
    frag = read_abc_query("K:G\n" + "|".join(parts[2][5:8]) + "|", "frag.abc")
    best = Identifier.open(folder).identify(frag)[0]
    assert best.tune_id == 2 and set(best.titles) == {"Reel 3", "The Other Name"}


def test_transposition_and_tempo_leave_the_answer_unchanged(index):
    folder, parts = index
    ident = Identifier.open(folder)
    q = read_abc_query("K:G\n" + "|".join(parts[7][4:6]) + "|", "q.abc")
    moved = QueryNotes(q.midi_pitch - 7, q.onset_s * 1.37, q.duration_s * 1.37, "moved")
    a, b = ident.rank(q, 5), ident.rank(moved, 5)
    assert [m.tune_id for m in a] == [m.tune_id for m in b] and a[0].tune_id == 7
    assert [m.score for m in a] == pytest.approx([m.score for m in b])


def test_each_query_kind_has_its_own_calibration(index):
    """The same notes, once written and once as a recording would give them: the audio
    calibration sets the confidence and the threshold of the recording only."""
    from dataclasses import replace

    from folkclip.identify.calibration import CALIBRATIONS

    folder, parts = index
    q = read_abc_query("K:G\n" + "|".join(parts[7][4:8]) + "|", "q.abc")
    heard = replace(q, kind="audio")
    ident = Identifier.open(folder)
    ident.calibrations = {**CALIBRATIONS,
                          "audio": replace(CALIBRATIONS["audio"], intercept=-60.0)}
    written, audio = ident.rank(q, 1)[0], ident.rank(heard, 1)[0]
    assert written.tune_id == audio.tune_id == 7 and written.score == audio.score
    assert written.confidence > 0.5 > audio.confidence
    assert ident.identify(q, 1)[0].kind == "identified"
    ident.calibrations["audio"] = replace(ident.calibrations["audio"], threshold=1.01)
    assert ident.calibration("audio").threshold == 1.01
    with pytest.raises(ValueError, match="kind"):
        replace(q, kind="hummed")


def test_a_tune_not_in_the_index_is_no_known_tune(index):
    folder, parts = index
    frag = read_abc_query("|".join(parts[14][1:3]) + "|", "other.abc")
    results = Identifier.open(folder).identify(frag, k=4)
    assert results and all(r.kind == "suggestion" for r in results)
    assert all(r.bars is None and r.confidence is None for r in results)


def test_too_few_notes_is_no_melody(index):
    folder, _ = index
    with pytest.raises(NoMelodyFound):
        Identifier.open(folder).rank(QueryNotes(np.array([60., 62]), np.array([0., 1]),
                                                np.array([1., 1])), 5)


def test_an_index_without_identification_data_asks_for_a_rebuild(index, tmp_path):
    folder, _ = index
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    shutil.rmtree(old / "identify")
    with pytest.raises(FolkclipError, match="rebuild it with `folkclip index`"):
        Identifier.open(old)


def test_cli_json_shape(index, tmp_path, capsys, monkeypatch):
    import io

    from folkclip_cli.main import main

    folder, parts = index
    query = tmp_path / "q.abc"
    query.write_text("K:G\n" + "|".join(parts[9][4:6]) + "|")
    assert main(["identify", str(folder), str(query), "-k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["results"] and out["results"][0]["tune_id"] == 9
    assert {"tune_id", "title", "titles", "bars", "score", "confidence", "kind"} <= \
        set(out["results"][0])
    monkeypatch.setattr("sys.stdin", io.StringIO("K:G\n" + "|".join(parts[9][4:6]) + "|"))
    assert main(["identify", str(folder), "-"]) == 0
    assert "Reel 10" in capsys.readouterr().out
    query.write_text("ABc|d/0")
    assert main(["identify", str(folder), str(query)]) == 2
    err = capsys.readouterr().err
    assert "q.abc:1" in err and "Traceback" not in err
    assert main(["identify", str(folder), str(tmp_path / "x.docx")]) == 2


def test_a_tie_goes_to_the_match_on_bar_lines():
    # the same phrase in two tunes of different groups: in tune 0 it starts in the middle
    # of a bar, in tune 1 it fills bar 1 exactly. Equal scores; tune 1 wins the tie.
    from folkclip.identify import Identifier
    from folkclip.identify.melody import Melody
    from folkclip.identify.notes import QueryNotes
    from folkclip.identify.store import IdentifyData

    phrase = [60, 62, 64, 65, 67, 69]

    def melody(pitch, bar):
        n = len(pitch)
        return Melody(np.array(pitch, np.int16), np.arange(n) * 0.5, np.full(n, 0.5),
                      np.array(bar, np.int32), False)

    mid_bar = melody([50, 52, *phrase, 40, 41], [0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
    on_bars = melody([50, 52, 55, 57, *phrase, 40, 41], [0] * 4 + [1] * 6 + [2] * 2)
    other = melody([60, 61, 60, 59, 60, 61], [0, 0, 0, 1, 1, 1])  # so that the phrase's idf > 0
    data = IdentifyData.build([mid_bar, on_bars, other], np.array([0, 1, 2]))
    ident = Identifier(Path("."), data)
    q = QueryNotes(np.array(phrase, float) + 3, np.arange(6) * 0.4, np.full(6, 0.4))
    ranked = ident.rank(q, 2)
    assert [m.tune_id for m in ranked] == [1, 0]
    assert ranked[0].raw == ranked[1].raw == pytest.approx(15.0)
    assert ranked[0].bar_index == (1, 1)
