"""Note-level symbolic tokens for melodies, with switches that remove information.

A tune becomes a sequence of *events*, one per header item, bar line or note/rest.
Each event is a tuple of strings, one per feature in :data:`FIELDS`:

- ``token``: the symbol: ``<bos>``, ``<eos>``, header tokens (``type:reel``,
  ``meter:6/8``, ``mode:dorian``, ``key:G``, ``unit:1/8``), bar tokens (``|``,
  ``||``, ``|]``, ``|:``, ``:|``, ``::``, ``[1``, ``[2`` ...), ``rest`` or a note
  pitch ``p62`` (MIDI; after the ``pitch`` switch a contour ``up``/``down``/``same``).
  ``key:`` tokens name the tonic of the key as written (as a pitch class: C, C#, D, Eb
  ...), so that the transposition can be undone; with ``transpose`` on, pitches are
  moved so the first tonic is C. With ``key`` removed, degrees are measured from C
  (the first tonic after transposition) throughout; with ``meter`` removed, durations
  are measured in quarter notes instead of the meter's beats.
- ``duration``: length in beats (``1/2``, ``3/2``); ``position``: onset inside
  the bar in beats; ``bar``: bar index (capped); ``degree``: semitones above the
  current tonic; ``octave``; ``tie``; ``ornament``; ``chord``: chord symbol.

Fields that do not apply to an event hold ``-``. :class:`TokenizerConfig` is plain
data; ``remove`` lists the information-removal switches (see :data:`SWITCHES`).

A switch removes its element from every field that carries it directly (a value computed
from it), not only its own token. Bar lines, bar indices, in-bar positions and the bar
grouping of events (the bar-patch view) are all computed from the true durations and
the meter, so ``meter``, ``rhythm`` and ``barlines`` each remove all of them: plain bar
lines are dropped, ``bar`` and ``position`` hold ``-``, and events are grouped into
patches of :data:`PSEUDO_BAR_EVENTS` events instead of bars. Repeat signs and endings
stay unless ``repeats`` is removed (they mark sections, not bars). ``meter`` and
``rhythm`` also drop the ``unit:`` header (a note length, whose ABC default follows the
meter). What stays indirectly (e.g. meter from the rhythm of the notes) is measured by
:mod:`folkclip.data.removal_probe`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from fractions import Fraction

from folkclip.abc.fields import WHOLE, Key, beat_length, parse_key
from folkclip.abc.limits import MAX_PITCH, MIN_PITCH
from folkclip.abc.model import Bar, Change, Note, Tune
from folkclip.data.token_text import (
    NONE,
    SMALL,
    beat_fractions,
    frac_into,
    pitch_names,
)
from folkclip.errors import FolkclipError

TOKENIZER_VERSION = 2
"""Version of what the tokenizer makes of a tune: bump it whenever a change can change
the tokens of some tune; the token cache is keyed by it (with the reader's version)."""
FIELDS = ("token", "duration", "position", "bar", "degree", "octave", "tie", "ornament",
          "chord")
BOS, EOS = "<bos>", "<eos>"
MAX_BAR = 63
PSEUDO_BAR_EVENTS = 8  # events per patch group when the bar structure is removed
BAR_TIMING_SWITCHES = frozenset({"meter", "rhythm", "barlines"})  # remove bar structure
SWITCHES = ("key", "mode", "meter", "type", "rhythm", "pitch", "octave", "ornaments",
            "barlines", "chords", "repeats")
BAR_TOKENS = frozenset({"|", "||", "|]", "[|", "|:", ":|", "::"})  # bar-line event tokens
REPEAT_BARS = frozenset({"|:", ":|", "::"})
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# Decorations as written -> canonical ornament name.
ORNAMENTS = {
    "~": "roll", "roll": "roll", "R": "roll", "T": "trill", "trill": "trill", "tr": "trill",
    "M": "mordent", "mordent": "mordent", "lowermordent": "mordent", "P": "mordent",
    "uppermordent": "mordent", "pralltriller": "mordent", "turn": "turn",
    ".": "staccato", "staccato": "staccato", "H": "fermata", "fermata": "fermata",
    "L": "accent", "accent": "accent", ">": "accent", "emphasis": "accent",
    "u": "upbow", "upbow": "upbow", "v": "downbow", "downbow": "downbow",
    "J": "slide", "slide": "slide", "cut": "cut", "tenuto": "tenuto",
}
_CHORD_RE = re.compile(r"^\(?([A-G])([b#♭♯]?)([^/)]*)")
_QUALITIES = ("", "m", "7", "m7", "maj7", "dim", "aug", "sus", "6", "9", "m6")


@dataclass(frozen=True)
class TokenizerConfig:
    """How tunes become tokens.

    Attributes:
        transpose: Transpose every tune so its (first) tonic is C, as in the 2022
            challenge data; the original key is kept as the ``key:`` header token.
        remove: Information-removal switches, a subset of :data:`SWITCHES`.
        first_bars: Keep only the pickup and the first N bars (0 = all).
        max_events: Truncate longer tunes (the ``<eos>`` is kept).
    """

    transpose: bool = True
    remove: tuple[str, ...] = ()
    first_bars: int = 0
    max_events: int = 1024

    def __post_init__(self) -> None:
        for name in ("first_bars", "max_events"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise FolkclipError(f"tokenizer {name} must be an integer, got {value!r}")
        if isinstance(self.remove, str):
            raise FolkclipError(f"tokenizer remove must be a list of switches, got {self.remove!r}")
        unknown = [s for s in self.remove if s not in SWITCHES]
        if unknown:
            raise FolkclipError(f"unknown removal switch(es) {unknown}; choose from {SWITCHES}")
        object.__setattr__(self, "remove", tuple(sorted(set(self.remove))))
        if self.first_bars < 0 or self.max_events < 8:
            raise FolkclipError("first_bars must be >= 0 and max_events >= 8")

    @classmethod
    def from_spec(cls, spec: str, **kwargs: object) -> TokenizerConfig:
        """Build from a compact switch list such as ``"key,rhythm,first_bars=8"``."""
        remove, extra = [], dict(kwargs)
        for part in filter(None, (p.strip() for p in re.split(r"[,+]", spec))):
            if part.startswith("first_bars="):
                value = part.split("=", 1)[1].strip()
                if not re.fullmatch(r"[0-9]{1,6}", value):
                    raise FolkclipError(f"{part!r}: first_bars=N needs a whole number of bars "
                                        f"(0-999999)")
                extra["first_bars"] = int(value)
            else:
                remove.append(part)
        return cls(remove=tuple(remove), **extra)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TokenizerConfig:
        """The inverse of :meth:`to_dict` (as saved in caches, exports and run folders)."""
        return cls(transpose=bool(data["transpose"]), remove=tuple(data["remove"]),
                   first_bars=int(data["first_bars"]), max_events=int(data["max_events"]))


@dataclass
class TokenizedTune:
    """A tune's events plus the bar number of each event (-1 for the header), for the
    bar-patch view."""

    events: list[tuple[str, ...]]
    bars: list[int] = field(default_factory=list)


_PAD = (NONE,) * (len(FIELDS) - 1)  # the fields of an event that is only a token


def chord_name(symbol: str | None, shift: int) -> str:
    """Transpose a chord symbol by ``shift`` semitones and simplify its quality.

    ``chord_name("Em", -7)`` -> ``"Am"``; unreadable symbols give ``"other"``.
    """
    if not symbol:
        return NONE
    m = _CHORD_RE.match(symbol)
    if not m:
        return "other"
    pc = "C D EF G A B".index(m.group(1)) + {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(m.group(2), 0)
    quality = m.group(3).replace("min", "m").replace("maj", "maj").strip()
    quality = quality if quality in _QUALITIES else (
        "m" if quality.startswith("m") and not quality.startswith("maj") else "other")
    return PITCH_NAMES[(pc + shift) % 12] + ("" if quality == "other" else quality)


def transpose_shift(key: Key) -> int:
    """Semitones that bring ``key``'s tonic to C by the smallest move (-5..+6)."""
    return (-key.tonic_pc + 5) % 12 - 5


class Tokenizer:
    """Turns :class:`~folkclip.abc.model.Tune` objects into event tuples.

    Args:
        config: The tokenizer configuration.
    """

    def __init__(self, config: TokenizerConfig | None = None) -> None:
        self.config = config or TokenizerConfig()
        r = set(self.config.remove)
        self._rm = r
        self._keep_bar = not ({"barlines", "repeats"} <= r)
        self._no_bars = bool(r & BAR_TIMING_SWITCHES)  # bar lines, indices, positions
        # Per (bar-line kind, ending): its event tuples (they depend on the switches only).
        self._bar_events: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {}

    # ---------------------------------------------------------------- header
    def header(self, tune: Tune) -> list[tuple[str, ...]]:
        """Header events (``<bos>`` first) for the tune, after removal switches."""
        r = self._rm
        rows = [BOS]
        if "type" not in r:
            rows.append(f"type:{tune.tune_type}")
        if "meter" not in r:
            rows.append("meter:" + ("none" if tune.meter is None else "%d/%d" % tune.meter))
        if "mode" not in r:
            rows.append(f"mode:{tune.key.mode}")
        if "key" not in r:
            rows.append(f"key:{PITCH_NAMES[tune.key.tonic_pc]}")
        if not r & {"meter", "rhythm"}:  # a note length; its default follows the meter
            rows.append(f"unit:{Fraction(tune.unit, WHOLE)}")
        return [(t,) + _PAD for t in rows]

    # ------------------------------------------------------------------ body
    def tokenize(self, tune: Tune) -> TokenizedTune:
        """Tokenize one tune.

        One loop over the events on purpose: it is the tokenizer's hot path, and each
        event reads and updates the bar, position and key state.

        Raises:
            FolkclipError: For a note outside MIDI 0..127 or a meter whose beat is not a
                whole number of ticks (the reader never makes such tunes).
        """
        cfg, r = self.config, self._rm
        shift = transpose_shift(tune.key) if cfg.transpose else 0
        tonic = (tune.key.tonic_pc + shift) % 12
        meter = tune.meter
        no_key = "key" in r
        if no_key and not cfg.transpose:
            tonic = 0  # degrees from C: the hidden key must not leak through them
        beat = beat_length(meter if "meter" not in r else None)  # None: quarter notes
        fracs = beat_fractions(beat)
        events = self.header(tune)
        bars = [-1] * len(events)  # header events belong to no bar
        append, bars_append = events.append, bars.append
        no_rhythm, no_pitch, no_octave = "rhythm" in r, "pitch" in r, "octave" in r
        no_orn, no_chords, no_meter = "ornaments" in r, "chords" in r, "meter" in r
        names = pitch_names(tonic, no_octave)
        no_bar_idx = self._no_bars
        bar_events = self._bar_events
        first_bars = cfg.first_bars
        limit = first_bars + (1 if _has_pickup(tune) else 0) if first_bars else 1 << 30
        prev_pitch: int | None = None
        for ev in tune.events:
            kind = type(ev)
            if kind is Note:
                bar_no = ev.bar
                if bar_no >= limit:
                    break
                pitch = ev.pitch
                if pitch is None:
                    token = "rest"
                    degree = octave = NONE
                else:
                    if not MIN_PITCH <= pitch <= MAX_PITCH:
                        raise FolkclipError(f"{tune.ref}: pitch {pitch} outside MIDI "
                                            f"{MIN_PITCH}..{MAX_PITCH}")
                    pitch += shift
                    if no_pitch:
                        token = ("start" if prev_pitch is None else "up" if pitch > prev_pitch
                                 else "down" if pitch < prev_pitch else "same")
                        degree = octave = NONE
                    else:
                        token, degree, octave = names[pitch]
                    prev_pitch = pitch
                if no_rhythm:
                    duration = position = "1"
                    tie = NONE
                else:
                    ticks = ev.duration
                    duration = fracs.get(ticks)
                    if duration is None:
                        duration = frac_into(fracs, ticks, beat)
                    if no_bar_idx:
                        position = NONE
                    else:
                        ticks = ev.onset
                        position = fracs.get(ticks)
                        if position is None:
                            position = frac_into(fracs, ticks, beat)
                    tie = "tie" if ev.tie else NONE
                orn = NONE
                if not no_orn:
                    decorations = ev.decorations
                    if decorations:
                        for d in decorations:
                            orn = ORNAMENTS.get(d, orn)
                            if orn != NONE:
                                break
                    if orn == NONE and ev.grace:
                        orn = "grace"
                symbol = ev.chord_symbol
                chord = chord_name(symbol, shift) if symbol and not no_chords else NONE
                bar = NONE if no_bar_idx else SMALL[bar_no if bar_no < MAX_BAR else MAX_BAR]
                append((token, duration, position, bar, degree, octave, tie, orn, chord))
                bars_append(bar_no)
            elif kind is Bar:
                index = ev.index
                if index + 1 > limit:
                    break
                # At the limit the ending opens a dropped bar.
                ending = "" if index + 1 == limit else ev.ending
                rows = bar_events.get((ev.kind, ending))
                if rows is None:
                    rows = bar_events[(ev.kind, ending)] = tuple(
                        (token,) + _PAD for token in self._bar_tokens(Bar(ev.kind, ending)))
                for row in rows:
                    append(row)
                    bars_append(index)
            elif kind is Change:
                for token in self._change_tokens(ev):
                    append((token,) + _PAD)
                    bars_append(max(bars[-1], 0))
                if ev.field == "K" and not no_key:
                    tonic = (ev.value.tonic_pc + shift) % 12  # type: ignore[union-attr]
                    names = pitch_names(tonic, no_octave)
                elif ev.field == "M" and not no_meter:
                    meter = ev.value  # type: ignore[assignment]
                    beat = beat_length(meter)
                    fracs = beat_fractions(beat)
        if len(events) >= cfg.max_events:
            events, bars = events[: cfg.max_events - 1], bars[: cfg.max_events - 1]
        events.append((EOS,) + _PAD)
        bars.append(bars[-1])
        if no_bar_idx:  # group events by count, not by the (removed) bars
            n_head = next((k for k, b in enumerate(bars) if b >= 0), len(bars))
            bars = bars[:n_head] + [k // PSEUDO_BAR_EVENTS for k in range(len(bars) - n_head)]
        return TokenizedTune(events, bars)

    def _bar_tokens(self, bar: Bar) -> list[str]:
        r = self._rm
        kind = bar.kind
        out = []
        if kind in REPEAT_BARS:
            if "repeats" not in r:
                out.append(kind)
            elif not self._no_bars:
                out.append("|")
        elif not self._no_bars:
            out.append(kind)
        if bar.ending and "repeats" not in r:
            out.append("[" + bar.ending)
        return out

    def _change_tokens(self, ch: Change) -> list[str]:
        r = self._rm
        if ch.field == "K":
            key: Key = ch.value  # type: ignore[assignment]
            out = [] if "key" in r else [f"key:{PITCH_NAMES[key.tonic_pc]}"]  # as written
            return out + ([] if "mode" in r else [f"mode:{key.mode}"])
        if ch.field == "M" and "meter" not in r:
            return ["meter:" + ("none" if ch.value is None else "%d/%d" % ch.value)]  # type: ignore[str-format]
        return []


def _has_pickup(tune: Tune) -> bool:
    """True when bar 0 is shorter than a full bar (an anacrusis)."""
    if tune.meter is None:
        return False
    full = WHOLE * tune.meter[0] // tune.meter[1]
    total = sum(e.duration for e in tune.events if type(e) is Note and e.bar == 0)
    return 0 < total < full


HEADER_DEFAULTS = {"type": "", "meter": "", "mode": "major", "key": "C", "unit": "1/8"}


def read_header(events: list[tuple[str, ...]]) -> tuple[dict[str, str], int]:
    """The header slots of a token sequence and where its body starts.

    Returns:
        ``{type, meter, mode, key, unit}`` as written in the tokens (defaults for slots
        that are absent) and the index of the first body event; the ``unit:`` token is the
        header's last, so later ``key:``/``meter:`` tokens are changes.
    """
    head, start = dict(HEADER_DEFAULTS), 0
    for i, ev in enumerate(events):
        tok = ev[0]
        if tok == BOS:
            continue
        name, _, value = tok.partition(":")
        if name not in head or not value or tok in BAR_TOKENS:
            break
        head[name], start = value, i + 1
        if name == "unit":
            break
    return head, start


def meter_from_token(value: str) -> tuple[int, int] | None:
    """``"6/8"`` -> (6, 8); ``"none"`` or empty -> ``None`` (the value of a ``meter:`` token)."""
    if value in ("", "none"):
        return None
    num, den = value.split("/")
    return int(num), int(den)


def key_from_tokens(events: list[tuple[str, ...]]) -> Key:
    """Rebuild the (transposed) key of a token sequence: tonic from ``key:`` (C if absent)."""
    head, _ = read_header(events)
    return parse_key(f"{head['key']} {head['mode']}")
