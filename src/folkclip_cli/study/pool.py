"""The wide pretraining pool of part 3 (transfer done fairly): every melody folkclip can
read that is not in a fold's validation or test groups.

A fold's pool is its training part of the study's sources plus the other collections
(:data:`POOL_SOURCES`: Nottingham and music21's Essen folksongs and miscellaneous folk
tunes; melodies only, their titles are never a training signal) less every tune of those
collections that the fold's held-out groups contain: the same title (identity key, any main
or alternative title) or a near-duplicate melody (cosine of interval 4-gram profiles at
least :data:`folkclip.eval.overlap.NEAR_DUPLICATE_COSINE`, :func:`folkclip.eval.overlap.
training_overlap` with the held-out tunes as the "training" side). The pool is written as
one ABC file per fold (``OUT/pool/fold<k>.abc``, the tunes' own ABC text) with the counts in
``OUT/pool/fold<k>.json``; a melody language model then trains on it like on any source.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from folkclip.errors import FolkclipError

if TYPE_CHECKING:
    from folkclip.data.dataset import TokenizedCorpus

# Other collections of the pool: named sources, or music21 corpus collections ("music21:").
POOL_SOURCES = ("nottingham", "music21:essenFolksong", "music21:miscFolk")


def pool_source_paths(names: Sequence[str] = POOL_SOURCES) -> tuple[list[str], list[str]]:
    """The readable pool sources as folkclip source strings, and the names left out
    (with why): a collection that is not installed is skipped, not fatal."""
    from folkclip.io.sources import music21_collection_files, source_files

    found, missing = [], []
    for name in names:
        try:
            if name.startswith("music21:"):
                found += [str(p) for p in music21_collection_files(name.split(":", 1)[1])]
            else:
                source_files(name)
                found.append(name)
        except FolkclipError as err:
            missing.append(f"{name} ({err})")
    return found, missing


def filter_pool(pool: TokenizedCorpus, held: TokenizedCorpus, held_indices: Sequence[int],
                threshold: float | None = None) -> tuple[list[int], dict]:
    """The tunes of ``pool`` that the held-out tunes ``held_indices`` of ``held`` do not
    contain, by title identity or near-duplicate melody.

    Args:
        pool: The other collections, tokenized with pitches kept.
        held: The study's corpus, tokenized with pitches kept.
        held_indices: The fold's validation and test tunes.
        threshold: Near-duplicate cosine (default the leakage check's).

    Returns:
        ``(kept pool indices, counts)``; counts: ``pool``, ``removed``,
        ``removed_title``, ``removed_melody``, ``kept`` and a few ``examples``.
    """
    from folkclip.eval.overlap import NEAR_DUPLICATE_COSINE, training_overlap

    ov = training_overlap(pool, range(len(pool)), held, list(held_indices),
                          NEAR_DUPLICATE_COSINE if threshold is None else threshold)
    s = ov.summary()
    counts = {"pool": s["n_tunes"], "removed": s["seen"], "removed_title": s["seen_title"],
              "removed_melody": s["seen_melody"], "kept": s["unseen"],
              "threshold": s["threshold"], "examples": s["examples"]}
    return ov.unseen_indices(), counts


def write_fold_pool(out: Path, sources: list[str], pool_sources: list[str], split_seed: int,
                    fractions: tuple[float, float, float], folds: int, fold: int) -> dict:
    """Write fold ``fold``'s pool to ``out/fold<k>.abc`` and its counts to ``.json``.

    Returns:
        The counts: the fold's training tunes, the pool's filter counts and the total.

    Raises:
        FolkclipError: When the sources cannot be read.
    """
    from folkclip.data.dataset import load_tokenized
    from folkclip.data.tokenize import TokenizerConfig
    full = TokenizerConfig()  # pitches kept: the melody profile needs them
    study = load_tokenized(sources, full)
    split = study.split(split_seed, fractions, folds, fold)
    held = [*split["validation"].tolist(), *split["test"].tolist()]
    pool = load_tokenized(pool_sources, full)
    kept, counts = filter_pool(pool, study, held)
    texts = abc_texts([study.meta[i] for i in split["train"]])
    texts += abc_texts([pool.meta[i] for i in kept])
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"fold{fold}.abc"
    path.write_text("\n\n".join(texts) + "\n")
    counts = {"fold": fold, "fold_training_tunes": len(split["train"]), **counts,
              "pool_sources": pool_sources, "total": len(texts)}
    (out / f"fold{fold}.json").write_text(json.dumps(counts, indent=1))
    return counts


def abc_texts(metas: list[dict]) -> list[str]:
    """The tunes' own ABC text, ``X:`` renumbered 1, 2, ... so one file holds them all."""
    out = []
    for m in metas:
        text = (m.get("abc") or "").strip()
        if not text:
            continue
        head, _, rest = text.partition("\n")
        out.append(f"X:{len(out) + 1}\n" + (rest if head.startswith("X:") else text))
    return out
