"""Inner-product search over L2-normalised vectors: exact (numpy or FAISS flat) or
approximate (FAISS IVF-Flat or HNSW), with recall@k of an approximate index against
exact search.

:class:`VectorIndex` keeps the vectors as a float32 array and, when FAISS is installed,
a FAISS index beside them. Collections up to :data:`EXACT_UP_TO` vectors use exact
search (``IndexFlatIP``); larger ones an inverted file over k-means cells
(``IndexIVFFlat``), chosen over HNSW by ``benchmarks/search.py``: at 100k tunes it was
built 5x faster, held less memory and reached higher recall@10 at the same latency.
Without FAISS every search is exact numpy and gives the same results as FAISS flat.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from folkclip.errors import FolkclipError

# Measured by benchmarks/search.py (256-d, one core): at 10k tunes exact FAISS flat search
# takes 0.13 ms p50 (IVF 0.02 ms at recall@10 0.965), at 100k 7 ms (IVF 0.12 ms, recall
# 0.968). Up to 10k exact search is free next to the ~0.7 ms title encoding; beyond, IVF.
EXACT_UP_TO = 10_000
APPROXIMATE = "ivf"  # the approximate kind beyond EXACT_UP_TO
IVF_TRAIN_PER_CELL = 40  # k-means training vectors per cell (FAISS's advice: 39 or more)
HNSW_M = 32  # graph degree: memory 4 * 2 * M bytes per vector beside the vectors
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 96  # recall@10 0.971 at 100k in benchmarks/search.py
KINDS = ("numpy", "flat", "ivf", "hnsw")


def ivf_cells(n: int) -> int:
    """k-means cells of an IVF index over ``n`` vectors: sqrt(n), at least 16."""
    return max(16, int(np.sqrt(n)))


def ivf_probes(cells: int) -> int:
    """Cells visited per query: 1/24 of them, at least 8. Measured on one core (256-d):
    1/16 gave recall@10 0.998 at 1M but p50 6 ms; 1/24 gives 0.994 at 1.6 ms (and 0.973
    at 100k in 0.14 ms); 1/32 0.986."""
    return min(cells, max(8, cells // 24))


def have_faiss() -> bool:
    """Whether the ``faiss`` module (``faiss-cpu``, the ``index`` extra) can be imported."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def exact_topk(vectors: np.ndarray, queries: np.ndarray, k: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` by inner product in numpy; ties broken by the lower id.

    Args:
        vectors: (N, D) float32.
        queries: (Q, D) float32.
        k: Results per query (at most N).

    Returns:
        scores (Q, k) float32 and ids (Q, k) int64, best first.
    """
    k = min(k, len(vectors))
    if k == 0:
        return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
    sims = queries @ vectors.T  # (Q, N)
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else \
        np.tile(np.arange(sims.shape[1]), (len(queries), 1))
    out_ids = np.empty((len(queries), k), np.int64)
    out_scores = np.empty((len(queries), k), np.float32)
    for q in range(len(queries)):
        cand = part[q]
        order = np.lexsort((cand, -sims[q, cand]))
        out_ids[q] = cand[order]
        out_scores[q] = sims[q, out_ids[q]]
    return out_scores, out_ids


class VectorIndex:
    """Top-k inner-product search over a fixed set of vectors.

    Args:
        vectors: (N, D) float32, L2-normalised.
        kind: ``numpy`` (exact), ``flat`` (FAISS exact) or ``hnsw`` (FAISS approximate).
        faiss_index: A ready FAISS index over ``vectors`` (built when ``None``).
    """

    def __init__(self, vectors: np.ndarray, kind: str = "numpy", faiss_index: object = None,
                 ) -> None:
        if kind not in KINDS:
            raise FolkclipError(f"vector index kind must be one of {KINDS}, got {kind!r}")
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if kind != "numpy" and not have_faiss():
            kind = "numpy"  # same results as flat; an approximate index degrades to exact
        self.kind = kind
        self._faiss = faiss_index
        if kind != "numpy" and faiss_index is None:
            self._faiss = _build_faiss(self.vectors, kind)
        if self._faiss is not None and kind == "hnsw":
            self._faiss.hnsw.efSearch = HNSW_EF_SEARCH
        if self._faiss is not None and kind == "ivf":
            self._faiss.nprobe = ivf_probes(self._faiss.nlist)

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "auto") -> VectorIndex:
        """Build the index ``kind`` (``auto``: flat up to :data:`EXACT_UP_TO`, else
        :data:`APPROXIMATE`)."""
        if kind == "auto":
            kind = "flat" if len(vectors) <= EXACT_UP_TO else APPROXIMATE
        return cls(vectors, kind)

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` by inner product.

        Args:
            queries: (Q, D) or (D,) float32.
            k: Results per query.

        Returns:
            scores (Q, k) and ids (Q, k), best first (fewer columns when N < k).
        """
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, len(self.vectors))
        if self._faiss is None or k == 0:
            return exact_topk(self.vectors, q, k)
        scores, ids = self._faiss.search(q, k)
        return scores.astype(np.float32), ids.astype(np.int64)

    def recall_at(self, queries: np.ndarray, k: int = 10) -> float:
        """Mean recall@``k`` of this index against exact search for ``queries`` (1.0 if exact)."""
        if self.kind in ("numpy", "flat") or len(queries) == 0:
            return 1.0
        _, approx = self.search(queries, k)
        _, exact = exact_topk(self.vectors, np.atleast_2d(queries).astype(np.float32), k)
        hits = [len(set(a.tolist()) & set(e.tolist())) for a, e in zip(approx, exact)]
        return float(np.mean(hits) / exact.shape[1])

    def save(self, folder: Path, name: str) -> dict:
        """Write ``name.npy`` (and ``name.faiss`` for an approximate index); return what
        :meth:`load` needs."""
        np.save(folder / f"{name}.npy", self.vectors)
        if self.kind in ("ivf", "hnsw"):
            import faiss

            faiss.write_index(self._faiss, str(folder / f"{name}.faiss"))
        return {"file": f"{name}.npy", "kind": self.kind, "n": len(self.vectors),
                "dim": int(self.vectors.shape[1]) if self.vectors.ndim == 2 else 0}

    @classmethod
    def load(cls, folder: Path, info: dict, backend: str = "auto") -> VectorIndex:
        """Read an index written by :meth:`save`.

        Args:
            folder: The index folder.
            info: The dict :meth:`save` returned.
            backend: ``auto`` (as built, numpy without FAISS), or ``numpy`` to force exact
                numpy search.
        """
        vectors = np.load(folder / info["file"], mmap_mode="r")  # (N, D), shared pages
        kind = info["kind"] if backend == "auto" else backend
        saved = folder / (Path(info["file"]).stem + ".faiss")
        if kind in ("ivf", "hnsw") and have_faiss() and saved.exists():
            import faiss

            # An IVF index's lists are memory-mapped read-only: server worker processes
            # share one copy in the page cache, as they share the .npy vectors.
            flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if kind == "ivf" else 0
            index = faiss.read_index(str(saved), flags)
            if flags:  # no prefetch threads: a query's few lists are read in place (with
                # FAISS's 32 prefetch threads a 100k search took 2-3x the CPU and wall time)
                faiss.downcast_InvertedLists(index.invlists).prefetch_nthread = 0
            return cls(vectors, kind, index)
        return cls(vectors, kind if kind in ("numpy", "flat") else "flat")


def _build_faiss(vectors: np.ndarray, kind: str) -> object:
    import faiss

    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "ivf":
        cells = ivf_cells(len(vectors))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, cells,
                                   faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        index.train(vectors[rng.permutation(len(vectors))[: IVF_TRAIN_PER_CELL * cells]])
    else:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    if len(vectors):
        index.add(vectors)
    return index
