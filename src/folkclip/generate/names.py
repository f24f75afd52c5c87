"""Names for a tune: titles sampled from the conditional title model.

:func:`generate_names` samples ``n`` distinct titles for one tune (temperature and
nucleus sampling, seeded), marks each as *novel* or *an existing title* (its identity
key, :func:`~folkclip.abc.titles.title_key`, among the titles of the collection the
model was trained on), gives its cost in bits under the (untempered) model and, when a
two-tower model is given, its two-tower score with the tune, by which the names are then
ranked (otherwise the most probable first).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor

from folkclip.abc.model import Tune
from folkclip.abc.titles import title_case, title_key
from folkclip.errors import FolkclipError
from folkclip.models.title import CHAR_IDS, PAD_ID, UNK_ID
from folkclip.models.title_lm import (
    BOS_ID, EOS_ID, LN2, TITLE_VOCAB, LoadedTitleLM, TitleLM, condition_batch, decode_chars,
)

MAX_NAMES = 100  # names asked for at once: sampling is per character, ~ms per name
MAX_SAMPLE_ROUNDS = 8  # rounds of n samples to find n distinct names (then fewer are given)
# Symbols no folded title holds: never sampled, so that a name's text is what was scored.
NEVER = sorted({PAD_ID, UNK_ID, BOS_ID, *(CHAR_IDS[c] for c in CHAR_IDS if c != c.casefold())})


@dataclass
class GeneratedName:
    """One generated title.

    Attributes:
        title: The title, cased as titles are written.
        bits: Its cost under the title model: ``-log2 p(title | tune)``.
        novel: False when the collection the model learnt from has a title of this identity.
        score: The two-tower score of (tune, title), when a two-tower model ranked the names.
    """

    title: str
    bits: float
    novel: bool
    score: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _nucleus(logits: Tensor, temperature: float, top_p: float) -> Tensor:
    """Sampling probabilities (B, V): softmax(logits / T) kept to the smallest set of
    most probable symbols whose mass reaches ``top_p``, renormalised."""
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p >= 1.0:
        return probs
    sorted_p, order = probs.sort(dim=-1, descending=True)
    before = sorted_p.cumsum(-1) - sorted_p  # mass of the more probable symbols
    sorted_p = sorted_p.masked_fill(before >= top_p, 0.0)  # the top symbol always stays
    kept = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    return kept / kept.sum(-1, keepdim=True)


@torch.no_grad()
def sample_texts(model: TitleLM, batch: dict[str, Tensor], n: int, seed: int = 0,
                 temperature: float = 0.8, top_p: float = 0.9) -> list[tuple[str, float]]:
    """Sample ``n`` folded titles for the single tune of ``batch`` (events of
    :func:`~folkclip.models.title_lm.condition_batch`).

    Returns:
        (text, bits) per sample; bits are ``-log2`` of the untempered model probability of
        the text and its end.

    Raises:
        FolkclipError: For a temperature <= 0 or ``top_p`` outside (0, 1].
    """
    if not temperature > 0 or not 0 < top_p <= 1:
        raise FolkclipError(f"temperature must be > 0 and top_p in (0, 1]; got {temperature}, "
                            f"{top_p}")
    was_training = model.training
    model.eval()
    device = batch["tokens"].device
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    prefix = model.prefix(batch).expand(n, -1)  # (n, C)
    state = model.initial_state(prefix)  # (layers, n, C)
    chars = torch.full((n, 1), BOS_ID, dtype=torch.int64, device=device)
    out = torch.zeros(n, model.config.max_chars + 1, dtype=torch.int64)
    nats = torch.zeros(n, dtype=torch.float64)
    done = torch.zeros(n, dtype=torch.bool)
    banned = torch.zeros(TITLE_VOCAB, dtype=torch.bool)
    banned[NEVER] = True
    for t in range(model.config.max_chars + 1):
        logits, state = model.step(chars, prefix, state)
        logits = logits[:, -1].float().cpu()  # (n, V)
        if t == model.config.max_chars:  # the longest title the model writes: end it here
            nxt = torch.full((n,), EOS_ID, dtype=torch.int64)
        else:
            allowed = logits.masked_fill(banned, float("-inf"))
            nxt = torch.multinomial(_nucleus(allowed, temperature, top_p), 1,
                                    generator=gen).squeeze(1)  # (n,)
        logp = torch.log_softmax(logits, -1).gather(1, nxt[:, None]).squeeze(1).double()
        nats += torch.where(done, torch.zeros_like(logp), -logp)
        out[:, t] = torch.where(done, torch.zeros_like(nxt), nxt)
        done |= nxt == EOS_ID
        if bool(done.all()):
            break
        chars = nxt[:, None].to(device)
    model.train(was_training)
    return [(decode_chars(row.tolist()), float(b / LN2)) for row, b in zip(out, nats)]


def tune_events(title_model: LoadedTitleLM, tune: Tune) -> dict[str, Tensor]:
    """The events of ``tune`` that the title model's condition shows, in its vocabulary."""
    from folkclip.data.dataset import tokenize_corpus
    from folkclip.io.sources import Corpus

    tc = tokenize_corpus(Corpus([tune]), title_model.tokenizer_config)
    if not len(tc):
        reason = tc.problems[0]["reason"] if tc.problems else "it cannot be tokenized"
        raise FolkclipError(f"tune {tune.ref}: {reason}")
    return condition_batch(tc, [0], title_model.model.config.condition,
                           title_model.max_events, ids=tc.remap(title_model.vocab))


