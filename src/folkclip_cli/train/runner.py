"""The Trainer every task shares: run-folder preparation (threads, seeds, resolved config,
tokenized corpus and its split), loggers, checkpoints, early stopping, resume, the
optimiser and its learning-rate schedule. The contrastive task
(:mod:`folkclip_cli.train.contrastive`) and the melody-LM task
(:mod:`folkclip_cli.train.lm_task`) call it; it calls neither.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from folkclip.errors import FolkclipError

if TYPE_CHECKING:  # imported when run: the command line starts fast without Lightning
    import lightning as L
    import numpy as np
    import torch
    from torch.utils.data import DataLoader

    from folkclip.data.dataset import TokenizedCorpus
    from folkclip.data.tokenize import TokenizerConfig
    from folkclip_cli.train.config import OptimConfig, TrainConfig, TrainerConfig


def _loggers(cfg, out: Path) -> list:  # noqa: ANN001
    from lightning.pytorch import loggers

    result: list = [loggers.CSVLogger(str(out), name="logs", version="")]
    kind = cfg.tracking.logger
    if kind == "tensorboard":
        try:
            result.append(loggers.TensorBoardLogger(str(out), name="logs", version="tensorboard"))
        except ModuleNotFoundError:
            print("folkclip: tensorboard not installed; logging to CSV only")
    elif kind == "mlflow":
        uri = cfg.tracking.mlflow_uri or f"sqlite:///{(out / 'mlflow.db').resolve()}"
        result.append(loggers.MLFlowLogger(experiment_name="folkclip", tracking_uri=uri,
                                           artifact_location=str((out / "mlruns").resolve())))
    elif kind == "wandb":
        result.append(loggers.WandbLogger(project="folkclip", save_dir=str(out)))
    # "csv" and "none": the CSV logger only (the config allows no other value)
    params = flat_params(cfg)
    for logger in result:
        logger.log_hyperparams(params)  # the resolved config as the run's parameters
    return result


def flat_params(cfg: TrainConfig) -> dict[str, object]:
    """The config as one level of dotted keys (``trainer.max_epochs``), lists as text."""
    from folkclip.config import to_dict

    out: dict[str, object] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out[prefix] = value if isinstance(value, (int, float, str, bool)) else str(value)

    walk("", to_dict(cfg))
    return out


def prepare_run(cfg: TrainConfig, out: Path
                ) -> tuple[TokenizedCorpus, dict[str, np.ndarray], TokenizerConfig]:
    """What every task does first: threads, seeds, the resolved ``config.yaml``, the
    tokenized corpus and its leakage-safe split (written to ``split.json``).

    Returns:
        (tokenized corpus, split indices by name, tokenizer configuration).
    """
    import lightning as L
    import torch

    from folkclip.data.dataset import load_tokenized
    from folkclip_cli.train.config import save_config

    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    dc = cfg.data
    tok_cfg = dc.tokenizer()
    tc = load_tokenized(dc.sources, tok_cfg, progress=cfg.trainer.progress_bar)
    splits = tc.split(dc.split_seed, tuple(dc.fractions), dc.folds, dc.fold, dc.train_share)
    (out / "split.json").write_text(json.dumps(
        {k: [f"{tc.meta[i]['source']}#{tc.meta[i]['number']}" for i in v]
         for k, v in splits.items()}))
    return tc, splits, tok_cfg


def fit(cfg: TrainConfig, out: Path, module: L.LightningModule, train_loader: DataLoader,
        val_loader: DataLoader, *, mode: str, callbacks: list | None = None,
        resume: bool = False) -> L.Trainer:
    """Fit ``module`` with the Trainer every task shares: the configured loggers, best and
    last checkpoints (``last.ckpt`` also every ``trainer.checkpoint_every_n_steps``
    steps), early stopping on ``trainer.monitor`` (``mode`` ``max`` or ``min``), the
    generator states needed for an exact resume, plus task ``callbacks``. On the first
    process the best checkpoint's weights are loaded back into ``module``.

    Returns:
        The Lightning Trainer.
    """
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from folkclip_cli.train.resume import RandomState, StepCheckpoint

    tr = cfg.trainer
    ckpt = ModelCheckpoint(dirpath=str(out / "checkpoints"), filename="best",
                           monitor=tr.monitor, mode=mode, save_last=True)
    stop = EarlyStopping(monitor=tr.monitor, mode=mode, check_on_train_epoch_end=False,
                         patience=tr.early_stopping_patience)
    last = out / "checkpoints" / "last.ckpt"
    extra = [RandomState()]
    if tr.checkpoint_every_n_steps:
        extra.append(StepCheckpoint(last, tr.checkpoint_every_n_steps))
    trainer = L.Trainer(
        max_epochs=tr.max_epochs, max_steps=tr.max_steps, accelerator=tr.accelerator,
        devices=tr.devices, num_nodes=tr.num_nodes, strategy=tr.strategy,
        precision=tr.precision, gradient_clip_val=tr.grad_clip or None,
        logger=_loggers(cfg, out), callbacks=[ckpt, stop, *extra, *(callbacks or [])],
        default_root_dir=str(out), log_every_n_steps=tr.log_every_n_steps,
        enable_progress_bar=tr.progress_bar, enable_model_summary=False,
        num_sanity_val_steps=0, deterministic=True,
        use_distributed_sampler=False)  # each loader deals its process's share itself
    if resume:
        check_checkpoint(last)
    metrics_csv = out / "logs" / "metrics.csv"
    before = metrics_csv.read_text() if resume and metrics_csv.exists() else ""
    trainer.fit(module, train_loader, val_loader, ckpt_path=str(last) if resume else None)
    if before and trainer.is_global_zero:  # the CSV logger starts a new file on resume
        merge_metrics_csv(before, metrics_csv)
    best = ckpt.best_model_path
    if trainer.is_global_zero and best and Path(best).exists():
        state = torch.load(best, map_location="cpu", weights_only=False)["state_dict"]
        module.load_state_dict(state)
    return trainer


def check_checkpoint(path: Path) -> None:
    """Refuse to resume from a missing or damaged checkpoint, with a one-line message.

    Raises:
        FolkclipError: When ``path`` is missing, truncated or not a training checkpoint.
    """
    import pickle

    import torch

    if not path.exists():
        raise FolkclipError(f"--resume: no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as err:
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        raise FolkclipError(f"--resume: {path} cannot be read ({reason}); delete it to start "
                            "the run again") from None
    if not isinstance(ckpt, dict) or not {"global_step", "state_dict", "loops"} <= set(ckpt):
        raise FolkclipError(f"--resume: {path} is not a training checkpoint")


def merge_metrics_csv(before: str, path: Path) -> None:
    """Put the rows logged before a resume (``before``, CSV text) back in front of the
    rows in ``path`` that the resumed run wrote, dropping old rows from steps it redid."""
    import csv
    import io

    old = list(csv.DictReader(io.StringIO(before)))
    new = list(csv.DictReader(open(path))) if path.exists() else []
    first = min((int(r["step"]) for r in new), default=None)
    rows = [r for r in old if first is None or int(r["step"]) < first] + new
    fields = list(dict.fromkeys(k for r in [*old[:1], *new[:1], *rows] for k in r))
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def lr_lambda(step: int, warmup: int, total: int, schedule: str) -> float:
    """Linear warm-up, then cosine decay to 0 (or constant)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant" or total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def planned_steps(n_train: int, tr: TrainerConfig) -> int:
    """Optimiser steps the run will take (for the LR schedule): ``trainer.max_steps`` when
    set, else epochs x global batches per epoch (the same for any number of processes)."""
    if tr.max_steps > 0:
        return tr.max_steps
    return tr.max_epochs * math.ceil(n_train / tr.batch_size)


def configure_optimizers(model: torch.nn.Module, oc: OptimConfig, total_steps: int) -> dict:
    """AdamW (no weight decay on biases and norms) with the configured warm-up and decay,
    stepped per optimiser step; Lightning's ``configure_optimizers`` return value."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(
        [{"params": [p for p in params if p.ndim >= 2], "weight_decay": oc.weight_decay},
         {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}], lr=oc.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_lambda(s, oc.warmup_steps, total_steps, oc.schedule))
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


