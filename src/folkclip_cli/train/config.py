"""The training configuration: typed dataclasses, read from YAML, overridden with ``--set``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from folkclip.config import Range, apply_assignments, from_dict, load_yaml, to_dict
from folkclip.errors import FolkclipError
from folkclip.models.config import ModelConfig, TitleLMConfig

if TYPE_CHECKING:
    from folkclip.data.tokenize import TokenizerConfig

TASKS = ("contrastive", "melody_lm", "title_lm")
# What Lightning's Trainer accepts (tests check these against Lightning's registries).
ACCELERATORS = Literal["auto", "cpu", "gpu", "cuda", "mps", "tpu"]
STRATEGIES = Literal[
    "auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "ddp_find_unused_parameters_true",
    "ddp_find_unused_parameters_false", "ddp_spawn_find_unused_parameters_true",
    "ddp_spawn_find_unused_parameters_false", "ddp_fork_find_unused_parameters_true",
    "ddp_fork_find_unused_parameters_false", "fsdp", "fsdp_cpu_offload", "deepspeed",
    "deepspeed_stage_1", "deepspeed_stage_2", "deepspeed_stage_2_offload", "deepspeed_stage_3",
    "deepspeed_stage_3_offload", "single_device"]
PRECISIONS = Literal["32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true"]
# What each task logs and can monitor for early stopping and the best checkpoint.
CONTRASTIVE_MONITORS = ("val/mrr_mean", "val/loss", *(
    f"val/{d}/{k}" for d in ("tune_to_title", "title_to_tune")
    for k in ("mrr", "ndcg@10", "recall@10", "hit@10")))
LM_MONITORS = ("val/loss", "val/token_ppl", "val/duration_ppl")
TITLE_LM_MONITORS = ("val/bits_per_title", "val/bits_per_char")

NonNegative = Annotated[int, Range(ge=0)]
Positive = Annotated[int, Range(ge=1)]
Share = Annotated[float, Range(ge=0, le=1)]


@dataclass
class DataConfig:
    """Which tunes, how they are split and tokenized."""

    sources: list[str] = field(default_factory=lambda: ["default"])
    split_seed: NonNegative = 0
    fractions: list[Share] = field(default_factory=lambda: [0.8, 0.1, 0.1])  # train, val, test
    folds: NonNegative = 0  # K >= 2: grouped K-fold cross-validation (test = fold `fold`)
    fold: NonNegative = 0  # the held-out fold of this run (set by `train --folds K` per fold)
    train_share: Annotated[float, Range(gt=0, le=1)] = 1.0  # share of training groups kept
    transpose: bool = True
    remove: list[str] = field(default_factory=list)  # tokenizer information-removal switches
    first_bars: NonNegative = 0
    max_events: Annotated[int, Range(ge=8)] = 256
    alt_titles: bool = True  # sample alternative titles as extra training pairs

    def __post_init__(self) -> None:
        from folkclip.data.tokenize import SWITCHES

        f = self.fractions
        if len(f) != 3 or abs(sum(f) - 1) > 1e-6 or f[0] <= 0 or f[1] <= 0:
            raise FolkclipError(f"data.fractions must be three shares (train, validation, test) "
                                f"summing to 1, train and validation above 0; got {f}")
        unknown = [s for s in self.remove if s not in SWITCHES]
        if unknown:
            raise FolkclipError(f"data.remove: unknown switch(es) {', '.join(unknown)}; "
                                f"choose from {', '.join(SWITCHES)}")

    def tokenizer(self) -> TokenizerConfig:
        """The tokenizer configuration these data settings mean (one place builds it)."""
        from folkclip.data.tokenize import TokenizerConfig

        return TokenizerConfig(transpose=self.transpose, remove=tuple(self.remove),
                               first_bars=self.first_bars)


@dataclass
class LossConfig:
    """Contrastive loss: ``infonce`` (CLIP) or ``hinge`` (margin ranking)."""

    kind: Literal["infonce", "hinge"] = "infonce"
    same_title: Literal["mask", "positive", "none"] = "mask"
    margin: Annotated[float, Range(ge=0)] = 0.1
    hardest: bool = False


@dataclass
class OptimConfig:
    lr: Annotated[float, Range(gt=0)] = 2e-3
    weight_decay: Annotated[float, Range(ge=0)] = 0.01
    warmup_steps: NonNegative = 50
    schedule: Literal["cosine", "constant"] = "cosine"


@dataclass
class TrainerConfig:
    """Passed to Lightning's Trainer; multi-GPU/multi-node by configuration alone."""

    max_epochs: Positive = 30
    max_steps: Annotated[int, Range(ge=-1)] = -1  # -1: no limit but max_epochs
    # the global batch (the contrastive loss's in-batch negatives): with devices x num_nodes
    # processes each takes an equal share of every batch, so the batches do not depend on
    # how many processes train (loaders.py)
    batch_size: Positive = 64
    accelerator: ACCELERATORS = "cpu"
    devices: Positive = 1
    num_nodes: Positive = 1
    strategy: STRATEGIES = "auto"
    precision: PRECISIONS = "32-true"
    grad_clip: Annotated[float, Range(ge=0)] = 1.0  # 0: no clipping
    early_stopping_patience: NonNegative = 6
    monitor: str = "val/mrr_mean"  # one of CONTRASTIVE_MONITORS or LM_MONITORS, by task
    num_workers: NonNegative = 0
    log_every_n_steps: Positive = 10
    checkpoint_every_n_steps: NonNegative = 0  # also write last.ckpt every N steps (0: never)
    progress_bar: bool = True
    threads: NonNegative = 0  # torch.set_num_threads; 0 = leave as is
    bucket_by_length: bool = False  # training batches of tunes of similar length (loaders.py)

    def __post_init__(self) -> None:
        if self.max_steps == 0:
            raise FolkclipError("trainer.max_steps must be -1 (no limit) or >= 1, got 0")
        if self.batch_size % self.world_size:
            raise FolkclipError(f"trainer.batch_size {self.batch_size} (the global batch) must "
                                f"be a multiple of the {self.world_size} processes "
                                "(trainer.devices x trainer.num_nodes)")

    @property
    def world_size(self) -> int:
        """Data-parallel processes: ``devices x num_nodes``."""
        return self.devices * self.num_nodes


