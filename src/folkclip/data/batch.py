"""From a :class:`~folkclip.data.dataset.TokenizedCorpus` to padded tensors for the towers.

A *pair* is (tune index, title string). :func:`tune_batch` pads event ids into
``tokens`` (B, T, F) with ``mask`` and ``header_mask`` (and bar ``patches`` when the
melody encoder wants them); :func:`title_hash` gives the same-title ids the loss
uses to keep same-title pairs out of the negatives.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import torch

from folkclip.data.dataset import TokenizedCorpus
from folkclip.abc.titles import title_key


def title_hash(title: str) -> int:
    """Stable 63-bit id of a title's identity key (equal for equal normalised titles)."""
    key = title_key(title).encode()
    return (zlib.crc32(key) << 31) ^ zlib.adler32(key)


def titled_indices(tc: TokenizedCorpus, indices: Sequence[int]) -> list[int]:
    """The tunes among ``indices`` that have a title (untitled tunes cannot be paired)."""
    return [int(i) for i in indices if tc.meta[int(i)]["title"]]


def tune_batch(tc: TokenizedCorpus, indices: Sequence[int], max_events: int = 256,
               patches: bool = False, patch_size: int = 16, max_patches: int = 64,
               ids: np.ndarray | None = None) -> dict[str, torch.Tensor]:
    """Padded event ids of the tunes ``indices``.

    Args:
        tc: The tokenized corpus.
        indices: Tunes to put in the batch.
        max_events: Longer tunes are cut (their ``<eos>`` is lost; the header stays).
        patches: Also build the bar-patch view.
        patch_size: Events per bar patch.
        max_patches: Patches per tune.
        ids: Event ids re-expressed in a model's vocabulary (default: ``tc.ids``).

    Returns:
        ``tokens`` (B, T, F) int64, ``mask`` (B, T) bool, ``header_mask`` (B, T) bool and,
        with ``patches``, ``patches`` (B, P, S, F) and ``patch_mask`` (B, P).
    """
    ids = tc.ids if ids is None else ids
    spans = [(int(tc.offsets[i]), min(int(tc.offsets[i + 1]), int(tc.offsets[i]) + max_events))
             for i in indices]
    length = max(1, max(e - s for s, e in spans))
    tokens = np.zeros((len(spans), length, ids.shape[1]), dtype=np.int64)
    header = np.zeros((len(spans), length), dtype=bool)
    mask = np.zeros((len(spans), length), dtype=bool)
    for b, (s, e) in enumerate(spans):
        tokens[b, : e - s] = ids[s:e]
        mask[b, : e - s] = True
        header[b, : e - s] = tc.bars[s:e] < 0
    out = {"tokens": torch.from_numpy(tokens), "mask": torch.from_numpy(mask),
           "header_mask": torch.from_numpy(header)}
    if patches:
        views = [tc.bar_patches(int(i), patch_size, max_patches) for i in indices]
        if ids is not tc.ids:  # re-express patches in the model vocabulary as well
            views = [_remap_patch(v, tc, ids) for v in views]
        n = max(v.shape[0] for v in views)
        arr = np.zeros((len(views), n, patch_size, ids.shape[1]), dtype=np.int64)
        pmask = np.zeros((len(views), n), dtype=bool)
        for b, v in enumerate(views):
            arr[b, : len(v)] = v
            pmask[b, : len(v)] = True
        out["patches"] = torch.from_numpy(arr)
        out["patch_mask"] = torch.from_numpy(pmask)
    return out


def _remap_patch(view: np.ndarray, tc: TokenizedCorpus, ids: np.ndarray) -> np.ndarray:
    # Column-wise lookup tables from corpus ids to model ids, built from the two arrays.
    out = view.copy()
    for j in range(view.shape[-1]):
        table = np.zeros(len(tc.vocab[list(tc.vocab)[j]]), dtype=np.int64)
        table[tc.ids[:, j]] = ids[:, j]
        out[..., j] = table[view[..., j]]
    return out
