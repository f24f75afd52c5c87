"""Typed configurations of the two towers, their JSON form and dotted overrides.

A model is data: a :class:`ModelConfig` holding a :class:`MelodyConfig` and a
:class:`TitleConfig`. Named configurations live as JSON files in
``folkclip/model_configs/`` (read with :mod:`importlib.resources`);
:func:`load_model_config` reads one and :func:`apply_overrides` changes fields by
dotted name (``{"melody.dim": 128, "embed_dim": 64}``), keeping each field's type.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, TypeVar

from folkclip.config import apply_override, from_dict
from folkclip.errors import FolkclipError

MELODY_ARCHS = ("cnn", "gru", "gru-attn", "transformer", "patch-transformer", "header", "lm")
TITLE_ARCHS = ("char-cnn", "char-gru", "word", "minilm")
POOLINGS = ("mean", "max", "last")
CONFIG_PACKAGE = "folkclip"
CONFIG_FOLDER = "model_configs"
_FREEZE_RE = re.compile(r"^(none|all|top:(\d+))$")

C = TypeVar("C")


@dataclass
class MelodyConfig:
    """The melody encoder.

    Attributes:
        arch: One of :data:`MELODY_ARCHS`.
        dim: Width of event embeddings and hidden layers; also the encoder's output size.
        layers: Number of stacked layers (conv blocks, GRU layers, Transformer layers,
            header MLP layers).
        heads: Attention heads (Transformers; attention pooling of ``gru-attn``).
        dropout: Dropout probability.
        pooling: How events are pooled into one vector: ``cnn``, ``transformer`` and
            ``patch-transformer`` take ``mean`` or ``max``, ``gru`` and ``lm`` take ``mean``
            or ``last``; ``gru-attn`` (attention) and ``header`` (mean) ignore it.
        kernel_size: Convolution width (``cnn``; odd).
        max_len: Longer event sequences are cut to this many events.
        patch_size: Events per bar patch (``patch-transformer``; must match the batch).
        max_patches: Patches per tune (``patch-transformer``).
        init_from: Checkpoint whose melody encoder weights initialise this one; for
            ``lm``, also a melody language-model run folder (task ``melody_lm``), whose
            ``dim``, ``layers``, ``heads`` and ``max_len`` then replace these.
        freeze: ``none``; ``all`` (the whole melody encoder is frozen); or ``top:N``
            (only the top N layers and what follows them, e.g. pooling, train).
        gru_layers: ``lm`` only: bidirectional GRU layers run over the causal Transformer's
            states before pooling (0: none); with ``freeze: top:0`` this is the original
            study's frozen language model with a trained BiGRU on top.
    """

    arch: str = "gru-attn"
    dim: int = 256
    layers: int = 2
    heads: int = 4
    dropout: float = 0.1
    pooling: str = "mean"
    kernel_size: int = 5
    max_len: int = 512
    patch_size: int = 16
    max_patches: int = 64
    init_from: str | None = None
    freeze: str = "none"
    gru_layers: int = 0

    def __post_init__(self) -> None:
        _check_choice("melody.arch", self.arch, MELODY_ARCHS)
        _check_choice("melody.pooling", self.pooling, POOLINGS)
        _check_positive("melody", self, ("dim", "layers", "heads", "kernel_size", "max_len",
                                         "patch_size", "max_patches"))
        _check_dropout("melody.dropout", self.dropout)
        if self.kernel_size % 2 == 0:
            raise FolkclipError(f"melody.kernel_size must be odd, got {self.kernel_size}")
        if self.dim % self.heads:
            raise FolkclipError(
                f"melody.dim ({self.dim}) must be divisible by melody.heads ({self.heads})")
        if not _FREEZE_RE.match(self.freeze):
            raise FolkclipError(
                f"melody.freeze must be 'none', 'all' or 'top:N', got {self.freeze!r}")
        if not isinstance(self.gru_layers, int) or self.gru_layers < 0:
            raise FolkclipError(f"melody.gru_layers must be >= 0, got {self.gru_layers!r}")
        if self.gru_layers and self.arch != "lm":
            raise FolkclipError(f"melody.gru_layers applies to arch 'lm' only, not {self.arch!r}")


@dataclass
class LMConfig:
    """The melody language model (:class:`folkclip.models.lm.MelodyLM`): a causal
    Transformer over events. In a training config it is given by ``model.melody``
    (``arch: lm``), whose fields of the same names it takes (:meth:`from_melody`).

    Attributes:
        dim: Width of event embeddings and Transformer layers.
        layers: Transformer layers.
        heads: Attention heads.
        dropout: Dropout probability.
        max_len: Learned positions: the longest event sequence the model reads.
    """

    dim: int = 256
    layers: int = 4
    heads: int = 4
    dropout: float = 0.1
    max_len: int = 512

    def __post_init__(self) -> None:
        _check_positive("lm", self, ("dim", "layers", "heads", "max_len"))
        _check_dropout("lm.dropout", self.dropout)
        if self.dim % self.heads:
            raise FolkclipError(f"lm.dim ({self.dim}) must be divisible by lm.heads ({self.heads})")

    @classmethod
    def from_melody(cls, melody: MelodyConfig) -> LMConfig:
        """The language model whose backbone is the ``lm`` melody encoder ``melody``'s."""
        return cls(dim=melody.dim, layers=melody.layers, heads=melody.heads,
                   dropout=melody.dropout, max_len=melody.max_len)


