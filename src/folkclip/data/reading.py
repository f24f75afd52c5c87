"""Reading and tokenizing many files at once: each file is read and tokenized on its own
(in a process pool when it pays), and the parts are joined in file order, so that the
corpus and its problem list equal those of one process reading the files one by one.

A part holds a file's tunes as ids into the file's own small table of distinct events;
joining maps those tables onto one, so what crosses between processes is a few arrays
and the metadata, never the parsed tunes.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from folkclip.abc.model import Tune
from folkclip.data.tokenize import Tokenizer, TokenizerConfig
from folkclip.errors import FolkclipError, Problem
from folkclip.io.sources import TINY_STRIDE, read_file_safely, source_files

# Reading in a pool pays only past this much text (starting the workers costs ~0.1 s).
POOL_MIN_BYTES = 256 * 1024
MAX_JOBS = 64  # workers of one read, however many processors the machine reports
TASKS_PER_JOB = 8  # files are handed out in about this many batches per worker

Feature = Callable[[Tune], object]


@dataclass
class Part:
    """One file's (or one list of tunes') tunes, tokenized.

    Attributes:
        events: Distinct event tuples of this part (local id = position).
        ids: (E,) int64 local event ids of all its tunes, concatenated.
        bars: (E,) int32 bar number of each event.
        lengths: Events per tune read (0 for a tune the tokenizer refused).
        meta: Per tune read, the metadata of :class:`~folkclip.data.dataset.TokenizedCorpus`.
        lines: Per tune read, its first line (to match warnings to tunes).
        refused: Per tune read, the tokenizer's problem, or ``None``.
        read_problems: Problems met while reading the file, in order.
        features: Per feature name, one value per tune read (``None`` for a refused one).
    """

    events: list[tuple[str, ...]] = field(default_factory=list)
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    bars: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    lengths: list[int] = field(default_factory=list)
    meta: list[dict] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    refused: list[Problem | None] = field(default_factory=list)
    read_problems: list[Problem] = field(default_factory=list)
    features: dict[str, list] = field(default_factory=dict)


def tune_meta(tune: Tune) -> dict:
    """The metadata kept per tune (see :class:`~folkclip.data.dataset.TokenizedCorpus`)."""
    return {
        "title": tune.title, "alt_titles": tune.alt_titles, "type": tune.tune_type,
        "key": tune.key.tonic, "mode": tune.key.mode,
        "meter": None if tune.meter is None else "%d/%d" % tune.meter,
        "tune_id": tune.tune_id, "setting_id": tune.setting_id, "source": tune.source,
        "number": tune.number, "collection": tune.collection, "abc": tune.abc,
    }


def tokenize_tunes(tunes: Sequence[Tune], tokenizer: Tokenizer,
                   features: dict[str, Feature] | None = None,
                   read_problems: list[Problem] | None = None) -> Part:
    """Tokenize ``tunes`` into a :class:`Part` (a refused tune keeps its problem)."""
    features = features or {}
    index: dict[tuple[str, ...], int] = {}
    setdefault = index.setdefault
    ids: list[int] = []
    bars: list[int] = []
    part = Part(read_problems=list(read_problems or []),
                features={name: [] for name in features})
    for tune in tunes:
        part.meta.append(tune_meta(tune))
        part.lines.append(tune.line)
        try:
            tt = tokenizer.tokenize(tune)
        except FolkclipError as err:  # a hand-made tune the reader would have refused
            part.refused.append(Problem(tune.source, tune.ref, tune.line, str(err)))
            part.lengths.append(0)
            for name in features:
                part.features[name].append(None)
            continue
        part.refused.append(None)
        ids.extend([setdefault(ev, len(index)) for ev in tt.events])
        bars.extend(tt.bars)
        part.lengths.append(len(tt.events))
        for name, fn in features.items():
            part.features[name].append(fn(tune))
    part.events = list(index)
    part.ids = np.array(ids, dtype=np.int64)
    part.bars = np.array(bars, dtype=np.int32)
    return part


def read_part(task: tuple[Path, str, TokenizerConfig, dict[str, Feature]]) -> Part:
    """Read and tokenize one file (the work of one pool task)."""
    path, collection, config, features = task
    corpus = read_file_safely(path, collection)
    return tokenize_tunes(corpus.tunes, Tokenizer(config), features, corpus.problems)


def subsample(part: Part, stride: int = TINY_STRIDE) -> Part:
    """Every ``stride``-th tune read, with its warnings, and every ``stride``-th reading
    error (``tiny``: the same choice as :func:`folkclip.io.sources.read_sources`)."""
    keep = list(range(0, len(part.meta), stride))
    starts = np.concatenate([[0], np.cumsum(part.lengths)]).astype(np.int64)
    rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in keep]) if keep \
        else np.zeros(0, np.int64)
    kept = {(part.meta[i]["source"], part.lines[i]) for i in keep}
    errors = [p for p in part.read_problems if p.severity == "error"][::stride]
    chosen = {id(p) for p in errors}
    problems = [p for p in part.read_problems if id(p) in chosen or (
        p.severity == "warning" and (p.source, p.line) in kept)]
    return Part(part.events, part.ids[rows], part.bars[rows],
                [part.lengths[i] for i in keep], [part.meta[i] for i in keep],
                [part.lines[i] for i in keep], [part.refused[i] for i in keep], problems,
                {name: [v[i] for i in keep] for name, v in part.features.items()})


def concat(parts: Sequence[Part]) -> Part:
    """Join parts in order into one (event tables merged)."""
    out = Part(features={name: [] for name in (parts[0].features if parts else {})})
    index: dict[tuple[str, ...], int] = {}
    ids = []
    for p in parts:
        table = np.array([index.setdefault(ev, len(index)) for ev in p.events], dtype=np.int64)
        ids.append(table[p.ids] if len(p.ids) else p.ids)
        out.lengths += p.lengths
        out.meta += p.meta
        out.lines += p.lines
        out.refused += p.refused
        out.read_problems += p.read_problems
        for name, values in p.features.items():
            out.features[name] += values
    out.events = list(index)
    if parts:
        out.ids = np.concatenate(ids)
        out.bars = np.concatenate([p.bars for p in parts])
    return out


def default_jobs() -> int:
    """Worker processes for reading: the processors this process may use."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_JOBS))


