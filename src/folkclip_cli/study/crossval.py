"""Grouped K-fold cross-validation: one run folder per fold and a pooled evaluation.

    folkclip train --config FILE --out OUT --folds K

The folds are those of :func:`folkclip.data.splits.assign_splits` (groups of tunes linked by
tune id or title never straddle folds). Fold k's model trains on the other folds, picks
its checkpoint on a grouped part of them (``data.fractions[1]`` relative to
``data.fractions[0]``) and is tested on fold k. OUT receives:

* ``fold<k>/`` — an ordinary run folder (``data.folds = K``, ``data.fold = k``);
* ``cv.json`` — the folds and their run folders;
* ``config.yaml`` — the shared configuration (``data.fold`` is per fold);
* ``per_query_test.csv`` — every fold's test queries pooled (column ``fold``): each
  titled tune of the sources is a tune→title query exactly once (candidates: the titles
  of its fold), each distinct title a title→tune query exactly once;
* ``eval_test.json`` — metrics of the pooled queries, plus ``folds`` (each fold's own).

Finished folds are skipped and interrupted ones resumed, so the same command continues.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

from folkclip.errors import FolkclipError

if TYPE_CHECKING:
    from folkclip_cli.train.config import TrainConfig

CV_FILE = "cv.json"
# Settings that change speed or display, not results: free to differ when resuming.
NEUTRAL = ("threads", "progress_bar", "num_workers")


def is_cv_folder(path: str | Path) -> bool:
    """Whether ``path`` is the root of a cross-validation (holds ``cv.json``)."""
    return (Path(path) / CV_FILE).exists()


def fold_dirs(root: str | Path) -> list[Path]:
    """The fold run folders of a cross-validation root, in fold order."""
    info = json.loads((Path(root) / CV_FILE).read_text())
    return [Path(root) / name for name in info["runs"]]


def fold_config(cfg: TrainConfig, folds: int, fold: int) -> TrainConfig:
    """``cfg`` for fold ``fold`` of ``folds``; a ``{fold}`` in ``model.melody.init_from``
    becomes the fold number (a language model pretrained on this fold's training part)."""
    out = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, folds=folds, fold=fold))
    source = cfg.model.melody.init_from
    if source and "{fold}" in source:
        melody = dataclasses.replace(cfg.model.melody, init_from=source.replace("{fold}", str(fold)))
        out = dataclasses.replace(out, model=dataclasses.replace(cfg.model, melody=melody))
    return out


def _settings(cfg: object) -> dict:
    from folkclip.config import to_dict

    d = to_dict(cfg)
    for key in NEUTRAL:
        d["trainer"].pop(key, None)
    return d


def fold_state(cfg: object, out: Path, record_name: str = "cv_settings.json",
               done_files: tuple[str, ...] = ("eval_test.json", "per_query_test.csv")) -> str:
    """``done``, ``resume`` or ``new`` for a fold folder; records its settings.

    Args:
        cfg: The fold's config (a dataclass; the trainer's :data:`NEUTRAL` fields may differ
            when resuming).
        out: The fold's folder.
        record_name: The file in ``out`` holding the settings it was trained with.
        done_files: The files whose presence means the fold is finished.

    Raises:
        FolkclipError: When the folder was trained with other settings.
    """
    record = out / record_name
    wanted = _settings(cfg)
    if record.exists() and json.loads(record.read_text()) != wanted:
        raise FolkclipError(f"{out} was trained with other settings; use another --out or "
                            "delete it")
    if all((out / name).exists() for name in done_files):
        return "done"
    out.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(wanted))
    return "resume" if (out / "checkpoints" / "last.ckpt").exists() else "new"


def run_cv(cfg: TrainConfig, out: Path, folds: int) -> dict | None:
    """Train every fold not yet finished, then pool the folds' test queries.

    Returns:
        The pooled test evaluation (``None`` on processes other than the first).

    Raises:
        FolkclipError: For ``folds < 2``, a melody-LM task, or a fold trained otherwise.
    """
    from folkclip_cli.train.config import save_config
    from folkclip_cli.train.tasks import run

    if folds < 2:
        raise FolkclipError(f"--folds must be >= 2, got {folds}")
    if cfg.task != "contrastive":
        raise FolkclipError("--folds is for two-tower training (task: contrastive)")
    out.mkdir(parents=True, exist_ok=True)
    save_config(fold_config(cfg, folds, 0), out / "config.yaml")
    (out / CV_FILE).write_text(json.dumps(
        {"folds": folds, "runs": [f"fold{k}" for k in range(folds)]}, indent=1))
    for k in range(folds):
        fcfg, fout = fold_config(cfg, folds, k), out / f"fold{k}"
        state = fold_state(fcfg, fout)
        if state == "done":
            print(f"fold {k}/{folds}: finished, skipped", flush=True)
            continue
        print(f"fold {k}/{folds}: training" + (" (resuming)" if state == "resume" else ""),
              flush=True)
        if run(fcfg, fout, resume=state == "resume") is None:
            return None
    return pool_folds(out)


