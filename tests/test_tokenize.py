"""Tests for folkclip.data.tokenize (events, transposition, removal switches) and the
tokenized-corpus views of folkclip.data.dataset (bar patches, on-disk cache).

Every expected value below was worked out by hand from the ABC text; the comments
show the arithmetic. Conventions used throughout:

- MIDI: C4 = 60, so ABC ``C`` = 60, ``c`` = 72, ``A`` = 69, ``a`` = 81;
  octave field = pitch // 12 - 1 (60..71 -> 4, 72..83 -> 5).
- transposition shift = smallest move of the tonic to C in -5..+6
  (D -2, A +3, G +5, F# +6, Bb +2, E -4).
- durations/positions are in beats: 6/8 and 9/8 beat = dotted quarter = 3 eighths
  (eighth = 1/3), 4/4 and 2/4 beat = quarter (eighth = 1/2).
"""

from __future__ import annotations

import numpy as np
import pytest

import folkclip.data.dataset as dataset_mod
from folkclip.abc.fields import parse_key
from folkclip.abc.parser import parse_tune
from folkclip.data.dataset import cache_key, load_tokenized, tokenize_corpus
from folkclip.errors import FolkclipError
from folkclip.io.sources import read_sources
from folkclip.data.tokenize import (
    BAR_TOKENS,
    FIELDS,
    SWITCHES,
    Tokenizer,
    TokenizerConfig,
    chord_name,
    key_from_tokens,
    transpose_shift,
)

# --------------------------------------------------------------------------- fixtures
from tunes import HORN, JIG, REEL  # noqa: E402  (tests/tunes.py)

POLKA_G = """X:4
T:Polka in G
R:polka
M:2/4
L:1/8
K:G
GB dB|c2 A2|]
"""

FSHARP = """X:5
T:In F sharp
M:4/4
L:1/8
K:F#
FA cf e2 E2|]
"""

E_MINOR = """X:6
T:In E minor
M:4/4
L:1/8
K:Em
EG Bd e4|]
"""

ALL = {"jig": JIG, "reel": REEL, "hornpipe": HORN}

D = "-"  # the "does not apply" value


def X(token: str) -> tuple[str, ...]:
    """A header / bar / change event: only the token field is set."""
    return (token,) + (D,) * (len(FIELDS) - 1)


def N(token, dur, pos, bar, deg, octv, tie=D, orn=D, chord=D) -> tuple[str, ...]:
    """A note event, fields in FIELDS order."""
    return (token, dur, pos, bar, deg, octv, tie, orn, chord)


def toks(text: str, config: TokenizerConfig | None = None) -> list[tuple[str, ...]]:
    return Tokenizer(config or TokenizerConfig()).tokenize(parse_tune(text)).events


def spec(s: str, **kw) -> TokenizerConfig:
    return TokenizerConfig.from_spec(s, **kw)


def is_note(ev: tuple[str, ...]) -> bool:
    return ev[1] != D  # every note/rest has a duration; header/bar/change rows do not


PLAIN_BARS = ("|", "||", "|]", "[|")