@dataclass
class TitleConfig:
    """The title encoder.

    Attributes:
        arch: One of :data:`TITLE_ARCHS`.
        dim: Width of character/word embeddings and hidden layers; the encoder's output size.
        layers: Conv blocks (``char-cnn``) or GRU layers (``char-gru``).
        dropout: Dropout probability.
        max_chars: Titles are cut to this many characters.
        hash_buckets: Hash buckets of word and character-trigram features (``word``).
        finetune: Train the pretrained MiniLM too (``minilm``; frozen otherwise).
        mlp_hidden: Hidden width of the MLP head (``word``, ``minilm``).
    """

    arch: str = "char-gru"
    dim: int = 256
    layers: int = 1
    dropout: float = 0.1
    max_chars: int = 64
    hash_buckets: int = 16384
    finetune: bool = False
    mlp_hidden: int = 512

    def __post_init__(self) -> None:
        _check_choice("title.arch", self.arch, TITLE_ARCHS)
        _check_positive("title", self, ("dim", "layers", "max_chars", "hash_buckets",
                                        "mlp_hidden"))
        _check_dropout("title.dropout", self.dropout)


@dataclass
class ModelConfig:
    """A two-tower model.

    Attributes:
        melody: The melody encoder.
        title: The title encoder.
        embed_dim: Size of the shared embedding space.
        logit_scale_init: Initial log of the softmax temperature's inverse (CLIP: log(1/0.07)).
        learn_logit_scale: Train the logit scale.
        name: The configuration's name (the JSON file it came from, when any).
    """

    melody: MelodyConfig = field(default_factory=MelodyConfig)
    title: TitleConfig = field(default_factory=TitleConfig)
    embed_dim: int = 256
    logit_scale_init: float = math.log(1 / 0.07)
    learn_logit_scale: bool = True
    name: str = ""

    def __post_init__(self) -> None:
        _check_positive("model", self, ("embed_dim",))
        if not math.isfinite(self.logit_scale_init):
            raise FolkclipError("logit_scale_init must be finite")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from a (JSON) dict, refusing unknown keys and values of the wrong type."""
        return from_dict(cls, data)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that :meth:`from_dict` reads back."""
        return dataclasses.asdict(self)


def apply_overrides(config: ModelConfig, overrides: dict[str, Any]) -> ModelConfig:
    """A copy of ``config`` with fields changed by dotted name.

    Args:
        config: The base configuration (left unchanged).
        overrides: ``{"melody.dim": 128, "embed_dim": 64}``; ``__`` may stand for ``.``
            so that keyword arguments work (``melody__dim=128``).

    Returns:
        The new, validated configuration.

    Raises:
        FolkclipError: When a key names no field or a value has the wrong type.
    """
    for raw_key, value in overrides.items():
        config = apply_override(config, raw_key.replace("__", "."), value)
    return ModelConfig.from_dict(config.to_dict())  # re-validate the combination


def list_models() -> list[str]:
    """Names of the packaged model configurations (``model_configs/*.json``)."""
    folder = resources.files(CONFIG_PACKAGE).joinpath(CONFIG_FOLDER)
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


def load_model_config(name: str) -> ModelConfig:
    """Read the packaged configuration ``model_configs/{name}.json``.

    Raises:
        FolkclipError: For an unknown name or an invalid file.
    """
    if name not in list_models():
        raise FolkclipError(f"unknown model {name!r}; choose from {', '.join(list_models())}")
    text = resources.files(CONFIG_PACKAGE).joinpath(CONFIG_FOLDER).joinpath(f"{name}.json").read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise FolkclipError(f"model config {name}.json is not valid JSON: {err}") from err
    config = ModelConfig.from_dict(data)
    return config if config.name else dataclasses.replace(config, name=name)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise FolkclipError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _check_positive(prefix: str, obj: object, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise FolkclipError(f"{prefix}.{name} must be a positive integer, got {value!r}")


def _check_dropout(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise FolkclipError(f"{name} must be in [0, 1), got {value}")


TITLE_CONDITIONS = ("none", "header", "melody")


def _small_encoder() -> MelodyConfig:
    return MelodyConfig(arch="cnn", dim=64, layers=2, dropout=0.1, max_len=128)


@dataclass
class TitleLMConfig:
    """The conditional title model (:class:`folkclip.models.title_lm.TitleLM`): a character
    GRU whose every step also sees a prefix vector made by a melody encoder from the
    tune's events. What the encoder is shown is the *condition*; the model is otherwise
    the same, so bits under two conditions differ only by what the events tell.

    Attributes:
        condition: ``none`` (the encoder sees only ``<bos>``: a constant prefix),
            ``header`` (``<bos>`` and the ``type:``, ``meter:``, ``mode:``, ``key:``
            header tokens) or ``melody`` (every event: header and notes; the tokenizer's
            removal switches, ``data.remove``, take elements out of it).
        encoder: The melody encoder making the prefix (any arch reading ``tokens``;
            the sizes default to a small CPU-sized dilated CNN).
        dim: Width of the character embedding, the prefix and the GRU.
        layers: GRU layers.
        dropout: Dropout probability.
        max_chars: Titles are modelled up to this many (folded) characters.
    """

    condition: str = "melody"
    encoder: MelodyConfig = field(default_factory=_small_encoder)
    dim: int = 128
    layers: int = 1
    dropout: float = 0.1
    max_chars: int = 64

    def __post_init__(self) -> None:
        _check_choice("title_lm.condition", self.condition, TITLE_CONDITIONS)
        _check_positive("title_lm", self, ("dim", "layers", "max_chars"))
        _check_dropout("title_lm.dropout", self.dropout)
        if self.encoder.arch == "patch-transformer":
            raise FolkclipError("title_lm.encoder.arch: patch-transformer reads bar patches; "
                                "choose an arch that reads the event sequence")
