"""Expansion of repeats, variant endings and parts into performance order.

:func:`unfold` turns the written order of a tune's body events into the order in
which they are played, reproducing what ``abc2midi`` (abcMIDI 4.x) plays, so that
folkclip's melodies can be checked note for note against its MIDI output:

* ``|: ... :|`` is played twice, ``::`` both closes one repeat and opens the next;
* a ``:|`` (or ``::``) with no ``|:`` before it repeats from the start of the tune
  (the start of the part when the header has a ``P:`` order);
* a second ``:|`` after a first one, with no ``|:`` between them (and no variant
  ending before), repeats from the first ``:|`` (``abc2midi`` makes it a ``::``);
* ``[1 ... :| [2 ...`` plays the first ending on the first pass and the second on
  the second; lists such as ``[1,3`` and ``[1-3`` select several passes;
* with a ``P:`` order in the header (``P:AABA``), the parts labelled by ``P:``
  fields in the body are played in that order; without one, ``P:`` labels in the
  body are ignored.

Some of ``abc2midi``'s choices are kept although another reader might play the
tune differently. The pass counter is not reset by a plain ``||``, so a section
``A [1 B :| [2 C || D [1 E :| [2 F ||`` whose second half has endings but no
``|:`` plays ``A B A C D F`` (the second half is not repeated and its first
ending is skipped), and a ``:|`` after ``[2 ... ||`` goes back to the last ``|:``.
A skipped variant ending runs to the next ``:|``, ``|:``, ``||``, ``|]``, ``[|``,
ending mark or part label (a ``::`` does not end it).

The function is pure: it returns a new list holding the input event objects (a
repeated note appears twice as the same object) and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from folkclip.abc.limits import (
    MAX_NUMBER_DIGITS,
    MAX_PART_NESTING,
    MAX_PART_ORDER,
    MAX_UNFOLD_GROWTH,
    exceeded,
)
from folkclip.abc.model import Bar, Change, Event

# Feature kinds, after abc2midi's: "||" DOUBLE_BAR (also |] and [|), "|" SINGLE_BAR,
# "|:" BAR_REP, ":|" REP_BAR, "::" DOUBLE_REP, "[" PLAY_ON_REP (variant ending),
# "P" PART (part label), "ev" anything else (notes, rests, other field changes).
_DOUBLE = frozenset(("||", "|]", "[|"))
_DIGITS_RE = re.compile(r"\d+")
_SKIP_STOP = frozenset((":|", "|:", "P", "||", "["))  # end of a skipped variant ending


class _Feature:
    __slots__ = ("arg", "event", "kind")

    def __init__(self, kind: str, arg: str = "", event: Event | None = None) -> None:
        self.kind = kind
        self.arg = arg
        self.event = event


def unfold(events: Sequence[Event], parts: str | None = None) -> list[Event]:
    """Expand repeats, variant endings and parts into performance order.

    Args:
        events: A tune's body events in written order (``Tune.events``).
        parts: The header's ``P:`` value (``Tune.fields["P"][0]``), e.g. ``"AABA"``
            or ``"A2B"``; ``None`` (or empty) when the header has none.

    Returns:
        The events in the order ``abc2midi`` plays them. Bar lines and field
        changes that are passed are kept; a bar line that sends playing back is
        kept once per pass. The input is not changed.
    """
    order = part_order(parts) if parts else []
    feats = _features(events, order)
    _insert_missing_starts(feats, by_part=bool(order))
    if not order:
        _fix_repeats(feats)
    return _play(feats, order, limit=MAX_UNFOLD_GROWTH * max(len(events), 1))


# --------------------------------------------------------------------- parts
def part_order(spec: str) -> list[str]:
    """Expand a header ``P:`` order: ``"AABA"``, ``"A2B"``, ``"(AB)2C"``, ``"A.B.A"``.

    Raises:
        AbcSyntaxError: When the order nests parentheses deeper than
            :data:`~folkclip.abc.limits.MAX_PART_NESTING` or expands to more than
            :data:`~folkclip.abc.limits.MAX_PART_ORDER` parts (checked before expanding).
    """
    text = re.sub(r"[^A-Z0-9()]", "", spec)
    stack: list[list[str]] = [[]]  # one list per open parenthesis, innermost last
    pos = 0
    while pos < len(text):
        ch = text[pos]
        pos += 1
        if ch == "(":
            if len(stack) > MAX_PART_NESTING:
                raise exceeded("part order nesting", f"deeper than {MAX_PART_NESTING}",
                               MAX_PART_NESTING, "MAX_PART_NESTING")
            stack.append([])
            continue
        if ch == ")":
            if len(stack) == 1:
                break  # a ")" with no "(" ends the order (as before)
            group = stack.pop()
        elif ch.isalpha():
            group = [ch]
        else:  # a stray digit
            continue
        m = _DIGITS_RE.match(text, pos)
        times = 1
        if m:
            pos = m.end()
            if len(m.group(0)) > MAX_NUMBER_DIGITS:
                times = MAX_PART_ORDER + 1
            else:
                times = int(m.group(0))
        out = stack[-1]
        if len(out) + len(group) * times > MAX_PART_ORDER:
            raise exceeded("part order of", f"more than {MAX_PART_ORDER} parts",
                           MAX_PART_ORDER, "MAX_PART_ORDER")
        out.extend(group * times)
    while len(stack) > 1:  # unclosed parentheses close at the end
        group = stack.pop()
        stack[-1].extend(group)
        if len(stack[-1]) > MAX_PART_ORDER:
            raise exceeded("part order of", f"more than {MAX_PART_ORDER} parts",
                           MAX_PART_ORDER, "MAX_PART_ORDER")
    return stack[0]


# ------------------------------------------------------------------ features
def _features(events: Sequence[Event], order: list[str]) -> list[_Feature]:
    feats = [_Feature("||")]  # abc2midi puts a || before the music
    speculative = -1
    if len(order) == 1:
        # A one-letter header P: may be a label rather than an order: abc2midi
        # labels the start of the music with it, and drops that label if the
        # body labels a part with the same letter.
        speculative = len(feats)
        feats.append(_Feature("P", order[0]))
    for ev in events:
        if isinstance(ev, Bar):
            kind = "||" if ev.kind in _DOUBLE else ev.kind
            feats.append(_Feature(kind, "", ev))
            if ev.ending:
                feats.append(_Feature("[", ev.ending))
        elif isinstance(ev, Change) and ev.field == "P" and order:
            # Without a part order abc2midi ignores P: labels in the body.
            label = str(ev.value).strip()[:1]
            if "A" <= label <= "Z":
                if speculative >= 0 and label == order[0]:
                    feats[speculative] = _Feature("ev")
                    speculative = -1
                feats.append(_Feature("P", label, ev))
            else:
                feats.append(_Feature("ev", "", ev))
        else:
            feats.append(_Feature("ev", "", ev))
    if order:
        feats.append(_Feature("P", " "))  # the end of the last part
    return feats


def _insert_missing_starts(feats: list[_Feature], by_part: bool) -> None:
    """abc2midi's ``scan_for_missing_repeats``: a ``:|`` or ``::`` with no ``|:``
    before it (in the tune, or in its part when the header gives a part order)
    gets a ``|:`` at the start of the music (of the part)."""
    start = 0
    found = False
    insert_at: list[int] = []
    for i, f in enumerate(feats):
        if f.kind == "P" and by_part:
            start, found = i, False
        elif f.kind == "|:":
            found = True
        elif f.kind in (":|", "::") and not found:
            insert_at.append(start + 1)
            found = True
    for pos in reversed(insert_at):
        feats.insert(pos, _Feature("|:"))


def _fix_repeats(feats: list[_Feature]) -> None:
    """abc2midi's ``fixreps`` (tunes without a part order): patch up missing ``|:``."""
    rep_point = 0
    expect_repeat = False
    nplays = 0
    for j, f in enumerate(feats):
        kind = f.kind
        if kind == "||":
            rep_point = j
        elif kind == "|:":
            if expect_repeat:  # |: ... |: : the second one becomes ::
                f.kind = "::"
            expect_repeat = True
        elif kind == ":|":
            if not expect_repeat and nplays < 1:
                _place_start(feats[rep_point])
            expect_repeat = False
            rep_point = j
        elif kind == "[":
            if nplays == 0 and not expect_repeat:
                _place_start(feats[rep_point])
            nplays += 1
        elif kind == "::":
            if not expect_repeat:
                _place_start(feats[rep_point])
            expect_repeat = True


