"""``folkclip data inspect|check-leakage|check-removal|tokens``: read, inspect and check
collections."""

from __future__ import annotations

import argparse
import json

from folkclip.errors import FolkclipError


def add_commands(sub: argparse._SubParsersAction) -> None:
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

    p = dsub.add_parser("check-removal", help="probe how much of a removed element the "
                        "tokens still carry (needs scikit-learn)")
    p.add_argument("sources", nargs="+")
    p.add_argument("--remove", required=True,
                   help="elements to probe, comma-separated: meter, mode, key, type, rhythm")
    p.add_argument("--folds", type=int, default=5, help="grouped cross-validation folds")
    p.add_argument("--ngram", type=int, default=2, help="longest token n-gram per field")
    p.add_argument("--max-tunes", type=int, default=0, help="probe a random subset (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-transpose", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check_removal)

    p = dsub.add_parser("tokens", help="print the tokens of one tune")
    p.add_argument("sources", nargs="+")
    p.add_argument("--tune", type=int, default=0, help="index of the tune among those read")
    p.add_argument("--remove", default="", help="removal switches, e.g. key,rhythm,first_bars=4")
    p.add_argument("--no-transpose", action="store_true")
    p.add_argument("--decode", action="store_true", help="also print the tokens decoded to ABC")
    p.set_defaults(func=cmd_tokens)


def cmd_inspect(args: argparse.Namespace) -> int:
    from folkclip.data.report import corpus_summary
    from folkclip.io.sources import read_sources

    corpus = read_sources(args.sources)
    errors, warnings = corpus.errors, corpus.warnings
    report = corpus_summary(corpus, args.sources)
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
        from folkclip_cli.train.config import load_config

        dc = load_config(args.config).data
        seed, fractions, folds = dc.split_seed, tuple(dc.fractions), dc.folds
    seed = seed if args.seed is None else args.seed
    return seed, fractions, folds if args.folds is None else args.folds


def cmd_check_leakage(args: argparse.Namespace) -> int:
    from folkclip.data.report import leakage_report
    from folkclip.io.sources import read_sources

    seed, fractions, folds = _split_settings(args)
    report = leakage_report(read_sources(args.sources), seed, args.threshold, fractions, folds)
    crossing, dupes = report["crossing_groups"], report["near_duplicate_pairs"]
    fold_crossing = report.get("groups_crossing_folds", 0)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(f"{report['tunes']} tunes in {report['groups']} identity groups; split "
              + ", ".join(f"{k} {v}" for k, v in report["split_sizes"].items()))
        print(f"groups crossing splits: {crossing}"
              + (" (no leakage by identity)" if not crossing else " (LEAKAGE)"))
        if folds:
            print(f"{folds} folds of " + ", ".join(map(str, report["fold_sizes"]))
                  + f" tunes; groups crossing folds: {fold_crossing}; near-duplicate "
                  f"melodies in different folds: {report['near_duplicates_across_folds']}")
        print(f"near-duplicate melodies across splits (cosine >= {args.threshold}): {len(dupes)}")
        for d in dupes[:10]:
            print(f"  {d['split']}: {d['tune']} ~ train {d['train_tune']} ({d['similarity']})")
    return 1 if crossing or fold_crossing else 0


def cmd_check_removal(args: argparse.Namespace) -> int:
    from folkclip.data.removal_probe import residual_cell, residual_information
    from folkclip.data.tokenize import TokenizerConfig

    elements = [e.strip() for e in args.remove.replace("+", ",").split(",") if e.strip()]
    if not elements:
        raise FolkclipError("--remove names no element")
    results = residual_information(
        args.sources, elements, base=TokenizerConfig(transpose=not args.no_transpose),
        folds=args.folds, ngram=args.ngram, max_tunes=args.max_tunes, seed=args.seed)
    skipped = [e for e in elements if e not in results]
    if args.json:
        print(json.dumps({"results": results, "not_probed": skipped}, indent=1))
        return 0
    for e, r in results.items():
        print(f"{e}: {r['n_tunes']} tunes, {r['n_classes']} classes, {r['folds']}-fold grouped "
              f"CV | probe accuracy removed {r['removed']['accuracy']:.3f}, kept "
              f"{r['kept']['accuracy']:.3f} | majority share {r['majority_share']:.3f} "
              f"({r['majority_label']})")
    print("residual information: " + residual_cell(results))
    if skipped:
        print("no probe target for: " + ", ".join(skipped))
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    from folkclip.data.decode import decode
    from folkclip.io.sources import read_sources
    from folkclip.data.tokenize import Tokenizer, TokenizerConfig

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
