"""Constrained sampling masks: repeats pair up, bars fill the meter, tunes end cleanly."""

from __future__ import annotations

import pytest
import torch

from folkclip.data.tokenize import TokenizerConfig
from folkclip.generate.constraints import BatchMasks, TuneConstraint

TOKENS = ["<pad>", "<unk>", "<bos>", "<eos>", "|", "||", "|]", "|:", ":|", "::", "[1", "[2",
          "p60", "p62", "rest", "meter:4/4", "meter:6/8", "meter:3/4", "type:hornpipe"]
DURATIONS = ["-", "1/2", "1", "3/2", "2", "4"]


def _rule(remove=()):
    rule = TuneConstraint(TokenizerConfig(remove=tuple(remove)), TOKENS, DURATIONS)
    rule.header("meter:4/4")
    return rule


def _allowed(rule: TuneConstraint) -> set[str]:
    mask = rule.allowed_tokens(torch.ones(len(TOKENS), dtype=torch.bool))
    return {t for t, ok in zip(TOKENS, mask.tolist()) if ok}


def _play(rule: TuneConstraint, seq: list[str]) -> None:
    for tok in seq:
        rule.step(tok, "1" if tok.startswith("p") else "-")


def test_repeat_signs_pair_up():
    rule = _rule(remove=("rhythm",))  # bar lengths off: only the repeat rules apply
    first = _allowed(rule)
    assert {"|:", ":|"} <= first and not {"::", "[1", "[2", "<eos>"} & first  # no music yet
    _play(rule, ["|:", "p60"])
    inside = _allowed(rule)
    assert {":|", "::", "[1"} <= inside  # inside a repeat
    assert not {"|:", "|]", "||", "<eos>", "[2"} & inside
    _play(rule, ["|", "[1", "p60"])
    assert "[1" not in _allowed(rule) and "<eos>" not in _allowed(rule)
    _play(rule, [":|"])
    after = _allowed(rule)
    assert "[2" in after and "<eos>" in after
    assert not {"|", ":|", "|:"} & after  # no second bar line right after one
    _play(rule, ["[2", "p62", "|"])
    assert "[2" not in _allowed(rule) and ":|" not in _allowed(rule)  # repeat was seen


def test_bars_fill_the_meter():
    rule = _rule()
    durations = rule.allowed_durations(torch.ones(len(DURATIONS), dtype=torch.bool))
    assert durations.tolist() == [False, True, True, True, True, True]  # room: 4 beats
    _play(rule, ["p60"])  # a one-beat pickup may end the first bar
    assert "|" in _allowed(rule)
    _play(rule, ["|", "p60"])
    assert not {"|", "||", ":|", "<eos>"} & _allowed(rule)  # a short bar may not end
    rule.step("p62", "2")  # 3 of 4 beats
    room = rule.allowed_durations(torch.ones(len(DURATIONS), dtype=torch.bool))
    assert [d for d, ok in zip(DURATIONS, room.tolist()) if ok] == ["1/2", "1"]
    rule.step("p60", "1")
    assert _allowed(rule) == {"|", "||", "|]", "|:", ":|"}  # full: only a bar line


def test_a_tune_ends_after_a_closed_bar_of_music():
    rule = _rule()
    assert "<eos>" not in _allowed(rule)  # nothing written yet
    _play(rule, ["p60", "p60"])
    assert "<eos>" not in _allowed(rule)  # a lone pickup is no tune
    _play(rule, ["|"])
    assert "<eos>" in _allowed(rule)
    free = _rule(remove=("rhythm",))  # no bar lengths: any note will do
    _play(free, ["|:", ":|"])
    assert "<eos>" not in _allowed(free)
    free.step("p60", "-")
    assert "<eos>" in _allowed(free)


def test_hornpipes_are_in_two_or_four():
    rule = TuneConstraint(TokenizerConfig(), TOKENS, DURATIONS)
    rule.header("type:hornpipe")
    meters = torch.tensor([t.startswith("meter:") for t in TOKENS])
    chosen = {t for t, ok in zip(TOKENS, rule.meter_tokens(meters).tolist()) if ok}
    assert chosen == {"meter:4/4"}


def test_nothing_allowed_falls_back_to_the_model():
    rule = _rule()
    only_notes = torch.tensor([t.startswith("p") for t in TOKENS])
    _play(rule, ["p60", "|", "p60", "p60", "p60", "p60"])  # bar full: wants a bar line
    assert torch.equal(rule.allowed_tokens(only_notes), only_notes)


def test_closing_a_tune_cut_short():
    rule = _rule(remove=("rhythm",))
    _play(rule, ["|:", "p60"])
    assert rule.closing("p60") == (False, ":|")
    _play(rule, ["|"])
    assert rule.closing("|") == (True, ":|")  # replace the bar line by the repeat's end
    _play(rule, [":|"])
    assert rule.closing(":|") == (False, None)
    _play(rule, ["p60", "|:"])
    assert rule.closing("|:") == (True, "|]")


def _random_walk(rule: TuneConstraint, steps: int, g: torch.Generator) -> list[tuple[str, str]]:
    """Tokens and durations of a random tune: a meter, then random events (some allowed,
    some not, so the states include overrun bars and unpaired repeats)."""
    played = []
    for _ in range(steps):
        tok = TOKENS[int(torch.randint(3, len(TOKENS) - 1, (1,), generator=g))]
        dur = DURATIONS[int(torch.randint(0, len(DURATIONS), (1,), generator=g))] \
            if tok.startswith("p") or tok == "rest" else "-"
        played.append((tok, dur))
    return played


@pytest.mark.parametrize("remove", [(), ("rhythm",), ("barlines",)])
def test_batch_masks_equal_each_tunes_masks(remove):
    """BatchMasks gives, row for row, the masks of TuneConstraint's own methods, in every
    state that random tunes (4 side by side, 60 steps, a meter change now and then) reach,
    under the full base and under bases that leave few or no choices."""
    g = torch.Generator().manual_seed(0)
    masks = BatchMasks(TOKENS, DURATIONS)
    bases = [torch.ones(len(TOKENS), dtype=torch.bool),
             torch.tensor([t.startswith("p") or t in ("|", "<eos>") for t in TOKENS]),
             torch.tensor([t.startswith("p") for t in TOKENS])]
    dur_bases = [torch.ones(len(DURATIONS), dtype=torch.bool),
                 torch.tensor([d in ("2", "4") for d in DURATIONS])]
    rules = [_rule(remove) for _ in range(4)]
    rules[1].header("meter:6/8")
    walks = [_random_walk(r, 60, g) for r in rules]
    checked = set()
    for t in range(60):
        for base in bases:
            want = torch.stack([r.allowed_tokens(base) for r in rules])
            assert torch.equal(masks.tokens(rules, base), want), (t, base)
        for base in dur_bases:
            want = torch.stack([r.allowed_durations(base) for r in rules])
            assert torch.equal(masks.durations(rules, base), want), (t, base)
        for r in rules:
            checked.add((r.open, r.in_first, r.second_ok, r.last_bar,
                         r.position >= (r.bar_beats or 0)))
        for r, walk in zip(rules, walks):
            r.step(*walk[t])
    assert len(checked) >= 8  # the walks reached many different states
