"""The ``folkclip`` command line: ``folkclip data inspect|check-leakage|tokens``,
``folkclip train``, ``evaluate``, ``map``, ``generate``, ``ablate``, ``sweep``,
``compare`` and ``report``.

Every command is reachable as ``main([...])``; errors in the input become a one-line
message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from folkclip.errors import FolkclipError


def _add_data_commands(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="read, inspect and check tune collections")
    dsub = data.add_subparsers(dest="data_command", required=True)

    p = dsub.add_parser("inspect", help="read sources and report what was found")
    p.add_argument("sources", nargs="+", help="names (default, nottingham, tiny, ...) or paths")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--show", type=int, default=10, help="problems to list in text mode")
    p.set_defaults(func=cmd_inspect)

    p = dsub.add_parser("check-leakage", help="prove the split keeps tune groups on one side")
    p.add_argument("sources", nargs="+")
    p.add_argument("--config", default=None,
                   help="take data.split_seed, data.fractions and data.folds from this config")
    p.add_argument("--seed", type=int, default=None, help="split seed (default: config's, 0)")
    p.add_argument("--folds", type=int, default=None,
                   help="also check K-fold cross-validation folds (default: config's)")
    p.add_argument("--threshold", type=float, default=0.9,
                   help="cosine similarity of interval 4-gram profiles for a near-duplicate")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check_leakage)

    p = dsub.add_parser("tokens", help="print the tokens of one tune")
    p.add_argument("sources", nargs="+")
    p.add_argument("--tune", type=int, default=0, help="index of the tune among those read")
    p.add_argument("--remove", default="", help="removal switches, e.g. key,rhythm,first_bars=4")
    p.add_argument("--no-transpose", action="store_true")
    p.add_argument("--decode", action="store_true", help="also print the tokens decoded to ABC")
    p.set_defaults(func=cmd_tokens)


# The programs live in folkclip_train (Lightning); each is imported only when run.
# (command, help, module, function adding its arguments, function running it)
PROGRAMS = (
    ("train", "train a two-tower model (needs the 'train' extra)", "folkclip_train.train",
     "add_arguments", "train_from_args"),
    ("evaluate", "retrieval metrics of a trained run", "folkclip_train.evaluate",
     "add_arguments", "main_from_args"),
    ("map", "2-D maps of tune and title embeddings by tune type", "folkclip_train.maps",
     "add_arguments", "main_from_args"),
    ("generate", "sample ABC tunes from a melody language model run",
     "folkclip_train.generate", "add_arguments", "main_from_args"),
    ("ablate", "retrain with chosen information removed, over seeds", "folkclip_train.sweep",
     "add_ablate_arguments", "ablate_from_args"),
    ("sweep", "train config variants over seeds and compare them", "folkclip_train.sweep",
     "add_sweep_arguments", "sweep_from_args"),
    ("compare", "put finished runs side by side (mean ± 95%% CI)", "folkclip_train.compare",
     "add_arguments", "main_from_args"),
    ("report", "one self-contained HTML report of a run or ablation", "folkclip_train.report",
     "add_arguments", "main_from_args"),
)


def _add_program_commands(sub: argparse._SubParsersAction) -> None:
    for name, help_text, module, add, run in PROGRAMS:
        _lazy(sub.add_parser(name, help=help_text), module, add, run)


def _lazy(p: argparse.ArgumentParser, module: str, add: str, run: str) -> None:
    import importlib

    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        p.set_defaults(func=lambda args, err=err: _missing(err))  # bound: err is unset later
        p.add_argument("rest", nargs=argparse.REMAINDER)
        return
    getattr(mod, add)(p)
    p.set_defaults(func=getattr(mod, run))


def _missing(err: ModuleNotFoundError) -> int:
    raise FolkclipError(f"this command needs {err.name!r}: pip install 'folkclip[train]'")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="folkclip", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_data_commands(sub)
    _add_program_commands(sub)
    return parser


def cmd_inspect(args: argparse.Namespace) -> int:
    from folkclip.sources import read_sources
    from folkclip.titles import title_key

    corpus = read_sources(args.sources)
    errors, warnings = corpus.errors, corpus.warnings
    types = Counter(t.tune_type for t in corpus.tunes)
    titles = {title_key(t.title) for t in corpus.tunes if t.title}
    report = {
        "sources": args.sources,
        "files": len(corpus.files),
        "tunes": len(corpus.tunes) + len(errors),
        "parsed": len(corpus.tunes),
        "skipped": len(errors),
        "errors": [{k: v for k, v in p.to_dict().items() if k != "severity"} for p in errors],
        "warnings": len(warnings),
        "types": dict(sorted(types.items(), key=lambda kv: -kv[1])),
        "titles": len(titles),
        "untitled": sum(1 for t in corpus.tunes if not t.title),
        "notes": sum(sum(1 for e in t.notes if e.pitch is not None) for t in corpus.tunes),
        "collections": dict(Counter(t.collection for t in corpus.tunes)),
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    share = report["parsed"] / max(report["tunes"], 1)
    print(f"{report['files']} files, {report['tunes']} tunes: {report['parsed']} read "
          f"({share:.1%}), {report['skipped']} skipped, {report['warnings']} with warnings")
    print(f"{report['titles']} distinct titles, {report['untitled']} untitled, "
          f"{report['notes']} notes")
    print("types: " + ", ".join(f"{k} {v}" for k, v in report["types"].items()))
    print("collections: " + ", ".join(f"{k} {v}" for k, v in report["collections"].items()))
    for p in (errors + warnings)[: args.show]:
        print(f"  {p.severity}: {p}")
    if len(errors) + len(warnings) > args.show:
        print(f"  ... {len(errors) + len(warnings) - args.show} more (use --json for all errors)")
    return 0


def _split_settings(args: argparse.Namespace) -> tuple[int, tuple[float, ...], int]:
    """(split seed, fractions, folds) for ``check-leakage``: the config's, then flags."""
    seed, fractions, folds = 0, (0.8, 0.1, 0.1), 0
    if args.config:
        from folkclip_train.config import load_config

        dc = load_config(args.config).data
        seed, fractions, folds = dc.split_seed, tuple(dc.fractions), dc.folds
    seed = seed if args.seed is None else args.seed
    return seed, fractions, folds if args.folds is None else args.folds


