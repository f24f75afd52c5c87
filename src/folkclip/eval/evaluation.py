"""Retrieval evaluation of a two-tower model on a set of tunes, in both directions.

tune→title: each titled tune queries the *distinct* titles of the evaluated set (one
candidate per normalised title); relevant are its title and alternative titles.
title→tune: each distinct title queries all tunes; relevant is every tune carrying it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from folkclip.data.batch import titled_indices, tune_batch
from folkclip.data.dataset import TokenizedCorpus
from folkclip.eval.metrics import aggregate, bootstrap_ci, per_query_metrics, rank_positions
from folkclip.abc.titles import title_key

if TYPE_CHECKING:
    from folkclip.export import FolkclipModel

# recall@k: fraction of a query's relevant items in the top k; hit@k: whether any is (the
# "R@k" of CLIP-style papers). They differ for queries with several relevant items.
METRIC_KEYS = ("mrr", "dcg", "ndcg", "ndcg@10", "recall@1", "recall@5", "recall@10", "hit@1",
               "hit@5", "hit@10", "map", "median_rank", "mean_rank")
_PER_QUERY = {"mrr": "rr", "dcg": "dcg", "ndcg": "ndcg", "ndcg@10": "ndcg@10",
              "recall@1": "recall@1", "recall@5": "recall@5", "recall@10": "recall@10",
              "hit@1": "hit@1", "hit@5": "hit@5", "hit@10": "hit@10", "map": "ap"}


class EvalSet:
    """The tunes and distinct titles of an evaluation, with relevance in both directions.

    Args:
        tc: Tokenized corpus.
        indices: Tunes to evaluate (untitled ones are left out).
    """

    def __init__(self, tc: TokenizedCorpus, indices: Sequence[int]) -> None:
        self.tc = tc
        self.tunes = titled_indices(tc, indices)
        self.titles: list[str] = []  # one display string per distinct title key
        key_index: dict[str, int] = {}
        self.tune_titles: list[list[int]] = []
        for i in self.tunes:
            meta = tc.meta[i]
            rel = []
            for t in [meta["title"], *meta["alt_titles"]]:
                k = title_key(t)
                if not k:
                    continue
                if k not in key_index:
                    key_index[k] = len(self.titles)
                    self.titles.append(t)
                if key_index[k] not in rel:
                    rel.append(key_index[k])
            self.tune_titles.append(sorted(rel))
        self.title_tunes: list[list[int]] = [[] for _ in self.titles]
        for q, rel in enumerate(self.tune_titles):
            for t in rel:
                self.title_tunes[t].append(q)
        self.types = [tc.meta[i]["type"] for i in self.tunes]


@torch.no_grad()
def embed_tunes(model: torch.nn.Module, tc: TokenizedCorpus, indices: Sequence[int],
                batch_size: int = 128, max_events: int = 256, ids: np.ndarray | None = None,
                device: str | torch.device = "cpu") -> np.ndarray:
    """Embed the tunes ``indices`` of ``tc`` with the tune tower (any tune, titled or not).

    Returns:
        (N, D) L2-normalised float32 tune embeddings.
    """
    was_training = model.training
    model.eval()
    patches = "patches" in model.melody_inputs
    out = []
    for s in range(0, len(indices), batch_size):
        batch = tune_batch(tc, indices[s:s + batch_size], max_events, patches=patches, ids=ids)
        batch = {k: v.to(device) for k, v in batch.items()}
        out.append(model.encode_tunes(batch).float().cpu())  # (B, D)
    model.train(was_training)
    return torch.cat(out).numpy()


@torch.no_grad()
def embed_titles(model: torch.nn.Module, titles: Sequence[str], batch_size: int = 128,
                 device: str | torch.device = "cpu") -> np.ndarray:
    """Embed title strings with the title tower.

    Returns:
        (M, D) L2-normalised float32 title embeddings.
    """
    was_training = model.training
    model.eval()
    out = []
    for s in range(0, len(titles), batch_size):
        tb = model.tokenize_titles(list(titles[s:s + batch_size]))
        tb = {k: v.to(device) for k, v in tb.items()}
        out.append(model.encode_titles(tb).float().cpu())  # (B, D)
    model.train(was_training)
    return torch.cat(out).numpy()


def embed(model: torch.nn.Module, tc: TokenizedCorpus, es: EvalSet, batch_size: int = 128,
          max_events: int = 256, ids: np.ndarray | None = None,
          device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Embed the tunes and distinct titles of ``es``.

    Returns:
        tune embeddings (N, D) and title embeddings (M, D), L2-normalised float32.
    """
    return (embed_tunes(model, tc, es.tunes, batch_size, max_events, ids, device),
            embed_titles(model, es.titles, batch_size, device))


