"""``folkclip identify INDEX QUERY [-k 5] [--json]``: name the tune a few bars come from.

QUERY is an ABC file (a tune, or a few bars without a header), a MIDI file, an audio
recording (``.wav``, ``.flac``, ``.ogg``, ``.mp3``), or ``-`` for ABC on standard input.
``--json`` prints ``{"results": [...]}``, each result as
:meth:`folkclip.identify.Identification.to_json` gives it.
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
    results = Identifier.open(args.index).identify(notes, args.k)
    if args.json:
        print(json.dumps({"results": [r.to_json() for r in results]}, indent=1))
        return 0
    if not results or results[0].kind == "suggestion":
        print("no known tune matches the query; the model's title suggestions (names that "
              "fit the melody, not identifications):")
        for r, s in enumerate(results, 1):
            print(f"{r:>3}. {s.score:+.3f}  {s.title}")
        return 0
    for r, t in enumerate(results, 1):
        bars = f"bars {t.bars[0]}-{t.bars[1]}" if t.bars else ""
        print(f"{r:>3}. {t.title or '(untitled)'}  [{bars}, score {t.score:.2f}, confidence "
              f"{t.confidence:.2f}]  id {t.tune_id}")
        others = [x for x in t.titles if x != t.title]
        if others:
            print(f"     also known as: {'; '.join(others)}")
    return 0
