"""Sampling tunes from a melody language model, and writing them as an ABC tunebook.

The model predicts only the next event's ``token`` and ``duration``; the other fields
of a sampled event are recomputed the way :class:`~folkclip.data.tokenize.Tokenizer` fills
them (:class:`EventCompleter`): the position accumulates durations inside the bar, the
bar index grows at each bar line that closes music (both are ``-`` when the meter,
rhythm or bar lines are removed), degree and octave follow from the pitch and the current tonic,
and tie, ornament and chord are ``-``. So each step's input looks like training data.
:func:`folkclip.data.decode.decode` then writes the events as ABC.

The header is sampled slot by slot (type, meter, mode, key, unit, less those the
tokenizer removed), each slot restricted to its own tokens unless fixed by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

import torch
from torch import Tensor

from folkclip.abc.fields import WHOLE, beat_length
from folkclip.data.decode import decode
from folkclip.data.tokenize import (
    BAR_TIMING_SWITCHES,
    BAR_TOKENS,
    BOS,
    EOS,
    FIELDS,
    MAX_BAR,
    NONE,
    PITCH_NAMES,
    TokenizerConfig,
    key_from_tokens,
    meter_from_token,
    transpose_shift,
)
from folkclip.errors import FolkclipError
from folkclip.generate.constraints import BatchMasks, TuneConstraint, is_note
from folkclip.models.decoding import StepDecoder
from folkclip.models.lm import MelodyLM

HEADER_SLOTS = ("type", "meter", "mode", "key", "unit")  # the tokenizer's header order
_NOT_IN_BODY = ("<pad>", "<unk>", "<bos>", "type:", "unit:")  # <eos> may end a tune


def header_slots(config: TokenizerConfig) -> list[str]:
    """Header slots a tokenizer with ``config`` writes after ``<bos>``, in order."""
    no_unit = bool({"meter", "rhythm"} & set(config.remove))  # as Tokenizer.header
    return [s for s in HEADER_SLOTS if (s == "unit" and not no_unit) or s not in config.remove]


def _beats(f: Fraction) -> str:
    """A beat count as the tokenizer writes it (at most 48ths)."""
    return str(f.limit_denominator(48) if f.denominator > 48 else f)


@lru_cache(maxsize=1024)  # durations come from a vocabulary: a few dozen strings
def _value(duration: str) -> Fraction:
    """A duration token's length (the vocabulary's few strings, parsed once each)."""
    return Fraction(duration)


class EventCompleter:
    """Fills in the fields of sampled events from their token and duration.

    Args:
        config: The tokenizer configuration the model was trained with.
    """

    def __init__(self, config: TokenizerConfig) -> None:
        self.config = config
        self.remove = set(config.remove)
        self.header: list[tuple[str, ...]] = []
        self.in_body = False
        self.shift = self.tonic = 0
        self.meter: tuple[int, int] | None = None
        self.position = Fraction(0)  # onset inside the bar, in beats
        self.bar = 0
        self.bar_has_music = False
        self.no_bars = bool(self.remove & BAR_TIMING_SWITCHES)  # no bar index or position

    def _start_body(self) -> None:
        key = key_from_tokens(self.header)
        self.shift = transpose_shift(key) if self.config.transpose else 0
        self.tonic = (key.tonic_pc + self.shift) % 12
        self.in_body = True

    def event(self, token: str, duration: str = NONE) -> tuple[str, ...]:
        """The full event tuple (fields in :data:`FIELDS` order) of the next event."""
        blank = (NONE,) * (len(FIELDS) - 1)
        if not self.in_body:
            if token == BOS or token.startswith(("type:", "meter:", "mode:", "key:", "unit:")):
                self.header.append((token,) + blank)
                if token.startswith("meter:"):
                    self.meter = meter_from_token(token[6:])
                if token.startswith("unit:"):  # the header's last event
                    self._start_body()
                return (token,) + blank
            self._start_body()  # a header without unit: (meter or rhythm removed)
        if token in BAR_TOKENS:
            if self.bar_has_music:
                self.bar += 1
                self.position = Fraction(0)
                self.bar_has_music = False
            return (token,) + blank
        if token.startswith("key:") and token[4:] in PITCH_NAMES and "key" not in self.remove:
            self.tonic = (PITCH_NAMES.index(token[4:]) + self.shift) % 12  # a key change
        elif token.startswith("meter:"):
            new = meter_from_token(token[6:])
            self.position *= Fraction(_beat_units(self.meter), _beat_units(new))
            self.meter = new
        if not is_note(token):
            return (token,) + blank
        no_rhythm = "rhythm" in self.remove
        if no_rhythm:
            duration = position = "1"
        else:
            position = NONE if self.no_bars else _beats(self.position)
        bar = NONE if self.no_bars else str(min(self.bar, MAX_BAR))
        degree = octave = NONE
        if token[:1] == "p":
            pitch = int(token[1:])
            degree = str((pitch - self.tonic) % 12)
            octave = NONE if "octave" in self.remove else str(pitch // 12 - 1)
        self.position += _value(duration)
        self.bar_has_music = True
        return (token, duration, position, bar, degree, octave, NONE, NONE, NONE)


def _beat_units(meter: tuple[int, int] | None) -> Fraction:
    """Length of the meter's beat in whole notes (as :func:`folkclip.abc.fields.beat_length`)."""
    return Fraction(beat_length(meter), WHOLE)


