"""Data loaders of (tune, title) pairs for contrastive training."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence, Sized

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from folkclip.data.batch import title_hash, titled_indices, tune_batch
from folkclip.data.dataset import TokenizedCorpus


class PairDataset(Dataset):
    """Titled tunes; item k is (tune index, one of its titles).

    The title is the main one, or (``alt_titles``) one of main + alternatives drawn with
    a generator seeded by (seed, epoch, k) — deterministic, and different each epoch.
    The epoch is advanced by :meth:`set_epoch`, which :class:`EpochSampler` calls each
    time Lightning starts an epoch (and when a run resumes).
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

    def lengths(self, max_events: int) -> np.ndarray:
        """Events each item's tune feeds the melody tower (at most ``max_events``): (n,)."""
        idx = np.asarray(self.indices, dtype=np.int64)
        return np.minimum(self.tc.offsets[idx + 1] - self.tc.offsets[idx], max_events)

    def set_epoch(self, epoch: int) -> None:
        """Draw the titles of epoch ``epoch`` from now on."""
        self.epoch = int(epoch)

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


# Length bucketing sorts tunes by length inside windows of this many batches of a random
# permutation: batches hold tunes of similar length, windows stay random draws.
BUCKET_WINDOW_BATCHES = 8


class EpochSampler(Sampler[int]):
    """Dataset positions in an order fixed by (seed, epoch): a permutation drawn from
    ``numpy.random.default_rng([seed, epoch])`` (or ``0..n-1`` without ``shuffle``).

    With ``lengths`` (one per position) and shuffling, the order is length-bucketed
    (:func:`bucketed_order`): consecutive runs of ``batch_size`` positions, the batches the
    loader cuts, hold tunes of similar length, so a batch pads to little more than its own
    longest tune. Every position still comes exactly once per epoch.

    Lightning calls :meth:`set_epoch` at the start of every epoch; the sampler passes
    the epoch on to the dataset (:meth:`PairDataset.set_epoch`). Because the order depends
    on nothing but (seed, epoch), a resumed run sees the same order; :meth:`skip` drops
    the positions a checkpointed run had already consumed in its epoch.
    """

    def __init__(self, dataset: Sized, seed: int, shuffle: bool,
                 lengths: np.ndarray | None = None, batch_size: int = 1) -> None:
        self.dataset = dataset
        self.seed = seed
        self.shuffle = shuffle
        self.lengths = None if lengths is None else np.asarray(lengths)
        self.batch_size = batch_size
        if self.lengths is not None and len(self.lengths) != len(dataset):
            raise ValueError(f"lengths has {len(self.lengths)} entries for {len(dataset)} items")
        self.epoch = 0
        self._skip = 0

    def __len__(self) -> int:
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        set_dataset_epoch = getattr(self.dataset, "set_epoch", None)
        if callable(set_dataset_epoch):
            set_dataset_epoch(self.epoch)

    def skip(self, n: int) -> None:
        """Leave out the first ``n`` positions of the next iteration (once)."""
        self._skip = int(n)

    def order(self) -> np.ndarray:
        """The positions of the current epoch, in order: (n,)."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.lengths is None:
            return rng.permutation(n)
        return bucketed_order(self.lengths, self.batch_size, rng)

    def __iter__(self) -> Iterator[int]:
        start, self._skip = self._skip, 0  # read when iteration really starts
        yield from self.order()[start:].tolist()


def bucketed_order(lengths: np.ndarray, batch_size: int, rng: np.random.Generator
                   ) -> np.ndarray:
    """A length-bucketed random order of ``range(len(lengths))``.

    A random permutation is cut into windows of ``BUCKET_WINDOW_BATCHES * batch_size``
    positions; each window is sorted by length (stable) and cut into batches; the full
    batches of all windows are shuffled together and the one short batch (if any) goes
    last, so cutting the order every ``batch_size`` positions gives exactly these batches
    (and skipping ``k * batch_size`` positions skips ``k`` batches on resume).

    In-batch negatives change: a batch's tunes come from one random window and have
    similar lengths, so length no longer tells a positive from its negatives (the
    negatives are, if anything, harder); which tunes meet in a batch is still random
    across windows and epochs, and each tune is drawn exactly once per epoch.

    Args:
        lengths: (n,) events per position.
        batch_size: Positions per batch.
        rng: The epoch's generator.

    Returns:
        (n,) int64 positions.
    """
    n = len(lengths)
    perm = rng.permutation(n)
    window = BUCKET_WINDOW_BATCHES * batch_size
    parts = [perm[s:s + window] for s in range(0, n, window)]
    order = np.concatenate([p[np.argsort(lengths[p], kind="stable")] for p in parts]
                           ) if parts else perm
    full = n // batch_size
    batches = order[: full * batch_size].reshape(full, batch_size)
    batches = batches[rng.permutation(full)]
    return np.concatenate([batches.reshape(-1), order[full * batch_size:]])


class ResumableLoader(DataLoader):
    """A DataLoader over an :class:`EpochSampler` that Lightning can checkpoint mid-epoch.

    ``state_dict`` records the epoch and the batches handed out so far in it; after
    ``load_state_dict`` the next iteration starts at the following batch, so a run
    resumed from a step checkpoint trains on exactly the batches it would have seen.
    (With several processes Lightning wraps the sampler in a distributed one; a run
    resumed mid-epoch then restarts that epoch's order, as Lightning does by default.)
    """

    _yielded = 0
    _resumed_batches = 0

    def __iter__(self) -> Iterator:
        self._yielded, self._resumed_batches = self._resumed_batches, 0
        return _CountingIterator(super().__iter__(), self)

    def state_dict(self) -> dict[str, int]:
        epoch, batches = self.sampler.epoch, self._yielded
        if batches >= len(self):  # the epoch is complete: resume at the next one
            epoch, batches = epoch + 1, 0
        return {"epoch": epoch, "batches": batches}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.set_epoch(state["epoch"])
        if isinstance(self.sampler, EpochSampler):  # not when Lightning wrapped it for DDP
            self.sampler.skip(state["batches"] * self.batch_size)
            self._resumed_batches = state["batches"]


class _CountingIterator:
    """Counts the batches a loader's iterator hands out."""

    def __init__(self, it: Iterator, loader: ResumableLoader) -> None:
        self.it, self.loader = it, loader

    def __iter__(self) -> _CountingIterator:
        return self

    def __next__(self) -> object:
        batch = next(self.it)
        self.loader._yielded += 1
        return batch

    def __len__(self) -> int:
        return len(self.it)


def make_loader(ds: Dataset, collate: Callable, batch_size: int, shuffle: bool, seed: int,
                num_workers: int = 0, lengths: np.ndarray | None = None) -> ResumableLoader:
    """A loader whose order depends only on (seed, epoch) and that resumes mid-epoch;
    with ``lengths`` (events per item) and ``shuffle``, batches are length-bucketed."""
    gen = torch.Generator()
    gen.manual_seed(seed)  # worker seeds only; the order comes from the sampler
    sampler = EpochSampler(ds, seed, shuffle, lengths, batch_size)
    return ResumableLoader(ds, batch_size=batch_size, sampler=sampler,
                           collate_fn=collate, generator=gen, num_workers=num_workers,
                           drop_last=False)
