"""``--ray``: the study's runs as tasks on a local Ray cluster started by the test give
byte-identical per-query results to the local run; ``ray`` is imported by the Ray launcher
only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def test_only_the_ray_launcher_imports_ray():
    importers = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "ray" for n in names):
                importers.append(path.relative_to(SRC).as_posix())
    assert sorted(set(importers)) == ["folkclip_cli/study/ray_launcher.py"]


def _per_query(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted((out / "runs").rglob("per_query_test.csv"))}


def test_quick_study_through_ray_matches_the_local_run(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    pytest.importorskip("lightning")
    from folkclip_cli.main import main

    monkeypatch.chdir(tmp_path)  # the Ray tasks run in the driver's directory
    args = ["study", "--quick", "--part", "removal", "--train-only"]
    assert main([*args, "--out", "local", "--jobs", "1"]) == 0
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert main([*args, "--out", "onray", "--ray", "auto"]) == 0
    finally:
        ray.shutdown()
    local, onray = _per_query(tmp_path / "local"), _per_query(tmp_path / "onray")
    assert local and "runs/remove-first_bars4/per_query_test.csv" in local
    assert local.keys() == onray.keys()
    for name in local:
        assert local[name] == onray[name], name
    log = (tmp_path / "onray" / "runs" / "remove-first_bars4" / "train.log").read_text()
    assert "fold 1/2" in log  # trained by the task's `folkclip train --folds 2`


def test_a_retried_ray_task_resumes_from_the_run_checkpoint(tmp_path, monkeypatch):
    """The task body decides on resuming when it starts, so Ray's retry of a killed task
    continues from ``checkpoints/last.ckpt`` (a cross-validation from its unfinished fold)."""
    from folkclip_cli.study import ray_launcher
    from folkclip_cli.study.jobs import PlannedRun, Variant

    calls = []
    monkeypatch.setattr(ray_launcher.subprocess, "call",
                        lambda cmd, **kw: calls.append((cmd, kw["cwd"])) or 0)
    run = PlannedRun(Variant("a", ("model.embed_dim=16",)), 0, Path("runs/a"))
    args = {"run": run, "config": None, "base": [], "extra": ["trainer.threads=1"], "folds": 0}
    ray_launcher._train(args, str(tmp_path), {})
    (tmp_path / "runs/a/checkpoints").mkdir(parents=True)
    (tmp_path / "runs/a/checkpoints/last.ckpt").write_bytes(b"")
    ray_launcher._train(args, str(tmp_path), {})
    assert "--resume" not in calls[0][0] and calls[1][0][-1] == "--resume"
    assert calls[1][1] == str(tmp_path) and (tmp_path / "runs/a/train.log").exists()
    cv = ray_launcher._train({**args, "folds": 2}, str(tmp_path), {})  # run_cv resumes itself
    assert cv == str(tmp_path / "runs/a") and "--resume" not in calls[2][0]
    assert calls[2][0][calls[2][0].index("--folds") + 1] == "2"
