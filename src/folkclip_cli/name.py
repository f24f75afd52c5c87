"""``folkclip name``: names for a tune, written by the conditional title model.

    folkclip name RUN_OR_INDEX TUNE.abc [-n 10] [--json] [--title-model RUN]
                  [--rank RUN_OR_INDEX] [--seed 0] [--temperature 0.8] [--top-p 0.9]

RUN_OR_INDEX is a title-model run (``task: title_lm``), a two-tower run or a tune index.
The title model is ``--title-model`` or RUN_OR_INDEX when it is one; the two-tower model
that ranks the names is ``--rank`` or RUN_OR_INDEX when it is a two-tower run or an index
(without one the names come most probable first). Each name is marked *novel* or
*existing* (a title of the collection the title model learnt from). ``TUNE.abc`` may be
``-`` for standard input; its first tune is named.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from folkclip.errors import FolkclipError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_or_index", help="a title-model run, a two-tower run or a tune index")
    p.add_argument("abc_file", help="ABC file of one tune ('-' for standard input)")
    p.add_argument("-n", type=int, default=10, help="names wanted (default 10)")
    p.add_argument("--json", action="store_true", help="print the names as JSON")
    p.add_argument("--title-model", default=None, help="the title-model run (task title_lm)")
    p.add_argument("--rank", default=None, help="a two-tower run or index that ranks the names")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--temperature", type=float, default=0.8, help="softmax temperature")
    p.add_argument("--top-p", type=float, default=0.9, help="nucleus mass (0-1]")


def _two_tower(path: str) -> object | None:
    """The two-tower model of a run folder or index folder, or None when it is neither."""
    from folkclip.index import store

    p = Path(path)
    if (p / "model" / "model.json").exists() or (p / "model.json").exists():
        from folkclip.export import load

        return load(p)
    if p.is_dir() and store.read_manifest(p) is not None:
        from folkclip.index import TuneIndex

        return TuneIndex.load(p).model
    return None


def read_tune(path: str) -> object:
    """The first tune of an ABC file (``-``: standard input), read as a query is.

    Raises:
        FolkclipError: For a missing file or ABC with no readable tune (with the reader's
            problems).
    """
    from folkclip.abc.parser import parse_tunebook
    from folkclip.errors import Problem
    from folkclip.index.query import MAX_QUERY_CHARS, AbcQueryError
    from folkclip_cli.abc_text import read_abc_text

    abc = read_abc_text(path)
    if len(abc) > MAX_QUERY_CHARS:
        raise AbcQueryError(f"the tune holds {len(abc)} characters, more than the "
                            f"{MAX_QUERY_CHARS} one tune may have", [Problem(path, "-", 0, "too long")])
    tunes, problems = parse_tunebook(abc, path)
    if not tunes:
        raise AbcQueryError(f"{path}: no tune could be read", problems)
    return tunes[0]


def main_from_args(args: argparse.Namespace) -> int:
    from folkclip.generate.names import generate_names
    from folkclip.models.title_lm import load_title_lm, title_lm_dir

    source = args.title_model or (args.run_or_index if title_lm_dir(args.run_or_index)
                                  else None)
    if source is None:
        raise FolkclipError(f"{args.run_or_index} holds no title model; give --title-model RUN "
                            "(a run of task title_lm)")
    title_model = load_title_lm(source)
    ranker_path = args.rank or (None if source == args.run_or_index else args.run_or_index)
    ranker = _two_tower(ranker_path) if ranker_path else None
    if args.rank and ranker is None:
        raise FolkclipError(f"--rank {args.rank}: not a two-tower run or a tune index")
    tune = read_tune(args.abc_file)
    names = generate_names(title_model, tune, args.n, args.seed, args.temperature, args.top_p,
                           two_tower=ranker)
    if args.json:
        print(json.dumps([g.to_dict() for g in names], indent=1))
        return 0
    for r, g in enumerate(names, 1):
        score = f"  score {g.score:+.3f}" if g.score is not None else ""
        print(f"{r:>3}. {g.title}  ({'novel' if g.novel else 'existing title'}, "
              f"{g.bits:.1f} bits{score})")
    return 0
