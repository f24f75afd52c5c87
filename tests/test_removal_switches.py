"""Each removal switch removes its element from every field that carries it directly
(bias 6 of issue 11): two tunes that differ only in that element tokenize identically,
in every field and in the bar grouping of the patch view, once it is removed."""

from __future__ import annotations

import pytest

from folkclip.abc.parser import parse_tune
from folkclip.data.tokenize import Tokenizer, TokenizerConfig


def abc(body: str, meter: str = "4/4", key: str = "G", rhythm: str = "reel",
        unit: str = "1/8") -> str:
    return f"X:1\nT:t\nR:{rhythm}\nM:{meter}\nL:{unit}\nK:{key}\n{body}\n"


# switch -> two tunes that differ only in what the switch removes
PAIRS = {
    # same notes; bar lines every 4/4 vs every 2/4 (and so other bar indices, positions)
    "meter": (abc("GABc dedB|GABc d2B2|]"), abc("GABc|dedB|GABc|d2B2|]", meter="2/4")),
    # same pitches, other durations (so other bar lines, indices, positions, unit)
    "rhythm": (abc("GABc dedB|]"), abc("G2A2 B2c2|d2e2 d2B2|]")),
    "barlines": (abc("GABc dedB|GABc dedB|]"), abc("GABc|dedB GABc|dedB|]")),
    # the same tune in G and in A (transposed to C either way)
    "key": (abc("GABc dedB|]"), abc("ABcd efec|]", key="A")),
    # the same pitches read in G major and G mixolydian
    "mode": (abc("GABc d=fed|]"), abc("GABc dfed|]", key="Gmix")),
    "type": (abc("GABc dedB|]"), abc("GABc dedB|]", rhythm="hornpipe")),
    "pitch": (abc("GABc dcBA|]"), abc("ABcd edcB|]")),  # same contour
    "octave": (abc("GABc dedB|]"), abc("gabc' d'e'd'b|]")),
    "ornaments": (abc("~GABc {a}dedB|]"), abc("GABc dedB|]")),
    "chords": (abc('"G"GABc "D"dedB|]'), abc("GABc dedB|]")),
    "repeats": (abc("|:GABc dedB:|"), abc("|GABc dedB|")),
}


def tokenize(text: str, remove: tuple[str, ...] = ()) -> tuple[list, list]:
    tt = Tokenizer(TokenizerConfig(remove=remove)).tokenize(parse_tune(text))
    return tt.events, tt.bars


@pytest.mark.parametrize("switch", list(PAIRS))
def test_removed_element_leaves_no_trace_in_any_field(switch):
    a, b = PAIRS[switch]
    assert tokenize(a) != tokenize(b)  # the pair really differs in the element
    events_a, bars_a = tokenize(a, (switch,))
    events_b, bars_b = tokenize(b, (switch,))
    assert events_a == events_b
    assert bars_a == bars_b  # the bar-patch grouping too


@pytest.mark.parametrize("switch", ["meter", "rhythm", "barlines"])
def test_bar_structure_goes_with_meter_rhythm_and_barlines(switch):
    events, bars = tokenize(PAIRS["meter"][0], (switch,))
    assert not any(e[0] in ("|", "||", "|]", "[|") for e in events)
    notes = [e for e in events if e[1] != "-"]
    assert {e[3] for e in notes} == {"-"}  # no bar index
    assert {e[2] for e in notes} <= {"-", "1"}  # no in-bar position
    assert not any(e[0].startswith("unit:") for e in events) or switch == "barlines"
