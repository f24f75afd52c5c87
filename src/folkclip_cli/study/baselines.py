"""Part 4's baselines as cross-validation folders (no training): random, nearest-melody
title transfer and a linear model from n-grams and header to title words.

For every fold of the study's grouped K-fold split, the fold's test tunes and titles are
ranked without a two-tower model, and ``OUT/runs/<label>`` gets the layout of a two-tower
cross-validation (``cv.json``, ``fold<k>/{eval_test.json,per_query_test.csv,baseline.json}``,
pooled ``per_query_test.csv`` and ``eval_test.json``), so every two-tower row can be
compared with it query by query (``folkclip compare``, the study's paired Δ):

* ``baseline-random``: the exact expected metrics of a random ranking of each query's
  candidates (:mod:`folkclip.eval.chance`);
* ``baseline-nearest-melody``: k nearest training tunes by interval n-gram TF-IDF, their
  MiniLM title vectors voting for the candidates, and the reverse for title → tune
  (:mod:`folkclip.eval.baselines`), k chosen per direction on the fold's validation queries;
* ``baseline-linear``: ridge regression from n-gram TF-IDF and header one-hot to the title's
  word TF-IDF, scored by cosine (:mod:`folkclip.eval.linear_baseline`), the penalty chosen
  on the fold's validation tune → title MRR.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from folkclip.data.dataset import TokenizedCorpus
    from folkclip.eval.evaluation import EvalSet
    from folkclip_cli.train.config import DataConfig

LABEL = "baseline-nearest-melody"
RANDOM = "baseline-random"
LINEAR = "baseline-linear"
LABELS = (RANDOM, LABEL, LINEAR)  # every baseline folder of the study, cheapest first

# (corpus, training tunes (titled), validation set, test set) -> (test query table, choices)
FoldBaseline = Callable[["TokenizedCorpus", list, "EvalSet", "EvalSet"], tuple[dict, dict]]


def query_table(es: EvalSet, tune_to_title: dict, title_to_tune: dict) -> dict:
    """A query table (as :func:`folkclip.eval.evaluation.query_results` returns it) of the
    per-query metrics of both directions of ``es``."""
    from folkclip.abc.titles import title_key

    refs = es.tc.refs()
    types = np.array(es.types, dtype=object)
    return {"tune_to_title": {"query": np.array([refs[i] for i in es.tunes], dtype=object),
                              "type": types, **tune_to_title},
            "title_to_tune": {"query": np.array([title_key(t) for t in es.titles], dtype=object),
                              "type": np.array([es.types[ts[0]] for ts in es.title_tunes],
                                               dtype=object), **title_to_tune}}


def score_tables(es: EvalSet, tune_to_title: np.ndarray, title_to_tune: np.ndarray) -> dict:
    """Per-query results of score matrices (N, M) and (M, N), as
    :func:`folkclip.eval.evaluation.query_results` writes them for embeddings."""
    from folkclip.eval.metrics import per_query_metrics

    return query_table(
        es, per_query_metrics(tune_to_title, [np.array(r, np.int64) for r in es.tune_titles]),
        per_query_metrics(title_to_tune, [np.array(r, np.int64) for r in es.title_tunes]))


def baseline_cv(out: Path, data: DataConfig, folds: int, fold_baseline: FoldBaseline,
                tc: TokenizedCorpus | None = None) -> dict:
    """Write a baseline's cross-validation folder ``out``; return its pooled metrics.

    Args:
        out: The folder (``OUT/runs/<label>``).
        data: The study's data settings (sources, split seed, fractions).
        folds: Cross-validation folds.
        fold_baseline: Ranks one fold's test queries; returns the query table and what it
            chose on validation (written to ``fold<k>/baseline.json``).
        tc: The sources' tokenized corpus (loaded from ``data`` when not given).
    """
    from folkclip.data.batch import titled_indices
    from folkclip.eval.evaluation import EvalSet, score_queries
    from folkclip.eval.queries import write_queries
    from folkclip_cli.study.crossval import CV_FILE, write_pooled

    tc = tc if tc is not None else _corpus(data)
    out.mkdir(parents=True, exist_ok=True)
    (out / CV_FILE).write_text(json.dumps(
        {"folds": folds, "runs": [f"fold{k}" for k in range(folds)]}, indent=1))
    tables, per_fold = [], []
    for k in range(folds):
        split = tc.split(data.split_seed, tuple(data.fractions), folds, k)
        train = titled_indices(tc, split["train"].tolist())
        table, chosen = fold_baseline(tc, train, EvalSet(tc, split["validation"].tolist()),
                                      EvalSet(tc, split["test"].tolist()))
        fold_dir = out / f"fold{k}"
        fold_dir.mkdir(exist_ok=True)
        write_queries(table, fold_dir / "per_query_test.csv")
        m = score_queries(table, n_boot=0)
        (fold_dir / "eval_test.json").write_text(json.dumps(m, indent=1))
        (fold_dir / "baseline.json").write_text(json.dumps(
            {**chosen, "training_tunes": len(train)}, indent=1))
        tables.append(table)
        per_fold.append({"fold": k, **{key: v for key, v in m.items()
                                       if isinstance(v, (int, float))}})
    return write_pooled(out, tables, per_fold)


def _corpus(data: DataConfig) -> TokenizedCorpus:
    from folkclip.data.dataset import load_tokenized
    from folkclip.data.tokenize import TokenizerConfig

    return load_tokenized(list(data.sources), TokenizerConfig())  # pitches kept


# ------------------------------------------------------------------ random
def random_fold(tc, train: list, val: EvalSet, test: EvalSet) -> tuple[dict, dict]:
    """The expected metrics of a random ranking of ``test``'s candidates."""
    from folkclip.eval.chance import expected_metrics

    return query_table(test, expected_metrics(len(test.titles), test.tune_titles),
                       expected_metrics(len(test.tunes), test.title_tunes)), {}


