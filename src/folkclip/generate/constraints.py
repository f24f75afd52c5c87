"""Constrained sampling: masks that keep a sampled tune well-formed ABC.

The language model alone writes bars of the wrong length now and then, and repeat signs
that do not pair up (``[2`` without ``[1``, a ``|:`` never closed), which abc2midi
refuses. :class:`TuneConstraint` follows one tune as it is sampled and says, before each
step, which next tokens and durations keep it well-formed:

- repeats: ``|:``, ``||`` and ``|]`` only outside a repeated section, ``::`` and ``[1``
  only inside one,
  ``:|`` inside one or (an implicit repeat from the start, as abc2midi assumes) before
  any repeat sign, ``[2`` only right after the ``:|`` that closes a first ending, and
  ``<eos>`` only with no section open and after music (with bar lengths checked: after
  a bar line that closes a bar of music);
- no two bar lines in a row (``||`` then ``|]`` reads as ``||]``);
- bar lengths (with a meter, rhythm and bar lines kept): a note or rest may not overrun
  the bar, a bar line comes exactly when the bar is full (the first bar, a pickup, may be
  short), and the meter of a hornpipe is 2/4 or 4/4 (abc2midi's rule).

Where a mask would leave nothing to choose, the unconstrained choice stands. The model's
probabilities are renormalised over what is allowed, so the result is the model's
distribution conditioned on well-formedness.

:class:`BatchMasks` gives the same masks for many tunes at once: each tune's state is
read into a few flags, and the (B, V) masks come from tensor operations over the
vocabulary's token classes (the per-tune methods are the reference it is tested against).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

import torch
from torch import Tensor

from folkclip.abc.fields import WHOLE, beat_length
from folkclip.data.tokenize import BAR_TOKENS, EOS, TokenizerConfig, meter_from_token

HORNPIPE_METERS = ("meter:2/4", "meter:4/4")
_OPENS, _CLOSES, _BOTH = "|:", ":|", "::"
_ENDS = frozenset({"||", "|]"})  # section ends: a new implicit repeat may start after


def is_note(token: str) -> bool:
    """Whether ``token`` is a note or rest event (a pitch, an interval or ``rest``)."""
    return token == "rest" or (token[:1] == "p" and token[1:].isdigit()) \
        or token in ("start", "up", "down", "same")


@lru_cache(maxsize=1024)  # durations come from a vocabulary: a few dozen strings
def _fraction(text: str) -> Fraction | None:
    """A duration token's length, or None (parsed once per vocabulary string)."""
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


