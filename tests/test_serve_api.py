"""``folkclip serve``'s JSON API on a real tiny index: every route and every error."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

from folkclip_cli.serve import limits
from folkclip_cli.serve.app import create_app


@pytest.fixture(scope="module")
def index(tiny_index):
    from folkclip.index import TuneIndex

    return TuneIndex.load(tiny_index)


@pytest.fixture(scope="module")
def client(index):
    with TestClient(create_app(index)) as c:
        yield c


def test_page_and_static_assets_are_local(client, index):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f"{len(index)} tunes indexed" in page.text
    assert "abcjs 6.7.2" in page.text
    assert "//" not in "".join(p.split('"')[0] for p in page.text.split('src="')[1:])
    assert "http" not in "".join(p.split('"')[0] for p in page.text.split('href="')[1:])
    for path in ("/static/abcjs-basic-min.js", "/static/serve.js",
                 "/static/swagger-ui/swagger-ui-bundle.js", "/static/abcjs-LICENSE.md"):
        assert client.get(path).status_code == 200, path
    docs = client.get("/docs").text
    assert "/static/swagger-ui/swagger-ui-bundle.js" in docs and "cdn." not in docs
    spec = client.get("/openapi.json").json()
    assert {"/api/search", "/api/suggest", "/api/similar", "/api/tunes/{tune_id}",
            "/api/map"} <= set(spec["paths"])
    k = spec["components"]["schemas"]["SuggestRequest"]["properties"]["k"]
    assert (k["minimum"], k["maximum"]) == (1, limits.MAX_K)


def test_search_matches_the_index(client, index):
    r = client.get("/api/search", params={"q": "the enchanted valley", "k": 5})
    assert r.status_code == 200
    hits = r.json()["results"]
    want = index.search("the enchanted valley", k=5)
    assert [h["tune_id"] for h in hits] == [w["tune_id"] for w in want]
    assert [h["score"] for h in hits] == pytest.approx([w["score"] for w in want])
    for h in hits:
        assert {"title", "type", "key", "meter", "score", "abc"} <= set(h)
        assert h["abc"] == index.tune(h["tune_id"])["abc"]
    for h in hits:  # a name inside the collection, never a path of the server
        assert not Path(h["source"]).is_absolute() and h["source"].count("/") == 1
    lean = client.get("/api/search", params={"q": "valley", "k": 2, "abc": "false"}).json()
    assert len(lean["results"]) == 2 and "abc" not in lean["results"][0]


def test_suggest_similar_tune_and_map(client, index):
    tune = client.get("/api/tunes/0").json()
    assert tune["abc"] == index.tune(0)["abc"] and tune["title"] == index.tune(0)["title"]
    r = client.post("/api/suggest", json={"abc": tune["abc"], "k": 3,
                                          "titles": ["My Own Title"]})
    assert r.status_code == 200
    assert r.json()["results"] == index.suggest(tune["abc"], k=3, titles=["My Own Title"])
    assert r.json()["results"][0]["near_duplicate"] is True  # the tune itself is indexed
    by_abc = client.post("/api/similar", json={"abc": tune["abc"], "k": 4}).json()["results"]
    assert by_abc == index.similar(abc=tune["abc"], k=4)
    by_id = client.post("/api/similar", json={"tune_id": 0, "k": 4}).json()["results"]
    assert by_id == index.similar(tune_id=0, k=4) and 0 not in [h["tune_id"] for h in by_id]
    m = client.get("/api/map").json()
    assert m["total"] == len(index) == len(m["points"])
    assert {p["tune_id"] for p in m["points"]} == set(range(len(index)))
    names = [g["name"] for g in m["groups"]]
    assert all(names[p["group"]] == (p["type"] or "unknown") or names[p["group"]] == "(other)"
               for p in m["points"])
    assert client.get("/api/info").json()["tunes"] == len(index)


def test_sound_samples_are_made_not_read():
    from folkclip_cli.serve.tones import midi_pitch

    assert (midi_pitch("A4.mp3"), midi_pitch("Bb3.mp3"), midi_pitch("C8.mp3")) == (69, 58, 108)
    assert midi_pitch("H4.mp3") is None and midi_pitch("../../etc/passwd") is None


def test_sound_route(client):
    r = client.get("/soundfont/acoustic_grand_piano-mp3/Bb3.mp3")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    assert r.content[:4] == b"RIFF" and r.content[8:12] == b"WAVE"
    assert client.get("/soundfont/acoustic_grand_piano-mp3/X9.mp3").status_code == 404
    assert client.get("/soundfont/..%2F..%2Fapp.py/A4.mp3").status_code == 404


# ---------------------------------------------------------------- errors
def test_abc_over_the_limit_is_413(client):
    big = "X:1\nK:D\n" + "abcd " * (limits.MAX_ABC_CHARS // 5 + 10)
    assert client.post("/api/suggest", json={"abc": big}).status_code == 413
    assert client.post("/api/similar", json={"abc": big}).status_code == 413
    body = b'{"abc": "' + b"a" * (limits.MAX_BODY_BYTES + 10) + b'"}'
    r = client.post("/api/suggest", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413


@pytest.mark.parametrize("abc", ["this is not a tune", "X:1\nT:Nothing\nK:D\n"])
def test_malformed_abc_is_422_with_the_readers_problems(client, abc):
    for route in ("/api/suggest", "/api/similar"):
        r = client.post(route, json={"abc": abc})
        assert r.status_code == 422, route
        body = r.json()
        assert body["problems"] and all(p["reason"] for p in body["problems"])
        assert "line" in body["problems"][0]


@pytest.mark.parametrize("k", [0, -1, limits.MAX_K + 1])
def test_k_out_of_range_is_422(client, k):
    assert client.get("/api/search", params={"q": "reel", "k": k}).status_code == 422
    tune = "X:1\nK:D\nABcd efga|"
    assert client.post("/api/suggest", json={"abc": tune, "k": k}).status_code == 422
    assert client.post("/api/similar", json={"abc": tune, "k": k}).status_code == 422


def test_bad_parameters_are_422(client):
    assert client.get("/api/search").status_code == 422
    assert client.get("/api/search", params={"q": ""}).status_code == 422
    long_q = "x" * (limits.MAX_QUERY_CHARS + 1)
    assert client.get("/api/search", params={"q": long_q}).status_code == 422
    assert client.post("/api/similar", json={"k": 3}).status_code == 422  # neither
    assert client.post("/api/similar", json={"abc": "K:D\nA", "tune_id": 1}).status_code == 422
    assert client.post("/api/suggest", json={"abc": "X:1\nK:D\nA", "titles": ["x"] * (
        limits.MAX_USER_TITLES + 1)}).status_code == 422
    assert client.post("/api/suggest", content=b"{not json",
                       headers={"content-type": "application/json"}).status_code == 422
    assert client.get("/api/tunes/abc").status_code == 422
    assert client.get("/api/tunes/-1").status_code == 422


def test_unknown_id_is_404(client, index):
    assert client.get(f"/api/tunes/{len(index)}").status_code == 404
    assert client.get("/api/tunes/999999").status_code == 404
    r = client.post("/api/similar", json={"tune_id": len(index) + 5})
    assert r.status_code == 404 and "no tune" in r.json()["detail"]
    assert client.get("/api/nothing-here").status_code == 404


def test_no_request_names_a_file(client):
    # unknown fields are refused, not ignored: no request body can carry a path
    r = client.post("/api/suggest", json={"abc": "X:1\nK:D\nA", "path": "/etc/passwd"})
    assert r.status_code == 422
    r = client.post("/api/similar", json={"tune_id": 0, "file": "../index/tunes.sqlite"})
    assert r.status_code == 422
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2F..%2Fpages.py",
                 "/static//etc/passwd"):
        assert client.get(path).status_code == 404, path
    assert client.get("/api/tunes/..%2Fmanifest.json").status_code in (404, 422)


def test_cors_closed_by_default(index):
    with TestClient(create_app(index)) as c:
        r = c.get("/api/info", headers={"Origin": "http://elsewhere.example"})
        assert "access-control-allow-origin" not in r.headers
        pre = c.options("/api/suggest", headers={"Origin": "http://elsewhere.example",
                                                 "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 405 and "access-control-allow-origin" not in pre.headers
    with TestClient(create_app(index, allow_origins=("http://ok.example",))) as c:
        r = c.get("/api/info", headers={"Origin": "http://ok.example"})
        assert r.headers["access-control-allow-origin"] == "http://ok.example"
        r = c.get("/api/info", headers={"Origin": "http://elsewhere.example"})
        assert "access-control-allow-origin" not in r.headers


def test_request_time_is_bounded(index):
    import threading

    release = threading.Event()

    class Stuck:
        """The real index, but its searches wait until released."""

        def __len__(self) -> int:
            return len(index)

        def search(self, text: str, k: int = 10) -> list:
            release.wait(5)
            return []

    with TestClient(create_app(Stuck(), timeout_s=0.2)) as c:
        r = c.get("/api/search", params={"q": "reel"})
        release.set()
    assert r.status_code == 503 and "within" in r.json()["detail"]


def test_overload_is_refused_at_once(index):
    import threading

    release = threading.Event()

    class Slow:
        def __len__(self) -> int:
            return len(index)

        def search(self, text: str, k: int = 10) -> list:
            release.wait(5)
            return []

    app = create_app(Slow(), max_pending=1)
    with TestClient(app) as c:
        first = threading.Thread(target=lambda: c.get("/api/search", params={"q": "a"}))
        first.start()
        time.sleep(0.3)  # the first query now holds the only place
        r = c.get("/api/search", params={"q": "b"})
        release.set()
        first.join(10)
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert "busy" in r.json()["detail"]
        assert c.get("/api/search", params={"q": "c"}).status_code == 200  # free again


def _snapshot(*folders: Path) -> dict:
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for f in folders
            for p in f.rglob("*")}


def test_nothing_is_written_to_disk(index, tiny_index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import folkclip_cli

    package = Path(folkclip_cli.__file__).parent
    before = _snapshot(tiny_index, tmp_path, package / "serve", package / "templates")
    with TestClient(create_app(index)) as c:
        abc = c.get("/api/tunes/1").json()["abc"]
        c.get("/")
        c.get("/docs")
        c.get("/api/search", params={"q": "jig"})
        c.post("/api/suggest", json={"abc": abc})
        c.post("/api/suggest", json={"abc": "junk"})
        c.post("/api/similar", json={"tune_id": 2})
        c.get("/api/map")
        c.get("/soundfont/acoustic_grand_piano-mp3/A4.mp3")
    assert _snapshot(tiny_index, tmp_path, package / "serve", package / "templates") == before
    assert not os.listdir(tmp_path)


# ---------------------------------------------------------------- the command
def test_serve_command_refuses_bad_input(tmp_path, capsys):
    from folkclip_cli.main import main

    assert main(["serve", str(tmp_path)]) == 2
    assert "not a folkclip index" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["serve", str(tmp_path), "--port", "70000"])
    assert exc.value.code == 2 and "not a port number" in capsys.readouterr().err


def test_serve_command_listens_on_loopback(tiny_index):
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "folkclip_cli.main", "serve", str(tiny_index),
                             "--port", str(port)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] /
                                                                 "src")})
    try:
        deadline, info = time.monotonic() + 120, None
        while info is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                info = httpx.get(f"http://127.0.0.1:{port}/api/info", timeout=2).json()
            except httpx.HTTPError:
                time.sleep(0.3)
        assert info is not None and info["tunes"] > 0
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/" in out

