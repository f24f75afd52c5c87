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

    With ``world`` processes (data-parallel training), ``batch_size`` is the global batch:
    every process draws the same global order and keeps its share of each global batch
    (:func:`rank_share`), so the processes together train on exactly the batches one
    process would, and the contrastive loss, which gathers the embeddings of all
    processes, sees the same negatives. The process's rank is read from
    ``torch.distributed`` when iteration starts (the processes are started after the
    loaders are made).
    """

    def __init__(self, dataset: Sized, seed: int, shuffle: bool,
                 lengths: np.ndarray | None = None, batch_size: int = 1,
                 world: int = 1) -> None:
        self.dataset = dataset
        self.seed = seed
        self.shuffle = shuffle
        self.lengths = None if lengths is None else np.asarray(lengths)
        self.batch_size = batch_size
        self.world = world
        if self.lengths is not None and len(self.lengths) != len(dataset):
            raise ValueError(f"lengths has {len(self.lengths)} entries for {len(dataset)} items")
        if batch_size % world:
            raise ValueError(f"batch size {batch_size} is not a multiple of {world} processes")
        self.epoch = 0
        self._skip = 0

    def __len__(self) -> int:
        return share_size(len(self.dataset), self.batch_size, self.world)

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
        share = rank_share(self.order(), self.batch_size, self.world, _rank(self.world))
        yield from share[start:].tolist()


def _rank(world: int) -> int:
    """This process's rank among ``world`` data-parallel processes (0 when alone)."""
    if world == 1:
        return 0
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(f"a loader for {world} processes is iterated outside "
                           "torch.distributed")
    return dist.get_rank()


def share_size(n: int, batch_size: int, world: int) -> int:
    """Positions each of ``world`` processes gets from an order of ``n`` (see
    :func:`rank_share`)."""
    full = n // batch_size * batch_size
    return full // world + -(-(n - full) // world)


def rank_share(order: np.ndarray, batch_size: int, world: int, rank: int) -> np.ndarray:
    """Process ``rank``'s share of ``order``, cut into global batches of ``batch_size``.

    Each global batch is dealt out in turn (positions ``rank, rank + world, ...``), so a
    length-bucketed batch gives every process tunes of the same lengths and no process
    waits for another's longer ones; the process's batches are its shares of the global
    batches, in order. A short last batch whose size is not a multiple of ``world`` is
    filled up by repeating its first positions (as ``DistributedSampler`` pads), since
    every process must take a step with a batch of the same size.

    Args:
        order: (n,) positions, the global order.
        batch_size: The global batch, a multiple of ``world``.
        world: Number of processes.
        rank: This process, ``0 <= rank < world``.

    Returns:
        (share_size(n, batch_size, world),) positions.
    """
    if world == 1:
        return order
    full = len(order) // batch_size * batch_size
    tail = order[full:]
    if len(tail) % world:
        tail = np.resize(tail, len(tail) + world - len(tail) % world)  # repeats from its start
    head = order[:full].reshape(-1, batch_size)[:, rank::world].reshape(-1)
    return np.concatenate([head, tail[rank::world]])


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
    With several processes each one's sampler deals itself its share of every global
    batch (:class:`EpochSampler`), so the same holds for data-parallel runs.
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
                num_workers: int = 0, lengths: np.ndarray | None = None, world: int = 1
                ) -> ResumableLoader:
    """A loader whose order depends only on (seed, epoch) and that resumes mid-epoch;
    with ``lengths`` (events per item) and ``shuffle``, batches are length-bucketed.
    ``batch_size`` is the global batch of ``world`` data-parallel processes; each
    process's loader hands out its share, ``batch_size // world`` items a batch."""
    gen = torch.Generator()
    gen.manual_seed(seed)  # worker seeds only; the order comes from the sampler
    sampler = EpochSampler(ds, seed, shuffle, lengths, batch_size, world)
    return ResumableLoader(ds, batch_size=batch_size // world, sampler=sampler,
                           collate_fn=collate, generator=gen, num_workers=num_workers,
                           drop_last=False)
