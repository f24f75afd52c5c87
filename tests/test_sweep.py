"""Ablations, sweeps and comparisons: variant planning, seed statistics, and the smoke
ablation (two removed elements, tiny models; fixture ``ablation`` in conftest)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

pytest.importorskip("lightning")

from folkclip_cli.main import main  # noqa: E402
from folkclip.errors import FolkclipError  # noqa: E402
from folkclip_cli.study.compare import (  # noqa: E402
    RunResult, markdown_table, mean_ci, summarise, t_quantile,
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


def test_t_quantiles_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 4, 9, 30):
        assert t_quantile(df) == pytest.approx(stats.t.ppf(0.975, df), abs=1e-3)


def test_mean_ci_hand_worked():
    mean, lo, hi = mean_ci([1.0, 2.0, 3.0])  # sd 1, half-width t(2) / sqrt(3)
    assert mean == 2.0
    assert hi - mean == pytest.approx(4.303 / math.sqrt(3))
    assert mean - lo == pytest.approx(hi - mean)
    one = mean_ci([0.5])
    assert one[0] == 0.5 and math.isnan(one[1])


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
