"""Tests of the ABC reader on snippets that exercise real-world notation."""

from __future__ import annotations

from fractions import Fraction

import pytest

from folkclip.abc.fields import WHOLE, parse_key, parse_meter, parse_unit
from folkclip.abc.model import Bar, Change, Note
from folkclip.abc.parser import parse_tune, parse_tunebook
from folkclip.errors import AbcSyntaxError, FolkclipError

EIGHTH = WHOLE // 8


def notes(abc_body: str, header: str = "X:1\nT:t\nM:4/4\nL:1/8\nK:C\n") -> list[Note]:
    return [e for e in parse_tune(header + abc_body).events if isinstance(e, Note)]


def pitches(abc_body: str, header: str = "X:1\nT:t\nM:4/4\nL:1/8\nK:C\n") -> list[int | None]:
    return [n.pitch for n in notes(abc_body, header)]


def test_octaves_and_rests():
    assert pitches("C, C c c' z") == [48, 60, 72, 84, None]


def test_key_signature_and_bar_accidentals():
    # K:D sharpens F and C; an explicit =F lasts to the end of its bar only.
    header = "X:1\nT:t\nM:4/4\nL:1/8\nK:D\n"
    assert pitches("F =F F c|F", header) == [66, 65, 65, 73, 66]
    # An accidental applies to every octave of its letter until the bar line (ABC 2.1,
    # abc2midi), inside chords too; a later accidental on the letter replaces it.
    assert pitches("^f F f|F", "X:1\nT:t\nK:C\n") == [78, 66, 78, 65]
    assert pitches("_B b [Bd] =b B|", "X:1\nT:t\nK:C\n") == [70, 82, 74, 83, 71]


def test_tie_into_chord_and_merged_repeat_bar_lines():
    assert pitches("g- [dd]|") == [79, 74]
    tune = parse_tune("X:1\nT:t\nM:2/4\nL:1/8\nK:C\n|: CD EF :|\n|| GA Bc |]\n")
    assert [e.kind for e in tune.events if isinstance(e, Bar)] == ["|:", ":|", "|]"]
    assert pitches("^F Z F|") == [66, None, 66]


def test_tie_carries_accidental_over_bar_line():
    assert pitches("^G2-|G2 G2|") == [68, 68, 67]
    assert [n.tie for n in notes("^G2-|G2 G2|")] == [True, False, False]