def two_tower_scores(fm: object, tune: Tune, titles: list[str]) -> np.ndarray:
    """The two-tower model ``fm``'s (a :class:`~folkclip.export.FolkclipModel`) score of
    each title with ``tune``: the cosine of their embeddings, (N,)."""
    from folkclip.data.dataset import tokenize_corpus
    from folkclip.eval.evaluation import embed_tunes
    from folkclip.io.sources import Corpus

    tc = tokenize_corpus(Corpus([tune]), fm.tokenizer_config)  # type: ignore[attr-defined]
    vec = embed_tunes(fm.model, tc, [0], max_events=fm.max_events,  # type: ignore[attr-defined]
                      ids=tc.remap(fm.vocab))[0]  # type: ignore[attr-defined]  # (D,)
    return fm.embed_titles(titles) @ vec  # type: ignore[attr-defined]


def names_from_events(title_model: LoadedTitleLM, batch: dict[str, Tensor], n: int,
                      seed: int = 0, temperature: float = 0.8, top_p: float = 0.9
                      ) -> list[GeneratedName]:
    """Up to ``n`` distinct names (by title identity) sampled for the single tune whose
    events ``batch`` holds (:func:`tune_events`), most probable first. Samples with doubled
    or leading/trailing spaces are dropped (not re-spaced, so that a name's bits are those
    of its text)."""
    if not 1 <= n <= MAX_NAMES:
        raise FolkclipError(f"the number of names must be between 1 and {MAX_NAMES}, got {n}")
    found: dict[str, tuple[str, float]] = {}
    for r in range(MAX_SAMPLE_ROUNDS):
        for text, bits in sample_texts(title_model.model, batch, n, seed * MAX_SAMPLE_ROUNDS + r,
                                       temperature, top_p):
            if text != " ".join(text.split()):
                continue  # doubled or edge spaces: not how a title is written
            key = title_key(text)
            if key and key not in found:
                found[key] = (text, bits)
        if len(found) >= n:
            break
    names = [GeneratedName(title_case(text), round(bits, 3), key not in title_model.known_titles)
             for key, (text, bits) in list(found.items())[:n]]
    return sorted(names, key=lambda g: (g.bits, g.title))


def generate_names(title_model: LoadedTitleLM, tune: Tune, n: int = 10, seed: int = 0,
                   temperature: float = 0.8, top_p: float = 0.9, two_tower: object = None
                   ) -> list[GeneratedName]:
    """Up to ``n`` distinct names for ``tune`` (fewer when sampling keeps repeating itself).

    Args:
        title_model: A loaded title model (:func:`~folkclip.models.title_lm.load_title_lm`).
        tune: The tune, as read by :func:`folkclip.abc.parser.parse_tunebook`.
        n: Names wanted (1 to :data:`MAX_NAMES`).
        seed: Seed of the sampling: the same seed gives the same names.
        temperature: Softmax temperature (below 1: safer names; above: wilder).
        top_p: Nucleus: sample among the most probable characters holding this mass.
        two_tower: A :class:`~folkclip.export.FolkclipModel`; when given, names are scored
            with the tune by it and ranked by that score.

    Returns:
        The names, best first (by two-tower score, else by fewest bits).

    Raises:
        FolkclipError: For ``n`` out of range, bad sampling settings or an unreadable tune.
    """
    names = names_from_events(title_model, tune_events(title_model, tune), n, seed,
                              temperature, top_p)
    if two_tower is not None and names:
        scores = two_tower_scores(two_tower, tune, [g.title for g in names])
        for g, s in zip(names, scores):
            g.score = round(float(s), 6)
        return sorted(names, key=lambda g: (-(g.score or 0.0), g.bits, g.title))
    return names
