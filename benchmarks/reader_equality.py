"""Proof that two versions of the reader give the same corpus: the tunes, the tokens (under
many tokenizer configurations) and the problems, on the built-in sources and on a seeded
sample of the fuzz campaign's inputs (``benchmarks/fuzz.py``).

Each version runs in its own process (``PYTHONPATH`` = its ``src``) and writes what it read
as plain data (tuples, dicts, numpy arrays: no folkclip objects) to a pickle; the two are
then compared field by field and the first differences are printed.

    git worktree add ../wt-read-old 359a7ac
    python benchmarks/reader_equality.py --old-src ../wt-read-old/src \\
        --sources default nottingham tiny --fuzz 5000 --seed 0

Exit status 0 when everything is identical, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FILE_EVERY = 997  # as benchmarks/fuzz.py: one input in about a thousand is a whole file
SHOWN = 10  # differences printed per part

# Tokenizer configurations the corpora are compared under (TokenizerConfig keywords).
CONFIGS: list[dict] = [
    {}, {"transpose": False}, {"first_bars": 8}, {"first_bars": 1, "transpose": False},
    {"max_events": 64},
    *({"remove": (s,)} for s in ("key", "mode", "meter", "type", "rhythm", "pitch", "octave",
                                 "ornaments", "barlines", "chords", "repeats")),
    {"remove": ("key", "mode", "meter", "type")}, {"remove": ("barlines", "repeats")},
    {"remove": ("key",), "transpose": False}, {"remove": ("pitch", "rhythm", "meter")},
]
FUZZ_CONFIGS = [{}, {"remove": ("rhythm", "pitch")}, {"first_bars": 4, "transpose": False},
                {"remove": ("meter", "key"), "transpose": False}]


# ------------------------------------------------------------------ the child
def _event(ev: object) -> tuple:
    return (type(ev).__name__,) + tuple(_plain(getattr(ev, s)) for s in type(ev).__slots__)


def _plain(value: object) -> object:
    if hasattr(value, "accidentals"):  # a Key
        return ("Key", value.tonic, value.tonic_pc, value.mode,
                tuple(sorted(value.accidentals.items())))
    return value


def _tune(t: object) -> tuple:
    head = tuple((name, _plain(getattr(t, name))) for name in (
        "source", "number", "line", "title", "alt_titles", "tune_type", "meter", "unit", "key",
        "fields", "abc", "tune_id", "setting_id", "collection", "warnings", "warning_count"))
    return head, tuple(_event(e) for e in t.events)


def _problem(p: object) -> tuple:
    return (p.source, p.tune, p.line, p.reason, p.severity, p.text)


def _item(x: object) -> tuple:
    return ("problem", _problem(x)) if hasattr(x, "severity") else ("tune", _tune(x))


def _corpus(tc: object) -> dict:
    return {"vocab": tc.vocab, "ids": np.asarray(tc.ids), "bars": np.asarray(tc.bars),
            "offsets": np.asarray(tc.offsets), "meta": tc.meta, "problems": tc.problems,
            "config": tc.config.to_dict()}


def _tokens(tokenizer: object, tune: object) -> tuple:
    from folkclip.errors import FolkclipError
    try:
        tt = tokenizer.tokenize(tune)
    except FolkclipError as err:
        return ("refused", str(err))
    return ("tokens", tuple(tt.events), tuple(tt.bars))


def dump_sources(sources: list[str]) -> dict:
    """Per source: the cold ``load_tokenized`` corpus (the pool path), the tunes read, the
    tokens of each tune, and the corpus under every configuration of :data:`CONFIGS`."""
    from folkclip.data.dataset import from_part, load_tokenized
    from folkclip.data.reading import concat, subsample, tokenize_tunes
    from folkclip.data.tokenize import Tokenizer, TokenizerConfig
    from folkclip.io.sources import read_file_safely, source_files

    out: dict = {}
    for source in sources:
        out[(source, "load_tokenized")] = _corpus(load_tokenized([source], use_cache=False))
        corpora = [read_file_safely(p, "nottingham" if source == "nottingham"
                                    else p.parent.name) for p in source_files(source)]
        out[(source, "tunes")] = [_tune(t) for c in corpora for t in c.tunes]
        out[(source, "problems")] = [_problem(p) for c in corpora for p in c.problems]
        tokenizer = Tokenizer()
        out[(source, "tokens")] = [_tokens(tokenizer, t) for c in corpora for t in c.tunes]
        for kw in CONFIGS:
            config = TokenizerConfig(**kw)
            tokenizer = Tokenizer(config)
            part = concat([tokenize_tunes(c.tunes, tokenizer, None, c.problems)
                           for c in corpora])
            if source == "tiny":
                part = subsample(part)
            out[(source, "corpus", repr(sorted(kw.items())))] = _corpus(from_part(part, config))
    return out


def dump_fuzz(count: int, seed: int, start: int, folder: Path) -> dict:
    """Per fuzz input (made as ``benchmarks/fuzz.py`` makes input ``i`` of seed ``seed``):
    what the readers return (tunes, problems, or the exception), and the tokens of each tune
    under :data:`FUZZ_CONFIGS`."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from fuzz_inputs import abc_input, file_input, jsonl_input, load_seeds, session_row

    from folkclip.abc.parser import parse_tunebook
    from folkclip.data.tokenize import Tokenizer, TokenizerConfig
    from folkclip.io.jsonl import _read_line
    from folkclip.io.session import _row_to_results
    from folkclip.io.sources import read_file_safely

    seeds = load_seeds()
    tokenizers = [Tokenizer(TokenizerConfig(**kw)) for kw in FUZZ_CONFIGS]
    out: dict = {}
    slowest = (0.0, -1)
    for index in range(start, start + count):
        r = random.Random(seed * 1_000_003 + index)
        k = r.random()
        began = time.process_time()
        try:
            if index % FILE_EVERY == FILE_EVERY - 1:
                suffix, text, encoding = file_input(r, seeds)
                path = folder / f"fuzz{suffix}"
                path.write_text(text, encoding=encoding, errors="replace")
                corpus = read_file_safely(path, "fuzz")
                items = list(corpus.tunes) + list(corpus.problems)
            elif k < 0.8:
                _kind, text = abc_input(r, seeds)
                tunes, problems = parse_tunebook(text, "fuzz.abc")
                items = list(tunes) + list(problems)
            elif k < 0.9:
                item, _ref = _read_line(jsonl_input(r, seeds), "fuzz.jsonl", 1, "fuzz")
                items = [item] if item is not None else []
            else:
                items = _row_to_results(session_row(r, seeds), "fuzz.csv", 2)
            result: object = [_item(x) for x in items]
            result.extend(("tokens", _tokens(tok, x)) for x in items if not hasattr(x, "severity")
                          for tok in tokenizers)
        except Exception as err:  # noqa: BLE001 - what is compared
            result = ("exception", type(err).__name__, str(err))
        slowest = max(slowest, (time.process_time() - began, index))
        out[index] = result
    out["slowest"] = slowest
    return out


