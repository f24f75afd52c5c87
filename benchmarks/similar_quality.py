"""Does `folkclip similar` find other versions of the same tune?

    python benchmarks/similar_quality.py --run RUN [--sources default nottingham]
                                         [--index-root runs/similar-index]

For each collection an index is built with RUN's model (or reused). Versions of one
tune: tunes in the same title identity group (:func:`folkclip.data.splits.group_ids`: shared
normalised title or tune id) that come from *different* files (books). Every tune with
at least one such version queries the whole index (itself left out); MAP and hit@10
(a version among the first 10) are reported for the tune tower's cosine, interval
4-gram TF-IDF, and their weighted sum for several weights, with bootstrap 95% CIs
(:func:`folkclip.eval.metrics.bootstrap_ci`) and a paired bootstrap CI of each MAP's
difference from the best single method. ``aligned`` is what ``similar`` does by default:
the combined score's best :data:`~folkclip.identify.limits.RERANK_CANDIDATES` re-ranked
by local alignment with the query's first notes (:mod:`folkclip.index.rerank`); it is
compared with the plain combined score per query (paired bootstrap CI and permutation
p-value, :func:`folkclip.eval.stats.paired_difference`), and its CPU time per query is
reported. On the run's own collection the queries of its test split are also scored alone
(the model never saw their titles). Writes ``similar_quality.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

WEIGHTS = (0.25, 0.5, 0.75)
DEFAULT = "combined w=0.5"  # similar's score before re-ranking (EMBEDDING_WEIGHT)
ALIGNED = "aligned (combined w=0.5, re-ranked)"
ALIGNED_TFIDF = "aligned (tfidf, re-ranked)"  # the same re-ranking of TF-IDF's best


def version_sets(idx: object) -> list[np.ndarray]:
    """Per indexed tune: the ids of its versions from other files (maybe empty)."""
    from folkclip.data.dataset import load as load_tokens
    from folkclip.data.splits import group_ids

    tc = load_tokens(idx.folder / "tokens")  # type: ignore[attr-defined]
    groups = group_ids(tc.identities())
    files = np.array([m["source"] for m in tc.meta])
    out = []
    for i, g in enumerate(groups):
        same = np.nonzero((groups == g) & (files != files[i]))[0]
        out.append(same)
    return out


def all_scores(idx: object, queries: np.ndarray) -> dict[str, np.ndarray]:
    """(Q, N) similarity of each query tune to every indexed tune, per method."""
    vec = idx.tunes.vectors  # type: ignore[attr-defined]  # (N, D)
    tf = idx.profiles.tfidf.tocsr()  # type: ignore[attr-defined]  # (N, V)
    emb = vec[queries] @ vec.T
    tfs = np.asarray((tf[queries] @ tf.T).todense(), dtype=np.float32)
    out = {"embedding": emb, "tfidf": tfs}
    for w in WEIGHTS:
        out[f"combined w={w}"] = w * emb + (1 - w) * tfs
    for w in WEIGHTS:  # each method's scores standardised per query first
        out[f"z-combined w={w}"] = w * _z(emb) + (1 - w) * _z(tfs)
    for s in out.values():
        s[np.arange(len(queries)), queries] = -1e9  # the query itself ranks last
    out[ALIGNED], out["_align_cpu_s"] = aligned_scores(idx, out[DEFAULT], queries)
    out[ALIGNED_TFIDF], _ = aligned_scores(idx, out["tfidf"], queries)
    return out


def aligned_scores(idx: object, base: np.ndarray, queries: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(Q, N) scores after ``similar``'s alignment re-ranking of ``base``, and (Q,) CPU
    seconds of the re-ranking per query (the same functions as ``TuneIndex.similar``)."""
    from folkclip.identify.limits import RERANK_CANDIDATES
    from folkclip.index.rerank import rerank, tune_symbols

    data = idx.identify_data()  # type: ignore[attr-defined]
    out = base.copy()
    cpu = np.zeros(len(queries))
    for qi, q in enumerate(queries.tolist()):
        row = base[qi]
        top = np.argpartition(-row, RERANK_CANDIDATES)[:RERANK_CANDIDATES]
        top = top[np.lexsort((top, -row[top]))]  # best first, ties: lower id (as similar)
        start = time.process_time()
        pairs = rerank(data, *tune_symbols(data, q), [(int(t), float(row[t])) for t in top])
        cpu[qi] = time.process_time() - start
        for t, score in pairs:  # score >= its old one >= every score below the top
            out[qi, t] = score
    return out, cpu


def _z(s: np.ndarray) -> np.ndarray:
    return (s - s.mean(1, keepdims=True)) / np.maximum(s.std(1, keepdims=True), 1e-9)


