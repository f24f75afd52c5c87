"""Building blocks shared by the melody and title towers and the melody LM: masked
pooling, the per-field event embedding, a masked residual convolution, a packed BiGRU
and multi-head attention pooling. Padding never changes an output: it is masked out of
convolutions, packed away from GRUs and hidden from attention and pooling.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from folkclip.data.tokenize import FIELDS
from folkclip.errors import FolkclipError


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


def transformer_stack(dim: int, heads: int, layers: int, dropout: float
                      ) -> nn.TransformerEncoder:
    """Pre-norm GELU Transformer encoder layers (feed-forward 4 x ``dim``, batch first), as
    the melody encoders and the melody LM use them."""
    layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=4 * dim, dropout=dropout,
                                       activation="gelu", batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


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
