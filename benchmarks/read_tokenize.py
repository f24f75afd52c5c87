"""Read + tokenize throughput of the default dataset on one core, cold and from cache.

Prints tunes/s for: parsing alone, parsing + tokenizing (cold, no cache), and loading
the tokenized corpus from the on-disk cache. CPU time of this process is used
(`time.process_time`), so other work on the machine disturbs the figures less.

    python benchmarks/read_tokenize.py [--sources default] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def best_of(repeat: int, fn) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", nargs="+", default=["default"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from folkclip.data import dataset
    from folkclip.abc.parser import parse_tunebook
    from folkclip.io.sources import file_type_hint, read_sources, read_text, source_files
    from folkclip.data.tokenize import TokenizerConfig

    files = [f for s in args.sources for f in source_files(s)]
    texts = [(str(f), read_text(f), file_type_hint(f)) for f in files]
    n = sum(len(parse_tunebook(t, s, default_type=d)[0]) for s, t, d in texts)
    parse_s = best_of(args.repeat, lambda: [parse_tunebook(t, s, default_type=d)
                                             for s, t, d in texts])
    cold_s = best_of(args.repeat, lambda: dataset.tokenize_corpus(read_sources(args.sources)))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FOLKCLIP_CACHE"] = tmp
        dataset.load_tokenized(args.sources, TokenizerConfig())
        cached_s = best_of(args.repeat, lambda: dataset.load_tokenized(args.sources))
    print(f"tunes: {n} from {len(files)} files ({sum(len(t) for _, t, _ in texts) / 1e6:.2f} MB)")
    print(f"parse only (text in memory):      {n / parse_s:9.0f} tunes/s")
    print(f"read + tokenize, cold (no cache): {n / cold_s:9.0f} tunes/s")
    print(f"tokenized corpus from cache:      {n / cached_s:9.0f} tunes/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
