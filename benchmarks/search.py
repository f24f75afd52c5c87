"""Vector search for `folkclip search`: exact numpy, FAISS flat, FAISS IVF-Flat (the
index's approximate choice, :mod:`folkclip.index.vectors`), FAISS HNSW (the alternative)
and sentence-transformers' ``util.semantic_search``, side by side on the same vectors,
one core.

    OMP_NUM_THREADS=1 python benchmarks/search.py --index INDEX [--sizes 10000 100000 1000000]

Tune vectors: the real tune vectors of INDEX (an index built by `folkclip index`), filled
up to each size with vectors drawn from a Gaussian with the real vectors' mean and
covariance (L2-normalised). Queries: titles of INDEX's title bank, encoded by INDEX's
model for every query, so latency includes encoding the title (encode and search are
timed per query and summed). Recall@10 is against exact search. Memory is the bytes
the search structure holds (FAISS's serialised index; the vectors for exact search).
Writes ``search.json`` (and prints a Markdown table) under ``--out``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, set before numpy/torch/faiss load
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import json
import time
from pathlib import Path

import numpy as np


def synthetic_like(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``real`` followed by Gaussian draws with its mean and covariance, L2-normalised: (n, D)."""
    rng = np.random.default_rng(seed)
    keep = real[:n]
    if n <= len(real):
        return np.ascontiguousarray(keep)
    mu = real.mean(0)
    vals, vecs = np.linalg.eigh(np.cov(real, rowvar=False))
    root = vecs * np.sqrt(np.clip(vals, 0, None))  # (D, D)
    out = np.empty((n, real.shape[1]), np.float32)
    out[: len(keep)] = keep
    for s in range(len(keep), n, 100_000):
        m = min(100_000, n - s)
        z = rng.standard_normal((m, real.shape[1])).astype(np.float32)
        x = mu + z @ root.T.astype(np.float32)
        out[s:s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def _methods(vectors: np.ndarray, names: list[str]) -> dict:
    """Build each search structure; returns name -> (search(q, k) function, build s, bytes)."""
    import faiss
    import torch

    from folkclip.index import vectors as vx

    if "st semantic_search" in names:
        from sentence_transformers import util  # imported before the build clock starts
    out = {}
    d = vectors.shape[1]
    for name in names:
        t = time.perf_counter()
        if name == "numpy exact":
            vi = vx.VectorIndex(vectors, "numpy")
            fn, size = (lambda q, k, vi=vi: vi.search(q, k)[1]), vectors.nbytes
        elif name == "faiss flat":
            index = faiss.IndexFlatIP(d)
            index.add(vectors)
            fn, size = (lambda q, k, ix=index: ix.search(q, k)[1]), vectors.nbytes
        elif name == "faiss hnsw":
            vi = vx.VectorIndex(vectors, "hnsw")
            fn = lambda q, k, vi=vi: vi.search(q, k)[1]
            size = len(faiss.serialize_index(vi._faiss))
        elif name == "faiss ivf-flat":
            vi = vx.VectorIndex(vectors, "ivf")
            fn = lambda q, k, vi=vi: vi.search(q, k)[1]
            size = len(faiss.serialize_index(vi._faiss))
        elif name == "st semantic_search":
            corpus = torch.from_numpy(vectors)
            fn = lambda q, k, c=corpus: np.array([[h["corpus_id"] for h in util.semantic_search(
                torch.from_numpy(q), c, top_k=k, score_function=util.dot_score)[0]]])
            size = vectors.nbytes
        else:
            raise SystemExit(f"unknown method {name!r}")
        out[name] = (fn, time.perf_counter() - t, size)
    return out


def run_size(vectors: np.ndarray, titles: list[str], fm: object, names: list[str],
             k: int = 10, build_threads: int = 1) -> list[dict]:
    """Latency (encode + search per query), recall@k and build cost of every method."""
    from folkclip.index.vectors import exact_topk

    for t in titles[:10]:  # warm up the title tower
        fm.embed_titles([t])  # type: ignore[attr-defined]
    enc_ms, queries = [], []
    for t in titles:
        s = time.perf_counter()
        queries.append(fm.embed_titles([t]))  # (1, D)  # type: ignore[attr-defined]
        enc_ms.append((time.perf_counter() - s) * 1e3)
    exact = [exact_topk(vectors, q, k)[1][0] for q in queries]
    import faiss

    faiss.omp_set_num_threads(build_threads)
    methods = _methods(vectors, names)
    faiss.omp_set_num_threads(1)
    rows = []
    for name, (fn, build_s, size) in methods.items():
        fn(queries[0], k)  # warm up
        lat, search_ms, recall = [], [], []
        for q, e, ref in zip(queries, enc_ms, exact):
            s = time.perf_counter()
            ids = fn(q, k)[0]
            search_ms.append((time.perf_counter() - s) * 1e3)
            lat.append(search_ms[-1] + e)
            recall.append(len(set(ids.tolist()) & set(ref.tolist())) / len(ref))
        rows.append({"n": len(vectors), "method": name, "build_s": round(build_s, 2),
                     "memory_mb": round(size / 2**20, 1),
                     "p50_ms": round(float(np.percentile(lat, 50)), 3),
                     "p99_ms": round(float(np.percentile(lat, 99)), 3),
                     "search_p50_ms": round(float(np.percentile(search_ms, 50)), 3),
                     "search_p99_ms": round(float(np.percentile(search_ms, 99)), 3),
                     "encode_p50_ms": round(float(np.percentile(enc_ms, 50)), 3),
                     "recall@10": round(float(np.mean(recall)), 4), "queries": len(queries)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def break_even(rows: list[dict]) -> int | None:
    """The smallest measured size at which HNSW's search p50 beats FAISS flat's (exact
    search stays the default below it), or ``None`` if it never does."""
    sizes = sorted({r["n"] for r in rows})
    for n in sizes:
        t = {r["method"]: r["search_p50_ms"] for r in rows if r["n"] == n}
        if "faiss flat" in t and "faiss hnsw" in t and t["faiss hnsw"] < t["faiss flat"]:
            return n
    return None


def print_table(result: dict) -> None:
    """The Markdown table of a ``search.json`` result."""
    rows = result["rows"]
    print(f"\n{result['real_vectors']} real tune vectors, the rest drawn like them; one core\n")
    print("| tunes | method | build s | memory MB | p50 ms | p99 ms | search p50 / p99 ms "
          "| recall@10 |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n']:,} | {r['method']} | {r['build_s']} | {r['memory_mb']} | "
              f"{r['p50_ms']} | {r['p99_ms']} | {r['search_p50_ms']} / {r['search_p99_ms']} "
              f"| {r['recall@10']} |")
    print(f"\ntitle encoding p50 {rows[0]['encode_p50_ms']} ms (included in p50/p99)")
    even = break_even(rows)
    if even:
        print(f"HNSW search is faster than exact FAISS flat from {even:,} tunes on "
              "(of the sizes measured)")


def main(argv: list[str] | None = None) -> int:
    import torch

    from folkclip.index import TuneIndex

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--index", help="an index built by `folkclip index`")
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--queries", type=int, default=500)
    p.add_argument("--methods", nargs="+", default=["numpy exact", "faiss flat", "faiss hnsw",
                                                     "faiss ivf-flat", "st semantic_search"])
    p.add_argument("--hnsw-up-to", type=int, default=100_000,
                   help="build HNSW only up to this size (its build is the slowest)")
    p.add_argument("--build-threads", type=int, default=1, help="FAISS threads for building")
    p.add_argument("--out", default="docs/results")
    p.add_argument("--table", default=None, help="only print the table of this search.json")
    args = p.parse_args(argv)
    if args.table:
        print_table(json.loads(Path(args.table).read_text()))
        return 0
    torch.set_num_threads(1)
    idx = TuneIndex.load(args.index)
    real = idx.tunes.vectors
    rng = np.random.default_rng(0)
    bank = idx.title_names
    titles = [bank[i] for i in rng.permutation(len(bank))[: args.queries]]
    rows = []
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for n in args.sizes:
        q = titles if n < 1_000_000 else titles[: max(100, args.queries // 2)]
        names = [m for m in args.methods if m != "faiss hnsw" or n <= args.hnsw_up_to]
        rows += run_size(synthetic_like(real, n), q, idx.model, names,
                         build_threads=args.build_threads)
        (out / "search.json").write_text(json.dumps(  # after each size: a stopped run keeps it
            {"real_vectors": len(real), "rows": rows, "break_even": break_even(rows)}, indent=1))
    print_table({"real_vectors": len(real), "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
