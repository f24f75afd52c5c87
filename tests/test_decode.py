"""Tests for folkclip.data.decode: tokens -> ABC text -> parse -> tokens gives the same events.

The fixture tunes come from tests/test_tokenize.py (a jig in D, a reel in A dorian,
a hornpipe in Bb); expected ABC spellings were worked out by hand.
"""

from __future__ import annotations

import difflib

import pytest

from folkclip.abc.parser import parse_tune
from folkclip.data.decode import decode
from folkclip.errors import FolkclipError
from folkclip.io.sources import read_sources
from folkclip.data.tokenize import Tokenizer, TokenizerConfig

D = "-"

from tunes import HORN, JIG, REEL  # noqa: E402  (tests/tunes.py)

ALL = {"jig": JIG, "reel": REEL, "hornpipe": HORN}


def X(token: str) -> tuple[str, ...]:
    return (token,) + (D,) * 8


def is_note(ev: tuple[str, ...]) -> bool:
    return ev[1] != D


def toks(text: str, config: TokenizerConfig | None = None) -> list[tuple[str, ...]]:
    return Tokenizer(config or TokenizerConfig()).tokenize(parse_tune(text)).events


def roundtrip(text: str, config: TokenizerConfig):
    """(events, decoded ABC, events of the decoded ABC)."""
    events = toks(text, config)
    abc = decode(events, config)
    return events, abc, toks(abc, config)


def header_lines(abc: str) -> list[str]:
    lines = abc.splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("K:"))
    return lines[: k + 1]


def body(abc: str) -> str:
    """The music after the K: line, line breaks removed."""
    lines = abc.splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("K:"))
    return "".join(lines[k + 1:])


def show_diff(a, b) -> str:
    return "\n".join(difflib.unified_diff([str(e) for e in a], [str(e) for e in b],
                                          lineterm="", n=1))


def spec(s: str, **kw) -> TokenizerConfig:
    return TokenizerConfig.from_spec(s, **kw)


# --------------------------------------------------------------------------- header
def test_decoded_header_lines():
    abc = decode(toks(JIG))
    assert header_lines(abc) == ["X:1", "T:x", "R:jig", "M:6/8", "L:1/8", "K:D major"]
    assert abc.endswith("\n")
    abc = decode(toks(REEL), number=7, title="The Test Reel")
    assert header_lines(abc) == ["X:7", "T:The Test Reel", "R:reel", "M:4/4", "L:1/8",
                                 "K:A dorian"]
    assert header_lines(decode(toks(HORN)))[-1] == "K:Bb major"


def test_decoded_header_has_required_fields_for_every_switch():
    for sw in ("", "key", "mode", "meter", "type", "rhythm", "octave", "ornaments",
               "barlines", "chords", "repeats", "first_bars=2"):
        cfg = spec(sw)
        head = header_lines(decode(toks(JIG, cfg), cfg))
        for field in ("X:", "T:", "M:", "L:", "K:"):
            assert sum(ln.startswith(field) for ln in head) == 1, (sw, field, head)


def test_decoded_header_after_removal():
    cfg = spec("key,mode,meter,type")
    # no key -> C, no mode -> major, no meter -> M:none, no type -> no R: line
    assert header_lines(decode(toks(JIG, cfg), cfg)) == [
        "X:1", "T:x", "M:none", "L:1/8", "K:C major"]


# --------------------------------------------------------------------------- spelling
def test_decoded_jig_body():
    # transposition is undone with the key:D token: notes come back as written;
    # f>e is written with explicit lengths, each triplet note as a one-note tuplet (3:2:1
    assert body(decode(toks(JIG))) == (
        'A|:"D"d2A~B2A|"G"GBdg2e|"D"f3/2e/2fdAF|[1"A"E3-E2A:|[2"A"E3D3||'
        '[K:G major]"G"g2d(3:2:1B(3:2:1c(3:2:1de|dBGd3-|dBAGFE|[M:9/8]"C"cBAGABc2e|[M:6/8]"D"d3D3|]')


def test_decoded_reel_body():
    # ^G written in bar 1, the plain G of bar 2 needs no natural after the bar line
    assert body(decode(toks(REEL))) == (
        "|:EA~A2ABcd|e2dBG3/2A/2B^G|(3:2:1A(3:2:1B(3:2:1AGBAGEG|[1DEGABAA2:|[2DEGABAA2||")


def test_decoded_flat_key_body():
    # Bb: B and E flat from the signature, =E natural; in Eb the flat A needs no sign
    assert body(decode(toks(HORN))) == (
        'FE|D2F2B2dc|BAGFE=EFG|[K:Eb major]A2GFE2D2|"Bb"B6|]')