def _place_start(f: _Feature) -> None:
    if f.kind in ("||", "|"):
        f.kind = "|:"
    elif f.kind == ":|":
        f.kind = "::"


def _in_list(ending: str, passno: int) -> bool:
    for part in ending.split(","):
        a, _, b = part.partition("-")
        try:
            lo = int(a)
            hi = int(b) if b else lo
        except ValueError:
            continue
        if lo <= passno <= hi:
            return True
    return False


# ---------------------------------------------------------------------- play
def _play(feats: list[_Feature], order: list[str], limit: int) -> list[Event]:
    """abc2midi's ``writetrack`` walk over the features."""
    out: list[Event] = []
    part_start: dict[str, int] = {}
    for i, f in enumerate(feats):
        if f.kind == "P" and f.arg != " ":
            part_start[f.arg] = i  # a label used twice: the last one counts
    partno = -1
    n = len(feats)
    j = 0
    pass_no = 1
    maxpass = 2
    expect_repeat = False
    saved = 0
    while j < n and len(out) < limit:
        f = feats[j]
        kind = f.kind
        if f.event is not None and kind != "P":
            out.append(f.event)
        if kind == "|:":
            saved, expect_repeat, pass_no, maxpass = j, True, 1, 2
        elif kind == ":|":
            if pass_no == 1:
                if expect_repeat:  # back to the |: for the second pass
                    pass_no += 1
                    j = saved
                    expect_repeat = False
            elif pass_no < maxpass:  # a further pass that plays another ending
                expect_repeat = False
                pass_no += 1
                j = saved
        elif kind == "::":
            if pass_no > 1:  # repeat done: acts as |:
                expect_repeat, saved, pass_no, maxpass = True, j, 1, 2
            elif not expect_repeat:
                expect_repeat, saved, pass_no = True, j, 1
            else:
                j = saved
                pass_no += 1
        elif kind == "[":
            passnum = pass_no if (expect_repeat or pass_no > 1) else 1
            if not _in_list(f.arg, passnum):  # skip this ending
                j += 1
                while j < n and feats[j].kind not in _SKIP_STOP:
                    j += 1
                if j < n and feats[j].kind == "P":
                    j -= 1
            elif maxpass < 4:
                maxpass = pass_no + 1
        elif kind == "P":
            if order:  # go to the next part of the header's order
                partno += 1
                while partno < len(order) and order[partno] not in part_start:
                    partno += 1
                if partno >= len(order):
                    break
                j = part_start[order[partno]]
                f = feats[j]
            if f.event is not None:
                out.append(f.event)
        j += 1
    return out
