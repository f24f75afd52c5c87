"""A planned training run and how one is trained on this machine: its folder's state
(finished, to resume, new; refusing other settings), in this process or as a ``folkclip
train`` subprocess (one GPU per job when GPUs are present). Shared by the launchers
(:mod:`folkclip_cli.study.launcher`) and the commands that plan runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from folkclip.errors import FolkclipError
from folkclip.io.runfiles import read_json

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class Variant:
    """A labelled set of config overrides."""

    label: str
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannedRun:
    """One training run of a sweep."""

    variant: Variant
    seed: int
    out: Path

    @property
    def overrides(self) -> list[str]:
        return [*self.variant.overrides, f"seed={self.seed}"]


# What a finished run leaves: a two-tower run its test evaluation, a melody LM its
# test perplexities.
FINISHED = ("eval_test.json", "perplexity.json")
# Settings that change speed or display, not results: free to differ when resuming.
_NEUTRAL = ("trainer.threads=", "trainer.progress_bar=", "trainer.num_workers=")


def state(run: PlannedRun, config: str | None, base: list[str], folds: int = 0) -> str:
    """``done``, ``resume`` or ``new``; refuses a folder planned with other overrides."""
    record = run.out / "sweep_run.json"
    wanted = {"config": config, "overrides": [o for o in [*base, *run.overrides]
                                              if not o.startswith(_NEUTRAL)]}
    if folds:
        wanted["folds"] = folds
    if record.exists() and read_json(record) != wanted:
        raise FolkclipError(f"{run.out} was trained with other settings "
                            f"({record.read_text().strip()}); use another --out or delete it")
    if any((run.out / name).exists() for name in FINISHED):
        return "done"
    run.out.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(wanted))
    return "resume" if (run.out / "checkpoints" / "last.ckpt").exists() else "new"


def train_in_process(run: PlannedRun, config: str | None, base: list[str], resume: bool,
                      quiet: bool, folds: int = 0) -> None:
    from folkclip_cli.study.crossval import run_cv
    from folkclip_cli.train.config import load_config
    from folkclip_cli.train.tasks import run as train_run

    extra = ["trainer.progress_bar=false"] if quiet else []
    cfg = load_config(config, [*base, *run.overrides, *extra])
    if folds:
        run_cv(cfg, run.out, folds)  # skips finished folds, resumes interrupted ones
    else:
        train_run(cfg, run.out, resume=resume)


def subprocess_command(run: PlannedRun, config: str | None, base: list[str], resume: bool,
                       extra: list[str], folds: int = 0) -> list[str]:
    """The ``folkclip train`` command line of ``run`` (``extra``: job overrides, last)."""
    cmd = [sys.executable, "-m", "folkclip_cli.main", "train", "--out", str(run.out)]
    if config:
        cmd += ["--config", config]
    if folds:
        cmd += ["--folds", str(folds)]
    for o in [*base, *run.overrides, "trainer.progress_bar=false", *extra]:
        cmd += ["--set", o]
    if resume and not folds:
        cmd.append("--resume")
    return cmd


def train_subprocess(run: PlannedRun, config: str | None, base: list[str], resume: bool,
                      env: dict[str, str], extra: list[str], folds: int = 0) -> None:
    cmd = subprocess_command(run, config, base, resume, extra, folds)
    with open(run.out / "train.log", "a") as log:
        code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, **env})
    if code != 0:
        raise FolkclipError(f"training {run.out} failed (exit {code}); see {run.out}/train.log")


GPU_ACCELERATORS = ("auto", "gpu", "cuda")  # config accelerators a GPU job may take over


# A job trains in one process, whatever its config says (configs/default.yaml trains with
# two data-parallel processes on a CPU of its own).
ONE_PROCESS = ("trainer.devices=1", "trainer.strategy=auto")


def job_settings(slot: int, jobs: int, gpus: int, accelerator: str,
                 cpus: int) -> tuple[dict[str, str], list[str]]:
    """Environment and config overrides of the subprocess in ``slot`` of ``jobs``.

    Args:
        slot: The job slot (0..jobs-1) the run executes in.
        jobs: Parallel subprocesses.
        gpus: CUDA devices visible to the sweep.
        accelerator: The runs' configured ``trainer.accelerator``.
        cpus: CPU cores of the machine.

    Returns:
        ``(env, overrides)``: with GPUs and a GPU-capable accelerator, one GPU per job
        (``CUDA_VISIBLE_DEVICES``, ``trainer.accelerator=gpu``); otherwise CPU training
        with ``cpus // jobs`` threads each. Either way a job is one process
        (:data:`ONE_PROCESS`): the jobs are the parallelism, and since
        ``trainer.batch_size`` is the global batch the results do not change.
    """
    if gpus > 0 and accelerator in GPU_ACCELERATORS:
        return ({"CUDA_VISIBLE_DEVICES": str(slot % gpus)},
                ["trainer.accelerator=gpu", *ONE_PROCESS])
    return ({"CUDA_VISIBLE_DEVICES": ""},
            [f"trainer.threads={max(1, cpus // jobs)}", *ONE_PROCESS])


@dataclass(frozen=True)
class Job:
    """One run to train: its plan entry and how (config file, shared overrides, folds)."""

    run: PlannedRun
    config: str | None
    base: tuple[str, ...]
    folds: int = 0


class Launcher(Protocol):
    """Trains submitted runs; :meth:`wait` returns when every one is finished."""

    def submit(self, job: Job) -> None: ...

    def wait(self) -> None: ...


@dataclass
class Progress:
    """Prints ``[k/n] label seed s done (... min, about ... min left)`` per finished run.

    The time left is the wall time per run of the runs trained from their start in this
    call, times the runs left: a resumed run's time says nothing of a whole run's (it may
    have had one epoch left), so until a run trained from the start finishes, no estimate
    is printed. Runs trained side by side share the wall time, so the estimate is
    pessimistic while resumed runs fill job slots.
    """

    total: int
    clock: Callable[[], float] = time.time
    done: int = 0
    fresh: int = 0
    start: float = field(init=False)

    def __post_init__(self) -> None:
        self.start = self.clock()

    def finished(self, run: PlannedRun, resumed: bool = False) -> str:
        """Count ``run`` as finished and print (and return) its line."""
        self.done += 1
        self.fresh += not resumed
        elapsed = self.clock() - self.start
        left = self.total - self.done
        if not left:
            eta = "none left"
        elif self.fresh:
            eta = f"about {elapsed / self.fresh * left / 60:.1f} min left"
        else:
            eta = f"{left} left; no estimate until a run trained from its start finishes"
        line = (f"[{self.done}/{self.total}] {run.variant.label} seed {run.seed} done"
                f"{' (resumed)' if resumed else ''} ({elapsed / 60:.1f} min, {eta})")
        print(line, flush=True)
        return line


def pending(jobs: list[Job]) -> list[tuple[Job, bool]]:
    """The jobs not finished yet, each with whether it resumes; prints the count.

    Raises:
        FolkclipError: When a run folder was trained with other settings.
    """
    states = [state(j.run, j.config, list(j.base), j.folds) for j in jobs]
    todo = [(j, s == "resume") for j, s in zip(jobs, states) if s != "done"]
    print(f"{len(jobs)} runs: {len(jobs) - len(todo)} finished, {len(todo)} to train",
          flush=True)
    return todo
