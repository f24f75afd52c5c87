"""Which task a run config trains: the contrastive two-tower model, the melody LM or the
conditional title model.

Each task module imports Lightning, so they are imported only when a run starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from folkclip_cli.train.config import TrainConfig


def run(cfg: TrainConfig, out: Path, resume: bool = False) -> dict | None:
    """Train according to ``cfg`` into ``out``; return the test evaluation (the
    perplexities for ``task: melody_lm``, the test titles' bits for ``task: title_lm``;
    ``None`` on processes other than the first)."""
    if cfg.task == "title_lm":
        from folkclip_cli.train.title_task import train_title_lm

        return train_title_lm(cfg, out, resume)  # type: ignore[arg-type]
    if cfg.task == "melody_lm":
        from folkclip_cli.train.lm_task import train_melody_lm

        return train_melody_lm(cfg, out, resume)

    from folkclip_cli.train.contrastive import train_contrastive

    return train_contrastive(cfg, out, resume)