def score_methods(idx: object, queries: np.ndarray, versions: list[np.ndarray]) -> dict:
    """MAP, hit@10 (with 95% CIs) and per-query AP of each method."""
    from folkclip.eval.metrics import bootstrap_ci, per_query_metrics
    from folkclip.eval.stats import paired_difference

    rel = [versions[q] for q in queries]
    table, per_ap, per_hit = {}, {}, {}
    scores = all_scores(idx, queries)
    cpu = scores.pop("_align_cpu_s")
    for name, s in scores.items():
        pq = per_query_metrics(s, rel)
        hit = (pq["first_rank"] <= 10).astype(float)
        per_ap[name], per_hit[name] = pq["ap"], hit
        table[name] = {"map": float(np.mean(pq["ap"])), "map_ci95": bootstrap_ci(pq["ap"]),
                       "hit@10": float(hit.mean()), "hit@10_ci95": bootstrap_ci(hit)}
    for metric, per in (("map", per_ap), ("hit@10", per_hit)):
        for name in (ALIGNED, ALIGNED_TFIDF):
            for other in (DEFAULT, "tfidf"):
                d = paired_difference(per[name], per[other])
                table[name][f"{metric}_minus_{other}"] = {"mean": d.mean, "ci95": [d.low, d.high],
                                                          "p": d.p}
    table[ALIGNED]["cpu_ms_per_query"] = {"median": float(np.median(cpu) * 1e3),
                                          "p90": float(np.percentile(cpu, 90) * 1e3)}
    single = max(("embedding", "tfidf"), key=lambda m: table[m]["map"])
    for name, row in table.items():
        if name not in (single, ALIGNED, ALIGNED_TFIDF):
            diff = per_ap[name] - per_ap[single]  # paired, per query
            row[f"map_minus_{single}"] = float(diff.mean())
            row[f"map_minus_{single}_ci95"] = bootstrap_ci(diff)
    return {"queries": len(queries), "methods": table}


def evaluate_source(run: str, source: str, root: Path) -> dict:
    from folkclip.index import TuneIndex

    idx = TuneIndex.build(run, [source], root / source, progress=False)
    versions = version_sets(idx)
    queries = np.array([i for i, v in enumerate(versions) if len(v)], dtype=np.int64)
    result = {"source": source, "tunes": len(idx), "all": score_methods(idx, queries, versions)}
    cfg = _run_config(run)
    if cfg and list(cfg["data"]["sources"]) == [source]:
        from folkclip.data.dataset import load as load_tokens

        tc = load_tokens(idx.folder / "tokens")
        test = set(tc.split(cfg["data"]["split_seed"], tuple(cfg["data"]["fractions"]))["test"]
                   .tolist())
        tq = np.array([q for q in queries if int(q) in test], dtype=np.int64)
        if len(tq):
            result["test_split"] = score_methods(idx, tq, versions)
    return result


def _run_config(run: str) -> dict | None:
    import yaml

    path = Path(run) / "config.yaml"
    return yaml.safe_load(path.read_text()) if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", required=True, help="a trained run folder")
    p.add_argument("--sources", nargs="+", default=["default", "nottingham"])
    p.add_argument("--index-root", default="runs/similar-index")
    p.add_argument("--out", default="docs/results")
    args = p.parse_args(argv)
    results = [evaluate_source(args.run, s, Path(args.index_root)) for s in args.sources]
    for r in results:
        r["run"] = str(Path(args.run).resolve())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "similar_quality.json").write_text(json.dumps(results, indent=1))
    print("| collection | queries | method | MAP (95% CI) | hit@10 (95% CI) |")
    print("|---|---:|---|---|---|")
    for r in results:
        for part in ("all", "test_split"):
            if part not in r:
                continue
            label = r["source"] + (" (test split)" if part == "test_split" else "")
            for name, m in r[part]["methods"].items():
                lo, hi = m["map_ci95"]
                hlo, hhi = m["hit@10_ci95"]
                print(f"| {label} | {r[part]['queries']} | {name} | {m['map']:.3f} "
                      f"({lo:.3f}–{hi:.3f}) | {m['hit@10']:.3f} ({hlo:.3f}–{hhi:.3f}) |")
    print()
    for r in results:
        for part in ("all", "test_split"):
            if part not in r:
                continue
            for name in (ALIGNED, ALIGNED_TFIDF):
                for key in ("map_minus_" + DEFAULT, "hit@10_minus_" + DEFAULT,
                            "map_minus_tfidf", "hit@10_minus_tfidf"):
                    d = r[part]["methods"][name][key]
                    print(f"{r['source']} {part}: {name}: {key.replace('_minus_', ' - ')} = "
                          f"{d['mean']:+.4f} ({d['ci95'][0]:+.4f} to {d['ci95'][1]:+.4f}), "
                          f"p = {d['p']:.4f}")
            m = r[part]["methods"][ALIGNED]
            c = m["cpu_ms_per_query"]
            print(f"{r['source']} {part}: re-ranking CPU ms per query: median {c['median']:.1f}, "
                  f"p90 {c['p90']:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
