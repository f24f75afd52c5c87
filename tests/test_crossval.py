"""Grouped K-fold cross-validation on the tiny collection: every titled tune is a test
query exactly once, no identity group straddles folds, finished folds are skipped and
``evaluate`` of the CV folder pools the folds (TREC run covering all of them)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

pytest.importorskip("lightning")

from folkclip_cli.main import main  # noqa: E402
from folkclip.data.dataset import load_tokenized  # noqa: E402
from folkclip.eval.queries import read_queries  # noqa: E402
from folkclip.data.splits import group_ids  # noqa: E402
from folkclip.abc.titles import title_key  # noqa: E402

from conftest import TINY_TRAIN  # noqa: E402


@pytest.fixture(scope="module")
def cv_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cv") / "run"
    assert main(["train", "--folds", "2", "--out", str(out), *TINY_TRAIN,
                 "--set", "trainer.max_steps=2", "--set", "tracking.probe_steps=[2]"]) == 0
    return out


def test_every_tune_is_a_query_exactly_once_and_groups_stay_in_one_fold(cv_run):
    tc = load_tokenized("tiny")
    titled = [i for i, m in enumerate(tc.meta) if title_key(m["title"])]
    refs = tc.refs()
    pooled = read_queries(cv_run / "per_query_test.csv")
    t2t = pooled["tune_to_title"]
    assert Counter(t2t["query"].tolist()) == Counter(refs[i] for i in titled)
    t2u = pooled["title_to_tune"]["query"].tolist()
    assert len(t2u) == len(set(t2u))
    fold_of = dict(zip(t2t["query"].tolist(), t2t["fold"].tolist()))
    assert set(fold_of.values()) == {0.0, 1.0}
    groups = group_ids(tc.identities())
    per_group: dict[int, set] = {}
    for i in titled:
        per_group.setdefault(int(groups[i]), set()).add(fold_of[refs[i]])
    assert all(len(f) == 1 for f in per_group.values())
    # each fold's model was tested on its own fold, validated inside the other one
    for k in (0, 1):
        split = json.loads((cv_run / f"fold{k}" / "split.json").read_text())
        assert not set(split["test"]) & (set(split["train"]) | set(split["validation"]))
        assert split["validation"]
    pooled_eval = json.loads((cv_run / "eval_test.json").read_text())
    assert pooled_eval["n_tunes"] == len(titled) == sum(
        f["n_tunes"] for f in pooled_eval["folds"])
    assert pooled_eval["tune_to_title/mrr"] == pytest.approx(float(np.mean(t2t["rr"])))


def test_cv_resumes_and_evaluate_pools_the_folds(cv_run, tmp_path, capsys):
    capsys.readouterr()
    assert main(["train", "--folds", "2", "--out", str(cv_run), *TINY_TRAIN,
                 "--set", "trainer.max_steps=2", "--set", "tracking.probe_steps=[2]",
                 "--set", "trainer.threads=1"]) == 0
    out = capsys.readouterr().out
    assert out.count("finished, skipped") == 2
    assert main(["train", "--folds", "2", "--out", str(cv_run), *TINY_TRAIN,
                 "--set", "trainer.max_steps=3"]) == 2
    assert "other settings" in capsys.readouterr().err
    rankings = tmp_path / "cv.run"
    assert main(["evaluate", str(cv_run), "--json", "--rankings", str(rankings)]) == 0
    m = json.loads(capsys.readouterr().out)
    saved = json.loads((cv_run / "eval_test.json").read_text())
    assert m["tune_to_title/mrr"] == pytest.approx(saved["tune_to_title/mrr"], abs=1e-6)
    assert m["n_tunes"] == saved["n_tunes"] and m["pooled_folds"] == 2
    qrels = (tmp_path / "cv.qrels").read_text().splitlines()
    queries = {line.split()[0] for line in qrels}
    assert {q.split(":")[0] for q in queries} == {"f0", "f1"}
    assert sum(q.split(":")[1] == "t2t" for q in queries) == saved["n_tunes"]
