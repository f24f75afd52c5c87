"""Exported models: config + vocabulary + weights, loadable without Lightning.

A run folder's ``model/`` holds ``model.json`` (model config, event vocabulary,
tokenizer config, ``max_events``) and ``weights.pt`` (a plain state dict).
:func:`load` returns a :class:`FolkclipModel` that embeds ABC tunes and titles.

An export is self-contained: a melody tower that started from other weights
(``melody.init_from``, e.g. a language-model run) is written with its resolved sizes, its
vocabulary (the LM's) and all its weights, and ``init_from`` is cleared in the exported
config; where it came from is kept under ``init_from`` (path, and for an LM run its
config and tokenizer) for the record only. :func:`load` never reads that path.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import torch

from folkclip.config import from_dict, to_dict
from folkclip.errors import FolkclipError
from folkclip.io.runfiles import DAMAGED_HINT, read_json, require_keys
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
    """Write ``model.json`` and ``weights.pt`` into ``out_dir`` (self-contained: the
    melody's ``init_from`` is cleared and recorded as provenance, see the module doc)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    config = to_dict(model_config)
    info = {"format": 1, "model": config, "vocab": vocab,
            "tokenizer": tokenizer_config.to_dict(), "max_events": max_events}
    source = config["melody"].get("init_from")
    if source:
        config["melody"]["init_from"] = None  # the weights below already hold it
        info["init_from"] = _provenance(str(source))
    (out_dir / "model.json").write_text(json.dumps(info))
    torch.save(model.state_dict(), out_dir / "weights.pt")
    return out_dir


def _provenance(source: str) -> dict:
    """What the melody tower started from: the path and, for an LM run, its config."""
    from folkclip.models.lm import lm_export_dir, read_lm_info

    record: dict = {"path": source}
    if lm_export_dir(source) is not None:
        lm = read_lm_info(source)
        record.update(lm=to_dict(lm["lm"]), tokenizer=lm["tokenizer"].to_dict(),
                      max_events=lm["max_events"])
    return record


def load(path: str | Path) -> FolkclipModel:
    """Load an exported model from a run folder (or its ``model/`` folder).

    Raises:
        FolkclipError: When no exported model is found there, or its ``model.json`` or
            ``weights.pt`` is truncated, of the wrong shape or does not fit the model.
    """
    from folkclip.models import create_model
    from folkclip.models.config import ModelConfig

    p = Path(path)
    folder = p / "model" if (p / "model" / "model.json").exists() else p
    if not (folder / "model.json").exists():
        raise FolkclipError(f"no exported model in {str(p)!r} (expected model/model.json)")
    where = folder / "model.json"
    info = read_json(where)
    require_keys(info, ("model", "vocab", "tokenizer", "max_events"), where)
    try:
        info["model"].get("melody", {})["init_from"] = None  # weights.pt holds every weight
        cfg = from_dict(ModelConfig, info["model"])
        vocab = {str(f): list(v) for f, v in info["vocab"].items()}
        t = info["tokenizer"]
        tok = TokenizerConfig.from_dict(t)
        max_events = int(info["max_events"])
    except FolkclipError as err:
        raise FolkclipError(f"{where}: {err}") from None
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        raise FolkclipError(f"{where}: malformed ({type(err).__name__}: {err}); "
                            f"{DAMAGED_HINT}") from None
    model = create_model(cfg, {f: len(v) for f, v in vocab.items()})
    try:
        state = torch.load(folder / "weights.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except (OSError, RuntimeError, EOFError, ValueError, KeyError, TypeError,
            pickle.UnpicklingError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FolkclipError(f"{folder / 'weights.pt'}: cannot be loaded into the model of "
                            f"model.json ({first}); {DAMAGED_HINT}") from None
    return FolkclipModel(model, vocab, tok, max_events)
