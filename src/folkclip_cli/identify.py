"""``folkclip identify INDEX QUERY [-k 5] [--json] [--title-model RUN]``: name the tune a
few bars come from.

QUERY is an ABC file (a tune, or a few bars without a header), a MIDI file, an audio
recording (``.wav``, ``.flac``, ``.ogg``, ``.mp3``), or ``-`` for ABC on standard input.
When no known tune matches, the answer is the model's suggested existing titles and, when
the index carries a title model (``folkclip index ... --title-model``) or ``--title-model``
names one, names written by it (kind ``generated``), each marked novel or existing.
``--json`` prints ``{"results": [...]}``, each result as
:meth:`folkclip.identify.Identification.to_json` gives it (its ``kind`` says which it is).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from folkclip.errors import FolkclipError

MAX_K = 50


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("index", help="an index folder written by `folkclip index`")
    p.add_argument("query", help="ABC, MIDI or audio file of the query ('-': ABC on stdin)")
    p.add_argument("-k", type=int, default=5, help=f"number of results (1-{MAX_K})")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--title-model", default=None, metavar="RUN",
                   help="a title-model run (task title_lm) that writes names when no known "
                        "tune matches (default: the index's own, if it carries one)")


def main_from_args(args: argparse.Namespace) -> int:
    from folkclip.identify import Identifier, read_abc_query, read_query
    from folkclip.identify.limits import MAX_QUERY_BYTES

    if not 1 <= args.k <= MAX_K:
        raise FolkclipError(f"-k must be between 1 and {MAX_K}")
    if args.query == "-":
        notes = read_abc_query(sys.stdin.read(MAX_QUERY_BYTES + 1), "<stdin>")
    else:
        if not Path(args.query).is_file():
            raise FolkclipError(f"query file {args.query!r} not found")
        notes = read_query(Path(args.query), args.query)
    title_model = None
    if args.title_model is not None:
        from folkclip.models.title_lm import load_title_lm

        title_model = load_title_lm(args.title_model)
    ident = Identifier.open(args.index, title_model=title_model)
    results = ident.identify(notes, args.k)
    if args.json:
        print(json.dumps({"results": [r.to_json() for r in results]}, indent=1))
        return 0
    if not results or results[0].kind != "identified":
        _print_fallback(results, ident.writes_names)
        return 0
    for r, t in enumerate(results, 1):
        bars = f"bars {t.bars[0]}-{t.bars[1]}" if t.bars else ""
        print(f"{r:>3}. {t.title or '(untitled)'}  [{bars}, score {t.score:.2f}, confidence "
              f"{t.confidence:.2f}]  id {t.tune_id}")
        others = [x for x in t.titles if x != t.title]
        if others:
            print(f"     also known as: {'; '.join(others)}")
    return 0


def _print_fallback(results: list, writes_names: bool) -> None:
    """The "no known tune" answer: suggested existing titles, then generated names."""
    print("no known tune matches the query; the model's title suggestions (names that "
          "fit the melody, not identifications):")
    for r, s in enumerate([x for x in results if x.kind == "suggestion"], 1):
        print(f"{r:>3}. {s.score:+.3f}  {s.title}")
    names = [x for x in results if x.kind == "generated"]
    if names:
        print("generated names (written by the title model, not identifications):")
        for r, g in enumerate(names, 1):
            what = "novel" if g.novel else "an existing title"
            print(f"{r:>3}. {g.score:+.3f}  {g.title}  (generated name, {what}, "
                  f"{g.bits:.1f} bits)")
    elif not writes_names:
        print("(no generated names: this index carries no title model; add one with "
              "`folkclip index RUN --data ... --out INDEX --title-model TITLE_RUN`)")
