"""What ``folkclip study`` trains: every run of every part, named once.

Each two-tower run is a grouped K-fold cross-validation of the size's packaged config
(``study.yaml`` or ``study-full.yaml``, :mod:`folkclip_cli.study.sizes`) plus the overrides
of its variant (its label is its folder, ``OUT/runs/<label>``; seed k > 0 of a decisive row
in ``OUT/runs/seed<k>/<label>``). A variant used
by several parts (``gru-attn`` is part 1's GRU-attention encoder and part 2's full-
information model; ``lm-finetuned`` is in parts 1 and 3) is trained once. The melody
language models of part 3 are one per fold (``OUT/runs/lm/fold<k>``), trained on that
fold's training part only (``study-lm.yaml``), and the transferred towers name
them through ``init_from=.../fold{fold}``.

``--quick`` keeps every part but trains fewer variants on the ``tiny`` source (about 85
tunes) with toy sizes: a smoke run of the whole pipeline in a few minutes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from folkclip.errors import FolkclipError
from folkclip_cli.study.jobs import PlannedRun, Variant
from folkclip_cli.study.sizes import SIZES, StudySize
from folkclip_cli.study.sweep import ablation_variants

# Part 1: melody encoders (label, overrides); ``-minilm`` variants take frozen MiniLM titles.
MINILM = ("model.title.arch=minilm",)
ENCODERS = (
    ("header", ("model_preset=header",)),
    ("cnn", ("model_preset=cnn",)),
    ("gru", ("model_preset=gru",)),
    ("gru-attn", ()),
    ("transformer", ("model_preset=transformer",)),
    ("patch-transformer", ("model_preset=patch-transformer",)),
    ("lm-frozen", ("@lm", "model.melody.freeze=all")),
    ("lm-finetuned", ("@lm", "model.melody.freeze=none")),
    ("header-minilm", ("model_preset=header", *MINILM)),
    ("gru-attn-minilm", MINILM),
    ("lm-finetuned-minilm", ("@lm", "model.melody.freeze=none", *MINILM)),
)
# Part 2: every removal switch, the first bars only, and type+meter together.
REMOVALS = ("key", "mode", "meter", "type", "rhythm", "pitch", "octave", "ornaments",
            "barlines", "chords", "repeats", "first_bars=4", "first_bars=8", "type+meter")
# Part 3: the transfer variants (label stem, overrides) and the shares of the training folds.
TRANSFER = (
    ("lm-scratch", ("@shape", "model.melody.freeze=none")),
    ("lm-frozen", ("@lm", "model.melody.freeze=all")),
    ("lm-top1", ("@lm", "model.melody.freeze=top:1")),
    ("lm-finetuned", ("@lm", "model.melody.freeze=none")),
)
SHARES = (0.25, 0.5, 1.0)
# Part 3b (sizes with a wide pool): the LM pretrained on every readable melody outside the
# fold's held-out groups (:mod:`folkclip_cli.study.pool`), at 25% and 100% of the titled
# training data.
TRANSFER_WIDE = (
    ("lm-wide-frozen", ("@wide", "model.melody.freeze=all")),
    ("lm-wide-top1", ("@wide", "model.melody.freeze=top:1")),
    ("lm-wide-finetuned", ("@wide", "model.melody.freeze=none")),
)
WIDE_SHARES = (0.25, 1.0)
REFERENCE = "gru-attn"  # part 2's full-information model
# The rows that decide the study's questions (issue 19): trained with --seeds seeds, the
# others with one. The best melody model with MiniLM titles is part 1's gru-attn-minilm
# (the small study's best); the LM comparison is the LM pretrained beyond the fold
# (part 3b's wide pool) fine-tuned against scratch.
DECISIVE = ("header-minilm", "gru-attn-minilm", REFERENCE, "remove-meter", "remove-rhythm",
            "lm-scratch", "lm-wide-finetuned")

QUICK_ENCODERS = ("header", "gru-attn", "lm-finetuned", "gru-attn-minilm")
QUICK_REMOVALS = ("rhythm", "first_bars=4")
QUICK_TRANSFER = ("lm-scratch", "lm-finetuned")
QUICK_SHARES = (0.5, 1.0)
QUICK_OVERRIDES = ("data.sources=[tiny]", "data.max_events=32", "trainer.max_epochs=1",
                   "model.melody.dim=16", "model.melody.max_len=32", "model.title.dim=16",
                   "model.embed_dim=16", "trainer.batch_size=16", "tracking.probe_size=4",
                   "optim.warmup_steps=1", "optim.lr=0.01")
QUICK_LM_OVERRIDES = ("data.sources=[tiny]", "data.max_events=32", "trainer.max_epochs=1",
                      "model.melody.dim=16", "model.melody.max_len=32",
                      "trainer.batch_size=16", "optim.warmup_steps=1", "optim.lr=0.01")


@dataclass
class StudyPlan:
    """The runs of a study and which part uses which."""

    out: Path
    folds: int
    quick: bool
    variants: dict[str, Variant] = field(default_factory=dict)  # label -> overrides
    parts: dict[str, list[str]] = field(default_factory=dict)  # part -> labels
    removal_labels: dict[str, str] = field(default_factory=dict)  # element -> label
    learning_curve: dict[str, dict[float, str]] = field(default_factory=dict)
    lm_runs: list[PlannedRun] = field(default_factory=list)
    lm_wide_runs: list[PlannedRun] = field(default_factory=list)  # part 3b, one per fold
    single: set[str] = field(default_factory=set)  # labels trained on one split, no folds
    seeds: dict[str, int] = field(default_factory=dict)  # label -> seeds (absent: 1)
    size: str = "small"  # the study's size (its name in --size)

    def run(self, label: str) -> PlannedRun:
        """The planned cross-validation run of variant ``label`` (seed 0)."""
        return PlannedRun(self.variants[label], 0, self.run_dir(label))

    def uses_lm(self, label: str) -> bool:
        """Whether variant ``label``'s tower starts from a fold's language model."""
        return any("{fold}" in o for o in self.variants[label].overrides)

    def run_dir(self, label: str, seed: int = 0) -> Path:
        """Seed 0's folder is ``runs/<label>``; seed k's ``runs/seed<k>/<label>``."""
        return self.out / "runs" / (label if seed == 0 else f"seed{seed}/{label}")

    def seed_dirs(self, label: str) -> list[Path]:
        """The folders of every planned seed of ``label``."""
        return [self.run_dir(label, s) for s in range(self.seeds.get(label, 1))]

    def runs(self, labels: list[str], seed: int = 0) -> list[PlannedRun]:
        """Seed ``seed`` of those ``labels`` that have it."""
        return [PlannedRun(self.variants[lbl], seed, self.run_dir(lbl, seed)) for lbl in labels
                if seed < self.seeds.get(lbl, 1)]

    def add(self, label: str, overrides: tuple[str, ...]) -> str:
        """Register variant ``label``; the same label twice must mean the same run."""
        variant = Variant(label, overrides)
        if self.variants.get(label, variant) != variant:
            raise ValueError(f"study variant {label!r} planned twice differently")
        self.variants[label] = variant
        return label


def _expand(overrides: tuple[str, ...], lm_dir: Path, shape: tuple[str, ...]
            ) -> tuple[str, ...]:
    """Replace ``@shape`` by the overrides giving a tower the language model's shape, and
    ``@lm`` by those plus the ``init_from`` naming each fold's language model."""
    out: list[str] = []
    for o in overrides:
        if o == "@lm":
            out += [*shape, f"model.melody.init_from={lm_dir}/fold{{fold}}"]
        elif o == "@wide":
            out += [*shape, f"model.melody.init_from={lm_dir}-wide/fold{{fold}}"]
        elif o == "@shape":
            out += shape
        else:
            out.append(o)
    return tuple(out)


