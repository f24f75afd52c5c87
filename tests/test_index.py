"""The tune index: build/load round trip, each query against a brute-force reference,
model identity, bad ABC, numpy vs FAISS, the command line and a 2-process build."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
torch = pytest.importorskip("torch")

from folkclip_cli.main import main
from random_reels import NOTES, random_bars, reel_abc  # tests/random_reels.py
from folkclip.errors import FolkclipError
from folkclip.index import AbcQueryError, TuneIndex, UnknownTuneError
from folkclip.index import vectors as vx

@pytest.fixture(scope="module")
def collection(tmp_path_factory) -> Path:
    """Two books of random reels; three tunes appear in both (slightly varied)."""
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("books")
    melodies = [random_bars(rng) for _ in range(14)]
    book1 = [reel_abc(i + 1, f"Reel Number {i + 1}", m) for i, m in enumerate(melodies)]
    book2 = []
    for j, i in enumerate((0, 3, 7)):
        varied = list(melodies[i])
        varied[-1] = "".join(NOTES[k] for k in rng.integers(0, len(NOTES), 8))
        book2.append(reel_abc(j + 1, f"Reel Number {i + 1}", varied, key="A"))
    book2 += [reel_abc(10 + j, f"Other Tune {j}", random_bars(rng)) for j in range(5)]
    (folder / "book1.abc").write_text("\n".join(book1))
    (folder / "book2.abc").write_text("\n".join(book2))
    return folder


def _export(run: Path, sources: list[str], seed: int) -> Path:
    from folkclip.data.dataset import load_tokenized
    from folkclip.export import export_model
    from folkclip.models import create_model
    from folkclip.data.tokenize import TokenizerConfig

    torch.manual_seed(seed)
    tok = TokenizerConfig()
    tc = load_tokenized(sources, tok, use_cache=False)
    model = create_model("gru", {f: len(v) for f, v in tc.vocab.items()}, embed_dim=16,
                         **{"melody.dim": 16, "title.dim": 16})
    export_model(model, model.config, tc.vocab, tok, 128, run / "model")
    return run


@pytest.fixture(scope="module")
def built(collection, tmp_path_factory) -> tuple[TuneIndex, Path, Path]:
    base = tmp_path_factory.mktemp("index")
    run = _export(base / "run", [str(collection)], seed=0)
    idx = TuneIndex.build(run, [str(collection)], base / "idx", progress=False, chunk_size=8)
    return idx, run, base / "idx"


def _reference_vectors(idx: TuneIndex, collection: Path) -> np.ndarray:
    """Tune vectors computed again from scratch, tune by tune (no batching, no chunks)."""
    from folkclip.data.dataset import load_tokenized
    from folkclip.eval.evaluation import embed_tunes

    fm = idx.model
    tc = load_tokenized([str(collection)], fm.tokenizer_config, use_cache=False)
    ids = fm.corpus_ids(tc)
    return np.concatenate([embed_tunes(fm.model, tc, [i], 1, fm.max_events, ids)
                           for i in range(len(tc))])


def test_round_trip(built, collection):
    idx, _, folder = built
    assert len(idx) == 22 and idx.manifest["state"] == "complete"
    assert not (folder / "parts").exists()
    # where the build's time went, stage by stage, in order
    from folkclip.index.build import PREPARE_STAGES

    seconds = idx.manifest["seconds"]
    assert list(seconds) == ["reading", *(s.__name__ for s in PREPARE_STAGES), "tune_vectors",
                             "title_bank", "vector_indexes", "map"]
    assert all(v >= 0 for v in seconds.values())
    again = TuneIndex.load(folder)
    assert len(again) == len(idx)
    assert again.search("reel number 4", 5) == idx.search("reel number 4", 5)
    t = again.tune(3)
    assert t["title"] == "Reel Number 4" and t["abc"].startswith("X:4") and t["meter"] == "4/4"
    assert t["source"].endswith("book1.abc") and t["x"] == "4"
    coords = again.map_coordinates()
    assert [c["tune_id"] for c in coords] == list(range(22))
    assert {"x", "y", "type", "title"} <= set(coords[0])
    with pytest.raises(UnknownTuneError):
        again.tune(22)
    with pytest.raises(KeyError):
        again.tune("abc")


def test_vectors_match_a_tune_by_tune_reference(built, collection):
    idx, _, _ = built
    ref = _reference_vectors(idx, collection)
    np.testing.assert_allclose(idx.tunes.vectors, ref, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ref, axis=1), 1, atol=1e-5)


def test_search_against_brute_force(built):
    idx, _, _ = built
    q = idx.model.embed_titles(["Other Tune 2"])[0]
    scores = idx.tunes.vectors @ q
    want = np.lexsort((np.arange(len(scores)), -scores))[:7]
    got = idx.search("Other Tune 2", 7)
    assert [r["tune_id"] for r in got] == want.tolist()
    np.testing.assert_allclose([r["score"] for r in got], scores[want], atol=1e-5)
    assert set(got[0]) == {"tune_id", "title", "score", "type", "key", "meter", "source", "x"}


def _tfidf_reference(collection: Path) -> np.ndarray:
    """TF-IDF of interval 4-grams written independently (sklearn on tuple strings)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from folkclip.io.sources import read_sources

    docs = []
    for tune in read_sources([str(collection)]).tunes:
        p = [n.pitch for n in tune.notes if n.pitch is not None]
        steps = np.diff(p).tolist()
        docs.append([str(tuple(steps[j:j + 4])) for j in range(len(steps) - 3)])
    return TfidfVectorizer(analyzer=lambda d: d).fit_transform(docs).toarray()