def query_results(es: EvalSet, tune_emb: np.ndarray, title_emb: np.ndarray
                  ) -> dict[str, dict[str, np.ndarray]]:
    """Per-query metrics in both directions, keyed by stable query ids.

    Returns:
        ``{"tune_to_title": {...}, "title_to_tune": {...}}``; each holds ``query`` (ids:
        the tune's :meth:`~folkclip.data.dataset.TokenizedCorpus.refs` entry, or the title key),
        ``type`` (the tune's type; a title's is that of its first tune) and the arrays of
        :func:`folkclip.eval.metrics.per_query_metrics` (``rr``, ``ndcg@10``, ...), all (Q,).
    """
    sims = tune_emb @ title_emb.T  # (N, M)
    refs = es.tc.refs()
    tune_ids = np.array([refs[i] for i in es.tunes], dtype=object)
    title_ids = np.array([title_key(t) for t in es.titles], dtype=object)
    types = np.array(es.types, dtype=object)
    out = {}
    for name, s, rel, ids, qtypes in (
            ("tune_to_title", sims, es.tune_titles, tune_ids, types),
            ("title_to_tune", sims.T, es.title_tunes, title_ids,
             np.array([es.types[ts[0]] for ts in es.title_tunes], dtype=object))):
        pq = per_query_metrics(s, [np.array(r, dtype=np.int64) for r in rel])
        out[name] = {"query": ids, "type": qtypes, **pq}
    return out


def score(es: EvalSet, tune_emb: np.ndarray, title_emb: np.ndarray, n_boot: int = 1000,
          seed: int = 0) -> dict:
    """All metrics, both directions, with bootstrap 95% CIs and a per-type breakdown
    (:func:`score_queries` of :func:`query_results`)."""
    out = score_queries(query_results(es, tune_emb, title_emb), n_boot, seed)
    out["n_tunes"], out["n_titles"] = len(es.tunes), len(es.titles)
    return out


def score_queries(per_q: dict[str, dict[str, np.ndarray]], n_boot: int = 1000,
                  seed: int = 0) -> dict:
    """Summarise per-query results (of one evaluation, or pooled over CV folds).

    Returns:
        A dict with ``tune_to_title/<metric>`` and ``title_to_tune/<metric>`` keys,
        ``n_tunes``, ``n_titles`` (query counts), ``ci95`` (``{key: [low, high]}`` for MRR
        and nDCG) and ``per_type`` (``{type: {n_tunes, tune_to_title/mrr, ...}}``).
    """
    out: dict = {"n_tunes": len(per_q["tune_to_title"]["query"]),
                 "n_titles": len(per_q["title_to_tune"]["query"]), "ci95": {}, "per_type": {}}
    for name, pq in per_q.items():
        means = aggregate(pq)
        for key in (*_PER_QUERY, "median_rank", "mean_rank"):
            out[f"{name}/{key}"] = means[key]
        for key in ("mrr", "ndcg", "ndcg@10") if n_boot > 0 else ():
            lo, hi = bootstrap_ci(pq[_PER_QUERY[key]], n_boot=n_boot, seed=seed)
            out["ci95"][f"{name}/{key}"] = [lo, hi]
    types = per_q["tune_to_title"]["type"]
    t2t = per_q["tune_to_title"]
    title_types = per_q["title_to_tune"]["type"]
    for t in sorted(set(types.tolist())):
        sel, tsel = types == t, title_types == t
        row = {"n_tunes": int(sel.sum()), "n_titles": int(tsel.sum())}
        for key in ("mrr", "ndcg@10", "recall@10", "hit@10"):
            row[f"tune_to_title/{key}"] = float(np.nanmean(t2t[_PER_QUERY[key]][sel]))
            vals = per_q["title_to_tune"][_PER_QUERY[key]][tsel]
            row[f"title_to_tune/{key}"] = float(np.nanmean(vals)) if len(vals) else float("nan")
        out["per_type"][t] = row
    return out


