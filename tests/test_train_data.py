"""The training loaders: titles drawn anew each epoch, an order fixed by (seed, epoch), and
a loader that resumes in the middle of an epoch."""

from __future__ import annotations

import pytest

pytest.importorskip("lightning")

from lightning.fabric.utilities.data import _set_sampler_epoch

from folkclip.abc.parser import parse_tune
from folkclip.data.dataset import tokenize_corpus
from folkclip.io.sources import Corpus
from folkclip_cli.train.loaders import EpochSampler, PairDataset, make_loader

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
