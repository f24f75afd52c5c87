"""``POST /api/identify`` on a real tiny index: a recording, a MIDI file and typed bars of
an indexed tune are named; every refusal has its status (413, 415, 422, 501)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
pytest.importorskip("multipart", reason="python-multipart reads the uploads")
pytest.importorskip("librosa")
pytest.importorskip("mido")

from fastapi.testclient import TestClient
from melody_audio import encode, midi_file, synth_notes  # tests/melody_audio.py

from folkclip.identify import query_limits as QL
from folkclip.identify import read_abc_query
from folkclip_cli.serve import limits
from folkclip_cli.serve.app import create_app

TUNE_ID = 3
KEYS = {"tune_id", "title", "titles", "bars", "score", "confidence", "kind"}


@pytest.fixture(scope="module")
def index(tiny_index):
    from folkclip.index import TuneIndex

    return TuneIndex.load(tiny_index)


@pytest.fixture(scope="module")
def client(index):
    with TestClient(create_app(index)) as c:
        yield c


@pytest.fixture(scope="module")
def played(index):
    """The first 24 notes of an indexed tune, a fourth up, at ~100 bpm: (pitches, lengths)."""
    notes = read_abc_query(index.tune(TUNE_ID)["abc"], "tune.abc")
    ioi = np.append(np.diff(notes.onset_s), notes.duration_s[-1])[:24] * 0.6  # beats -> s
    return notes.midi_pitch[:24] + 5, np.maximum(ioi, 0.08)


def _best(r):
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert results and all(KEYS <= set(x) for x in results)
    return results[0]


def test_recording_of_an_indexed_tune_is_identified(client, index, played):
    wav = encode(synth_notes(*played), 22_050)
    best = _best(client.post("/api/identify", files={"file": ("my phone.wav", wav,
                                                                 "audio/wav")}))
    assert best["kind"] == "identified" and best["tune_id"] == TUNE_ID
    assert best["title"] == index.tune(TUNE_ID)["title"] and best["title"] in best["titles"]
    assert best["bars"][0] <= 2 and 0 < best["confidence"] <= 1


def test_recording_named_only_by_its_type(client, played):
    flac = encode(synth_notes(*played), 22_050, "FLAC")
    best = _best(client.post("/api/identify", files={"file": ("blob", flac, "audio/flac")}))
    assert best["tune_id"] == TUNE_ID


def test_midi_file_and_typed_bars(client, index, played):
    best = _best(client.post("/api/identify",
                             files={"file": ("q.mid", midi_file(*played), "audio/midi")},
                             data={"k": "3"}))
    assert best["tune_id"] == TUNE_ID
    abc = index.tune(TUNE_ID)["abc"]
    key = next(line for line in abc.splitlines() if line.startswith("K:"))
    typed = key + "\n" + "|".join(abc.split(key, 1)[1].split("|")[:5])  # four bars
    r = client.post("/api/identify", data={"abc": typed, "k": "2"})
    assert _best(r)["tune_id"] == TUNE_ID and len(r.json()["results"]) <= 2


def test_unknown_kind_is_415(client):
    r = client.post("/api/identify", files={"file": ("notes.docx", b"PK\x03\x04", "x/y")})
    assert r.status_code == 415 and "cannot read .docx" in r.json()["detail"]


@pytest.mark.parametrize("name, data, words", [
    ("empty.wav", b"", "empty (0 bytes)"),
    ("junk.wav", b"%PDF-1.4 not audio at all" * 10, "not a readable audio file"),
    ("junk.mid", b"MThd\x00\x00", "unreadable MIDI file"),
    ("silence.wav", encode(np.zeros(22_050 * 2, np.float32)), "no melody found"),
    ("noise.wav", encode(0.3 * np.random.default_rng(0).standard_normal(22_050 * 4)
                         .astype(np.float32)), "no melody found"),
])
def test_unreadable_or_tuneless_uploads_are_422(client, name, data, words):
    r = client.post("/api/identify", files={"file": (name, data, "application/octet-stream")})
    assert r.status_code == 422, r.text
    assert words in r.json()["detail"] and r.json()["detail"].startswith(name)
    assert "/" not in r.json()["detail"].split(":")[0]  # the upload's name, never a path


def test_typed_junk_and_bad_forms_are_422(client):
    r = client.post("/api/identify", data={"abc": "AB"})
    assert r.status_code == 422 and r.json()["problems"]
    assert client.post("/api/identify", data={"k": "3"}).status_code == 422
    assert client.post("/api/identify", data={"abc": "GABc dedB|", "k": "0"}).status_code == 422
    both = client.post("/api/identify", data={"abc": "GABc dedB|"},
                       files={"file": ("q.mid", b"MThd", "audio/midi")})
    assert both.status_code == 422


def test_oversized_uploads_are_413(client):
    big_midi = b"MThd" + bytes(QL.MAX_MIDI_BYTES)
    r = client.post("/api/identify", files={"file": ("big.mid", big_midi, "audio/midi")})
    assert r.status_code == 413 and "big.mid" in r.json()["detail"]
    huge = bytes(limits.MAX_UPLOAD_BYTES + 1)
    r = client.post("/api/identify", files={"file": ("huge.wav", huge, "audio/wav")})
    assert r.status_code == 413


def test_client_paths_never_come_back(client):
    r = client.post("/api/identify", files={"file": ("C:\\Users\\me\\x.wav", b"", "")})
    assert r.status_code == 422 and r.json()["detail"].startswith("x.wav: ")


def test_index_without_identification_data_is_501(tiny_index, tmp_path):
    from folkclip.index import TuneIndex

    old = tmp_path / "old-index"
    shutil.copytree(tiny_index, old)
    shutil.rmtree(old / "identify")
    with TestClient(create_app(TuneIndex.load(old))) as c:
        r = c.post("/api/identify", data={"abc": "GABc dedB|dBAG FGAF|"})
    assert r.status_code == 501 and "folkclip index" in r.json()["detail"]


def test_route_is_documented(client):
    spec = client.get("/openapi.json").json()
    assert "/api/identify" in spec["paths"]
    assert client.get("/api/info").json()["max_upload_bytes"] == limits.MAX_UPLOAD_BYTES
