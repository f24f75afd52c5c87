"""``folkclip train``: train a two-tower model (or a melody language model) from a config file.

    folkclip train --config configs/default.yaml --out runs/demo [--set trainer.max_steps=50]
                   [--data SOURCE ...] [--resume] [--folds K]

The run folder receives ``config.yaml`` (resolved), ``split.json``, ``checkpoints/``
(best and last), ``logs/`` (CSV metrics per epoch, TensorBoard/MLflow as configured),
``predictions/`` (prediction tracking), ``model/`` (exported model, loadable with
``folkclip.load``), ``eval_test.json`` / ``eval_validation.json`` and the per-query results
``per_query_test.csv`` / ``per_query_validation.csv``. With ``--folds K`` OUT holds one such
run folder per fold (``fold<k>``, tested on fold k) and the pooled evaluation (see
:mod:`folkclip_train.crossval`). With
``task: melody_lm`` (:mod:`folkclip_train.lm_module`) ``model/`` holds ``lm.json`` and
``lm_weights.pt`` instead, and ``perplexity.json`` replaces the evaluations.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from folkclip.errors import FolkclipError

if TYPE_CHECKING:  # imported when run: the command line starts fast without Lightning
    import lightning as L
    import numpy as np
    from torch.utils.data import DataLoader

    from folkclip.dataset import TokenizedCorpus
    from folkclip.tokenize import TokenizerConfig
    from folkclip_train.config import TrainConfig


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="folkclip train", description=__doc__.split("\n")[0])
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="YAML config (default: built-in defaults)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. trainer.max_steps=100 (repeatable)")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--data", nargs="+", default=None, help="data sources (replace data.sources)")
    p.add_argument("--resume", action="store_true", help="continue from checkpoints/last.ckpt")
    p.add_argument("--folds", type=int, default=0,
                   help="grouped K-fold cross-validation: OUT/fold<k> run folders and the "
                        "pooled evaluation in OUT (finished folds are skipped, others resumed)")


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
    elif kind not in ("csv", "none"):
        raise FolkclipError(f"tracking.logger must be tensorboard, mlflow, wandb, csv or none, "
                            f"got {kind!r}")
    return result


def prepare_run(cfg: TrainConfig, out: Path
                ) -> tuple[TokenizedCorpus, dict[str, np.ndarray], TokenizerConfig]:
    """What every task does first: threads, seeds, the resolved ``config.yaml``, the
    tokenized corpus and its leakage-safe split (written to ``split.json``).

    Returns:
        (tokenized corpus, split indices by name, tokenizer configuration).
    """
    import lightning as L
    import torch

    from folkclip.dataset import load_tokenized
    from folkclip.tokenize import TokenizerConfig
    from folkclip_train.config import save_config

    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    dc = cfg.data
    tok_cfg = TokenizerConfig(transpose=dc.transpose, remove=tuple(dc.remove),
                              first_bars=dc.first_bars)
    tc = load_tokenized(dc.sources, tok_cfg, progress=cfg.trainer.progress_bar)
    splits = tc.split(dc.split_seed, tuple(dc.fractions), dc.folds, dc.fold)
    (out / "split.json").write_text(json.dumps(
        {k: [f"{tc.meta[i]['source']}#{tc.meta[i]['number']}" for i in v]
         for k, v in splits.items()}))
    return tc, splits, tok_cfg


def fit(cfg: TrainConfig, out: Path, module: L.LightningModule, train_loader: DataLoader,
        val_loader: DataLoader, *, mode: str, callbacks: list | None = None,
        resume: bool = False) -> L.Trainer:
    """Fit ``module`` with the Trainer every task shares: the configured loggers, best and
    last checkpoints and early stopping on ``trainer.monitor`` (``mode`` ``max`` or
    ``min``), plus task ``callbacks``. On the first process the best checkpoint's
    weights are loaded back into ``module``.

    Returns:
        The Lightning Trainer.
    """
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    tr = cfg.trainer
    ckpt = ModelCheckpoint(dirpath=str(out / "checkpoints"), filename="best",
                           monitor=tr.monitor, mode=mode, save_last=True)
    stop = EarlyStopping(monitor=tr.monitor, mode=mode, check_on_train_epoch_end=False,
                         patience=tr.early_stopping_patience)
    trainer = L.Trainer(
        max_epochs=tr.max_epochs, max_steps=tr.max_steps, accelerator=tr.accelerator,
        devices=tr.devices, num_nodes=tr.num_nodes, strategy=tr.strategy,
        precision=tr.precision, gradient_clip_val=tr.grad_clip or None,
        logger=_loggers(cfg, out), callbacks=[ckpt, stop, *(callbacks or [])],
        default_root_dir=str(out), log_every_n_steps=tr.log_every_n_steps,
        enable_progress_bar=tr.progress_bar, enable_model_summary=False,
        num_sanity_val_steps=0, deterministic=True)
    last = out / "checkpoints" / "last.ckpt"
    if resume and not last.exists():
        raise FolkclipError(f"--resume: no checkpoint at {last}")
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


def run(cfg: TrainConfig, out: Path, resume: bool = False) -> dict | None:
    """Train according to ``cfg`` into ``out``; return the test evaluation (the validation
    perplexities for ``task: melody_lm``; ``None`` on processes other than the first)."""
    import dataclasses

    if cfg.task == "melody_lm":
        from folkclip_train.lm_module import train_melody_lm

        return train_melody_lm(cfg, out, resume)

    from folkclip.evaluation import EvalSet, embed, query_results, score_queries
    from folkclip.export import export_model
    from folkclip.models import create_model
    from folkclip.models.lm import corpus_for_melody, resolve_melody_config
    from folkclip.queries import write_queries
    from folkclip_train.data import PairDataset, make_collate, make_loader
    from folkclip_train.module import ContrastiveModule
    from folkclip_train.tracking import PredictionTracker

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
    train_loader = make_loader(train_ds, collate, tr.batch_size, True, cfg.seed, tr.num_workers)
    val_loader = make_loader(val_ds, collate, tr.batch_size, False, cfg.seed, tr.num_workers)
    world = tr.devices * tr.num_nodes
    steps_per_epoch = math.ceil(len(train_ds) / (tr.batch_size * world))
    total = tr.max_steps if tr.max_steps > 0 else tr.max_epochs * steps_per_epoch
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


def summary_line(metrics: dict) -> str:
    """One-line summary of an evaluation."""
    if not metrics:
        return "no evaluation"
    return (f"{metrics['n_tunes']} tunes / {metrics['n_titles']} titles | tune→title MRR "
            f"{metrics['tune_to_title/mrr']:.3f} nDCG@10 {metrics['tune_to_title/ndcg@10']:.3f} "
            f"R@10 {metrics['tune_to_title/recall@10']:.3f} | title→tune MRR "
            f"{metrics['title_to_tune/mrr']:.3f} nDCG@10 {metrics['title_to_tune/ndcg@10']:.3f}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``folkclip train``."""
    args = build_parser().parse_args(argv)
    return train_from_args(args)


def train_from_args(args: argparse.Namespace) -> int:
    from folkclip_train.config import load_config

    cfg = load_config(args.config, args.overrides)
    if args.data:
        cfg.data.sources = list(args.data)
    out = Path(args.out)
    if args.folds:
        from folkclip_train.crossval import run_cv

        metrics = run_cv(cfg, out, args.folds)
    else:
        metrics = run(cfg, out, resume=args.resume)
    if metrics is None:
        return 0
    print(f"run folder: {out}")
    if cfg.task == "melody_lm":
        from folkclip_train.lm_module import summary_line as lm_summary_line

        print("validation: " + lm_summary_line(metrics))
    else:
        print(("pooled test of the folds: " if args.folds else "test: ") + summary_line(metrics))
    return 0