def rankings(es: EvalSet, tune_emb: np.ndarray, title_emb: np.ndarray) -> dict[str, list]:
    """Per query: the rank of the first relevant item (1-based), tune→title."""
    sims = tune_emb @ title_emb.T
    ranks = rank_positions(sims, [np.array(r) for r in es.tune_titles])
    return {"first_rank": [int(r[0]) for r in ranks]}


def write_trec(es: EvalSet, tune_emb: np.ndarray, title_emb: np.ndarray, path: Path,
               run_name: str = "folkclip", prefix: str = "", append: bool = False
               ) -> tuple[Path, Path]:
    """Write every query's full ranking in TREC run format, plus a qrels file beside it.

    Query ids are ``t2t:<tune>`` (tune→title) and ``t2u:<title>`` (title→tune); document
    ids ``title:<k>`` and ``tune:<k>`` index :class:`EvalSet` titles and tunes. Ties are
    broken by candidate index, as in :func:`folkclip.eval.metrics.rank_positions`, and scores
    are written so that trec_eval's own ordering (score, then docid) agrees. ``prefix``
    goes before every query and document id, and ``append`` adds to existing files (how
    the folds of a cross-validation share one run file).
    """
    sims = tune_emb @ title_emb.T
    qrels = path.with_name(path.stem + ".qrels")
    mode = "a" if append else "w"
    with open(path, mode) as run, open(qrels, mode) as qr:
        for kind, s, rel, cand in (("t2t", sims, es.tune_titles, "title"),
                                   ("t2u", sims.T, es.title_tunes, "tune")):
            for q in range(s.shape[0]):
                order = np.lexsort((np.arange(s.shape[1]), -s[q]))
                run.writelines(f"{prefix}{kind}:{q} Q0 {prefix}{cand}:{d} {r} "
                              f"{s.shape[1] - r + 1} {run_name}\n" for r, d in enumerate(order, 1))
                qr.writelines(f"{prefix}{kind}:{q} 0 {prefix}{cand}:{d} 1\n" for d in rel[q])
    return path, qrels


def summary_line(metrics: dict) -> str:
    """One-line summary of an evaluation."""
    if not metrics:
        return "no evaluation"
    return (f"{metrics['n_tunes']} tunes / {metrics['n_titles']} titles | tune→title MRR "
            f"{metrics['tune_to_title/mrr']:.3f} nDCG@10 {metrics['tune_to_title/ndcg@10']:.3f} "
            f"recall@10 {metrics['tune_to_title/recall@10']:.3f} "
            f"hit@10 {metrics.get('tune_to_title/hit@10', float('nan')):.3f} | title→tune MRR "
            f"{metrics['title_to_tune/mrr']:.3f} nDCG@10 {metrics['title_to_tune/ndcg@10']:.3f}")


def random_embeddings(es: EvalSet, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The chance baseline: random unit vectors for the tunes (N, dim) and titles (M, dim)
    of ``es``, float32."""
    rng = np.random.default_rng(seed)
    tune_emb = rng.standard_normal((len(es.tunes), dim)).astype(np.float32)
    title_emb = rng.standard_normal((len(es.titles), dim)).astype(np.float32)
    tune_emb /= np.linalg.norm(tune_emb, axis=1, keepdims=True)
    title_emb /= np.linalg.norm(title_emb, axis=1, keepdims=True)
    return tune_emb, title_emb


def random_init_embeddings(fm: FolkclipModel, tc: TokenizedCorpus, es: EvalSet,
                           seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tune (N, D) and title (M, D) embeddings of an untrained model of ``fm``'s architecture
    (the reference for what training adds).

    The melody encoder starts from no checkpoint (a pretrained title encoder such as
    ``minilm`` keeps its pretrained weights; only what training adds is random).
    """
    import dataclasses

    from folkclip.models import MelodyConfig, create_model

    cfg = fm.model.config
    melody = getattr(fm.model.melody, "config", cfg.melody)  # sizes resolved from an LM run
    if not isinstance(melody, MelodyConfig):
        melody = cfg.melody
    cfg = dataclasses.replace(cfg, melody=dataclasses.replace(melody, init_from=None))
    torch.manual_seed(seed)
    model = create_model(cfg, {f: len(v) for f, v in fm.vocab.items()})
    return embed(model, tc, es, max_events=fm.max_events, ids=fm.corpus_ids(tc))
