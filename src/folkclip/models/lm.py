"""The melody language model and its transfer into the melody tower.

:class:`MelodyLM` is an autoregressive causal Transformer over the tokenizer's events:
the input at step t is the sum of event t's field embeddings plus its position
(:class:`~folkclip.models.melody.EventEmbedding`), and two heads predict event t+1's
``token`` and ``duration``. It is conditioned on the tune type, meter, mode, key and
unit simply because those header events come first in every sequence.

The ``lm`` melody arch (:class:`LmEncoder`) holds the same :class:`CausalBackbone`,
runs it causally over a tune's events and pools its states; with
``melody.init_from`` naming a language-model run folder it takes the backbone's sizes
and weights from that run (:func:`resolve_melody_config`, :meth:`LmEncoder.load_lm_run`),
and the corpus must then be expressed in the run's vocabulary (:func:`corpus_for_melody`).

A run folder of ``folkclip train`` with ``task: melody_lm`` holds ``model/lm.json``
(LM config, vocabulary, tokenizer config, ``max_events``) and ``model/lm_weights.pt``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from folkclip.config import from_dict, to_dict
from folkclip.data.batch import tune_batch
from folkclip.data.dataset import TokenizedCorpus
from folkclip.data.tokenize import FIELDS, TokenizerConfig
from folkclip.errors import FolkclipError
from folkclip.models.config import LMConfig, MelodyConfig
from folkclip.models.decoding import KVCache, cached_attention
from folkclip.models.layers import (
    BiGru,
    EventEmbedding,
    key_padding,
    masked_mean,
    transformer_stack,
)

PREDICTED = ("token", "duration")  # the fields of the next event the heads predict
LM_FILE, LM_WEIGHTS = "lm.json", "lm_weights.pt"
FORMAT_VERSION = 1


def causal_mask(length: int, device: torch.device | str = "cpu") -> Tensor:
    """(T, T) bool attention mask, True where step i may *not* look (j > i)."""
    return torch.ones(length, length, dtype=torch.bool, device=device).triu(1)


class CausalBackbone(nn.Module):
    """Event embedding with learned positions, a pre-norm causal Transformer encoder
    and a final LayerNorm: the part the language model and the ``lm`` arch share.

    Args:
        config: Sizes (``dim``, ``layers``, ``heads``, ``dropout``, ``max_len``).
        vocab_sizes: Vocabulary size of every field in :data:`FIELDS`.
    """

    def __init__(self, config: LMConfig, vocab_sizes: dict[str, int]) -> None:
        super().__init__()
        self.config = config
        self.embed = EventEmbedding(vocab_sizes, config.dim, max_len=config.max_len)
        self.drop = nn.Dropout(config.dropout)
        self.encoder = transformer_stack(config.dim, config.heads, config.layers,
                                         config.dropout)
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """``tokens`` (B, T, F) with prefix ``mask`` (B, T) -> states (B, T, C); the state
        at step t depends on events 0..t only."""
        if tokens.shape[1] > self.config.max_len:
            raise FolkclipError(f"{tokens.shape[1]} events exceed the model's max_len "
                                f"{self.config.max_len}")
        x = self.drop(self.embed(tokens))  # (B, T, C)
        x = self.encoder(x, mask=causal_mask(tokens.shape[1], tokens.device),
                         src_key_padding_mask=key_padding(mask))  # (B, T, C)
        return self.norm(x)

    def new_cache(self, batch: int, length: int | None = None) -> KVCache:
        """An empty key/value cache for ``batch`` sequences of up to ``length`` events
        (default ``max_len``)."""
        length = min(length or self.config.max_len, self.config.max_len)
        heads = self.config.heads
        shape = (batch, heads, length, self.config.dim // heads)
        device = self.norm.weight.device
        return KVCache([torch.zeros(shape, device=device) for _ in self.encoder.layers],
                       [torch.zeros(shape, device=device) for _ in self.encoder.layers])

    def step(self, events: Tensor, cache: KVCache) -> Tensor:
        """The state of the next event of every sequence, reading the earlier ones from
        ``cache`` (and adding this event's keys and values to it): the last row of
        :meth:`forward` over the whole prefix, in eval mode (no dropout).

        Args:
            events: (B, F) the event at position ``cache.length`` of each sequence.
            cache: The keys and values of positions 0..``cache.length - 1``.

        Returns:
            (B, C) states, equal to ``forward(prefix)[:, -1]`` up to float rounding.
        """
        t = cache.length
        if t >= cache.capacity:
            raise FolkclipError(f"event {t + 1} exceeds the cache's {cache.capacity} positions")
        embed = self.embed
        x = sum(emb(events[:, j]) for j, emb in enumerate(embed.fields.values()))  # (B, C)
        if embed.position is not None:
            x = x + embed.position.weight[t]
        x = embed.norm(x)  # (B, C)
        for i, layer in enumerate(self.encoder.layers):
            x = x + cached_attention(layer.self_attn, layer.norm1(x), cache, i)
            x = x + layer.linear2(layer.activation(layer.linear1(layer.norm2(x))))
        cache.length = t + 1
        return self.norm(x)


class MelodyLM(nn.Module):
    """Causal Transformer language model over events with ``token`` and ``duration`` heads.

    Args:
        config: The model sizes.
        vocab_sizes: Vocabulary size of every field in :data:`FIELDS`.
    """

    def __init__(self, config: LMConfig, vocab_sizes: dict[str, int]) -> None:
        super().__init__()
        self.config = config
        self.vocab_sizes = dict(vocab_sizes)
        self.backbone = CausalBackbone(config, vocab_sizes)
        self.heads = nn.ModuleDict(
            {f: nn.Linear(config.dim, vocab_sizes[f]) for f in PREDICTED})

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Next-event logits.

        Args:
            batch: ``tokens`` (B, T, F) int64 and ``mask`` (B, T) bool, as built by
                :func:`folkclip.data.batch.tune_batch`.

        Returns:
            ``token_logits`` (B, T, V_token) and ``duration_logits`` (B, T, V_duration):
            at step t, the prediction of event t+1 from events 0..t.
        """
        states = self.backbone(batch["tokens"], batch["mask"])  # (B, T, C)
        return {f"{f}_logits": head(states) for f, head in self.heads.items()}

    def step(self, events: Tensor, cache: KVCache) -> dict[str, Tensor]:
        """Logits of the event after ``events`` (B, F), the events before it read from
        ``cache`` (see :meth:`CausalBackbone.step`): ``token_logits`` (B, V_token) and
        ``duration_logits`` (B, V_duration), the last position of :meth:`forward`."""
        states = self.backbone.step(events, cache)  # (B, C)
        return {f"{f}_logits": head(states) for f, head in self.heads.items()}


def lm_loss(out: dict[str, Tensor], tokens: Tensor) -> dict[str, Tensor]:
    """Next-event cross-entropy of the ``token`` and ``duration`` fields.

    Args:
        out: :meth:`MelodyLM.forward`'s logits for ``tokens``.
        tokens: (B, T, F) event ids; targets with id 0 (padding) are ignored.

    Returns:
        ``lm_loss`` (token + duration mean cross-entropy), ``token_loss``,
        ``duration_loss``, their sums ``token_nll`` and ``duration_nll`` and the number
        of predicted events ``n_targets`` (for exact averages over several batches).
    """
    result: dict[str, Tensor] = {}
    n = (tokens[:, 1:, 0] != 0).sum()
    for f in PREDICTED:
        j = FIELDS.index(f)
        logits = out[f"{f}_logits"][:, :-1]  # (B, T-1, V): predictions of events 1..T-1
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                              tokens[:, 1:, j].reshape(-1), ignore_index=0, reduction="sum")
        result[f"{f}_nll"] = nll
        result[f"{f}_loss"] = nll / n.clamp(min=1)
    result["lm_loss"] = result["token_loss"] + result["duration_loss"]
    result["n_targets"] = n
    return result


