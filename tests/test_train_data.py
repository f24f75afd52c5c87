"""The training loaders: titles drawn anew each epoch, an order fixed by (seed, epoch), and
a loader that resumes in the middle of an epoch."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lightning")

from lightning.fabric.utilities.data import _set_sampler_epoch

from folkclip.abc.parser import parse_tune
from folkclip.data.dataset import tokenize_corpus
from folkclip.io.sources import Corpus
from folkclip_cli.train.loaders import (
    BUCKET_WINDOW_BATCHES,
    EpochSampler,
    PairDataset,
    bucketed_order,
    make_loader,
    rank_share,
    share_size,
)

BODY = "M:6/8\nL:1/8\nK:D\n|:A|d2e fed|g2f e>dc|B3 AFD:|\n"


def _corpus(n: int = 8):
    tunes = [parse_tune(f"X:{i}\nT:Tune {i}\nT:Other name {i}\nT:Third name {i}\n{BODY}")
             for i in range(1, n + 1)]
    return tokenize_corpus(Corpus(tunes=tunes))


def _titles_by_epoch(loader, epochs: int) -> list[dict[int, str]]:
    """What Lightning does each epoch: ``set_epoch`` on the sampler, then iterate."""
    out = []
    for epoch in range(epochs):
        _set_sampler_epoch(loader, epoch)
        out.append({i: t for batch in loader for i, t in batch})
    return out


def test_alternative_titles_vary_from_epoch_to_epoch():
    # Issue 11, bias 2: PairDataset.epoch was never advanced, so each tune met the same
    # title in every epoch. Lightning's set_epoch now reaches the dataset through the sampler.
    tc = _corpus()
    loader = make_loader(PairDataset(tc, range(len(tc)), seed=3), lambda items: items, 3,
                         True, seed=3)
    epochs = _titles_by_epoch(loader, 6)
    for i in range(len(tc)):
        seen = {e[i] for e in epochs}
        assert len(seen) > 1, (i, seen)  # 3 titles, 6 epochs: never always the same one
        assert seen <= {tc.meta[i]["title"], *tc.meta[i]["alt_titles"]}
    # deterministic per (seed, epoch, tune): a new loader (a resumed run) draws the same
    again = make_loader(PairDataset(tc, range(len(tc)), seed=3), lambda items: items, 5,
                        True, seed=3)
    assert _titles_by_epoch(again, 6) == epochs
    # and the validation pairs (alt_titles=False) always use the main title
    val = make_loader(PairDataset(tc, range(len(tc)), 3, alt_titles=False),
                      lambda items: items, 3, False, seed=3)
    for e in _titles_by_epoch(val, 3):
        assert all(t == tc.meta[i]["title"] for i, t in e.items())


def test_sampler_order_depends_on_seed_and_epoch_only():
    data = list(range(50))
    a, b = EpochSampler(data, 1, True), EpochSampler(data, 1, True)
    first = list(a)
    assert sorted(first) == data and first != data
    assert list(b) == first
    a.set_epoch(1)
    assert list(a) != first and sorted(a) == data
    assert list(EpochSampler(data, 2, True)) != first
    assert list(EpochSampler(data, 1, False)) == data


def test_loader_resumes_after_the_batches_it_handed_out():
    tc = _corpus(10)
    ds = PairDataset(tc, range(len(tc)), seed=0)
    loader = make_loader(ds, lambda items: items, 3, True, seed=0)
    _set_sampler_epoch(loader, 2)
    whole = list(loader)
    it = iter(loader)
    next(it), next(it)
    state = loader.state_dict()
    assert state == {"epoch": 2, "batches": 2}
    fresh = make_loader(PairDataset(tc, range(len(tc)), seed=0), lambda items: items, 3, True,
                        seed=0)
    fresh.load_state_dict(state)
    assert list(fresh) == whole[2:]
    assert fresh.state_dict() == {"epoch": 3, "batches": 0}  # epoch done: resume at the next
    assert list(fresh) == whole  # a later iteration is whole again (set_epoch not called)


def _lengths(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(8, 257, size=n)


def test_bucketed_order_takes_every_tune_once_and_is_deterministic():
    lengths = _lengths(1000)
    for epoch in range(3):
        a = bucketed_order(lengths, 64, np.random.default_rng([7, epoch]))
        b = bucketed_order(lengths, 64, np.random.default_rng([7, epoch]))
        assert sorted(a.tolist()) == list(range(1000))  # each tune exactly once an epoch
        assert a.tolist() == b.tolist()
    assert bucketed_order(lengths, 64, np.random.default_rng([7, 0])).tolist() != \
        bucketed_order(lengths, 64, np.random.default_rng([7, 1])).tolist()


def test_bucketed_batches_are_narrow_random_and_the_short_one_last():
    n, bs = 1000, 64
    lengths = _lengths(n)
    order = bucketed_order(lengths, bs, np.random.default_rng([0, 0]))
    batches = [order[s:s + bs] for s in range(0, n, bs)]
    assert [len(b) for b in batches] == [bs] * (n // bs) + [n % bs]
    spread = np.mean([np.ptp(lengths[b]) for b in batches[:-1]])
    rand = np.random.default_rng(1).permutation(n)
    random_spread = np.mean([np.ptp(lengths[rand[s:s + bs]]) for s in range(0, n - bs, bs)])
    assert spread < random_spread / 3  # batches pad to little more than their own tunes
    # a window's batches are not kept together: over epochs, tunes meet varied partners
    window = BUCKET_WINDOW_BATCHES * bs
    first = {int(i) for i in order[:bs]}
    other = bucketed_order(lengths, bs, np.random.default_rng([0, 1]))[:bs]
    assert len(first & {int(i) for i in other}) < bs // 2
    assert window > bs


def test_bucketed_loader_resumes_after_the_batches_it_handed_out():
    tc = _corpus(10)
    ds = PairDataset(tc, range(len(tc)), seed=0)
    lengths = np.arange(10)[::-1] + 8
    loader = make_loader(ds, lambda items: items, 3, True, seed=0, lengths=lengths)
    _set_sampler_epoch(loader, 1)
    whole = list(loader)
    assert sorted(i for b in whole for i, _ in b) == list(range(10))
    assert [len(b) for b in whole] == [3, 3, 3, 1]
    it = iter(loader)
    next(it)
    state = loader.state_dict()
    fresh = make_loader(PairDataset(tc, range(len(tc)), seed=0), lambda items: items, 3, True,
                        seed=0, lengths=lengths)
    fresh.load_state_dict(state)
    assert list(fresh) == whole[1:]


def test_pair_dataset_lengths_are_events_cut_at_max_events():
    tc = _corpus(4)
    ds = PairDataset(tc, range(len(tc)), seed=0)
    full = np.diff(tc.offsets)
    assert ds.lengths(10_000).tolist() == full.tolist()
    assert ds.lengths(8).tolist() == np.minimum(full, 8).tolist()


@pytest.mark.parametrize("n", [64, 70, 71])
def test_processes_share_each_global_batch_and_together_take_the_same_batches(n):
    # Data-parallel training: every process keeps its share of each global batch, so the
    # processes together train on the global batches one process would.
    lengths = np.random.default_rng(5).integers(10, 256, n)
    data = list(range(n))
    alone = list(EpochSampler(data, 4, True, lengths, batch_size=16))
    shares = [rank_share(np.asarray(alone), 16, 2, r).tolist() for r in (0, 1)]
    assert [len(s) for s in shares] == [share_size(n, 16, 2)] * 2
    for b in range(n // 16):  # a full global batch is its two shares, dealt out in turn
        assert sorted(shares[0][8 * b:8 * b + 8] + shares[1][8 * b:8 * b + 8]) == \
            sorted(alone[16 * b:16 * b + 16])
        assert shares[0][8 * b:8 * b + 8] == alone[16 * b:16 * b + 16:2]
    tail = alone[n // 16 * 16:]
    got = shares[0][n // 16 * 8:] + shares[1][n // 16 * 8:]
    assert set(got) == set(tail) and len(got) == len(tail) + len(tail) % 2  # odd: one repeat


def test_a_loader_for_two_processes_hands_out_half_batches_and_refuses_odd_batches():
    tc = _corpus(8)
    loader = make_loader(PairDataset(tc, range(len(tc)), seed=0), lambda items: items, 4, True,
                         seed=0, world=2)
    assert loader.batch_size == 2 and len(loader) == 2  # 2 global batches of 4
    with pytest.raises(ValueError, match="not a multiple of 2 processes"):
        EpochSampler(list(range(8)), 0, True, batch_size=5, world=2)