def pool_folds(root: Path, split: str = "test") -> dict:
    """Pool the folds' saved per-query results into ``root`` (no re-embedding).

    Writes ``per_query_<split>.csv`` and ``eval_<split>.json`` (pooled metrics with
    ``folds``: each fold's ``eval_<split>.json`` scalars).

    Raises:
        FolkclipError: When a fold is unfinished or two folds share a query.
    """
    from folkclip.eval.queries import read_queries

    tables, per_fold = [], []
    for k, d in enumerate(fold_dirs(root)):
        path = d / f"eval_{split}.json"
        if not path.exists():
            raise FolkclipError(f"fold {k} ({d}) is not finished")
        m = json.loads(path.read_text())
        per_fold.append({"fold": k, **{key: v for key, v in m.items()
                                       if isinstance(v, (int, float))}})
        tables.append(read_queries(d / f"per_query_{split}.csv"))
    return write_pooled(root, tables, per_fold, split)


def write_pooled(root: Path, tables: list, per_fold: list[dict], split: str = "test",
                 seed: int = 0) -> dict:
    """Pool per-fold query tables, score them and write both files into ``root``."""
    from folkclip.eval.queries import pool, write_queries

    pooled = pool(tables, list(range(len(tables))))
    metrics = pooled_metrics(tables, per_fold, split, seed, pooled)
    write_queries(pooled, root / f"per_query_{split}.csv")
    (root / f"eval_{split}.json").write_text(json.dumps(metrics, indent=1))
    return metrics


def pooled_metrics(tables: list, per_fold: list[dict], split: str = "test", seed: int = 0,
                   pooled: dict | None = None) -> dict:
    """Metrics of the folds' queries taken together, with each fold's in ``folds``."""
    from folkclip.eval.evaluation import score_queries
    from folkclip.eval.queries import pool

    pooled = pooled if pooled is not None else pool(tables, list(range(len(tables))))
    metrics = score_queries(pooled, seed=seed)
    metrics.update({"split": split, "pooled_folds": len(tables), "folds": per_fold})
    return metrics


def evaluate_cv(root: Path, embed_fn, random: bool = False, seed: int = 0,
                rankings: Path | None = None, save: bool = False) -> dict:
    """Re-embed every fold's test tunes with its own model and pool the queries.

    Args:
        root: Cross-validation root folder.
        random: Score random embeddings instead (the chance baseline).
        seed: Seed of the random embeddings and of the bootstrap.
        rankings: Write one TREC run (+ qrels) covering all folds here; query and
            document ids are prefixed ``f<k>:``.
        embed_fn: ``(EvalContext, random, seed) -> (tune_emb, title_emb)``.
        save: Write the pooled ``per_query_test.csv`` and ``eval_test.json`` into ``root``.

    Returns:
        Pooled metrics.
    """
    from folkclip.eval.evaluation import query_results, score_queries, write_trec
    from folkclip_cli.study.runs import load_eval

    tables, per_fold = [], []
    for k, d in enumerate(fold_dirs(root)):
        ctx = load_eval(d)
        tune_emb, title_emb = embed_fn(ctx, random, seed)
        table = query_results(ctx.evalset, tune_emb, title_emb)
        tables.append(table)
        m = score_queries(table, n_boot=0)
        per_fold.append({"fold": k, **{key: v for key, v in m.items()
                                       if isinstance(v, (int, float))}})
        if rankings is not None:
            write_trec(ctx.evalset, tune_emb, title_emb, rankings, prefix=f"f{k}:",
                       append=k > 0)
    if save and not random:
        metrics = write_pooled(root, tables, per_fold, seed=seed)
    else:
        metrics = pooled_metrics(tables, per_fold, seed=seed)
    if rankings is not None:
        metrics["rankings"] = {"run": str(rankings),
                               "qrels": str(rankings.with_name(rankings.stem + ".qrels"))}
    return metrics