def child(args: argparse.Namespace) -> int:
    import folkclip

    data = {"folkclip": folkclip.__file__}
    began = time.process_time()
    if args.sources:
        data["sources"] = dump_sources(args.sources)
    if args.fuzz:
        folder = Path(args.fuzz_dir)  # the same in both versions: file problems name it
        folder.mkdir(parents=True, exist_ok=True)
        data["fuzz"] = dump_fuzz(args.fuzz, args.seed, args.start, folder)
    data["cpu_s"] = time.process_time() - began
    with open(args.dump, "wb") as fh:
        pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return 0


# ------------------------------------------------------------------ the parent
def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and bool(np.array_equal(a, b)))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _first_difference(a: object, b: object, where: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{where}: keys differ: {sorted(map(str, a.keys() ^ b.keys()))[:5]}"
        for k in a:
            if not _same(a[k], b[k]):
                return _first_difference(a[k], b[k], f"{where}[{k!r}]")
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and not _same(a, b):
        for i, (x, y) in enumerate(zip(a, b)):
            if not _same(x, y):
                return _first_difference(x, y, f"{where}[{i}]")
        return f"{where}: lengths {len(a)} and {len(b)}"
    return f"{where}: old {str(a)[:300]!r}\n      new {str(b)[:300]!r}"


def run_child(src: Path, argv: list[str], dump: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src.resolve()), OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, __file__, "--child", "--dump", str(dump), *argv],
                   env=env, check=True)
    with open(dump, "rb") as fh:
        return pickle.load(fh)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old-src", help="the other version's src folder")
    parser.add_argument("--new-src", default=str(ROOT / "src"))
    parser.add_argument("--sources", nargs="*", default=["default", "nottingham", "tiny"])
    parser.add_argument("--fuzz", type=int, default=5000, help="fuzz inputs to compare")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="first fuzz input index")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    parser.add_argument("--fuzz-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    if not args.old_src:
        parser.error("--old-src is required")
    with tempfile.TemporaryDirectory() as tmp:
        inner = ["--sources", *args.sources, "--fuzz", str(args.fuzz), "--seed", str(args.seed),
                 "--start", str(args.start), "--fuzz-dir", str(Path(tmp) / "files")]
        old = run_child(Path(args.old_src), inner, Path(tmp) / "old.pkl")
        new = run_child(Path(args.new_src), inner, Path(tmp) / "new.pkl")
    print(f"old: {old['folkclip']} ({old['cpu_s']:.1f} CPU s)")
    print(f"new: {new['folkclip']} ({new['cpu_s']:.1f} CPU s)")
    differences = 0
    for part in ("sources", "fuzz"):
        a, b = old.get(part, {}), new.get(part, {})
        keys = [k for k in a if k != "slowest"]
        if sorted(map(str, keys)) != sorted(map(str, (k for k in b if k != "slowest"))):
            print(f"{part}: the versions dumped different items")
            differences += 1
            continue
        bad = [k for k in keys if not _same(a[k], b[k])]
        differences += len(bad)
        what = {"sources": "items", "fuzz": "inputs"}[part]
        print(f"{part}: {len(keys)} {what} compared, {len(bad)} differ")
        if part == "sources":
            for k in keys:
                if k[1] in ("tunes", "problems"):
                    print(f"  {k[0]}: {len(a[k])} {k[1]}")
        else:
            print(f"  slowest input (CPU s, index): old {a['slowest'][0]:.3f} "
                  f"#{a['slowest'][1]}, new {b['slowest'][0]:.3f} #{b['slowest'][1]}")
        for k in bad[:SHOWN]:
            print(f"  DIFFERENT {k!r}: {_first_difference(a[k], b[k])}")
    print("identical" if not differences else f"{differences} difference(s)")
    return 0 if not differences else 1


if __name__ == "__main__":
    raise SystemExit(main())
