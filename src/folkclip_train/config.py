"""The training configuration: typed dataclasses, read from YAML, overridden with ``--set``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from folkclip.config import apply_overrides, from_dict, load_yaml, to_dict
from folkclip.errors import FolkclipError
from folkclip.models.config import ModelConfig

TASKS = ("contrastive", "melody_lm")


@dataclass
class DataConfig:
    """Which tunes, how they are split and tokenized."""

    sources: list[str] = field(default_factory=lambda: ["default"])
    split_seed: int = 0
    fractions: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    folds: int = 0  # K >= 2: grouped K-fold cross-validation (test = fold `fold`)
    fold: int = 0  # the held-out fold of this run (set by `train --folds K` per fold)
    transpose: bool = True
    remove: list[str] = field(default_factory=list)  # tokenizer information-removal switches
    first_bars: int = 0
    max_events: int = 256
    alt_titles: bool = True  # sample alternative titles as extra training pairs


@dataclass
class LossConfig:
    """Contrastive loss: ``infonce`` (CLIP) or ``hinge`` (margin ranking)."""

    kind: str = "infonce"
    same_title: str = "mask"  # mask | positive | none
    margin: float = 0.1
    hardest: bool = False


@dataclass
class OptimConfig:
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_steps: int = 50
    schedule: str = "cosine"  # cosine | constant


@dataclass
class TrainerConfig:
    """Passed to Lightning's Trainer; multi-GPU/multi-node by configuration alone."""

    max_epochs: int = 30
    max_steps: int = -1
    batch_size: int = 64
    accelerator: str = "cpu"
    devices: int = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    grad_clip: float = 1.0
    early_stopping_patience: int = 6
    monitor: str = "val/mrr_mean"
    num_workers: int = 0
    log_every_n_steps: int = 10
    progress_bar: bool = True
    threads: int = 0  # torch.set_num_threads; 0 = leave as is


@dataclass
class TrackingConfig:
    """Loggers and prediction tracking."""

    logger: str = "tensorboard"  # tensorboard | mlflow | wandb | csv | none
    mlflow_uri: str = ""
    probe_size: int = 12
    probe_steps: list[int] = field(default_factory=list)  # empty: at every validation
    top_k: int = 5


@dataclass
class TrainConfig:
    """Everything a run needs; written resolved into every run folder."""

    task: str = "contrastive"
    seed: int = 0
    model_preset: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise FolkclipError(f"task must be one of {TASKS}, got {self.task!r}")


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config (``None``: all defaults), resolve ``model_preset`` and apply ``--set``.

    A ``model_preset`` names a JSON file in ``folkclip/model_configs``; the ``model``
    mapping of the YAML file then overrides fields of that preset.

    Raises:
        FolkclipError: For unknown keys, wrong types or a missing file.
    """
    from folkclip.models import load_model_config

    data = load_yaml(path) if path else {}
    preset = data.get("model_preset", "")
    for text in overrides or []:
        if text.startswith("model_preset="):
            preset = text.split("=", 1)[1]
    if preset:
        base = to_dict(load_model_config(preset))
        base.update({k: v for k, v in data.get("model", {}).items() if not isinstance(v, dict)})
        for sub in ("melody", "title"):
            base[sub].update(data.get("model", {}).get(sub, {}))
        data = {**data, "model": base}
    cfg = from_dict(TrainConfig, data)
    return apply_overrides(cfg, [o for o in overrides or [] if not o.startswith("model_preset=")])


def save_config(cfg: TrainConfig, path: Path) -> None:
    import yaml

    path.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
