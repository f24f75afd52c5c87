"""Reading in a process pool gives exactly the corpus and problems of one process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from folkclip.data import dataset, reading
from folkclip.io.sources import read_sources

from conftest import JIG, REEL_BOOK


def _faulty_folder(root: Path) -> Path:
    """A folder of good and faulty files: a syntax error, an empty file, a binary file,
    Latin-1 text, JSONL with a bad line, a file of no tunes, and good books."""
    folder = root / "books"
    (folder / "sub").mkdir(parents=True)
    (folder / "a_reels.abc").write_text(REEL_BOOK)
    (folder / "b_jig.abc").write_text(JIG)
    (folder / "c_empty.abc").write_bytes(b"")
    (folder / "d_binary.abc").write_bytes(b"\x7fELF\x00\x01\x02" * 50)
    (folder / "e_latin1.abc").write_bytes(
        "X:7\nT:Caf\u00e9 Reel\nM:4/4\nL:1/8\nK:D\nDEFG ABcd|\n".encode("latin-1"))
    (folder / "f_notunes.abc").write_text("just words, no music\n")
    (folder / "sub" / "g_more.abc").write_text(REEL_BOOK.replace("Test Reel", "Other Reel"))
    (folder / "sub" / "tunes.jsonl").write_text(
        '{"title": "J One", "abc": "X:1\\nT:J One\\nM:6/8\\nK:G\\nGAB cde|"}\n'
        "{not json\n"
        '{"title": "J Two", "abc": "X:2\\nT:J Two\\nK:G\\nQ:1/0\\nABc|"}\n')
    return folder


def _same(a: dataset.TokenizedCorpus, b: dataset.TokenizedCorpus) -> None:
    assert a.vocab == b.vocab
    assert np.array_equal(a.ids, b.ids) and np.array_equal(a.bars, b.bars)
    assert np.array_equal(a.offsets, b.offsets)
    assert a.meta == b.meta
    assert a.problems == b.problems


@pytest.mark.parametrize("source", ["tiny", "folder"])
def test_pool_equals_one_process_and_the_reader_of_a_corpus(tmp_path, monkeypatch, source):
    monkeypatch.setattr(reading, "POOL_MIN_BYTES", 0)  # use the pool even for small folders
    src = str(_faulty_folder(tmp_path)) if source == "folder" else source
    one = dataset.load_tokenized([src], use_cache=False, jobs=1)
    two = dataset.load_tokenized([src], use_cache=False, jobs=2)
    _same(one, two)
    _same(one, dataset.tokenize_corpus(read_sources([src])))  # the corpus-at-once path
    assert len(one) > 0 and one.problems
    if source == "folder":
        reasons = " ".join(p["reason"] for p in one.problems)
        assert "empty file" in reasons and "NUL" in reasons
        assert [m["title"] for m in one.meta][:2] == ["The Test Reel", "Second Reel"]


def test_several_sources_keep_their_order(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "POOL_MIN_BYTES", 0)
    folder = str(_faulty_folder(tmp_path))
    both = dataset.load_tokenized([folder, "tiny"], use_cache=False, jobs=2)
    a = dataset.load_tokenized([folder], use_cache=False, jobs=1)
    b = dataset.load_tokenized(["tiny"], use_cache=False, jobs=1)
    assert both.meta == a.meta + b.meta
    assert both.problems == a.problems + b.problems
    for i in (0, len(a), len(both) - 1):
        assert both.events(i) == (a.events(i) if i < len(a) else b.events(i - len(a)))


def test_features_travel_with_their_tunes(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "POOL_MIN_BYTES", 0)
    from folkclip.index.profiles import pitches_of

    folder = str(_faulty_folder(tmp_path))
    tc, feats = dataset.read_tokenized([folder], dataset.TokenizerConfig(), jobs=2,
                                       features={"pitches": pitches_of})
    corpus = read_sources([folder])
    assert len(feats["pitches"]) == len(tc) == len(corpus.tunes)
    assert [list(p) for p in feats["pitches"]] == [pitches_of(t) for t in corpus.tunes]
