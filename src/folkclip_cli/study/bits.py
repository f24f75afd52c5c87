"""``folkclip bits``: how many bits a melody tells about its title (grouped K-fold CV).

    folkclip bits [--out runs/bits] [--config configs/title-lm.yaml] [--folds 5]
                  [--conditions none,header,melody] [--remove pitch,rhythm,...]
                  [--data SOURCE ...] [--set KEY=VALUE ...] [--only-folds 4,0] [--quick]
                  [--train-only | --tables-only]

Trains the title model (``task: title_lm``) once per condition and fold: ``none``,
``header``, ``melody`` and ``melody-<switch>`` (the melody with one element removed by the
tokenizer's switch). Fold k's models are tested on fold k (:func:`folkclip.data.splits.
assign_splits`: groups of tunes linked by tune id or title never straddle folds), so every
titled tune is scored once per condition. Runs go to ``OUT/runs/<label>/fold<k>``; the
folds run one after another, every condition of a fold before the next fold, so an
interrupted study still pairs the conditions on the folds it finished. Finished folds are
skipped and interrupted ones resumed (a fold trained with other settings is refused).

``OUT/tables/bits.{md,csv,json}`` then hold: bits per title and per character under each
condition (mean over tunes of the mean over a tune's titles), the paired per-tune
differences ``bits(none) - bits(header)``, ``bits(header) - bits(melody)``,
``bits(none) - bits(melody)`` and ``bits(melody - X) - bits(melody)`` per removed element X,
with 95% bootstrap CIs, permutation p-values and Holm-adjusted p-values over those rows,
and for scale the title distribution's entropy estimates (see :func:`write_tables`).
``--quick`` runs toy sizes on the ``tiny`` source with 2 folds (for tests).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from folkclip.errors import FolkclipError

DEFAULT_CONFIG = "configs/title-lm.yaml"
CONDITIONS = ("none", "header", "melody")
QUICK_OVERRIDES = ("data.sources=[tiny]", "data.max_events=32", "trainer.max_epochs=1",
                   "title_lm.dim=16", "title_lm.encoder.dim=16", "title_lm.encoder.max_len=32",
                   "trainer.batch_size=16", "optim.warmup_steps=1", "optim.lr=0.01",
                   "trainer.progress_bar=false", "tracking.logger=csv")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/bits", help="study folder (default runs/bits)")
    p.add_argument("--config", default=DEFAULT_CONFIG, help="the title model's settings")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--conditions", default=",".join(CONDITIONS),
                   help="conditions to train, from none, header, melody")
    p.add_argument("--remove", default="",
                   help="removal switches, each a 'melody-<switch>' condition (comma list)")
    p.add_argument("--data", nargs="+", default=None, help="data sources (replace data.sources)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override for every run, e.g. trainer.max_epochs=4")
    p.add_argument("--only-folds", default="",
                   help="train these folds only, in this order (comma list; default all)")
    p.add_argument("--quick", action="store_true", help="toy sizes on 'tiny', 2 folds")
    stage = p.add_mutually_exclusive_group()
    stage.add_argument("--train-only", action="store_true", help="train, write no tables")
    stage.add_argument("--tables-only", action="store_true", help="tables from finished folds")


def labels(conditions: str, remove: str) -> dict[str, list[str]]:
    """Condition label -> its config overrides.

    Raises:
        FolkclipError: For an unknown condition or removal switch.
    """
    from folkclip.data.tokenize import SWITCHES

    out: dict[str, list[str]] = {}
    for c in filter(None, (x.strip() for x in conditions.split(","))):
        if c not in CONDITIONS:
            raise FolkclipError(f"--conditions: unknown {c!r}; choose from {', '.join(CONDITIONS)}")
        out[c] = [f"title_lm.condition={c}"]
    for s in filter(None, (x.strip() for x in remove.split(","))):
        if s not in SWITCHES:
            raise FolkclipError(f"--remove: unknown switch {s!r}; choose from {', '.join(SWITCHES)}")
        out[f"melody-{s}"] = ["title_lm.condition=melody", f"data.remove=[{s}]"]
    return out


def fold_state(cfg: object, out: Path) -> str:
    """``done``, ``resume`` or ``new``; records the fold's settings on first use.

    Raises:
        FolkclipError: When the folder was trained with other settings.
    """
    from folkclip_cli.study.crossval import fold_state as cv_fold_state
    from folkclip_cli.train.title_task import BITS_FILE, SUMMARY_FILE

    return cv_fold_state(cfg, out, "bits_settings.json", (BITS_FILE, SUMMARY_FILE))


def base_overrides(args: argparse.Namespace) -> list[str]:
    data = [f"data.sources=[{', '.join(args.data)}]"] if args.data else []
    return [*(QUICK_OVERRIDES if args.quick else ()), *data, *args.overrides]


def train(args: argparse.Namespace, plan: dict[str, list[str]], folds: int) -> None:
    """Train every (condition, fold) not finished yet, fold by fold."""
    from folkclip_cli.train.config import load_config
    from folkclip_cli.train.tasks import run

    base = base_overrides(args)
    for extra in plan.values():  # every config is checked before any training
        load_config(args.config, [*base, *extra, "task=title_lm"])
    out = Path(args.out)
    order = [int(k) for k in args.only_folds.split(",") if k.strip()] or list(range(folds))
    if any(not 0 <= k < folds for k in order):
        raise FolkclipError(f"--only-folds: folds are 0-{folds - 1}, got {args.only_folds!r}")
    for k in order:
        for label, extra in plan.items():
            fold = [f"data.folds={folds}", f"data.fold={k}"]
            fcfg = load_config(args.config, [*base, *extra, "task=title_lm", *fold])
            fout = out / "runs" / label / f"fold{k}"
            state = fold_state(fcfg, fout)
            if state == "done":
                continue
            print(f"fold {k}/{folds} {label}: training"
                  + (" (resuming)" if state == "resume" else ""), flush=True)
            metrics = run(fcfg, fout, resume=state == "resume")
            if metrics is not None:
                from folkclip_cli.train.title_task import bits_summary

                print(f"fold {k}/{folds} {label}: {bits_summary(metrics)}", flush=True)


def main_from_args(args: argparse.Namespace) -> int:
    folds = 2 if args.quick else args.folds
    if folds < 2:
        raise FolkclipError(f"--folds must be >= 2, got {folds}")
    plan = labels(args.conditions, args.remove)
    if not plan:
        raise FolkclipError("nothing to do: give --conditions and/or --remove")
    if not args.tables_only:
        train(args, plan, folds)
    if not args.train_only:
        from folkclip_cli.study.bits_tables import write_tables

        write_tables(Path(args.out), list(plan), folds)
        print((Path(args.out) / "tables" / "bits.md").read_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m folkclip_cli.study.bits ...``."""
    p = argparse.ArgumentParser(prog="folkclip bits", description=__doc__.split("\n")[0])
    add_arguments(p)
    return main_from_args(p.parse_args(argv))