def share_label(stem: str, share: float) -> str:
    """``lm-scratch`` at 25% of the training folds is ``lm-scratch@25``; 100% is the stem."""
    return stem if share == 1.0 else f"{stem}@{round(share * 100)}"


def make_plan(out: Path, folds: int = 5, quick: bool = False, size: StudySize | None = None,
              seeds: int | None = None) -> StudyPlan:
    """Every run of the study in ``out`` (parts 1-3; part 6's depend on part 1's result).

    Args:
        out: The study folder.
        folds: Cross-validation folds.
        quick: Toy sizes on ``tiny`` (the small size's rows, fewer of them).
        size: The study's size (default ``small``).
        seeds: Seeds of the :data:`DECISIVE` rows (default: the size's); others take one.
    """
    size = size or SIZES["small"]
    plan = StudyPlan(out=out, folds=folds, quick=quick, size=size.name)
    lm_dir = out / "runs" / "lm"
    encoders = [e for e in ENCODERS if not quick or e[0] in QUICK_ENCODERS]
    plan.parts["encoders"] = [plan.add(label, _expand(o, lm_dir, size.lm_shape))
                              for label, o in encoders]

    removals = QUICK_REMOVALS if quick else REMOVALS
    plan.parts["removal"] = [plan.add(REFERENCE, ())]
    for v in ablation_variants([], list(removals))[1:]:
        label = "remove-" + v.label.replace("=", "")
        plan.removal_labels[v.label] = plan.add(label, v.overrides)
        plan.parts["removal"].append(label)

    transfer = [t for t in TRANSFER if not quick or t[0] in QUICK_TRANSFER]
    shares = QUICK_SHARES if quick else SHARES
    plan.parts["transfer"] = []
    for stem, overrides in transfer:
        plan.learning_curve[stem] = {}
        for share in shares:
            extra = () if share == 1.0 else (f"data.train_share={share}",)
            label = plan.add(share_label(stem, share),
                             (*_expand(overrides, lm_dir, size.lm_shape), *extra))
            plan.learning_curve[stem][share] = label
            plan.parts["transfer"].append(label)
    plan.lm_runs = [PlannedRun(Variant(f"lm fold {k}", (f"data.folds={folds}",
                                                         f"data.fold={k}")), 0,
                               lm_dir / f"fold{k}") for k in range(folds)]
    # part 6 trains on default's own split: its LM is pretrained on that split's training part
    plan.lm_runs.append(PlannedRun(Variant("lm split", ()), 0, lm_dir / "split"))
    if size.wide_pool and not quick:
        for stem, overrides in TRANSFER_WIDE:
            plan.learning_curve[stem] = {}
            for share in WIDE_SHARES:
                extra = () if share == 1.0 else (f"data.train_share={share}",)
                label = plan.add(share_label(stem, share),
                                 (*_expand(overrides, lm_dir, size.lm_shape), *extra))
                plan.learning_curve[stem][share] = label
                plan.parts["transfer"].append(label)
        plan.lm_wide_runs = [
            PlannedRun(Variant(f"lm-wide fold {k}",
                               (f"data.sources=[{pool_file(out, k)}]",)), 0,
                       out / "runs" / "lm-wide" / f"fold{k}") for k in range(folds)]
    n = size.seeds if seeds is None else seeds
    if n < 1:
        raise FolkclipError(f"--seeds must be >= 1, got {n}")
    plan.seeds = {label: n for label in DECISIVE if label in plan.variants and n > 1}
    return plan