def test_bar_accidentals_and_octaves():
    t = "X:1\nT:o\nM:4/4\nL:1/8\nK:D\n=c c ^c c c2 C,, G,|c c' c'' a' b,, z x2|]\n"
    cfg = TokenizerConfig(transpose=False)
    ev, abc, ev2 = roundtrip(t, cfg)
    # =c (72) c (72, natural lasts the bar) ^c c (73, sharp lasts) ... next bar: c# from key
    assert [e[0] for e in ev if is_note(e)] == [
        "p72", "p72", "p73", "p73", "p73", "p37", "p55",
        "p73", "p85", "p97", "p93", "p59", "rest", "rest"]
    assert body(abc) == "=cc^ccc2C,,G,|cc'c''a'B,zz2|]"
    assert ev2 == ev


def test_ornaments_round_trip():
    t = ("X:1\nT:o\nM:4/4\nL:1/8\nK:C\n"
         "~C TD ME .F HG LA uB vc|Jd !turn!e !tenuto!f {g}a !trill!b !roll!c' R d P e|]\n")
    cfg = TokenizerConfig(transpose=False)
    ev, _abc, ev2 = roundtrip(t, cfg)
    assert [e[7] for e in ev if is_note(e)] == [
        "roll", "trill", "mordent", "staccato", "fermata", "accent", "upbow", "downbow",
        "slide", "turn", "tenuto", "grace", "trill", "roll", "roll", "mordent"]
    assert ev2 == ev


def test_chord_symbols_round_trip():
    t = 'X:1\nT:o\nM:3/4\nL:1/4\nK:G\n"Am7"A "D7"B "Gmaj7"c|"Bm"d "F#dim"e "E/G#"f|]\n'
    ev, abc, ev2 = roundtrip(t, TokenizerConfig())
    assert [e[8] for e in ev if is_note(e)] == ["Dm7", "G7", "Cmaj7", "Em", "Bdim", "A"]
    # the chords are transposed back (+5 -> -5) when written
    assert body(abc) == '"Am7"A"D7"B"Gmaj7"c|"Bm"d"F#dim"e"E"f|]'
    assert ev2 == ev


def test_body_without_final_bar_gets_one():
    t = "X:1\nT:o\nM:4/4\nL:1/8\nK:G\nGABc d4\n"
    ev, abc, ev2 = roundtrip(t, TokenizerConfig())
    assert body(abc) == "GABcd4|]"
    # the added |] is a new bar token; everything before it is unchanged
    assert ev2[:-2] == ev[:-1] and ev2[-2:] == [X("|]"), X("<eos>")]


# --------------------------------------------------------------------------- round trips

CONFIGS = {
    "default": TokenizerConfig(),
    "no-transpose": TokenizerConfig(transpose=False),
    "rhythm": spec("rhythm"),
    "ornaments": spec("ornaments"),
    "chords": spec("chords"),
    "repeats": spec("repeats"),
    "first_bars=2": spec("first_bars=2"),
    "octave": spec("octave"),
    "mode": spec("mode"),
    "type": spec("type"),
    "meter": spec("meter"),
    "rhythm,no-transpose": spec("rhythm", transpose=False),
    "repeats,chords,ornaments,no-transpose": spec("repeats,chords,ornaments",
                                                  transpose=False),
    "barlines,repeats": spec("barlines,repeats"),
}


def _cases():
    for tname in ALL:
        for cname in CONFIGS:
            marks = []
            yield pytest.param(tname, cname, marks=marks, id=f"{tname}-{cname}")
        yield pytest.param(tname, "barlines", id=f"{tname}-barlines")


@pytest.mark.parametrize("tname,cname", list(_cases()))
def test_round_trip(tname, cname):
    cfg = CONFIGS.get(cname) or spec(cname)
    ev, abc, ev2 = roundtrip(ALL[tname], cfg)
    assert ev2 == ev, f"{abc}\n{show_diff(ev, ev2)}"


@pytest.mark.parametrize("tname,transpose", [
    pytest.param("jig", True),      # K:G mid-tune
    ("reel", True),                                          # no key change: exact
    pytest.param("hornpipe", True),  # [K:Eb] mid-tune
    pytest.param("jig", False),
    pytest.param("reel", False),
    pytest.param("hornpipe", False),
])
def test_round_trip_key_removed(tname, transpose):
    # the original key is lost: compare everything after the header
    cfg = spec("key", transpose=transpose)
    ev, abc, ev2 = roundtrip(ALL[tname], cfg)
    assert header_lines(abc)[-1].startswith("K:C ")
    n_head = 5  # <bos> type meter mode unit
    assert [e[0] for e in ev[:n_head]] == [e[0] for e in ev2[:n_head]]
    assert ev2[n_head:] == ev[n_head:], f"{abc}\n{show_diff(ev, ev2)}"


def test_round_trip_key_removed_reel_header_and_pitches():
    # without the key token nothing can be undone: the transposed pitches are written in C
    cfg = spec("key")
    ev, abc, ev2 = roundtrip(REEL, cfg)
    assert header_lines(abc)[-1] == "K:C dorian"
    # E A ~A2 A B c d moved up 3 (A -> C): G c c c d Eb f; Eb is in C dorian's signature
    assert body(abc).startswith("|:Gc~c2cdef|")
    assert ev2 == ev


