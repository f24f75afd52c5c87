"""Ablations, sweeps and comparisons: variant planning, seed statistics, and the smoke
ablation (two removed elements, tiny models; fixture ``ablation`` in conftest)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lightning")

from folkclip_cli.main import main  # noqa: E402
from folkclip.errors import FolkclipError  # noqa: E402
from folkclip_cli.study.compare import (  # noqa: E402
    RunResult, collect, markdown_table, summarise,
)
from folkclip_cli.study.sweep import ablation_variants, plan  # noqa: E402

from conftest import TINY_TRAIN as TINY  # noqa: E402  (tests/conftest.py)


def test_ablation_variants_add_to_the_configs_own_removals():
    vs = ablation_variants(["ornaments"], ["key", "type+meter", "first_bars=4"])
    assert [v.label for v in vs] == ["full", "key", "type+meter", "first_bars=4"]
    assert vs[0].overrides == ()
    assert vs[1].overrides == ("data.remove=[key, ornaments]",)
    assert vs[2].overrides == ("data.remove=[meter, ornaments, type]",)
    assert vs[3].overrides == ("data.remove=[ornaments]", "data.first_bars=4")


@pytest.mark.parametrize("elements", [["tempo"], ["key", "key"], [""], ["full"]])
def test_ablation_variants_refuse_bad_elements(elements):
    with pytest.raises(FolkclipError):
        ablation_variants([], elements)


def test_plan_gives_every_variant_every_seed(tmp_path):
    runs = plan(ablation_variants([], ["rhythm"]), 2, tmp_path)
    assert [(r.variant.label, r.seed) for r in runs] == [
        ("full", 0), ("full", 1), ("rhythm", 0), ("rhythm", 1)]
    assert runs[3].out == tmp_path / "rhythm" / "seed1"
    assert runs[3].overrides[-1] == "seed=1"


def _result(label: str, seed: int, mrr: float) -> RunResult:
    keys = ("tune_to_title/mrr", "tune_to_title/ndcg@10", "title_to_tune/mrr",
            "title_to_tune/ndcg@10")
    return RunResult(label, seed, Path(f"{label}/seed{seed}"), {k: mrr for k in keys},
                     {k: [mrr - 0.1, mrr + 0.1] for k in keys})


def test_summarise_pairs_differences_by_seed():
    results = [_result("full", 0, 0.30), _result("full", 1, 0.40), _result("full", 2, 0.50),
               _result("pitch", 0, 0.20), _result("pitch", 1, 0.30), _result("pitch", 2, 0.41),
               _result("one", 0, 0.25)]
    s = {g.label: g for g in summarise(results, reference="full")}
    key = "tune_to_title/mrr"
    assert s["full"].mean[key] == pytest.approx(0.4) and s["full"].n == 3
    # paired differences -0.1, -0.1, -0.09: mean -0.0967, a narrow interval
    assert s["pitch"].delta[key] == pytest.approx(-0.29 / 3)
    lo, hi = s["pitch"].delta_ci[key]
    assert lo < -0.0967 < hi and hi < 0
    # an unpaired t-interval of the pitch scores themselves is far wider
    assert s["pitch"].ci[key][1] - s["pitch"].ci[key][0] > 5 * (hi - lo)
    # one seed: the run's own bootstrap interval; no paired interval
    assert s["one"].ci[key] == (0.15, 0.35) and math.isnan(s["one"].delta_ci[key][0])
    table = markdown_table(list(s.values()), first_column="remove", reference="full")
    lines = table.splitlines()
    assert lines[0].startswith("| remove | seeds | tune→title MRR")
    assert "| full | 3 | 0.400 ± 0.248 |" in lines[2] and lines[2].endswith("| — | — |")
    assert "-0.097 ±" in lines[3]
    with pytest.raises(FolkclipError):
        summarise(results, reference="nope")


def test_ablation_writes_csv_table_and_plot(ablation):
    rows = list(csv.DictReader(open(ablation / "ablation.csv")))
    assert [(r["remove"], r["seed"]) for r in rows] == [("full", "0"), ("rhythm", "0"),
                                                          ("key+meter", "0")]
    header = next(csv.reader(open(ablation / "ablation.csv")))
    assert header[:2] == ["remove", "seed"] and "tune_to_title/mrr" in header
    assert all(0 < float(r["tune_to_title/mrr"]) <= 1 for r in rows)
    table = (ablation / "ablation.md").read_text()
    assert "| rhythm | 1 |" in table and "Δ tune→title MRR" in table
    assert (ablation / "ablation.png").stat().st_size > 1000
    # each run really trained with its removal switches
    for label, removed in (("full", []), ("rhythm", ["rhythm"]),
                           ("key+meter", ["key", "meter"])):
        model = json.loads((ablation / label / "seed0" / "model" / "model.json").read_text())
        assert model["tokenizer"]["remove"] == removed


def test_ablation_resumes_and_refuses_changed_settings(ablation, capsys):
    capsys.readouterr()
    assert main(["ablate", "--remove", "rhythm", "--seeds", "1", "--out", str(ablation),
                 *TINY, "--set", "trainer.threads=1"]) == 0  # threads do not change results
    assert "2 runs: 2 finished, 0 to train" in capsys.readouterr().out
    assert main(["ablate", "--remove", "rhythm", "--seeds", "1", "--out", str(ablation),
                 *TINY, "--set", "optim.lr=0.1"]) == 2
    assert "trained with other settings" in capsys.readouterr().err


def test_compare_groups_seed_folders(ablation, tmp_path, capsys):
    capsys.readouterr()
    assert main(["compare", str(ablation / "full"), str(ablation / "rhythm" / "seed0"),
                 "--reference", "full", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| full | 1 |" in out and "| rhythm | 1 |" in out
    assert (tmp_path / "compare.md").exists() and (tmp_path / "compare.png").exists()
    assert main(["compare", str(tmp_path)]) == 2  # no finished run there


def test_sweep_trains_labelled_variants_in_parallel_subprocesses(tmp_path, capsys):
    assert main(["sweep", "--variant", "small", "model.melody.dim=16", "--variant", "wide",
                 "--seeds", "1", "--jobs", "2", "--out", str(tmp_path), *TINY]) == 0
    assert (tmp_path / "wide" / "seed0" / "train.log").exists()  # ran as a subprocess
    rows = list(csv.DictReader(open(tmp_path / "sweep.csv")))
    assert [r["variant"] for r in rows] == ["small", "wide"]
    small = json.loads((tmp_path / "small" / "seed0" / "model" / "model.json").read_text())
    assert small["model"]["melody"]["dim"] == 16
    assert main(["sweep", "--variant", "a=b", "--out", str(tmp_path / "x"), *TINY]) == 2


def _fake_run(root: Path, label: str, seed: int, rr: dict[str, float]) -> Path:
    """A finished run folder with scalar and per-query test results (no training)."""
    from folkclip.eval.queries import write_queries

    run = root / label / f"seed{seed}"
    run.mkdir(parents=True)
    ids = sorted(rr)
    values = np.array([rr[q] for q in ids])
    table = {d: {"query": np.array(ids, dtype=object), "type": np.array(["reel"] * len(ids),
                                                                           dtype=object),
                 "rr": values, "ndcg@10": values / 2} for d in ("tune_to_title",
                                                                 "title_to_tune")}
    write_queries(table, run / "per_query_test.csv")
    metrics = {f"{d}/{k}": float(np.mean(v)) for d in table for k, v in
               (("mrr", values), ("ndcg@10", values / 2))}
    (run / "eval_test.json").write_text(json.dumps({**metrics, "n_tunes": len(ids)}))
    (run / "config.yaml").write_text(f"seed: {seed}\n")
    return run


def test_compare_pairs_per_query_after_averaging_seeds(tmp_path):
    rng = np.random.default_rng(0)
    queries = [f"q{k}" for k in range(60)]
    base = dict(zip(queries, rng.random(60)))
    for seed in (0, 1):
        _fake_run(tmp_path, "full", seed, {q: base[q] + 0.01 * seed for q in queries})
        # "better": +0.05 on every query; "same": the reference's values; "less": fewer queries
        _fake_run(tmp_path, "better", seed, {q: base[q] + 0.05 + 0.01 * seed for q in queries})
        _fake_run(tmp_path, "same", seed, {q: base[q] + 0.01 * seed for q in queries})
    _fake_run(tmp_path, "less", 0, {q: base[q] - 0.1 for q in queries[:40]})
    results = collect([tmp_path / name for name in ("full", "better", "same", "less")])
    s = {g.label: g for g in summarise(results, reference="full")}
    key = "tune_to_title/mrr"
    assert s["better"].delta[key] == pytest.approx(0.05)
    assert s["better"].n_queries[key] == 60 and s["less"].n_queries[key] == 40
    # "less" is paired with the reference's seed mean (base + 0.005) on its 40 queries
    assert s["less"].delta[key] == pytest.approx(-0.105)
    lo, hi = s["better"].delta_ci[key]
    assert lo == pytest.approx(0.05) and hi == pytest.approx(0.05)  # constant difference
    assert s["same"].delta[key] == 0.0 and s["same"].p[key] == 1.0
    assert s["less"].p[key] < 0.001
    # Holm over the three rows: the smallest p times 3 at least
    assert s["less"].p_holm[key] >= 3 * s["less"].p[key] - 1e-12
    assert s["better"].seed_sd[key] == pytest.approx(0.0, abs=1e-12)
    table = markdown_table(list(s.values()), first_column="remove", reference="full")
    assert "p tune→title MRR (Holm)" in table.splitlines()[0]
    assert "| better | 2 |" in table and "+0.050" in table


def test_cross_validated_sweep_pairs_every_tune(tmp_path, capsys):
    """sweep --folds 2: two variants, each a 2-fold CV; paired over all tiny tunes."""
    out = tmp_path / "sweep"
    args = ["sweep", "--variant", "a", "optim.lr=0.002", "--variant", "b", "optim.lr=0.01",
            "--seeds", "1", "--folds", "2", "--out", str(out), *TINY,
            "--set", "trainer.max_steps=2", "--set", "tracking.probe_steps=[2]"]
    assert main(args) == 0
    paired = list(csv.DictReader(open(out / "sweep_paired.csv")))
    row = next(r for r in paired if r["variant"] == "b" and r["metric"] == "tune_to_title/mrr")
    pooled = json.loads((out / "a" / "seed0" / "eval_test.json").read_text())
    assert int(row["n_queries"]) == pooled["n_tunes"] > 50  # every titled tiny tune
    assert float(row["ci_low"]) <= float(row["delta"]) <= float(row["ci_high"])
    assert 0 <= float(row["p_holm"]) <= 1
    assert (out / "b" / "seed0" / "fold1" / "eval_test.json").exists()
    capsys.readouterr()
    assert main(args) == 0  # finished: nothing retrained
    assert "2 runs: 2 finished, 0 to train" in capsys.readouterr().out
