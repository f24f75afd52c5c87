"""Where the trainings of ``study``, ``sweep`` and ``ablate`` run: one small interface.

A :class:`Launcher` takes runs (:meth:`~Launcher.submit`), trains them and returns when all
are finished (:meth:`~Launcher.wait`). Two implementations:

* :class:`LocalLauncher` — this machine: in this process (``--jobs 1``) or as ``--jobs N``
  ``folkclip train`` subprocesses, one GPU each when GPUs are present
  (:func:`folkclip_cli.study.jobs.job_settings`). Needs no Ray.
* :class:`RayLauncher` (:mod:`folkclip_cli.study.ray_launcher`) — tasks on a Ray cluster
  (``--ray ADDRESS``, or ``--ray auto`` to start a local one for the run). Each task
  declares its CPUs and GPUs and runs the same ``folkclip train`` command line in the run's
  folder, so results land where the local run writes them (the cluster's workers must see
  the study folder: one machine or a shared file system).

Resuming is the same for both: a run folder with a finished evaluation is skipped, one with
``checkpoints/last.ckpt`` continues from it (Ray retries a killed task, which then resumes),
and a folder trained with other settings is refused (:func:`folkclip_cli.study.jobs.state`).
The commands choose a launcher with :func:`make_launcher` and never branch on it elsewhere.
"""

from __future__ import annotations

import os

from folkclip_cli.study.jobs import Job, Launcher, PlannedRun, Progress, pending


class LocalLauncher:
    """This machine: in process (``jobs`` 1) or ``jobs`` parallel subprocesses."""

    def __init__(self, jobs: int = 1, quiet: bool = True) -> None:
        self.jobs, self.quiet = max(1, jobs), quiet
        self._queue: list[Job] = []

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def wait(self) -> None:
        from folkclip_cli.study.jobs import train_in_process, train_subprocess

        todo, self._queue = pending(self._queue), []
        progress = Progress(len(todo))
        if self.jobs == 1:
            for job, resume in todo:
                print(f"training {job.run.out}" + (" (resuming)" if resume else ""), flush=True)
                train_in_process(job.run, job.config, list(job.base), resume, self.quiet,
                                 job.folds)
                progress.finished(job.run, resume)
            return
        from concurrent.futures import ThreadPoolExecutor
        from queue import Queue

        import torch

        from folkclip_cli.study.jobs import job_settings
        from folkclip_cli.train.config import load_config

        gpus = torch.cuda.device_count()
        slots: Queue = Queue()
        for k in range(self.jobs):
            slots.put(k)

        def work(item: tuple[Job, bool]) -> None:
            job, resume = item
            slot = slots.get()
            try:
                accelerator = load_config(job.config, [*job.base, *job.run.overrides]
                                          ).trainer.accelerator
                env, extra = job_settings(slot, self.jobs, gpus, accelerator,
                                          os.cpu_count() or 1)
                train_subprocess(job.run, job.config, list(job.base), resume, env, extra,
                                 job.folds)
                progress.finished(job.run, resume)
            finally:
                slots.put(slot)

        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            for f in [pool.submit(work, item) for item in todo]:
                f.result()


def make_launcher(jobs: int = 1, ray: str | None = None, quiet: bool = True,
                  cpus_per_task: int = 1, gpus_per_task: float = 0.0) -> Launcher:
    """The launcher the flags ask for: Ray with ``ray`` (an address or ``auto``), else local.

    Args:
        jobs: Local parallel runs (ignored with Ray: the cluster schedules).
        ray: Ray cluster address, ``auto`` (start a local cluster), or ``None``.
        quiet: Hide the in-process progress bars.
        cpus_per_task: CPUs each Ray task declares (and its training's threads).
        gpus_per_task: GPUs each Ray task declares (> 0 trains on the GPU).
    """
    if ray:
        from folkclip_cli.study.ray_launcher import RayLauncher

        return RayLauncher(ray, cpus_per_task, gpus_per_task)
    return LocalLauncher(jobs, quiet)


def execute(runs: list[PlannedRun], config: str | None, base: list[str], jobs: int = 1,
            quiet: bool = True, folds: int = 0, ray: str | None = None) -> None:
    """Train every run not yet finished: on this machine (``jobs`` 1 in this process, else
    ``jobs`` parallel subprocesses, one GPU each, see :func:`job_settings`) or, with ``ray``
    (an address or ``auto``), as Ray tasks (:mod:`folkclip_cli.study.launcher`); with
    ``folds`` K, each run is a K-fold cross-validation."""
    launcher = make_launcher(jobs, ray, quiet, **ray_resources(config, base, ray))
    for r in runs:
        launcher.submit(Job(r, config, tuple(base), folds))
    launcher.wait()


def ray_resources(config: str | None, base: list[str], ray: str | None) -> dict:
    """CPUs and GPUs each Ray task declares: one GPU when the runs ask for a GPU
    accelerator, else none; CPUs from ``trainer.threads`` (at least 1)."""
    if not ray:
        return {}
    from folkclip_cli.train.config import load_config

    trainer = load_config(config, base).trainer
    gpu = trainer.accelerator in ("gpu", "cuda")
    return {"cpus_per_task": max(1, trainer.threads), "gpus_per_task": 1.0 if gpu else 0.0}
