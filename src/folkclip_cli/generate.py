"""``folkclip generate``: sample tunes from a melody language model run as an ABC tunebook.

    folkclip generate RUN_DIR -n 20 [--type reel --meter 4/4 --mode major --key D]
                      [--seed 0] [--temperature 1.0] [--top-k 0] [--max-events 256]
                      [--out FILE] [--json]

Writes the N tunes (``X:``, ``T:``, ``R:``, ``M:``, ``L:``, ``K:``) to ``--out`` (default
``RUN_DIR/generated.abc``) and prints their validity figures
(:mod:`folkclip.generate.checks`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from folkclip.errors import FolkclipError

HEADER_OPTIONS = ("type", "meter", "mode", "key")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="folkclip generate", description=__doc__.split("\n")[0])
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="run folder of a melody language model (task melody_lm)")
    p.add_argument("-n", type=int, default=10, help="number of tunes (default 10)")
    p.add_argument("--type", default=None, help="tune type, e.g. reel (default: sampled)")
    p.add_argument("--meter", default=None, help="meter, e.g. 4/4 (default: sampled)")
    p.add_argument("--mode", default=None, help="mode, e.g. major, dorian (default: sampled)")
    p.add_argument("--key", default=None, help="tonic as written, e.g. D, Bb (default: sampled)")
    p.add_argument("--seed", type=int, default=0, help="tune i uses seed + i")
    p.add_argument("--temperature", type=float, default=1.0, help="0 = most likely events")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest (0: all)")
    p.add_argument("--max-events", type=int, default=None,
                   help="events per tune at most (default: as in training)")
    p.add_argument("--batch", type=int, default=16, help="tunes sampled side by side")
    p.add_argument("--free", action="store_true",
                   help="sample the raw model: no repeat or bar-length constraints")
    p.add_argument("--out", default=None, help="ABC file to write (default RUN_DIR/generated.abc)")
    p.add_argument("--no-abc2midi", action="store_true", help="skip the abc2midi check")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")


def generate(run_dir: str | Path, n: int, header: dict[str, str] | None = None, seed: int = 0,
             temperature: float = 1.0, top_k: int = 0, max_events: int | None = None,
             batch: int = 16, constrain: bool = True) -> str:
    """Sample ``n`` tunes from the language model of ``run_dir`` as one ABC tunebook.

    Args:
        run_dir: Run folder (or its ``model/`` folder) of a ``melody_lm`` run.
        n: Number of tunes.
        header: Header values to impose, e.g. ``{"type": "reel", "meter": "4/4"}``.
        seed: Tune i is sampled with seed ``seed + i``.
        temperature: Softmax temperature.
        top_k: Top-k sampling (0: off).
        max_events: Events per tune at most (default: the training ``max_events``).
        batch: Tunes sampled side by side.
        constrain: Keep repeats paired and bars full (``False``: the model's raw samples).

    Raises:
        FolkclipError: For a folder without a language model or an unknown header value.
    """
    from folkclip.generate.sampling import sample_batch, to_tunebook
    from folkclip.models.lm import load_lm

    if n < 1 or batch < 1:
        raise FolkclipError("-n and --batch must be at least 1")
    if temperature < 0 or top_k < 0:
        raise FolkclipError("--temperature and --top-k must not be negative")
    lm = load_lm(run_dir)
    if "pitch" in lm.tokenizer_config.remove:
        raise FolkclipError("this model was trained without pitches (the 'pitch' switch); "
                            "its tunes cannot be written as ABC")
    tokens = [f"{k}:{v}" for k, v in (header or {}).items() if v]
    tunes = []
    for start in range(0, n, batch):
        tunes += sample_batch(lm.model, lm.vocab, min(batch, n - start), tokens,
                              max_events or lm.max_events, temperature, top_k, seed + start,
                              lm.tokenizer_config, constrain)
    return to_tunebook(tunes, lm.tokenizer_config)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``folkclip generate``."""
    return main_from_args(build_parser().parse_args(argv))


def main_from_args(args: argparse.Namespace) -> int:
    from folkclip.generate.checks import check_tunebook, format_report

    header = {k: getattr(args, k) for k in HEADER_OPTIONS}
    text = generate(args.run_dir, args.n, header, args.seed, args.temperature, args.top_k,
                    args.max_events, args.batch, not args.free)
    out = Path(args.out) if args.out else Path(args.run_dir) / "generated.abc"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    figures = check_tunebook(text, abc2midi=not args.no_abc2midi)
    if args.json:
        print(json.dumps({"out": str(out), **figures}))
        return 0
    print(f"wrote {figures['tunes']} tunes to {out}")
    for line in format_report(figures):
        print(line)
    return 0
