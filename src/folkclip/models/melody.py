"""Melody encoders: event-id sequences (or bar patches) to one vector per tune.

Every encoder takes ``(config: MelodyConfig, vocab_sizes: dict[str, int])``, has an
``out_dim`` attribute, an ``inputs`` tuple naming the batch keys it reads, and
``forward(batch) -> (B, out_dim)``. Batches hold ``tokens`` (B, T, F) int64 event ids
(fields in :data:`folkclip.tokenize.FIELDS` order, id 0 = padding), ``mask`` (B, T)
bool (True for real events, which come first), ``header_mask`` (B, T) bool, and for
bar patches ``patches`` (B, P, S, F) with ``patch_mask`` (B, P).

For freezing (``MelodyConfig.freeze``) each encoder lists its stacked layers, bottom
to top, in ``encoder_layers()`` and what follows them (pooling, final norm) in
``head_modules()``; everything else (the embeddings) counts as below the stack.
Padding never changes an encoder's output: it is masked out of convolutions,
packed away from GRUs, and hidden from attention and pooling.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from folkclip.errors import FolkclipError
from folkclip.models.config import MelodyConfig
from folkclip.tokenize import FIELDS


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean over dim 1 of ``x`` (B, T, C) where ``mask`` (B, T) is True; (B, C), 0 if none."""
    m = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
    return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


def masked_max(x: Tensor, mask: Tensor) -> Tensor:
    """Max over dim 1 of ``x`` (B, T, C) where ``mask`` (B, T) is True; (B, C), 0 if none."""
    out = x.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)  # (B, C)
    return torch.where(mask.any(1, keepdim=True), out, torch.zeros_like(out))


def pool(x: Tensor, mask: Tensor, how: str) -> Tensor:
    """Masked ``mean`` or ``max`` pooling of ``x`` (B, T, C) -> (B, C)."""
    return masked_max(x, mask) if how == "max" else masked_mean(x, mask)


def key_padding(mask: Tensor) -> Tensor:
    """``src_key_padding_mask`` for ``mask`` (B, T); rows without any event mask nothing
    (their output is meaningless but finite, instead of NaN)."""
    return ~mask & mask.any(1, keepdim=True)


class EventEmbedding(nn.Module):
    """Sum of one embedding per event field (id 0 = padding), optional learned
    positions, then LayerNorm.

    Args:
        vocab_sizes: Vocabulary size of every field in :data:`FIELDS`.
        dim: Embedding width.
        max_len: Number of learned positions (0: no position embedding).
    """

    def __init__(self, vocab_sizes: dict[str, int], dim: int, max_len: int = 0) -> None:
        super().__init__()
        missing = [f for f in FIELDS if f not in vocab_sizes]
        if missing:
            raise FolkclipError(f"vocab_sizes lacks field(s) {missing}; need all of {FIELDS}")
        self.fields = nn.ModuleDict(
            {f: nn.Embedding(vocab_sizes[f], dim, padding_idx=0) for f in FIELDS})
        self.position = nn.Embedding(max_len, dim) if max_len else None
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: Tensor) -> Tensor:
        """``tokens`` (..., T, F) int64 -> (..., T, dim)."""
        x = sum(emb(tokens[..., j]) for j, emb in enumerate(self.fields.values()))  # (..., T, C)
        if self.position is not None:
            x = x + self.position(torch.arange(tokens.shape[-2], device=tokens.device))
        return self.norm(x)


class ConvBlock(nn.Module):
    """Pre-norm residual dilated 1-D convolution that keeps padded positions at zero.

    Args:
        dim: Channels.
        kernel_size: Odd kernel width.
        dilation: Dilation (the receptive field grows with it).
        dropout: Dropout probability.
    """

    def __init__(self, dim: int, kernel_size: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.conv = nn.Conv1d(dim, dim, kernel_size, padding=dilation * (kernel_size // 2),
                              dilation=dilation)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """``x`` (B, T, C), ``mask`` (B, T) -> (B, T, C), zero where ``mask`` is False."""
        m = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
        h = self.conv((self.norm(x) * m).transpose(1, 2)).transpose(1, 2)  # (B, T, C)
        return (x + self.drop(F.gelu(h))) * m


class BiGru(nn.Module):
    """Stacked bidirectional GRU over packed sequences (one module per layer, so that
    layers can be frozen one by one).

    Args:
        dim: Input and output width (each direction has ``dim // 2`` units).
        layers: Number of layers.
        dropout: Dropout between layers.
    """

    def __init__(self, dim: int, layers: int, dropout: float) -> None:
        super().__init__()
        if dim % 2:
            raise FolkclipError(f"dim must be even for a bidirectional GRU, got {dim}")
        self.layers = nn.ModuleList(
            nn.GRU(dim, dim // 2, batch_first=True, bidirectional=True) for _ in range(layers))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """``x`` (B, T, C) with prefix ``mask`` (B, T) -> states (B, T, C) and the
        concatenated final forward/backward states (B, C)."""
        lengths = mask.sum(1).clamp(min=1).cpu()  # (B,)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        h_n = x.new_zeros(2, x.shape[0], x.shape[2] // 2)
        for i, gru in enumerate(self.layers):
            if i:
                packed = packed._replace(data=self.drop(packed.data))
            packed, h_n = gru(packed)  # h_n: (2, B, C/2), batch in input order
        states, _ = pad_packed_sequence(packed, batch_first=True, total_length=x.shape[1])
        return states, torch.cat([h_n[0], h_n[1]], dim=-1)


class AttentionPool(nn.Module):
    """Multi-head attention pooling with one learned query per head and masked softmax.

    Args:
        dim: Width of the pooled states.
        heads: Heads; each pools a ``dim // heads`` slice of the states.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.key = nn.Linear(dim, dim)
        self.query = nn.Parameter(torch.randn(heads, dim // heads) / math.sqrt(dim // heads))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """``x`` (B, T, C), ``mask`` (B, T) -> (B, C)."""
        b, t, c = x.shape
        k = self.key(x).view(b, t, self.heads, c // self.heads)  # (B, T, H, C/H)
        scores = torch.einsum("bthd,hd->bth", k, self.query) / math.sqrt(c // self.heads)
        scores = scores.masked_fill(~mask.unsqueeze(-1), float("-inf"))  # (B, T, H)
        weights = torch.nan_to_num(scores.softmax(dim=1))  # rows without events: 0
        v = x.view(b, t, self.heads, c // self.heads)  # (B, T, H, C/H)
        return torch.einsum("bth,bthd->bhd", weights, v).reshape(b, c)


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
    layer = nn.TransformerEncoderLayer(
        config.dim, config.heads, dim_feedforward=4 * config.dim, dropout=config.dropout,
        activation="gelu", batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)


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