def _restrict(logits: Tensor, allowed: Tensor, temperature: float, top_k: int) -> Tensor:
    """Probabilities (B, V) from ``logits`` over the ``allowed`` (B, V) ids."""
    logits = logits.masked_fill(~allowed, float("-inf"))
    if temperature <= 0:  # greedy
        best = logits.argmax(-1, keepdim=True)
        return torch.zeros_like(logits).scatter_(-1, best, 1.0)
    logits = logits / temperature
    if top_k > 0 and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return logits.softmax(-1)


@torch.no_grad()
def sample_batch(model: MelodyLM, vocab: dict[str, list[str]], n: int,
                 header_tokens: Sequence[str] = (), max_events: int = 256,
                 temperature: float = 1.0, top_k: int = 0, seed: int = 0,
                 tokenizer_config: TokenizerConfig | None = None, constrain: bool = True,
                 cache: bool = True) -> list[list[tuple[str, ...]]]:
    """Sample ``n`` tunes side by side; tune i draws from a generator seeded ``seed + i``.

    One step loop on purpose: each step feeds the model once with the newest event of
    every unfinished tune (:class:`~folkclip.models.decoding.StepDecoder`; finished tunes
    leave the batch), builds the allowed tokens and durations of all of them at once
    (:class:`~folkclip.generate.constraints.BatchMasks`), then draws each tune's event
    from its own generator and updates its completer and constraint.

    See :func:`sample` for the arguments; ``cache=False`` re-reads each tune's whole
    prefix at every step (the same tunes, much slower: the reference for the cache).
    """
    config = tokenizer_config or TokenizerConfig()
    device = next(model.parameters()).device
    length = min(max_events, model.config.max_len)
    index = [{t: k for k, t in enumerate(vocab[f])} for f in FIELDS]
    slots = header_slots(config)
    fixed = _fixed_header(header_tokens, slots, vocab["token"])
    tok_vocab, dur_vocab = vocab["token"], vocab["duration"]
    slot_allowed = {s: torch.tensor([t.startswith(s + ":") for t in tok_vocab]) for s in slots}
    body_allowed = torch.tensor([not t.startswith(_NOT_IN_BODY) for t in tok_vocab])
    note_durations = torch.tensor([_positive(t) for t in dur_vocab])
    if not note_durations.any() and "rhythm" not in config.remove:
        raise FolkclipError("the model's duration vocabulary holds no note lengths")
    with_rhythm = "rhythm" not in config.remove
    notes = [is_note(t) for t in tok_vocab]
    gens = [torch.Generator().manual_seed(seed + i) for i in range(n)]
    completers = [EventCompleter(config) for _ in range(n)]
    events: list[list[tuple[str, ...]]] = [[c.event(BOS)] for c in completers]
    rules = [TuneConstraint(config, tok_vocab, dur_vocab) for _ in range(n)] if constrain else []
    masks = BatchMasks(tok_vocab, dur_vocab) if constrain else None
    done = [False] * n
    active = list(range(n))  # unfinished tunes, in the decoder's row order
    decoder = StepDecoder(model, n, length, cache)
    new = [_ids(events[b][0], index) for b in active]  # (B, F) the events to feed next
    for t in range(1, length):
        tok_logits, dur_logits = decoder(torch.tensor(new, device=device))  # (B, V) each
        slot = slots[t - 1] if t - 1 < len(slots) else None
        allowed = slot_allowed[slot] if slot else body_allowed
        live = [rules[b] for b in active] if rules else []
        tok_allowed, dur_allowed = _allowed(live, masks, slot, allowed, note_durations)
        tok_probs = _restrict(tok_logits, tok_allowed, temperature, top_k)
        dur_probs = _restrict(dur_logits, dur_allowed, temperature, top_k)
        new = []
        for row, b in enumerate(active):
            if slot and slot in fixed:
                k = tok_vocab.index(fixed[slot])
            else:
                k = int(torch.multinomial(tok_probs[row], 1, generator=gens[b]))
            token, duration = tok_vocab[k], NONE
            if notes[k] and with_rhythm:
                duration = dur_vocab[int(torch.multinomial(dur_probs[row], 1,
                                                           generator=gens[b]))]
            ev = completers[b].event(token, duration)
            events[b].append(ev)
            new.append(_ids(ev, index))
            done[b] = token == EOS
            if rules and slot:
                rules[b].header(token)
            elif rules:
                rules[b].step(token, duration)
        if any(done[b] for b in active):
            rows = [row for row, b in enumerate(active) if not done[b]]
            if not rows:
                break
            active = [active[row] for row in rows]
            new = [new[row] for row in rows]
            decoder.keep(torch.tensor(rows))
    for b, rule in enumerate(rules):  # a tune cut at max_events: close its last section
        if not done[b]:
            drop, bar = rule.closing(events[b][-1][0])
            if drop:
                events[b].pop()
            events[b] += [completers[b].event(tok) for tok in [bar, EOS] if tok]
    return events


