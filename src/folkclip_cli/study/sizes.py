"""The study's sizes (``folkclip study --size small|full``) and where their settings live.

The settings of every size are data shipped with the package
(``folkclip_cli/study/configs/*.yaml``), so ``folkclip study`` runs from any directory and
after ``pip install``; ``--config`` / ``--lm-config`` point at one's own files instead.
What a size adds beyond its two config files is here: the shape a transferred tower takes
to load its language model, the seeds of the decisive rows, and the measured seconds per
training step that the printed plan's estimate of hours is made from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from folkclip.errors import FolkclipError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@dataclass(frozen=True)
class StudySize:
    """One size of the study.

    Attributes:
        name: ``small`` or ``full``.
        config: Packaged config of every two-tower run (a file in :data:`CONFIG_DIR`).
        lm_config: Packaged config of the melody language models.
        lm_shape: Overrides that give a transferred tower its language model's shape.
        seeds: Default ``--seeds``: seeds of the decisive rows (the others take one).
        step_seconds: Seconds per optimiser step of a two-tower run on one CPU thread of
            an idle 2-core machine, evaluation included, for the plan's estimate
            (``source`` says where the figure comes from).
        lm_step_seconds: The same for one language-model step.
        source: Where the two figures were measured.
        wide_pool: Whether part 3b (the LM pretrained on the wide pool) is planned.
        out: Default study folder (each size its own, so that neither overwrites the
            other's runs).
    """

    name: str
    config: str
    lm_config: str
    lm_shape: tuple[str, ...]
    seeds: int
    step_seconds: float
    lm_step_seconds: float
    source: str = ""
    wide_pool: bool = False
    out: str = "runs/study"


SIZES = {
    "small": StudySize("small", "study.yaml", "study-lm.yaml",
                       ("model_preset=lm-transfer", "model.melody.layers=2",
                        "model.melody.heads=4"),
                       seeds=1, step_seconds=0.19, lm_step_seconds=0.19,
                       source="make study: 146 run-minutes for 193 trainings of ~240 steps "
                              "(README, 'What ties a title to a melody')"),
    "full": StudySize("full", "study-full.yaml", "study-full-lm.yaml",
                      ("model_preset=lm-transfer",),
                      seeds=3, step_seconds=1.6, lm_step_seconds=1.9,
                      source="make demo: 540 steps in about 8 minutes on 2 threads (0.89 s), "
                             "melody LM ~30 tunes/s on 2 threads (1.07 s per batch of 32), "
                             "each ×1.8 for one thread",
                      wide_pool=True, out="runs/study-full"),
}


def get_size(name: str) -> StudySize:
    """The size called ``name``.

    Raises:
        FolkclipError: For an unknown size.
    """
    if name not in SIZES:
        raise FolkclipError(f"unknown study size {name!r}; choose one of {', '.join(SIZES)}")
    return SIZES[name]


def packaged_config(name: str) -> Path:
    """The packaged study config file ``name`` (e.g. ``study-full.yaml``).

    Raises:
        FolkclipError: When the package lacks it (a broken installation).
    """
    path = CONFIG_DIR / name
    if not path.is_file():
        raise FolkclipError(f"the study's settings {name!r} are missing from {CONFIG_DIR}; "
                            "reinstall folkclip or give --config")
    return path
