"""Tokens back to ABC: :func:`decode` writes a valid, self-contained ABC tune.

Pitches are spelled against the key signature (sharps in sharp keys, flats in flat
keys) with accidentals written only where the key and the bar's earlier accidentals
do not already give the right note; durations are written as multiples of the unit
length; a transposition applied by the tokenizer is undone using the ``key:`` token.
"""

from __future__ import annotations

from fractions import Fraction

from folkclip.abc.fields import LETTER_PC, WHOLE, beat_length, parse_key
from folkclip.errors import FolkclipError
from folkclip.data.tokenize import (
    BAR_TOKENS,
    BOS,
    EOS,
    NONE,
    PITCH_NAMES,
    TokenizerConfig,
    meter_from_token,
    read_header,
    transpose_shift,
)

_ORNAMENT_ABC = {"roll": "~", "trill": "T", "mordent": "M", "staccato": ".", "fermata": "H",
                 "accent": "L", "upbow": "u", "downbow": "v", "slide": "J", "turn": "!turn!",
                 "tenuto": "!tenuto!"}
_LETTERS = "CDEFGAB"
_ACC_TEXT = {-2: "__", -1: "_", 0: "=", 1: "^", 2: "^^"}


_TUPLET_Q = {3: 2, 5: 4, 7: 4, 9: 8}


def _note_length(ticks: int, unit: int) -> tuple[str, str]:
    """(tuplet prefix, length text) for a note of ``ticks``.

    A length whose denominator has an odd factor (a triplet's 2/3) is written as a
    one-note tuplet ``(3:2:1`` with a power-of-two length, which abc2midi also accepts.
    """
    f = Fraction(ticks, unit)
    odd = f.denominator
    while odd % 2 == 0:
        odd //= 2
    if odd in _TUPLET_Q:
        q = _TUPLET_Q[odd]
        return f"({odd}:{q}:1", _length_text(f * odd / q)
    return "", _length_text(f)


def _length_text(f: Fraction) -> str:
    if f == 1:
        return ""
    if f.denominator == 1:
        return str(f.numerator)
    return (str(f.numerator) if f.numerator != 1 else "") + "/" + str(f.denominator)


class _Speller:
    """Spells MIDI pitches in ABC given a key signature and the bar's accidentals."""

    def __init__(self, accidentals: dict[str, int]) -> None:
        self.key = accidentals
        self.flat_key = any(a < 0 for a in accidentals.values())
        self.bar: dict[str, int] = {}  # accidentals so far in the bar, per letter (all octaves)

    def spell(self, midi: int, record: bool = True) -> str:
        pc = midi % 12
        options = []  # (letter, alter) that give pc
        for letter in _LETTERS:
            alter = (pc - LETTER_PC[letter] + 6) % 12 - 6
            if -1 <= alter <= 1:
                options.append((letter, alter))
        # Prefer the key signature's spelling, then naturals, then the key's accidental kind.
        def rank(opt: tuple[str, int]) -> tuple[int, int]:
            letter, alter = opt
            in_key = self.key.get(letter, 0) == alter
            kind = 0 if alter == 0 else (1 if (alter < 0) == self.flat_key else 2)
            return (0 if in_key else 1, kind)
        letter, alter = min(options, key=rank)
        octave = (midi - alter) // 12  # octave of the letter itself (B#, Cb cross octaves)
        current = self.bar.get(letter, self.key.get(letter, 0))
        acc = ""
        if current != alter:
            acc = _ACC_TEXT[alter]
            if record:
                self.bar[letter] = alter
        if octave >= 6:
            text = letter.lower() + "'" * (octave - 6)
        else:
            text = letter + "," * (5 - octave)
        return acc + text