def _allowed(rules: list[TuneConstraint], masks: BatchMasks | None, slot: str | None,
             allowed: Tensor, note_durations: Tensor) -> tuple[Tensor, Tensor]:
    """Allowed token (B, V_token) and duration (B, V_duration) ids of the unfinished tunes
    at this step: the slot's or body's tokens, narrowed per tune by its constraint when
    sampling is constrained (``rules`` empty: unconstrained, rows broadcast)."""
    tok_allowed, dur_allowed = allowed.unsqueeze(0), note_durations.unsqueeze(0)
    if rules and slot == "meter":
        tok_allowed = torch.stack([r.meter_tokens(allowed) for r in rules])
    elif rules and not slot and masks is not None:
        tok_allowed = masks.tokens(rules, allowed)
        dur_allowed = masks.durations(rules, note_durations)
    return tok_allowed, dur_allowed


def sample(model: MelodyLM, vocab: dict[str, list[str]], header_tokens: Sequence[str] = (),
           max_events: int = 256, temperature: float = 1.0, top_k: int = 0, seed: int = 0,
           tokenizer_config: TokenizerConfig | None = None, constrain: bool = True
           ) -> list[tuple[str, ...]]:
    """Sample one tune as event tuples.

    Args:
        model: The language model.
        vocab: Its event vocabulary per field.
        header_tokens: Header tokens to impose, e.g. ``["type:reel", "meter:4/4"]``;
            the other header slots are sampled (each from its own tokens).
        max_events: Stop after this many events (at most the model's ``max_len``).
        temperature: Softmax temperature; 0 takes the most likely event.
        top_k: Sample among the k most likely tokens only (0: all).
        seed: Seed of the sampling generator (the same seed gives the same tune).
        tokenizer_config: The tokenizer configuration the model was trained with.
        constrain: Keep repeats paired and bars full
            (:class:`~folkclip.generate.constraints.TuneConstraint`); ``False`` samples
            the model's raw distribution.

    Returns:
        ``<bos>``, the header events, then body events ending in ``<eos>`` or cut at
        ``max_events`` events (when constrained, then closed by a bar line and ``<eos>``).

    Raises:
        FolkclipError: For a header token the model does not know or that names no slot.
    """
    return sample_batch(model, vocab, 1, header_tokens, max_events, temperature, top_k, seed,
                        tokenizer_config, constrain)[0]


def _fixed_header(header_tokens: Sequence[str], slots: list[str],
                  tok_vocab: list[str]) -> dict[str, str]:
    known = set(tok_vocab)
    fixed = {}
    for token in header_tokens:
        if token == BOS:
            continue
        slot = token.split(":", 1)[0]
        if slot not in slots or ":" not in token:
            raise FolkclipError(f"header token {token!r} names no header slot of this model "
                                f"(slots: {', '.join(slots)})")
        if token not in known:
            choices = sorted(t for t in tok_vocab if t.startswith(slot + ":"))
            raise FolkclipError(f"the model has never seen {token!r}; known: "
                                f"{', '.join(choices) or 'none'}")
        fixed[slot] = token
    return fixed


def _positive(text: str) -> bool:
    try:
        return Fraction(text) > 0
    except (ValueError, ZeroDivisionError):
        return False


def _ids(ev: tuple[str, ...], index: list[dict[str, int]]) -> list[int]:
    """The ids of an event's fields (unknown values: ``<unk>``, 1)."""
    return [ids.get(v, 1) for ids, v in zip(index, ev)]


def to_tunebook(tunes: Sequence[Sequence[tuple[str, ...]]],
                config: TokenizerConfig | None = None, title: str = "Generated tune") -> str:
    """Sampled tunes as one ABC tunebook (``X:`` 1..N, ``T:``, ``R:``, ``M:``, ``L:``, ``K:``)."""
    return "\n".join(decode(list(ev), config, number=i + 1, title=f"{title} {i + 1}")
                     for i, ev in enumerate(tunes))
