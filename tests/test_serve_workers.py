"""What ``folkclip serve --workers`` rests on: ONNX Runtime towers that agree with torch,
read-only SQLite per process, memory-mapped vectors, and the command with two workers."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from folkclip.index import store
from folkclip.index import vectors as vx
from folkclip.index.query_encoder import ONNX_TOLERANCE, QueryEncoder


@pytest.fixture(scope="module")
def index(tiny_index):
    from folkclip.index import TuneIndex

    return TuneIndex.load(tiny_index)


def _gru_attn(fm):
    """A small untrained model of the default architecture over ``fm``'s vocabulary."""
    import torch

    from folkclip.export import FolkclipModel
    from folkclip.models import create_model

    torch.manual_seed(0)
    model = create_model("gru-attn", {f: len(v) for f, v in fm.vocab.items()}, embed_dim=32,
                         **{"melody.dim": 32, "title.dim": 32})
    return FolkclipModel(model, fm.vocab, fm.tokenizer_config, fm.max_events)


@pytest.mark.parametrize("arch", ["tiny run (gru)", "gru-attn"])
def test_onnx_towers_agree_with_torch(index, arch):
    pytest.importorskip("onnxruntime")
    from folkclip.abc.parser import parse_tunebook
    from folkclip.data.batch import tune_batch
    from folkclip.data.dataset import tokenize_corpus
    from folkclip.eval.evaluation import embed_tunes
    from folkclip.index.query import read_query
    from folkclip.io.sources import Corpus

    fm = index.model if arch.startswith("tiny") else _gru_attn(index.model)
    fast, slow = QueryEncoder(fm, "onnx"), QueryEncoder(fm, "torch")
    assert slow.backends == {"tune": "torch", "title": "torch"}
    if arch == "gru-attn":  # the default architecture's melody tower exports
        assert fast.backends["tune"] == "onnx"
    for i in range(0, len(index), 7):  # tunes of many lengths
        abc = index.tune(i)["abc"]
        got = read_query(abc, fm, encoder=fast).vector  # (D,)
        tc = tokenize_corpus(Corpus(parse_tunebook(abc, "q")[0][:1]), fm.tokenizer_config)
        ids = tc.remap(fm.vocab)
        want = embed_tunes(fm.model, tc, [0], 1, fm.max_events, ids)[0]  # packed torch path
        np.testing.assert_allclose(got, want, atol=ONNX_TOLERANCE)
        np.testing.assert_allclose(slow.tune_vector(tune_batch(tc, [0], fm.max_events,
                                                               ids=ids)), want, atol=1e-6)
        title = index.tune(i)["title"] or "untitled"
        np.testing.assert_allclose(fast.title_vectors([title]), fm.embed_titles([title]),
                                   atol=ONNX_TOLERANCE)
    many = ["a reel", "The Blackbird", "x"]  # several titles: torch, padded batch
    np.testing.assert_allclose(fast.title_vectors(many), fm.embed_titles(many), atol=1e-6)


def test_a_tower_that_does_not_export_stays_on_torch(index, monkeypatch):
    pytest.importorskip("onnxruntime")
    import torch

    def fail(*args, **kwargs):
        raise RuntimeError("no export")

    monkeypatch.setattr(torch.onnx, "export", fail)
    enc = QueryEncoder(index.model)
    assert enc.backends == {"tune": "torch", "title": "torch"}
    with pytest.raises(ValueError, match="backend"):
        QueryEncoder(index.model, "tensorrt")


def test_metadata_is_read_only_and_opened_per_process(tiny_index, monkeypatch):
    meta = store.Metadata(tiny_index)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        meta.con.execute("DELETE FROM tunes")
    first = meta.con
    assert meta.con is first  # one connection per process
    monkeypatch.setattr(store.os, "getpid", lambda: -7)  # as in a forked worker process
    assert meta.con is not first and meta.tune(0)["title"] == store.Metadata(
        tiny_index).tune(0)["title"]


def test_ivf_lists_and_vectors_are_memory_mapped(tmp_path):
    faiss = pytest.importorskip("faiss")
    rng = np.random.default_rng(2)
    v = rng.standard_normal((3000, 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    built = vx.VectorIndex(v, "ivf")
    back = vx.VectorIndex.load(tmp_path, built.save(tmp_path, "tunes"))
    assert isinstance(faiss.downcast_InvertedLists(back._faiss.invlists),
                      faiss.OnDiskInvertedLists)
    assert not back.vectors.flags.writeable  # a view of the read-only .npy mapping
    s1, i1 = built.search(v[:30], 10)
    s2, i2 = back.search(v[:30], 10)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(s1, s2, atol=1e-6)


def test_serve_command_with_two_workers(tiny_index):
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "folkclip_cli.main", "serve", str(tiny_index),
                             "--port", str(port), "--workers", "2"], stdout=subprocess.PIPE,
                            text=True, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] /
                                                                 "src")})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline, info = time.monotonic() + 300, None
        while info is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                info = httpx.get(f"{url}/api/info", timeout=2).json()
            except httpx.HTTPError:
                time.sleep(0.5)
        assert info is not None and info["tunes"] > 0
        abc = httpx.get(f"{url}/api/tunes/3", timeout=60).json()["abc"]
        for _ in range(4):  # requests spread over both workers
            assert len(httpx.get(f"{url}/api/search", params={"q": "reel", "k": 3},
                                 timeout=60).json()["results"]) == 3
            hits = httpx.post(f"{url}/api/suggest", json={"abc": abc, "k": 2},
                              timeout=60).json()["results"]
            assert hits[0]["near_duplicate"] is True
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert "with 2 worker processes" in out
    assert "httptools, uvloop" in out  # the serve extra installs both


def test_http_stack_follows_what_is_installed(monkeypatch):
    import sys

    from folkclip.errors import FolkclipError
    from folkclip_cli.serve.cli import http_stack

    for name in ("httptools", "uvloop"):  # a None entry makes `import name` fail
        monkeypatch.setitem(sys.modules, name, None)
    assert http_stack() == ("h11", "asyncio")
    assert http_stack("h11", "asyncio") == ("h11", "asyncio")
    with pytest.raises(FolkclipError, match="--http httptools: 'httptools' is not installed"):
        http_stack("httptools", "auto")
    with pytest.raises(FolkclipError, match="--loop uvloop"):
        http_stack("auto", "uvloop")
    fake = type(sys)("httptools")
    monkeypatch.setitem(sys.modules, "httptools", fake)
    assert http_stack() == ("httptools", "asyncio")
    assert http_stack("h11") == ("h11", "asyncio")  # asked for by name: kept
