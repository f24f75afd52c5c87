"""Tests for the conditional title model: batches, bits, the bits statistics (hand-worked),
sampling, and the sanity checks of the method on synthetic corpora (a title that is a
function of the melody gives a large, significant gain; an independent one does not)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from folkclip.abc.parser import parse_tunebook
from folkclip.abc.titles import title_case
from folkclip.data.dataset import tokenize_corpus
from folkclip.eval.bits import compare, ngram_bits, paired_rows, per_tune
from folkclip.eval.stats import paired_difference
from folkclip.generate.names import _nucleus, sample_texts
from folkclip.io.sources import Corpus
from folkclip.models.config import MelodyConfig, TitleLMConfig
from folkclip.models.title_lm import (
    BOS_ID, EOS_ID, TitleLM, condition_batch, decode_chars, title_batch, title_bits, title_loss,
)

TUNES = """X:1
T:The Lark
R:reel
M:4/4
L:1/8
K:G
GABc dedB|[K:D] FAdf a2 fe|

X:2
T:Second Tune
R:jig
M:6/8
L:1/8
K:Ador
EAA cBA|GED G2A|
"""
SMALL = TitleLMConfig(condition="melody", dim=16, dropout=0.0, max_chars=32,
                      encoder=MelodyConfig(arch="cnn", dim=16, layers=1, dropout=0.0, max_len=48))


def corpus(text: str = TUNES):
    tunes, _ = parse_tunebook(text, "t.abc")
    return tokenize_corpus(Corpus(tunes))


def model_for(tc, condition: str = "melody", seed: int = 0, config: TitleLMConfig = SMALL):
    torch.manual_seed(seed)
    cfg = TitleLMConfig(condition=condition, dim=config.dim, dropout=config.dropout,
                        max_chars=config.max_chars, encoder=config.encoder)
    return TitleLM(cfg, {f: len(v) for f, v in tc.vocab.items()})


# ------------------------------------------------------------------ batches
def test_title_batch_teacher_forcing_and_folding():
    b = title_batch(["Ab", "Ríl"], max_chars=32)
    assert b["chars_in"].shape == b["chars_out"].shape == (2, 4)
    assert b["chars_in"][0, 0] == BOS_ID and b["chars_out"][0, 2] == EOS_ID
    assert b["chars_out"][0, 3] == 0  # padding after the shorter title's end
    assert decode_chars(b["chars_out"][1].tolist()) == "ril"  # folded: case and accent gone
    assert decode_chars(b["chars_in"][0, 1:].tolist()) == "ab"
    cut = title_batch(["abcdef"], max_chars=3)
    assert decode_chars(cut["chars_out"][0].tolist()) == "abc"


def test_condition_batch_shows_what_each_condition_names():
    tc = corpus()
    vocab = tc.vocab["token"]

    def shown(condition: str) -> list[list[str]]:
        b = condition_batch(tc, [0, 1], condition, max_events=64)
        return [[vocab[int(t)] for t, m in zip(b["tokens"][k, :, 0], b["mask"][k]) if m]
                for k in range(2)]

    assert shown("none") == [["<bos>"], ["<bos>"]]
    head = shown("header")
    assert head[0] == ["<bos>", "type:reel", "meter:4/4", "mode:major", "key:G"]
    assert head[1] == ["<bos>", "type:jig", "meter:6/8", "mode:dorian", "key:A"]
    full = shown("melody")
    assert full[0][:5] == head[0] and "unit:1/8" in full[0] and "key:D" in full[0]
    assert len(full[0]) == int(tc.offsets[1] - tc.offsets[0])


# ------------------------------------------------------------------ bits
def test_title_bits_are_the_summed_log_loss_in_bits_and_ignore_padding():
    tc = corpus()
    model = model_for(tc).eval()
    pairs = [(0, "The Lark"), (1, "A much longer title here")]
    bits = title_bits(model, tc, pairs, max_events=64)
    alone = title_bits(model, tc, pairs[:1], max_events=64)
    assert bits[0] == pytest.approx(alone[0], rel=1e-5)  # padding changes nothing
    b = condition_batch(tc, [0], "melody", 64)
    b.update(title_batch(["The Lark"], 32))
    with torch.no_grad():
        logp = torch.log_softmax(model(b)["logits"][0], -1)  # (L, V)
    by_hand = -sum(float(logp[t, c]) for t, c in enumerate(b["chars_out"][0].tolist())) / math.log(2)
    assert bits[0] == pytest.approx(by_hand, rel=1e-5)
    assert len("the lark") + 1 == int((b["chars_out"] != 0).sum())  # 8 characters and the end
    loss = title_loss(model(b), b["chars_out"])
    assert float(loss["nll"]) / math.log(2) == pytest.approx(by_hand, rel=1e-5)


def test_the_unconditional_model_ignores_the_melody():
    tc = corpus()
    none, melody = model_for(tc, "none").eval(), model_for(tc, "melody").eval()
    same = [(0, "The Lark"), (1, "The Lark")]
    b_none = title_bits(none, tc, same, max_events=64)
    b_mel = title_bits(melody, tc, same, max_events=64)
    assert b_none[0] == pytest.approx(b_none[1])
    assert abs(b_mel[0] - b_mel[1]) > 1e-6


def test_per_tune_and_compare_hand_worked():
    rows = [{"ref": "a", "bits": 10, "chars": 4}, {"ref": "a", "bits": 20, "chars": 9},
            {"ref": "b", "bits": 6, "chars": 2}]
    t = per_tune(rows)
    assert t["a"] == pytest.approx((15.0, (10 / 5 + 20 / 10) / 2))
    assert t["b"] == pytest.approx((6.0, 2.0))
    other = {"a": (12.0, 1.0), "b": (7.0, 1.0), "c": (1.0, 1.0)}
    refs, x, y = paired_rows(t, other)
    assert refs == ["a", "b"] and x[:, 0].tolist() == [15.0, 6.0]
    out = compare({"t": t, "o": other}, [("t - o", "t", "o"), ("gone", "t", "missing")])
    assert len(out) == 1
    assert out[0]["delta_bits"] == pytest.approx(((15 - 12) + (6 - 7)) / 2)
    assert out[0]["n_tunes"] == 2 and out[0]["p_holm"] == pytest.approx(out[0]["p"])


def test_holm_over_the_rows_of_a_comparison_table():
    rng = np.random.default_rng(0)
    base = {str(k): (float(v), 1.0) for k, v in enumerate(rng.normal(10, 1, 50))}
    big = {k: (v[0] + 3 + rng.normal(0, 0.1), 1.0) for k, v in base.items()}
    none = {k: (v[0] + rng.normal(0, 1), 1.0) for k, v in base.items()}
    out = compare({"base": base, "big": big, "none": none},
                  [("big", "big", "base"), ("none", "none", "base")], n_resamples=999)
    ps = sorted(r["p"] for r in out)
    holm_by_hand = [min(1, 2 * ps[0]), max(min(1, 2 * ps[0]), ps[1])]
    assert sorted(r["p_holm"] for r in out) == pytest.approx(holm_by_hand)
    assert out[0]["ci_low"] > 2.5 and out[0]["p"] < 0.01


def test_ngram_bits_hand_worked():
    # unigram over "ab" + end: counts a=1, b=1, end=1 (N=3), alphabet 4: p(a)=2/7, p(end)=2/7
    uni = ngram_bits(["ab"], ["a"], 1, alphabet=4)
    assert uni[0] == pytest.approx(-2 * math.log2(2 / 7))
    # bigram: c(^,a)=1, c(^)=1 -> p(a|^)=2/5; c(a,end)=0, c(a)=1 -> p(end|a)=1/5
    bi = ngram_bits(["ab"], ["a"], 2, alphabet=4)
    assert bi[0] == pytest.approx(-math.log2(2 / 5) - math.log2(1 / 5))


# ------------------------------------------------------------------ sampling
def test_nucleus_keeps_the_smallest_set_reaching_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    p = _nucleus(logits, 1.0, 0.7)
    assert p[0].tolist() == pytest.approx([0.625, 0.375, 0.0, 0.0])
    assert _nucleus(logits, 1.0, 0.1)[0].tolist() == pytest.approx([1.0, 0, 0, 0])
    assert _nucleus(logits, 1.0, 1.0)[0].tolist() == pytest.approx([0.5, 0.3, 0.15, 0.05])


def test_sampling_is_seeded_and_bits_are_the_models():
    tc = corpus()
    model = model_for(tc).eval()
    b = condition_batch(tc, [0], "melody", 64)
    first = sample_texts(model, b, 5, seed=3)
    assert first == sample_texts(model, b, 5, seed=3)
    assert first != sample_texts(model, b, 5, seed=4)
    text, bits = first[0]
    assert text == text.casefold() and "?" not in text  # only what folded titles hold
    assert bits == pytest.approx(float(title_bits(model, tc, [(0, text)], 64)[0]), rel=1e-4)
    assert title_case("the lark in the morning") == "The Lark in the Morning"


# ------------------------------------------------------------------ the method
WORDS = ("lark", "bee", "fox", "owl")
MOTIFS = ("CDEF GABc|cBAG FEDC|", "cccc GGGG|EEEE CCCC|", "CEGc CEGc|cGEC cGEC|",
          "DFAd DFAd|AFDF A2A2|")


def synthetic(dependent: bool, n: int = 160, seed: int = 0) -> str:
    """ABC of ``n`` reels in four melody classes, titled by a class word: the melody's
    class (the title is a function of the melody) or one drawn independently of it."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        c = k % 4
        word = WORDS[c] if dependent else WORDS[rng.randrange(4)]
        extra = "".join(rng.choice("CDEFGAB") for _ in range(8))
        out.append(f"X:{k + 1}\nT:{word}\nR:reel\nM:4/4\nL:1/8\nK:C\n{MOTIFS[c]}{extra}|\n")
    return "\n".join(out)


