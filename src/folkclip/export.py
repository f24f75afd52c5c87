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
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from folkclip.config import from_dict, to_dict
from folkclip.abc.model import Tune
from folkclip.errors import FolkclipError, Problem
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

    @torch.inference_mode()
    def embed_titles(self, titles: list[str]) -> np.ndarray:
        """(N, D) L2-normalised title embeddings."""
        out = []
        for s in range(0, len(titles), 256):
            tb = self.model.tokenize_titles(titles[s:s + 256])
            out.append(self.model.encode_titles(tb).float())
        return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)

    def embed_tunes(self, tunes: Sequence[str | Tune], batch_size: int = 256) -> np.ndarray:
        """Embed tunes given as ABC texts (one tune each) or parsed :class:`Tune` objects.

        Returns:
            (N, D) L2-normalised float32 tune embeddings, in the order given.

        Raises:
            AbcQueryError: For a text that holds no readable tune or no notes (with the
                reader's problems, as ``folkclip suggest`` reports them).
        """
        from folkclip.data.dataset import tokenize_corpus
        from folkclip.index.query import AbcQueryError, read_tune
        from folkclip.io.sources import Corpus

        parsed = [t if isinstance(t, Tune) else read_tune(t, f"<tune {i}>")[0]
                  for i, t in enumerate(tunes)]
        if not parsed:
            return np.zeros((0, self.dim), np.float32)
        tc = tokenize_corpus(Corpus(parsed), self.tokenizer_config)
        if len(tc) != len(parsed):
            raise AbcQueryError("a tune could not be tokenized", [
                Problem(p["source"], p["tune"], p["line"], p["reason"])
                for p in tc.problems if p["severity"] == "error"])
        return self.embed_corpus(tc)

    @property
    def dim(self) -> int:
        """Width D of the joint embedding space."""
        return int(self.model.config.embed_dim)

    @torch.inference_mode()
    def embed_corpus(self, tc, indices: Sequence[int] | None = None,  # noqa: ANN001
                     batch_size: int = 256, ids: np.ndarray | None = None,
                     device: str | torch.device = "cpu") -> np.ndarray:
        """Embed tunes of a :class:`~folkclip.data.dataset.TokenizedCorpus` with the tune tower.

        Tunes are batched by length (longest first, so a batch pads little), the
        results put back in the order of ``indices``.

        Args:
            tc: The tokenized corpus.
            indices: Tunes to embed (default: all).
            batch_size: Tunes per forward pass.
            ids: ``tc``'s ids already in this model's vocabulary (:meth:`corpus_ids`).
            device: Where the tower runs.

        Returns:
            (N, D) L2-normalised float32 embeddings.
        """
        from folkclip.data.batch import tune_batch

        idx = np.arange(len(tc)) if indices is None else np.asarray(indices, dtype=np.int64)
        ids = self.corpus_ids(tc) if ids is None else ids
        lengths = np.minimum(tc.offsets[idx + 1] - tc.offsets[idx], self.max_events)
        order = np.argsort(-lengths, kind="stable")  # (N,) longest first
        out = np.zeros((len(idx), self.dim), np.float32)
        patches = "patches" in self.model.melody_inputs
        for s in range(0, len(order), batch_size):
            rows = order[s:s + batch_size]
            batch = tune_batch(tc, idx[rows].tolist(), self.max_events, patches=patches,
                               ids=ids)
            batch = {k: v.to(device) for k, v in batch.items()}
            out[rows] = self.model.encode_tunes(batch).float().cpu().numpy()  # (B, D)
        return out


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
