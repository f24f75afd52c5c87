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


def pooled_embeddings(root: Path, untrained: bool = False, seed: int = 0) -> PooledEmbeddings:
    """Each fold's test tunes embedded by that fold's model (or its untrained twin)."""
    from folkclip.abc.titles import title_key
    from folkclip.eval.evaluation import random_init_embeddings
    from folkclip_cli.study.crossval import fold_dirs
    from folkclip_cli.study.runs import embeddings, load_eval

    idx, tunes, titles = [], [], []
    corpus, max_events = None, 0
    for d in fold_dirs(root):
        ctx = load_eval(d)
        corpus, max_events = ctx.corpus, ctx.model.max_events
        es = ctx.evalset
        tune_emb, title_emb = (random_init_embeddings(ctx.model, ctx.corpus, es, seed)
                               if untrained else embeddings(ctx))
        key_index = {title_key(t): j for j, t in enumerate(es.titles)}
        for q, i in enumerate(es.tunes):
            main = key_index.get(title_key(corpus.meta[i]["title"]),
                                 es.tune_titles[q][0])
            idx.append(i)
            tunes.append(tune_emb[q])
            titles.append(title_emb[main])
    order = np.argsort(idx)
    return PooledEmbeddings(corpus, np.asarray(idx)[order], np.stack(tunes)[order],
                            np.stack(titles)[order], max_events)


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = rows[:top]
    fig, ax = plt.subplots(figsize=(6.4, 0.3 * len(rows) + 1.4))
    y = np.arange(len(rows))
    for j, (key, ci, name) in enumerate((("auc", "ci", "melody embedding"),
                                         ("header_auc", "header_ci", "header only"))):
        v = np.array([r[key] for r in rows])
        lo = np.array([r[ci][0] for r in rows])
        hi = np.array([r[ci][1] for r in rows])
        ax.errorbar(v, y + (j - 0.5) * 0.3, xerr=np.nan_to_num(np.vstack([v - lo, hi - v])),
                    fmt="o", capsize=2, label=name)
    ax.axvline(0.5, color="0.4", lw=0.8)
    ax.set_yticks(y, [f"{r['word']} ({r['tunes']})" for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("ROC AUC, out-of-fold (bootstrap 95% CI)")
    ax.set_title("Which title words the melody predicts", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
