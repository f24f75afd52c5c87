"""The study's trainings in the order that decides its questions, with estimated hours.

:func:`steps` orders a :class:`~folkclip_cli.study.plan.StudyPlan` into named steps:
``core`` (the decisive rows that need no language model, every seed), ``baselines``
(part 4's random, nearest-melody and linear baselines, no training), ``lm`` (one melody
LM per fold), ``pool`` and ``lm-wide`` (part 3b, sizes with a wide pool: the pools of
:mod:`folkclip_cli.study.pool` and one LM per fold on them), ``core-lm`` (the decisive
transferred rows), then ``removal``, ``encoders``
and ``transfer`` (the other rows, one seed) and ``traditions`` (part 6, which needs part
1's best encoder). ``folkclip study --part NAME`` trains one step (its dependencies must be
finished), ``--max-hours H`` trains steps in order while their estimate fits in H hours;
finished runs are skipped either way, so the next call continues.

An estimate is training steps × the size's measured seconds per step
(:class:`~folkclip_cli.study.sizes.StudySize`) ÷ parallel jobs: every epoch of every fold
(early stopping can only shorten it); the per-step figures include evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from folkclip.errors import FolkclipError

if TYPE_CHECKING:
    from folkclip_cli.study.jobs import PlannedRun
    from folkclip_cli.study.plan import StudyPlan
    from folkclip_cli.study.sizes import StudySize

STEP_NAMES = ("core", "baselines", "lm", "pool", "lm-wide", "core-lm", "removal", "encoders", "transfer",
              "traditions")
NEEDS = {"lm-wide": ("pool",), "core-lm": ("lm", "lm-wide"), "transfer": ("lm", "lm-wide"),
         "traditions": ("core", "encoders")}
NOTTINGHAM_TUNES = 1034  # shared/data/README.md; part 6 cross-validates on it
# Tunes the wide pool adds to a fold's training part before the overlap filter
# (shared/data/README.md: Nottingham 1,034, Essen ~8,500, miscFolk 185); for the estimate.
WIDE_POOL_EXTRA_TUNES = 9700


@dataclass
class Step:
    """One resumable step: its runs (two-tower or language models) and estimate."""

    name: str
    title: str
    runs: list[PlannedRun] = field(default_factory=list)
    lm: bool = False
    hours: float = 0.0
    seeds: str = "1"
    outputs: list[Path] = field(default_factory=list)  # what a step without runs writes
    wide: bool = False  # language models of the wide pool

    @property
    def wide_outputs(self) -> bool:
        return self.name == "pool" and bool(self.outputs)


def steps(plan: StudyPlan) -> list[Step]:
    """The plan's runs in deciding order (part 6's labels are estimated, not yet named)."""
    from folkclip_cli.study.baselines import LABELS as BASELINES
    from folkclip_cli.study.plan import DECISIVE, pool_file

    decisive = [lbl for lbl in DECISIVE if lbl in plan.variants]
    core = [lbl for lbl in decisive if not plan.uses_lm(lbl)]
    core_lm = [lbl for lbl in decisive if plan.uses_lm(lbl)]
    seeds = max([plan.seeds.get(lbl, 1) for lbl in decisive] or [1])

    def all_seeds(labels: list[str]) -> list[PlannedRun]:
        return [r for s in range(seeds) for r in plan.runs(labels, s)]

    def rest(labels: list[str]) -> list[str]:
        return [lbl for lbl in dict.fromkeys(labels) if lbl not in decisive]

    removal = rest(plan.parts["removal"])
    own = [lbl for lbl in plan.parts["encoders"] if not plan.uses_lm(lbl)]
    encoders = [lbl for lbl in rest(own) if lbl not in removal]
    transfer = [lbl for lbl in rest([*plan.parts["encoders"], *plan.parts["transfer"]])
                if lbl not in own]
    s = f"{seeds}"
    return [Step("core", "decisive rows without a language model", all_seeds(core), seeds=s),
            Step("baselines", "part 4: random, nearest-melody and linear baselines "
                              "(no training)",
                 outputs=[plan.run_dir(lbl) / "eval_test.json" for lbl in BASELINES]),
            Step("lm", "melody language models, one per fold", list(plan.lm_runs), lm=True),
            Step("pool", "wide pretraining pools, overlap removed (no training)",
                 outputs=[pool_file(plan.out, k).with_suffix(".json")
                          for k in range(plan.folds)] if plan.lm_wide_runs else []),
            Step("lm-wide", "melody LMs on the wide pools, one per fold",
                 list(plan.lm_wide_runs), lm=True, wide=True),
            Step("core-lm", "decisive transferred rows", all_seeds(core_lm), seeds=s),
            Step("removal", "part 2, other removals", plan.runs(removal)),
            Step("encoders", "part 1, other encoders", plan.runs(encoders)),
            Step("transfer", "parts 1 and 3, transferred towers and learning curves",
                 plan.runs(transfer)),
            Step("traditions", ("part 6: header-only and the best encoder on default's "
                                "split and on nottingham"))]


def estimate(plan: StudyPlan, all_steps: list[Step], size: StudySize, tunes: int,
             titled: int, epochs: int, lm_epochs: int, batch: int, lm_batch: int,
             jobs: int) -> None:
    """Fill each step's ``hours``.

    Args:
        tunes: Tunes of the sources (a language model trains on titled and untitled ones).
        titled: Titled tunes (two-tower training pairs).
        epochs, lm_epochs: Epochs of a two-tower run and of a language model.
        batch, lm_batch: Their batch sizes.
        jobs: Runs trained at once.
    """
    k = plan.folds
    train_share = (k - 1) / k * 8 / 9  # a fold's training part less its validation part

    def tower_seconds(run: PlannedRun | None, n: int, folds: int) -> float:
        share = 1.0
        for o in run.overrides if run else ():
            if o.startswith("data.train_share="):
                share = float(o.split("=", 1)[1])
        per_fold = math.ceil(n * (train_share if folds else 0.8) * share / batch)
        return max(folds, 1) * epochs * per_fold * size.step_seconds

    lm_seconds = lm_epochs * math.ceil(tunes * train_share / lm_batch) * size.lm_step_seconds
    wide_seconds = lm_epochs * math.ceil((tunes * train_share + WIDE_POOL_EXTRA_TUNES)
                                         / lm_batch) * size.lm_step_seconds
    for step in all_steps:
        if step.name in ("pool", "baselines"):
            total = 0.0
        elif step.lm:
            total = (wide_seconds if step.wide else lm_seconds) * len(step.runs)
        elif step.name == "traditions":
            total = 2 * (tower_seconds(None, titled, 0) + tower_seconds(None, NOTTINGHAM_TUNES, k))
        else:
            total = sum(tower_seconds(r, titled, k) for r in step.runs)
        step.hours = total / 3600 / max(1, jobs)


def plan_text(all_steps: list[Step], size: StudySize, jobs: int) -> str:
    """The printed plan: one line per step with its runs, seeds and estimated hours."""
    head = (f"plan ({size.name} size, {jobs} job(s) at once; estimate from "
            f"{size.step_seconds} s per two-tower step and {size.lm_step_seconds} s per "
            f"LM step on one thread of an idle machine; {size.source}):")
    lines = [head]
    for s in all_steps:
        n = (f"{len(s.runs)} runs" if s.runs else f"{len(s.outputs)} pools" if s.wide_outputs
             else f"{len(s.outputs)} folders" if s.outputs
             else "4 runs" if s.name == "traditions" else "0 runs")
        lines.append(f"  {s.name:<10} {n:>9}  seeds {s.seeds}  ~{s.hours:7.2f} h  {s.title}")
    lines.append(f"  {'total':<10} {'':>9}           ~{sum(s.hours for s in all_steps):7.2f} h")
    return "\n".join(lines)


def select(all_steps: list[Step], part: str | None, max_hours: float | None) -> list[Step]:
    """The steps to train now: ``part`` alone, or the steps in order while the estimates of
    those with unfinished runs fit in ``max_hours`` (all without either).

    Raises:
        FolkclipError: For an unknown part.
    """
    if part is not None:
        if part not in STEP_NAMES:
            raise FolkclipError(f"unknown --part {part!r}; choose one of "
                                f"{', '.join(STEP_NAMES)}")
        return [s for s in all_steps if s.name == part]
    if max_hours is None:
        return all_steps
    chosen, used = [], 0.0
    for s in all_steps:
        left = s.hours * unfinished_share(s)
        if used + left > max_hours:
            break
        chosen.append(s)
        used += left
    return chosen


def unfinished_share(step: Step) -> float:
    """Share of the step's runs without a finished evaluation (of its outputs missing for
    a step without runs; 1 for part 6)."""
    if not step.runs:
        if step.outputs:
            return sum(not p.exists() for p in step.outputs) / len(step.outputs)
        return 0.0 if step.name in ("pool", "lm-wide") else 1.0
    from folkclip_cli.study.jobs import FINISHED

    left = [r for r in step.runs if not any((r.out / n).exists() for n in FINISHED)]
    return len(left) / len(step.runs)