@dataclass
class TrackingConfig:
    """Loggers and prediction tracking."""

    logger: Literal["tensorboard", "mlflow", "wandb", "csv", "none"] = "tensorboard"
    mlflow_uri: str = ""
    probe_size: NonNegative = 12
    probe_steps: list[NonNegative] = field(default_factory=list)  # empty: every validation
    top_k: Positive = 5


@dataclass
class TrainConfig:
    """Everything a run needs; written resolved into every run folder."""

    task: Literal["contrastive", "melody_lm", "title_lm"] = "contrastive"
    seed: NonNegative = 0
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


@dataclass
class TitleTrainConfig(TrainConfig):
    """A run of ``task: title_lm``: every :class:`TrainConfig` field plus the title model
    (kept out of :class:`TrainConfig`, so the other tasks' resolved configs are unchanged)."""

    title_lm: TitleLMConfig = field(default_factory=TitleLMConfig)


def config_class(data: dict, overrides: list[str] | None = None) -> type[TrainConfig]:
    """:class:`TitleTrainConfig` for ``task: title_lm`` (in ``data`` or an override), else
    :class:`TrainConfig`."""
    task = data.get("task")
    for text in overrides or []:
        key, _, value = text.partition("=")
        if key.strip() == "task":
            task = value.strip()
    return TitleTrainConfig if task == "title_lm" else TrainConfig


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
        if not isinstance(preset, str):
            raise FolkclipError(f"model_preset: expected a name, got {preset!r}")
        model = _mapping(data.get("model", {}), "model")
        base = to_dict(load_model_config(preset))
        base.update({k: v for k, v in model.items() if k not in ("melody", "title")})
        for sub in ("melody", "title"):
            base[sub].update(_mapping(model.get(sub, {}), f"model.{sub}"))
        data = {**data, "model": base}
    cfg = from_dict(config_class(data, overrides), data)
    cfg = apply_assignments(cfg, [o for o in overrides or [] if not o.startswith("model_preset=")])
    check_config(cfg)
    return cfg


def _mapping(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise FolkclipError(f"{where}: expected a mapping, got {value!r}")
    return value


def check_config(cfg: TrainConfig) -> None:
    """Rules that tie fields together, checked once the whole config is known.

    Raises:
        FolkclipError: For a monitor the task does not log.
    """
    monitors = {"melody_lm": LM_MONITORS, "title_lm": TITLE_LM_MONITORS}.get(
        cfg.task, CONTRASTIVE_MONITORS)
    if (cfg.task == "title_lm") != isinstance(cfg, TitleTrainConfig):
        raise FolkclipError("task title_lm needs its title_lm section (TitleTrainConfig)")
    if cfg.trainer.monitor not in monitors:
        raise FolkclipError(f"trainer.monitor for task {cfg.task} must be one of "
                            f"{', '.join(monitors)}; got {cfg.trainer.monitor!r}")


def read_run_config(run: str | Path) -> dict:
    """The resolved ``config.yaml`` of run folder ``run``, checked like any config.

    Returns:
        The config as a plain dict (every field present).

    Raises:
        FolkclipError: When ``run`` has no ``config.yaml`` or it is empty, not YAML, or
            not a valid training config.
    """
    from folkclip.io.runfiles import DAMAGED_HINT

    path = Path(run) / "config.yaml"
    if not path.is_file():
        raise FolkclipError(f"{run} is not a run folder (no config.yaml)")
    data = load_yaml(path)
    if not data:
        raise FolkclipError(f"{path}: empty; {DAMAGED_HINT}")
    try:
        return to_dict(from_dict(config_class(data), data))
    except FolkclipError as err:
        raise FolkclipError(f"{path}: not a valid run config: {err}") from None


def save_config(cfg: TrainConfig, path: Path) -> None:
    import yaml

    path.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
