"""End-to-end: ``folkclip bits --quick`` (the title model's third training task, its
cross-validation and tables) and ``folkclip name`` on the model it trained."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from folkclip.errors import FolkclipError
from folkclip_cli.main import main
from folkclip_cli.train.config import TitleTrainConfig, TrainConfig, load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "configs" / "title-lm.yaml")


def test_the_title_task_config_leaves_the_other_tasks_configs_alone():
    from folkclip.config import to_dict

    assert "title_lm" not in to_dict(load_config(None))
    cfg = load_config(CONFIG)
    assert isinstance(cfg, TitleTrainConfig) and cfg.title_lm.condition == "melody"
    cfg = load_config(CONFIG, ["title_lm.condition=header", "data.remove=[pitch]"])
    assert cfg.title_lm.condition == "header" and cfg.data.remove == ["pitch"]
    with pytest.raises(FolkclipError, match="condition"):
        load_config(CONFIG, ["title_lm.condition=lyrics"])
    with pytest.raises(FolkclipError, match="monitor"):
        load_config(CONFIG, ["trainer.monitor=val/mrr_mean"])
    assert type(load_config(None, ["task=title_lm", "trainer.monitor=val/bits_per_title"])) \
        is TitleTrainConfig
    assert type(load_config(None)) is TrainConfig


@pytest.fixture(scope="module")
def bits_study(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bits")
    assert main(["bits", "--quick", "--out", str(out), "--config", CONFIG,
                 "--conditions", "none,melody"]) == 0
    return out


def test_bits_scores_every_titled_tune_once_per_condition(bits_study: Path, capsys):
    refs = {}
    for label in ("none", "melody"):
        rows = []
        for k in range(2):
            with open(bits_study / "runs" / label / f"fold{k}" / "bits_test.csv") as fh:
                rows += list(csv.DictReader(fh))
        main_titles = [r["ref"] for r in rows if r["title_index"] == "0"]
        assert len(main_titles) == len(set(main_titles))  # each tune scored in one fold only
        refs[label] = set(main_titles)
        assert all(float(r["bits"]) > 0 for r in rows)
    assert refs["none"] == refs["melody"] and len(refs["none"]) > 50
    table = json.loads((bits_study / "tables" / "bits.json").read_text())
    names = [r["condition"] for r in table["conditions"]]
    assert names[:2] == ["none", "melody"] and any("bigram" in n for n in names)
    comp = {r["first"]: r for r in table["comparisons"]}
    assert comp["none"]["second"] == "melody" and 0 <= comp["none"]["p_holm"] <= 1
    assert comp["none"]["n_tunes"] == len(refs["none"])
    md = (bits_study / "tables" / "bits.md").read_text()
    assert "none - melody" in md and "Scale:" in md
    # a second call finds every fold finished and trains nothing
    capsys.readouterr()
    assert main(["bits", "--quick", "--out", str(bits_study), "--config", CONFIG,
                 "--conditions", "none,melody"]) == 0
    assert "training" not in capsys.readouterr().out


def test_bits_refuses_unknown_conditions_and_switches(tmp_path, capsys):
    assert main(["bits", "--quick", "--out", str(tmp_path), "--conditions", "lyrics"]) == 2
    assert "unknown 'lyrics'" in capsys.readouterr().err
    assert main(["bits", "--quick", "--out", str(tmp_path), "--remove", "tempo"]) == 2
    assert "unknown switch 'tempo'" in capsys.readouterr().err


def test_name_writes_seeded_distinct_names(bits_study: Path, tmp_path, capsys, jig_text):
    run = bits_study / "runs" / "melody" / "fold0"
    tune = tmp_path / "tune.abc"
    tune.write_text(jig_text)
    assert main(["name", str(run), str(tune), "-n", "4", "--json", "--seed", "2"]) == 0
    names = json.loads(capsys.readouterr().out)
    assert 1 <= len(names) <= 4 and all(set(g) == {"title", "bits", "novel", "score"}
                                        for g in names)
    assert len({g["title"].casefold() for g in names}) == len(names)
    assert all(g["title"] == " ".join(g["title"].split()) for g in names)  # spaced as written
    assert all(g["score"] is None for g in names)  # no two-tower model given
    assert main(["name", str(run), str(tune), "-n", "4", "--json", "--seed", "2"]) == 0
    assert json.loads(capsys.readouterr().out) == names
    assert main(["name", str(run), str(tune), "-n", "3"]) == 0
    assert " bits" in capsys.readouterr().out


def test_name_errors_are_one_line_messages(bits_study: Path, tmp_path, capsys):
    run = bits_study / "runs" / "melody" / "fold0"
    bad = tmp_path / "bad.abc"
    bad.write_text("this is not ABC at all\n")
    assert main(["name", str(run), str(bad)]) == 2
    assert "no tune could be read" in capsys.readouterr().err
    assert main(["name", str(tmp_path), str(bad)]) == 2
    assert "holds no title model" in capsys.readouterr().err
    good = tmp_path / "good.abc"
    good.write_text("X:1\nT:T\nK:G\nGABc|\n")
    assert main(["name", str(run), str(good), "-n", "0"]) == 2
    assert "between 1 and" in capsys.readouterr().err
