"""Part 4's nearest-melody baseline as a cross-validation folder (no training).

For every fold of the study's grouped K-fold split, the fold's test tunes and titles are
ranked by :mod:`folkclip.eval.baselines` (k nearest training tunes by interval n-gram
TF-IDF, their MiniLM title vectors voting for the candidates; the reverse for title →
tune), with k chosen per direction on the fold's validation queries. The folder
``OUT/runs/baseline-nearest-melody`` then has the layout of a two-tower cross-validation
(``cv.json``, ``fold<k>/{eval_test.json,per_query_test.csv,baseline.json}``, pooled
``per_query_test.csv`` and ``eval_test.json``), so every two-tower row can be compared with
it query by query (``folkclip compare``, the study's paired Δ).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from folkclip.eval.evaluation import EvalSet
    from folkclip_cli.train.config import DataConfig

LABEL = "baseline-nearest-melody"


def score_tables(es: EvalSet, tune_to_title: np.ndarray, title_to_tune: np.ndarray) -> dict:
    """Per-query results of score matrices (N, M) and (M, N), as
    :func:`folkclip.eval.evaluation.query_results` writes them for embeddings."""
    from folkclip.abc.titles import title_key
    from folkclip.eval.metrics import per_query_metrics

    refs = es.tc.refs()
    types = np.array(es.types, dtype=object)
    out = {}
    for name, s, rel, ids, qtypes in (
            ("tune_to_title", tune_to_title, es.tune_titles,
             np.array([refs[i] for i in es.tunes], dtype=object), types),
            ("title_to_tune", title_to_tune, es.title_tunes,
             np.array([title_key(t) for t in es.titles], dtype=object),
             np.array([es.types[ts[0]] for ts in es.title_tunes], dtype=object))):
        pq = per_query_metrics(s, [np.array(r, dtype=np.int64) for r in rel])
        out[name] = {"query": ids, "type": qtypes, **pq}
    return out


def _fold_scores(tc, train: list[int], es: EvalSet, embed_titles) -> tuple:
    """Melody similarity (N, T) of ``es``'s tunes to the training tunes and title
    similarity (T, M) of the training tunes' titles to ``es``'s titles."""
    from folkclip.eval.baselines import tfidf_similarity
    from folkclip.eval.overlap import pitch_sequences

    melody = tfidf_similarity(pitch_sequences(tc, es.tunes), pitch_sequences(tc, train))
    train_titles = embed_titles([tc.meta[i]["title"] for i in train])  # (T, D)
    return melody, train_titles @ embed_titles(es.titles).T  # (N, T), (T, M)


def nearest_melody_cv(out: Path, data: DataConfig, folds: int, embed_titles=None) -> dict:
    """Write the baseline's cross-validation folder ``out`` and return its pooled metrics.

    Args:
        out: The folder (``OUT/runs/baseline-nearest-melody``).
        data: The study's data settings (sources, split seed, fractions).
        folds: Cross-validation folds.
        embed_titles: ``list[str] -> (n, D)`` L2-normalised title vectors (default MiniLM).
    """
    from folkclip.data.batch import titled_indices
    from folkclip.data.dataset import load_tokenized
    from folkclip.data.tokenize import TokenizerConfig
    from folkclip.eval.baselines import choose_k, neighbour_scores
    from folkclip.eval.evaluation import EvalSet, score_queries
    from folkclip.eval.queries import write_queries
    from folkclip_cli.study.crossval import CV_FILE, write_pooled

    embed_titles = embed_titles or _minilm()
    tc = load_tokenized(list(data.sources), TokenizerConfig())  # pitches kept
    out.mkdir(parents=True, exist_ok=True)
    (out / CV_FILE).write_text(json.dumps(
        {"folds": folds, "runs": [f"fold{k}" for k in range(folds)]}, indent=1))
    tables, per_fold = [], []
    for k in range(folds):
        split = tc.split(data.split_seed, tuple(data.fractions), folds, k)
        train = titled_indices(tc, split["train"].tolist())
        val = EvalSet(tc, split["validation"].tolist())
        mel, tit = _fold_scores(tc, train, val, embed_titles)
        k_t2t, mrr_t2t = choose_k(lambda n, m=mel, t=tit: neighbour_scores(m, t, n),
                                  val.tune_titles)
        k_t2n, mrr_t2n = choose_k(lambda n, m=mel, t=tit: neighbour_scores(t.T, m.T, n),
                                  val.title_tunes)
        test = EvalSet(tc, split["test"].tolist())
        mel, tit = _fold_scores(tc, train, test, embed_titles)
        table = score_tables(test, neighbour_scores(mel, tit, k_t2t),
                             neighbour_scores(tit.T, mel.T, k_t2n))
        fold_dir = out / f"fold{k}"
        fold_dir.mkdir(exist_ok=True)
        write_queries(table, fold_dir / "per_query_test.csv")
        m = score_queries(table, n_boot=0)
        (fold_dir / "eval_test.json").write_text(json.dumps(m, indent=1))
        (fold_dir / "baseline.json").write_text(json.dumps(
            {"k_tune_to_title": k_t2t, "k_title_to_tune": k_t2n,
             "validation_mrr_tune_to_title": mrr_t2t,
             "validation_mrr_title_to_tune": mrr_t2n, "training_tunes": len(train)}, indent=1))
        tables.append(table)
        per_fold.append({"fold": k, **{key: v for key, v in m.items()
                                       if isinstance(v, (int, float))}})
    return write_pooled(out, tables, per_fold)


def _minilm():
    """MiniLM title vectors (the ``text`` extra), L2-normalised, as numpy."""
    from folkclip.models.config import TitleConfig
    from folkclip.models.title import MiniLmTitle

    model = MiniLmTitle(TitleConfig(arch="minilm"))
    return lambda titles: model.embed(list(titles)).numpy()
