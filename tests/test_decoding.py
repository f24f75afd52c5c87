"""The melody LM's key/value cache: cached logits equal the full forward's, and cached
sampling gives the same tunes, token for token, as re-reading the prefix."""

from __future__ import annotations

import pytest
import torch

from folkclip.abc.parser import parse_tunebook
from folkclip.data.dataset import tokenize_corpus
from folkclip.data.tokenize import EOS, FIELDS
from folkclip.errors import FolkclipError
from folkclip.generate.sampling import sample_batch
from folkclip.io.sources import Corpus
from folkclip.models.config import LMConfig
from folkclip.models.decoding import StepDecoder
from folkclip.models.lm import MelodyLM

# Cached and full logits differ only by float32 rounding (other summation orders):
# measured below 2e-6 on these sizes; the bound leaves room for other BLAS kernels.
LOGIT_ATOL = 1e-4
LM = LMConfig(dim=32, layers=2, heads=4, dropout=0.1, max_len=64)


def random_model(seed: int = 0, vocab: int = 30) -> MelodyLM:
    torch.manual_seed(seed)
    return MelodyLM(LM, {f: vocab for f in FIELDS}).eval()


def test_cached_logits_equal_the_full_forward():
    model = random_model()
    g = torch.Generator().manual_seed(1)
    events = torch.randint(1, 30, (4, 40, len(FIELDS)), generator=g)  # (B, T, F)
    with torch.no_grad():
        full = model({"tokens": events, "mask": torch.ones(4, 40, dtype=torch.bool)})
    decoder = StepDecoder(model, 4, 40)
    worst = 0.0
    for t in range(40):
        token, duration = decoder(events[:, t])  # (B, V) each
        worst = max(worst, (token - full["token_logits"][:, t]).abs().max().item(),
                    (duration - full["duration_logits"][:, t]).abs().max().item())
    assert worst < LOGIT_ATOL
    assert not model.training  # the decoder runs the model in eval mode (no dropout)


@pytest.mark.parametrize("cache", [True, False])
def test_dropping_rows_keeps_the_others(cache):
    """Rows 0 and 2 of a batch whose row 1 left at step 10 get the logits they get alone."""
    model = random_model(2)
    g = torch.Generator().manual_seed(3)
    events = torch.randint(1, 30, (3, 20, len(FIELDS)), generator=g)
    decoder, alone = StepDecoder(model, 3, 20, cache), StepDecoder(model, 1, 20, cache)
    for t in range(20):
        if t == 10:
            decoder.keep(torch.tensor([0, 2]))
        token, _ = decoder(events[[0, 2] if t >= 10 else slice(None), t])
        want, _ = alone(events[2:, t])
        assert torch.allclose(token[-1:], want, atol=LOGIT_ATOL, rtol=0)


def test_the_cache_has_room_for_max_len_events_only():
    model = random_model()
    decoder = StepDecoder(model, 1, 3)
    for _ in range(3):
        decoder(torch.ones(1, len(FIELDS), dtype=torch.int64))
    with pytest.raises(FolkclipError, match="exceeds the cache's 3 positions"):
        decoder(torch.ones(1, len(FIELDS), dtype=torch.int64))


def ending_model(jig_text: str, reel_book: str, seed: int) -> tuple[MelodyLM, object]:
    """A random model of the fixtures' vocabulary that likes ``<eos>`` enough to end tunes
    at different steps (so rows leave the batch one by one)."""
    tunes, _ = parse_tunebook(jig_text + "\n" + reel_book, "tiny.abc")
    tc = tokenize_corpus(Corpus(tunes, [], []))
    torch.manual_seed(seed)
    model = MelodyLM(LM, {f: len(v) for f, v in tc.vocab.items()}).eval()
    with torch.no_grad():
        model.heads["token"].bias[tc.vocab["token"].index(EOS)] += 2.0
    return model, tc


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("constrain", [True, False])
def test_cached_samples_equal_uncached_samples(jig_text, reel_book, seed, constrain):
    model, tc = ending_model(jig_text, reel_book, seed)
    for header, top_k, temperature in [((), 0, 1.0), (("type:reel",), 8, 0.9)]:
        args = (model, tc.vocab, 6, header, 60, temperature, top_k, 10 * seed, tc.config,
                constrain)
        cached = sample_batch(*args, cache=True)
        assert cached == sample_batch(*args, cache=False)
        assert len({len(tune) for tune in cached}) > 1  # rows finished at different steps
        assert any(tune[-1][0] == EOS and len(tune) < 60 for tune in cached)
