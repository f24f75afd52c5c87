"""``folkclip train``: train a two-tower model (or a melody language model) from a config file.

    folkclip train --config configs/default.yaml --out runs/demo [--set trainer.max_steps=50]
                   [--data SOURCE ...] [--resume] [--folds K]

The run folder receives ``config.yaml`` (resolved), ``split.json``, ``checkpoints/``
(best and last), ``logs/`` (CSV metrics per epoch, TensorBoard/MLflow as configured),
``predictions/`` (prediction tracking), ``model/`` (exported model, loadable with
``folkclip.load``), ``eval_test.json`` / ``eval_validation.json`` and the per-query results
``per_query_test.csv`` / ``per_query_validation.csv``. With ``--folds K`` OUT holds one such
run folder per fold (``fold<k>``, tested on fold k) and the pooled evaluation (see
:mod:`folkclip_cli.study.crossval`). With
``task: melody_lm`` (:mod:`folkclip_cli.train.lm_task`) ``model/`` holds ``lm.json`` and
``lm_weights.pt`` instead, and ``perplexity.json`` replaces the evaluations.

``--resume`` continues from ``checkpoints/last.ckpt`` exactly where it was written, even
in the middle of an epoch (``trainer.checkpoint_every_n_steps`` writes it every N steps):
the resumed run sees the same batches and random draws and ends with the same weights as
a run never interrupted (:mod:`folkclip_cli.train.resume`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from folkclip_cli.train.tasks import run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="folkclip train", description=__doc__.split("\n")[0])
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="YAML config (default: built-in defaults)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. trainer.max_steps=100 (repeatable)")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--data", nargs="+", default=None, help="data sources (replace data.sources)")
    p.add_argument("--resume", action="store_true", help="continue from checkpoints/last.ckpt")
    p.add_argument("--folds", type=int, default=0,
                   help="grouped K-fold cross-validation: OUT/fold<k> run folders and the "
                        "pooled evaluation in OUT (finished folds are skipped, others resumed)")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``folkclip train``."""
    args = build_parser().parse_args(argv)
    return train_from_args(args)


def train_from_args(args: argparse.Namespace) -> int:
    from folkclip_cli.train.config import load_config

    cfg = load_config(args.config, args.overrides)
    if args.data:
        cfg.data.sources = list(args.data)
    out = Path(args.out)
    if args.folds:
        from folkclip_cli.study.crossval import run_cv

        metrics = run_cv(cfg, out, args.folds)
    else:
        metrics = run(cfg, out, resume=args.resume)
    if metrics is None:
        return 0
    print(f"run folder: {out}")
    if cfg.task == "melody_lm":
        from folkclip_cli.train.lm_task import perplexity_summary

        print("perplexity: " + perplexity_summary(metrics))
    elif cfg.task == "title_lm":
        from folkclip_cli.train.title_task import bits_summary

        print("title bits: " + bits_summary(metrics))
    else:
        from folkclip.eval.evaluation import summary_line

        print(("pooled test of the folds: " if args.folds else "test: ") + summary_line(metrics))
    return 0
