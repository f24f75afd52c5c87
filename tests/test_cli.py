"""The command line, called as main([...])."""

from __future__ import annotations

import json
from pathlib import Path

from folkclip_cli.main import main

FIXTURES = Path(__file__).parent / "fixtures"


def write_book(tmp_path: Path, reel_book: str) -> Path:
    path = tmp_path / "book.abc"
    path.write_text(reel_book)
    return path


def test_inspect_json_reports_counts_types_titles_and_errors(tmp_path, reel_book, capsys):
    path = write_book(tmp_path, reel_book)
    assert main(["data", "inspect", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["tunes"], report["parsed"], report["skipped"]) == (3, 2, 1)
    assert report["types"] == {"reel": 2}
    assert report["titles"] == 2
    (err,) = report["errors"]
    assert set(err) == {"source", "tune", "line", "reason"}
    assert err["source"] == str(path) and "X:2" in err["tune"] and err["line"] == 14


def test_inspect_combines_sources_and_folders(tmp_path, reel_book, jig_text, capsys):
    write_book(tmp_path, reel_book)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "jig.abc").write_text(jig_text)
    assert main(["data", "inspect", str(tmp_path), str(tmp_path / "sub"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["parsed"] == 4 and report["types"] == {"reel": 2, "jig": 2}


def test_inspect_text_mode(tmp_path, reel_book, capsys):
    assert main(["data", "inspect", str(write_book(tmp_path, reel_book))]) == 0
    out = capsys.readouterr().out
    assert "3 tunes: 2 read" in out and "error:" in out


def test_missing_source_is_a_one_line_error(tmp_path, capsys):
    assert main(["data", "inspect", str(tmp_path / "nope.abc")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not found" in err


def test_check_leakage(tmp_path, reel_book, jig_text, capsys):
    book = tmp_path / "b.abc"
    book.write_text(reel_book + "\n" + jig_text.replace("X:1", "X:9"))
    assert main(["data", "check-leakage", str(book), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["crossing_groups"] == 0 and report["tunes"] == 3


def test_check_leakage_uses_the_configs_split_and_folds(tmp_path, capsys):
    """The split checked is the one training uses: the config's seed, fractions, folds."""
    from folkclip.data.dataset import tokenize_corpus
    from folkclip.io.sources import read_sources

    book = tmp_path / "b.abc"
    book.write_text("".join(f"X:{k}\nT:Tune {k % 9}\nM:4/4\nL:1/8\nK:G\nGABc dedB|\n\n"
                            for k in range(40)))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data:\n  split_seed: 3\n  fractions: [0.5, 0.2, 0.3]\n  folds: 3\n")
    assert main(["data", "check-leakage", str(book), "--config", str(cfg), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    tc = tokenize_corpus(read_sources([str(book)]))
    split = tc.split(3, (0.5, 0.2, 0.3))
    assert report["split_sizes"] == {k: len(v) for k, v in split.items() if len(v)}
    assert report["seed"] == 3 and report["folds"] == 3
    assert report["groups_crossing_folds"] == 0 and sum(report["fold_sizes"]) == 40
    # every tune here has the same notes: every pair in two folds is a near-duplicate
    sizes = report["fold_sizes"]
    assert report["near_duplicates_across_folds"] == (40 ** 2 - sum(n * n for n in sizes)) // 2
    assert report["fold_sizes"] == [len(tc.split(3, (0.5, 0.2, 0.3), 3, k)["test"])
                                    for k in range(3)]


def test_tokens_command_prints_events_and_decoded_abc(tmp_path, jig_text, capsys):
    path = tmp_path / "jig.abc"
    path.write_text(jig_text)
    assert main(["data", "tokens", str(path), "--remove", "key", "--decode"]) == 0
    out = capsys.readouterr().out
    assert "type:jig" in out and "key:D" not in out and "K:C major" in out


def test_help_lists_every_command(capsys):
    import pytest

    with pytest.raises(SystemExit) as exc:
        main(["-h"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("data", "train", "evaluate", "map", "generate", "ablate", "sweep",
                    "compare", "report"):
        assert command in out



def test_help_opens_with_a_one_line_description_of_folkclip(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["--help"])
    paragraphs = capsys.readouterr().out.split("\n\n")
    assert paragraphs[0].startswith("usage: folkclip")
    description = " ".join(paragraphs[1].split())  # argparse may wrap it
    assert description.startswith("folkclip: joint embeddings of folk-tune titles and melodies")
    assert "``" not in description and "command line:" not in description
