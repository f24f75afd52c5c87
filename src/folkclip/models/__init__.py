"""Two-tower models: melody encoders, title encoders and their configurations.

``create_model("gru-attn", vocab_sizes, embed_dim=128)`` builds a :class:`TwoTower`
from ``model_configs/gru-attn.json``; :func:`list_models` names the packaged configs.
"""

from __future__ import annotations

from folkclip.models.config import (
    MELODY_ARCHS,
    TITLE_ARCHS,
    MelodyConfig,
    ModelConfig,
    TitleConfig,
    apply_overrides,
    list_models,
    load_model_config,
)
from folkclip.models.melody import MELODY_ENCODERS, EventEmbedding
from folkclip.models.title import TITLE_ENCODERS
from folkclip.models.towers import TwoTower, create_model

__all__ = [
    "MELODY_ARCHS", "MELODY_ENCODERS", "TITLE_ARCHS", "TITLE_ENCODERS", "EventEmbedding",
    "MelodyConfig", "ModelConfig", "TitleConfig", "TwoTower", "apply_overrides",
    "create_model", "list_models", "load_model_config",
]
