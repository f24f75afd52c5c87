"""Parts 4 and 5 of the study: what the towers encode, and which title words melodies
predict, from a cross-validated run's out-of-fold embeddings.

Every tune is embedded by the fold model that did not train on it (its test fold), so the
probes never see a tune through a model that learned it. Features compared:

- the trained model's tune (and title) embeddings;
- the same architecture untrained (:func:`folkclip.eval.evaluation.random_init_embeddings`);
- simple token statistics: per tune, the normalised histograms of the note events' scale
  degree, duration, metrical position and octave over the events the model sees (no header
  token, so no type, meter or key by name);
- for title words, header-only features: one-hot tune type, meter, key and mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

STAT_FIELDS = ("degree", "duration", "position", "octave")
TUNE_TARGETS = ("type", "meter", "mode", "key")
TITLE_TARGETS = ("type", "mode")


@dataclass
class PooledEmbeddings:
    """Out-of-fold embeddings of every titled tune of a cross-validation."""

    corpus: object  # TokenizedCorpus
    indices: np.ndarray  # (N,) tune indices into ``corpus``
    tune: np.ndarray  # (N, D)
    title: np.ndarray  # (N, D): the embedding of each tune's main title
    max_events: int


def pooled_embeddings(root: Path, seed: int = 0) -> dict[str, PooledEmbeddings]:
    """Each fold's test tunes embedded by that fold's model (``trained``) and by its
    untrained twin (``untrained``), each fold's model and tunes loaded once."""
    from folkclip.abc.titles import title_key
    from folkclip.eval.evaluation import random_init_embeddings
    from folkclip_cli.study.crossval import fold_dirs
    from folkclip_cli.study.runs import embeddings, load_eval

    idx: list[int] = []
    vectors: dict[str, tuple[list, list]] = {"trained": ([], []), "untrained": ([], [])}
    corpus, max_events = None, 0
    for d in fold_dirs(root):
        ctx = load_eval(d)
        corpus, max_events, es = ctx.corpus, ctx.model.max_events, ctx.evalset
        key_index = {title_key(t): j for j, t in enumerate(es.titles)}
        main = [key_index.get(title_key(corpus.meta[i]["title"]), es.tune_titles[q][0])
                for q, i in enumerate(es.tunes)]
        idx += es.tunes
        for kind, (tune_emb, title_emb) in (
                ("trained", embeddings(ctx)),
                ("untrained", random_init_embeddings(ctx.model, corpus, es, seed))):
            vectors[kind][0].append(tune_emb)
            vectors[kind][1].append(title_emb[main])
    order = np.argsort(idx)
    return {kind: PooledEmbeddings(corpus, np.asarray(idx)[order],
                                   np.concatenate(tunes)[order], np.concatenate(titles)[order],
                                   max_events)
            for kind, (tunes, titles) in vectors.items()}


def token_statistics(corpus, indices: np.ndarray, max_events: int) -> np.ndarray:
    """(N, F) normalised histograms of :data:`STAT_FIELDS` over each tune's first
    ``max_events`` events."""
    from folkclip.data.tokenize import FIELDS

    cols = [FIELDS.index(f) for f in STAT_FIELDS]
    sizes = [len(corpus.vocab[f]) for f in STAT_FIELDS]
    out = np.zeros((len(indices), sum(sizes)))
    for row, i in enumerate(indices):
        tok = corpus.tokens(int(i))[:max_events]
        offset = 0
        for c, size in zip(cols, sizes):
            out[row, offset:offset + size] = np.bincount(tok[:, c], minlength=size)[:size] / max(
                len(tok), 1)
            offset += size
    return out


def header_features(corpus, indices: np.ndarray) -> np.ndarray:
    """(N, F) one-hot tune type, meter, key and mode (what a header says)."""
    columns = []
    for field in ("type", "meter", "key", "mode"):
        values = [str(corpus.meta[int(i)][field]) for i in indices]
        names = sorted(set(values))
        onehot = np.zeros((len(values), len(names)))
        onehot[np.arange(len(values)), [names.index(v) for v in values]] = 1
        columns.append(onehot)
    return np.hstack(columns)


def _labels(corpus, indices: np.ndarray, field: str) -> list[str]:
    return [str(corpus.meta[int(i)][field]) for i in indices]


