"""``folkclip evaluate``: retrieval metrics of a trained run, both directions.

    folkclip evaluate RUN_DIR [--data SOURCE ...] [--split test|validation|all] [--json]
                      [--rankings FILE] [--random] [--save] [--include-seen]
                      [--overlap-threshold X]

Without ``--data`` the run's own sources and split are used (the split recorded in the
run's ``split.json``); with ``--data`` the whole other collection is the evaluation set
(``--split all``), less the tunes the model has in effect seen: those sharing a title with
the run's training split, or whose melody is a near-duplicate of a training tune's
(:mod:`folkclip.eval.overlap`). The overlap is reported either way; ``--include-seen``
scores every tune. ``--random`` scores random embeddings of the same sets (the chance
baseline). ``--save`` writes ``eval_<split>.json`` and ``per_query_<split>.csv`` into the
run folder. A cross-validation folder (``train --folds K``) is evaluated fold by fold,
each fold's model on its own test fold, and the queries pooled; ``--rankings`` then
covers all folds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from folkclip.errors import FolkclipError
from folkclip_cli.study.runs import embeddings, load_eval, training_overlap


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir")
    p.add_argument("--data", nargs="+", default=None)
    p.add_argument("--split", choices=("test", "validation", "train", "all"), default=None)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--rankings", default=None, help="write TREC run + qrels files here")
    p.add_argument("--random", action="store_true", help="score random embeddings instead")
    p.add_argument("--seed", type=int, default=0, help="seed for --random and bootstrap")
    p.add_argument("--include-seen", action="store_true",
                   help="with --data: also score tunes seen in training (title or melody)")
    p.add_argument("--overlap-threshold", type=float, default=0.9,
                   help="cosine of interval 4-gram profiles that makes a near-duplicate")
    p.add_argument("--save", action="store_true",
                   help="write eval_<split>.json and per_query_<split>.csv into the run folder")


def evaluate(args: argparse.Namespace) -> dict:
    from folkclip.eval.evaluation import EvalSet, query_results, score_queries, write_trec
    from folkclip.eval.queries import write_queries
    from folkclip_cli.study.crossval import evaluate_cv, is_cv_folder

    if is_cv_folder(args.run_dir):
        if args.data or args.split not in (None, "test"):
            raise FolkclipError("a cross-validation folder is evaluated on its test folds; "
                                "give one fold's folder for --data or --split")
        metrics = evaluate_cv(Path(args.run_dir), embeddings, args.random, args.seed,
                              Path(args.rankings) if args.rankings else None, args.save)
        metrics.update({"sources": _sources(Path(args.run_dir)), "run": args.run_dir,
                        "model": "random" if args.random else "trained"})
        return metrics
    ctx = load_eval(args.run_dir, args.data, args.split)
    overlap = None
    if args.data:  # another collection: leave out what training has seen
        overlap = training_overlap(ctx, args.overlap_threshold)
        if not args.include_seen:
            if not overlap.unseen_indices():
                raise FolkclipError("every tune of the evaluation set was seen in training; "
                                    "use --include-seen to score them anyway")
            ctx = dataclasses.replace(ctx, evalset=EvalSet(ctx.corpus, overlap.unseen_indices()))
    es, run, sources, split = ctx.evalset, ctx.run, ctx.sources, ctx.split
    tune_emb, title_emb = embeddings(ctx, args.random, args.seed)
    per_q = query_results(es, tune_emb, title_emb)
    metrics = score_queries(per_q, seed=args.seed)
    if args.save and not args.random and not args.data:
        write_queries(per_q, run / f"per_query_{split}.csv")
        (run / f"eval_{split}.json").write_text(json.dumps(metrics, indent=1))
    metrics.update({"split": split, "sources": sources, "run": str(run),
                    "model": "random" if args.random else "trained"})
    if overlap is not None:
        metrics["overlap"] = {**overlap.summary(),
                              "evaluated": "all" if args.include_seen else "unseen"}
    if args.rankings:
        run_file, qrels = write_trec(es, tune_emb, title_emb, Path(args.rankings))
        metrics["rankings"] = {"run": str(run_file), "qrels": str(qrels)}
    return metrics


def _sources(run: Path) -> list[str]:
    from folkclip_cli.train.config import read_run_config

    return list(read_run_config(run)["data"]["sources"])


def main_from_args(args: argparse.Namespace) -> int:
    from folkclip.eval.evaluation import summary_line

    metrics = evaluate(args)
    if args.json:
        print(json.dumps(metrics, indent=1))
    else:
        if "overlap" in metrics:
            o = metrics["overlap"]
            print(f"overlap with the training split: {o['seen']} of {o['n_tunes']} tunes seen "
                  f"(title {o['seen_title']}, near-duplicate melody {o['seen_melody']}, "
                  f"both {o['seen_both']}); scoring "
                  + ("all of them (--include-seen)" if o["evaluated"] == "all" else
                     f"the {o['unseen']} unseen (--include-seen for all)"))
        print(f"{metrics['split']} of {', '.join(metrics['sources'])}: " + summary_line(metrics))
        ci = metrics["ci95"]
        for k in ("tune_to_title/mrr", "title_to_tune/mrr"):
            print(f"  {k}: {metrics[k]:.3f}  (95% CI {ci[k][0]:.3f}–{ci[k][1]:.3f})")
        for t, row in metrics["per_type"].items():
            print(f"  {t:<10} {row['n_tunes']:>5} tunes  tune→title MRR "
                  f"{row['tune_to_title/mrr']:.3f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="folkclip evaluate", description=__doc__.split("\n")[0])
    add_arguments(p)
    return main_from_args(p.parse_args(argv))
