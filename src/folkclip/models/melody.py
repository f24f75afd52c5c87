"""Melody encoders: event-id sequences (or bar patches) to one vector per tune.

Every encoder takes ``(config: MelodyConfig, vocab_sizes: dict[str, int])``, has an
``out_dim`` attribute, an ``inputs`` tuple naming the batch keys it reads, and
``forward(batch) -> (B, out_dim)``. Batches hold ``tokens`` (B, T, F) int64 event ids
(fields in :data:`folkclip.data.tokenize.FIELDS` order, id 0 = padding), ``mask`` (B, T)
bool (True for real events, which come first), ``header_mask`` (B, T) bool, and for
bar patches ``patches`` (B, P, S, F) with ``patch_mask`` (B, P).

For freezing (``MelodyConfig.freeze``) each encoder lists its stacked layers, bottom
to top, in ``encoder_layers()`` and what follows them (pooling, final norm) in
``head_modules()``; everything else (the embeddings) counts as below the stack.
Padding never changes an encoder's output: it is masked out of convolutions,
packed away from GRUs, and hidden from attention and pooling.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from folkclip.errors import FolkclipError
from folkclip.models.config import MelodyConfig
from folkclip.models.layers import (  # noqa: F401  (EventEmbedding, masked_mean: re-exported)
    AttentionPool,
    BiGru,
    ConvBlock,
    EventEmbedding,
    key_padding,
    masked_max,
    masked_mean,
    pool,
    transformer_stack,
)


def _check_pooling(config: MelodyConfig, allowed: tuple[str, ...]) -> None:
    if config.pooling not in allowed:
        raise FolkclipError(f"melody.pooling {config.pooling!r} does not apply to arch "
                            f"{config.arch!r}; choose from {', '.join(allowed)}")


def _events(batch: dict[str, Tensor], max_len: int) -> tuple[Tensor, Tensor]:
    """``tokens`` (B, T', F) and ``mask`` (B, T') cut to ``max_len`` events."""
    return batch["tokens"][:, :max_len], batch["mask"][:, :max_len]


class CnnEncoder(nn.Module):
    """Residual dilated 1-D CNN (dilation doubling per layer) + masked mean/max pooling."""

    inputs = ("tokens", "mask")

    def __init__(self, config: MelodyConfig, vocab_sizes: dict[str, int]) -> None:
        super().__init__()
        _check_pooling(config, ("mean", "max"))
        self.config = config
        self.out_dim = config.dim
        self.embed = EventEmbedding(vocab_sizes, config.dim)
        self.blocks = nn.ModuleList(
            ConvBlock(config.dim, config.kernel_size, 2 ** i, config.dropout)
            for i in range(config.layers))
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        tokens, mask = _events(batch, self.config.max_len)  # (B, T, F), (B, T)
        x = self.embed(tokens) * mask.unsqueeze(-1)  # (B, T, C)
        for block in self.blocks:
            x = block(x, mask)  # (B, T, C)
        return self.norm(pool(x, mask, self.config.pooling))  # (B, C)

    def encoder_layers(self) -> list[nn.Module]:
        return list(self.blocks)

    def head_modules(self) -> list[nn.Module]:
        return [self.norm]


class GruEncoder(nn.Module):
    """Bidirectional GRU over packed sequences; masked mean or final-state pooling."""

    inputs = ("tokens", "mask")
    poolings: tuple[str, ...] = ("mean", "last")

    def __init__(self, config: MelodyConfig, vocab_sizes: dict[str, int]) -> None:
        super().__init__()
        if self.poolings:
            _check_pooling(config, self.poolings)
        self.config = config
        self.out_dim = config.dim
        self.embed = EventEmbedding(vocab_sizes, config.dim)
        self.drop = nn.Dropout(config.dropout)
        self.rnn = BiGru(config.dim, config.layers, config.dropout)
        self.norm = nn.LayerNorm(config.dim)

    def _states(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        tokens, mask = _events(batch, self.config.max_len)  # (B, T, F), (B, T)
        states, last = self.rnn(self.drop(self.embed(tokens)), mask)  # (B, T, C), (B, C)
        return states, last, mask

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        states, last, mask = self._states(batch)
        pooled = last if self.config.pooling == "last" else masked_mean(states, mask)
        return self.norm(pooled)  # (B, C)

    def encoder_layers(self) -> list[nn.Module]:
        return list(self.rnn.layers)

    def head_modules(self) -> list[nn.Module]:
        return [self.norm]


class GruAttnEncoder(GruEncoder):
    """Bidirectional GRU with multi-head attention pooling (``pooling`` is ignored)."""

    poolings = ()  # always attention

    def __init__(self, config: MelodyConfig, vocab_sizes: dict[str, int]) -> None:
        super().__init__(config, vocab_sizes)
        self.attn = AttentionPool(config.dim, config.heads)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        states, _, mask = self._states(batch)  # (B, T, C)
        return self.norm(self.attn(states, mask))  # (B, C)

    def head_modules(self) -> list[nn.Module]:
        return [self.attn, self.norm]


def _transformer(config: MelodyConfig) -> nn.TransformerEncoder:
    return transformer_stack(config.dim, config.heads, config.layers, config.dropout)


class TransformerEncoder(nn.Module):
    """Pre-norm Transformer encoder over events with learned positions; masked pooling."""

    inputs = ("tokens", "mask")

    def __init__(self, config: MelodyConfig, vocab_sizes: dict[str, int]) -> None:
        super().__init__()
        _check_pooling(config, ("mean", "max"))
        self.config = config
        self.out_dim = config.dim
        self.embed = EventEmbedding(vocab_sizes, config.dim, max_len=config.max_len)
        self.drop = nn.Dropout(config.dropout)
        self.encoder = _transformer(config)
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        tokens, mask = _events(batch, self.config.max_len)  # (B, T, F), (B, T)
        x = self.drop(self.embed(tokens))  # (B, T, C)
        x = self.encoder(x, src_key_padding_mask=key_padding(mask))  # (B, T, C)
        return pool(self.norm(x), mask, self.config.pooling)  # (B, C)

    def encoder_layers(self) -> list[nn.Module]:
        return list(self.encoder.layers)

    def head_modules(self) -> list[nn.Module]:
        return [self.norm]


class PatchTransformerEncoder(nn.Module):
    """Bar-patch Transformer (after CLaMP): each bar's events are embedded with their
    position inside the patch, concatenated and projected into one patch vector; a
    Transformer with learned patch positions then runs over the patches."""

    inputs = ("patches", "patch_mask")

    def __init__(self, config: MelodyConfig, vocab_sizes: dict[str, int]) -> None:
        super().__init__()
        _check_pooling(config, ("mean", "max"))
        self.config = config
        self.out_dim = config.dim
        self.event_embed = EventEmbedding(vocab_sizes, config.dim, max_len=config.patch_size)
        self.patch_proj = nn.Sequential(
            nn.Linear(config.patch_size * config.dim, config.dim), nn.GELU(),
            nn.Linear(config.dim, config.dim))
        self.patch_pos = nn.Embedding(config.max_patches, config.dim)
        self.drop = nn.Dropout(config.dropout)
        self.encoder = _transformer(config)
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        patches = batch["patches"][:, : self.config.max_patches]  # (B, P, S, F)
        mask = batch["patch_mask"][:, : self.config.max_patches]  # (B, P)
        b, p, s, _ = patches.shape
        if s != self.config.patch_size:
            raise FolkclipError(f"batch patches hold {s} events, the model expects "
                                f"melody.patch_size={self.config.patch_size}")
        events = (patches[..., 0] != 0).unsqueeze(-1)  # (B, P, S, 1): real events
        x = self.event_embed(patches) * events  # (B, P, S, C)
        x = self.patch_proj(x.reshape(b, p, s * self.config.dim))  # (B, P, C)
        x = self.drop(x + self.patch_pos(torch.arange(p, device=x.device)))
        x = self.encoder(x, src_key_padding_mask=key_padding(mask))  # (B, P, C)
        return pool(self.norm(x), mask, self.config.pooling)  # (B, C)

    def encoder_layers(self) -> list[nn.Module]:
        return list(self.encoder.layers)

    def head_modules(self) -> list[nn.Module]:
        return [self.norm]


class HeaderEncoder(nn.Module):
    """Baseline that sees only header events (type, meter, mode, key, unit): masked
    mean of their embeddings, then a residual MLP. Notes never reach it."""

    inputs = ("tokens", "header_mask")

    def __init__(self, config: MelodyConfig, vocab_sizes: dict[str, int]) -> None:
        super().__init__()
        self.config = config
        self.out_dim = config.dim
        self.embed = EventEmbedding(vocab_sizes, config.dim)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(config.dim), nn.Linear(config.dim, config.dim),
                          nn.GELU(), nn.Dropout(config.dropout))
            for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        tokens = batch["tokens"][:, : self.config.max_len]  # (B, T, F)
        header = batch["header_mask"][:, : self.config.max_len]  # (B, T)
        x = masked_mean(self.embed(tokens), header)  # (B, C)
        for block in self.blocks:
            x = x + block(x)  # (B, C)
        return self.norm(x)

    def encoder_layers(self) -> list[nn.Module]:
        return list(self.blocks)

    def head_modules(self) -> list[nn.Module]:
        return [self.norm]


def _lm_encoder(config: MelodyConfig, vocab_sizes: dict[str, int]) -> nn.Module:
    """The ``lm`` encoder (the melody language model's backbone, pooled). It lives in
    :mod:`folkclip.models.lm`, which builds on this module, so it is imported when built."""
    from folkclip.models.lm import LmEncoder

    return LmEncoder(config, vocab_sizes)


MELODY_ENCODERS: dict[str, Callable[[MelodyConfig, dict[str, int]], nn.Module]] = {
    "cnn": CnnEncoder,
    "gru": GruEncoder,
    "gru-attn": GruAttnEncoder,
    "transformer": TransformerEncoder,
    "patch-transformer": PatchTransformerEncoder,
    "header": HeaderEncoder,
    "lm": _lm_encoder,
}


def build_melody_encoder(config: MelodyConfig, vocab_sizes: dict[str, int]) -> nn.Module:
    """The melody encoder named by ``config.arch``."""
    return MELODY_ENCODERS[config.arch](config, vocab_sizes)


def freeze_melody_encoder(encoder: nn.Module, freeze: str) -> None:
    """Set ``requires_grad`` per ``MelodyConfig.freeze``.

    ``none`` trains everything; ``all`` freezes everything; ``top:N`` freezes the
    embeddings and all but the top N of ``encoder_layers()``, leaving those N layers
    and ``head_modules()`` trainable.

    Raises:
        FolkclipError: When N exceeds the number of layers.
    """
    encoder.requires_grad_(freeze == "none")
    if freeze in ("none", "all"):
        return
    n = int(freeze.split(":", 1)[1])
    layers = encoder.encoder_layers()
    if n > len(layers):
        raise FolkclipError(f"melody.freeze={freeze!r} but the encoder has {len(layers)} layers")
    for module in layers[len(layers) - n:] + encoder.head_modules():
        module.requires_grad_(True)