def decode(events: list[tuple[str, ...]], config: TokenizerConfig | None = None, *,
           number: int = 1, title: str = "") -> str:
    """Write a token sequence (as produced by :class:`~folkclip.data.tokenize.Tokenizer`) as ABC.

    Args:
        events: Event tuples; unknown or special tokens are skipped.
        config: The tokenizer configuration the tokens were made with.
        number: The ``X:`` number.
        title: The ``T:`` title (``"x"`` when empty, the challenge data's "untitled").

    Raises:
        FolkclipError: For tokens that carry no pitch (made with the ``pitch`` switch).

    One pass over the events on purpose: the key, meter, bar accidentals and line breaks
    are state that each event both reads and changes.
    """
    config = config or TokenizerConfig()
    head, body_start = read_header(events)
    key = parse_key(f"{head['key']} {head['mode']}")
    shift = transpose_shift(key) if config.transpose else 0
    beat = beat_length(meter_from_token(head["meter"]))
    unit = int(WHOLE * Fraction(head["unit"]))
    lines = [f"X:{number}", f"T:{title or 'x'}"]
    if head["type"] and head["type"] != "unknown":
        lines.append(f"R:{head['type']}")
    lines += [f"M:{head['meter'] or 'none'}", f"L:{head['unit']}", f"K:{key.tonic} {key.mode}"]
    speller = _Speller(key.accidentals)
    out: list[str] = []
    bars_on_line = 0
    pending_key: tuple[str, str] | None = None
    no_barlines = "barlines" in config.remove
    first_note = True
    for ev in events[body_start:]:
        tok = ev[0]
        if tok in (BOS, EOS) or tok.startswith(("<", "type:", "unit:")):
            continue
        if tok.startswith(("key:", "mode:")):
            tonic, mode = pending_key or (key.tonic, key.mode)
            pending_key = (tok[4:], mode) if tok.startswith("key:") else (tonic, tok[5:])
            continue
        if pending_key is not None:
            key = parse_key(" ".join(pending_key))
            speller = _Speller(key.accidentals)
            out.append(f"[K:{key.tonic} {key.mode}]")
            pending_key = None
        if tok in BAR_TOKENS:
            out.append(tok if tok != "::" else ":|:")
            speller.bar = {}
            bars_on_line += 1
            if bars_on_line == 4:
                out.append("\n")
                bars_on_line = 0
            continue
        if tok.startswith("[") and tok[1:2].isdigit():
            out.append(tok)
            continue
        if tok.startswith("meter:"):
            beat = beat_length(meter_from_token(tok[6:]))
            out.append(f"[M:{tok[6:]}]")
            continue
        if tok != "rest" and not (tok.startswith("p") and tok[1:].isdigit()):
            if tok in ("up", "down", "same", "start"):
                raise FolkclipError("cannot decode contour tokens (made with the 'pitch' "
                                    "switch) back to notes")
            continue
        ticks = int(Fraction(ev[1]) * beat) if ev[1] != NONE else unit
        text = ""
        if no_barlines and ev[2] == "0" and not first_note:
            out.append("|")  # bar lines were removed: restore them from the positions
            speller.bar = {}
        first_note = False
        out.append(text + _note(ev, max(ticks, 1), unit, shift, speller))
    if pending_key is not None:
        out.append(f"[K:{' '.join(pending_key)}]")
    body = "".join(out).strip()
    if body and not body.endswith(("|", "|]", ":|")):
        body += "|]"
    return "\n".join(lines + [line.strip() for line in body.split("\n") if line.strip()]) + "\n"


def _note(ev: tuple[str, ...], ticks: int, unit: int, shift: int, speller: _Speller) -> str:
    """One note or rest event as ABC: tuplet prefix, chord symbol, ornament, pitch spelled
    in the current key (transposed back by ``shift``), length and tie."""
    tok, orn = ev[0], ev[7]
    prefix, length = _note_length(ticks, unit)
    text = prefix
    if ev[8] != NONE and ev[8] != "other":
        text += f'"{_transpose_chord(ev[8], -shift)}"'
    text += _ORNAMENT_ABC.get(orn, "")
    if tok == "rest":
        return text + "z" + length
    midi = int(tok[1:]) - shift
    if orn == "grace":  # pitch unknown: the upper neighbour, its accidental not kept
        text += "{" + speller.spell(midi + 2, record=False) + "}"
    return text + speller.spell(midi) + length + ("-" if ev[6] == "tie" else "")


def _transpose_chord(name: str, shift: int) -> str:
    root = name[:2] if name[1:2] in ("#", "b") else name[:1]
    return PITCH_NAMES[(PITCH_NAMES.index(root) + shift) % 12] + name[len(root):]