def without_bar_structure(events: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """What the meter, rhythm and barlines switches leave of the bar structure: no plain
    bar lines, and notes without bar index and in-bar position."""
    return [e[:2] + (D, D) + e[4:] if is_note(e) else e for e in events
            if e[0] not in PLAIN_BARS]


# The complete, hand-derived event list of JIG with the default config (transpose on,
# shift -2: D -> C). Before "K:G" the tonic is C (pc 0); after it, G - 2 = F (pc 5).
JIG_EVENTS = [
    X("<bos>"), X("type:jig"), X("meter:6/8"), X("mode:major"), X("key:D"), X("unit:1/8"),
    # pickup A: 69-2 = 67, degree 7 above C, octave 67//12-1 = 4; one eighth = 1/3 beat
    N("p67", "1/3", "0", "0", "7", "4"),
    X("|:"),
    # bar 1: "D"d2 A ~B2 A  -> d 74-2=72 (chord D-2 = C), A 67, B 71-2=69 with roll
    N("p72", "2/3", "0", "1", "0", "5", chord="C"),
    N("p67", "1/3", "2/3", "1", "7", "4"),
    N("p69", "2/3", "1", "1", "9", "4", orn="roll"),
    N("p67", "1/3", "5/3", "1", "7", "4"),
    X("|"),
    # bar 2: "G"G B d g2 e  -> 65 (chord F), 69, 72, 77, 74
    N("p65", "1/3", "0", "2", "5", "4", chord="F"),
    N("p69", "1/3", "1/3", "2", "9", "4"),
    N("p72", "1/3", "2/3", "2", "0", "5"),
    N("p77", "2/3", "1", "2", "5", "5"),
    N("p74", "1/3", "5/3", "2", "2", "5"),
    X("|"),
    # bar 3: "D"f>e f d A F  (f = F#5 = 78 -> 76; F = F#4 = 66 -> 64)
    # f>e: f = 3/2 eighth = 1/2 beat, e = 1/2 eighth = 1/6 beat at 1/2
    N("p76", "1/2", "0", "3", "4", "5", chord="C"),
    N("p74", "1/6", "1/2", "3", "2", "5"),
    N("p76", "1/3", "2/3", "3", "4", "5"),
    N("p72", "1/3", "1", "3", "0", "5"),
    N("p67", "1/3", "4/3", "3", "7", "4"),
    N("p64", "1/3", "5/3", "3", "4", "4"),
    X("|"), X("[1"),
    # bar 4: "A"E3- E2 A  (E 64 -> 62, chord A-2 = G)
    N("p62", "1", "0", "4", "2", "4", tie="tie", chord="G"),
    N("p62", "2/3", "1", "4", "2", "4"),
    N("p67", "1/3", "5/3", "4", "7", "4"),
    X(":|"), X("[2"),
    # bar 5: "A"E3 D3  (D 62 -> 60)
    N("p62", "1", "0", "5", "2", "4", chord="G"),
    N("p60", "1", "1", "5", "0", "4"),
    X("||"),
    X("key:G"), X("mode:major"),  # key named as written; the tonic is now F (pc 5)
    # bar 6: "G"g2 d (3B c d e   triplet: 3 in the time of 2 eighths -> 2/9 beat each
    N("p77", "2/3", "0", "6", "0", "5", chord="F"),
    N("p72", "1/3", "2/3", "6", "7", "5"),
    N("p69", "2/9", "1", "6", "4", "4"),
    N("p70", "2/9", "11/9", "6", "5", "4"),  # c natural in G: 72-2 = 70
    N("p72", "2/9", "13/9", "6", "7", "5"),
    N("p74", "1/3", "5/3", "6", "9", "5"),
    X("|"),
    # bar 7: d B G d3-  (tied across the bar line)
    N("p72", "1/3", "0", "7", "7", "5"),
    N("p69", "1/3", "1/3", "7", "4", "4"),
    N("p65", "1/3", "2/3", "7", "0", "4"),
    N("p72", "1", "1", "7", "7", "5", tie="tie"),
    X("|"),
    # bar 8: d B A G F E  (F = F#4 = 66 -> 64: degree 11 above F)
    N("p72", "1/3", "0", "8", "7", "5"),
    N("p69", "1/3", "1/3", "8", "4", "4"),
    N("p67", "1/3", "2/3", "8", "2", "4"),
    N("p65", "1/3", "1", "8", "0", "4"),
    N("p64", "1/3", "4/3", "8", "11", "4"),
    N("p62", "1/3", "5/3", "8", "9", "4"),
    X("|"),
    X("meter:9/8"),
    # bar 9 (9/8, beat still a dotted quarter): "C"c B A G A B c2 e  (chord C-2 = Bb)
    N("p70", "1/3", "0", "9", "5", "4", chord="Bb"),
    N("p69", "1/3", "1/3", "9", "4", "4"),
    N("p67", "1/3", "2/3", "9", "2", "4"),
    N("p65", "1/3", "1", "9", "0", "4"),
    N("p67", "1/3", "4/3", "9", "2", "4"),
    N("p69", "1/3", "5/3", "9", "4", "4"),
    N("p70", "2/3", "2", "9", "5", "4"),
    N("p74", "1/3", "8/3", "9", "9", "5"),
    X("|"),
    X("meter:6/8"),
    # bar 10: "D"d3 D3
    N("p72", "1", "0", "10", "7", "5", chord="C"),
    N("p60", "1", "1", "10", "7", "4"),
    X("|]"),
    X("<eos>"),
]


@pytest.fixture(scope="module")
def jig() -> list[tuple[str, ...]]:
    return toks(JIG)


# --------------------------------------------------------------------------- 1. header
def test_header_tokens_in_order_and_eos_last(jig):
    assert [e[0] for e in jig[:6]] == [
        "<bos>", "type:jig", "meter:6/8", "mode:major", "key:D", "unit:1/8"]
    assert all(e[1:] == (D,) * 8 for e in jig[:6])
    assert jig[-1] == X("<eos>")
    assert [e[0] for e in jig].count("<eos>") == 1
    assert [e[0] for e in jig].count("<bos>") == 1


def test_header_other_tunes():
    assert [e[0] for e in toks(REEL)[:6]] == [
        "<bos>", "type:reel", "meter:4/4", "mode:dorian", "key:A", "unit:1/8"]
    assert [e[0] for e in toks(HORN)[:6]] == [
        "<bos>", "type:hornpipe", "meter:4/4", "mode:major", "key:Bb", "unit:1/8"]
    # no R: -> type:unknown; K:Em -> key E, mode minor
    assert [e[0] for e in toks(E_MINOR)[:6]] == [
        "<bos>", "type:unknown", "meter:4/4", "mode:minor", "key:E", "unit:1/8"]


def test_full_jig_event_list(jig):
    assert len(jig) == len(JIG_EVENTS)
    for i, (got, want) in enumerate(zip(jig, JIG_EVENTS)):
        assert got == want, f"event {i}"
    assert jig == JIG_EVENTS


def test_every_event_has_all_fields(jig):
    assert len(FIELDS) == 9
    assert all(len(e) == len(FIELDS) and all(isinstance(x, str) for x in e) for e in jig)


# --------------------------------------------------------------------------- 2. transposition
@pytest.mark.parametrize("key,shift", [
    ("C", 0), ("C#", -1), ("D", -2), ("Eb", -3), ("E", -4), ("F", -5), ("F#", 6),
    ("Gb", 6), ("G", 5), ("Ab", 4), ("A", 3), ("Bb", 2), ("B", 1),
    ("Ador", 3), ("Em", -4), ("Bbmix", 2),
])
def test_transpose_shift_table(key, shift):
    k = parse_key(key)
    assert transpose_shift(k) == shift
    assert (k.tonic_pc + shift) % 12 == 0 and -5 <= shift <= 6


def test_transpose_d_down_two_semitones(jig):
    # A(69) d(74) A(69) B(71) A(69) G(67): each -2 -> C is the tonic
    notes = [e for e in jig if is_note(e)]
    assert [n[0] for n in notes[:6]] == ["p67", "p72", "p67", "p69", "p67", "p65"]
    assert [n[4] for n in notes[:6]] == ["7", "0", "7", "9", "7", "5"]  # semitones above C
    assert [n[5] for n in notes[:6]] == ["4", "5", "4", "4", "4", "4"]


def test_no_transpose_keeps_written_pitches():
    ev = toks(JIG, TokenizerConfig(transpose=False))
    notes = [e for e in ev if is_note(e)]
    # as written: A4 69, d5 74, A 69, B 71, A 69, G 67; degrees above D (pc 2) unchanged
    assert [n[0] for n in notes[:6]] == ["p69", "p74", "p69", "p71", "p69", "p67"]
    assert [n[4] for n in notes[:6]] == ["7", "0", "7", "9", "7", "5"]
    assert [n[5] for n in notes[:6]] == ["4", "5", "4", "4", "4", "4"]
    assert notes[1][8] == "D" and notes[5][8] == "G"  # chords as written
    assert [e[0] for e in ev[:6]] == [e[0] for e in JIG_EVENTS[:6]]  # header identical
    # every note is the transposed one moved back up 2 semitones, same degree
    base = [e for e in JIG_EVENTS if is_note(e)]
    assert len(notes) == len(base)
    for t, b in zip(notes, base):
        assert int(t[0][1:]) == int(b[0][1:]) + 2
        assert t[4] == b[4]
        assert t[5] == str(int(t[0][1:]) // 12 - 1)
        assert t[1:4] == b[1:4] and t[6:8] == b[6:8]
    # the 9/8 bar's c (72, octave 5) was 70 (octave 4) when transposed
    assert ("p72", "5") in [(n[0], n[5]) for n in notes if n[3] == "9"]


def test_transpose_reel_in_a_dorian_up_three():
    ev = toks(REEL)
    notes = [e for e in ev if is_note(e)]
    # E(64) A(69) ~A2(69) A B(71) c(72) d(74), +3; degrees above C; c natural in A dorian
    assert [n[0] for n in notes[:7]] == ["p67", "p72", "p72", "p72", "p74", "p75", "p77"]
    assert [n[4] for n in notes[:7]] == ["7", "0", "0", "0", "2", "3", "5"]
    assert [n[5] for n in notes[:7]] == ["4", "5", "5", "5", "5", "5", "5"]
    # bar 1: e2 d B G>A B ^G  -> ^G = 68 + 3 = 71, degree 11
    bar1 = [n for n in notes if n[3] == "1"]
    assert [n[0] for n in bar1] == ["p79", "p77", "p74", "p70", "p72", "p74", "p71"]
    assert bar1[-1][4] == "11"
    # bar 2: the ^G does not carry over the bar line: G is 67 + 3 = 70 again
    bar2 = [n for n in notes if n[3] == "2"]
    assert [n[0] for n in bar2] == ["p72", "p74", "p72", "p70", "p74", "p72", "p70", "p67",
                                    "p70"]
    raw = [e for e in toks(REEL, TokenizerConfig(transpose=False)) if is_note(e)]
    assert [n[0] for n in raw[:7]] == ["p64", "p69", "p69", "p69", "p71", "p72", "p74"]


def test_transpose_g_up_five():
    ev = toks(POLKA_G)
    notes = [e for e in ev if is_note(e)]
    # G(67) B(71) d(74) B(71) c2(72) A2(69), +5
    assert [n[0] for n in notes] == ["p72", "p76", "p79", "p76", "p77", "p74"]
    assert [n[4] for n in notes] == ["0", "4", "7", "4", "5", "2"]
    assert [n[5] for n in notes] == ["5", "5", "5", "5", "5", "5"]
    # 2/4: beat is a quarter -> eighth 1/2, quarter 1
    assert [n[1] for n in notes] == ["1/2", "1/2", "1/2", "1/2", "1", "1"]


def test_transpose_f_sharp_up_six():
    ev = toks(FSHARP)
    assert ev[4] == X("key:F#")
    notes = [e for e in ev if is_note(e)]
    # F# major: F=F#4 66, A=A#4 70, c=C#5 73, f=F#5 78, e=E#5 77, E=E#4 65; +6
    assert [n[0] for n in notes] == ["p72", "p76", "p79", "p84", "p83", "p71"]
    assert [n[4] for n in notes] == ["0", "4", "7", "0", "11", "11"]
    assert [n[5] for n in notes] == ["5", "5", "5", "6", "5", "4"]


def test_transpose_b_flat_up_two():
    ev = toks(HORN)
    notes = [e for e in ev if is_note(e)]
    # pickup F(65) Eb(63); bar 1: D(62) F(65) Bb(70) d(74) c(72); +2
    assert [n[0] for n in notes[:7]] == ["p67", "p65", "p64", "p67", "p72", "p76", "p74"]
    assert [n[4] for n in notes[:7]] == ["7", "5", "4", "7", "0", "4", "2"]
    assert [n[5] for n in notes[:7]] == ["4", "4", "4", "4", "5", "5", "5"]
    # bar 2: B A G F E =E F G -> Bb A G F Eb E F G, +2; the natural gives degree 6
    bar2 = [n for n in notes if n[3] == "2"]
    assert [n[0] for n in bar2] == ["p72", "p71", "p69", "p67", "p65", "p66", "p67", "p69"]
    assert [n[4] for n in bar2] == ["0", "11", "9", "7", "5", "6", "7", "9"]
    # after [K:Eb] the tonic is Eb+2 = F (pc 5): _A(68) G F E(b) D -> 70 69 67 65 64
    bar3 = [n for n in notes if n[3] == "3"]
    assert [n[0] for n in bar3] == ["p70", "p69", "p67", "p65", "p64"]
    assert [n[4] for n in bar3] == ["5", "4", "2", "0", "11"]
    # "Bb"B6: 72, chord Bb+2 = C, 6 eighths = 3 beats, degree 7 above F
    assert notes[-1] == N("p72", "3", "0", "4", "7", "5", chord="C")
    assert ("key:Eb",) + (D,) * 8 in ev and ev[4] == X("key:Bb")


def test_transpose_e_minor_down_four():
    notes = [e for e in toks(E_MINOR) if is_note(e)]
    # E(64) G(67) B(71) d(74) e4(76), -4
    assert [n[0] for n in notes] == ["p60", "p63", "p67", "p70", "p72"]
    assert [n[4] for n in notes] == ["0", "3", "7", "10", "0"]


def test_key_from_tokens():
    k = key_from_tokens(toks(REEL))
    assert (k.tonic, k.mode) == ("A", "dorian")
    k = key_from_tokens(toks(REEL, spec("key")))
    assert (k.tonic, k.mode) == ("C", "dorian")


# --------------------------------------------------------------------------- 3. rhythm
def test_jig_eighth_is_one_third_beat(jig):
    bar2 = [e for e in jig if is_note(e) and e[3] == "2"]
    # G B d g2 e: eighths 1/3 beat, the quarter g2 2/3; onsets 0, 1/3, 2/3, 1, 5/3
    assert [n[1] for n in bar2] == ["1/3", "1/3", "1/3", "2/3", "1/3"]
    assert [n[2] for n in bar2] == ["0", "1/3", "2/3", "1", "5/3"]
    assert bar2[1][2] == "1/3"  # position of the 2nd eighth of the bar


def test_reel_eighth_is_half_beat():
    bar0 = [e for e in toks(REEL) if is_note(e) and e[3] == "0"]
    # E A ~A2 A B c d: onsets in quarters 0, 1/2, 1, 2, 5/2, 3, 7/2
    assert [n[1] for n in bar0] == ["1/2", "1/2", "1", "1/2", "1/2", "1/2", "1/2"]
    assert [n[2] for n in bar0] == ["0", "1/2", "1", "2", "5/2", "3", "7/2"]


def test_broken_rhythm_in_four_four():
    bar1 = [e for e in toks(REEL) if is_note(e) and e[3] == "1"]
    # e2 d B G>A B ^G: G> = 3/2 eighth = 3/4 beat at 2; A = 1/2 eighth = 1/4 beat at 11/4
    assert [n[1] for n in bar1] == ["1", "1/2", "1/2", "3/4", "1/4", "1/2", "1/2"]
    assert [n[2] for n in bar1] == ["0", "1", "3/2", "2", "11/4", "3", "7/2"]


def test_broken_rhythm_a_gt_b():
    t = "X:1\nT:b\nM:4/4\nL:1/8\nK:C\nA>B A<B c4|]\n"
    notes = [e for e in toks(t, TokenizerConfig(transpose=False)) if is_note(e)]
    assert [(n[0], n[1], n[2]) for n in notes] == [
        ("p69", "3/4", "0"), ("p71", "1/4", "3/4"),   # A>B
        ("p69", "1/4", "1"), ("p71", "3/4", "5/4"),   # A<B
        ("p72", "2", "2"),
    ]


def test_triplet_in_four_four():
    bar2 = [e for e in toks(REEL) if is_note(e) and e[3] == "2"]
    # (3ABA: 3 eighths in the time of 2 = 1 beat -> 1/3 each, then G at 1
    assert [n[1] for n in bar2[:4]] == ["1/3", "1/3", "1/3", "1/2"]
    assert [n[2] for n in bar2[:4]] == ["0", "1/3", "2/3", "1"]


def test_triplet_in_six_eight(jig):
    bar6 = [e for e in jig if is_note(e) and e[3] == "6"]
    # g2 d (3Bcd e: triplet eighths = 2/3 of an eighth = 2/9 of a dotted quarter
    assert [n[1] for n in bar6] == ["2/3", "1/3", "2/9", "2/9", "2/9", "1/3"]
    assert [n[2] for n in bar6] == ["0", "2/3", "1", "11/9", "13/9", "5/3"]


def test_ties(jig):
    tied = [(e[0], e[3]) for e in jig if e[6] == "tie"]
    assert tied == [("p62", "4"), ("p72", "7")]  # E3- inside bar 4, d3- across bar 7|8
    assert {e[6] for e in jig} == {D, "tie"}


def test_meter_change_changes_bar_length(jig):
    bar9 = [e for e in jig if is_note(e) and e[3] == "9"]
    assert sum(map(_frac, (n[1] for n in bar9))) == 3  # 9/8 = 3 dotted quarters
    for b in ("1", "2", "3", "4", "6", "8"):
        assert sum(_frac(n[1]) for n in jig if is_note(n) and n[3] == b) == 2


def _frac(s: str):
    from fractions import Fraction
    return Fraction(s)


# --------------------------------------------------------------------------- 4. switches
def test_switch_list():
    assert SWITCHES == ("key", "mode", "meter", "type", "rhythm", "pitch", "octave",
                        "ornaments", "barlines", "chords", "repeats")


@pytest.mark.parametrize("name", list(ALL))
def test_switch_key_removes_only_key_tokens(name):
    base, out = toks(ALL[name]), toks(ALL[name], spec("key"))
    kept = [e for e in base if not e[0].startswith("key:")]
    n_keys = {"jig": 2, "reel": 1, "hornpipe": 2}[name]  # header + mid-tune changes
    assert len(base) - len(out) == n_keys and len(out) == len(kept)
    # Exactly the key tokens go; and after a mid-tune key change the degree field keeps
    # counting from the first tonic (C after transposition) instead of the hidden new key.
    for e, k in zip(out, kept):
        if k[0].startswith("p"):
            assert e[4] == str(int(k[0][1:]) % 12)  # degree from C
            assert e[:4] == k[:4] and e[5:] == k[5:]
        else:
            assert e == k


def test_switch_key_without_transpose_does_not_leak_tonic():
    # A B c d sound the same in D major and A major (c is C# in both); once the key
    # is removed (and nothing is transposed) the two tunes must give the same tokens
    in_d = "X:1\nT:a\nM:4/4\nL:1/8\nK:D\nABcd e4|]\n"
    in_a = "X:1\nT:a\nM:4/4\nL:1/8\nK:A\nABcd e4|]\n"
    cfg = TokenizerConfig(transpose=False, remove=("key",))
    a, b = toks(in_d, cfg), toks(in_a, cfg)
    assert [e[0] for e in a] == [e[0] for e in b]  # same pitches: the tunes are identical
    assert a == b


@pytest.mark.parametrize("name", list(ALL))
def test_switch_mode_removes_only_mode_tokens(name):
    base, out = toks(ALL[name]), toks(ALL[name], spec("mode"))
    assert out == [e for e in base if not e[0].startswith("mode:")]
    assert len(base) - len(out) == {"jig": 2, "reel": 1, "hornpipe": 2}[name]


def test_switch_type_removes_only_type_token():
    for text in ALL.values():
        base, out = toks(text), toks(text, spec("type"))
        assert out == [e for e in base if not e[0].startswith("type:")]
        assert len(base) - len(out) == 1


def test_switch_meter(jig):
    out = toks(JIG, spec("meter"))
    # meter:6/8 (header), meter:9/8, meter:6/8 and unit:1/8 vanish, and with them the bar
    # structure (plain bar lines, bar indices, positions), all computed from the meter.
    # (Durations are left out of this comparison: see the leak test below.)
    kept = [e for e in jig if not e[0].startswith(("meter:", "unit:"))]
    assert len(jig) - len(kept) == 4
    kept = without_bar_structure(kept)
    assert len(out) == len(kept)
    for got, was in zip(out, kept):
        assert got[2] == got[3] == D
        assert got[:1] + got[2:] == was[:1] + was[2:]


def test_switch_meter_does_not_leak_through_durations():
    jig_eighths = {e[1] for e in toks(JIG, spec("meter")) if is_note(e) and e[0] == "p65"}
    reel = toks("X:1\nT:r\nM:4/4\nL:1/8\nK:D\nGBdB GBdB|]\n", spec("meter"))
    reel_eighths = {e[1] for e in reel if is_note(e)}
    # the same written eighth note must get the same duration once the meter is hidden
    assert jig_eighths & reel_eighths


def test_switch_rhythm(jig):
    out = toks(JIG, spec("rhythm"))
    kept = without_bar_structure([e for e in jig if not e[0].startswith("unit:")])
    assert len(out) == len(kept)
    for got, was in zip(out, kept):
        if is_note(was):
            assert got[1:4] == ("1", "1", D) and got[6] == D
            assert got[:1] + got[4:6] + got[7:] == was[:1] + was[4:6] + was[7:]
        else:
            assert got == was
    assert sum(1 for e in jig if e[6] == "tie") == 2  # the switch had ties to remove


def test_switch_pitch_contour(jig):
    out = toks(JIG, spec("pitch"))
    assert len(out) == len(jig)
    # pitches 67 72 67 69 67 | 65 69 72 77 74 | 76 74 76 72 67 64 | 62 62 67 ...
    assert [e[0] for e in out if is_note(e)][:19] == [
        "start", "up", "down", "up", "down",
        "down", "up", "up", "up", "down",
        "up", "down", "up", "down", "down", "down",
        "down", "same", "up"]
    prev = None
    for got, was in zip(out, jig):
        if is_note(was):
            p = int(was[0][1:])
            want = "start" if prev is None else "up" if p > prev else "down" if p < prev else "same"
            prev = p
            assert got[0] == want
            assert got[4] == D and got[5] == D
            assert got[1:4] + got[6:] == was[1:4] + was[6:]
        else:
            assert got == was


def test_switch_pitch_rest_stays_rest():
    t = "X:1\nT:r\nM:4/4\nL:1/8\nK:C\nC z C D z2 C2|]\n"
    assert [e[0] for e in toks(t, spec("pitch")) if is_note(e)] == [
        "start", "rest", "same", "up", "rest", "down"]


def test_switch_octave(jig):
    out = toks(JIG, spec("octave"))
    assert len(out) == len(jig)
    # token folds into the octave starting at 60 + tonic: tonic C (0) before K:G, F (5) after
    # e.g. 72 -> 60, 77 -> 65, 74 -> 62 before; after: 77 -> 65, 64 -> 76, 60 -> 72
    notes = [e for e in out if is_note(e)]
    assert [n[0] for n in notes[:10]] == [
        "p67", "p60", "p67", "p69", "p67", "p65", "p69", "p60", "p65", "p62"]
    key_change = [e[0] for e in out].index("key:G")
    for i, (got, was) in enumerate(zip(out, jig)):
        if is_note(was):
            tonic = 0 if i < key_change else 5
            assert got[0] == f"p{60 + tonic + int(was[4])}"
            assert 60 + tonic <= int(got[0][1:]) < 72 + tonic
            assert got[5] == D
            assert got[1:5] + got[6:] == was[1:5] + was[6:]
        else:
            assert got == was
    after = [e[0] for e in out[key_change:] if is_note(e)]
    assert after[0] == "p65" and after[-1] == "p72" and "p76" in after


def test_switch_ornaments(jig):
    out = toks(JIG, spec("ornaments"))
    assert [e[7] for e in jig if e[7] != D] == ["roll"]
    assert out == [e[:7] + (D,) + e[8:] for e in jig]


def test_switch_chords(jig):
    out = toks(JIG, spec("chords"))
    assert [e[8] for e in jig if e[8] != D] == ["C", "F", "C", "G", "G", "F", "Bb", "C"]
    assert out == [e[:8] + (D,) for e in jig]


@pytest.mark.parametrize("name", list(ALL))
def test_switch_repeats(name):
    base, out = toks(ALL[name]), toks(ALL[name], spec("repeats"))
    want = [X("|") if e[0] in ("|:", ":|", "::") else e for e in base
            if not (e[0].startswith("[") and e[0][1:].isdigit())]
    assert out == want
    assert not {"|:", ":|", "::", "[1", "[2"} & {e[0] for e in out}


def test_switch_repeats_counts(jig):
    out = toks(JIG, spec("repeats"))
    # |: and :| become |, [1 and [2 vanish
    assert len(jig) - len(out) == 2
    assert [e[0] for e in out].count("|") == [e[0] for e in jig].count("|") + 2


@pytest.mark.parametrize("name", list(ALL))
def test_switch_barlines(name):
    base, out = toks(ALL[name]), toks(ALL[name], spec("barlines"))
    assert out == without_bar_structure(base)
    assert {e[3] for e in out} == {e[2] for e in out} == {D}


def test_switch_barlines_keeps_repeats(jig):
    out = toks(JIG, spec("barlines"))
    assert [e[0] for e in out if e[0] in BAR_TOKENS or e[0].startswith("[")] == [
        "|:", "[1", ":|", "[2"]


def test_switch_barlines_and_repeats_remove_all_bar_tokens(jig):
    out = toks(JIG, spec("barlines,repeats"))
    assert out == without_bar_structure([e for e in jig if e[0] not in BAR_TOKENS
                                         and not e[0].startswith("[")])


def test_first_bars_jig_keeps_pickup_and_two_bars(jig):
    out = toks(JIG, spec("first_bars=2"))
    # pickup (bar 0), bar 1, bar 2 with its closing "|", then <eos>
    cut = jig.index(N("p76", "1/2", "0", "3", "4", "5", chord="C"))
    assert out == jig[:cut] + [X("<eos>")]
    assert out[-2] == X("|")
    assert {e[3] for e in out if is_note(e)} == {"0", "1", "2"}


def test_first_bars_reel_without_pickup():
    base, out = toks(REEL), toks(REEL, spec("first_bars=2"))
    # bar 0 is a full bar: no pickup, so bars 0 and 1 are kept
    assert {e[3] for e in out if is_note(e)} == {"0", "1"}
    cut = max(i for i, e in enumerate(base) if is_note(e) and e[3] == "1") + 2
    assert base[cut - 1] == X("|")
    assert out == base[:cut] + [X("<eos>")]


def test_first_bars_hornpipe_one_bar():
    base, out = toks(HORN), toks(HORN, spec("first_bars=1"))
    assert [e[0] for e in out[6:]] == ["p67", "p65", "|", "p64", "p67", "p72", "p76", "p74",
                                       "|", "<eos>"]
    assert out[:-1] == base[: len(out) - 1]


def test_switches_compose(jig):
    out = toks(JIG, spec("key,rhythm"))
    only_key = toks(JIG, spec("key"))
    # rhythm's changes applied on top of key's output
    want = [((e[0], "1", "1", D) + e[4:6] + (D,) + e[7:]) if is_note(e) else e
            for e in without_bar_structure(only_key) if not e[0].startswith("unit:")]
    assert out == want
    # and key's changes (key tokens gone, degrees from C) on top of rhythm's output
    only_rhythm = toks(JIG, spec("rhythm"))
    want = [(e[:4] + (str(int(e[0][1:]) % 12),) + e[5:]) if e[0].startswith("p") else e
            for e in only_rhythm if not e[0].startswith("key:")]
    assert out == want


def test_all_switches_at_once_still_tokenizes(jig):
    out = toks(JIG, TokenizerConfig(remove=SWITCHES))
    assert out[0] == X("<bos>") and out[-1] == X("<eos>")
    assert is_note(out[1])  # no header token is left
    assert not any(e[0].startswith(("type:", "meter:", "mode:", "key:", "unit:")) for e in out)
    assert sum(1 for e in out if is_note(e)) == sum(1 for e in jig if is_note(e))


def test_unknown_switch_raises():
    with pytest.raises(FolkclipError, match="unknown removal switch"):
        TokenizerConfig(remove=("keys",))
    with pytest.raises(FolkclipError):
        TokenizerConfig.from_spec("key,tempo")
    with pytest.raises(FolkclipError):
        TokenizerConfig(first_bars=-1)
    with pytest.raises(FolkclipError):
        TokenizerConfig(max_events=7)


def test_from_spec():
    cfg = TokenizerConfig.from_spec("key,rhythm,first_bars=4")
    assert cfg == TokenizerConfig(remove=("key", "rhythm"), first_bars=4)
    assert cfg.remove == ("key", "rhythm") and cfg.first_bars == 4 and cfg.transpose
    # order and duplicates do not matter; "+" also separates; spaces are ignored
    assert TokenizerConfig.from_spec("rhythm + key,key") == TokenizerConfig(
        remove=("key", "rhythm"))
    assert TokenizerConfig.from_spec("") == TokenizerConfig()
    assert TokenizerConfig.from_spec("chords", transpose=False) == TokenizerConfig(
        transpose=False, remove=("chords",))
    assert TokenizerConfig.from_spec("first_bars=8").to_dict() == {
        "transpose": True, "remove": (), "first_bars": 8, "max_events": 1024}


def test_max_events_truncates_keeping_eos(jig):
    out = toks(JIG, TokenizerConfig(max_events=10))
    assert len(out) == 10
    assert out == jig[:9] + [X("<eos>")]


def test_tokenized_bars_parallel_to_events():
    tt = Tokenizer().tokenize(parse_tune(JIG))
    assert len(tt.bars) == len(tt.events)
    assert tt.bars[:6] == [-1] * 6  # header
    for e, b in zip(tt.events, tt.bars):
        if is_note(e):
            assert e[3] == str(b)
    # closing bar lines belong to the bar they close; the change after "||" to bar 5
    idx = [e[0] for e in tt.events].index("key:G")
    assert tt.bars[idx - 1: idx + 3] == [5, 5, 5, 6]
    assert tt.bars[-1] == tt.bars[-2] == 10  # <eos> goes with the last bar


# --------------------------------------------------------------------------- 5. chords
@pytest.mark.parametrize("symbol,shift,want", [
    ("Em", -2, "Dm"),
    ("Em", -7, "Am"),
    ("D", -2, "C"),
    ("G", 5, "C"),
    ("A7", 3, "C7"),
    ("Bb", 2, "C"),
    ("F#m", 6, "Cm"),
    ("Dmin", 0, "Dm"),
    ("Gmaj7", -7, "Cmaj7"),
    ("C", 1, "C#"),
    ("C", 3, "Eb"),
    ("(G)", 0, "G"),
    ("D/F#", 0, "D"),          # bass note dropped
    ("Gsus4", 0, "G"),         # unknown quality -> root only
    ("Bbm7", 2, "Cm7"),
    ("Edim", 0, "Edim"),
    ("Ab", 0, "Ab"),
    ("G#", 0, "Ab"),           # spelled with the PITCH_NAMES spelling
    ("xyz", 0, "other"),
    ("", 0, "-"),
    (None, 3, "-"),
])
def test_chord_name(symbol, shift, want):
    assert chord_name(symbol, shift) == want


def test_chord_field_of_notes():
    # the chord sits on the note it is written before, transposed with the tune
    notes = [e for e in toks(JIG) if is_note(e)]
    assert [(n[0], n[8]) for n in notes if n[8] != D][:3] == [
        ("p72", "C"), ("p65", "F"), ("p76", "C")]
    raw = [e for e in toks(JIG, TokenizerConfig(transpose=False)) if is_note(e)]
    assert [n[8] for n in raw if n[8] != D] == ["D", "G", "D", "A", "A", "G", "C", "D"]
    horn = [e for e in toks(HORN) if is_note(e)]
    assert [n[8] for n in horn if n[8] != D] == ["C"]  # "Bb" + 2


# --------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def tiny():
    return read_sources(["tiny"])


@pytest.fixture(scope="module")
def tiny_tc(tiny):
    return tokenize_corpus(tiny)


@pytest.mark.slow
def test_tiny_corpus_tokenizes(tiny, tiny_tc):
    assert 80 <= len(tiny.tunes) <= 90
    assert len(tiny_tc) == len(tiny.tunes)
    assert tiny_tc.ids.shape == (tiny_tc.offsets[-1], len(FIELDS))
    assert tiny_tc.bars.shape == (tiny_tc.offsets[-1],)
    for f in FIELDS:
        assert tiny_tc.vocab[f][:2] == ["<pad>", "<unk>"]
    for i in range(len(tiny_tc)):
        ev = tiny_tc.events(i)
        assert ev[0][0] == "<bos>" and ev[-1][0] == "<eos>"
        assert ev == Tokenizer().tokenize(tiny.tunes[i]).events
        assert 0 < len(ev) <= 1024


# --------------------------------------------------------------------------- 8. bar patches
@pytest.mark.slow
def test_bar_patches(tiny_tc):
    tc = tiny_tc
    n_checked = 0
    for i in range(len(tc)):
        ev = tc.events(i)
        tok = tc.tokens(i)
        bars = tc.bars[tc.offsets[i]:tc.offsets[i + 1]]
        patches = tc.bar_patches(i, patch_size=16)
        # distinct bar numbers (header = -1 excluded) in order of appearance
        order = list(dict.fromkeys(bars.tolist()))
        assert order[0] == -1
        n_bars = len(order) - 1
        assert order[1:] == list(range(n_bars))  # bars 0, 1, 2 ... in order
        assert n_bars + 1 <= 64  # no tune of tiny is cut by max_bars ...
        assert patches.shape == (n_bars + 1, 16, len(FIELDS))
        assert patches.dtype == np.int32
        # header patch: exactly the header events, then padding 0
        n_head = sum(1 for b in bars if b == -1)
        assert n_head == 6
        assert (patches[0, :n_head] == tok[:n_head]).all()
        assert (patches[0, n_head:] == 0).all()
        # patch k = events of bar k-1, in order; the rest is padding
        rebuilt = []
        for k in range(1, n_bars + 1):
            rows = [r for r, b in zip(tok, bars) if b == order[k]]
            assert len(rows) <= 16  # ... and no bar of tiny has more than 16 events
            assert (patches[k, :len(rows)] == np.array(rows)).all()
            assert (patches[k, len(rows):] == 0).all()
            assert (patches[k, :len(rows)] != 0).all()  # real rows never hold the pad id
            rebuilt.extend(tuple(tc.vocab[f][x] for f, x in zip(FIELDS, r))
                           for r in patches[k, :len(rows)].tolist())
            # every note in patch k carries bar field k-1 (bars < 63 here)
            notes_bar = {e[3] for e in (tuple(tc.vocab[f][x] for f, x in zip(FIELDS, r))
                                        for r in rows) if is_note(e)}
            assert notes_bar <= {str(order[k])}
        # concatenating the patches gives back the tune
        assert ev[n_head:] == rebuilt
        n_checked += 1
    assert n_checked == len(tc)


@pytest.mark.slow
def test_bar_patches_truncate_and_cap(tiny_tc):
    tc = tiny_tc
    full = tc.bar_patches(0, patch_size=16)
    small = tc.bar_patches(0, patch_size=4)
    assert small.shape == (full.shape[0], 4, len(FIELDS))
    assert (small == full[:, :4]).all()
    capped = tc.bar_patches(0, patch_size=16, max_bars=3)
    assert (capped == full[:3]).all()


def test_bar_patches_on_fixture_tunes():
    from folkclip.io.sources import Corpus
    tc = tokenize_corpus(Corpus(tunes=[parse_tune(JIG)]))
    p = tc.bar_patches(0, patch_size=16)
    assert p.shape == (12, 16, len(FIELDS))  # header + bars 0..10

    def row(ids):
        return [tc.vocab["token"][x] for x in ids[:, 0] if x]

    assert row(p[0]) == ["<bos>", "type:jig", "meter:6/8", "mode:major", "key:D", "unit:1/8"]
    assert row(p[1]) == ["p67", "|:"]
    assert row(p[2]) == ["p72", "p67", "p69", "p67", "|"]
    assert row(p[4]) == ["p76", "p74", "p76", "p72", "p67", "p64", "|", "[1"]
    assert row(p[6]) == ["p62", "p60", "||", "key:G", "mode:major"]
    assert row(p[11]) == ["p72", "p60", "|]", "<eos>"]


# --------------------------------------------------------------------------- 9. cache
@pytest.mark.slow
def test_cache_roundtrip(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("FOLKCLIP_CACHE", str(tmp_path))
    calls = []

    from folkclip.data.reading import tokenize_tunes
    from folkclip.data.tokenize import Tokenizer

    def fake_read(sources, config, jobs=None, features=None):
        calls.append(list(sources))
        return tokenize_tunes(tiny.tunes, Tokenizer(config), features, tiny.problems)

    monkeypatch.setattr(dataset_mod, "read_parts", fake_read)
    first = load_tokenized(["tiny"])
    assert calls == [["tiny"]]
    written = sorted(p.name for p in tmp_path.iterdir())
    key = cache_key(["tiny"], TokenizerConfig())
    assert written == [f"tokens-{key}.json", f"tokens-{key}.npz"]

    def boom(*args, **kwargs):
        raise AssertionError("the sources were read although the cache holds the result")

    monkeypatch.setattr(dataset_mod, "read_parts", boom)
    second = load_tokenized(["tiny"])
    assert second.config == first.config == TokenizerConfig()
    np.testing.assert_array_equal(second.ids, first.ids)
    np.testing.assert_array_equal(second.bars, first.bars)
    np.testing.assert_array_equal(second.offsets, first.offsets)
    assert second.vocab == first.vocab
    assert second.meta == first.meta
    assert second.problems == first.problems
    assert [second.events(i) for i in range(len(second))] == [
        first.events(i) for i in range(len(first))]
    assert (second.bar_patches(3) == first.bar_patches(3)).all()

    # another tokenizer config -> another key -> not served from the cache
    other = TokenizerConfig(remove=("key",))
    assert cache_key(["tiny"], other) != key
    assert cache_key(["tiny"], TokenizerConfig(transpose=False)) != key
    assert cache_key(["tiny"], TokenizerConfig(first_bars=4)) != key
    assert cache_key(["tiny"], TokenizerConfig()) == key  # deterministic
    with pytest.raises(AssertionError, match="the sources were read"):
        load_tokenized(["tiny"], other)


@pytest.mark.slow
def test_cache_disabled_and_damaged(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("FOLKCLIP_CACHE", str(tmp_path))
    from folkclip.data.reading import tokenize_tunes
    from folkclip.data.tokenize import Tokenizer

    monkeypatch.setattr(dataset_mod, "read_parts", lambda sources, config, jobs, features:
                        tokenize_tunes(tiny.tunes, Tokenizer(config), features, tiny.problems))
    tc = load_tokenized("tiny", use_cache=False)
    assert list(tmp_path.iterdir()) == []
    assert len(tc) == len(tiny.tunes)
    load_tokenized("tiny")
    key = cache_key(["tiny"], TokenizerConfig())
    (tmp_path / f"tokens-{key}.json").write_text("{not json")
    again = load_tokenized("tiny")  # damaged entry is rebuilt, not an error
    np.testing.assert_array_equal(again.ids, tc.ids)
