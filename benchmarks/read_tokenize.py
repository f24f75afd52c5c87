"""Read + tokenize throughput: cold `load_tokenized` (the path training and indexing use)
with 1 and 2 reading processes, the old version beside it, and the cache.

Every cold figure is one `load_tokenized(..., use_cache=False)` call in a fresh process
(source files resolved first, so music21's import is not counted), measured twice: wall
time, and CPU time (the process's and its reading workers', user + system), which other
jobs on the machine change much less; "tunes per CPU-second" of one process is what one
core gives. Old and new alternate run by run, and the old/new ratio is taken pair by pair.
Also printed: the CPU time of parsing alone (text in memory) and of loading the tokenized
corpus from the on-disk cache, in this process, and the main process's serial work after
a pooled read (joining the pool's parts, then the vocabularies: ``concat`` and
``from_part``), on the parts of the pool's own tasks, for each version (fresh processes).

    python benchmarks/read_tokenize.py [--sources default] [--repeat 3] [--old-src ../old/src]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]

# Run in a fresh process: prints tunes and wall seconds of one cold read + tokenize.
INNER = """
import os, sys, time
from folkclip.data import dataset
from folkclip.io.sources import source_files
sources, jobs = sys.argv[1].split(","), int(sys.argv[2])
for s in sources:
    source_files(s)
kw = {} if jobs == 0 else {"jobs": jobs}
cpu = lambda t: t.user + t.system + t.children_user + t.children_system
start, start_cpu = time.perf_counter(), cpu(os.times())
tc = dataset.load_tokenized(sources, use_cache=False, **kw)
print(len(tc), time.perf_counter() - start, cpu(os.times()) - start_cpu)
"""

# Run in a fresh process: prints the CPU seconds of joining the parts of a 2-process read's
# tasks and of building the corpus from them (best of REPEAT).
JOIN = """
import sys, time
from folkclip.data import dataset, reading
from folkclip.data.tokenize import TokenizerConfig
from folkclip.io.sources import source_files
sources, repeat = sys.argv[1].split(","), int(sys.argv[2])
config, join, build = TokenizerConfig(), [], []
for s in sources:
    files = [(p, p.parent.name) for p in source_files(s)]
    sizes = {p: p.stat().st_size for p, _ in files}
    parts = [reading.read_part((run, config, {}))
             for run in reading._runs(files, sizes, 2 * reading.TASKS_PER_JOB)]
    for _ in range(repeat):
        t0 = time.process_time()
        part = reading.concat(parts)
        t1 = time.process_time()
        dataset.from_part(part, config)
        join.append(t1 - t0)
        build.append(time.process_time() - t1)
print(min(join), min(build), len(parts))
"""


def join_cost(src: Path, sources: list[str], repeat: int) -> tuple[float, float, int]:
    """(CPU s of joining, CPU s of the vocabularies, parts) after a 2-process read."""
    env = dict(os.environ, PYTHONPATH=str(src))
    out = subprocess.run([sys.executable, "-c", JOIN, ",".join(sources), str(repeat)],
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), int(out[2])


def cold(src: Path, sources: list[str], jobs: int) -> tuple[int, float, float]:
    """(tunes, wall seconds, CPU seconds) of one cold read in a fresh process; jobs 0: the
    old API."""
    env = dict(os.environ, PYTHONPATH=str(src))
    out = subprocess.run([sys.executable, "-c", INNER, ",".join(sources), str(jobs)],
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), float(out[1]), float(out[2])


def best_of(repeat: int, fn) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def spread(xs: list[float]) -> str:
    return f"median {statistics.median(xs):7.0f}  (min {min(xs):.0f}, max {max(xs):.0f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", nargs="+", default=["default"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--old-src", default=None, help="another checkout's src (359a7ac)")
    parser.add_argument("--old-jobs", type=int, default=1,
                        help="reading processes of the old version (0: its default)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "src"))
    from folkclip.abc.parser import parse_tunebook
    from folkclip.data import dataset
    from folkclip.data.tokenize import TokenizerConfig
    from folkclip.io.sources import file_type_hint, read_text, source_files

    files = [f for s in args.sources for f in source_files(s)]
    texts = [(str(f), read_text(f), file_type_hint(f)) for f in files]
    n = sum(len(parse_tunebook(t, s, default_type=d)[0]) for s, t, d in texts)
    parse_s = best_of(args.repeat, lambda: [parse_tunebook(t, s, default_type=d)
                                             for s, t, d in texts])
    rates: dict[str, list[float]] = {}  # wall
    cpu_rates: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}  # of CPU rates
    for _ in range(args.repeat):
        old_rate = None
        if args.old_src:
            tunes, wall, cpu_s = cold(Path(args.old_src).resolve(), args.sources, args.old_jobs)
            old_rate = tunes / cpu_s
            name = "old, 1 process" if args.old_jobs in (0, 1) else f"old, {args.old_jobs} jobs"
            rates.setdefault(name, []).append(tunes / wall)
            cpu_rates.setdefault(name, []).append(old_rate)
        for jobs in (1, 2):
            tunes, wall, cpu_s = cold(ROOT / "src", args.sources, jobs)
            name = f"new, {jobs} process{'es' if jobs > 1 else ''}"
            rates.setdefault(name, []).append(tunes / wall)
            cpu_rates.setdefault(name, []).append(tunes / cpu_s)
            if old_rate:
                ratios.setdefault(f"new {jobs} / old", []).append(tunes / cpu_s / old_rate)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FOLKCLIP_CACHE"] = tmp
        dataset.load_tokenized(args.sources, TokenizerConfig())
        cached_s = best_of(args.repeat, lambda: dataset.load_tokenized(args.sources))
    print(f"tunes: {n} from {len(files)} files ({sum(len(t) for _, t, _ in texts) / 1e6:.2f} MB)")
    print(f"parse only (text in memory, CPU time):     {n / parse_s:7.0f} tunes/s")
    for name, xs in rates.items():
        print(f"cold read + tokenize, {name:<18} {spread(xs)} tunes/s (wall)")
    for name, xs in cpu_rates.items():
        print(f"cold read + tokenize, {name:<18} {spread(xs)} tunes per CPU-second")
    for name, xs in ratios.items():
        print(f"CPU speed ratio {name}: median {statistics.median(xs):.2f}x "
              f"(min {min(xs):.2f}, max {max(xs):.2f})")
    print(f"tokenized corpus from cache (CPU time):    {n / cached_s:7.0f} tunes/s")
    versions = {"new": ROOT / "src", **({"old": Path(args.old_src).resolve()}
                                        if args.old_src else {})}
    for name, src in versions.items():
        join_s, build_s, parts = join_cost(src, args.sources, args.repeat)
        print(f"main process after a 2-process read, {name}: joining {parts} parts "
              f"{join_s * 1000:.0f} ms, vocabularies {build_s * 1000:.0f} ms (CPU, best of "
              f"{args.repeat})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