class TuneConstraint:
    """The well-formedness state of one tune being sampled.

    Args:
        config: The tokenizer configuration the model was trained with.
        tokens: The model's ``token`` vocabulary.
        durations: The model's ``duration`` vocabulary.
    """

    def __init__(self, config: TokenizerConfig, tokens: list[str], durations: list[str]) -> None:
        self.check_bars = not {"rhythm", "barlines", "meter"} & set(config.remove)
        self.tokens = tokens
        self.ids = {t: k for k, t in enumerate(tokens)}
        self.bar_mask = torch.tensor([t in BAR_TOKENS for t in tokens])  # (V,)
        self.bar_ids = self.bar_mask.nonzero().flatten().tolist()
        self.dur_values = [_fraction(d) for d in durations]
        self.open = False  # inside a repeated section
        self.seen_repeat = False  # a repeat sign since the tune or section start
        self.in_first = False  # inside a first ending
        self.second_ok = False  # right after the :| closing a first ending
        self.last_bar = False  # the last token was a bar line
        self.has_music = False  # a note or rest was written: the tune may end
        self.bar_beats: Fraction | None = None
        self.position = Fraction(0)  # beats so far in the bar
        self.bars = 0  # bar lines written after music
        self.type = ""

    # ------------------------------------------------------------------ updates
    def header(self, token: str) -> None:
        if token.startswith("type:"):
            self.type = token[5:]
        elif token.startswith("meter:"):
            self._meter(token[6:])

    def _meter(self, text: str) -> None:
        meter = meter_from_token(text) if "/" in text else None
        self.bar_beats = None if meter is None else \
            Fraction(*meter) / Fraction(beat_length(meter), WHOLE)

    def step(self, token: str, duration: str) -> None:
        """Record the token (and duration) sampled for the tune."""
        if token.startswith("meter:"):
            self._meter(token[6:])
        self.last_bar = token in BAR_TOKENS
        if token in BAR_TOKENS:
            if self.position > 0:
                self.bars += 1
            self.position = Fraction(0)
            self.second_ok = token in (_CLOSES, _BOTH) and self.in_first
            if token in (_OPENS, _BOTH):
                self.open, self.seen_repeat, self.in_first = True, True, False
            elif token == _CLOSES:
                self.open, self.seen_repeat, self.in_first = False, True, False
            elif token in _ENDS and not self.open:
                self.seen_repeat = False
            return
        if token in ("[1", "[2"):
            self.in_first = token == "[1"
            self.second_ok = False
            return
        self.has_music = self.has_music or is_note(token)
        value = _fraction(duration)
        if value is not None and value > 0:
            self.position += value

    # ------------------------------------------------------------------ masks
    @property
    def may_end(self) -> bool:
        """Whether the tune holds enough music to end: a closed bar when bar lengths are
        checked (not a lone pickup), else any note."""
        if self.check_bars and self.bar_beats is not None:
            return self.bars > 0
        return self.has_music

    def _bar_allowed(self, token: str) -> bool:
        if self.last_bar:  # two bar lines in a row read as one odd sign (||] or |||)
            return False
        if token == _OPENS:
            return not self.open
        if token == _BOTH:
            return self.open
        if token == _CLOSES:
            return self.open or not self.seen_repeat
        if token in _ENDS:
            return not self.open
        return True

    def allowed_tokens(self, base: Tensor) -> Tensor:
        """``base`` (V,) bool narrowed to the next tokens that keep the tune well-formed."""
        mask = base.clone()
        for k in self.bar_ids:
            mask[k] &= self._bar_allowed(self.tokens[k])
        if "[1" in self.ids:
            mask[self.ids["[1"]] &= self.open and not self.in_first
        if "[2" in self.ids:
            mask[self.ids["[2"]] &= self.second_ok
        if EOS in self.ids:
            mask[self.ids[EOS]] &= not self.open and not self.in_first and self.may_end
        if self.check_bars and self.bar_beats is not None:
            full = self.position >= self.bar_beats
            short = 0 < self.position < self.bar_beats and self.bars > 0
            if full or short:  # full: only a bar line; short: no bar line yet
                for k in self.bar_ids:
                    mask[k] &= full
                if EOS in self.ids:
                    mask[self.ids[EOS]] &= False
                if full:
                    mask &= self.bar_mask
        return mask if mask.any() else base

    def allowed_durations(self, base: Tensor) -> Tensor:
        """``base`` (V,) bool narrowed to durations that fit in the rest of the bar."""
        if not self.check_bars or self.bar_beats is None:
            return base
        room = self.bar_beats - self.position
        fits = torch.tensor([v is not None and v <= room for v in self.dur_values])
        mask = base & fits
        return mask if mask.any() else base

    def meter_tokens(self, base: Tensor) -> Tensor:
        """``base`` (V,) bool of meter tokens, narrowed to 2/4 and 4/4 for a hornpipe."""
        if self.type != "hornpipe":
            return base
        ok = torch.tensor([t in HORNPIPE_METERS for t in self.tokens])
        mask = base & ok
        return mask if mask.any() else base

    def closing(self, last: str) -> tuple[bool, str | None]:
        """How to end a tune cut short whose last token is ``last``: whether to drop that
        token, and the bar line to write instead or after it (``None``: none needed).
        An open repeat is closed with ``:|``, anything else ends with ``|]``."""
        end = _CLOSES if self.open else "|]"
        if last in ("|", "||", "[|", _BOTH):
            return True, end
        if last == _OPENS:  # a repeat opened by the last token: drop it, end the tune
            return True, "|]"
        if last in (_CLOSES, "|]"):
            return False, None
        return False, end


