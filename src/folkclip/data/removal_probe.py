"""How much of a removed element stays in the tokens: a cross-validated linear probe.

A removal switch (:mod:`folkclip.data.tokenize`) takes its element out of every field that
carries it directly; what it cannot take out is the information other elements carry
indirectly (the meter in the rhythm of the notes, the mode in the pitches). This
module measures that residue: a logistic regression on per-field token n-gram counts
predicts the removed element of each tune, cross-validated with folds grouped by tune
identity (the grouping of the split), once on the tokens with the element removed and
once on the tokens with it kept, next to the share of the most frequent label.

Targets: ``meter``, ``mode``, ``key`` (tonic as written), ``type`` (tunes without one
are left out) and ``rhythm``, whose label is a tune's most frequent note length in
quarter notes (read from tokens with only the meter removed, so that it is
comparable across meters). scikit-learn is imported when a probe runs.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

import numpy as np

from folkclip.data.dataset import TokenizedCorpus, load_tokenized
from folkclip.errors import FolkclipError
from folkclip.abc.titles import UNKNOWN_TYPE
from folkclip.data.tokenize import FIELDS, NONE, TokenizerConfig

PROBE_TARGETS = ("meter", "mode", "key", "type", "rhythm")
DEFAULT_FOLDS = 5
MIN_DOCUMENT_FREQUENCY = 2  # n-grams seen in fewer tunes are dropped (noise, memory)
PROBE_C = 10.0  # inverse L2 strength: weak, so one telling header token is enough


def target_labels(tc: TokenizedCorpus, element: str,
                  durations: TokenizedCorpus | None = None) -> list[str | None]:
    """The label of ``element`` per tune (``None``: unknown, left out of the probe).

    Args:
        tc: Any tokenization of the tunes (labels of meter, mode, key and type come
            from its metadata, which no switch changes).
        element: One of :data:`PROBE_TARGETS`.
        durations: For ``rhythm``, the same tunes tokenized with the meter removed
            (durations in quarter notes).

    Raises:
        FolkclipError: For an element without a probe target.
    """
    if element not in PROBE_TARGETS:
        raise FolkclipError(f"no probe target for {element!r}; choose from {PROBE_TARGETS}")
    if element == "rhythm":
        if durations is None:
            raise FolkclipError("the rhythm target needs the tunes tokenized without meter")
        return [_majority_length(durations, i) for i in range(len(durations))]
    field = {"meter": "meter", "mode": "mode", "key": "key", "type": "type"}[element]
    out = [m[field] or None for m in tc.meta]
    return [None if v == UNKNOWN_TYPE else v for v in out]


def _majority_length(tc: TokenizedCorpus, i: int) -> str | None:
    column = FIELDS.index("duration")
    names = tc.vocab["duration"]
    counts = Counter(names[d] for d in tc.tokens(i)[:, column].tolist())
    counts.pop(NONE, None)
    if not counts:
        return None
    top = max(counts.values())
    return min(k for k, n in counts.items() if n == top)  # ties: a fixed choice


def ngram_counts(tc: TokenizedCorpus, n: int = 2):
    """Per tune, counts of every field's n-grams (1..``n``) of token ids, within tunes.

    Returns:
        A ``(N, K)`` scipy CSR matrix of counts, columns kept when seen in at least
        :data:`MIN_DOCUMENT_FREQUENCY` tunes.
    """
    from scipy import sparse

    lengths = np.diff(tc.offsets)  # (N,)
    row = np.repeat(np.arange(len(tc)), lengths)  # (E,) tune of each event
    rows, cols, offset = [], [], 0
    for j, f in enumerate(FIELDS):
        v = len(tc.vocab[f])
        ids = tc.ids[:, j].astype(np.int64)  # (E,)
        code, same = ids, np.ones(len(ids), dtype=bool)
        for order in range(1, n + 1):
            if order > 1:
                same = same[1:] & (row[order - 1:] == row[: len(row) - order + 1])
                code = code[:-1] * v + ids[order - 1:]
            keep = same
            rows.append(row[: len(code)][keep])
            cols.append(offset + code[keep])
            offset += v ** order
    r, c = np.concatenate(rows), np.concatenate(cols)
    uniq, c = np.unique(c, return_inverse=True)  # compact the column space
    m = sparse.csr_matrix((np.ones(len(r), dtype=np.float64), (r, c)),
                          shape=(len(tc), len(uniq)))
    df = np.asarray((m > 0).sum(axis=0)).ravel()
    return m[:, np.nonzero(df >= MIN_DOCUMENT_FREQUENCY)[0]]


def probe_accuracy(x, labels: Sequence[str], groups: np.ndarray,
                   folds: int = DEFAULT_FOLDS) -> dict:
    """Grouped K-fold accuracy of a logistic-regression probe (and of the majority rule).

    Args:
        x: ``(N, K)`` feature matrix (counts; ``log1p`` and max-abs scaled inside the probe).
        labels: ``N`` labels.
        groups: ``(N,)`` group ids; a group never spans training and test folds.
        folds: Number of folds.

    Returns:
        ``accuracy`` (pooled over the held-out folds), ``fold_accuracy`` (list),
        ``majority_cv`` (accuracy of predicting each training fold's majority label).
    """
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, MaxAbsScaler

    y = np.asarray(labels)
    n_groups = len(np.unique(groups))
    if n_groups < folds:
        raise FolkclipError(f"{n_groups} tune groups are too few for {folds} folds")
    hits = np.zeros(len(y), dtype=bool)
    hits_majority = np.zeros(len(y), dtype=bool)
    fold_accuracy = []
    for train, test in GroupKFold(n_splits=folds).split(x, y, groups):
        if len(np.unique(y[train])) < 2:
            pred = np.full(len(test), y[train][0])
        else:
            probe = make_pipeline(FunctionTransformer(np.log1p, accept_sparse=True),
                                  MaxAbsScaler(), LogisticRegression(C=PROBE_C, max_iter=3000))
            pred = probe.fit(x[train], y[train]).predict(x[test])
        hits[test] = pred == y[test]
        majority = DummyClassifier(strategy="most_frequent").fit(x[train], y[train])
        hits_majority[test] = majority.predict(x[test]) == y[test]
        fold_accuracy.append(float(hits[test].mean()))
    return {"accuracy": float(hits.mean()), "fold_accuracy": fold_accuracy,
            "majority_cv": float(hits_majority.mean())}


def check_removal(sources: list[str] | str, element: str, *,
                  base: TokenizerConfig | None = None, folds: int = DEFAULT_FOLDS,
                  ngram: int = 2, max_tunes: int = 0, seed: int = 0,
                  use_cache: bool = True) -> dict:
    """Probe how well ``element`` can still be predicted after its switch is applied.

    Args:
        sources: Data sources (as for :func:`folkclip.data.dataset.load_tokenized`).
        element: One of :data:`PROBE_TARGETS` (its removal switch has the same name).
        base: Tokenizer configuration both probes start from (its removals stay on).
        folds: Grouped cross-validation folds.
        ngram: Longest n-gram per field.
        max_tunes: Probe a random subset of this many labelled tunes (0: all).
        seed: Seed of that subset.
        use_cache: Use the token cache.

    Returns:
        ``element``, ``n_tunes``, ``n_classes``, ``majority_label``, ``majority_share``,
        ``removed`` and ``kept`` (each :func:`probe_accuracy`'s result, plus
        ``n_features``), and ``folds``.

    Raises:
        FolkclipError: For an element without a target, or too few labelled tunes.
    """
    base = base or TokenizerConfig()
    if element not in PROBE_TARGETS:
        raise FolkclipError(f"no probe target for {element!r}; choose from {PROBE_TARGETS}")
    removed_cfg = dataclasses.replace(base, remove=tuple({*base.remove, element}))
    kept_cfg = dataclasses.replace(base, remove=tuple(set(base.remove) - {element}))
    kept = load_tokenized(sources, kept_cfg, use_cache=use_cache)
    removed = load_tokenized(sources, removed_cfg, use_cache=use_cache)
    durations = None
    if element == "rhythm":
        durations = load_tokenized(sources, TokenizerConfig(transpose=base.transpose,
                                                            remove=("meter",)),
                                   use_cache=use_cache)
    labels = target_labels(kept, element, durations)
    chosen = np.array([i for i, v in enumerate(labels) if v is not None], dtype=np.int64)
    if max_tunes and len(chosen) > max_tunes:
        chosen = np.sort(np.random.default_rng(seed).choice(chosen, max_tunes, replace=False))
    if len(chosen) < 2 * folds:
        raise FolkclipError(f"only {len(chosen)} tunes have a {element} label")
    y = [labels[i] for i in chosen]
    groups = kept.groups()[chosen]
    counts = Counter(y)
    top, n_top = max(sorted(counts.items()), key=lambda kv: kv[1])
    out = {"element": element, "sources": [sources] if isinstance(sources, str) else sources,
           "n_tunes": len(y), "n_classes": len(counts), "majority_label": top,
           "majority_share": n_top / len(y), "folds": folds, "ngram": ngram}
    for name, tc in (("removed", removed), ("kept", kept)):
        x = ngram_counts(tc, ngram)[chosen]
        out[name] = {**probe_accuracy(x, y, groups, folds), "n_features": int(x.shape[1])}
    return out


def residual_information(sources: list[str] | str, remove: Sequence[str], **kwargs) -> dict:
    """:func:`check_removal` for each switch of ``remove`` that has a probe target
    (e.g. ``["type", "meter"]`` for an ablation row ``type+meter``); the others
    (pitch, octave, ...) are left out.

    Returns:
        ``{element: check_removal(...)}``.
    """
    return {e: check_removal(sources, e, **kwargs) for e in remove if e in PROBE_TARGETS}


def residual_cell(results: dict) -> str:
    """A table cell for :func:`residual_information`'s result: per element, probe
    accuracy with the element removed / kept, and the majority share, e.g.
    ``meter 0.71 (kept 0.99, majority 0.45)``; ``—`` when nothing was probed."""
    if not results:
        return "—"
    return "; ".join(f"{e} {r['removed']['accuracy']:.2f} (kept {r['kept']['accuracy']:.2f}, "
                     f"majority {r['majority_share']:.2f})" for e, r in results.items())


def residual_column(labels: Sequence[str], sources: list[str] | str,
                    base: TokenizerConfig | None = None, **kwargs) -> dict[str, str]:
    """The residual-information column of an ablation table, one cell per row label.

    A label is an ablation element as ``folkclip ablate --remove`` takes it (``rhythm``,
    ``type+meter``, ``first_bars=8``, or ``full``); each switch of it with a probe target
    is probed once (results are shared between rows) from ``base``.

    Returns:
        ``{label: residual_cell(...)}`` (``—`` for rows with nothing to probe).
    """
    cache: dict[str, dict] = {}
    out = {}
    for label in labels:
        elements = [e for e in label.split("+") if e in PROBE_TARGETS]
        for e in elements:
            if e not in cache:
                cache[e] = check_removal(sources, e, base=base, **kwargs)
        out[label] = residual_cell({e: cache[e] for e in elements})
    return out
