"""The Ray implementation of :class:`folkclip_cli.study.launcher.Launcher` (the ``ray``
extra; the only module that imports ``ray``).

Each run is one Ray task that declares its CPUs and GPUs and runs the run's ``folkclip
train`` command line (:func:`folkclip_cli.study.jobs.subprocess_command`) with the
driver's working directory and ``PYTHONPATH``, so it writes the run folder the local
launcher would. A task killed midway is retried by Ray (``MAX_RETRIES``) and continues from
the run's ``checkpoints/last.ckpt`` (a cross-validation from its unfinished fold).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from folkclip.errors import FolkclipError
from folkclip_cli.study.jobs import ONE_PROCESS, Job, Progress, pending

MAX_RETRIES = 3  # retries of a task whose worker died (the retry resumes from the checkpoint)


def _train(cmd_args: dict, cwd: str, env: dict[str, str]) -> str:
    """Ray task body: train one run, resuming when it left a checkpoint.

    Returns:
        The run folder.

    Raises:
        FolkclipError: When training fails (its log is ``<run>/train.log``).
    """
    from folkclip_cli.study.jobs import subprocess_command

    run, folds = cmd_args["run"], cmd_args["folds"]
    out = run.out if run.out.is_absolute() else Path(cwd) / run.out
    resume = (out / "checkpoints" / "last.ckpt").exists()
    cmd = subprocess_command(run, cmd_args["config"], cmd_args["base"], resume,
                             cmd_args["extra"], folds)
    cmd[0] = sys.executable  # this worker's interpreter
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "train.log", "a") as log:
        code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                               env={**os.environ, **env})
    if code != 0:
        raise FolkclipError(f"training {out} failed (exit {code}); see {out}/train.log")
    return str(out)


class RayLauncher:
    """Runs as Ray tasks on the cluster at ``address`` (``auto``: a local cluster started
    for the run and shut down after it; an already initialised Ray is used as it is)."""

    def __init__(self, address: str, cpus_per_task: int = 1, gpus_per_task: float = 0.0
                 ) -> None:
        self.address, self.cpus, self.gpus = address, max(1, cpus_per_task), gpus_per_task
        self._queue: list[Job] = []

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def _connect(self) -> bool:
        """Connect to (or start) the cluster; True when this launcher started it."""
        try:
            import ray
        except ImportError as err:
            raise FolkclipError("--ray needs the 'ray' extra (pip install 'folkclip[ray]')"
                                ) from err
        if ray.is_initialized():
            return False
        kwargs = {"include_dashboard": False, "log_to_driver": False,
                  "configure_logging": False}
        try:
            if self.address == "auto":
                ray.init(**kwargs)
            else:
                ray.init(address=self.address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise FolkclipError(f"cannot reach the Ray cluster {self.address!r}: {err}") from err
        return True

    def wait(self) -> None:
        import ray

        todo, self._queue = pending(self._queue), []
        if not todo:
            return
        started = self._connect()
        try:
            task = ray.remote(num_cpus=self.cpus, num_gpus=self.gpus,
                              max_retries=MAX_RETRIES)(_train)
            env = {"PYTHONPATH": os.environ.get("PYTHONPATH", ""),
                   **({} if self.gpus else {"CUDA_VISIBLE_DEVICES": ""})}
            extra = [*(["trainer.accelerator=gpu"] if self.gpus else []), *ONE_PROCESS,
                     f"trainer.threads={self.cpus}"]
            refs, resumed = {}, {}
            for job, resume in todo:
                args = {"run": job.run, "config": job.config, "base": list(job.base),
                        "extra": extra, "folds": job.folds}
                ref = task.remote(args, os.getcwd(), env)
                refs[ref], resumed[ref] = job, resume
            progress = Progress(len(refs))
            waiting = list(refs)
            while waiting:
                ready, waiting = ray.wait(waiting, num_returns=1)
                try:
                    ray.get(ready[0])
                except ray.exceptions.RayTaskError as err:
                    cause = err.as_instanceof_cause()
                    raise FolkclipError(str(cause)) from None
                progress.finished(refs[ready[0]].run, resumed[ready[0]])
        finally:
            if started:
                ray.shutdown()
