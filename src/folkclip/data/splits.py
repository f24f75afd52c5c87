"""Leakage-safe train/validation/test splits grouped by tune identity.

Tunes are linked when they share a ``tune_id`` (versions of one tune) or any
normalised title (main or alternative); each connected component is a *group*, and
a whole group goes to one side. Assignment hashes the group's key with the seed, so
it is deterministic and stable when unrelated tunes are added.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import PurePath

import numpy as np

from folkclip.abc.titles import is_untitled, title_key
from folkclip.errors import FolkclipError

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class TuneIdentity:
    """What ties a tune to others: its collection-scoped ``tune_id`` and its titles."""

    tune_id: str | None
    titles: tuple[str, ...]
    ref: str = ""  # where the tune was read (file name#X); names a group with no other key


def make_identity(collection: str | None, tune_id: str | None, titles: Sequence[str],
                  ref: str = "") -> TuneIdentity:
    """The identity of one tune from its fields: the tune id scoped by collection, and its
    titles without empty ones and placeholders (``x``, ``untitled``, ...).

    Every path that splits tunes (training, evaluation, ``data check-leakage``) builds
    identities here, so they all see the same groups.
    """
    scoped = f"{collection or ''}/{tune_id}" if tune_id else None
    return TuneIdentity(scoped, tuple(t for t in titles if t and not is_untitled(t)), ref)


def tune_ref(collection: str | None, source: str, number: str) -> str:
    """A tune's place, independent of where the files lie: ``collection:file#X``."""
    return f"{collection or ''}:{PurePath(source).name}#{number}"


def identity_of(tune: object) -> TuneIdentity:
    """The identity of a :class:`~folkclip.abc.model.Tune` (or anything with the same fields)."""
    t = tune  # a Tune: collection, tune_id, title, alt_titles, source, number
    return make_identity(t.collection, t.tune_id, [t.title, *t.alt_titles],  # type: ignore
                         tune_ref(t.collection, t.source, t.number))  # type: ignore