def probe_rows(trained: PooledEmbeddings, untrained: PooledEmbeddings, folds: int = 5,
               seed: int = 0) -> list[dict]:
    """Part 4: probe accuracy per (tower, target) for trained, untrained and token stats."""
    from folkclip.eval.probes import linear_probe

    tc, idx = trained.corpus, trained.indices
    groups = tc.groups()[idx]
    stats = token_statistics(tc, idx, trained.max_events)
    rows = []
    for tower, targets in (("tune", TUNE_TARGETS), ("title", TITLE_TARGETS)):
        for target in targets:
            labels = _labels(tc, idx, target)
            known = np.array([v not in ("unknown", "", "None") for v in labels])
            if known.sum() < 10:
                continue
            lab = [v for v, k in zip(labels, known) if k]
            feats = {"trained": getattr(trained, tower), "untrained": getattr(untrained, tower)}
            if tower == "tune":
                feats["token statistics"] = stats
            row = {"tower": tower, "target": target}
            for name, x in feats.items():
                row[name] = linear_probe(x[known], lab, groups[known], folds=folds, seed=seed)
            row["majority"] = row["trained"]["majority"]
            row["n"] = row["trained"]["n"]
            rows.append(row)
    return rows


def probe_markdown(rows: list[dict]) -> str:
    def cell(r: dict | None) -> str:
        if not r:
            return "—"
        return f"{r['accuracy']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"

    lines = [("| embedding | target | tunes | classes | trained | untrained | token statistics "
             "| majority |"), "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['tower']} | {r['target']} | {r['n']} | "
                     f"{len(r['trained']['classes'])} | {cell(r['trained'])} | "
                     f"{cell(r['untrained'])} | {cell(r.get('token statistics'))} | "
                     f"{r['majority']:.3f} |")
    return "\n".join(lines)


def word_rows(trained: PooledEmbeddings, min_titles: int = 15, folds: int = 5,
              seed: int = 0, n_resamples: int = 1000) -> list[dict]:
    """Part 5: per frequent title word, AUC from tune embeddings and from header features."""
    from folkclip.eval.probes import frequent_words, title_word_auc

    tc, idx = trained.corpus, trained.indices
    titles = _labels(tc, idx, "title")
    groups = tc.groups()[idx]
    words = frequent_words(titles, min_titles)
    melody = {r["word"]: r for r in title_word_auc(trained.tune, titles, groups, words=words,
                                                   folds=folds, seed=seed,
                                                   n_resamples=n_resamples)}
    header = {r["word"]: r for r in title_word_auc(header_features(tc, idx), titles, groups,
                                                   words=words, folds=folds, seed=seed,
                                                   n_resamples=n_resamples)}
    rows = []
    for w, m in melody.items():
        h = header.get(w)
        rows.append({"word": w, "tunes": m["tunes"], "rate": m["rate"], "auc": m["auc"],
                     "ci": m["ci"], "header_auc": h["auc"] if h else float("nan"),
                     "header_ci": h["ci"] if h else (float("nan"), float("nan"))})
    return sorted(rows, key=lambda r: -r["auc"])


def word_markdown(rows: list[dict]) -> str:
    lines = [("| word | tunes | share | AUC from melody embedding | AUC from header only | "
             "melody − header |"), "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['word']} | {r['tunes']} | {r['rate']:.3f} | {r['auc']:.3f} "
                     f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] | {r['header_auc']:.3f} "
                     f"[{r['header_ci'][0]:.3f}, {r['header_ci'][1]:.3f}] | "
                     f"{r['auc'] - r['header_auc']:+.3f} |")
    return "\n".join(lines)


def word_plot(rows: list[dict], path: Path, top: int = 25) -> Path:
    """AUC from the melody embedding and from the header per word (best ``top``)."""
    from folkclip_cli.study.tables import interval_plot

    rows = rows[:top]
    series = [(name, [r[key] for r in rows], [r[ci][0] for r in rows], [r[ci][1] for r in rows])
              for key, ci, name in (("auc", "ci", "melody embedding"),
                                    ("header_auc", "header_ci", "header only"))]
    return interval_plot([f"{r['word']} ({r['tunes']})" for r in rows], series, path,
                         "ROC AUC, out-of-fold (bootstrap 95% CI)",
                         "Which title words the melody predicts", reference=0.5, spacing=0.3,
                         row_height=0.3)
