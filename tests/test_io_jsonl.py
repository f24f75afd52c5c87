"""Tests for the JSON-lines tune reader (tests/fixtures/tunes.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from folkclip.errors import FolkclipError
from folkclip.io.jsonl import has_header, read_jsonl

JSONL_PATH = Path(__file__).parent / "fixtures" / "tunes.jsonl"


def _write(path: Path, *records: object) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records))
    return path


def test_counts_tunes_and_problems() -> None:
    tunes, problems = read_jsonl(JSONL_PATH)
    assert [t.line for t in tunes] == [1, 2, 5]
    assert [(p.line, p.severity) for p in problems] == [(4, "error"), (6, "error")]
    assert all(t.source == str(JSONL_PATH) and t.collection == "tunes" for t in tunes)


def test_malformed_line_and_missing_key_are_problems() -> None:
    _, (malformed, keyless) = read_jsonl(JSONL_PATH)
    assert malformed.source == str(JSONL_PATH)
    assert malformed.reason.startswith("malformed JSON")
    assert keyless.tune == "record 6 'Keyless Air'"
    assert "no 'key' or 'mode'" in keyless.reason


def test_full_abc_record() -> None:
    gannet = read_jsonl(JSONL_PATH)[0][0]
    assert gannet.title == "The Gannet's Rest"
    assert gannet.alt_titles == ["Rest Of The Gannet"]
    assert (gannet.number, gannet.tune_id, gannet.setting_id) == ("7", "7", None)
    assert gannet.tune_type == "hornpipe"
    assert (gannet.key.tonic, gannet.key.mode) == ("A", "dorian")


def test_body_with_key_gets_a_header() -> None:
    morning = read_jsonl(JSONL_PATH)[0][1]
    assert morning.title == "Tin Whistle Morning"
    assert morning.alt_titles == ["Morning On The Whistle"]
    assert morning.tune_type == "reel"  # "reels" canonicalised
    assert morning.meter == (4, 4) and morning.fields["L"] == ["1/8"]
    assert morning.key.accidentals == {"F": 1, "C": 1}
    assert morning.number == "2" and morning.tune_id is None
    assert morning.notes[0].pitch == 66  # F sounds F# in D major


def test_session_style_mode() -> None:
    lantern = read_jsonl(JSONL_PATH)[0][2]
    assert lantern.title == "The Marsh Lantern"
    assert (lantern.tune_id, lantern.setting_id, lantern.number) == ("55", "5501", "5501")
    assert (lantern.key.tonic, lantern.key.mode) == ("E", "dorian")
    assert lantern.key.accidentals == {"F": 1, "C": 1}
    assert (lantern.tune_type, lantern.meter) == ("slide", (12, 8))


def test_has_header() -> None:
    assert has_header(["X:1", "T:A", "% note", "K:G", "GAB|"])
    assert has_header(["", "K:D", "d2|"])
    assert not has_header(["GABc|", "K:D", "d2|"])  # a key change inside a body
    assert not has_header(["T:Only a title", "GAB|"])


def test_body_with_key_change_is_a_body(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.jsonl",
                  {"title": "Turn", "key": "G", "meter": "2/4", "abc": "GA Bc|\nK:D\nFA d2|"})
    (tune,), problems = read_jsonl(path, collection="mine")
    assert problems == [] and tune.collection == "mine"
    assert tune.key.tonic == "G"
    assert [n.pitch for n in tune.notes][4] == 66  # after K:D


def test_json_titles_fill_or_extend_abc_titles(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.jsonl",
                  {"title": "Wren's Nest, The", "abc": "X:3\nK:G\nGABc|d4|"},
                  {"titles": ["Kite, The", "Other Kite"], "abc": "X:4\nT:The Kite\nK:D\nd4|"})
    (nest, kite), problems = read_jsonl(path)
    assert problems == []
    assert (nest.title, nest.alt_titles) == ("The Wren's Nest", [])
    assert (kite.title, kite.alt_titles) == ("The Kite", ["Other Kite"])


@pytest.mark.parametrize(("record", "reason"), [
    ("[1, 2]", "not a JSON object"),
    ({"title": "No Abc"}, "no 'abc'"),
    ({"abc": 12}, "no 'abc'"),
    ({"abc": "ABcd|", "mode": "Qmajor"}, "mode"),
    ({"abc": "X:1\nT:Bad\nK:G\nA0 B|"}, "impossible note length"),
    ({"abc": "ABcd|", "key": "G", "meter": "x/y"}, "meter"),
])
def test_bad_records_become_problems(tmp_path: Path, record: object, reason: str) -> None:
    good = {"abc": "X:1\nT:Fine\nK:G\nGABc|"}
    path = _write(tmp_path / "t.jsonl", good, "", record, good)
    tunes, problems = read_jsonl(path)
    assert [t.line for t in tunes] == [1, 4]
    (problem,) = problems
    assert problem.source == str(path) and problem.line == 3
    assert reason in problem.reason


def test_warnings_are_kept_as_warning_problems(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.jsonl", {"id": 5, "abc": "X:5\nT:Odd\nK:G\nGAB#c|d4|"})
    (tune,), problems = read_jsonl(path)
    assert tune.warnings
    assert [p.severity for p in problems] == ["warning"] * len(tune.warnings)
    assert problems[0].tune == "id 5"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FolkclipError, match="cannot read"):
        read_jsonl(tmp_path / "none.jsonl")
