"""End-to-end smoke runs of `folkclip train` / `folkclip evaluate` on a few dozen tunes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

pytest.importorskip("lightning")

from folkclip_cli.main import main  # noqa: E402

TINY = ["--data", "tiny", "--set", "trainer.batch_size=16", "--set", "tracking.probe_size=4",
        "--set", "trainer.progress_bar=false", "--set", "tracking.logger=csv",
        "--set", "model.melody.dim=32", "--set", "model.title.dim=32", "--set",
        "model.embed_dim=32"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    code = main(["train", "--out", str(out), "--set", "model_preset=gru", "--set",
                 "trainer.max_steps=8", "--set", "tracking.probe_steps=[2, 6]", *TINY])
    assert code == 0
    return out


def test_run_folder_contents(run_dir):
    for name in ("config.yaml", "split.json", "checkpoints/last.ckpt", "model/model.json",
                 "model/weights.pt", "logs/metrics.csv", "eval_test.json",
                 "predictions/step_000002.csv", "predictions/step_000006.csv"):
        assert (run_dir / name).exists(), name
    rows = list(csv.DictReader(open(run_dir / "predictions" / "step_000006.csv")))
    assert len(rows) == 4 and {"true_rank", "top1", "score1"} <= set(rows[0])
    assert all(1 <= int(r["true_rank"]) for r in rows)
    split = json.loads((run_dir / "split.json").read_text())
    assert set(split) == {"train", "validation", "test"}


def test_evaluate_json_and_trec(run_dir, tmp_path, capsys):
    capsys.readouterr()
    trec = tmp_path / "run.trec"
    assert main(["evaluate", str(run_dir), "--split", "all", "--json", "--rankings",
                 str(trec)]) == 0
    m = json.loads(capsys.readouterr().out)
    for d in ("tune_to_title", "title_to_tune"):
        for k in ("mrr", "dcg", "ndcg", "ndcg@10", "recall@1", "recall@5", "recall@10", "hit@1",
                  "hit@5", "hit@10", "map", "median_rank"):
            assert f"{d}/{k}" in m
        assert 0 < m[f"{d}/mrr"] <= 1
    assert m["n_tunes"] > 30 and "ci95" in m and "per_type" in m
    assert trec.exists() and trec.with_suffix(".qrels").exists()


def test_loaded_model_matches_evaluation(run_dir):
    import folkclip

    fm = folkclip.load(run_dir)
    emb = fm.embed_titles(["The Kesh", "the kesh"])
    assert emb.shape == (2, 32)
    assert abs(float((emb[0] ** 2).sum()) - 1) < 1e-5


def test_resume_continues_from_last_checkpoint(run_dir):
    assert main(["train", "--out", str(run_dir), "--resume", "--set", "model_preset=gru",
                 "--set", "trainer.max_steps=10", *TINY]) == 0
    rows = list(csv.DictReader(open(run_dir / "logs" / "metrics.csv")))
    assert max(int(r["step"]) for r in rows if r.get("step")) >= 8


def test_bad_overrides_are_one_line_errors(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path), "--set", "trainer.max_step=3"]) == 2
    assert "unknown config key 'trainer.max_step'" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path), "--set", "seed=abc"]) == 2
    assert "seed" in capsys.readouterr().err


@pytest.mark.slow
def test_ddp_two_cpu_processes_gather_a_global_batch(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "folkclip_cli.main", "train", "--out", str(out), "--set",
           "model_preset=gru", "--set", "trainer.max_steps=8",
           "--set", "trainer.strategy=ddp", "--set", "trainer.devices=2",
           "--set", "trainer.log_every_n_steps=1", *TINY]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = list(csv.DictReader(open(out / "logs" / "metrics.csv")))
    sizes = {float(r["train/global_batch"]) for r in rows if r.get("train/global_batch")}
    assert sizes and max(sizes) == 16.0  # trainer.batch_size is the global batch: 2 x 8
    assert (out / "model" / "weights.pt").exists()


def test_resume_keeps_the_metrics_logged_before(tmp_path):
    from folkclip_cli.train.runner import merge_metrics_csv

    before = "epoch,step,train/loss\n0,9,4.0\n0,19,3.5\n1,29,3.0\n"
    path = tmp_path / "metrics.csv"
    # the resumed run redid step 29 and logged a validation column the old rows lack
    path.write_text("epoch,step,train/loss,val/mrr\n1,29,2.9,\n1,39,2.5,0.1\n")
    merge_metrics_csv(before, path)
    rows = list(csv.DictReader(open(path)))
    assert [(r["step"], r["train/loss"]) for r in rows] == [
        ("9", "4.0"), ("19", "3.5"), ("29", "2.9"), ("39", "2.5")]
    assert rows[0]["val/mrr"] == "" and rows[3]["val/mrr"] == "0.1"