def random_cv(out: Path, data: DataConfig, folds: int, tc=None) -> dict:
    """:func:`baseline_cv` of the random ranking (exact expectations, no sampling)."""
    return baseline_cv(out, data, folds, random_fold, tc)


# ------------------------------------------------------------------ nearest melody
def _fold_scores(tc, train: list[int], es: EvalSet, embed_titles) -> tuple:
    """Melody similarity (N, T) of ``es``'s tunes to the training tunes and title
    similarity (T, M) of the training tunes' titles to ``es``'s titles."""
    from folkclip.eval.baselines import tfidf_similarity
    from folkclip.eval.overlap import pitch_sequences

    melody = tfidf_similarity(pitch_sequences(tc, es.tunes), pitch_sequences(tc, train))
    train_titles = embed_titles([tc.meta[i]["title"] for i in train])  # (T, D)
    return melody, train_titles @ embed_titles(es.titles).T  # (N, T), (T, M)


def nearest_melody_fold(embed_titles) -> FoldBaseline:
    """The nearest-melody baseline of one fold, titles embedded by ``embed_titles``."""
    from folkclip.eval.baselines import choose_k, neighbour_scores

    def run(tc, train: list, val: EvalSet, test: EvalSet) -> tuple[dict, dict]:
        mel, tit = _fold_scores(tc, train, val, embed_titles)
        k_t2t, mrr_t2t = choose_k(lambda n, m=mel, t=tit: neighbour_scores(m, t, n),
                                  val.tune_titles)
        k_t2n, mrr_t2n = choose_k(lambda n, m=mel, t=tit: neighbour_scores(t.T, m.T, n),
                                  val.title_tunes)
        mel, tit = _fold_scores(tc, train, test, embed_titles)
        table = score_tables(test, neighbour_scores(mel, tit, k_t2t),
                             neighbour_scores(tit.T, mel.T, k_t2n))
        return table, {"k_tune_to_title": k_t2t, "k_title_to_tune": k_t2n,
                       "validation_mrr_tune_to_title": mrr_t2t,
                       "validation_mrr_title_to_tune": mrr_t2n}

    return run