def pool_file(out: Path, fold: int) -> Path:
    """Fold ``fold``'s wide pretraining pool (written by the study's ``pool`` step)."""
    return out / "pool" / f"fold{fold}.abc"


def other_tradition_variants(plan: StudyPlan, best: str) -> dict[str, Variant]:
    """Part 6: header-only and ``best``, trained once on ``default``'s own split (no folds;
    labels ``<label>-default``, evaluated on the part of ``nottingham`` they have not seen)
    and cross-validated on ``nottingham`` (``<label>-nottingham``). A transferred tower
    takes the LM pretrained on default's own training split (``runs/lm/split``) in both:
    for Nottingham that LM has seen another collection only."""
    out = {}
    split_lm = str(plan.out / "runs" / "lm" / "split")
    for label in dict.fromkeys(["header", best]):
        overrides = tuple(o.replace(str(plan.out / "runs" / "lm" / "fold{fold}"), split_lm)
                          for o in plan.variants[label].overrides)
        out[f"{label}-default"] = Variant(f"{label}-default", overrides)
        out[f"{label}-nottingham"] = Variant(f"{label}-nottingham",
                                             (*overrides, "data.sources=[nottingham]"))
        plan.single.add(f"{label}-default")
    for name, variant in out.items():
        plan.add(name, variant.overrides)
    return out


def base_overrides(quick: bool, overrides: list[str], lm: bool = False) -> list[str]:
    """The overrides every run of a study gets: the ``--quick`` sizes, then ``--set``
    (for the language models only the ``trainer.`` ones: device and threads)."""
    sizes = (QUICK_LM_OVERRIDES if lm else QUICK_OVERRIDES) if quick else ()
    return [*sizes, *(o for o in overrides if not lm or o.startswith("trainer."))]


def best_encoder(plan: StudyPlan) -> str:
    """Part 1's encoder with the highest pooled tune→title MRR (header-only excluded).

    Raises:
        FolkclipError: When no part-1 encoder run is finished.
    """
    scores = {}
    for label in plan.parts["encoders"]:
        path = plan.run_dir(label) / "eval_test.json"
        if label.startswith("header") or not path.exists():
            continue
        scores[label] = json.loads(path.read_text())["tune_to_title/mrr"]
    if not scores:
        raise FolkclipError("part 1 has no finished encoder run to pick the best from")
    return max(scores, key=scores.get)
