"""The Lightning module for contrastive two-tower training.

It knows nothing of ABC: batches come from :mod:`folkclip_cli.train.loaders`, the model from
:func:`folkclip.models.create_model`, the loss from :mod:`folkclip.loss`, retrieval
metrics from :mod:`folkclip.eval.evaluation`. With several processes, embeddings are
gathered (with gradients) so every process sees the global batch's negatives.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import lightning as L
import torch

from folkclip.errors import FolkclipError
from folkclip.eval.evaluation import EvalSet, embed, query_results, score, score_queries
from folkclip.eval.queries import write_queries
from folkclip.export import export_model
from folkclip.models import create_model
from folkclip.models.lm import corpus_for_melody, resolve_melody_config
from folkclip.loss import clip_loss, hinge_loss
from folkclip_cli.train.config import TrainConfig
from folkclip_cli.train.loaders import PairDataset, make_collate, make_loader
from folkclip_cli.train.runner import configure_optimizers, fit, planned_steps, prepare_run
from folkclip_cli.train.tracking import PredictionTracker


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
        self._global_batch = int(ids.shape[0])  # negatives come from all processes
        groups = self._gather(batch["group_ids"]) if "group_ids" in batch else None
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

    def on_train_epoch_start(self) -> None:
        # The sampler passes the epoch to the pair dataset; with several processes Lightning
        # wraps the sampler, so the epoch (which decides the titles drawn) is set here too.
        dataset = getattr(self.trainer.train_dataloader, "dataset", None)
        if callable(getattr(dataset, "set_epoch", None)):
            dataset.set_epoch(self.current_epoch)

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

    def configure_optimizers(self) -> dict:
        return configure_optimizers(self.model, self.cfg.optim, self.total_steps)


def train_contrastive(cfg: TrainConfig, out: Path, resume: bool = False) -> dict | None:
    """Train the two-tower model of ``cfg`` into run folder ``out``, export it and evaluate
    it on the validation and test splits (``eval_<split>.json``).

    Returns:
        The test evaluation (``None`` on processes other than the first).
    """
    # A melody tower starting from a language-model run takes its sizes and vocabulary.
    melody = resolve_melody_config(cfg.model.melody)
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, melody=melody))
    tc, splits, tok_cfg = prepare_run(cfg, out)
    tc = corpus_for_melody(tc, cfg.model.melody)
    dc = cfg.data
    model = create_model(cfg.model, {f: len(v) for f, v in tc.vocab.items()})
    mc = cfg.model.melody
    collate = make_collate(tc, model.tokenize_titles, dc.max_events,
                           "patches" in model.melody_inputs, mc.patch_size,
                           mc.max_patches)
    train_ds = PairDataset(tc, splits["train"], cfg.seed, dc.alt_titles)
    val_ds = PairDataset(tc, splits["validation"], cfg.seed, alt_titles=False)
    if len(train_ds) == 0 or len(val_ds) == 0:
        raise FolkclipError(f"too few titled tunes to train: {len(train_ds)} train, "
                            f"{len(val_ds)} validation")
    tr = cfg.trainer
    lengths = train_ds.lengths(dc.max_events) if tr.bucket_by_length else None
    train_loader = make_loader(train_ds, collate, tr.batch_size, True, cfg.seed, tr.num_workers,
                               lengths, tr.world_size)
    val_loader = make_loader(val_ds, collate, tr.batch_size, False, cfg.seed, tr.num_workers,
                             world=tr.world_size)
    total = planned_steps(len(train_ds), tr)
    module = ContrastiveModule(model, cfg, tc, splits["validation"], total)
    tracker = PredictionTracker(out, EvalSet(tc, splits["validation"]), cfg.tracking.probe_size,
                                cfg.tracking.probe_steps, cfg.tracking.top_k)
    trainer = fit(cfg, out, module, train_loader, val_loader, mode="max", callbacks=[tracker],
                  resume=resume)
    if not trainer.is_global_zero:
        return None
    model = module.model.cpu().eval()
    export_model(model, cfg.model, tc.vocab, tok_cfg, dc.max_events, out / "model")
    results = {}
    for split in ("validation", "test"):
        es = EvalSet(tc, splits[split])
        if not es.tunes:
            continue
        tune_emb, title_emb = embed(model, tc, es, max_events=dc.max_events)
        per_q = query_results(es, tune_emb, title_emb)
        write_queries(per_q, out / f"per_query_{split}.csv")
        results[split] = score_queries(per_q)
        (out / f"eval_{split}.json").write_text(json.dumps(results[split], indent=1))
    return results.get("test", {})
