"""Tests for :mod:`folkclip.abc.unfold` and the abc2midi cross-check (scripts/check_abc2midi.py).

The tests that run abc2midi are skipped when it is not on PATH (they fail instead when
``FOLKCLIP_REQUIRE_ABC2MIDI`` is set, as in ``.ci/run``); the one that reads the whole
Nottingham collection, found as folkclip finds the ``nottingham`` source, is marked
``slow``, skipped without the data, and checks the README's figure exactly.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from folkclip.abc.fields import WHOLE
from folkclip.abc.model import Bar, Change, Note
from folkclip.abc.parser import parse_tunebook
from folkclip.abc.unfold import unfold
from folkclip.errors import FolkclipError
from folkclip.io.sources import nottingham_dir

ROOT = Path(__file__).resolve().parents[1]

# The README's figure: abc2midi and folkclip agree on 1,030 of Nottingham's 1,034 tunes.
README_IDENTICAL, README_TOTAL = 1030, 1034


def _nottingham() -> Path | None:
    try:
        return nottingham_dir()
    except FolkclipError:
        return None


NOTTINGHAM = _nottingham()
_REQUIRED = bool(os.environ.get("FOLKCLIP_REQUIRE_ABC2MIDI"))
needs_abc2midi = pytest.mark.skipif(shutil.which("abc2midi") is None and not _REQUIRED,
                                    reason="abc2midi (abcmidi package) is not on PATH")


def test_abc2midi_is_there_when_required():
    if _REQUIRED:
        assert shutil.which("abc2midi"), "FOLKCLIP_REQUIRE_ABC2MIDI is set but abc2midi is missing"


def _load_check():
    spec = importlib.util.spec_from_file_location("check_abc2midi",
                                                  ROOT / "scripts" / "check_abc2midi.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_abc2midi"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


check = _load_check()


# ------------------------------------------------------------ unfold, by hand
def n(pitch: int) -> Note:
    return Note(pitch, WHOLE // 4)


def played(events, parts=None) -> list[int]:
    return [e.pitch for e in unfold(events, parts) if isinstance(e, Note)]


C, D, E, F, G, A, B = 60, 62, 64, 65, 67, 69, 71


def test_unfold_plain_repeat():
    events = [Bar("|:"), n(C), n(D), Bar(":|"), n(E), Bar("|]")]
    assert played(events) == [C, D, C, D, E]


def test_unfold_without_repeats_is_written_order():
    events = [n(C), Bar("|"), n(D), Bar("||"), n(E), Bar("|]")]
    assert unfold(events) == events


def test_unfold_first_and_second_endings():
    events = [Bar("|:"), n(C), Bar("|", "1"), n(D), Bar(":|", "2"), n(E), Bar("|]")]
    assert played(events) == [C, D, C, E]


def test_unfold_end_repeat_without_start_repeats_from_the_start():
    events = [n(C), Bar("||"), n(D), Bar(":|"), n(E)]
    assert played(events) == [C, D, C, D, E]


def test_unfold_second_end_repeat_repeats_from_the_first():
    events = [n(C), Bar(":|"), n(D), Bar(":|"), n(E)]
    assert played(events) == [C, C, D, D, E]


def test_unfold_double_repeat():
    events = [Bar("|:"), n(C), Bar("::"), n(D), Bar(":|"), n(E)]
    assert played(events) == [C, C, D, D, E]


def test_unfold_ending_lists():
    events = [Bar("|:"), n(C), Bar("|", "1,3"), n(D), Bar(":|", "2"), n(E),
              Bar(":|", "4"), n(F), Bar("|]")]
    assert played(events) == [C, D, C, E, C, D, C, F]


def test_unfold_second_half_with_endings_but_no_start_repeat_is_played_as_abc2midi_does():
    # abc2midi keeps its pass counter over the ||: the second half is not repeated
    # and its second ending is played straight away.
    events = [Bar("|:"), n(C), Bar("|", "1"), n(D), Bar(":|", "2"), n(E), Bar("||"),
              n(F), Bar("|", "1"), n(G), Bar(":|", "2"), n(A), Bar("||")]
    assert played(events) == [C, D, C, E, F, A]


def test_unfold_parts_in_header_order():
    events = [Change("P", "A", "A"), n(C), Bar("|"), Change("P", "B", "B"), n(D),
              Bar(":|")]
    assert played(events, "ABA") == [C, D, D, C]
    assert played(events, "A2B") == [C, C, D, D]
    assert played(events, "(AB)2") == [C, D, D, C, D, D]
    assert played(events) == [C, D, C, D]  # no order: labels only, :| from the start


def test_unfold_skipped_ending_runs_over_part_labels_without_part_order():
    events = [Change("P", "A", "A"), n(C), Bar("|", "1"), n(D), Bar("|", "2"), n(E),
              Bar(":|", "3"), Change("P", "B", "B"), n(F), Bar(":|"), n(G), Bar("|]")]
    assert played(events) == [C, D, G]  # labels ignored: [3 is skipped up to the :|
    assert played(events, "A") == [C, D]  # a one-part order plays part A only


def test_unfold_is_pure():
    events = [Bar("|:"), n(C), Bar("|", "1"), n(D), Bar(":|", "2"), n(E), Bar("|]")]
    before = [(type(e), getattr(e, "kind", None), getattr(e, "ending", None),
               getattr(e, "pitch", None)) for e in events]
    copy = list(events)
    out = unfold(events)
    assert events == copy
    assert before == [(type(e), getattr(e, "kind", None), getattr(e, "ending", None),
                       getattr(e, "pitch", None)) for e in events]
    assert all(any(o is e for e in events) for o in out)


def test_unfold_on_parsed_tune():
    text = "X:1\nM:4/4\nL:1/4\nK:C\n|: C [1 D :| [2 E |]\n"
    tunes, problems = parse_tunebook(text)
    assert not problems
    assert played(tunes[0].events) == [C, D, C, E]


# ------------------------------------------------------- comparison, no abc2midi
def seq(*notes):
    return [check.SeqNote(Fraction(o), p, Fraction(d)) for o, p, d in notes]


def test_compare_reports_first_difference():
    a = seq((0, C, "1/4"), ("1/4", D, "1/4"), ("1/2", E, "1/2"))
    assert check.compare(a, a) is None
    assert check.compare(a, seq((0, C, "1/4"), ("1/4", D + 1, "1/4"), ("1/2", E, "1/2"))) == 1
    assert check.compare(a, seq((0, C, "1/4"), ("1/4", D, "1/8"), ("1/2", E, "1/2"))) == 1
    assert check.compare(a, a[:2]) == 2
    within_a_tick = seq((0, C, "1/4"), (Fraction(1, 4) + Fraction(1, 1920), D, "1/4"),
                        ("1/2", E, "1/2"))
    assert check.compare(a, within_a_tick) is None


def test_our_melody_merges_ties_and_skips_rests():
    text = "X:1\nM:4/4\nL:1/4\nK:D\nF2- F z | ^c2 c2- | c4 |]\n"
    tune = parse_tunebook(text)[0][0]
    got = [(n.onset, n.pitch, n.duration) for n in check.our_melody(tune)]
    assert got == [(0, 66, Fraction(3, 4)), (1, 73, Fraction(1, 2)),
                   (Fraction(3, 2), 73, Fraction(3, 2))]


def test_read_midi_minimal_file():
    track = bytes([0x00, 0x90, 60, 100, 0x83, 0x60, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00])
    data = (b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big")
            + (1).to_bytes(2, "big") + (480).to_bytes(2, "big")
            + b"MTrk" + len(track).to_bytes(4, "big") + track)
    division, tracks = check.read_midi(data)
    assert division == 480
    assert [(e[0], e[1], e[3]) for e in tracks[0]] == [(0, 0x90, 60), (480, 0x80, 60)]


# ------------------------------------------------------------ against abc2midi
FIXTURES = """\
X:1
T:Repeats and endings
M:4/4
L:1/8
K:G
|:GABc dedB|dedB dBGB|[1 cBAG FGAF:|[2 cBAG FGAG||
|:Bcde fgaf|gfed B2G2:|

X:2
T:Broken rhythm
M:4/4
L:1/8
K:D
A>B c<d e>>f g<<a|A3/2B/ c/d3/ e2 f2|]

X:3
T:Triplets
M:6/8
L:1/8
K:Em
(3EFG A2 B | (3:2:2e2f g3 | (3efg (3agf e3|]

X:4
T:Accidentals carry through the bar
M:4/4
L:1/8
K:F
^F G F A =F G F A|_E F E2 G A E2|B ^c c B =B c B2|]

X:5
T:Ties across bar lines
M:3/4
L:1/4
K:C
c2 ^d- | d e f- | f2 z | [CEG]- [CEG] G |]

X:6
T:Parts in header order
M:2/4
L:1/8
P:ABA
K:G
P:A
GABc|d2 d2:|
P:B
efge|d4|]
"""


@needs_abc2midi
def test_fixtures_agree_with_abc2midi():
    results = check.check_text(FIXTURES)
    assert [r.number for r in results] == ["1", "2", "3", "4", "5", "6"]
    bad = [check._format_mismatch(r) for r in results if r.status != "identical"]
    assert not bad, "\n".join(bad)
    assert check.summarise(results) == (6, 6)


@needs_abc2midi
def test_corrupted_sequence_is_reported(tmp_path):
    path = tmp_path / "one.abc"
    path.write_text(FIXTURES.split("\n\n")[0] + "\n", encoding="utf-8")
    tune = parse_tunebook(path.read_text())[0][0]
    midi = check.run_abc2midi(path, tune.number, str(tmp_path))
    assert midi is not None
    ours = check.our_melody(tune)
    theirs = check.collapse_ornaments(ours, check.midi_melody(midi))
    assert check.compare(ours, theirs) is None
    shifted = list(ours)
    shifted[5] = check.SeqNote(ours[5].onset, ours[5].pitch + 1, ours[5].duration)
    assert check.compare(shifted, theirs) == 5
    assert check.difference_kind(shifted, theirs, 5) == "pitch"
    longer = list(ours)
    longer[7] = check.SeqNote(ours[7].onset, ours[7].pitch, ours[7].duration * 2)
    assert check.compare(longer, theirs) == 7
    assert check.compare(ours[:-1], theirs) == len(ours) - 1


@needs_abc2midi
def test_mismatching_tune_is_reported_with_context(tmp_path):
    # Compare a tune with abc2midi's rendering of a slightly different one.
    written = "X:1\nT:Scale\nM:4/4\nL:1/8\nK:C\nCDEF GABc|\nc2B2 A4|]\n"
    other = tmp_path / "other.abc"
    other.write_text(written.replace("c2B2", "c2_B2"), encoding="utf-8")
    midi = check.run_abc2midi(other, "1", str(tmp_path))
    tune = parse_tunebook(written)[0][0]
    result = check.check_tune(tune, midi, "scale.abc")
    assert result.status == "mismatch"
    assert (result.index, result.kind) == (9, "pitch")
    assert result.context == "c2B2 A4|]"
    assert result.ours[3] == "B@5/4+1/4" and result.theirs[3] == "^A@5/4+1/4"
    assert "scale.abc X:1 'Scale': mismatch at note 9 (pitch)" in check._format_mismatch(result)


@needs_abc2midi
def test_main_prints_agreement(tmp_path, capsys):
    path = tmp_path / "fixtures.abc"
    path.write_text(FIXTURES, encoding="utf-8")
    assert check.main([str(path), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "6/6 tunes identical (100.0%)" in out


@pytest.mark.slow
@needs_abc2midi
@pytest.mark.skipif(NOTTINGHAM is None, reason="Nottingham collection not available")
def test_nottingham_agreement():
    results = []
    for path in sorted(NOTTINGHAM.glob("*.abc")):
        results.extend(check.check_file(path))
    identical, total = check.summarise(results)
    assert (identical, total) == (README_IDENTICAL, README_TOTAL)
    assert f"{identical / total:.1%}" == "99.6%"