def read_parts(sources: Sequence[str], config: TokenizerConfig, jobs: int | None = None,
               features: dict[str, Feature] | None = None) -> Part:
    """Read and tokenize every file of ``sources`` into one :class:`Part`, in file order.

    Args:
        sources: Source names or paths (see :mod:`folkclip.io.sources`).
        config: Tokenizer configuration.
        jobs: Worker processes (``None``: :func:`default_jobs`; 1: this process only).
        features: Per name, a module-level function computing a value of each tune (it
            travels to the workers by name, so no lambdas).

    Raises:
        FolkclipError: For a missing source or no source at all.
    """
    if not sources:
        raise FolkclipError("no data source given")
    features = features or {}
    plan = []  # (source, [(path, collection)])
    for source in sources:
        files = source_files(source)
        plan.append((source, [(p, "nottingham" if source == "nottingham" else p.parent.name)
                              for p in files]))
    tasks = [(p, c, config, features) for _, files in plan for p, c in files]
    jobs = default_jobs() if jobs is None else max(1, min(jobs, MAX_JOBS))
    jobs = min(jobs, len(tasks))
    if jobs > 1 and _total_bytes(tasks) >= POOL_MIN_BYTES:
        ctx = multiprocessing.get_context(
            "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        chunk = max(1, len(tasks) // (jobs * TASKS_PER_JOB))
        with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
            results = list(pool.map(read_part, tasks, chunksize=chunk))
    else:
        results = [read_part(t) for t in tasks]
    joined = []
    start = 0
    for source, files in plan:
        part = concat(results[start:start + len(files)])
        start += len(files)
        joined.append(subsample(part) if source == "tiny" else part)
    return concat(joined)


def _total_bytes(tasks: list) -> int:
    total = 0
    for path, *_ in tasks:
        try:
            total += path.stat().st_size
        except OSError:
            pass  # reading it reports the problem
    return total
