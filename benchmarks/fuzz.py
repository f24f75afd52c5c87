"""Fuzz campaign: hostile and mutated input through the reader, tokenizer and decode.

Inputs (see ``benchmarks/fuzz_inputs.py``): ABC built from the grammar with hostile
pieces mixed in; character and byte mutations and splices of real tunes from every
built-in collection (``default`` through music21's corpus, ``nottingham`` from
``../shared/data``); mutated JSON-lines records and Session rows from the test fixtures;
now and then a whole mutated file through :func:`folkclip.io.sources.read_file_safely`.

For each input the campaign checks that only folkclip's own errors come out: any
other exception, and any ``internal error`` problem (the readers' last line of
defence caught one), counts as a *foreign exception*. For each tune the reader
accepts, it tokenizes the tune, decodes the tokens to ABC, reads that back and
tokenizes it again: the *round trip* holds when both token sequences are equal.
Input ``i`` of seed ``s`` is made by ``random.Random(s * 1_000_003 + i)`` alone, so a
finding is replayed with ``--seed s --start i --inputs 1 --show``.

    python benchmarks/fuzz.py --inputs 1000000 --seconds 7200 --jobs 2 --json fuzz.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_inputs import abc_input, file_input, jsonl_input, load_seeds, session_row

from folkclip.abc.model import Tune
from folkclip.abc.parser import parse_tune, parse_tunebook
from folkclip.abc.unfold import unfold
from folkclip.data.decode import decode
from folkclip.data.tokenize import Tokenizer
from folkclip.errors import FolkclipError, Problem
from folkclip.io.jsonl import _read_line
from folkclip.io.session import _row_to_results
from folkclip.io.sources import read_file_safely

TOKENIZER = Tokenizer()
FILE_EVERY = 997  # one input in about a thousand is a whole file through read_file_safely


class Stats:
    """Counters of one worker."""

    def __init__(self) -> None:
        self.inputs = 0
        self.kinds: Counter[str] = Counter()
        self.accepted = 0
        self.problems = 0
        self.foreign: list[dict] = []
        self.round_trip_same = 0
        self.round_trip_misses: Counter[str] = Counter()
        self.miss_examples: list[dict] = []
        self.slowest = (0.0, -1)

    def merge(self, other: Stats) -> None:
        self.inputs += other.inputs
        self.kinds.update(other.kinds)
        self.accepted += other.accepted
        self.problems += other.problems
        self.foreign += other.foreign
        self.round_trip_same += other.round_trip_same
        self.round_trip_misses.update(other.round_trip_misses)
        self.miss_examples += other.miss_examples
        self.slowest = max(self.slowest, other.slowest)


def _foreign(stats: Stats, index: int, where: str, text: str, detail: str) -> None:
    if len(stats.foreign) < 50:
        stats.foreign.append({"index": index, "where": where, "detail": detail[-2000:],
                              "input": text[:4000]})
    else:
        stats.foreign.append({"index": index, "where": where})


def _problems(stats: Stats, index: int, problems: list[Problem], text: str) -> None:
    stats.problems += len(problems)
    for p in problems:
        if p.reason.startswith("internal error") or not p.reason:
            _foreign(stats, index, "reader", text, p.reason)


def _round_trip(stats: Stats, index: int, tune: Tune, text: str) -> None:
    stats.accepted += 1
    unfold(tune.events, tune.fields.get("P", [None])[0])
    events = TOKENIZER.tokenize(tune).events
    try:
        written = decode(events, title=tune.title)
        again = TOKENIZER.tokenize(parse_tune(written, "decoded.abc")).events
    except FolkclipError as err:
        _miss(stats, index, f"decoded ABC refused: {str(err)[:60]}", text, "")
        return
    if again == events:
        stats.round_trip_same += 1
        return
    at = next((i for i, (a, b) in enumerate(zip(events, again)) if a != b),
              min(len(events), len(again)))
    kind = "length" if at == min(len(events), len(again)) else f"{events[at][0][:1]}-field"
    if len(events) >= TOKENIZER.config.max_events:
        kind = "truncated at max_events"
    diff = [i for i in range(len(events[at]) if at < len(events) and at < len(again) else 0)
            if events[at][i] != again[at][i]]
    _miss(stats, index, f"{kind} {diff}", text, written,
          events[at] if at < len(events) else None, again[at] if at < len(again) else None)


def _miss(stats: Stats, index: int, kind: str, text: str, written: str,
          ours: object = None, theirs: object = None) -> None:
    stats.round_trip_misses[kind] += 1
    if len(stats.miss_examples) < 30:
        stats.miss_examples.append({"index": index, "kind": kind, "input": text[:3000],
                                    "decoded": written[:3000], "event": ours, "again": theirs})


def one_input(index: int, seed: int, seeds: dict[str, list], stats: Stats) -> None:
    """Make input ``index`` and run it through the readers, tokenizer and decode."""
    r = random.Random(seed * 1_000_003 + index)
    k = r.random()
    text = ""
    start = time.perf_counter()
    try:
        if index % FILE_EVERY == FILE_EVERY - 1:
            kind = "file"
            text = _file_input(r, seeds, stats, index)
        elif k < 0.8:
            kind, text = abc_input(r, seeds)
            tunes, problems = parse_tunebook(text, "fuzz.abc")
            _problems(stats, index, problems, text)
            for tune in tunes:
                _round_trip(stats, index, tune, text)
        elif k < 0.9:
            kind, text = "jsonl", jsonl_input(r, seeds)
            item, _ref = _read_line(text, "fuzz.jsonl", 1, "fuzz")
            _check_item(stats, index, item, text)
        else:
            kind = "session"
            row = session_row(r, seeds)
            text = repr(row)
            for item in _row_to_results(row, "fuzz.csv", 2):
                _check_item(stats, index, item, text)
    except Exception:  # noqa: BLE001 - what the campaign counts
        kind = "crash"
        _foreign(stats, index, "outside", text, traceback.format_exc())
    stats.inputs += 1
    stats.kinds[kind] += 1
    stats.slowest = max(stats.slowest, (time.perf_counter() - start, index))


def _check_item(stats: Stats, index: int, item: object, text: str) -> None:
    if isinstance(item, Problem):
        _problems(stats, index, [item], text)
    else:
        _round_trip(stats, index, item, text)


def _file_input(r: random.Random, seeds: dict[str, list], stats: Stats, index: int) -> str:
    suffix, text, encoding = file_input(r, seeds)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{suffix}"
        path.write_text(text, encoding=encoding, errors="replace")
        corpus = read_file_safely(path, "fuzz")
    _problems(stats, index, corpus.problems, text)
    for tune in corpus.tunes:
        _round_trip(stats, index, tune, text)
    return text


def run_worker(args: tuple[int, int, int, int, float, int]) -> Stats:
    """Inputs ``start + worker, start + worker + jobs, ...`` until the count or time is up."""
    worker, jobs, start, count, deadline, seed = args
    seeds = load_seeds()
    stats = Stats()
    for index in range(start + worker, start + count, jobs):
        if time.time() > deadline:
            break
        one_input(index, seed, seeds, stats)
        if worker == 0 and stats.inputs % 20000 == 0:
            print(f"  worker 0: {stats.inputs} inputs, {len(stats.foreign)} foreign",
                  flush=True)
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs to try")
    parser.add_argument("--seconds", type=float, default=3600, help="time budget")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="first input index")
    parser.add_argument("--json", help="write the summary (and findings) to this file")
    parser.add_argument("--show", action="store_true", help="print each input (replay)")
    args = parser.parse_args(argv)
    if args.show:
        seeds = load_seeds()
        for index in range(args.start, args.start + args.inputs):
            r = random.Random(args.seed * 1_000_003 + index)
            r.random()
            print(f"--- input {index}: {abc_input(r, seeds)[1]!r}")
    began = time.time()
    deadline = began + args.seconds
    tasks = [(w, args.jobs, args.start, args.inputs, deadline, args.seed)
             for w in range(args.jobs)]
    if args.jobs == 1:
        results = [run_worker(tasks[0])]
    else:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            results = pool.map(run_worker, tasks)
    stats = Stats()
    for part in results:
        stats.merge(part)
    elapsed = time.time() - began
    summary = _summary(stats, elapsed, args)
    print(json.dumps({k: v for k, v in summary.items() if k not in ("foreign", "misses")},
                     indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1, default=str))
    return 1 if stats.foreign else 0


def _summary(stats: Stats, elapsed: float, args: argparse.Namespace) -> dict:
    accepted = max(stats.accepted, 1)
    return {
        "inputs": stats.inputs, "seconds": round(elapsed, 1), "jobs": args.jobs,
        "inputs_per_s": round(stats.inputs / max(elapsed, 1e-9), 1), "seed": args.seed,
        "kinds": dict(stats.kinds), "problems": stats.problems,
        "foreign_exceptions": len(stats.foreign),
        "tunes_accepted": stats.accepted, "round_trip_same": stats.round_trip_same,
        "round_trip_rate": round(stats.round_trip_same / accepted, 5),
        "round_trip_misses": dict(stats.round_trip_misses.most_common()),
        "slowest_input_s": round(stats.slowest[0], 3), "slowest_input": stats.slowest[1],
        "foreign": stats.foreign, "misses": stats.miss_examples,
        "pid": os.getpid(),
    }


if __name__ == "__main__":
    raise SystemExit(main())
