"""A trained run folder ready to evaluate: its model, corpus and evaluation set
(:func:`load_eval`), the split it recorded, its embeddings (or the random baseline's) and the
overlap of another collection with its training split. Shared by ``evaluate``, ``map``,
``report`` and cross-validation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from folkclip.errors import FolkclipError

if TYPE_CHECKING:
    from folkclip.data.dataset import TokenizedCorpus
    from folkclip.eval.evaluation import EvalSet
    from folkclip.export import FolkclipModel


@dataclass
class EvalContext:
    """A run's exported model and the evaluation set it is scored on."""

    run: Path
    config: dict  # the run's resolved config.yaml
    model: FolkclipModel
    corpus: TokenizedCorpus
    evalset: EvalSet
    sources: list[str]
    split: str


def load_eval(run_dir: str | Path, data: list[str] | None = None,
              split: str | None = None) -> EvalContext:
    """Load run ``run_dir``'s model and the tunes to evaluate: its own sources and
    ``split`` (default test), or with ``data`` the whole other collection (``all``).

    Raises:
        FolkclipError: When ``run_dir`` is not a run folder or the split has no titled tunes.
    """
    import folkclip
    from folkclip.data.dataset import load_tokenized
    from folkclip.eval.evaluation import EvalSet
    from folkclip_cli.train.config import read_run_config

    run = Path(run_dir)
    cfg = read_run_config(run)
    if cfg.get("task", "contrastive") != "contrastive":
        raise FolkclipError(f"{run} trained task {cfg['task']!r}, not a two-tower model")
    fm = folkclip.load(run)
    sources = list(data or cfg["data"]["sources"])
    split = split or ("all" if data else "test")
    tc = load_tokenized(sources, fm.tokenizer_config)
    indices = list(range(len(tc))) if split == "all" else run_split(run, tc, cfg, split)
    es = EvalSet(tc, indices)
    if not es.tunes:
        raise FolkclipError(f"no titled tunes in split {split!r} of {', '.join(sources)}")
    return EvalContext(run, cfg, fm, tc, es, sources, split)


def training_overlap(ctx: EvalContext, threshold: float = 0.9):
    """Which tunes of ``ctx``'s evaluation set the run's training split (as recorded in its
    ``split.json``) has seen, by title identity or near-duplicate melody; both corpora are
    read with pitches kept.

    Raises:
        FolkclipError: When the sources cannot be read.
    """
    from folkclip.data.dataset import load_tokenized
    from folkclip.data.tokenize import TokenizerConfig
    from folkclip.eval.overlap import training_overlap as overlap_of

    data = ctx.config["data"]
    full = TokenizerConfig()  # pitches kept: the melody profile needs them
    training = load_tokenized(list(data["sources"]), full)
    train = run_split(ctx.run, training, ctx.config, "train")  # as the run recorded it
    evaluated = load_tokenized(ctx.sources, full)
    return overlap_of(evaluated, ctx.evalset.tunes, training, train, threshold)


def run_split(run: Path, tc: TokenizedCorpus, cfg: dict, split: str) -> list[int]:
    """The tunes of ``split`` as the run recorded them in ``split.json`` (recomputed from
    its config when the file is missing or names tunes the corpus lacks)."""
    recorded = run / "split.json"
    if recorded.exists():
        names = json.loads(recorded.read_text()).get(split, [])
        index = {f"{m['source']}#{m['number']}": i for i, m in enumerate(tc.meta)}
        if names and all(n in index for n in names):
            return [index[n] for n in names]
    dc = cfg["data"]
    return tc.split(dc["split_seed"], tuple(dc["fractions"]), dc.get("folds", 0),
                    dc.get("fold", 0), dc.get("train_share", 1.0))[split].tolist()


def embeddings(ctx: EvalContext, random: bool = False, seed: int = 0):
    """Tune and title embeddings of ``ctx.evalset``: the model's, or random unit vectors.

    Returns:
        (N, D) tune and (M, D) title embeddings, float32.
    """
    from folkclip.eval.evaluation import embed, random_embeddings

    fm, tc, es = ctx.model, ctx.corpus, ctx.evalset
    if random:
        return random_embeddings(es, fm.model.config.embed_dim, seed)
    return embed(fm.model, tc, es, max_events=fm.max_events, ids=fm.corpus_ids(tc))
