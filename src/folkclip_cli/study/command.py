"""``folkclip study``: the whole study in one resumable command (``make study``).

    folkclip study [--size small|full] [--out runs/study] [--jobs 2 | --ray ADDRESS|auto]
                   [--quick] [--folds 5] [--seeds N] [--part NAME | --max-hours H]
                   [--config FILE] [--lm-config FILE] [--set KEY=VALUE ...]
                   [--plan-only | --train-only | --tables-only]

Prints the plan with its estimated hours first (:mod:`folkclip_cli.study.schedule`), then
trains every planned run not finished yet (finished runs are reused only when their
settings match; interrupted ones resume), the decisive rows first, then writes
``OUT/tables/*.{csv,md}``, ``OUT/figures/*.png``, ``OUT/study.json`` and one
self-contained ``OUT/report.html`` with a section per part:

1. encoders, 2. removal, 3. transfer and data size, 4. what the towers encode (probes),
5. which title words melodies predict, 6. other traditions.

``--size`` picks the packaged settings (:mod:`folkclip_cli.study.sizes`: ``small`` is the
64-wide, 5-epoch study; ``full`` the default model's sizes with 3 seeds for the decisive
rows); ``--config``/``--lm-config`` replace them with one's own files. Runs use the CPU
unless ``--set trainer.accelerator=gpu`` (or ``auto``) is given; with ``--jobs N`` and CUDA
GPUs each job then takes one GPU; with ``--ray`` the runs are tasks on a Ray cluster.
``OUT/mlflow.db`` collects every run (params, per-epoch metrics, prediction tables) for
``mlflow ui --backend-store-uri sqlite:///OUT/mlflow.db``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from folkclip.errors import FolkclipError


def add_arguments(p: argparse.ArgumentParser) -> None:
    from folkclip_cli.study.schedule import STEP_NAMES
    from folkclip_cli.study.sizes import SIZES

    p.add_argument("--out", default=None,
                   help="study folder (default runs/study, runs/study-full for --size full)")
    p.add_argument("--size", default="small", choices=list(SIZES),
                   help="packaged settings: small (64-wide, 5 epochs, 1 seed) or full (the "
                        "default model's sizes, 10 epochs, 3 seeds for the decisive rows)")
    p.add_argument("--config", default=None,
                   help="settings of every two-tower run (default: the size's packaged file)")
    p.add_argument("--lm-config", default=None,
                   help="settings of the melody language models of part 3 (default: the "
                        "size's packaged file)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--seeds", type=int, default=None,
                   help="seeds of the decisive rows (default: the size's; others take one)")
    p.add_argument("--jobs", type=int, default=2, help="runs trained in parallel")
    p.add_argument("--ray", default=None, metavar="ADDRESS|auto",
                   help="train the runs as tasks on this Ray cluster ('auto': start a local "
                        "one for the run)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--part", default=None, choices=STEP_NAMES,
                       help="train only this step of the plan (resumable)")
    which.add_argument("--max-hours", type=float, default=None,
                       help="train the plan's steps in order while their estimate fits")
    p.add_argument("--quick", action="store_true",
                   help="every part at toy size on the 'tiny' source (a few minutes)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override for every two-tower run, e.g. trainer.accelerator=gpu")
    stage = p.add_mutually_exclusive_group()
    stage.add_argument("--plan-only", action="store_true",
                       help="print the plan and its estimated hours, train nothing")
    stage.add_argument("--train-only", action="store_true", help="train, write no tables")
    stage.add_argument("--tables-only", action="store_true",
                       help="write tables and report from the finished runs, train nothing")


def _base(args: argparse.Namespace, lm: bool = False) -> list[str]:
    from folkclip_cli.study.plan import base_overrides

    return base_overrides(args.quick, args.overrides, lm)


def train(args: argparse.Namespace, plan, chosen: list) -> None:
    """Train every run of the ``chosen`` steps (:mod:`folkclip_cli.study.schedule`) not
    finished yet, in the plan's deciding order."""
    from folkclip_cli.study.launcher import execute
    from folkclip_cli.study.schedule import NEEDS, unfinished_share
    from folkclip_cli.train.config import load_config

    base, lm_base = _base(args), _base(args, lm=True)
    for label in plan.variants:  # configs are checked before any training
        if not plan.uses_lm(label):
            load_config(args.config, [*base, *plan.variants[label].overrides])
    load_config(args.lm_config, lm_base)
    names = {s.name for s in chosen}
    from folkclip_cli.study.schedule import steps as all_steps

    for step in all_steps(plan):
        if step.name in names:
            continue
        for need_of, needs in NEEDS.items():
            if need_of in names and step.name in needs and step.runs and unfinished_share(step):
                raise FolkclipError(f"step {need_of!r} needs step {step.name!r} finished "
                                    f"first (folkclip study --part {step.name})")
    for step in chosen:
        if step.name == "traditions":
            _traditions(args, plan, base)
            continue
        if step.name == "pool":
            _pools(plan, load_config(args.config, base).data)
            continue
        if step.name == "baselines":
            _baselines(plan, load_config(args.config, base).data)
            continue
        print(f"== {step.name}: {step.title}, {len(step.runs)} runs", flush=True)
        config, overrides = (args.lm_config, lm_base) if step.lm else (args.config, base)
        execute(step.runs, config, overrides, args.jobs, quiet=True,
                folds=0 if step.lm else plan.folds, ray=args.ray)


