"""Names written by a title model in the "no known tune" answer: an index that carries a
title model (``folkclip index ... --title-model``), ``folkclip identify``'s fallback (kind
``generated``, labelled, seeded), an index without one, and ``POST /api/suggest`` and
``/api/identify``'s ``generated`` list."""

from __future__ import annotations

import json
import shutil

import pytest

from folkclip.errors import FolkclipError
from folkclip.identify import Identifier, read_abc_query
from folkclip.identify.limits import GENERATED_NAMES
from folkclip_cli.main import main

# Leaps no tune of `tiny` makes, in a rhythm none has: no known tune.
NAMELESS = "K:C\nC^F B,_e | c^G, D a | _B,g ^C=f | E,_a' F^c |\n"
LABEL = "generated names (written by the title model, not identifications)"


@pytest.fixture(scope="module")
def query():
    return read_abc_query(NAMELESS, "nameless.abc")


def test_the_index_records_the_title_model_it_carries(tiny_named_index, tiny_title_model):
    manifest = json.loads((tiny_named_index / "manifest.json").read_text())
    entry = manifest["title_model"]
    assert entry["run"] == str(tiny_title_model.resolve())
    assert set(entry["files"]) == {"title_lm.json", "title_lm_weights.pt"}
    assert (tiny_named_index / "title_lm" / "title_lm_weights.pt").is_file()
    assert manifest["state"] == "complete"  # adding it rebuilt nothing


def test_fallback_holds_suggestions_then_generated_names(tiny_named_index, query):
    results = Identifier.open(tiny_named_index).identify(query, k=4)
    kinds = [r.kind for r in results]
    assert "identified" not in kinds
    sugg = [r for r in results if r.kind == "suggestion"]
    gen = [r for r in results if r.kind == "generated"]
    assert kinds == ["suggestion"] * len(sugg) + ["generated"] * len(gen)
    assert 1 <= len(sugg) <= 4 and 1 <= len(gen) <= min(4, GENERATED_NAMES)
    for g in gen:
        assert g.tune_id is None and g.bars is None and g.confidence is None
        assert isinstance(g.novel, bool) and g.bits > 0 and g.titles == [g.title]
    assert [g.score for g in gen] == sorted((g.score for g in gen), reverse=True)
    assert len({g.title.casefold() for g in gen}) == len(gen)
    assert all(s.novel is None and s.bits is None for s in sugg)
    # the same query gets the same names; another seed others
    again = Identifier.open(tiny_named_index).identify(query, k=4)
    assert [r.to_json() for r in again] == [r.to_json() for r in results]
    other = Identifier.open(tiny_named_index)
    other.names_seed = 1
    assert [r.title for r in other.identify(query, k=4) if r.kind == "generated"] != \
        [g.title for g in gen]


def test_an_index_without_a_title_model_gives_no_names(tiny_index, query):
    ident = Identifier.open(tiny_index)
    results = ident.identify(query, k=4)
    assert results and {r.kind for r in results} == {"suggestion"}
    assert ident.writes_names is False


def test_cli_text_and_json_label_the_names(tiny_named_index, tiny_index, tiny_title_model,
                                           tmp_path, capsys):
    q = tmp_path / "nameless.abc"
    q.write_text(NAMELESS)
    assert main(["identify", str(tiny_named_index), str(q), "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert "no known tune matches the query" in out and LABEL in out
    after = out.split(LABEL)[1]
    assert "(generated name, novel" in after or "(generated name, an existing title" in after
    assert main(["identify", str(tiny_named_index), str(q), "-k", "3", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)["results"]
    gen = [r for r in res if r["kind"] == "generated"]
    assert gen and all({"novel", "bits", "score", "title"} <= set(r) for r in gen)
    # an old index: no names, said once; --title-model gives them
    assert main(["identify", str(tiny_index), str(q), "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert LABEL not in out and out.count("carries no title model") == 1
    assert main(["identify", str(tiny_index), str(q), "-k", "3", "--json", "--title-model",
                 str(tiny_title_model)]) == 0
    assert [r for r in json.loads(capsys.readouterr().out)["results"]
            if r["kind"] == "generated"] == gen


def test_a_changed_or_missing_title_model_is_refused(tiny_named_index, tiny_index, tmp_path,
                                                     capsys):
    from folkclip.index.title_model import attach_title_model, load_index_title_model

    bad = tmp_path / "bad"
    shutil.copytree(tiny_named_index, bad)
    weights = bad / "title_lm" / "title_lm_weights.pt"
    weights.write_bytes(weights.read_bytes()[:-8])
    with pytest.raises(FolkclipError, match="not the one the manifest records"):
        load_index_title_model(bad)
    shutil.rmtree(bad / "title_lm")
    with pytest.raises(FolkclipError, match="cannot be read"):
        load_index_title_model(bad)
    assert load_index_title_model(tiny_index) is None
    with pytest.raises(FolkclipError, match="no title model"):
        attach_title_model(bad, tiny_index)  # an index is no title-model run
    assert main(["index", str(tiny_index.parent / "run"), "--data", "tiny", "--out",
                 str(bad), "--no-progress", "--title-model", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no title model" in err and "Traceback" not in err


def test_api_suggest_and_identify_carry_generated_names(tiny_named_index, tiny_index):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from folkclip.index import TuneIndex
    from folkclip_cli.serve.app import create_app

    index = TuneIndex.load(tiny_named_index)
    tune = index.tune(2)["abc"]
    with TestClient(create_app(index)) as c:
        r = c.post("/api/suggest", json={"abc": tune, "k": 3})
        assert r.status_code == 200
        body = r.json()
        assert body["results"] == index.suggest(tune, k=3)
        want = [g.to_dict() for g in index.names(tune, 3)]
        assert body["generated"] == want and 1 <= len(want) <= 3
        assert all(set(g) == {"title", "bits", "novel", "score"} for g in want)
        assert c.post("/api/suggest", json={"abc": tune, "k": 3}).json() == body  # seeded
        assert c.get("/api/info").json()["generated_names"] is True
        spec = c.get("/openapi.json").json()["components"]["schemas"]
        assert {"title", "bits", "novel"} <= set(spec["GeneratedName"]["required"])
        pytest.importorskip("multipart")
        r = c.post("/api/identify", data={"abc": NAMELESS, "k": "3"})
        assert r.status_code == 200, r.text
        res = r.json()
        assert res["results"] and all(x["kind"] == "suggestion" for x in res["results"])
        assert res["generated"] and all(set(g) == {"title", "bits", "novel", "score"}
                                        for g in res["generated"])
    with TestClient(create_app(TuneIndex.load(tiny_index))) as c:
        body = c.post("/api/suggest", json={"abc": tune, "k": 3}).json()
        assert body["generated"] == [] and body["results"]
        assert c.get("/api/info").json()["generated_names"] is False
