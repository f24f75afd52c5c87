"""Reading and tokenizing many files at once: each file is read and tokenized on its own
(in a process pool when it pays), and the parts are joined in file order, so that the
corpus and its problem list equal those of one process reading the files one by one.

A part holds a file's tunes as ids into the file's own small table of distinct events,
each event stored as one small integer code per field (the field's values listed once);
joining maps those short value lists onto one, so what crosses between processes is a
few arrays and the metadata, never the parsed tunes or their event tuples, and the
joining process does no work per event.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from itertools import count
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from folkclip.abc.model import Tune
from folkclip.data.tokenize import FIELDS, Tokenizer, TokenizerConfig
from folkclip.errors import FolkclipError, Problem
from folkclip.io.sources import TINY_STRIDE, read_file_safely, source_files

# Reading in a pool pays only past this much text (starting the workers costs ~0.1 s).
POOL_MIN_BYTES = 256 * 1024
MAX_JOBS = 64  # workers of one read, however many processors the machine reports
TASKS_PER_JOB = 4  # files are handed out in about this many runs per worker

Feature = Callable[[Tune], object]


@dataclass
class Part:
    """One file's (or one list of tunes') tunes, tokenized.

    Attributes:
        values: Per field of :data:`~folkclip.data.tokenize.FIELDS`, the distinct values of
            this part in order of first use (a value's code = its position).
        codes: (D, F) int32: per distinct event of this part (local id = row), the code of
            each of its field values (rows may repeat after a join: they are counted by
            use, never compared).
        ids: (E,) int64 local event ids (rows of ``codes``) of all its tunes, concatenated.
        bars: (E,) int32 bar number of each event.
        lengths: Events per tune read (0 for a tune the tokenizer refused).
        meta: Per tune read, the metadata of :class:`~folkclip.data.dataset.TokenizedCorpus`.
        lines: Per tune read, its first line (to match warnings to tunes).
        refused: Per tune read, the tokenizer's problem, or ``None``.
        read_problems: Problems met while reading the file, in order.
        features: Per feature name, one value per tune read (``None`` for a refused one).
    """

    values: list[list[str]] = field(default_factory=lambda: [[] for _ in FIELDS])
    codes: np.ndarray = field(default_factory=lambda: np.zeros((0, len(FIELDS)), np.int32))
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


class PartBuilder:
    """Tokenizes tunes, file after file, into one :class:`Part` with one table of distinct
    events (what one pool task returns).

    Args:
        tokenizer: The tokenizer.
        features: Per name, a function computing a value of each tune.
    """

    def __init__(self, tokenizer: Tokenizer, features: dict[str, Feature] | None = None) -> None:
        self.tokenizer = tokenizer
        self.features = features or {}
        self.part = Part(features={name: [] for name in self.features})
        # Event tuple -> local id; a new event gets the next id in C, with no Python call
        # per event.
        self._index: defaultdict[tuple[str, ...], int] = defaultdict(count().__next__)
        self._ids: list[int] = []
        self._bars: list[int] = []

    def add(self, tunes: Sequence[Tune], read_problems: Sequence[Problem] = ()) -> None:
        """Tokenize ``tunes`` (a refused tune keeps its problem) after those added before."""
        part, features = self.part, self.features
        event_id = self._index.__getitem__
        ids_extend, bars_extend = self._ids.extend, self._bars.extend
        part.read_problems.extend(read_problems)
        for tune in tunes:
            part.meta.append(tune_meta(tune))
            part.lines.append(tune.line)
            try:
                tt = self.tokenizer.tokenize(tune)
            except FolkclipError as err:  # a hand-made tune the reader would have refused
                part.refused.append(Problem(tune.source, tune.ref, tune.line, str(err)))
                part.lengths.append(0)
                for name in features:
                    part.features[name].append(None)
                continue
            part.refused.append(None)
            ids_extend(map(event_id, tt.events))
            bars_extend(tt.bars)
            part.lengths.append(len(tt.events))
            for name, fn in features.items():
                part.features[name].append(fn(tune))

    def finish(self) -> Part:
        """The part of every tune added."""
        part = self.part
        part.values, part.codes = field_codes(list(self._index))
        part.ids = np.array(self._ids, dtype=np.int64)
        part.bars = np.array(self._bars, dtype=np.int32)
        return part


def field_codes(events: Sequence[tuple[str, ...]]) -> tuple[list[list[str]], np.ndarray]:
    """Per field, the distinct values of ``events`` in order of first use, and the (D, F)
    int32 code of each event's value of each field."""
    codes = np.zeros((len(events), len(FIELDS)), np.int32)
    values = []
    columns = list(zip(*events)) or [()] * len(FIELDS)  # per field, its value per event
    for j in range(len(FIELDS)):
        index: defaultdict[str, int] = defaultdict(count().__next__)  # value -> code
        codes[:, j] = np.fromiter(map(index.__getitem__, columns[j]), np.int32, len(events))
        values.append(list(index))
    return values, codes


def tokenize_tunes(tunes: Sequence[Tune], tokenizer: Tokenizer,
                   features: dict[str, Feature] | None = None,
                   read_problems: list[Problem] | None = None) -> Part:
    """Tokenize ``tunes`` into a :class:`Part` (a refused tune keeps its problem)."""
    builder = PartBuilder(tokenizer, features)
    builder.add(tunes, read_problems or ())
    return builder.finish()


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector for a while (and restore it as it was).

    Reading makes hundreds of thousands of small objects that hold no cycles (notes, bar
    lines, event tuples); the collector would walk them again and again for nothing, a
    fifth of the reading time. Reference counting still frees them as before.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_part(task: tuple[list[tuple[Path, str]], TokenizerConfig, dict[str, Feature]]
              ) -> Part:
    """Read and tokenize a run of files, each with its collection name, into one part (the
    work of one pool task)."""
    files, config, features = task
    builder = PartBuilder(Tokenizer(config), features)
    for path, collection in files:
        with no_cycle_collection():
            corpus = read_file_safely(path, collection)
            builder.add(corpus.tunes, corpus.problems)
            del corpus  # its tunes go now, before the collector is back (it would walk them)
    return builder.finish()


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
    return Part(part.values, part.codes, part.ids[rows], part.bars[rows],
                [part.lengths[i] for i in keep], [part.meta[i] for i in keep],
                [part.lines[i] for i in keep], [part.refused[i] for i in keep], problems,
                {name: [v[i] for i in keep] for name, v in part.features.items()})


def concat(parts: Sequence[Part]) -> Part:
    """Join parts in order into one (value lists merged, in order of first use; event
    tables stacked)."""
    if len(parts) == 1:
        return parts[0]
    out = Part(features={name: [] for name in (parts[0].features if parts else {})})
    index: list[dict[str, int]] = [{} for _ in FIELDS]  # per field, value -> joined code
    ids, tables, rows = [], [], 0
    for p in parts:
        table = np.empty_like(p.codes)
        for j, (seen, values) in enumerate(zip(index, p.values)):
            remap = np.array([seen.setdefault(v, len(seen)) for v in values], np.int32)
            table[:, j] = remap[p.codes[:, j]] if len(values) else p.codes[:, j]
        tables.append(table)
        ids.append(p.ids + rows)
        rows += len(table)
        out.lengths += p.lengths
        out.meta += p.meta
        out.lines += p.lines
        out.refused += p.refused
        out.read_problems += p.read_problems
        for name, values in p.features.items():
            out.features[name] += values
    out.values = [list(seen) for seen in index]
    if parts:
        out.codes = np.concatenate(tables)
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
    sizes = {path: _size(path) for _, files in plan for path, _ in files}
    n_files = sum(len(files) for _, files in plan)
    jobs = default_jobs() if jobs is None else max(1, min(jobs, MAX_JOBS))
    jobs = min(jobs, n_files)
    pooled = jobs > 1 and sum(sizes.values()) >= POOL_MIN_BYTES
    # Per source, its files in runs of about equal size (one run without a pool): each run
    # is one task, read into one part with one table of events, so joining is cheap.
    runs = [(source, _runs(files, sizes, jobs * TASKS_PER_JOB if pooled else 1))
            for source, files in plan]
    tasks = [(run, config, features) for _, source_runs in runs for run in source_runs]
    if pooled:
        ctx = multiprocessing.get_context(
            "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
            results = list(pool.map(read_part, tasks))
    else:
        results = [read_part(t) for t in tasks]
    joined = []
    start = 0
    with no_cycle_collection():
        for source, source_runs in runs:
            part = concat(results[start:start + len(source_runs)])
            start += len(source_runs)
            joined.append(subsample(part) if source == "tiny" else part)
        return concat(joined)


def _runs(files: list[tuple[Path, str]], sizes: dict[Path, int], pieces: int
          ) -> list[list[tuple[Path, str]]]:
    """``files`` cut, in order, into at most ``pieces`` runs of about equal size (none for
    no files)."""
    if not files:
        return []
    total = sum(sizes[path] for path, _ in files)
    runs: list[list[tuple[Path, str]]] = [[]]
    done = 0
    for item in files:
        if len(runs) < pieces and runs[-1] and done >= total * len(runs) / pieces:
            runs.append([])
        runs[-1].append(item)
        done += sizes[item[0]]
    return runs


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # reading it reports the problem