def cmd_check_leakage(args: argparse.Namespace) -> int:
    import numpy as np

    from folkclip.sources import read_sources
    from folkclip.splits import (
        assign_folds, assign_splits, crossing_groups, group_ids, identity_of, melody_vectors,
        near_duplicates,
    )

    seed, fractions, folds = _split_settings(args)
    corpus = read_sources(args.sources)
    idents = [identity_of(t) for t in corpus.tunes]
    splits = assign_splits(idents, fractions, seed)
    crossing = crossing_groups(idents, splits)
    fold_of = assign_folds(idents, folds, seed) if folds else None
    fold_crossing = crossing_groups(idents, fold_of.tolist()) if folds else []
    groups = group_ids(idents)
    vectors = melody_vectors([[n.pitch for n in t.notes if n.pitch is not None]
                              for t in corpus.tunes])
    sides = np.array(splits)
    train = np.nonzero(sides == "train")[0]
    dupes = []
    for held in ("validation", "test"):
        idx = np.nonzero(sides == held)[0]
        for i, j, sim in near_duplicates(vectors[idx], vectors[train], args.threshold):
            a, b = corpus.tunes[idx[i]], corpus.tunes[train[j]]
            dupes.append({"split": held, "tune": f"{a.source}:{a.ref}",
                          "train_tune": f"{b.source}:{b.ref}", "similarity": round(sim, 4)})
    report = {
        "tunes": len(idents), "groups": int(len(set(groups.tolist()))),
        "split_sizes": dict(Counter(splits)), "crossing_groups": len(crossing),
        "near_duplicates": len(dupes), "near_duplicate_pairs": dupes,
        "threshold": args.threshold, "seed": seed, "fractions": list(fractions),
        "folds": folds,
    }
    if folds:
        report["fold_sizes"] = [int((fold_of == k).sum()) for k in range(folds)]
        report["groups_crossing_folds"] = len(fold_crossing)
        report["near_duplicates_across_folds"] = sum(
            1 for i, j, _ in near_duplicates(vectors, vectors, args.threshold)
            if i < j and fold_of[i] != fold_of[j])
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(f"{report['tunes']} tunes in {report['groups']} identity groups; split "
              + ", ".join(f"{k} {v}" for k, v in report["split_sizes"].items()))
        print(f"groups crossing splits: {len(crossing)}"
              + (" (no leakage by identity)" if not crossing else " (LEAKAGE)"))
        if folds:
            print(f"{folds} folds of " + ", ".join(map(str, report["fold_sizes"]))
                  + f" tunes; groups crossing folds: {len(fold_crossing)}; near-duplicate "
                  f"melodies in different folds: {report['near_duplicates_across_folds']}")
        print(f"near-duplicate melodies across splits (cosine >= {args.threshold}): {len(dupes)}")
        for d in dupes[:10]:
            print(f"  {d['split']}: {d['tune']} ~ train {d['train_tune']} ({d['similarity']})")
    return 1 if crossing or fold_crossing else 0


def cmd_tokens(args: argparse.Namespace) -> int:
    from folkclip.decode import decode
    from folkclip.sources import read_sources
    from folkclip.tokenize import Tokenizer, TokenizerConfig

    corpus = read_sources(args.sources)
    if not 0 <= args.tune < len(corpus.tunes):
        raise FolkclipError(f"--tune must be between 0 and {len(corpus.tunes) - 1}")
    config = TokenizerConfig.from_spec(args.remove, transpose=not args.no_transpose)
    tune = corpus.tunes[args.tune]
    events = Tokenizer(config).tokenize(tune).events
    print(f"{tune.source}: {tune.ref} ({tune.tune_type}, {len(events)} events)")
    for ev in events:
        print("  " + " ".join(f"{v:>6}" for v in ev))
    if args.decode:
        print(decode(events, config, title=tune.title))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``folkclip`` command line.

    Args:
        argv: Arguments without the program name (``sys.argv[1:]`` when ``None``).

    Returns:
        The exit status.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except FolkclipError as err:
        print(f"folkclip: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
