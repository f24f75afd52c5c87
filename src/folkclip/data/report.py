"""What a collection holds and whether its split leaks: the figures behind
``folkclip data inspect`` and ``folkclip data check-leakage``."""

from __future__ import annotations

from collections import Counter

import numpy as np

from folkclip.abc.titles import title_key
from folkclip.data.splits import (
    assign_folds, assign_splits, crossing_groups, group_ids, identity_of, melody_vectors,
    near_duplicates,
)
from folkclip.io.sources import Corpus


def corpus_summary(corpus: Corpus, sources: list[str]) -> dict:
    """Counts of files, tunes read and skipped (with every error), warnings, types,
    distinct titles, untitled tunes, notes and collections."""
    errors, warnings = corpus.errors, corpus.warnings
    types = Counter(t.tune_type for t in corpus.tunes)
    titles = {title_key(t.title) for t in corpus.tunes if t.title}
    return {
        "sources": sources,
        "files": len(corpus.files),
        "tunes": len(corpus.tunes) + len(errors),
        "parsed": len(corpus.tunes),
        "skipped": len(errors),
        "errors": [{k: v for k, v in p.to_dict().items() if k != "severity"} for p in errors],
        "warnings": len(warnings),
        # Every warning counted per tune, although only the first ones are listed.
        "warnings_by_tune": [{"source": t.source, "tune": t.ref, "line": t.line,
                              "warnings": t.warning_count, "listed": len(t.warnings)}
                             for t in corpus.tunes if t.warning_count],
        "types": dict(sorted(types.items(), key=lambda kv: -kv[1])),
        "titles": len(titles),
        "untitled": sum(1 for t in corpus.tunes if not t.title),
        "notes": sum(sum(1 for e in t.notes if e.pitch is not None) for t in corpus.tunes),
        "collections": dict(Counter(t.collection for t in corpus.tunes)),
    }


def leakage_report(corpus: Corpus, seed: int = 0, threshold: float = 0.9,
                   fractions: tuple[float, ...] = (0.8, 0.1, 0.1), folds: int = 0) -> dict:
    """Identity groups, split sizes, groups crossing splits (must be 0) and near-duplicate
    melodies (cosine >= ``threshold`` of interval 4-gram profiles) between the held-out
    splits and train; with ``folds`` the same for K-fold cross-validation folds."""
    idents = [identity_of(t) for t in corpus.tunes]
    splits = assign_splits(idents, fractions, seed)
    crossing = crossing_groups(idents, splits)
    fold_of = assign_folds(idents, folds, seed) if folds else None
    groups = group_ids(idents)
    vectors = melody_vectors([[n.pitch for n in t.notes if n.pitch is not None]
                              for t in corpus.tunes])
    sides = np.array(splits)
    train = np.nonzero(sides == "train")[0]
    dupes = []
    for held in ("validation", "test"):
        idx = np.nonzero(sides == held)[0]
        for i, j, sim in near_duplicates(vectors[idx], vectors[train], threshold):
            a, b = corpus.tunes[idx[i]], corpus.tunes[train[j]]
            dupes.append({"split": held, "tune": f"{a.source}:{a.ref}",
                          "train_tune": f"{b.source}:{b.ref}", "similarity": round(sim, 4)})
    report = {
        "tunes": len(idents), "groups": int(len(set(groups.tolist()))),
        "split_sizes": dict(Counter(splits)), "crossing_groups": len(crossing),
        "near_duplicates": len(dupes), "near_duplicate_pairs": dupes,
        "threshold": threshold, "seed": seed, "fractions": list(fractions), "folds": folds,
    }
    if folds:
        report["fold_sizes"] = [int((fold_of == k).sum()) for k in range(folds)]
        report["groups_crossing_folds"] = len(crossing_groups(idents, fold_of.tolist()))
        report["near_duplicates_across_folds"] = sum(
            1 for i, j, _ in near_duplicates(vectors, vectors, threshold)
            if i < j and fold_of[i] != fold_of[j])
    return report
