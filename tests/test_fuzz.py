"""Property-based fuzzing: random and mutated ABC never raises anything but folkclip's errors.

Derandomized (the profile in tests/conftest.py, and ``derandomize=True`` here too):
the same examples every run. The wide search is ``benchmarks/fuzz.py``.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from folkclip.abc.parser import parse_tune, parse_tunebook
from folkclip.errors import FolkclipError
from folkclip.data.tokenize import Tokenizer, TokenizerConfig

SEED = """X:7
T:Seed Tune, The
R:reel
M:4/4
L:1/8
K:Ador
|:"Am"~A2 (3Bcd e>dB|[K:G] {g}c2 [CEG]2 !trill!d2 z2|[1 ^f'2 _B,,2-B,2 e/f/:|[2 a4 |]
M:6/8
(3:2:3abc d2 e|f2 g a2 b|\\
c'3 z3|]
"""
ALPHABET = "ABCDEFGabcdefgzxZ|:[]()^_=,'/0123456789<>-~.!+\"{}%\\ \nKMLTXPVR&$*"


def _check(text: str) -> None:
    try:
        tune = parse_tune(text, "fuzz.abc")
    except FolkclipError:
        return
    Tokenizer(TokenizerConfig()).tokenize(tune)  # a readable tune must also tokenize


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=ALPHABET, max_size=300))
def test_random_body_after_valid_header(body):
    _check("X:1\nT:t\nM:6/8\nL:1/8\nK:D\n" + body)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=400))
def test_arbitrary_text_as_tunebook(text):
    tunes, problems = parse_tunebook(text, "fuzz.abc")
    assert all(p.source == "fuzz.abc" and p.reason for p in problems)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.sampled_from(["del", "ins", "dup"]),
                          st.sampled_from(list(ALPHABET))), min_size=1, max_size=8))
def test_mutated_real_tune(edits):
    text = SEED
    for pos, op, ch in edits:
        pos = min(pos, len(text) - 1)
        if op == "del":
            text = text[:pos] + text[pos + 1:]
        elif op == "ins":
            text = text[:pos] + ch + text[pos:]
        else:
            text = text[:pos] + text[pos:pos + 5] + text[pos:]
    _check(text)
    tunes, problems = parse_tunebook(text + "\n\n" + SEED, "fuzz.abc")
    assert tunes  # the intact copy after the mutated one is always read
