"""``folkclip index|search|suggest|similar``: build and query a tune index.

    folkclip index RUN --data SOURCE ... --out INDEX [--devices N] [--kind auto|flat|hnsw]
                   [--title-model TITLE_RUN]
    folkclip search INDEX "the blackbird" [-k 10] [--json]
    folkclip suggest INDEX tune.abc [-k 10] [--title T ...] [--json]
    folkclip similar INDEX tune.abc | --id ID [-k 10] [--mode combined|embedding|tfidf]
                     [--no-align] [--json]

``--title-model`` copies a trained title model (``task: title_lm``) into the index
(:mod:`folkclip.index.title_model`), so that ``folkclip identify`` and ``folkclip serve``
show names it writes beside the suggested titles; given again on a finished index, it
adds or replaces the title model without rebuilding anything else.
``tune.abc`` may be ``-`` for standard input. With ``--devices N`` (N > 1) the tune
vectors are computed by N processes through Lightning's predict loop
(:mod:`folkclip_cli.index.build`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from folkclip.errors import FolkclipError
from folkclip_cli.abc_text import read_abc_text

MAX_K = 1000


def add_index_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a trained run folder (or its model/ folder)")
    p.add_argument("--data", nargs="+", required=True, help="sources to index")
    p.add_argument("--out", required=True, help="index folder (a stopped build resumes)")
    p.add_argument("--batch-size", type=int, default=64,
                   help="tunes per forward pass (64: the fastest measured on CPUs)")
    p.add_argument("--chunk-size", type=int, default=4096, help="tunes per resumable part")
    p.add_argument("--devices", type=int, default=1, help="processes for the tune vectors")
    p.add_argument("--jobs", type=int, default=None,
                   help="processes reading the sources (default: one per processor)")
    p.add_argument("--accelerator", default="cpu")
    p.add_argument("--kind", choices=("auto", "flat", "hnsw", "numpy"), default="auto")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.add_argument("--title-model", default=None, metavar="TITLE_RUN",
                   help="a title-model run (task title_lm) to carry in the index: its names "
                        "are shown when no known tune matches")


def _add_query_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("index", help="an index folder written by `folkclip index`")
    p.add_argument("-k", type=int, default=10, help=f"number of results (1-{MAX_K})")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--numpy", action="store_true", help="exact numpy search (no FAISS)")


def add_search_arguments(p: argparse.ArgumentParser) -> None:
    _add_query_common(p)
    p.add_argument("text", help="a title or free text")


def add_suggest_arguments(p: argparse.ArgumentParser) -> None:
    _add_query_common(p)
    p.add_argument("abc_file", help="ABC file of one tune ('-' for standard input)")
    p.add_argument("--title", dest="titles", action="append", default=[],
                   help="a title of your own to rank as well (repeatable)")


def add_similar_arguments(p: argparse.ArgumentParser) -> None:
    _add_query_common(p)
    p.add_argument("abc_file", nargs="?", default=None, help="ABC file ('-': standard input)")
    p.add_argument("--id", dest="tune_id", default=None, help="an indexed tune's id instead")
    p.add_argument("--mode", choices=("combined", "embedding", "tfidf"), default=None)
    p.add_argument("--no-align", dest="align", action="store_false",
                   help="do not re-rank the best tunes by alignment with the query's first "
                        "bars (faster; needed for an index built without identification data)")


def index_from_args(args: argparse.Namespace) -> int:
    from folkclip.index import TuneIndex

    progress = not args.no_progress
    if args.devices > 1 or args.accelerator != "cpu":
        from folkclip_cli.index.build import build_with_lightning

        manifest = build_with_lightning(args.run_dir, args.data, Path(args.out),
                                        devices=args.devices, accelerator=args.accelerator,
                                        batch_size=args.batch_size, progress=progress,
                                        kind=args.kind, chunk_size=args.chunk_size)
        if manifest is None:  # not the first process
            return 0
    else:
        manifest = TuneIndex.build(args.run_dir, args.data, args.out, batch_size=args.batch_size,
                                   progress=progress, kind=args.kind,
                                   chunk_size=args.chunk_size, jobs=args.jobs).manifest
    if args.title_model is not None:
        from folkclip.index.title_model import attach_title_model

        manifest = dict(manifest, title_model=attach_title_model(args.out, args.title_model))
    if args.json:
        print(json.dumps(manifest, indent=1))
    else:
        v = manifest["vectors"]
        print(f"index {args.out}: {manifest['n_tunes']} tunes, {manifest['n_titles']} titles "
              f"({v['tunes']['kind']} search, recall@10 {manifest['recall_at_10']['tunes']:.3f}"
              f"), {manifest.get('tunes_per_s', '-')} tunes/s embedded")
        if args.title_model is not None:
            print(f"title model {args.title_model} copied into {args.out}")
    return 0


def _open(args: argparse.Namespace):
    from folkclip.index import TuneIndex

    if not 1 <= args.k <= MAX_K:
        raise FolkclipError(f"-k must be between 1 and {MAX_K}")
    return TuneIndex.load(args.index, backend="numpy" if args.numpy else "auto")


def _print_tunes(results: list[dict]) -> None:
    for r, t in enumerate(results, 1):
        print(f"{r:>3}. {t['score']:+.3f}  {t['title'] or '(untitled)'}  [{t['type']}, "
              f"{t['key']}, {t['meter']}]  id {t['tune_id']}  ({Path(t['source']).name} "
              f"X:{t['x']})")


def search_from_args(args: argparse.Namespace) -> int:
    results = _open(args).search(args.text, args.k)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        _print_tunes(results)
    return 0


def suggest_from_args(args: argparse.Namespace) -> int:
    idx = _open(args)
    results = idx.suggest(read_abc_text(args.abc_file), args.k, titles=args.titles)
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    for r, s in enumerate(results, 1):
        note = f"  <- near-duplicate of tune {s['tune_id']}" if s["near_duplicate"] else ""
        mine = "  (your title)" if s["from"] == "user" else ""
        print(f"{r:>3}. {s['score']:+.3f}  {s['title']}{note}{mine}")
    return 0


def similar_from_args(args: argparse.Namespace) -> int:
    if (args.abc_file is None) == (args.tune_id is None):
        raise FolkclipError("give an ABC file or --id ID (one of them)")
    idx = _open(args)
    kw = {"mode": args.mode} if args.mode else {}
    kw["align"] = args.align
    if args.tune_id is not None:
        results = idx.similar(tune_id=args.tune_id, k=args.k, **kw)
    else:
        results = idx.similar(abc=read_abc_text(args.abc_file), k=args.k, **kw)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        _print_tunes(results)
    return 0
