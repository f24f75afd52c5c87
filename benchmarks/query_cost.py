"""CPU cost of one query of the index, as ``folkclip serve`` runs it (one thread).

Opens an index, then times ``--queries`` searches (a tune's title) and suggestions (a
tune's ABC text, drawn from the index) alternately, each by this thread's CPU time
(``time.thread_time``: robust to other jobs on the machine, unlike wall time), after a
warm-up. Prints the median and p90 milliseconds of a core per query kind as JSON. Run it
with another version's sources to compare (same index):

    python benchmarks/query_cost.py INDEX [--queries 300]
    PYTHONPATH=OLD/src python benchmarks/query_cost.py INDEX
    python benchmarks/query_cost.py INDEX --stages   # where a suggestion's time goes
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("index")
    p.add_argument("--queries", type=int, default=300, help="of each kind (at most 5000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stages", action="store_true",
                   help="also time the stages of a suggestion one by one (this version only)")
    args = p.parse_args(argv)
    if not 0 < args.queries <= 5000:
        p.error("--queries must be 1 to 5000")

    import torch

    import folkclip
    from folkclip.index import TuneIndex

    torch.set_num_threads(1)
    try:
        import faiss

        faiss.omp_set_num_threads(1)
    except ImportError:
        pass
    index = TuneIndex.load(args.index)
    rng = np.random.default_rng(args.seed)
    ids = rng.choice(len(index), args.queries + 10, replace=False).tolist()
    tunes = [index.tune(i) for i in ids]
    for t in tunes[:10]:  # warm-up (an ONNX export, caches), not counted
        index.search(t["title"] or "reel", k=10)
        index.suggest(t["abc"], k=10)
    cost: dict[str, list[float]] = {"search": [], "suggest": []}
    for t in tunes[10:]:
        start = time.thread_time()
        index.search(t["title"] or "reel", k=10)
        mid = time.thread_time()
        index.suggest(t["abc"], k=10)
        cost["search"].append(mid - start)
        cost["suggest"].append(time.thread_time() - mid)
    stages = suggest_stages(index, tunes[10:]) if args.stages else None
    out = {"index": args.index, "tunes": len(index), "queries": args.queries,
           "folkclip": folkclip.__file__,
           "backends": getattr(getattr(index, "encoder", None), "backends", None)}
    for kind, xs in cost.items():
        ms = np.array(xs) * 1000
        out[kind] = {"median_ms": round(float(np.median(ms)), 2),
                     "p90_ms": round(float(np.percentile(ms, 90)), 2)}
    if stages:
        out["suggest_stages_ms"] = stages
    print(json.dumps(out, indent=1))
    return 0


def suggest_stages(index: object, tunes: list[dict]) -> dict[str, float]:
    """Mean milliseconds of a core of each stage of ``TuneIndex.suggest`` (each run on its
    own, in the order suggest runs them; the near-duplicate check's parts, then the check
    as a whole)."""
    import numpy as np

    from folkclip.index.similar import CANDIDATES

    spent: dict[str, float] = {}

    def tick(name: str, start: float) -> float:
        now = time.thread_time()
        spent[name] = spent.get(name, 0.0) + now - start
        return now

    prof = index.profiles  # type: ignore[attr-defined]
    for t in tunes:
        start = time.thread_time()
        q = index.read(t["abc"])  # type: ignore[attr-defined]
        start = tick("read, tokenize and the melody tower", start)
        cols, _, weights = prof.query(q.document)
        start = tick("n-gram profile of the query", start)
        tf = prof.tfidf_scores(cols, weights)
        start = tick("TF-IDF scores of every tune", start)
        np.argpartition(-tf, min(CANDIDATES, len(tf) - 1))[:CANDIDATES]
        start = tick("best TF-IDF candidates (argpartition)", start)
        index.tunes.search(q.vector, CANDIDATES)  # type: ignore[attr-defined]
        start = tick("embedding candidates (vector index)", start)
        index.near_duplicates(q)  # type: ignore[attr-defined]
        start = tick("near-duplicate check, whole", start)
        index.titles.search(q.vector, 10)  # type: ignore[attr-defined]
        tick("title bank search", start)
    return {k: round(1000 * v / len(tunes), 2) for k, v in spent.items()}


if __name__ == "__main__":
    sys.exit(main())