def group_ids(identities: Sequence[TuneIdentity]) -> np.ndarray:
    """Connected components of tunes linked by shared tune id or shared title key.

    Returns:
        (N,) int array; tunes with equal values belong to one group.
    """
    parent = list(range(len(identities)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_seen: dict[str, int] = {}
    for i, ident in enumerate(identities):
        keys = [f"id:{ident.tune_id}"] if ident.tune_id else []
        keys += [f"t:{title_key(t)}" for t in ident.titles if title_key(t)]
        for k in keys:
            j = first_seen.setdefault(k, i)
            if j != i:
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    return np.array([find(i) for i in range(len(identities))], dtype=np.int64)


def _unit(seed: int, key: str, salt: str = "") -> float:
    """A uniform number in [0, 1) drawn from ``(seed, salt, key)`` by hashing."""
    digest = hashlib.sha256(f"{seed}:{salt}{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def group_keys(identities: Sequence[TuneIdentity]) -> tuple[np.ndarray, dict[int, str]]:
    """Groups and, per group, a key that does not depend on the order of the tunes: the
    smallest tune id or title key of its members (their ``ref`` when they have neither).

    Returns:
        (N,) group of each tune, and ``{group: key}``.
    """
    groups = group_ids(identities)
    keys: dict[int, str] = {}
    for i, g in enumerate(groups.tolist()):
        ident = identities[i]
        names = [ident.tune_id] if ident.tune_id else []
        names += [k for k in (title_key(t) for t in ident.titles) if k]
        member = min(names) if names else f"ref:{ident.ref or i}"
        keys[g] = min(keys.get(g, member), member)
    return groups, keys


def assign_splits(identities: Sequence[TuneIdentity], fractions: Sequence[float]
                  = (0.8, 0.1, 0.1), seed: int = 0, folds: int = 0, fold: int = 0,
                  train_share: float = 1.0) -> list[str]:
    """Give each tune a split name, keeping every group on one side.

    The one function behind every split: training, evaluation, ``data check-leakage``
    and K-fold cross-validation. Each group draws ``u`` from its key and the seed.

    * ``folds == 0``: ``u`` below ``fractions[0]`` is train, below
      ``fractions[0] + fractions[1]`` validation, else test.
    * ``folds == K >= 2``: the group's fold is ``floor(u * K)``; fold ``fold`` is the
      test side, and the other folds are shared between train and validation in the ratio
      ``fractions[0] : fractions[1]`` by a second, independent draw (``fractions[2]`` is
      not used). Over ``fold = 0..K-1`` every tune is tested exactly once.

    Args:
        identities: One identity per tune.
        fractions: Shares of train, validation and test (sum to 1).
        seed: Changes the assignment; the same seed always gives the same split.
        folds: 0 for one split, or the number of cross-validation folds.
        fold: The held-out fold (``0 <= fold < folds``).
        train_share: Keep this share of the training groups (a third draw from the
            group's key, so a smaller share is a subset of a larger one); the others are
            ``"unused"``. Validation and test do not change (learning curves).

    Returns:
        One of ``"train"``, ``"validation"``, ``"test"`` (or ``"unused"``) per tune.

    Raises:
        FolkclipError: For bad fractions, ``folds`` or ``fold``.
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-6 or min(fractions) < 0:
        raise FolkclipError(f"split fractions must be three non-negative shares summing to 1, "
                            f"got {fractions}")
    if not 0 < train_share <= 1:
        raise FolkclipError(f"train_share must be in (0, 1], got {train_share}")
    if folds == 1 or folds < 0 or (folds and not 0 <= fold < folds):
        raise FolkclipError(f"folds must be 0 or >= 2 and 0 <= fold < folds, got folds={folds},"
                            f" fold={fold}")
    groups, keys = group_keys(identities)
    side: dict[int, str] = {}
    for g, key in keys.items():
        u = _unit(seed, key)
        if folds:
            if int(u * folds) == fold:
                side[g] = "test"
                continue
            share = fractions[0] / max(fractions[0] + fractions[1], 1e-12)
            side[g] = "train" if _unit(seed, key, "validation:") < share else "validation"
        else:
            cut1, cut2 = fractions[0], fractions[0] + fractions[1]
            side[g] = "train" if u < cut1 else "validation" if u < cut2 else "test"
        if side[g] == "train" and _unit(seed, key, "subset:") >= train_share:
            side[g] = "unused"
    return [side[int(g)] for g in groups]


def assign_folds(identities: Sequence[TuneIdentity], folds: int, seed: int = 0) -> np.ndarray:
    """The cross-validation fold of each tune: the fold in which :func:`assign_splits`
    (``folds``, ``seed``) puts it on the test side.

    Returns:
        (N,) int array of folds in ``0..folds-1``.
    """
    result = np.full(len(identities), -1, dtype=np.int64)
    for k in range(folds):
        sides = assign_splits(identities, (1.0, 0.0, 0.0), seed, folds, k)
        result[np.array(sides) == "test"] = k
    return result


def crossing_groups(identities: Sequence[TuneIdentity], splits: Sequence[str]) -> list[int]:
    """Groups whose members sit in more than one split (empty for a leakage-free split)."""
    groups = group_ids(identities)
    seen: dict[int, set[str]] = {}
    for g, s in zip(groups, splits):
        seen.setdefault(int(g), set()).add(s)
    return sorted(g for g, sides in seen.items() if len(sides) > 1)


def interval_ngrams(pitches: Sequence[int], n: int = 4) -> list[tuple[int, ...]]:
    """The pitch-interval n-grams of one melody, in order (transposition-free)."""
    steps = [b - a for a, b in pairwise(pitches)]
    return [tuple(steps[j:j + n]) for j in range(len(steps) - n + 1)]


def melody_vectors(pitch_seqs: Sequence[Sequence[int]], dim: int = 4096, n: int = 4) -> np.ndarray:
    """Hashed bag of pitch-interval n-grams per melody, L2-normalised (transposition-free).

    Returns:
        (N, dim) float32 array.
    """
    out = np.zeros((len(pitch_seqs), dim), dtype=np.float32)
    for i, seq in enumerate(pitch_seqs):
        for gram in interval_ngrams(seq, n):
            out[i, hash(gram) % dim] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-9)


def near_duplicates(a: np.ndarray, b: np.ndarray, threshold: float = 0.9,
                    chunk: int = 1024) -> list[tuple[int, int, float]]:
    """Pairs (i in a, j in b, cosine) with cosine >= threshold, computed in chunks."""
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, len(a), chunk):
        sims = a[start:start + chunk] @ b.T  # (chunk, Nb)
        rows, cols = np.nonzero(sims >= threshold)
        pairs += [(int(r) + start, int(c), float(sims[r, c])) for r, c in zip(rows, cols)]
    return pairs
