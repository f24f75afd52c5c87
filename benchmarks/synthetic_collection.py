"""A large, valid ABC collection made deterministically from a real one, for benchmarks.

Every tune of the base collection (``default``: 4,246 tunes) is written in up to
:data:`VARIANTS` versions: its notes moved by a diatonic step (``-3`` to ``+3`` scale
steps within the key signature, so the melody's intervals change) and by whole octaves
(``0, +1, -1, -2``); accidentals, chord symbols, decorations, comments and fields are
kept as written. Version 0 is the tune as it is; the others get their version number
after the title (``The Blackbird 7``, before a ``-- Reel`` type suffix), so that no two
tunes share a title by accident.

    python benchmarks/synthetic_collection.py OUT_DIR --tunes 100000 [--seed 0] [--source default]

writes ``OUT_DIR/part-0000.abc`` ... (:data:`TUNES_PER_FILE` tunes each), a folder that
``folkclip index`` reads as one source.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

SHIFTS = (0, 1, -1, 2, -2, 3, -3)  # diatonic steps
OCTAVES = (0, 1, -1, -2)
VARIANTS = tuple((s, o) for o in OCTAVES for s in SHIFTS)  # version 0 is (0, 0)
TUNES_PER_FILE = 1000
LETTERS = "CDEFGAB"
# What a body line holds that is not a note to move: chord symbols and annotations,
# decorations, inline fields, comments; then a note (accidentals, letter, octave marks).
_TOKEN = re.compile(r'(?P<skip>"[^"]*"|![^!\n]*!|\+[^+\n]*\+|\[[A-Za-z]:[^\]\n]*\]|%.*)'
                    r"|(?P<note>[A-Ga-g])(?P<octave>[,']*)")
_FIELD_LINE = re.compile(r"^[A-Za-z+]:")


def move_note(letter: str, octave_marks: str, steps: int) -> str:
    """One note letter with its octave marks moved by ``steps`` diatonic steps.

    >>> move_note("B", "", 1), move_note("b", "", 1), move_note("C", ",", -1)
    ('c', "c'", 'B,,')
    """
    octave = (1 if letter.islower() else 0) + octave_marks.count("'") - octave_marks.count(",")
    n = 7 * octave + LETTERS.index(letter.upper()) + steps
    octave, degree = divmod(n, 7)
    name = LETTERS[degree]
    if octave >= 1:
        return name.lower() + "'" * (octave - 1)
    return name + "," * (-octave)


def move_body(body: str, steps: int) -> str:
    """An ABC tune body with every note moved by ``steps`` diatonic steps."""
    if steps == 0:
        return body
    out = []
    for line in body.split("\n"):
        if _FIELD_LINE.match(line):
            out.append(line)
            continue
        out.append(_TOKEN.sub(lambda m: m.group(0) if m.group("skip") is not None
                              else move_note(m.group("note"), m.group("octave"), steps), line))
    return "\n".join(out)


def variant(abc: str, number: int, version: int) -> str:
    """Version ``version`` of one tune's ABC text, numbered ``X: number``."""
    steps, octaves = VARIANTS[version]
    lines = abc.strip("\n").split("\n")
    k = next((i for i, line in enumerate(lines) if line.startswith("K:")), len(lines) - 1)
    head = []
    for line in lines[:k + 1]:
        if line.startswith("X:"):
            line = f"X: {number}"
        elif line.startswith("T:") and version:
            title, dash, kind = line.rstrip().partition(" -- ")  # keep a type suffix last
            line = f"{title} {version}{dash}{kind}"
        head.append(line)
    return "\n".join(head + [move_body("\n".join(lines[k + 1:]), steps + 7 * octaves)])


def write_collection(out_dir: str | Path, n_tunes: int, seed: int = 0,
                     source: str = "default") -> list[Path]:
    """Write ``n_tunes`` tunes made from ``source`` into ``out_dir``.

    Which (tune, version) pairs are written, and in which order, is drawn with ``seed``;
    the same arguments always write the same bytes.

    Args:
        out_dir: Folder to write ``part-NNNN.abc`` files into (made if missing).
        n_tunes: Tunes to write (at most ``len(VARIANTS)`` times the source's tunes).
        seed: Seed of the draw.
        source: The base collection, a source name or path as ``folkclip data`` takes.

    Returns:
        The files written.
    """
    from folkclip.io.sources import read_sources

    base = [t.abc for t in read_sources([source]).tunes if t.abc.strip()]
    if not 0 < n_tunes <= len(base) * len(VARIANTS):
        raise ValueError(f"n_tunes must be 1 to {len(base) * len(VARIANTS)} for {source!r}")
    rng = np.random.default_rng(seed)
    versions = rng.permutation(len(VARIANTS) - 1)[: -(-n_tunes // len(base))] + 1
    versions = np.concatenate([[0], versions])  # every tune as it is first
    picks = [(t, int(v)) for v in versions for t in rng.permutation(len(base))][:n_tunes]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for f, start in enumerate(range(0, n_tunes, TUNES_PER_FILE)):
        chunk = picks[start:start + TUNES_PER_FILE]
        text = "\n\n".join(variant(base[t], start + i + 1, v) for i, (t, v) in enumerate(chunk))
        path = out / f"part-{f:04d}.abc"
        path.write_text(text + "\n")
        files.append(path)
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out_dir")
    p.add_argument("--tunes", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--source", default="default")
    args = p.parse_args(argv)
    files = write_collection(args.out_dir, args.tunes, args.seed, args.source)
    print(f"{args.tunes} tunes in {len(files)} files in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