def fit(model: TitleLM, tc, pairs: list[tuple[int, str]], steps: int, seed: int = 0) -> None:
    """A short teacher-forced fit (the runner's optimiser, without Lightning)."""
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=0.02)
    order = np.random.default_rng(seed)
    model.train()
    for _ in range(steps):
        chunk = [pairs[i] for i in order.choice(len(pairs), 32, replace=False)]
        b = condition_batch(tc, [i for i, _ in chunk], model.config.condition, 64)
        b.update(title_batch([t for _, t in chunk], model.config.max_chars))
        loss = title_loss(model(b), b["chars_out"])["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def header_minus_melody(dependent: bool) -> tuple[float, float, float, float]:
    tc = corpus(synthetic(dependent))
    pairs = [(i, tc.meta[i]["title"]) for i in range(len(tc))]
    train, test = pairs[:120], pairs[120:]
    bits = {}
    for condition in ("header", "melody"):
        model = model_for(tc, condition)
        fit(model, tc, train, steps=120)
        bits[condition] = title_bits(model, tc, test, max_events=64)
    d = paired_difference(bits["header"], bits["melody"], n_resamples=1999)
    return d.mean, d.low, d.high, d.p


def test_a_title_given_by_the_melody_costs_far_fewer_bits_with_it():
    mean, low, high, p = header_minus_melody(dependent=True)
    # the class word is worth log2(4) = 2 bits; 0.001 is the two-sided permutation floor
    # at 1,999 resamples (no resample reaches the observed mean)
    assert low > 1.0 and p <= 0.001


def test_a_title_independent_of_the_melody_gains_nothing_significant():
    mean, low, high, p = header_minus_melody(dependent=False)
    assert low < 0 < high and abs(mean) < 1.0
