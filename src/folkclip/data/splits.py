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

import numpy as np

from folkclip.errors import FolkclipError
from folkclip.abc.titles import is_untitled, title_key

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class TuneIdentity:
    """What ties a tune to others: its collection-scoped ``tune_id`` and its titles."""

    tune_id: str | None
    titles: tuple[str, ...]


def identity_of(tune: object) -> TuneIdentity:
    """The identity of a :class:`~folkclip.abc.model.Tune` (or anything with the same fields)."""
    titles = [tune.title, *tune.alt_titles]  # type: ignore[attr-defined]
    tid = tune.tune_id  # type: ignore[attr-defined]
    scoped = f"{tune.collection}/{tid}" if tid else None  # type: ignore[attr-defined]
    return TuneIdentity(scoped, tuple(t for t in titles if t and not is_untitled(t)))


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


def assign_splits(identities: Sequence[TuneIdentity], fractions: tuple[float, float, float]
                  = (0.8, 0.1, 0.1), seed: int = 0) -> list[str]:
    """Give each tune a split name, keeping every group on one side.

    Args:
        identities: One identity per tune.
        fractions: Shares of train, validation and test (sum to 1).
        seed: Changes the assignment; the same seed always gives the same split.

    Returns:
        One of ``"train"``, ``"validation"``, ``"test"`` per tune.
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-6 or min(fractions) < 0:
        raise FolkclipError(f"split fractions must be three non-negative shares summing to 1, "
                            f"got {fractions}")
    groups = group_ids(identities)
    keys: dict[int, str] = {}
    for i, g in enumerate(groups):  # a group's key: its smallest member key (order-free)
        ident = identities[i]
        member = min([ident.tune_id or ""] + [title_key(t) for t in ident.titles]) or f"#{i}"
        keys[g] = min(keys.get(g, member), member)
    cut1, cut2 = fractions[0], fractions[0] + fractions[1]
    side: dict[int, str] = {}
    for g, key in keys.items():
        digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        side[g] = "train" if u < cut1 else "validation" if u < cut2 else "test"
    return [side[g] for g in groups]


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