@pytest.mark.parametrize("mode", ["embedding", "tfidf", "combined"])
def test_similar_against_brute_force(built, collection, mode):
    from folkclip.index.similar import EMBEDDING_WEIGHT

    idx, _, _ = built
    tf = _tfidf_reference(collection)
    emb = idx.tunes.vectors
    for q in (0, 3, 15):
        full = {"embedding": emb @ emb[q], "tfidf": tf @ tf[q]}
        full["combined"] = EMBEDDING_WEIGHT * full["embedding"] + (1 - EMBEDDING_WEIGHT) * \
            full["tfidf"]
        s = full[mode]
        order = [i for i in np.lexsort((np.arange(len(s)), -s)) if i != q][:5]
        got = idx.similar(tune_id=q, k=5, mode=mode, align=False)
        assert [r["tune_id"] for r in got] == order
        np.testing.assert_allclose([r["score"] for r in got], s[order], atol=1e-5)
    # the same tune given as ABC text: itself left out, the same neighbours
    by_abc = idx.similar(abc=idx.tune(15)["abc"], k=5, mode=mode, align=False)
    assert [r["tune_id"] for r in by_abc] == [r["tune_id"] for r in
                                              idx.similar(tune_id=15, k=5, mode=mode,
                                                          align=False)]


def test_versions_are_found_by_tfidf(built):
    idx, _, _ = built
    # tune 0 of book1 has a varied version in book2 (tune 14): shares 7 of 8 bars
    assert idx.similar(tune_id=0, k=1, mode="tfidf")[0]["tune_id"] == 14


def test_suggest_against_brute_force_and_near_duplicates(built):
    idx, _, _ = built
    abc = idx.tune(3)["abc"].replace("T:Reel Number 4\n", "")  # no title given
    q = idx.read(abc).vector
    got = idx.suggest(abc, k=6, titles=["My Own Name", "reel number 4"])
    first = got[0]
    assert first["near_duplicate"] and first["title"] == "Reel Number 4"
    assert first["tune_id"] in (3, 15)  # the tune itself, or its version in book2
    rest = [r for r in got if not r["near_duplicate"]]
    bank = idx.titles.vectors @ q
    user = float(idx.model.embed_titles(["My Own Name"])[0] @ q)
    ref = sorted([(float(s), t) for t, s in zip(idx.title_names, bank)
                  if t != "Reel Number 4"] + [(user, "My Own Name")], key=lambda p: -p[0])
    assert [r["title"] for r in rest] == [t for _, t in ref[:len(rest)]]
    assert all(r["tune_id"] is None for r in rest)
    assert sum(r["title"].lower() == "reel number 4" for r in got) == 1  # user dup merged


@pytest.mark.parametrize("bad", ["", "X:1\nT:No key here\nabc|\n", "X:1\nT:Bad key\nK:Q#\nab|\n",
                                 "just some words"])
def test_malformed_abc_is_a_clear_error(built, bad):
    idx, _, _ = built
    for call in (lambda: idx.suggest(bad), lambda: idx.similar(abc=bad)):
        with pytest.raises(AbcQueryError) as err:
            call()
        assert err.value.problems and {"line", "reason"} <= set(err.value.problems[0])
        assert isinstance(err.value, FolkclipError)


