"""Validity of tunes sampled from a melody language model run (or of any ABC file).

Samples N tunes with ``folkclip generate``'s sampler and prints the share read back by
folkclip's reader, the share abc2midi reads without errors (when on PATH), the share of
complete bars whose length matches the meter, and the sampling speed.

    python benchmarks/generation.py RUN_DIR [-n 50] [--seed 0] [--temperature 1.0]
        [--top-k 0] [--max-events 256] [--type reel] [--free] [--no-abc2midi] [--json]
    python benchmarks/generation.py --abc FILE      # the figures of an existing tunebook
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from folkclip.generate.checks import check_tunebook, format_report


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
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-abc2midi", action="store_true")
    parser.add_argument("--free", action="store_true", help="no repeat/bar constraints")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if bool(args.run_dir) == bool(args.abc):
        parser.error("give a RUN_DIR or --abc FILE")
    torch.set_num_threads(args.threads)
    rate = None
    if args.abc:
        text = Path(args.abc).read_text(encoding="utf-8", errors="replace")
    else:
        from folkclip_cli.generate import generate

        start = time.perf_counter()
        text = generate(args.run_dir, args.n, {"type": args.type}, args.seed,
                        args.temperature, args.top_k, args.max_events, constrain=not args.free)
        rate = args.n / (time.perf_counter() - start)
    figures = check_tunebook(text, abc2midi=not args.no_abc2midi)
    if args.json:
        print(json.dumps({**figures, "tunes_per_s": rate}))
        return 0
    for line in format_report(figures):
        print(line)
    if rate is not None:
        print(f"sampling: {rate:.2f} tunes/s ({args.threads} threads)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