# Token classes of BatchMasks, one column each in its (B, classes) table of what is allowed.
(_OTHER, _OPEN_BAR, _BOTH_BAR, _CLOSE_BAR, _END_BAR, _PLAIN_BAR, _FIRST, _SECOND,
 _EOS) = range(9)


class BatchMasks:
    """:meth:`TuneConstraint.allowed_tokens` and :meth:`TuneConstraint.allowed_durations`
    of many tunes at once, as (B, V) tensors.

    Args:
        tokens: The model's ``token`` vocabulary.
        durations: The model's ``duration`` vocabulary.
    """

    def __init__(self, tokens: list[str], durations: list[str]) -> None:
        bars = {_OPENS: _OPEN_BAR, _BOTH: _BOTH_BAR, _CLOSES: _CLOSE_BAR}
        classes = []
        for t in tokens:
            if t in BAR_TOKENS:
                classes.append(bars.get(t, _END_BAR if t in _ENDS else _PLAIN_BAR))
            else:
                classes.append({"[1": _FIRST, "[2": _SECOND, EOS: _EOS}.get(t, _OTHER))
        self.token_class = torch.tensor(classes)  # (V,)
        values = [_fraction(d) for d in durations]
        self.sorted_values = sorted({v for v in values if v is not None})
        rank = {v: k for k, v in enumerate(self.sorted_values)}
        # rank of each duration by value; a duration with no value fits nowhere
        self.duration_rank = torch.tensor([rank.get(v, len(rank)) if v is not None
                                           else len(rank) for v in values])  # (V_dur,)

    def tokens(self, rules: Sequence[TuneConstraint], base: Tensor) -> Tensor:
        """``base`` (V,) narrowed for each tune of ``rules`` -> (B, V) bool."""
        table = torch.tensor([_token_classes(r) for r in rules])  # (B, classes)
        mask = base & table[:, self.token_class]  # (B, V)
        return torch.where(mask.any(1, keepdim=True), mask, base)

    def durations(self, rules: Sequence[TuneConstraint], base: Tensor) -> Tensor:
        """``base`` (V_dur,) narrowed to the durations that fit each tune's bar -> (B, V_dur)."""
        every = len(self.sorted_values) + 1
        fitting = [every if not r.check_bars or r.bar_beats is None
                   else bisect_right(self.sorted_values, r.bar_beats - r.position)
                   for r in rules]
        mask = base & (self.duration_rank < torch.tensor(fitting).unsqueeze(1))  # (B, V_dur)
        return torch.where(mask.any(1, keepdim=True), mask, base)


def _token_classes(r: TuneConstraint) -> list[bool]:
    """Which token classes ``r`` allows next, as :meth:`TuneConstraint.allowed_tokens`."""
    bar = not r.last_bar
    row = [True, bar and not r.open, bar and r.open, bar and (r.open or not r.seen_repeat),
           bar and not r.open, bar, r.open and not r.in_first, r.second_ok,
           not r.open and not r.in_first and r.may_end]
    if r.check_bars and r.bar_beats is not None:
        full = r.position >= r.bar_beats
        if full:  # only a bar line
            row = [ok and _OPEN_BAR <= k <= _PLAIN_BAR for k, ok in enumerate(row)]
        elif 0 < r.position and r.bars > 0:  # a short bar: no bar line, no end yet
            row = [ok and not _OPEN_BAR <= k <= _PLAIN_BAR and k != _EOS
                   for k, ok in enumerate(row)]
    return row
