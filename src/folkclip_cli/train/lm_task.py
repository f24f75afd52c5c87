"""Training the melody language model (``task: melody_lm``).

Every tune of the sources is used, titled or not, with the contrastive task's
leakage-safe split; the Trainer, loggers, checkpoints, resume and seeding are those
of :func:`folkclip_cli.train.command.fit`. The LM's sizes come from ``model.melody``
(``arch: lm``). After training the run folder gets ``model/lm.json`` +
``model/lm_weights.pt`` and ``perplexity.json``: the LM's test-split perplexities next
to add-one smoothed unigram and bigram baselines of the ``token`` field on the same
tunes (validation only picks the checkpoint; its figures are kept under ``validation``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import Dataset

from folkclip.data.batch import tune_batch
from folkclip.data.dataset import TokenizedCorpus
from folkclip.errors import FolkclipError
from folkclip.models.config import LMConfig
from folkclip.models.lm import MelodyLM, corpus_perplexity, export_lm, lm_loss
from folkclip.eval.ngram import bigram_perplexity, unigram_perplexity
from folkclip_cli.train.config import TrainConfig
from folkclip_cli.train.runner import configure_optimizers, fit, planned_steps, prepare_run

MONITORS = ("val/loss", "val/token_ppl", "val/duration_ppl")  # all: lower is better


class TuneDataset(Dataset):
    """Tunes by index (item k is the corpus index of the k-th tune)."""

    def __init__(self, indices: Sequence[int]) -> None:
        self.indices = [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> int:
        return self.indices[k]


def make_lm_collate(tc: TokenizedCorpus, max_events: int
                    ) -> Callable[[list[int]], dict[str, torch.Tensor]]:
    """Collate tune indices into padded ``tokens`` / ``mask`` batches."""

    def collate(indices: list[int]) -> dict[str, torch.Tensor]:
        return tune_batch(tc, indices, max_events)

    return collate


class MelodyLMModule(L.LightningModule):
    """Trains a :class:`~folkclip.models.lm.MelodyLM` on next-event prediction.

    Logs ``train/loss`` and ``train/token_ppl`` per step and, per validation, the exact
    per-event ``val/loss``, ``val/token_ppl`` and ``val/duration_ppl`` over the split.

    Args:
        model: The language model.
        cfg: The run configuration.
        total_steps: Planned optimiser steps (for the LR schedule).
    """

    def __init__(self, model: MelodyLM, cfg: TrainConfig, total_steps: int) -> None:
        super().__init__()
        self.model = model
        self.cfg = cfg
        self.total_steps = total_steps
        self._val_sums = torch.zeros(3, dtype=torch.float64)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        losses = lm_loss(self.model(batch), batch["tokens"])
        bs = batch["tokens"].shape[0]
        self.log("train/loss", losses["lm_loss"], prog_bar=True, batch_size=bs)
        self.log("train/token_ppl", losses["token_loss"].detach().exp(), batch_size=bs)
        return losses["lm_loss"]

    def on_validation_epoch_start(self) -> None:
        self._val_sums = torch.zeros(3, dtype=torch.float64, device=self.device)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        losses = lm_loss(self.model(batch), batch["tokens"])
        self._val_sums += torch.stack([losses["token_nll"], losses["duration_nll"],
                                       losses["n_targets"].to(losses["token_nll"])]).double()

    def on_validation_epoch_end(self) -> None:
        sums = self.trainer.strategy.reduce(self._val_sums, reduce_op="sum")
        token, duration, n = (float(x) for x in sums)
        n = max(n, 1.0)
        self.log_dict({"val/loss": (token + duration) / n, "val/token_ppl": math.exp(token / n),
                       "val/duration_ppl": math.exp(duration / n)}, prog_bar=True)

    def configure_optimizers(self) -> dict:
        return configure_optimizers(self.model, self.cfg.optim, self.total_steps)


def baseline_perplexities(tc: TokenizedCorpus, train: Sequence[int], held_out: Sequence[int],
                          max_events: int) -> dict[str, float]:
    """Add-one smoothed unigram and bigram perplexities of the ``token`` field, counted on
    ``train`` and scored on ``held_out`` (sequences cut to ``max_events`` as for the LM).
    The vocabulary is every token but ``<pad>``."""
    def seqs(indices: Sequence[int]) -> list:
        return [tc.ids[tc.offsets[i]:min(tc.offsets[i + 1], tc.offsets[i] + max_events), 0]
                for i in (int(k) for k in indices)]

    v = len(tc.vocab["token"]) - 1
    tr, ho = seqs(train), seqs(held_out)
    return {"unigram/token_ppl": unigram_perplexity(tr, ho, v),
            "bigram/token_ppl": bigram_perplexity(tr, ho, v)}


def train_melody_lm(cfg: TrainConfig, out: Path, resume: bool = False) -> dict | None:
    """Train the language model of ``cfg`` into run folder ``out``.

    Returns:
        The test-split perplexities (LM and n-gram baselines) written to
        ``perplexity.json``, with the validation figures that chose the checkpoint under
        ``validation`` (``None`` on processes other than the first).

    Raises:
        FolkclipError: For a melody arch other than ``lm``, a monitor the task does not
            log, or too few tunes.
    """
    from folkclip_cli.train.loaders import make_loader

    mc, tr = cfg.model.melody, cfg.trainer
    if mc.arch != "lm":
        raise FolkclipError(f"task melody_lm trains the 'lm' melody arch; set "
                            f"model.melody.arch: lm (got {mc.arch!r})")
    if tr.monitor not in MONITORS:
        raise FolkclipError(f"task melody_lm logs {', '.join(MONITORS)}; set trainer.monitor "
                            f"to one of them (got {tr.monitor!r})")
    tc, splits, tok_cfg = prepare_run(cfg, out)
    lm_cfg = LMConfig.from_melody(mc)
    max_events = min(cfg.data.max_events, lm_cfg.max_len)
    train_ds, val_ds = TuneDataset(splits["train"]), TuneDataset(splits["validation"])
    if len(train_ds) == 0 or len(val_ds) == 0:
        raise FolkclipError(f"too few tunes to train: {len(train_ds)} train, "
                            f"{len(val_ds)} validation")
    model = MelodyLM(lm_cfg, {f: len(v) for f, v in tc.vocab.items()})
    collate = make_lm_collate(tc, max_events)
    train_loader = make_loader(train_ds, collate, tr.batch_size, True, cfg.seed, tr.num_workers,
                               world=tr.world_size)
    val_loader = make_loader(val_ds, collate, tr.batch_size, False, cfg.seed, tr.num_workers,
                             world=tr.world_size)
    total = planned_steps(len(train_ds), tr)
    module = MelodyLMModule(model, cfg, total)
    trainer = fit(cfg, out, module, train_loader, val_loader, mode="min", resume=resume)
    if not trainer.is_global_zero:
        return None
    model = module.model.cpu().eval()
    export_lm(model, tc.vocab, tok_cfg, max_events, out / "model")
    # The test split is scored for the LM and the n-gram baselines alike; validation chose
    # the checkpoint and is kept only as the record of that choice.
    lm = corpus_perplexity(model, tc, splits["test"], max_events)
    val = corpus_perplexity(model, tc, splits["validation"], max_events)
    result = {"split": "test", "n_tunes": len(splits["test"]), "n_targets": lm["n_targets"],
              "lm/token_ppl": lm["token_ppl"], "lm/duration_ppl": lm["duration_ppl"],
              "lm/loss": lm["loss"],
              **baseline_perplexities(tc, splits["train"], splits["test"], max_events),
              "validation": {"n_tunes": len(val_ds), "n_targets": val["n_targets"],
                             "lm/token_ppl": val["token_ppl"],
                             "lm/duration_ppl": val["duration_ppl"], "lm/loss": val["loss"]}}
    (out / "perplexity.json").write_text(json.dumps(result, indent=1))
    return result


def perplexity_summary(metrics: dict) -> str:
    """One-line summary of ``perplexity.json``."""
    return (f"{metrics['n_tunes']} tunes, {metrics['n_targets']} events | token perplexity: "
            f"LM {metrics['lm/token_ppl']:.2f}, bigram {metrics['bigram/token_ppl']:.2f}, "
            f"unigram {metrics['unigram/token_ppl']:.2f} | duration perplexity "
            f"{metrics['lm/duration_ppl']:.2f}")