@torch.no_grad()
def corpus_perplexity(model: MelodyLM, tc: TokenizedCorpus, indices: Sequence[int],
                      max_events: int = 256, batch_size: int = 64,
                      device: str | torch.device = "cpu") -> dict[str, float]:
    """Per-event perplexities of the model on the tunes ``indices`` (cut to
    ``min(max_events, max_len)`` events; the first event, ``<bos>``, is given).

    Returns:
        ``token_ppl``, ``duration_ppl``, ``loss`` (mean token + duration cross-entropy)
        and ``n_targets``.
    """
    was_training = model.training
    model.eval()
    length = min(max_events, model.config.max_len)
    sums = {"token_nll": 0.0, "duration_nll": 0.0, "n_targets": 0}
    for s in range(0, len(indices), batch_size):
        batch = tune_batch(tc, [int(i) for i in indices[s:s + batch_size]], length)
        batch = {k: v.to(device) for k, v in batch.items()}
        losses = lm_loss(model(batch), batch["tokens"])
        for k in sums:
            sums[k] += losses[k].item()
    model.train(was_training)
    n = max(sums["n_targets"], 1)
    return {"token_ppl": math.exp(sums["token_nll"] / n),
            "duration_ppl": math.exp(sums["duration_nll"] / n),
            "loss": (sums["token_nll"] + sums["duration_nll"]) / n,
            "n_targets": int(sums["n_targets"])}


