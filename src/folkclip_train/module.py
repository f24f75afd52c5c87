"""The Lightning module for contrastive two-tower training.

It knows nothing of ABC: batches come from :mod:`folkclip_train.data`, the model from
:func:`folkclip.models.create_model`, the loss from :mod:`folkclip.loss`, retrieval
metrics from :mod:`folkclip.evaluation`. With several processes, embeddings are
gathered (with gradients) so every process sees the global batch's negatives.
"""

from __future__ import annotations

import math

import lightning as L
import torch

from folkclip.evaluation import EvalSet, embed, score
from folkclip.loss import clip_loss, hinge_loss
from folkclip_train.config import TrainConfig


def lr_lambda(step: int, warmup: int, total: int, schedule: str) -> float:
    """Linear warm-up, then cosine decay to 0 (or constant)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant" or total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


class ContrastiveModule(L.LightningModule):
    """Trains a :class:`~folkclip.models.towers.TwoTower` on (tune, title) pairs.

    Args:
        model: The two-tower model.
        cfg: The run configuration.
        tc: Tokenized corpus (for validation retrieval metrics).
        val_indices: Tunes of the validation split.
        total_steps: Planned optimiser steps (for the LR schedule).
    """

    def __init__(self, model: torch.nn.Module, cfg: TrainConfig, tc, val_indices,  # noqa: ANN001
                 total_steps: int) -> None:
        super().__init__()
        self.model = model
        self.cfg = cfg
        self.tc = tc
        self.val_set = EvalSet(tc, val_indices)
        self.total_steps = total_steps
        self.last_metrics: dict = {}

    def _gather(self, x: torch.Tensor) -> torch.Tensor:
        if self.trainer is None or self.trainer.world_size <= 1:
            return x
        return self.all_gather(x, sync_grads=True).flatten(0, 1)  # (world*B, ...)

    def _loss(self, batch: dict) -> dict[str, torch.Tensor]:
        out = self.model(batch)
        tune, title = self._gather(out["tune_emb"]), self._gather(out["title_emb"])
        ids = self._gather(batch["title_ids"])
        groups = self._gather(batch["group_ids"]) if "group_ids" in batch else None
        self._global_batch = int(ids.shape[0])  # negatives come from all processes
        lc = self.cfg.loss
        if lc.kind == "hinge":
            return hinge_loss(tune, title, ids, margin=lc.margin, hardest=lc.hardest,
                              group_ids=groups)
        return clip_loss(tune, title, out["logit_scale"], ids, same_title=lc.same_title,
                         group_ids=groups)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        losses = self._loss(batch)
        bs = batch["tokens"].shape[0]
        self.log("train/loss", losses["contrastive_loss"], prog_bar=True, batch_size=bs)
        if "accuracy" in losses:
            self.log("train/accuracy", losses["accuracy"], batch_size=bs)
        self.log("train/logit_scale", self.model.scale().detach(), batch_size=bs)
        self.log("train/global_batch", float(self._global_batch), batch_size=bs)
        return losses["contrastive_loss"]

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        losses = self._loss(batch)
        self.log("val/loss", losses["contrastive_loss"], batch_size=batch["tokens"].shape[0],
                 sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        if not self.val_set.tunes:
            return
        tune_emb, title_emb = embed(self.model, self.tc, self.val_set,
                                    max_events=self.cfg.data.max_events, device=self.device)
        metrics = score(self.val_set, tune_emb, title_emb, n_boot=0)
        self.last_metrics = metrics
        logged = {f"val/{k}": v for k, v in metrics.items()
                  if isinstance(v, float) and ("mrr" in k or "@10" in k)}
        mean = 0.5 * (metrics["tune_to_title/mrr"] + metrics["title_to_tune/mrr"])
        self.log_dict(logged, prog_bar=False, sync_dist=False)
        self.log("val/mrr_mean", mean, prog_bar=True)

    def configure_optimizers(self):  # noqa: ANN201
        oc = self.cfg.optim
        params = [p for p in self.model.parameters() if p.requires_grad]
        decay = [p for p in params if p.ndim >= 2]
        no_decay = [p for p in params if p.ndim < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": oc.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=oc.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: lr_lambda(s, oc.warmup_steps, self.total_steps, oc.schedule))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