def _traditions(args: argparse.Namespace, plan, base: list[str]) -> None:
    """Part 6: header-only and part 1's best encoder on default's split and on nottingham."""
    from folkclip_cli.study.jobs import PlannedRun
    from folkclip_cli.study.launcher import execute
    from folkclip_cli.study.plan import best_encoder, other_tradition_variants

    best = best_encoder(plan)
    others = other_tradition_variants(plan, best)
    print(f"== traditions (part 6; best encoder {best}): {len(others)} runs", flush=True)
    for label, variant in others.items():
        run = PlannedRun(variant, 0, plan.run_dir(label))
        cv = label not in plan.single
        execute([run], args.config, base, 1, quiet=True, folds=plan.folds if cv else 0,
                ray=args.ray)


def _baselines(plan, data) -> None:
    """Part 4: the baselines' cross-validation folders (random, nearest-melody, linear),
    those not written yet."""
    from folkclip_cli.study.baselines import run_baselines

    run_baselines(plan.run_dir, data, plan.folds, log=lambda s: print(s, flush=True))


def _pools(plan, data) -> None:
    """Part 3b: write each fold's wide pretraining pool not written yet."""
    from folkclip_cli.study.plan import pool_file
    from folkclip_cli.study.pool import pool_source_paths, write_fold_pool

    if not plan.lm_wide_runs:
        return
    sources, missing = pool_source_paths()
    for name in missing:
        print(f"pool: left out {name}", flush=True)
    for k in range(plan.folds):
        path = pool_file(plan.out, k)
        if path.with_suffix(".json").exists():
            continue
        c = write_fold_pool(path.parent, list(data.sources), sources, data.split_seed,
                            tuple(data.fractions), plan.folds, k)
        print(f"pool fold {k}: {c['fold_training_tunes']} training tunes + {c['kept']} of "
              f"{c['pool']} other tunes ({c['removed']} removed: {c['removed_title']} by "
              f"title, {c['removed_melody']} by melody) = {c['total']}", flush=True)


def resolve_configs(args: argparse.Namespace) -> None:
    """Fill ``args.config``/``args.lm_config`` with the size's packaged files unless given."""
    from folkclip_cli.study.sizes import get_size, packaged_config

    size = get_size(args.size)
    if args.config is None:
        args.config = str(packaged_config(size.config))
    if args.lm_config is None:
        args.lm_config = str(packaged_config(size.lm_config))
    for path in (args.config, args.lm_config):
        if not Path(path).is_file():
            raise FolkclipError(f"config file {path!r} not found")


def print_plan(args: argparse.Namespace, plan, cfg) -> list:
    """Print the plan with its estimated hours; returns its steps."""
    from folkclip.data.batch import titled_indices
    from folkclip.data.dataset import load_tokenized
    from folkclip_cli.study.schedule import estimate, plan_text, steps
    from folkclip_cli.study.sizes import get_size
    from folkclip_cli.train.config import load_config

    size = get_size(args.size)
    tc = load_tokenized(list(cfg.data.sources), cfg.data.tokenizer())
    lm = load_config(args.lm_config, _base(args, lm=True))
    all_steps = steps(plan)
    jobs = 1 if args.ray else max(1, args.jobs)
    estimate(plan, all_steps, size, len(tc), len(titled_indices(tc, range(len(tc)))),
             cfg.trainer.max_epochs, lm.trainer.max_epochs, cfg.trainer.batch_size,
             lm.trainer.batch_size, jobs)
    print(plan_text(all_steps, size, jobs), flush=True)
    return all_steps


def main_from_args(args: argparse.Namespace) -> int:
    from folkclip_cli.study.plan import make_plan
    from folkclip_cli.study.schedule import select
    from folkclip_cli.study.sizes import get_size

    if args.folds < 2:
        raise FolkclipError(f"--folds must be >= 2, got {args.folds}")
    resolve_configs(args)
    out = Path(args.out or get_size(args.size).out)
    plan = make_plan(out, 2 if args.quick else args.folds, args.quick, get_size(args.size),
                     args.seeds)
    start = time.time()
    from folkclip_cli.train.config import load_config

    cfg = load_config(args.config, _base(args))
    seeds = max(plan.seeds.values(), default=1)
    print(f"study ({args.size}): {plan.folds}-fold cross-validation, {seeds} seed(s) for the "
          f"decisive rows, 1 for the others, {cfg.trainer.max_epochs} epochs,"
          f" {cfg.data.max_events} events per tune, {cfg.model.embed_dim}-wide embeddings, "
          f"{len(plan.variants)} variants (+ part 6), {cfg.trainer.accelerator}; in {out}",
          flush=True)
    all_steps = print_plan(args, plan, cfg)
    if args.plan_only:
        return 0
    if not args.tables_only:
        chosen = select(all_steps, args.part, args.max_hours)
        print("training steps: " + (", ".join(s.name for s in chosen) or "none"), flush=True)
        train(args, plan, chosen)
    if not args.train_only:
        from folkclip_cli.study.folder import write_study

        write_study(plan, args, time.time() - start)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m folkclip_cli.study.command ...``."""
    p = argparse.ArgumentParser(prog="folkclip study", description=__doc__.split("\n")[0])
    add_arguments(p)
    return main_from_args(p.parse_args(argv))