# ------------------------------------------------------------------ run folders
@dataclass
class LoadedLM:
    """A trained language model with what it needs to read and write events.

    Attributes:
        model: The :class:`MelodyLM` (in eval mode).
        vocab: Event vocabulary per field, as used in training.
        tokenizer_config: Tokenizer configuration used in training.
        max_events: Events per tune seen in training.
    """

    model: MelodyLM
    vocab: dict[str, list[str]]
    tokenizer_config: TokenizerConfig
    max_events: int


def export_lm(model: MelodyLM, vocab: dict[str, list[str]], tokenizer_config: TokenizerConfig,
              max_events: int, out_dir: Path) -> Path:
    """Write ``lm.json`` and ``lm_weights.pt`` (a plain state dict) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    info = {"format": FORMAT_VERSION, "lm": to_dict(model.config), "vocab": vocab,
            "tokenizer": tokenizer_config.to_dict(), "max_events": max_events}
    (out_dir / LM_FILE).write_text(json.dumps(info))
    torch.save(model.state_dict(), out_dir / LM_WEIGHTS)
    return out_dir


def lm_export_dir(path: str | Path) -> Path | None:
    """The folder holding ``lm.json`` for a run folder or its ``model/`` folder, else None."""
    p = Path(path)
    for folder in (p / "model", p):
        if (folder / LM_FILE).is_file():
            return folder
    return None


def read_lm_info(path: str | Path) -> dict:
    """The contents of a language-model run's ``lm.json``, with ``lm`` as an :class:`LMConfig`.

    Raises:
        FolkclipError: When ``path`` holds no exported language model.
    """
    folder = lm_export_dir(path)
    if folder is None:
        raise FolkclipError(f"no melody language model in {str(path)!r} (expected "
                            f"model/{LM_FILE}; train one with task: melody_lm)")
    try:
        info = json.loads((folder / LM_FILE).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise FolkclipError(f"cannot read {folder / LM_FILE}: {err}") from err
    info["lm"] = from_dict(LMConfig, info["lm"])
    info["tokenizer"] = TokenizerConfig.from_dict(info["tokenizer"])
    info["folder"] = folder
    return info


def _lm_state(folder: Path) -> dict[str, Tensor]:
    try:
        return torch.load(folder / LM_WEIGHTS, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, pickle.UnpicklingError) as err:
        raise FolkclipError(f"cannot read {folder / LM_WEIGHTS}: {err}") from err


def load_lm(path: str | Path) -> LoadedLM:
    """Load the language model exported into a run folder (or its ``model/`` folder).

    Raises:
        FolkclipError: When no exported language model is found there.
    """
    info = read_lm_info(path)
    vocab = info["vocab"]
    model = MelodyLM(info["lm"], {f: len(v) for f, v in vocab.items()})
    model.load_state_dict(_lm_state(info["folder"]))
    return LoadedLM(model.eval(), vocab, info["tokenizer"], int(info["max_events"]))


# ---------------------------------------------------------------- the lm arch
def resolve_melody_config(config: MelodyConfig) -> MelodyConfig:
    """``config`` with the backbone sizes (``dim``, ``layers``, ``heads``, ``max_len``)
    of the language-model run named by ``init_from``, for arch ``lm``; else unchanged."""
    if config.arch != "lm" or not config.init_from or lm_export_dir(config.init_from) is None:
        return config
    lm = read_lm_info(config.init_from)["lm"]
    return dataclasses.replace(config, dim=lm.dim, layers=lm.layers, heads=lm.heads,
                               max_len=lm.max_len)


def corpus_for_melody(tc: TokenizedCorpus, config: MelodyConfig) -> TokenizedCorpus:
    """``tc`` re-expressed in the vocabulary of the language-model run the melody encoder
    starts from (unknown events -> ``<unk>``); unchanged when it starts from none.

    Raises:
        FolkclipError: When the corpus was tokenized with other switches than the LM.
    """
    if config.arch != "lm" or not config.init_from or lm_export_dir(config.init_from) is None:
        return tc
    info = read_lm_info(config.init_from)
    lm_tok: TokenizerConfig = info["tokenizer"]
    if (lm_tok.transpose, lm_tok.remove) != (tc.config.transpose, tc.config.remove):
        raise FolkclipError(
            f"melody.init_from={config.init_from!r} was trained with transpose="
            f"{lm_tok.transpose}, remove={list(lm_tok.remove)}; the data is tokenized with "
            f"transpose={tc.config.transpose}, remove={list(tc.config.remove)}")
    if info["vocab"] == tc.vocab:
        return tc
    return dataclasses.replace(tc, vocab=info["vocab"], ids=tc.remap(info["vocab"]))


class LmEncoder(nn.Module):
    """Melody encoder ``lm``: the language model's :class:`CausalBackbone` run causally
    over the events (as trained), optionally a BiGRU on top (``gru_layers``), then
    masked ``mean`` pooling or the state at the ``last`` real event, and a LayerNorm.

    With ``init_from`` naming a language-model run, the backbone's sizes come from the
    run (see :func:`resolve_melody_config`) and ``vocab_sizes`` must be the run's.
    """

    inputs = ("tokens", "mask")

    def __init__(self, config: MelodyConfig, vocab_sizes: dict[str, int]) -> None:
        super().__init__()
        if config.pooling not in ("mean", "last"):
            raise FolkclipError(f"melody.pooling {config.pooling!r} does not apply to arch "
                                "'lm'; choose from mean, last")
        config = resolve_melody_config(config)
        if config.init_from and lm_export_dir(config.init_from) is not None:
            lm_vocab = read_lm_info(config.init_from)["vocab"]
            wanted = {f: len(v) for f, v in lm_vocab.items()}
            if {f: vocab_sizes.get(f) for f in FIELDS} != {f: wanted[f] for f in FIELDS}:
                raise FolkclipError(
                    f"melody.init_from={config.init_from!r}: the model's vocabulary sizes "
                    f"{dict(vocab_sizes)} are not the language model's {wanted}; express the "
                    "corpus in its vocabulary (folkclip.models.lm.corpus_for_melody)")
        self.config = config
        self.out_dim = config.dim
        self.backbone = CausalBackbone(LMConfig.from_melody(config), vocab_sizes)
        self.rnn = BiGru(config.dim, config.gru_layers, config.dropout) \
            if config.gru_layers else None
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        tokens = batch["tokens"][:, : self.config.max_len]  # (B, T, F)
        mask = batch["mask"][:, : self.config.max_len]  # (B, T)
        states = self.backbone(tokens, mask)  # (B, T, C)
        last = None
        if self.rnn is not None:
            states, last = self.rnn(states, mask)  # (B, T, C), (B, C)
        if self.config.pooling == "mean":
            pooled = masked_mean(states, mask)
        elif last is not None:
            pooled = last  # final forward and backward GRU states
        else:
            end = (mask.sum(1) - 1).clamp(min=0)  # (B,) index of the last real event
            pooled = states[torch.arange(states.shape[0], device=states.device), end]
        return self.norm(pooled)  # (B, C)

    def encoder_layers(self) -> list[nn.Module]:
        return list(self.backbone.encoder.layers)

    def head_modules(self) -> list[nn.Module]:
        rnn = [self.rnn] if self.rnn is not None else []
        return [self.backbone.norm, *rnn, self.norm]

    def load_lm_run(self, path: str | Path) -> None:
        """Copy the backbone weights of the language model exported in run folder ``path``.

        Raises:
            FolkclipError: When there is no language model there or it does not fit.
        """
        info = read_lm_info(path)
        prefix = "backbone."
        state = {k[len(prefix):]: v for k, v in _lm_state(info["folder"]).items()
                 if k.startswith(prefix)}
        try:
            self.backbone.load_state_dict(state)
        except RuntimeError as err:
            raise FolkclipError(f"the language model in {str(path)!r} does not fit the 'lm' "
                                f"encoder: {err}") from err