def test_mismatched_model_is_refused(built, collection, tmp_path):
    import folkclip

    _, _, folder = built
    other = folkclip.load(_export(tmp_path / "other", [str(collection)], seed=1))
    with pytest.raises(FolkclipError, match="not the one that built"):
        TuneIndex.load(folder, model=other)
    with pytest.raises(FolkclipError, match="another model"):
        TuneIndex.build(other, [str(collection)], folder, progress=False)


def test_build_resumes_from_written_chunks(built, collection, tmp_path):
    from folkclip.index import build as ib

    idx, run, _ = built
    out = tmp_path / "resumed"
    manifest = ib.prepare(idx.model, str(run), [str(collection)], out, False, chunk=8)
    from folkclip.data.dataset import load as load_tokens

    tc = load_tokens(out / "tokens")
    ib.embed_chunk(idx.model, tc, idx.model.corpus_ids(tc), manifest, out, 1)
    assert ib.missing_chunks(out, manifest) == [0, 2]  # stopped after one chunk
    with pytest.raises(FolkclipError, match="unfinished"):
        TuneIndex.load(out)
    resumed = TuneIndex.build(run, [str(collection)], out, progress=False)
    np.testing.assert_allclose(resumed.tunes.vectors, idx.tunes.vectors, atol=1e-6)


def test_numpy_and_faiss_paths_agree(built, monkeypatch):
    pytest.importorskip("faiss")
    idx, _, folder = built
    exact = TuneIndex.load(folder, backend="numpy")
    assert exact.tunes.kind == "numpy" and idx.tunes.kind == "flat"
    for text in ("reel number 1", "other tune", "zzz"):
        assert exact.search(text, 10) == idx.search(text, 10)
    abc = idx.tune(5)["abc"]
    assert exact.suggest(abc, 8) == idx.suggest(abc, 8)
    monkeypatch.setattr(vx, "have_faiss", lambda: False)  # as if faiss-cpu were not installed
    nofaiss = TuneIndex.load(folder)
    assert nofaiss.tunes.kind == "numpy" and nofaiss.search("reel", 10) == idx.search("reel", 10)


