"""Embedding a collection end to end: `folkclip index` from ABC files to a finished index.

Times the whole command (reading, tokenizing, both towers, n-gram profiles, SQLite,
vector index, map) in a fresh process with an empty token cache, on:

- a synthetic collection of ``--tunes`` valid ABC tunes (default 100,000) made
  deterministically from ``default``'s tunes: each variant takes a tune's header with a new
  ``X:``, title and key (a transposition of its key signature), its body, and the body of
  the next tune of the same meter and unit (a recombination); written to a temporary folder
  in books of 1,000 tunes, never kept;
- ``default`` and ``tiny``: their difference, (N_default - N_tiny) / (t_default - t_tiny),
  is the rate without process start and model loading.

With ``--old-src`` the same is timed for another checkout (e.g. commit 0fd79f4's ``src``),
old and new alternating, and the ratios printed.

    python benchmarks/embed.py --run runs/default [--tunes 100000] [--old-src ../old/src]
    python benchmarks/embed.py --run runs/default --tower   # the tune tower alone, CPU time
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("C", "G", "D", "A", "E", "F", "Bb", "Eb")  # key signatures the variants take
BOOK = 1000  # tunes per synthetic file


def synthetic_collection(folder: Path, n: int) -> int:
    """Write ``n`` variants of ``default``'s tunes into ``folder``; return how many."""
    sys.path.insert(0, str(ROOT / "src"))
    from folkclip.io.sources import read_sources

    tunes = [t for t in read_sources(["default"]).tunes if t.abc.strip()]
    parts = [_split(t.abc) for t in tunes]
    by_shape: dict[tuple[str, str], list[int]] = {}
    for i, (head, _) in enumerate(parts):
        by_shape.setdefault((_field(head, "M"), _field(head, "L")), []).append(i)
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for b in range(0, n, BOOK):
        texts = []
        for v in range(b, min(n, b + BOOK)):
            i = v % len(parts)
            head, body = parts[i]
            same = by_shape[(_field(head, "M"), _field(head, "L"))]
            other = parts[same[(same.index(i) + 1 + v // len(parts)) % len(same)]][1]
            key = KEYS[(v // len(parts)) % len(KEYS)]
            head = re.sub(r"^X:.*$", f"X:{v + 1}", head, count=1, flags=re.M)
            head = re.sub(r"^T:(.*)$", rf"T:\1 ({v // len(parts) + 1})", head, count=1,
                          flags=re.M)
            head = re.sub(r"^K:\s*[A-G][b#]?", f"K:{key}", head, count=1, flags=re.M)
            texts.append(head + body + other)
        (folder / f"book-{b // BOOK:04d}.abc").write_text("\n".join(texts))
        written += len(texts)
    return written


def _split(abc: str) -> tuple[str, str]:
    """A tune's header (through its ``K:`` line) and body, each ending with a newline."""
    lines = abc.strip().splitlines(keepends=True)
    k = next((j for j, ln in enumerate(lines) if ln.startswith("K:")), len(lines) - 1)
    return "".join(lines[:k + 1]), "".join(lines[k + 1:]).rstrip("\n") + "\n"


def _field(head: str, name: str) -> str:
    m = re.search(rf"^{name}:(.*)$", head, flags=re.M)
    return m.group(1).strip() if m else ""


def index_once(src: Path, run: str, data: str, workdir: Path) -> tuple[float, dict]:
    """Wall seconds of one `folkclip index` in a fresh process (empty cache), and its
    manifest."""
    out = Path(tempfile.mkdtemp(dir=workdir))
    env = dict(os.environ, PYTHONPATH=str(src), FOLKCLIP_CACHE=str(out / "cache"))
    cmd = [sys.executable, "-m", "folkclip_cli.main", "index", run, "--data", data,
           "--out", str(out / "index"), "--no-progress", "--json"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"index failed ({src}): {proc.stderr[-2000:]}")
    subprocess.run(["rm", "-rf", str(out)], check=False)
    return wall, json.loads(proc.stdout)


def tower_stage(run: str, n: int = 800) -> None:
    """CPU time of the tune tower alone on one thread: the old batching (index order,
    256 a batch, ``folkclip.eval.evaluation.embed_tunes``) against ``embed_corpus``, and
    ``embed_corpus`` under bfloat16 autocast (how far its vectors move) and with wider
    length-sorted batches."""
    import torch

    sys.path.insert(0, str(ROOT / "src"))
    import folkclip
    from folkclip.data.dataset import load_tokenized
    from folkclip.eval.evaluation import embed_tunes

    torch.set_num_threads(1)
    fm = folkclip.load(run)
    tc = load_tokenized(["default"], fm.tokenizer_config)
    ids = fm.corpus_ids(tc)
    idx = list(range(0, len(tc), max(1, len(tc) // n)))[:n]
    for _ in range(2):  # old and new alternating
        start = time.process_time()
        ref = embed_tunes(fm.model, tc, idx, 256, fm.max_events, ids)
        old = len(idx) / (time.process_time() - start)
        start = time.process_time()
        new = fm.embed_corpus(tc, idx, 64, ids)
        rate = len(idx) / (time.process_time() - start)
        start = time.process_time()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = fm.embed_corpus(tc, idx, 64, ids)
        bf16 = len(idx) / (time.process_time() - start)
        print(f"tune tower, 1 thread, {len(idx)} tunes of default: old batching {old:.0f}, "
              f"length-sorted batches of 64 {rate:.0f} tunes per CPU-second ({rate / old:.2f}x; "
              f"largest difference {abs(new - ref).max():.1e}); the same under bfloat16 "
              f"autocast {bf16:.0f} ({bf16 / rate:.2f}x the float32 rate; cosine to the "
              f"float32 vectors, smallest {float((half * new).sum(1).min()):.4f})", flush=True)
        bigger = []
        for size in (256, 1024):  # length-sorted too: do wider batches amortise the steps?
            start = time.process_time()
            fm.embed_corpus(tc, idx, size, ids)
            bigger.append(f"{size}: {len(idx) / (time.process_time() - start):.0f}")
        print(f"  length-sorted batches of {', '.join(bigger)} tunes per CPU-second", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default="runs/default", help="the model (make demo's run)")
    parser.add_argument("--tunes", type=int, default=100_000, help="synthetic tunes (0: skip)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of default and tiny each")
    parser.add_argument("--old-src", default=None, help="another checkout's src to compare")
    parser.add_argument("--tower", action="store_true", help="only the tune tower's CPU time")
    args = parser.parse_args(argv)
    if args.tower:
        tower_stage(args.run)
        return 0

    srcs = {"new": ROOT / "src"}
    if args.old_src:
        srcs["old"] = Path(args.old_src).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        times: dict[tuple[str, str], list[float]] = {}
        sizes: dict[str, int] = {}
        for _ in range(args.repeat):
            for data in ("tiny", "default"):
                for name, src in srcs.items():  # old and new alternating
                    wall, manifest = index_once(src, args.run, data, work)
                    times.setdefault((name, data), []).append(wall)
                    sizes[data] = manifest["n_tunes"]
                    print(f"{name:>3} {data:>8}: {manifest['n_tunes']:6d} tunes in {wall:7.1f} s "
                          f"(tower stage {manifest.get('tunes_per_s', '-')} tunes/s)", flush=True)
        for name in srcs:
            t_def = statistics.median(times[(name, "default")])
            t_tiny = statistics.median(times[(name, "tiny")])
            rate = (sizes["default"] - sizes["tiny"]) / max(t_def - t_tiny, 1e-9)
            print(f"{name}: default - tiny = {sizes['default'] - sizes['tiny']} tunes in "
                  f"{t_def - t_tiny:.1f} s: {rate:.0f} tunes/s (median of {args.repeat})")
        if "old" in srcs:
            for data in ("tiny", "default"):
                ratios = [o / n for o, n in zip(times[("old", data)], times[("new", data)])]
                print(f"{data}: old/new wall time {statistics.median(ratios):.2f}x "
                      f"(min {min(ratios):.2f}, max {max(ratios):.2f})")
        if args.tunes:
            folder = work / "synthetic"
            n = synthetic_collection(folder, args.tunes)
            wall, manifest = index_once(srcs["new"], args.run, str(folder), work)
            print(f"new synthetic: {manifest['n_tunes']} of {n} tunes in {wall:.1f} s: "
                  f"{manifest['n_tunes'] / wall:.0f} tunes/s end to end, start included "
                  f"(tower stage {manifest.get('tunes_per_s', '-')} tunes/s, "
                  f"{manifest['problems']} problems)")
            if "seconds" in manifest:  # where the time went, stage by stage
                stages = ", ".join(f"{k} {v:.1f}" for k, v in manifest["seconds"].items())
                print(f"    seconds per stage: {stages}; sum "
                      f"{sum(manifest['seconds'].values()):.1f} of {wall:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