def nearest_melody_cv(out: Path, data: DataConfig, folds: int, embed_titles=None,
                      tc=None) -> dict:
    """:func:`baseline_cv` of the nearest-melody baseline.

    Args:
        embed_titles: ``list[str] -> (n, D)`` L2-normalised title vectors (default MiniLM).
    """
    return baseline_cv(out, data, folds, nearest_melody_fold(embed_titles or _minilm()), tc)


def _minilm():
    """MiniLM title vectors (the ``text`` extra), L2-normalised, as numpy."""
    from folkclip.models.config import TitleConfig
    from folkclip.models.title import MiniLmTitle

    model = MiniLmTitle(TitleConfig(arch="minilm"))
    return lambda titles: model.embed(list(titles)).numpy()


# ------------------------------------------------------------------ linear
def _inputs(tc, tunes: list[int]) -> tuple[list, list]:
    from folkclip.eval.linear_baseline import HEADER_FIELDS
    from folkclip.eval.overlap import pitch_sequences

    return pitch_sequences(tc, tunes), [[tc.meta[i][f] for f in HEADER_FIELDS] for i in tunes]


def linear_fold(alphas: tuple[float, ...] | None = None) -> FoldBaseline:
    """The linear baseline of one fold: ridges fitted on the training tunes' main titles,
    the penalty with the best validation tune → title MRR (the smallest among ties)."""
    from folkclip.eval.baselines import choose_k
    from folkclip.eval.linear_baseline import ALPHAS, LinearTitleWords

    def run(tc, train: list, val: EvalSet, test: EvalSet) -> tuple[dict, dict]:
        model = LinearTitleWords(alphas or ALPHAS).fit(
            *_inputs(tc, train), [tc.meta[i]["title"] for i in train])
        v_pitches, v_headers = _inputs(tc, val.tunes)
        alpha, mrr = choose_k(lambda a: model.scores(v_pitches, v_headers, val.titles, a),
                              val.tune_titles, model.alphas)
        s = model.scores(*_inputs(tc, test.tunes), test.titles, alpha)  # (N, M)
        return score_tables(test, s, np.ascontiguousarray(s.T)), {
            "alpha": alpha, "validation_mrr_tune_to_title": {str(a): v for a, v in mrr.items()},
            "title_words": len(model.words.vocabulary_),
            "ngram_features": len(model.ngrams.vocabulary_)}

    return run


def linear_cv(out: Path, data: DataConfig, folds: int, tc=None,
              alphas: tuple[float, ...] | None = None) -> dict:
    """:func:`baseline_cv` of the linear baseline."""
    return baseline_cv(out, data, folds, linear_fold(alphas), tc)


def run_baselines(run_dir: Callable[[str], Path], data: DataConfig, folds: int,
                  embed_titles=None, log=print) -> dict[str, dict]:
    """Write every baseline folder (``run_dir(label)``) not written yet; returns the pooled
    metrics of those written now."""
    writers = {RANDOM: lambda o, tc: random_cv(o, data, folds, tc),
               LABEL: lambda o, tc: nearest_melody_cv(o, data, folds, embed_titles, tc),
               LINEAR: lambda o, tc: linear_cv(o, data, folds, tc)}
    todo = [lbl for lbl in LABELS if not (run_dir(lbl) / "eval_test.json").exists()]
    tc = _corpus(data) if todo else None
    done = {}
    for label in todo:
        log(f"== baselines: {label} ({folds} folds, no training)")
        m = done[label] = writers[label](run_dir(label), tc)
        log(f"{label}: tune→title MRR {m['tune_to_title/mrr']:.4f}, title→tune MRR "
            f"{m['title_to_tune/mrr']:.4f}")
    return done