def test_vector_backends_agree_on_random_vectors():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((30, 32))  # clustered, as embeddings are
    v = (centres[np.arange(3000) % 30] + 0.4 * rng.standard_normal((3000, 32))).astype(
        np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    q = v[:50] + 0.1 * rng.standard_normal((50, 32)).astype(np.float32)
    s_np, i_np = vx.VectorIndex(v, "numpy").search(q, 10)
    s_fl, i_fl = vx.VectorIndex(v, "flat").search(q, 10)
    np.testing.assert_array_equal(i_np, i_fl)
    np.testing.assert_allclose(s_np, s_fl, atol=1e-5)
    for kind in ("hnsw", "ivf"):
        approx = vx.VectorIndex(v, kind)
        assert approx.kind == kind and approx.recall_at(q, 10) >= 0.9
    assert vx.VectorIndex.build(v[:10]).kind == "flat"
    assert vx.VectorIndex.build(v).kind == "flat"  # 3000 <= EXACT_UP_TO


def test_approximate_index_round_trip(tmp_path):
    pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    v = rng.standard_normal((2000, 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    ivf = vx.VectorIndex(v, "ivf")
    info = ivf.save(tmp_path, "tunes")
    back = vx.VectorIndex.load(tmp_path, info)
    assert back.kind == "ivf" and back._faiss.nprobe == vx.ivf_probes(vx.ivf_cells(2000))
    np.testing.assert_array_equal(back.search(v[:20], 5)[1], ivf.search(v[:20], 5)[1])
    assert vx.VectorIndex.load(tmp_path, info, backend="numpy").kind == "numpy"


def test_cli_json_smoke(built, collection, tmp_path, capsys):
    idx, run, _ = built
    out = tmp_path / "cli-idx"
    assert main(["index", str(run), "--data", str(collection), "--out", str(out),
                 "--no-progress", "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["n_tunes"] == 22 and manifest["recall_at_10"]["tunes"] == 1.0
    assert main(["search", str(out), "Reel Number 2", "-k", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == idx.search("Reel Number 2", 3)
    abc = tmp_path / "q.abc"
    abc.write_text(idx.tune(2)["abc"])
    assert main(["suggest", str(out), str(abc), "--json", "-k", "4"]) == 0
    assert json.loads(capsys.readouterr().out) == idx.suggest(abc.read_text(), 4)
    assert main(["similar", str(out), "--id", "2", "--json", "-k", "4"]) == 0
    assert json.loads(capsys.readouterr().out) == idx.similar(tune_id=2, k=4)
    assert main(["similar", str(out), str(abc), "-k", "4"]) == 0
    assert "Reel Number" in capsys.readouterr().out
    abc.write_text("X:1\nT:broken\nK:Zz\nabc|\n")
    assert main(["suggest", str(out), str(abc)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("folkclip: error: the ABC query could not be read: line 3")
    assert "Traceback" not in err and err.count("\n") == 1
    assert main(["search", str(tmp_path / "nowhere"), "x"]) == 2
    assert "not a folkclip index" in capsys.readouterr().err


@pytest.mark.slow
def test_two_process_predict_build(built, collection, tmp_path):
    pytest.importorskip("lightning")
    idx, run, _ = built
    out = tmp_path / "ddp-idx"
    cmd = [sys.executable, "-m", "folkclip_cli.main", "index", str(run), "--data", str(collection),
           "--out", str(out), "--devices", "2", "--chunk-size", "4", "--no-progress", "--json"]
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = TuneIndex.load(out)
    np.testing.assert_allclose(two.tunes.vectors, idx.tunes.vectors, atol=1e-5)
    assert two.search("reel number 3", 5) == idx.search("reel number 3", 5)


def test_sources_are_collection_relative_never_server_paths(built, collection, capsys):
    idx, _, folder = built
    want = {f"{collection.name}/book1.abc", f"{collection.name}/book2.abc"}
    sources = [idx.tune(i)["source"] for i in range(len(idx))]
    assert set(sources) == want
    for hits in (idx.search("reel number 4", 5), idx.similar(tune_id=0, k=5)):
        assert {h["source"] for h in hits} <= want
    assert main(["similar", str(folder), "--id", "1", "-k", "3", "--json"]) == 0
    assert str(collection) not in capsys.readouterr().out


def test_an_old_index_with_absolute_sources_answers_relative_names():
    from folkclip.index.store import _row

    row = (3, "/usr/lib/python3/site-packages/music21/corpus/oneills1850/0101-0200.abc",
           "7", "T", '["T"]', "reel", "G", "major", "4/4", "oneills1850")
    assert _row(row)["source"] == "oneills1850/0101-0200.abc"
    assert _row((3, "oneills1850/x.abc") + row[2:])["source"] == "oneills1850/x.abc"


def test_profiles_from_pitches_equal_the_text_fit(collection):
    from folkclip.index.profiles import Profiles, ngram_document, pitch_array, pitches_of
    from folkclip.io.sources import read_sources

    tunes = read_sources([str(collection), "tiny"]).tunes
    tunes.append(dataclasses.replace(tunes[0], events=tunes[0].notes[:3]))  # < one 4-gram
    ref = Profiles.fit([ngram_document(pitches_of(t)) for t in tunes])
    got = Profiles.from_pitches([pitch_array(t) for t in tunes])
    assert got.vocab == ref.vocab
    np.testing.assert_array_equal(got.idf, ref.idf)
    assert abs(got.counts - ref.counts).max() == 0
    assert abs(got.tfidf - ref.tfidf).max() < 1e-7
    empty = Profiles.from_pitches([np.array([60, 62], np.int16)])
    assert empty.vocab == {} and empty.counts.shape == (1, 0)


def test_embed_tunes_from_abc_texts_equals_the_index(built, collection):
    import folkclip
    from folkclip.io.sources import read_sources

    idx, run, _ = built
    fm = folkclip.load(run)
    tunes = read_sources([str(collection)]).tunes
    texts = [t.abc for t in tunes[:5]]
    vecs = fm.embed_tunes(texts)  # (5, D)
    assert vecs.shape == (5, fm.dim) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(vecs, idx.tunes.vectors[:5], atol=1e-5)
    np.testing.assert_allclose(fm.embed_tunes(tunes[:5]), vecs, atol=1e-6)  # Tune objects
    np.testing.assert_allclose(fm.embed_tunes(texts[::-1]), vecs[::-1], atol=1e-6)
    assert fm.embed_tunes([]).shape == (0, fm.dim)
    with pytest.raises(AbcQueryError) as err:
        fm.embed_tunes([texts[0], "X:1\nT:no key\nnot music"])
    assert err.value.problems
    with pytest.raises(AbcQueryError, match="no notes"):
        fm.embed_tunes(["X:1\nT:Rests\nK:G\nz4|z4|]\n"])
