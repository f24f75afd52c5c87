"""``folkclip study``: the whole study in one resumable command (``make study``).

    folkclip study [--out runs/study] [--jobs 2] [--quick] [--folds 5]
                   [--config configs/study.yaml] [--lm-config configs/study-lm.yaml]
                   [--set KEY=VALUE ...] [--train-only | --tables-only]

Trains every run of :mod:`folkclip_cli.study.plan` that is not finished yet (finished
runs are reused only when their settings match; interrupted ones resume), then writes
``OUT/tables/*.{csv,md}``, ``OUT/figures/*.png``, ``OUT/study.json`` and one
self-contained ``OUT/report.html`` with a section per part:

1. encoders, 2. removal, 3. transfer and data size, 4. what the towers encode (probes),
5. which title words melodies predict, 6. other traditions.

Runs use the CPU unless ``--set trainer.accelerator=gpu`` (or ``auto``) is given; with
``--jobs N`` and CUDA GPUs each job then takes one GPU. ``OUT/mlflow.db`` collects every
run (params, per-epoch metrics, prediction tables) for ``mlflow ui --backend-store-uri
sqlite:///OUT/mlflow.db``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from folkclip.errors import FolkclipError

DEFAULT_CONFIG = "configs/study.yaml"
DEFAULT_LM_CONFIG = "configs/study-lm.yaml"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/study", help="study folder (default runs/study)")
    p.add_argument("--config", default=DEFAULT_CONFIG, help="settings of every two-tower run")
    p.add_argument("--lm-config", default=DEFAULT_LM_CONFIG,
                   help="settings of the melody language models of part 3")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--jobs", type=int, default=2, help="runs trained in parallel")
    p.add_argument("--quick", action="store_true",
                   help="every part at toy size on the 'tiny' source (a few minutes)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override for every two-tower run, e.g. trainer.accelerator=gpu")
    stage = p.add_mutually_exclusive_group()
    stage.add_argument("--train-only", action="store_true", help="train, write no tables")
    stage.add_argument("--tables-only", action="store_true",
                       help="write tables and report from the finished runs, train nothing")


def _base(args: argparse.Namespace, lm: bool = False) -> list[str]:
    from folkclip_cli.study.plan import base_overrides

    return base_overrides(args.quick, args.overrides, lm)


def train(args: argparse.Namespace, plan) -> None:
    """Train every planned run not finished yet, the most decisive parts first."""
    from folkclip_cli.study.sweep import execute
    from folkclip_cli.train.config import load_config

    base, lm_base = _base(args), _base(args, lm=True)
    own = [lbl for lbl in plan.variants if not plan.uses_lm(lbl)]  # need no LM run first
    for label in own:  # their configs are checked before any training
        load_config(args.config, [*base, *plan.variants[label].overrides])
    load_config(args.lm_config, lm_base)
    first = list(dict.fromkeys(
        [*plan.parts["removal"], *(lbl for lbl in plan.parts["encoders"] if lbl in own)]))
    steps = [("part 2 (removal) and part 1 (encoders without the LM)", first, args.config,
              base, plan.folds),
             ("melody language models, one per fold", None, args.lm_config, lm_base, 0)]
    rest = [lbl for lbl in [*plan.parts["encoders"], *plan.parts["transfer"]]
            if lbl not in first]
    steps.append(("parts 1 and 3 (transferred LM, learning curves)",
                  list(dict.fromkeys(rest)), args.config, base, plan.folds))
    for title, labels, config, overrides, folds in steps:
        runs = plan.lm_runs if labels is None else plan.runs(labels)
        print(f"== {title}: {len(runs)} runs", flush=True)
        execute(runs, config, overrides, args.jobs, quiet=True, folds=folds)
    from folkclip_cli.study.plan import best_encoder, other_tradition_variants

    best = best_encoder(plan)
    from folkclip_cli.study.sweep import PlannedRun

    others = other_tradition_variants(plan, best)
    print(f"== part 6 (other traditions; best encoder {best}): {len(others)} runs", flush=True)
    for label, variant in others.items():
        run = PlannedRun(variant, 0, plan.run_dir(label))
        cv = label not in plan.single
        execute([run], args.config, base, 1, quiet=True, folds=plan.folds if cv else 0)


def main_from_args(args: argparse.Namespace) -> int:
    from folkclip_cli.study.plan import make_plan

    if args.folds < 2:
        raise FolkclipError(f"--folds must be >= 2, got {args.folds}")
    out = Path(args.out)
    plan = make_plan(out, 2 if args.quick else args.folds, args.quick)
    start = time.time()
    from folkclip_cli.train.config import load_config

    cfg = load_config(args.config, _base(args))
    print(f"study: {plan.folds}-fold cross-validation, 1 seed, {cfg.trainer.max_epochs} epochs,"
          f" {cfg.data.max_events} events per tune, {cfg.model.embed_dim}-wide embeddings, "
          f"{len(plan.variants)} variants (+ part 6), {cfg.trainer.accelerator}; in {out}",
          flush=True)
    if not args.tables_only:
        train(args, plan)
    if not args.train_only:
        from folkclip_cli.study.folder import write_study

        write_study(plan, args, time.time() - start)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m folkclip_cli.study.command ...``."""
    p = argparse.ArgumentParser(prog="folkclip study", description=__doc__.split("\n")[0])
    add_arguments(p)
    return main_from_args(p.parse_args(argv))
