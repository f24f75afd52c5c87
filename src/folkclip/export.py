"""Exported models: config + vocabulary + weights, loadable without Lightning.

A run folder's ``model/`` holds ``model.json`` (model config, event vocabulary,
tokenizer config, ``max_events``) and ``weights.pt`` (a plain state dict).
:func:`load` returns a :class:`FolkclipModel` that embeds ABC tunes and titles.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from folkclip.config import from_dict, to_dict
from folkclip.errors import FolkclipError
from folkclip.data.tokenize import TokenizerConfig


class FolkclipModel:
    """A trained two-tower model with what it needs to read new tunes.

    Attributes:
        model: The :class:`~folkclip.models.towers.TwoTower` (in eval mode).
        vocab: Event vocabulary per field, as used in training.
        tokenizer_config: Tokenizer configuration used in training.
        max_events: Events per tune seen by the melody tower.
    """

    def __init__(self, model: torch.nn.Module, vocab: dict[str, list[str]],
                 tokenizer_config: TokenizerConfig, max_events: int) -> None:
        self.model = model.eval()
        self.vocab = vocab
        self.tokenizer_config = tokenizer_config
        self.max_events = max_events

    def corpus_ids(self, tc) -> np.ndarray:  # noqa: ANN001
        """A tokenized corpus's ids in this model's vocabulary."""
        return tc.remap(self.vocab)

    @torch.no_grad()
    def embed_titles(self, titles: list[str]) -> np.ndarray:
        """(N, D) L2-normalised title embeddings."""
        out = []
        for s in range(0, len(titles), 256):
            tb = self.model.tokenize_titles(titles[s:s + 256])
            out.append(self.model.encode_titles(tb).float())
        return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


def export_model(model: torch.nn.Module, model_config: object, vocab: dict[str, list[str]],
                 tokenizer_config: TokenizerConfig, max_events: int, out_dir: Path) -> Path:
    """Write ``model.json`` and ``weights.pt`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    info = {"format": 1, "model": to_dict(model_config), "vocab": vocab,
            "tokenizer": tokenizer_config.to_dict(), "max_events": max_events}
    (out_dir / "model.json").write_text(json.dumps(info))
    torch.save(model.state_dict(), out_dir / "weights.pt")
    return out_dir


def load(path: str | Path) -> FolkclipModel:
    """Load an exported model from a run folder (or its ``model/`` folder).

    Raises:
        FolkclipError: When no exported model is found there.
    """
    from folkclip.models import create_model
    from folkclip.models.config import ModelConfig

    p = Path(path)
    folder = p / "model" if (p / "model" / "model.json").exists() else p
    if not (folder / "model.json").exists():
        raise FolkclipError(f"no exported model in {str(p)!r} (expected model/model.json)")
    info = json.loads((folder / "model.json").read_text())
    cfg = from_dict(ModelConfig, info["model"])
    vocab = info["vocab"]
    model = create_model(cfg, {f: len(v) for f, v in vocab.items()})
    state = torch.load(folder / "weights.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    t = info["tokenizer"]
    tok = TokenizerConfig.from_dict(t)
    return FolkclipModel(model, vocab, tok, int(info["max_events"]))