def test_lengths_broken_rhythm_and_tuplets():
    durs = [n.duration for n in notes("A2 B/ c/2 d3/2 e// A>B c<d (3efg")]
    e = EIGHTH
    assert durs == [2 * e, e // 2, e // 2, 3 * e // 2, e // 4,
                    3 * e // 2, e // 2, e // 2, 3 * e // 2, 2 * e // 3, 2 * e // 3, 2 * e // 3]


def test_tuplet_in_compound_meter_and_explicit_ratio():
    header = "X:1\nT:t\nM:6/8\nL:1/8\nK:C\n"
    assert [n.duration for n in notes("(2AB c", header)] == [3 * EIGHTH // 2] * 2 + [EIGHTH]
    assert [n.duration for n in notes("(3:2:2AB c")] == [2 * EIGHTH // 3] * 2 + [EIGHTH]


def test_bar_index_position_and_pickup():
    ns = notes("A|B2 c2 d2 e2|f")
    assert [(n.bar, n.onset) for n in ns] == [(0, 0), (1, 0), (1, 2 * EIGHTH), (1, 4 * EIGHTH),
                                              (1, 6 * EIGHTH), (2, 0)]


def test_chords_chord_symbols_annotations_grace_and_decorations():
    ns = notes('"Em"[EGB]2 "^fine"~A {g}B !trill!c .d "4"e')
    assert ns[0].chord == (64, 67, 71) and ns[0].pitch == 71 and ns[0].chord_symbol == "Em"
    assert ns[0].duration == 2 * EIGHTH
    assert ns[1].chord_symbol is None and ns[1].decorations == ("~",)
    assert ns[2].grace == (79,)
    assert ns[3].decorations == ("trill",) and ns[4].decorations == (".",)
    assert ns[5].chord_symbol is None  # a fingering is an annotation, not a chord


def test_repeats_endings_and_bar_kinds():
    tune = parse_tune("X:1\nT:t\nM:2/4\nL:1/8\nK:C\n|:AB cd|[1 ef:|[2 ga||\nab|]\n")
    bars = [e for e in tune.events if isinstance(e, Bar)]
    assert [(b.kind, b.ending) for b in bars] == [("|:", ""), ("|", "1"), (":|", "2"),
                                                   ("||", ""), ("|]", "")]
    tune = parse_tune("X:1\nT:t\nM:2/4\nL:1/8\nK:C\nAB::cd:|1e2|2f2|]\n")
    bars = [e for e in tune.events if isinstance(e, Bar)]
    assert [(b.kind, b.ending) for b in bars] == [("::", ""), (":|", "1"), ("|", "2"),
                                                   ("|]", "")]


def test_inline_and_line_field_changes(reel_book):
    tunes, problems = parse_tunebook(reel_book, "book.abc")
    second_reel = tunes[-1]
    changes = [e for e in second_reel.events if isinstance(e, Change)]
    assert [c.field for c in changes] == ["K"]
    assert [n.pitch for n in second_reel.notes][4:6] == [74, 76]
    assert [n.pitch for n in second_reel.notes][8] == 66  # F# after [K:D]
    tune = parse_tune("X:1\nT:t\nM:6/8\nL:1/8\nK:G\nGAB|\nM:3/4\nK:Bb\nB2 E2|\n")
    assert [c.field for c in tune.events if isinstance(c, Change)] == ["M", "K"]
    assert [n.pitch for n in tune.notes][3:] == [70, 63]


def test_continuation_lines_and_comments():
    tune = parse_tune("X:1\nT:t\nM:4/4\nL:1/8\nK:C\nAB cd|\\\nef % comment ^^^\ng2|\n")
    assert len(tune.notes) == 7 and not tune.warnings


def test_first_voice_only_with_warning():
    abc = "X:1\nT:t\nM:4/4\nL:1/4\nV:1\nV:2\nK:C\nV:1\nCDEF|\nV:2\nC,D,E,F,|\nV:1\nGABc|\n"
    tune = parse_tune(abc)
    assert [n.pitch for n in tune.notes] == [60, 62, 64, 65, 67, 69, 71, 72]
    assert any("voice" in w for w in tune.warnings)


def test_titles_types_and_header_fields(jig_text):
    tune = parse_tune(jig_text)
    assert tune.title == "The Humours of Ballyloughlin"
    assert tune.alt_titles == ["Ballyloughlin"]
    assert tune.tune_type == "jig"
    assert tune.fields["R"] == ["double jig"] and tune.key.name == "D"
    reel = parse_tunebook("X:1\nT:Acacia -- Reel\nM:2/4\nK:G\nGABc|\n")[0][0]
    assert (reel.title, reel.tune_type) == ("Acacia", "reel")


def test_session_url_and_untitled_challenge_header():
    abc = ("X:1\nT:x\nS:https://thesession.org/tunes/1234#setting5678\nR:reel\nM:4/4\n"
           "L:1/8\nK:C Dorian\n=G=E=E^F =G2 =A2|\n")
    tune = parse_tune(abc)
    assert (tune.tune_id, tune.setting_id, tune.title) == ("1234", "5678", "")
    assert tune.key.mode == "dorian" and [n.pitch for n in tune.notes][:4] == [67, 64, 64, 66]


def test_tunebook_problems_name_file_tune_line_and_reason(reel_book):
    tunes, problems = parse_tunebook(reel_book, "book.abc")
    assert [t.number for t in tunes] == ["1", "3"]
    errors = [p for p in problems if p.severity == "error"]
    assert len(errors) == 1
    err = errors[0]
    assert err.source == "book.abc" and "Broken Tune" in err.tune and "X:2" in err.tune
    assert err.line == 14 and "key" in err.reason
    # File-header L:1/8 applies to tunes that give none.
    assert tunes[0].unit == EIGHTH


def test_unreadable_tunes_are_errors_not_exceptions():
    for bad, reason in [("X:1\nT:a\nM:4/4\n", "no K:"), ("X:1\nT:a\nK:C\n|| ||\n", "no notes"),
                        ("X:1\nT:a\nM:x/y\nK:C\nABC|\n", "meter"),
                        ("X:1\nT:a\nL:1/0\nK:C\nABC|\n", "unit"),
                        ("X:1\nT:a\nK:C\nA1000000|\n", "length")]:
        tunes, problems = parse_tunebook(bad, "bad.abc")
        assert not tunes and len(problems) == 1 and reason in problems[0].reason, problems
    with pytest.raises(AbcSyntaxError):
        parse_tune("X:1\nT:a\nK:C\n")


def test_single_tune_without_x_and_empty_file():
    tunes, problems = parse_tunebook("T:Lone\nM:3/4\nK:G\nGAB|\n", "one.abc")
    assert len(tunes) == 1 and tunes[0].title == "Lone" and not problems
    tunes, problems = parse_tunebook("just some text\n", "notes.txt")
    assert not tunes and "no tunes" in problems[0].reason


def test_unknown_symbols_are_warnings():
    tune = parse_tune("X:1\nT:t\nK:C\nAB kc d|\n")
    assert len(tune.notes) == 4 and any("'k'" in w for w in tune.warnings)


@pytest.mark.parametrize("value,tonic,mode,acc", [
    ("G", "G", "major", {"F": 1}), ("Gm", "G", "minor", {"B": -1, "E": -1}),
    ("Em", "E", "minor", {"F": 1}), ("A m", "A", "minor", {}), ("F#m", "F#", "minor",
                                                               {"F": 1, "C": 1, "G": 1}),
    ("Ador", "A", "dorian", {"F": 1}), ("E Minor", "E", "minor", {"F": 1}),
    ("C Major", "C", "major", {}), ("F#mix", "F#", "mixolydian",
                                    {"F": 1, "C": 1, "G": 1, "D": 1, "A": 1}),
    ("Bb", "Bb", "major", {"B": -1, "E": -1}), ("none", "C", "major", {}),
    ("D exp ^c", "D", "major", {"C": 1}), ("Dmix clef=treble", "D", "mixolydian", {"F": 1}),
])
def test_parse_key(value, tonic, mode, acc):
    key = parse_key(value)
    assert (key.tonic, key.mode, key.accidentals) == (tonic, mode, acc)


def test_parse_meter_and_unit():
    assert parse_meter("C") == (4, 4) and parse_meter("C|") == (2, 2)
    assert parse_meter("2+3/8") == (5, 8) and parse_meter("none") is None
    assert parse_unit("1/16") == WHOLE // 16
    assert Fraction(parse_unit("1/8"), WHOLE) == Fraction(1, 8)
    with pytest.raises(FolkclipError):
        parse_meter("fast")
