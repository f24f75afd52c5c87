"""``folkclip study``: its plan, the pieces it adds to training, and the --quick run end to
end (every part, a report with a section per part, MLflow, resuming, refusing changed
settings)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from folkclip.data.splits import assign_splits, make_identity
from folkclip.errors import FolkclipError
from folkclip_cli.study.plan import REMOVALS, make_plan, other_tradition_variants


def test_plan_names_every_run_once_and_every_removal_switch():
    plan = make_plan(Path("out"), folds=5)
    assert len(plan.parts["removal"]) == len(REMOVALS) + 1
    assert plan.parts["removal"][0] == "gru-attn" and "gru-attn" in plan.parts["encoders"]
    for element in ("first_bars=4", "first_bars=8", "type+meter", "chords", "octave"):
        assert element in plan.removal_labels
    # the transferred towers name each fold's own LM; learning curves share the 100% runs
    lm = plan.variants["lm-finetuned"].overrides
    assert "model.melody.init_from=out/runs/lm/fold{fold}" in lm
    assert plan.learning_curve["lm-finetuned"][1.0] == "lm-finetuned"
    assert "data.train_share=0.25" in plan.variants["lm-top1@25"].overrides
    assert [r.out.name for r in plan.lm_runs] == [f"fold{k}" for k in range(5)] + ["split"]
    others = other_tradition_variants(plan, "lm-finetuned")
    assert "model.melody.init_from=out/runs/lm/split" in others["lm-finetuned-default"].overrides
    assert "data.sources=[nottingham]" in others["header-nottingham"].overrides
    assert plan.single == {"header-default", "lm-finetuned-default"}


def test_train_share_keeps_nested_subsets_of_training_groups_only():
    ids = [make_identity("c", f"id{i}", [f"Tune {i}"], f"c:f#{i}") for i in range(600)]
    full = assign_splits(ids, (0.8, 0.1, 0.1), 3, 5, 1)
    half = assign_splits(ids, (0.8, 0.1, 0.1), 3, 5, 1, train_share=0.5)
    quarter = assign_splits(ids, (0.8, 0.1, 0.1), 3, 5, 1, train_share=0.25)
    for a, b, c in zip(full, half, quarter):
        if a != "train":
            assert a == b == c  # validation and test do not move
        assert c != "train" or b == "train"  # 25% is a subset of 50%
    n = full.count("train")
    assert 0.4 * n < half.count("train") < 0.6 * n
    assert 0.15 * n < quarter.count("train") < 0.35 * n
    with pytest.raises(FolkclipError):
        assign_splits(ids, train_share=0)


def test_fold_config_names_the_fold_language_model():
    from folkclip_cli.study.crossval import fold_config
    from folkclip_cli.train.config import load_config

    cfg = load_config(None, ["model_preset=lm-transfer",
                             "model.melody.init_from=runs/lm/fold{fold}"])
    assert fold_config(cfg, 5, 3).model.melody.init_from == "runs/lm/fold3"
    plain = dataclasses.replace(cfg, model=dataclasses.replace(
        cfg.model, melody=dataclasses.replace(cfg.model.melody, init_from="runs/lm")))
    assert fold_config(plain, 5, 3).model.melody.init_from == "runs/lm"


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> Path:
    pytest.importorskip("sklearn")
    pytest.importorskip("mlflow")
    from folkclip.io.sources import nottingham_dir

    try:
        nottingham_dir()
    except FolkclipError as err:
        pytest.skip(str(err))
    from folkclip_cli.main import main

    out = tmp_path_factory.mktemp("study") / "quick"
    assert main(["study", "--quick", "--out", str(out), "--jobs", "1"]) == 0
    return out


def test_quick_study_writes_every_part(quick):
    html = (quick / "report.html").read_text()
    for k in range(1, 7):
        assert f'id="part{k}"' in html
    assert "<img" in html and 'src="http' not in html and "<script src" not in html
    assert html.count("Command: <code>") >= 8  # every table says what made it
    for stem in ("encoders", "removal", "transfer", "probes", "title_words",
                 "nottingham_cv"):
        assert (quick / "tables" / f"{stem}.csv").stat().st_size > 0
        assert (quick / "tables" / f"{stem}.md").exists()
    removal = (quick / "tables" / "removal.md").read_text()
    assert "remove-rhythm" in removal and "p (Holm)" in removal and "rhythm 0." in removal
    # part 4's baselines: their rows and each row's Δ against the best of them
    for label in ("baseline-random", "baseline-nearest-melody", "baseline-linear"):
        assert f"| {label} |" in removal and (quick / "runs" / label / "eval_test.json").exists()
    assert "baseline, p (Holm) |" in removal.splitlines()[2]
    assert (quick / "tables" / "baselines.md").exists()
    summary = json.loads((quick / "study.json").read_text())
    assert summary["budget"]["folds"] == 2 and summary["budget"]["quick"] is True
    probes = summary["What the towers encode"]["probes"]["rows"]
    assert {r["target"] for r in probes} >= {"meter", "mode"}
    assert all(0 <= r["trained"] <= 1 for r in probes)


def test_quick_study_runs_are_in_mlflow(quick):
    logged = json.loads((quick / "mlflow_logged.json").read_text())
    assert "gru-attn/fold0" in logged and "lm/fold1" in logged
    with sqlite3.connect(quick / "mlflow.db") as db:
        runs = db.execute("select count(*) from runs").fetchone()[0]
        mrr = db.execute("select count(*) from metrics where key = 'val/mrr_mean'").fetchone()[0]
    assert runs == len(logged) and mrr >= runs - 6  # every two-tower fold logged per epoch
    tables = list((quick / "mlartifacts").glob("*/artifacts/predictions/step_*.json"))
    assert tables, "prediction tables were not logged"


def test_quick_study_resumes_and_refuses_changed_settings(quick, capsys):
    from folkclip_cli.main import main

    capsys.readouterr()
    assert main(["study", "--quick", "--out", str(quick), "--train-only", "--jobs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "to train" in printed and " 0 to train" in printed
    assert all(line.endswith(" 0 to train") for line in printed.splitlines()
               if line.endswith(" to train"))
    assert main(["study", "--quick", "--out", str(quick), "--train-only",
                 "--set", "trainer.max_epochs=2"]) == 2
    assert "other settings" in capsys.readouterr().err


def test_out_of_fold_embeddings_cover_each_tune_once(quick):
    from folkclip_cli.study.probing import pooled_embeddings, token_statistics

    pooled = pooled_embeddings(quick / "runs" / "gru-attn")["trained"]
    assert len(set(pooled.indices.tolist())) == len(pooled.indices) == len(pooled.tune)
    stats = token_statistics(pooled.corpus, pooled.indices, pooled.max_events)
    np.testing.assert_allclose(stats.sum(1), 4.0)  # four normalised histograms per tune


def test_readme_tables_script_reads_the_study_folder(quick, capsys):
    import runpy

    script = Path(__file__).parents[1] / "scripts" / "study_readme_tables.py"
    main = runpy.run_path(str(script))["main"]
    assert main([str(quick)]) == 0
    printed = capsys.readouterr().out
    for part in range(1, 7):
        assert f"Part {part}" in printed
    assert "remove-rhythm" in printed and "Holm p" in printed
    assert "Baselines (part 4 of issue 19)" in printed and "| baseline-linear |" in printed
