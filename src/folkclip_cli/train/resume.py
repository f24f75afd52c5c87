"""What an exact resume needs beyond Lightning's own checkpoint: step checkpoints and the
random number generators' state.

A run killed at any moment (even SIGKILL) resumes with ``--resume`` from
``checkpoints/last.ckpt``, which :class:`StepCheckpoint` rewrites every
``trainer.checkpoint_every_n_steps`` optimiser steps (atomically: Lightning writes a
temporary file and renames it). Together with the loader's position
(:class:`folkclip_cli.train.loaders.ResumableLoader`) and the generator states kept by
:class:`RandomState`, the resumed run computes the same batches, dropout masks and
updates as a run that was never interrupted.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback


class RandomState(Callback):
    """Keeps the torch, numpy and Python generator states in every checkpoint and puts
    them back when training resumes (dropout masks then continue as if never stopped)."""

    def __init__(self) -> None:
        self._loaded: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        return {"torch": torch.get_rng_state(), "python": random.getstate(),
                "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(gauss)]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._loaded = state_dict  # applied when training starts, after the set-up

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._loaded is None:
            return
        state, self._loaded = self._loaded, None
        torch.set_rng_state(state["torch"])
        py = state["python"]
        random.setstate((py[0], tuple(py[1]), py[2]))
        kind, keys, pos, has_gauss, gauss = state["numpy"]
        np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))


class StepCheckpoint(Callback):
    """Writes ``path`` (the run's ``last.ckpt``) every ``every`` optimiser steps."""

    def __init__(self, path: Path, every: int) -> None:
        self.path = path
        self.every = every

    @property
    def state_key(self) -> str:
        return f"StepCheckpoint[every={self.every}]"

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        step = trainer.global_step
        if self.every > 0 and step > 0 and step % self.every == 0:
            trainer.save_checkpoint(str(self.path))