def test_first_bars_decodes_only_those_bars():
    cfg = spec("first_bars=2")
    abc = decode(toks(JIG, cfg), cfg)
    assert body(abc) == 'A|:"D"d2A~B2A|"G"GBdg2e|'


@pytest.mark.parametrize("tname,n", [("reel", 3), ("jig", 3)])
def test_round_trip_first_bars_ending_on_volta(tname, n):
    cfg = spec(f"first_bars={n}")
    ev, abc, ev2 = roundtrip(ALL[tname], cfg)
    assert ev2 == ev, f"{abc}\n{show_diff(ev, ev2)}"


def test_decode_contour_tokens_raises():
    cfg = spec("pitch")
    events = toks(JIG, cfg)
    assert {e[0] for e in events if is_note(e)} == {"start", "up", "down", "same"}
    with pytest.raises(FolkclipError, match="contour"):
        decode(events, cfg)


def test_decode_skips_unknown_tokens():
    events = toks(REEL)
    noisy = events[:6] + [X("<pad>"), X("<unk>")] + events[6:]
    assert decode(noisy) == decode(events)


# --------------------------------------------------------------------------- known bugs
def test_round_trip_key_line_between_bar_lines():
    t = "X:1\nT:t\nR:jig\nM:6/8\nL:1/8\nK:D\ndAF dAF|d3 d3:|\nK:G\n|:gfe dcB|g3 g3:|\n"
    ev, abc, ev2 = roundtrip(t, TokenizerConfig())
    assert [e[0] for e in ev if not is_note(e)][6:11] == [
        "|", ":|", "key:G", "mode:major", "|:"]
    assert ev2 == ev, f"{abc}\n{show_diff(ev, ev2)}"


def test_round_trip_grace_note_does_not_eat_accidental():
    t = "X:1\nT:g\nM:4/4\nL:1/8\nK:G\n{c}B^c d2 G4|]\n"
    cfg = TokenizerConfig(transpose=False)
    ev, abc, ev2 = roundtrip(t, cfg)
    assert [e[0] for e in ev if is_note(e)] == ["p71", "p73", "p74", "p67"]
    assert ev2 == ev, f"{abc}\n{show_diff(ev, ev2)}"


def test_round_trip_ornament_on_rest():
    t = "X:1\nT:r\nM:4/4\nL:1/8\nK:G\nGABc d2 Hz2|]\n"
    ev, abc, ev2 = roundtrip(t, TokenizerConfig())
    assert ev[-3][0] == "rest" and ev[-3][7] == "fermata"
    assert ev2 == ev, f"{abc}\n{show_diff(ev, ev2)}"


def test_round_trip_change_at_body_start():
    t = "X:1\nT:c\nM:4/4\nL:1/8\nK:D\nM:3/4\nABc def|g6|]\n"
    ev, abc, ev2 = roundtrip(t, TokenizerConfig())
    assert [e[0] for e in ev[:7]] == ["<bos>", "type:unknown", "meter:4/4", "mode:major",
                                      "key:D", "unit:1/8", "meter:3/4"]
    assert ev2 == ev, f"{abc}\n{show_diff(ev, ev2)}"


def test_decode_meter_removed_keeps_note_lengths():
    cfg = spec("meter")
    abc = decode(toks(JIG, cfg), cfg)
    original = [n.duration for n in parse_tune(JIG).notes]
    assert [n.duration for n in parse_tune(abc).notes] == original


# --------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def tiny():
    return read_sources(["tiny"])


def _tiny_failures(tiny, cfg: TokenizerConfig) -> list[str]:
    tk = Tokenizer(cfg)
    failures = []
    for tune in tiny.tunes:
        ev = tk.tokenize(tune).events
        abc = decode(ev, cfg)
        try:
            ev2 = tk.tokenize(parse_tune(abc)).events
        except FolkclipError as err:
            failures.append(f"{tune.source}: {tune.ref}: decoded ABC unreadable: {err}")
            continue
        if ev2 != ev:
            first = next(i for i, (a, b) in enumerate(zip(ev, ev2 + [()] * len(ev))) if a != b)
            failures.append(f"{tune.source}: {tune.ref}: event {first}: {ev[first]} -> "
                            f"{ev2[first] if first < len(ev2) else None}")
    return failures


@pytest.mark.slow
@pytest.mark.parametrize("cname", ["default", "no-transpose", "rhythm", "ornaments", "chords",
                                   "repeats", "first_bars=2", "octave", "mode", "type",
                                   "meter"])
def test_tiny_round_trip_rate(tiny, cname):
    cfg = CONFIGS[cname]
    assert 80 <= len(tiny.tunes) <= 90
    failures = _tiny_failures(tiny, cfg)
    rate = 1 - len(failures) / len(tiny.tunes)
    print(f"\n{cname}: round trip {len(tiny.tunes) - len(failures)}/{len(tiny.tunes)} "
          f"= {rate:.1%}")
    for f in failures:
        print("  ", f)
    assert rate >= 0.95, "\n".join(failures)
