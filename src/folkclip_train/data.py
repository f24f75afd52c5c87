"""Data loaders of (tune, title) pairs for contrastive training."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from folkclip.batch import title_hash, titled_indices, tune_batch
from folkclip.dataset import TokenizedCorpus


class PairDataset(Dataset):
    """Titled tunes; item k is (tune index, one of its titles).

    The title is the main one, or (``alt_titles``) one of main + alternatives drawn with
    a generator seeded by (seed, epoch, k) — deterministic, and different each epoch.
    """

    def __init__(self, tc: TokenizedCorpus, indices: Sequence[int], seed: int = 0,
                 alt_titles: bool = True) -> None:
        self.tc = tc
        self.indices = titled_indices(tc, indices)
        self.seed = seed
        self.alt_titles = alt_titles
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> tuple[int, str]:
        i = self.indices[k]
        meta = self.tc.meta[i]
        titles = [meta["title"], *meta["alt_titles"]] if self.alt_titles else [meta["title"]]
        if len(titles) == 1:
            return i, titles[0]
        rng = random.Random(self.seed * 1_000_003 + self.epoch * 10_007 + k)
        return i, rng.choice(titles)


def make_collate(tc: TokenizedCorpus, tokenize_titles: Callable[[list[str]], dict],
                 max_events: int, patches: bool, patch_size: int = 16, max_patches: int = 64,
                 ids: np.ndarray | None = None) -> Callable[[list[tuple[int, str]]], dict]:
    """A collate function: tune tensors, tokenized titles, same-title ids and the identity
    group of each tune (``group_ids``: pairs of one group are never negatives)."""
    groups = torch.from_numpy(tc.groups())  # (N,) int64

    def collate(items: list[tuple[int, str]]) -> dict:
        idx = [i for i, _ in items]
        titles = [t for _, t in items]
        batch = tune_batch(tc, idx, max_events, patches, patch_size, max_patches, ids=ids)
        batch["title"] = tokenize_titles(titles)
        batch["title_ids"] = torch.tensor([title_hash(t) for t in titles], dtype=torch.int64)
        batch["index"] = torch.tensor(idx, dtype=torch.int64)
        batch["group_ids"] = groups[batch["index"]]  # (B,)
        return batch

    return collate


def make_loader(ds: PairDataset, collate: Callable, batch_size: int, shuffle: bool, seed: int,
                num_workers: int = 0) -> DataLoader:
    gen = torch.Generator()
    gen.manual_seed(seed)
    return DataLoader(ds, batch_size=batch_size, shuffle=shuffle, collate_fn=collate,
                      generator=gen, num_workers=num_workers, drop_last=False)
