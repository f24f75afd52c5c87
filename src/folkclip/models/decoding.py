"""Feeding a melody language model one event at a time, as sampling does.

:class:`KVCache` holds, per Transformer layer, the attention keys and values of the
positions read so far, so that each new event costs one position's work
(:meth:`folkclip.models.lm.CausalBackbone.step`) instead of re-reading the whole prefix.
:class:`StepDecoder` is what a sampler talks to: it takes each step's new events and
returns the next-event logits, with the cache or (``cache=False``, the reference the
cache is tested against) by running the model over the whole prefix again; rows whose
tunes are finished are dropped with :meth:`StepDecoder.keep` and cost nothing after.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class KVCache:
    """Keys and values of the first ``length`` positions of a batch of sequences.

    Attributes:
        keys: Per layer, (B, H, L, D) with room for L positions.
        values: Per layer, (B, H, L, D).
        length: Positions filled so far.
    """

    keys: list[Tensor]
    values: list[Tensor]
    length: int = 0

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2]

    def keep(self, rows: Tensor) -> None:
        """Keep only the sequences ``rows`` (K,) int64, in that order."""
        self.keys = [k.index_select(0, rows) for k in self.keys]
        self.values = [v.index_select(0, rows) for v in self.values]


def cached_attention(attn: nn.MultiheadAttention, h: Tensor, cache: KVCache, layer: int
                     ) -> Tensor:
    """Self-attention of one new position ``h`` (B, C) of Transformer layer ``layer`` over
    the cached positions and itself (the causal mask: nothing later exists yet) -> (B, C);
    stores its key and value at position ``cache.length``."""
    b, c = h.shape
    t = cache.length
    qkv = F.linear(h, attn.in_proj_weight, attn.in_proj_bias)  # (B, 3C): q | k | v
    q, k, v = qkv.view(b, 3, attn.num_heads, c // attn.num_heads).unbind(1)  # (B, H, D)
    keys, values = cache.keys[layer], cache.values[layer]  # (B, H, L, D)
    keys[:, :, t] = k
    values[:, :, t] = v
    out = F.scaled_dot_product_attention(q.unsqueeze(2), keys[:, :, : t + 1],
                                         values[:, :, : t + 1])  # (B, H, 1, D)
    return attn.out_proj(out.reshape(b, c))


class StepDecoder:
    """Next-event logits of a batch of sequences that grow by one event per call.

    Args:
        model: The :class:`~folkclip.models.lm.MelodyLM` (put in eval mode; typed as a
            module because ``lm`` imports this module for :class:`KVCache`).
        batch: Number of sequences.
        length: Events per sequence at most (at most the model's ``max_len``).
        cache: Keep keys and values (:class:`KVCache`); ``False`` re-reads the prefix.
    """

    def __init__(self, model: nn.Module, batch: int, length: int, cache: bool = True) -> None:
        self.model = model.eval()
        self.cache = model.backbone.new_cache(batch, length) if cache else None
        self.prefix: Tensor | None = None  # (B, t, F) events so far, without a cache

    @torch.no_grad()
    def __call__(self, events: Tensor) -> tuple[Tensor, Tensor]:
        """Append ``events`` (B, F) and return the logits of the event after them:
        ``token`` (B, V_token) and ``duration`` (B, V_duration), float32 on the CPU."""
        if self.cache is not None:
            out = self.model.step(events, self.cache)  # (B, V) each
            return out["token_logits"].float().cpu(), out["duration_logits"].float().cpu()
        events = events.unsqueeze(1)  # (B, 1, F)
        self.prefix = events if self.prefix is None else torch.cat([self.prefix, events], 1)
        mask = torch.ones(self.prefix.shape[:2], dtype=torch.bool, device=events.device)
        out = self.model({"tokens": self.prefix, "mask": mask})  # (B, t, V) each
        return (out["token_logits"][:, -1].float().cpu(),
                out["duration_logits"][:, -1].float().cpu())

    def keep(self, rows: Tensor) -> None:
        """Drop every sequence but ``rows`` (K,) int64 (indices into the current batch)."""
        if self.cache is not None:
            self.cache.keep(rows.to(self.cache.keys[0].device))
        elif self.prefix is not None:
            self.prefix = self.prefix.index_select(0, rows.to(self.prefix.device))
