"""Training the conditional title model (``task: title_lm``).

Every title of every titled tune (main and alternative titles, placeholders left out)
is one training pair, with the contrastive task's leakage-safe split (so a fold's test
titles never occur in its training part); the Trainer, loggers, checkpoints, resume and
seeding are those of :func:`folkclip_cli.train.runner.fit`. Validation logs the exact
``val/bits_per_title`` and ``val/bits_per_char`` over the split and picks the checkpoint;
at every validation a few validation tunes are given a sampled name
(``predictions/names.jsonl``, and a text panel in TensorBoard), as the contrastive task
tracks its predictions.

After training the run folder gets ``model/title_lm.json`` + ``model/title_lm_weights.pt``,
``bits_test.csv`` (one row per test title: its tune, the tune's identity group, the
title, its folded length and its cross-entropy in bits) and ``bits.json`` (means).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import Dataset

from folkclip.abc.titles import is_untitled, title_key
from folkclip.data.dataset import TokenizedCorpus
from folkclip.errors import FolkclipError
from folkclip.eval.bits import ngram_bits
from folkclip.models.title import CHAR_IDS
from folkclip.models.title_lm import (
    LN2, TITLE_VOCAB, TitleLM, condition_batch, export_title_lm, title_batch, title_bits, title_loss,
    title_text,
)
from folkclip_cli.train.config import TITLE_LM_MONITORS, TitleTrainConfig
from folkclip_cli.train.runner import configure_optimizers, fit, planned_steps, prepare_run

BITS_FILE, SUMMARY_FILE = "bits_test.csv", "bits.json"
BITS_COLUMNS = ("ref", "group", "title_index", "title", "chars", "bits", "unigram_bits",
                "bigram_bits", "type")
N_NAMED = 4  # validation tunes named at every validation (prediction tracking)


def title_pairs(tc: TokenizedCorpus, indices: Sequence[int]) -> list[tuple[int, int, str]]:
    """(tune index, title number, title) for every title of the titled tunes
    ``indices`` (0: the main title; placeholders such as ``x`` left out)."""
    out = []
    for i in (int(k) for k in indices):
        m = tc.meta[i]
        titles = [m["title"], *m["alt_titles"]] if m["title"] else []
        out += [(i, n, t) for n, t in enumerate(titles) if t and not is_untitled(t)]
    return out


class PairList(Dataset):
    """A fixed list of (tune index, title) pairs."""

    def __init__(self, pairs: Sequence[tuple[int, str]]) -> None:
        self.pairs = list(pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, k: int) -> tuple[int, str]:
        return self.pairs[k]


def make_title_collate(tc: TokenizedCorpus, condition: str, max_events: int, max_chars: int
                       ) -> Callable[[list[tuple[int, str]]], dict[str, torch.Tensor]]:
    """Collate (tune, title) pairs into the condition's events and the title's characters."""

    def collate(items: list[tuple[int, str]]) -> dict[str, torch.Tensor]:
        batch = condition_batch(tc, [i for i, _ in items], condition, max_events)
        batch.update(title_batch([t for _, t in items], max_chars))
        return batch

    return collate


class TitleLMModule(L.LightningModule):
    """Trains a :class:`~folkclip.models.title_lm.TitleLM` by teacher forcing.

    Args:
        model: The title model.
        cfg: The run configuration.
        total_steps: Planned optimiser steps (for the LR schedule).
        named: Validation pairs whose tunes get a sampled name at every validation.
        tc: The tokenized corpus (for the named tunes' events).
        out: The run folder (``predictions/names.jsonl``).
    """

    def __init__(self, model: TitleLM, cfg: TitleTrainConfig, total_steps: int,
                 named: Sequence[tuple[int, str]], tc: TokenizedCorpus,
                 out: Path) -> None:
        super().__init__()
        self.model = model
        self.cfg = cfg
        self.total_steps = total_steps
        self.named = list(named)
        self.tc = tc
        self.out = out
        self._val_sums = torch.zeros(3, dtype=torch.float64)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        losses = title_loss(self.model(batch), batch["chars_out"])
        bs = batch["chars_in"].shape[0]
        self.log("train/loss", losses["loss"], prog_bar=True, batch_size=bs)
        self.log("train/bits_per_char", losses["loss"].detach() / LN2, batch_size=bs)
        return losses["loss"]

    def on_validation_epoch_start(self) -> None:
        self._val_sums = torch.zeros(3, dtype=torch.float64, device=self.device)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        losses = title_loss(self.model(batch), batch["chars_out"])
        n_titles = torch.tensor(float(batch["chars_in"].shape[0]), device=self.device)
        self._val_sums += torch.stack([losses["nll"].double(), losses["n_symbols"].double(),
                                       n_titles.double()])

    def on_validation_epoch_end(self) -> None:
        sums = self.trainer.strategy.reduce(self._val_sums, reduce_op="sum")
        nll, symbols, titles = (float(x) for x in sums)
        self.log_dict({"val/bits_per_title": nll / LN2 / max(titles, 1.0),
                       "val/bits_per_char": nll / LN2 / max(symbols, 1.0)}, prog_bar=True)
        if self.trainer.is_global_zero and not self.trainer.sanity_checking:
            self._name_probes()

    def _name_probes(self) -> None:
        from folkclip.generate.names import sample_texts

        if not self.named:
            return
        rows = []
        for k, (i, title) in enumerate(self.named):
            batch = condition_batch(self.tc, [i], self.model.config.condition,
                                    self.cfg.data.max_events)
            batch = {key: v.to(self.device) for key, v in batch.items()}
            text, _ = sample_texts(self.model, batch, 1, seed=k)[0]
            rows.append({"title": title, "sampled": text})
        step = int(self.trainer.global_step)
        folder = self.out / "predictions"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "names.jsonl", "a") as fh:
            fh.write(json.dumps({"step": step, "rows": rows}) + "\n")
        for logger in self.trainer.loggers:
            experiment = getattr(logger, "experiment", None)
            if hasattr(experiment, "add_text"):  # TensorBoard
                body = "".join(f"| {r['title']} | {r['sampled']} |\n" for r in rows)
                experiment.add_text("names", "| title | sampled |\n|---|---|\n" + body, step)

    def configure_optimizers(self) -> dict:
        return configure_optimizers(self.model, self.cfg.optim, self.total_steps)


def write_bits(path: Path, rows: list[dict]) -> None:
    """Write per-title bits (columns :data:`BITS_COLUMNS`)."""
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(BITS_COLUMNS))
        w.writeheader()
        w.writerows(rows)


def score_split(model: TitleLM, tc: TokenizedCorpus, indices: Sequence[int],
                train: Sequence[int], max_events: int) -> list[dict]:
    """One row per title of the titled tunes ``indices``: its bits under the model and
    under add-one character unigram and bigram models of the ``train`` tunes' titles."""
    pairs = title_pairs(tc, indices)
    bits = title_bits(model, tc, [(i, t) for i, _, t in pairs], max_events)

    def texts(items: Sequence[tuple[int, int, str]]) -> list[str]:  # as the model sees them
        return ["".join(c if c in CHAR_IDS else "\x01" for c in
                        title_text(t, model.config.max_chars)) for _, _, t in items]

    known, scored = texts(title_pairs(tc, train)), texts(pairs)
    alphabet = TITLE_VOCAB - 2  # every character id but padding, plus the end
    uni, bi = (ngram_bits(known, scored, k, alphabet) for k in (1, 2))
    refs, groups = tc.refs(), tc.groups()
    return [{"ref": refs[i], "group": int(groups[i]), "title_index": n, "title": t,
             "chars": len(title_text(t, model.config.max_chars)), "bits": round(float(b), 6),
             "unigram_bits": round(float(u), 6), "bigram_bits": round(float(g), 6),
             "type": tc.meta[i]["type"]}
            for (i, n, t), b, u, g in zip(pairs, bits, uni, bi)]


def train_title_lm(cfg: TitleTrainConfig, out: Path, resume: bool = False) -> dict | None:
    """Train the title model of ``cfg`` into run folder ``out`` and score its test titles.

    Returns:
        The test split's means (also in ``bits.json``; ``None`` on processes other than
        the first).

    Raises:
        FolkclipError: For a monitor the task does not log or too few titled tunes.
    """
    from folkclip_cli.train.loaders import make_loader

    tr, tl = cfg.trainer, cfg.title_lm
    if tr.monitor not in TITLE_LM_MONITORS:
        raise FolkclipError(f"task title_lm logs {', '.join(TITLE_LM_MONITORS)}; set "
                            f"trainer.monitor to one of them (got {tr.monitor!r})")
    tc, splits, tok_cfg = prepare_run(cfg, out)
    max_events = min(cfg.data.max_events, tl.encoder.max_len)
    train = [(i, t) for i, _, t in title_pairs(tc, splits["train"])]
    val = [(i, t) for i, _, t in title_pairs(tc, splits["validation"])]
    if not train or not val:
        raise FolkclipError(f"too few titled tunes to train: {len(train)} train, "
                            f"{len(val)} validation titles")
    model = TitleLM(tl, {f: len(v) for f, v in tc.vocab.items()})
    collate = make_title_collate(tc, tl.condition, max_events, tl.max_chars)
    train_loader = make_loader(PairList(train), collate, tr.batch_size, True, cfg.seed,
                               tr.num_workers, world=tr.world_size)
    val_loader = make_loader(PairList(val), collate, tr.batch_size, False, cfg.seed,
                             tr.num_workers, world=tr.world_size)
    module = TitleLMModule(model, cfg, planned_steps(len(train), tr), val[:N_NAMED], tc, out)
    trainer = fit(cfg, out, module, train_loader, val_loader, mode="min", resume=resume)
    if not trainer.is_global_zero:
        return None
    model = module.model.cpu().eval()
    known = [title_key(t) for _, _, t in title_pairs(tc, range(len(tc)))]
    export_title_lm(model, tc.vocab, tok_cfg, max_events, [k for k in known if k],
                    out / "model")
    rows = score_split(model, tc, splits["test"], splits["train"], max_events)
    write_bits(out / BITS_FILE, rows)
    bits = np.array([r["bits"] for r in rows], dtype=np.float64)
    symbols = np.array([r["chars"] + 1 for r in rows], dtype=np.float64)
    result = {"split": "test", "condition": tl.condition, "remove": list(cfg.data.remove),
              "n_titles": len(rows), "n_tunes": len({r["ref"] for r in rows}),
              "bits_per_title": float(bits.mean()) if len(rows) else float("nan"),
              "bits_per_char": float(bits.sum() / symbols.sum()) if len(rows) else float("nan")}
    (out / SUMMARY_FILE).write_text(json.dumps(result, indent=1))
    return result


def bits_summary(metrics: dict) -> str:
    """One-line summary of ``bits.json``."""
    return (f"{metrics['n_titles']} test titles of {metrics['n_tunes']} tunes | condition "
            f"{metrics['condition']}{' - ' + '+'.join(metrics['remove']) if metrics['remove'] else ''}"
            f" | {metrics['bits_per_title']:.2f} bits per title, {metrics['bits_per_char']:.3f} "
            "bits per character")
