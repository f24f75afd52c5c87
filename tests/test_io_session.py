"""Tests for the Session dump reader (tests/fixtures/session/tunes.csv and tunes.json)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from folkclip.abc.model import Bar, Change, Note, Tune
from folkclip.errors import FolkclipError
from folkclip.io.session import (
    read_session_csv,
    read_session_json,
    session_mode_to_key,
    split_abc_lines,
)

FIXTURES = Path(__file__).parent / "fixtures" / "session"
CSV_PATH = FIXTURES / "tunes.csv"
JSON_PATH = FIXTURES / "tunes.json"
COLUMNS = ["tune_id", "setting_id", "name", "type", "meter", "mode", "abc", "date",
           "username", "composer"]


def _by_setting(tunes: list[Tune]) -> dict[str, Tune]:
    return {t.setting_id: t for t in tunes}


def _snapshot(tune: Tune) -> tuple:
    """Everything about a tune except where it was read from (file, line numbers)."""
    events = []
    for e in tune.events:
        if isinstance(e, Note):
            events.append(("note", e.pitch, e.duration, e.bar, e.onset, e.tie, e.decorations,
                           e.chord_symbol, e.grace, e.chord))
        elif isinstance(e, Bar):
            events.append(("bar", e.kind, e.ending, e.index))
        else:
            assert isinstance(e, Change)
            events.append(("change", e.field, e.raw))
    return (tune.number, tune.title, tuple(tune.alt_titles), tune.tune_type, tune.meter,
            tune.unit, tune.key, tune.fields, tune.abc, tune.tune_id, tune.setting_id,
            tune.collection, tuple(tune.warnings), tuple(events))


def _write_csv(path: Path, rows: list[list[object]], columns: list[str] = COLUMNS) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def test_csv_counts_tunes_and_problems() -> None:
    tunes, problems = read_session_csv(CSV_PATH)
    assert len(tunes) == 5
    assert [p.severity for p in problems] == ["error"]
    assert all(t.collection == "thesession" and t.source == str(CSV_PATH) for t in tunes)


def test_json_counts_tunes_and_problems() -> None:
    tunes, problems = read_session_json(JSON_PATH)
    assert len(tunes) == 5
    assert [p.severity for p in problems] == ["error"]


def test_problem_names_file_setting_line_and_reason() -> None:
    _, problems = read_session_csv(CSV_PATH)
    (problem,) = problems
    assert problem.source == str(CSV_PATH)
    assert problem.tune == "setting 3002 'Copper Wren'"
    assert problem.line == 9  # the row's first line in the CSV file
    assert "impossible note length" in problem.reason
    assert "abc line 1" in problem.reason
    assert str(CSV_PATH) in str(problem) and "3002" in str(problem)
    _, json_problems = read_session_json(JSON_PATH)
    assert json_problems[0].line == 5  # record index + 1
    assert json_problems[0].tune == problem.tune


def test_ids_are_strings_and_settings_group_by_tune() -> None:
    tunes, _ = read_session_csv(CSV_PATH)
    groups: dict[str, list[str]] = {}
    for t in tunes:
        groups.setdefault(t.tune_id, []).append(t.setting_id)
    assert groups == {"101": ["1001", "1002"], "102": ["2001"], "103": ["3001"],
                      "104": ["4001"]}
    assert [t.number for t in tunes] == ["1001", "1002", "2001", "3001", "4001"]


def test_row_lines() -> None:
    tunes, _ = read_session_csv(CSV_PATH)
    assert [t.line for t in tunes] == [2, 4, 5, 7, 11]
    tunes, _ = read_session_json(JSON_PATH)
    assert [t.line for t in tunes] == [1, 2, 3, 4, 6]


def test_title_article_moved_to_front() -> None:
    tunes = _by_setting(read_session_csv(CSV_PATH)[0])
    assert tunes["1001"].title == "The Humours Of Knockaduff"
    assert tunes["1002"].title == "The Humours Of Knockaduff"
    assert tunes["2001"].title == 'Lanty\'s "Long" Road, Or The Crooked Stile'


def test_mode_becomes_key() -> None:
    tunes = _by_setting(read_session_csv(CSV_PATH)[0])
    edorian = tunes["2001"]
    assert edorian.fields["K"] == ["E dorian"]
    assert (edorian.key.tonic, edorian.key.mode) == ("E", "dorian")
    assert edorian.key.accidentals == {"F": 1, "C": 1}
    assert 66 in {n.pitch for n in edorian.notes}  # written F sounds F#
    assert 65 not in {n.pitch for n in edorian.notes}
    assert (tunes["3001"].key.tonic, tunes["3001"].key.mode) == ("A", "minor")
    assert tunes["4001"].key.accidentals == {"F": 1}
    assert tunes["1001"].unit == tunes["3001"].unit  # L:1/8 even in 2/4


def test_types_canonicalised() -> None:
    tunes = _by_setting(read_session_csv(CSV_PATH)[0])
    assert {k: t.tune_type for k, t in tunes.items()} == {
        "1001": "jig", "1002": "jig", "2001": "reel", "3001": "polka", "4001": "slip jig"}
    assert tunes["4001"].meter == (9, 8)


def test_escaped_and_real_newlines_split_the_body() -> None:
    tunes = _by_setting(read_session_csv(CSV_PATH)[0])
    assert tunes["1002"].abc.splitlines()[-2:] == ["A|d2e dcB|AFA DFA|", "Bcd e2g|fed d2:|"]
    assert tunes["1001"].abc.splitlines()[-2:] == ["A|dfe dcB|AFD DFA|", "Bcd efg|fdB A2:|"]
    assert split_abc_lines("ab|\\r\\ncd|\\nef|\r\ngh|") == ["ab|", "cd|", "ef|", "gh|"]


def test_csv_and_json_give_identical_tunes() -> None:
    from_csv, csv_problems = read_session_csv(CSV_PATH)
    from_json, json_problems = read_session_json(JSON_PATH)
    assert [_snapshot(t) for t in from_csv] == [_snapshot(t) for t in from_json]
    assert [(p.tune, p.reason) for p in csv_problems] == \
        [(p.tune, p.reason) for p in json_problems]


@pytest.mark.parametrize(("mode", "key"), [
    ("Edorian", "E dorian"), ("Gmajor", "G major"), ("Aminor", "A minor"),
    ("Dmixolydian", "D mixolydian"), ("F#minor", "F# minor"), ("Bbmajor", "Bb major"),
])
def test_session_mode_to_key(mode: str, key: str) -> None:
    assert session_mode_to_key(mode) == key


@pytest.mark.parametrize(("row", "reason"), [
    ([201, 9001, "Bad Mode", "reel", "4/4", "Hlydian", "ABcd|", "", "", ""], "mode"),
    ([202, 9002, "No Body", "reel", "4/4", "Dmajor", "  ", "", "", ""], "empty abc body"),
    ([203, 9003, "Only Rests", "reel", "4/4", "Dmajor", "z4 z4|z8|", "", "", ""], "no notes"),
    ([204, 9004, "Short Row", "reel"], "fields"),
    (["", 9005, "No Tune Id", "reel", "4/4", "Dmajor", "ABcd|", "", "", ""], "tune_id"),
    ([206, 9006, "Bad Meter", "reel", "four", "Dmajor", "ABcd|", "", "", ""], "meter"),
])
def test_bad_rows_become_problems(tmp_path: Path, row: list[object], reason: str) -> None:
    good = [300, 9900, "Good One, The", "reel", "4/4", "Dmajor", "ABcd|", "", "", ""]
    path = _write_csv(tmp_path / "tunes.csv", [good, row, good[:1] + [9901] + good[2:]])
    tunes, problems = read_session_csv(path)
    assert [t.setting_id for t in tunes] == ["9900", "9901"]
    assert [t.line for t in tunes] == [2, 4]
    (problem,) = problems
    assert problem.source == str(path) and problem.line == 3
    assert problem.tune.startswith(f"setting {row[1]}")
    assert reason in problem.reason


def test_percent_in_name_and_extra_quotes(tmp_path: Path) -> None:
    rows = [[1, 11, '100% Wool, The', "polka", "2/4", "Gmajor", "GA Bc|d2 d2|", "", "", ""]]
    (tune,), problems = read_session_csv(_write_csv(tmp_path / "t.csv", rows))
    assert problems == []
    assert tune.title == "The 100% Wool"


def test_json_values_may_be_strings_or_numbers(tmp_path: Path) -> None:
    record = dict(zip(COLUMNS, ["7", 70.0, "Seven", "waltz", "3/4", "Dmajor", "d2 f2 a2|", "",
                                "", None], strict=True))
    path = tmp_path / "tunes.json"
    path.write_text(json.dumps([record, "not an object"]))
    (tune,), (problem,) = read_session_json(path)
    assert (tune.tune_id, tune.setting_id, tune.tune_type) == ("7", "70", "waltz")
    assert problem.line == 2 and "not a JSON object" in problem.reason


def test_csv_that_is_not_a_session_dump(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("title,abc\nKesh,GAB|\n")
    with pytest.raises(FolkclipError) as info:
        read_session_csv(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert "tune_id" in message and "mode" in message and "abc" not in message.split(":")[-1]


@pytest.mark.parametrize("content", ['{"tunes": []}', '[{"title": "Kesh"}]', "not json"])
def test_json_that_is_not_a_session_dump(tmp_path: Path, content: str) -> None:
    path = tmp_path / "other.json"
    path.write_text(content)
    with pytest.raises(FolkclipError, match="other.json"):
        read_session_json(path)


def test_empty_csv_and_missing_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(FolkclipError, match="not a Session dump"):
        read_session_csv(empty)
    with pytest.raises(FolkclipError, match="cannot read"):
        read_session_csv(tmp_path / "missing.csv")
    header_only = _write_csv(tmp_path / "header.csv", [])
    assert read_session_csv(header_only) == ([], [])
