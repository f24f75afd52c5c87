"""Tokenized corpora as compact integer arrays, cached on disk.

:func:`load_tokenized` reads sources, tokenizes every tune and stores the result
under ``$FOLKCLIP_CACHE`` (default ``~/.cache/folkclip``), keyed by a hash of the
sources' file contents and the tokenizer configuration; a second call with the same
inputs loads the arrays instead of parsing again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from folkclip.abc.parser import READER_VERSION
from folkclip.errors import FolkclipError
from folkclip.io.sources import Corpus, fingerprint, source_files
from folkclip.data.splits import TuneIdentity, assign_splits, group_ids, make_identity, tune_ref
from folkclip.abc.titles import title_key
from folkclip.data.reading import Feature, Part, read_parts, tokenize_tunes
from folkclip.data.tokenize import FIELDS, TOKENIZER_VERSION, Tokenizer, TokenizerConfig

FORMAT_VERSION = 2  # 2: removal switches also remove the bar structure (issue 11)
PAD, UNK = "<pad>", "<unk>"


@dataclass
class TokenizedCorpus:
    """Tokenized tunes: one (T_i, F) block of ids per tune, stacked.

    Attributes:
        config: Tokenizer configuration used.
        vocab: Per field, the list of token strings (index = id; 0 is ``<pad>``, 1 ``<unk>``).
        ids: (total_events, F) int32 ids.
        bars: (total_events,) int32 bar number of each event (for bar patches).
        offsets: (N + 1,) start of each tune in ``ids``.
        meta: Per tune: ``title``, ``alt_titles``, ``type``, ``key``, ``mode``, ``meter``,
            ``tune_id``, ``setting_id``, ``source``, ``number``, ``collection``, ``abc``.
        problems: Problems met while reading (dicts with source, tune, line, reason, severity).
    """

    config: TokenizerConfig
    vocab: dict[str, list[str]]
    ids: np.ndarray
    bars: np.ndarray
    offsets: np.ndarray
    meta: list[dict]
    problems: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.meta)

    def tokens(self, i: int) -> np.ndarray:
        """Ids of tune ``i``: (T, F)."""
        return self.ids[self.offsets[i]:self.offsets[i + 1]]

    def events(self, i: int) -> list[tuple[str, ...]]:
        """Tune ``i`` as event tuples of strings."""
        vocab = [self.vocab[f] for f in FIELDS]
        return [tuple(v[x] for v, x in zip(vocab, row)) for row in self.tokens(i).tolist()]

    def identities(self) -> list[TuneIdentity]:
        """Per tune, its identity (:func:`folkclip.data.splits.make_identity`)."""
        return [make_identity(m["collection"], m["tune_id"], [m["title"], *m["alt_titles"]],
                              tune_ref(m["collection"], m["source"], m["number"]))
                for m in self.meta]

    def groups(self) -> np.ndarray:
        """(N,) identity group of each tune: tunes linked by a shared ``tune_id`` or any
        shared main/alternative title key share a value (the grouping of :meth:`split`)."""
        return group_ids(self.identities())

    def refs(self) -> list[str]:
        """A stable, unique id per tune (``collection:file#X``, ``~2``... for repeats)."""
        seen: dict[str, int] = {}
        out = []
        for m in self.meta:
            ref = tune_ref(m["collection"], m["source"], m["number"])
            seen[ref] = seen.get(ref, 0) + 1
            out.append(ref if seen[ref] == 1 else f"{ref}~{seen[ref]}")
        return out

    def split(self, seed: int = 0, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
              folds: int = 0, fold: int = 0, train_share: float = 1.0
              ) -> dict[str, np.ndarray]:
        """Indices of each split, grouped by tune identity: with ``folds`` K >= 2, those of
        cross-validation fold ``fold``; ``train_share`` < 1 keeps that share of the
        training groups (see :func:`folkclip.data.splits.assign_splits`)."""
        sides = np.array(assign_splits(self.identities(), fractions, seed, folds, fold,
                                       train_share))
        return {name: np.nonzero(sides == name)[0] for name in ("train", "validation", "test")}

    def bar_patches(self, i: int, patch_size: int = 16, max_bars: int = 64) -> np.ndarray:
        """Bar-patch view of tune ``i`` (as in CLaMP): one fixed-size patch per bar.

        Header events form the first patch; each bar's events (its closing bar line
        included) fill the next patches, truncated or padded (id 0) to ``patch_size``.

        Returns:
            (n_patches, patch_size, F) int32.
        """
        tok = self.tokens(i)
        bars = self.bars[self.offsets[i]:self.offsets[i + 1]]
        keys = bars.astype(np.int64)
        uniq, start = np.unique(keys, return_index=True)
        order = np.argsort(start)
        uniq = uniq[order][:max_bars]
        out = np.zeros((len(uniq), patch_size, tok.shape[1]), dtype=np.int32)
        for p, b in enumerate(uniq):
            rows = tok[keys == b][:patch_size]
            out[p, : len(rows)] = rows
        return out

    def vocab_id(self, field_name: str, token: str) -> int:
        vocab = self.vocab[field_name]
        try:
            return vocab.index(token)
        except ValueError:
            return 1

    def remap(self, vocab: dict[str, list[str]]) -> np.ndarray:
        """``ids`` re-expressed in another vocabulary (unknown tokens -> ``<unk>``)."""
        out = np.empty_like(self.ids)
        for j, f in enumerate(FIELDS):
            index = {t: k for k, t in enumerate(vocab[f])}
            table = np.array([index.get(t, 1) for t in self.vocab[f]], dtype=np.int32)
            out[:, j] = table[self.ids[:, j]]
        return out

    def title_keys(self) -> list[str]:
        return [title_key(m["title"]) for m in self.meta]


def tokenize_corpus(corpus: Corpus, config: TokenizerConfig | None = None,
                    progress: bool = False) -> TokenizedCorpus:
    """Tokenize every tune of a corpus into a :class:`TokenizedCorpus`."""
    tunes = corpus.tunes
    if progress:
        from tqdm import tqdm
        tunes = tqdm(tunes, desc="tokenizing", unit="tune")
    tokenizer = Tokenizer(config)
    return from_part(tokenize_tunes(tunes, tokenizer, read_problems=corpus.problems),
                     tokenizer.config)


def from_part(part: Part, config: TokenizerConfig) -> TokenizedCorpus:
    """A :class:`TokenizedCorpus` of a part's tokenized tunes: reading problems first,
    then the tokenizer's, each in tune order; vocabularies sorted by frequency."""
    eids = part.ids
    freq = np.bincount(eids, minlength=len(part.codes)) if len(eids) else \
        np.zeros(len(part.codes), np.int64)  # uses of each row of the event table
    vocab: dict[str, list[str]] = {}
    table = np.zeros(part.codes.shape, dtype=np.int32)
    for j, f in enumerate(FIELDS):
        values = part.values[j]
        column = part.codes[:, j]  # (D,) value code of each event of the table
        n = np.bincount(column, weights=freq, minlength=len(values)).astype(np.int64).tolist()
        # A part cut down (``tiny``) keeps events no kept tune uses: their values get no id.
        order = sorted((k for k in range(len(values)) if n[k]), key=lambda k: (-n[k], values[k]))
        vocab[f] = [PAD, UNK] + [values[k] for k in order]
        rank = np.zeros(len(values), np.int32)  # value code -> id (0 for an unused value)
        rank[order] = np.arange(2, len(order) + 2, dtype=np.int32)
        table[:, j] = rank[column]
    ids = table[eids] if len(eids) else np.zeros((0, len(FIELDS)), dtype=np.int32)
    kept = [r is None for r in part.refused]
    lengths = np.array([n for n, k in zip(part.lengths, kept) if k], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    meta = [m for m, k in zip(part.meta, kept) if k]
    problems = part.read_problems + [r for r in part.refused if r is not None]
    return TokenizedCorpus(config, vocab, ids, part.bars, offsets, meta,
                           [p.to_dict() for p in problems])


def cache_dir() -> Path:
    return Path(os.environ.get("FOLKCLIP_CACHE", Path.home() / ".cache" / "folkclip"))


def cache_key(sources: list[str], config: TokenizerConfig) -> str:
    """Hash of the sources' contents (and names, for subsets), the tokenizer config and the
    reader's and tokenizer's versions (so a fixed parser never reuses old tokens)."""
    files = [f for s in sources for f in source_files(s)]
    payload = json.dumps({"v": FORMAT_VERSION, "reader": READER_VERSION,
                          "tokenizer": TOKENIZER_VERSION, "sources": sources,
                          "files": fingerprint(files), "config": config.to_dict()},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def save(tc: TokenizedCorpus, path: Path) -> None:
    """Write a tokenized corpus as ``path.npz`` + ``path.json`` (atomically renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    np.savez(str(tmp) + ".npz", ids=tc.ids, bars=tc.bars, offsets=tc.offsets)
    Path(str(tmp) + ".json").write_text(json.dumps(
        {"config": tc.config.to_dict(), "vocab": tc.vocab, "meta": tc.meta,
         "problems": tc.problems}))
    os.replace(str(tmp) + ".npz", str(path) + ".npz")
    os.replace(str(tmp) + ".json", str(path) + ".json")


def load(path: Path) -> TokenizedCorpus:
    """Read a tokenized corpus written by :func:`save`."""
    arrays = np.load(str(path) + ".npz")
    info = json.loads(Path(str(path) + ".json").read_text())
    cfg = info["config"]
    config = TokenizerConfig.from_dict(cfg)
    return TokenizedCorpus(config, info["vocab"], arrays["ids"], arrays["bars"],
                           arrays["offsets"], info["meta"], info["problems"])


def load_tokenized(sources: list[str] | str, config: TokenizerConfig | None = None, *,
                   use_cache: bool = True, progress: bool = False,
                   jobs: int | None = None) -> TokenizedCorpus:
    """Read and tokenize ``sources``, through the on-disk cache.

    Args:
        sources: Source names or paths.
        config: Tokenizer configuration (default: :class:`TokenizerConfig`'s defaults).
        use_cache: Load from / save to the cache (see :func:`cache_dir`).
        progress: Unused since reading is done file by file in a pool; kept for callers.
        jobs: Reading processes (``None``: one per processor; the result is the same).

    Raises:
        FolkclipError: For missing sources, or when nothing could be read.
    """
    sources = [sources] if isinstance(sources, str) else list(sources)
    config = config or TokenizerConfig()
    path = cache_dir() / f"tokens-{cache_key(sources, config)}" if use_cache else None
    if path is not None and Path(str(path) + ".json").exists():
        try:
            return load(path)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache entry is rebuilt below
    tc, _ = read_tokenized(sources, config, jobs=jobs)
    if path is not None:
        try:
            save(tc, path)
        except OSError:
            pass  # a read-only cache only costs speed
    return tc


def read_tokenized(sources: list[str], config: TokenizerConfig, *, jobs: int | None = None,
                   features: dict[str, Feature] | None = None
                   ) -> tuple[TokenizedCorpus, dict[str, list]]:
    """Read and tokenize ``sources`` without the cache, file by file in ``jobs`` processes.

    Args:
        features: Per name, a module-level function of a :class:`~folkclip.abc.model.Tune`
            computed where the tune is read (e.g. its pitches for the n-gram profiles).

    Returns:
        The corpus, and per feature name one value per tune of the corpus.

    Raises:
        FolkclipError: For missing sources, or when nothing could be read.
    """
    part = read_parts(sources, config, jobs, features)
    if not part.meta:
        raise FolkclipError(f"no tunes could be read from {', '.join(sources)}")
    kept = [r is None for r in part.refused]
    values = {name: [v for v, k in zip(vs, kept) if k] for name, vs in part.features.items()}
    return from_part(part, config), values
