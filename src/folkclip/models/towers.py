"""The CLIP-style two-tower model: melody and title encoders projected into one space.

``TwoTower(config, vocab_sizes)`` builds both encoders from a :class:`ModelConfig`;
:func:`create_model` does the same from a packaged configuration name plus dotted
overrides. Batches are moved to the device by the caller, never inside ``forward``.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from folkclip.errors import FolkclipError
from folkclip.models.config import ModelConfig, apply_overrides, load_model_config
from folkclip.models.melody import build_melody_encoder, freeze_melody_encoder
from folkclip.models.title import build_title_encoder

MAX_LOGIT_SCALE = 100.0  # as in CLIP


class TwoTower(nn.Module):
    """Melody tower and title tower with linear projections onto the unit sphere.

    Args:
        config: The model configuration.
        vocab_sizes: Event vocabulary size per field, e.g.
            ``{f: len(v) for f, v in tokenized_corpus.vocab.items()}``.

    Attributes:
        melody: The melody encoder (``MELODY_ENCODERS[config.melody.arch]``).
        title: The title encoder (``TITLE_ENCODERS[config.title.arch]``).
        tune_proj: Linear map from ``melody.out_dim`` to ``embed_dim``.
        title_proj: Linear map from ``title.out_dim`` to ``embed_dim``.
        logit_scale: Log of the inverse softmax temperature (a parameter).
    """

    def __init__(self, config: ModelConfig, vocab_sizes: dict[str, int]) -> None:
        super().__init__()
        self.config = config
        self.vocab_sizes = dict(vocab_sizes)
        self.melody = build_melody_encoder(config.melody, vocab_sizes)
        self.title = build_title_encoder(config.title)
        self.tune_proj = nn.Linear(self.melody.out_dim, config.embed_dim)
        self.title_proj = nn.Linear(self.title.out_dim, config.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init)),
                                        requires_grad=config.learn_logit_scale)
        if config.melody.init_from:
            self.load_melody(config.melody.init_from)
        freeze_melody_encoder(self.melody, config.melody.freeze)

    @property
    def melody_inputs(self) -> tuple[str, ...]:
        """Batch keys the melody encoder reads (``patches`` means build bar patches)."""
        return self.melody.inputs

    def tokenize_titles(self, titles: list[str]) -> dict[str, Tensor]:
        """Title strings -> the title encoder's input tensors (on the CPU)."""
        return self.title.tokenize(titles)

    def encode_tunes(self, batch: dict[str, Tensor]) -> Tensor:
        """Melody batch -> L2-normalised tune embeddings (B, embed_dim)."""
        return nn.functional.normalize(self.tune_proj(self.melody(batch)), dim=-1)

    def encode_titles(self, batch: dict[str, Tensor]) -> Tensor:
        """Output of :meth:`tokenize_titles` -> L2-normalised title embeddings (B, embed_dim)."""
        return nn.functional.normalize(self.title_proj(self.title(batch)), dim=-1)

    def scale(self) -> Tensor:
        """exp(logit_scale), clamped to at most 100 (scalar)."""
        return self.logit_scale.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Embed a batch of pairs.

        Args:
            batch: Melody inputs (``tokens``, ``mask``, ... as the encoder needs) and
                ``title``: the dict from :meth:`tokenize_titles`.

        Returns:
            ``tune_emb`` (B, D), ``title_emb`` (B, D), both L2-normalised, and
            ``logit_scale`` (scalar, already exponentiated and clamped).
        """
        return {"tune_emb": self.encode_tunes(batch),
                "title_emb": self.encode_titles(batch["title"]),
                "logit_scale": self.scale()}

    def train(self, mode: bool = True) -> TwoTower:
        super().train(mode)
        if self.config.melody.freeze == "all":
            self.melody.eval()  # a frozen encoder keeps dropout off
        return self

    def load_melody(self, path: str | Path) -> None:
        """Initialise the melody encoder from a checkpoint.

        The file may hold a state dict of this model (``melody.*`` keys), of the melody
        encoder alone, or either under a ``"model"`` or ``"state_dict"`` key. A folder
        is a melody language-model run (task ``melody_lm``), read by the encoder's own
        ``load_lm_run`` (the ``lm`` arch).

        Raises:
            FolkclipError: When the file is missing or its weights do not fit.
        """
        if Path(path).is_dir():
            load_lm_run = getattr(self.melody, "load_lm_run", None)
            if load_lm_run is None:
                raise FolkclipError(f"melody.init_from={str(path)!r} is a folder (a language-"
                                    f"model run); only the 'lm' melody arch starts from one, "
                                    f"not {self.config.melody.arch!r}")
            load_lm_run(path)
            return
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, pickle.UnpicklingError) as err:
            raise FolkclipError(f"cannot read melody.init_from={str(path)!r}: {err}") from err
        for key in ("model", "state_dict"):
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                state = state[key]
        if any(k.startswith("melody.") for k in state):
            state = {k[len("melody."):]: v for k, v in state.items() if k.startswith("melody.")}
        try:
            self.melody.load_state_dict(state)
        except RuntimeError as err:
            raise FolkclipError(f"melody.init_from={str(path)!r} does not fit the "
                                f"{self.config.melody.arch!r} encoder: {err}") from err


def create_model(name_or_config: str | ModelConfig, vocab_sizes: dict[str, int],
                 **overrides: Any) -> TwoTower:
    """Build a :class:`TwoTower` from a packaged configuration name or a config.

    Args:
        name_or_config: A name from :func:`~folkclip.models.config.list_models`
            (``model_configs/{name}.json``) or a :class:`ModelConfig`.
        vocab_sizes: Event vocabulary size per field.
        **overrides: Field changes by dotted name, e.g.
            ``create_model("gru", sizes, **{"melody.dim": 128}, embed_dim=64)``
            (``melody__dim=128`` works too).

    Returns:
        The model; its resolved configuration is ``model.config``.

    Raises:
        FolkclipError: For an unknown name, field or a value of the wrong type.
    """
    if isinstance(name_or_config, ModelConfig):
        config = name_or_config
    elif isinstance(name_or_config, str):
        config = load_model_config(name_or_config)
    else:
        raise FolkclipError(f"create_model needs a model name or a ModelConfig, "
                            f"got {type(name_or_config).__name__}")
    if overrides:
        config = apply_overrides(config, overrides)
    return TwoTower(config, vocab_sizes)
