"""``folkclip ablate`` and ``folkclip sweep``: one config trained as several variants ×
seeds on the same split, then summarised like ``folkclip compare``.

    folkclip ablate --config FILE --remove key,meter,rhythm,type+meter [--seeds 3]
                    [--folds K] [--set KEY=VALUE ...] [--out DIR] [--jobs N | --ray ADDRESS]
    folkclip sweep  --config FILE --variant LABEL KEY=VALUE ... [--variant ...] [--seeds 3]
                    [--folds K] [--set KEY=VALUE ...] [--out DIR] [--jobs N | --ray ADDRESS]

``ablate`` trains the full-information model (label ``full``) and one model per removed
element (tokenizer switches such as ``key``, ``rhythm``, ``pitch``, combinations ``a+b``,
or ``first_bars=N``), each removal added to the config's own ``data.remove``. ``sweep``
trains the variants given as config overrides (e.g. scratch vs transferred encoders).
Runs land in ``OUT/<label>/seed<k>`` with ``seed=k``; the split (``data.split_seed``) is
the same for all. With ``--folds K`` each run is a grouped K-fold cross-validation
(:mod:`folkclip_cli.study.crossval`): every tune of the sources is tested once, and the
variants are compared query by query on all of them. Finished runs (and folds) are skipped
and interrupted ones resumed, so the same command continues an ablation. With ``--jobs N``
runs execute as N subprocesses: when CUDA GPUs are present and the config's
``trainer.accelerator`` is ``auto``, ``gpu`` or ``cuda``, each subprocess trains on one GPU
(``accelerator=gpu``, ``devices=1``, its GPU picked round robin through
``CUDA_VISIBLE_DEVICES``); otherwise the runs stay on the CPU with the CPU threads shared
out. With ``--ray ADDRESS`` (or ``auto``) the runs are Ray tasks instead
(:mod:`folkclip_cli.study.launcher`), written to the same folders.
The summary is written to ``OUT/ablation.{csv,md,json,png}`` (``sweep.*`` for sweeps).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from folkclip.errors import FolkclipError
from folkclip_cli.study.jobs import PlannedRun, Variant

if TYPE_CHECKING:
    from folkclip_cli.train.config import DataConfig


def ablation_variants(base_remove: list[str], elements: list[str]) -> list[Variant]:
    """``full`` plus one variant per element (``a+b`` removes both; ``first_bars=N`` keeps
    the first N bars), each adding its removals to ``base_remove``.

    Raises:
        FolkclipError: For an unknown switch or a repeated element.
    """
    from folkclip.data.tokenize import TokenizerConfig

    variants = [Variant("full")]
    for element in elements:
        element = element.strip()
        if not element or element == "full":
            raise FolkclipError(f"bad --remove element {element!r}")
        spec = TokenizerConfig.from_spec(element)  # checks the switch names
        if any(v.label == element for v in variants):
            raise FolkclipError(f"--remove lists {element!r} twice")
        remove = sorted(set(base_remove) | set(spec.remove))
        overrides = [f"data.remove=[{', '.join(remove)}]"]
        if spec.first_bars:
            overrides.append(f"data.first_bars={spec.first_bars}")
        variants.append(Variant(element, tuple(overrides)))
    return variants


def plan(variants: list[Variant], seeds: int, out: Path) -> list[PlannedRun]:
    """Every (variant, seed) run, seeds 0..seeds-1, in ``out/<label>/seed<k>``."""
    if seeds < 1:
        raise FolkclipError("--seeds must be >= 1")
    return [PlannedRun(v, s, out / v.label / f"seed{s}") for v in variants for s in range(seeds)]


def _common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="YAML config of every run")
    p.add_argument("--seeds", type=int, default=3, help="seeds per variant (0..N-1)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override for every run (repeatable)")
    p.add_argument("--data", nargs="+", default=None, help="data sources of every run")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (subprocesses)")
    p.add_argument("--folds", type=int, default=0,
                   help="grouped K-fold cross-validation per run (every tune tested once)")
    p.add_argument("--progress", action="store_true", help="show each run's progress bar")
    p.add_argument("--ray", default=None, metavar="ADDRESS|auto",
                   help="train the runs as tasks on this Ray cluster ('auto': start a local "
                        "one); results land where a local run writes them")


def add_ablate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--remove", required=True,
                   help="comma-separated elements: switches (key, meter, type, rhythm, pitch, "
                        "...), a+b combinations, first_bars=N")
    p.add_argument("--out", default="runs/ablation")
    p.add_argument("--residual", action="store_true",
                   help="also probe how much of each removed element the tokens still carry "
                        "(folkclip data check-removal) into OUT/residual.{json,md}")
    _common_arguments(p)


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", nargs="+", action="append", required=True,
                   metavar=("LABEL", "KEY=VALUE"),
                   help="a label and its config overrides (repeatable)")
    p.add_argument("--reference", default=None, help="label for differences (default: first)")
    p.add_argument("--out", default="runs/sweep")
    _common_arguments(p)


def _base_overrides(args: argparse.Namespace) -> list[str]:
    base = list(args.overrides)
    if args.data:
        base.append(f"data.sources=[{', '.join(args.data)}]")
    return base


def _finish(runs: list[PlannedRun], out: Path, stem: str, reference: str,
            first_column: str) -> int:
    from folkclip_cli.study.compare import markdown_table, read_run, summarise, write_summary

    results = [read_run(r.out, r.variant.label) for r in runs]
    paths = write_summary(results, out, stem, reference, first_column, title=stem)
    print(markdown_table(summarise(results, reference), first_column=first_column,
                         reference=reference))
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def ablate_from_args(args: argparse.Namespace) -> int:
    from folkclip_cli.train.config import load_config

    base = _base_overrides(args)
    cfg = load_config(args.config, base)  # checks the config and overrides first
    variants = ablation_variants(list(cfg.data.remove), args.remove.split(","))
    out = Path(args.out)
    runs = plan(variants, args.seeds, out)
    from folkclip_cli.study.launcher import execute

    execute(runs, args.config, base, args.jobs, quiet=not args.progress, folds=args.folds,
            ray=args.ray)
    code = _finish(runs, out, "ablation", "full", "remove")
    if getattr(args, "residual", False):
        write_residual(out, [v.label for v in variants], cfg.data)
    return code


def write_residual(out: Path, labels: list[str], data: DataConfig) -> Path:
    """Write the residual-information column of the ablation rows ``labels`` (see
    :func:`folkclip.data.removal_probe.residual_column`) to ``out/residual.{json,md}``."""
    from folkclip.data.removal_probe import residual_column

    column = residual_column(labels, list(data.sources), data.tokenizer())
    (out / "residual.json").write_text(json.dumps(column, indent=1))
    lines = ["| remove | residual information (probe accuracy removed; kept, majority) |",
             "|---|---|", *(f"| {k} | {v} |" for k, v in column.items())]
    path = out / "residual.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return path


def sweep_from_args(args: argparse.Namespace) -> int:
    from folkclip_cli.train.config import load_config

    base = _base_overrides(args)
    variants = []
    for label, *overrides in args.variant:
        if "=" in label or "/" in label:
            raise FolkclipError(f"--variant starts with a label, got {label!r}")
        load_config(args.config, [*base, *overrides])  # fail before any training
        variants.append(Variant(label, tuple(overrides)))
    if len({v.label for v in variants}) != len(variants):
        raise FolkclipError("--variant labels must differ")
    out = Path(args.out)
    runs = plan(variants, args.seeds, out)
    from folkclip_cli.study.launcher import execute

    execute(runs, args.config, base, args.jobs, quiet=not args.progress, folds=args.folds,
            ray=args.ray)
    return _finish(runs, out, "sweep", args.reference or variants[0].label, "variant")


def main(argv: list[str] | None = None) -> int:
    """``python -m folkclip_cli.study.sweep ablate|sweep ...``."""
    p = argparse.ArgumentParser(prog="folkclip", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    add_ablate_arguments(sub.add_parser("ablate"))
    add_sweep_arguments(sub.add_parser("sweep"))
    args = p.parse_args(argv)
    return ablate_from_args(args) if args.command == "ablate" else sweep_from_args(args)
