"""Speed and validity of tunes sampled from a melody language model run (or of any ABC file).

Samples N tunes with ``folkclip generate``'s sampler and prints the share read back by
folkclip's reader, the share abc2midi reads without errors (when on PATH), the share of
complete bars whose length matches the meter, and the sampling speed in whole tunes per
second (each tune sampled to its ``<eos>`` or to the event limit, then written as ABC).

With ``--vs OTHER/src`` it first times this checkout against another one (e.g. a worktree
of an older commit) on one core: ``--runs`` pairs of child processes, this version and the
other alternating, each pinned to CPU ``--cpu`` with one thread, each sampling
``--speed-n`` tunes; it prints min / median / max tunes/s of each and of the paired ratio.

    python benchmarks/generation.py RUN_DIR [-n 100] [--seed 0] [--temperature 1.0]
        [--top-k 0] [--max-events 256] [--type reel] [--free] [--no-abc2midi] [--json]
        [--threads 1] [--cpu 0] [--vs OLD/src --runs 3 --speed-n 16]
    python benchmarks/generation.py --abc FILE      # the figures of an existing tunebook
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", nargs="?", help="run folder of a melody_lm run")
    parser.add_argument("--abc", default=None, help="check this ABC file instead of sampling")
    parser.add_argument("-n", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--max-events", type=int, default=None)
    parser.add_argument("--type", default=None, help="impose a tune type, e.g. reel")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU")
    parser.add_argument("--no-abc2midi", action="store_true")
    parser.add_argument("--free", action="store_true", help="no repeat/bar constraints")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--src", default=None, help="import folkclip from this src folder")
    parser.add_argument("--vs", default=None, help="time against this other src folder first")
    parser.add_argument("--runs", type=int, default=3, help="pairs of timed runs with --vs")
    parser.add_argument("--speed-n", type=int, default=16, help="tunes per timed run with --vs")
    args = parser.parse_args(argv)
    if bool(args.run_dir) == bool(args.abc):
        parser.error("give a RUN_DIR or --abc FILE")
    if args.src:
        sys.path.insert(0, args.src)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    if args.vs:
        compare(args)
    import torch

    from folkclip.generate.checks import check_tunebook, format_report

    torch.set_num_threads(args.threads)
    rate = cpu_rate = None
    if args.abc:
        text = Path(args.abc).read_text(encoding="utf-8", errors="replace")
    else:
        from folkclip_cli.generate import generate

        start, start_cpu = time.perf_counter(), time.process_time()
        text = generate(args.run_dir, args.n, {"type": args.type}, args.seed,
                        args.temperature, args.top_k, args.max_events, constrain=not args.free)
        rate = args.n / (time.perf_counter() - start)
        cpu_rate = args.n / (time.process_time() - start_cpu)
    figures = check_tunebook(text, abc2midi=not args.no_abc2midi)
    if args.json:
        print(json.dumps({**figures, "tunes_per_s": rate, "tunes_per_cpu_s": cpu_rate}))
        return 0
    for line in format_report(figures):
        print(line)
    if rate is not None:
        print(f"sampling: {rate:.2f} tunes/s, {cpu_rate:.2f} tunes per CPU second "
              f"({args.threads} threads; folkclip from {sys.modules['folkclip'].__file__})")
    return 0


def compare(args: argparse.Namespace) -> None:
    """Time this checkout's sampler against ``args.vs``'s, alternating, and print both."""
    cpu = 0 if args.cpu is None else args.cpu
    rates: dict[str, list[float]] = {"this": [], "other": []}
    cpu_rates: dict[str, list[float]] = {"this": [], "other": []}
    for _ in range(args.runs):
        for name, src in (("this", args.src or SRC), ("other", args.vs)):
            cmd = [sys.executable, __file__, args.run_dir, "-n", str(args.speed_n), "--json",
                   "--no-abc2midi", "--threads", "1", "--cpu", str(cpu), "--src", src,
                   "--seed", str(args.seed), "--temperature", str(args.temperature),
                   "--top-k", str(args.top_k)]
            if args.max_events:
                cmd += ["--max-events", str(args.max_events)]
            if args.type:
                cmd += ["--type", args.type]
            if args.free:
                cmd.append("--free")
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True,
                                  env={**os.environ, "PYTHONPATH": src})
            result = json.loads(proc.stdout.splitlines()[-1])
            rates[name].append(result["tunes_per_s"])
            cpu_rates[name].append(result["tunes_per_cpu_s"])
    print(f"one core (CPU {cpu}, 1 thread), {args.speed_n} tunes per run, {args.runs} runs "
          "each, alternating; min / median / max:")
    for unit, table in (("tunes/s (wall)", rates), ("tunes per CPU second", cpu_rates)):
        ratios = [a / b for a, b in zip(table["this"], table["other"])]
        for label, values in (("this version", table["this"]), (args.vs, table["other"]),
                              ("ratio (paired)", ratios)):
            print(f"  {unit}, {label}: {min(values):.3g} / {statistics.median(values):.3g}"
                  f" / {max(values):.3g}")


if __name__ == "__main__":
    raise SystemExit(main())
