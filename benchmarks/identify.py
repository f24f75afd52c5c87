"""How well does ``folkclip identify`` name a tune from a few bars, and how fast?

    python benchmarks/identify.py --index INDEX [--queries 500] [--seed 0]
                                  [--scale 100000] [--calibrate] [--out docs/results]

INDEX is a folder written by ``folkclip index`` (``default`` and ``nottingham``, say).
Two shares of the identity groups (:data:`HELD_OUT_SHARE` each) are left out of the
ranking, as if never indexed: one to calibrate the threshold on (``--calibrate`` fits
:mod:`folkclip.identify.calibration`'s weights and prints them), one to measure it on.
Conditions, :data:`QUERIES` queries each (fixed seed):

* ``typed 2 bars`` / ``typed 4 bars``: consecutive bars (in playing order) of an indexed
  tune from a random place, transposed, at another tempo, with 1-2 edits (a wrong note, a
  triplet turn added, a passing note, an ornament removed);
* ``other version``: 4 bars of a tune whose identity group has a version in another file;
  the query's own file is left out, another version must be found; compared, paired, with
  today's whole-tune ``similar`` (combined mode) on the same fragments;
* ``out of collection 2/4 bars``: typed fragments of held-out tunes; any identification
  is a false one.

Reports top-1, top-5, MRR, identified (top-1 right and above the threshold) and the
no-match rate with bootstrap 95% CIs, latency per query (CPU time of this one-threaded
process, which other jobs on the machine do not inflate; wall time beside it), the
identification stage's share of the index build, and latency on a synthetic collection of
``--scale`` tunes made of real bars. :func:`score_condition` is the hook for further
conditions (rendered audio): it takes queries and their true groups.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from identify_queries import (
    HELD_OUT_SHARE,
    fit_calibration,
    held_out_groups,
    synthetic_melodies,
    typed_query,
)

QUERIES = 500
SCALE_QUERIES = 200


def score_condition(ident: object, queries: list, truth: list[int | None],
                    excludes: list[frozenset[int]], k: int = 5) -> dict:
    """Rank every query and score the answers.

    Args:
        ident: A :class:`folkclip.identify.Identifier`.
        queries: :class:`~folkclip.identify.QueryNotes`, one per query.
        truth: The identity group the answer must belong to, or ``None`` for a query from
            outside the collection (any identification is false).
        excludes: Per query, indexed tunes left out of its ranking.
        k: Results per query.

    Returns:
        ``{"n", "top1", "top5", "mrr", "identified", "no_match", "false_identification"
        (out-of-collection only), each with "<name>_ci95", "latency_ms": {median, p95},
        "rr": per-query reciprocal ranks, "top5_hits": per-query 0/1}``.
    """
    from folkclip.eval.metrics import bootstrap_ci

    thr = ident.calibration("symbolic").threshold  # type: ignore[attr-defined]
    rr, top5, ident1, nomatch, lat, wall = [], [], [], [], [], []
    for q, g, ex in zip(queries, truth, excludes):
        start, cpu = time.perf_counter(), time.process_time()
        ranked = ident.rank(q, k, ex)  # type: ignore[attr-defined]
        lat.append(time.process_time() - cpu)
        wall.append(time.perf_counter() - start)
        passed = bool(ranked) and ranked[0].confidence >= thr
        nomatch.append(float(not passed))
        rank = next((r for r, m in enumerate(ranked, 1) if m.group == g), 0)
        rr.append(1.0 / rank if rank else 0.0)
        top5.append(float(0 < rank <= 5))
        ident1.append(float(rank == 1 and passed))
    out: dict = {"n": len(queries)}
    cols = {"no_match": nomatch} if truth and truth[0] is None else {
        "top1": [float(r == 1.0) for r in rr], "top5": top5, "mrr": rr,
        "identified": ident1, "no_match": nomatch}
    if truth and truth[0] is None:
        cols["false_identification"] = [1.0 - x for x in nomatch]
    for name, values in cols.items():
        arr = np.array(values)
        out[name] = float(arr.mean()) if len(arr) else float("nan")
        out[name + "_ci95"] = bootstrap_ci(arr) if len(arr) else (float("nan"),) * 2
    ms = np.array(lat) * 1000
    out["latency_ms"] = {"median": float(np.median(ms)), "p95": float(np.percentile(ms, 95)),
                         "wall_median": float(np.median(wall) * 1000)}
    out["rr"], out["top5_hits"] = rr, top5
    return out


def load(index: Path) -> tuple[object, list, list[dict], float]:
    """The identifier, the indexed tunes' melodies, their metadata, and the seconds the
    identification stage takes to build them (melodies + arrays, measured here)."""
    from folkclip.data.dataset import load as load_tokens
    from folkclip.identify import Identifier
    from folkclip.identify.melody import tune_melody
    from folkclip.identify.store import IdentifyData
    from folkclip.index.store import read_manifest
    from folkclip.io.sources import read_sources

    ident = Identifier.open(index)
    meta = load_tokens(index / "tokens").meta
    tunes = read_sources(read_manifest(index)["sources"]).tunes
    start = time.perf_counter()
    melodies = [tune_melody(t) for t in tunes]
    stage_s = time.perf_counter() - start
    if len(tunes) != len(meta):  # the tokenizer refused some: keep the indexed ones
        keys = {(m["number"], m["abc"]) for m in meta}
        melodies = [m for t, m in zip(tunes, melodies) if (t.number, t.abc) in keys]
    if len(melodies) != len(ident.data):
        raise SystemExit(f"{index}: {len(ident.data)} indexed tunes, {len(melodies)} read")
    start = time.perf_counter()
    IdentifyData.build(melodies, np.asarray(ident.data.groups))
    return ident, melodies, meta, stage_s + time.perf_counter() - start


def make_conditions(melodies: list, groups: np.ndarray, files: np.ndarray, out_mask: np.ndarray,
                    base_ex: frozenset[int], seed: int, n: int) -> dict[str, tuple]:
    """Queries, truths and exclusions of every condition."""
    rng = np.random.default_rng(seed)
    inside = np.nonzero(~out_mask & ~np.isin(np.arange(len(groups)), list(base_ex)))[0]
    outside = np.nonzero(out_mask)[0]
    conds: dict[str, tuple] = {}
    for bars in (2, 4):
        qs, tr = [], []
        while len(qs) < n:
            t = int(rng.choice(inside))
            q = typed_query(melodies[t], bars, rng)
            if q is not None and len(q) >= 5:
                qs.append(q)
                tr.append(int(groups[t]))
        conds[f"typed {bars} bars"] = (qs, tr, [base_ex] * n)
    versions = [t for t in inside.tolist()
                if np.any((groups == groups[t]) & (files != files[t]) & ~out_mask)]
    qs, tr, ex = [], [], []
    for t in rng.permutation(versions).tolist():
        q = typed_query(melodies[t], 4, rng, edits=False)
        if q is None or len(q) < 5:
            continue
        same_file = np.nonzero((groups == groups[t]) & (files == files[t]))[0].tolist()
        qs.append(q)
        tr.append(int(groups[t]))
        ex.append(base_ex | frozenset(same_file))
        if len(qs) == n:
            break
    conds["other version"] = (qs, tr, ex)
    for bars in (2, 4):
        qs = []
        while len(qs) < n:
            q = typed_query(melodies[int(rng.choice(outside))], bars, rng)
            if q is not None and len(q) >= 5:
                qs.append(q)
        conds[f"out of collection {bars} bars"] = (qs, [None] * n, [base_ex] * n)
    return conds


def similar_baseline(index: Path, queries: list, truth: list[int], excludes: list,
                     groups: np.ndarray, k: int = 50) -> list[float]:
    """Reciprocal rank of today's whole-tune ``similar`` (combined mode) per fragment."""
    from folkclip.identify import notes_to_abc
    from folkclip.index import TuneIndex
    from folkclip.index.similar import top_similar

    idx = TuneIndex.load(index)
    rr = []
    for q, g, ex in zip(queries, truth, excludes):
        qt = idx.read(notes_to_abc(q))
        cols, _, weights = idx.profiles.query(qt.document)
        pairs = top_similar(idx.tunes, idx.profiles, qt.vector, cols, weights, k, set(ex))
        seen: list[int] = []
        for t, _ in pairs:
            if int(groups[t]) not in seen:
                seen.append(int(groups[t]))
        rank = seen.index(g) + 1 if g in seen else 0
        rr.append(1.0 / rank if rank else 0.0)
    return rr


def calibrate(ident: object, conds: dict) -> None:
    """Fit the symbolic queries' confidence weights and print their new value."""
    feats, labels, outside = [], [], []
    for name, (qs, tr, ex) in conds.items():
        if name == "other version":
            continue
        for q, g, e in zip(qs, tr, ex):
            ranked = ident.rank(q, 2, e)  # type: ignore[attr-defined]
            if not ranked:
                continue
            m = ranked[0]
            feats.append([m.score, m.margin, np.log(max(len(q) - 1, 1))])
            labels.append(int(g is not None and m.group == g))
            outside.append(g is None)
    _, lines = fit_calibration(feats, labels, outside)
    print("\n".join(lines))


def scale_latency(melodies: list, groups: np.ndarray, n: int, seed: int) -> dict:
    """Latency of 4-bar typed queries and of 60-note queries on ``n`` tunes (the real ones
    plus synthetic ones made of their bars), and the stage's build time for them."""
    from folkclip.identify import Identifier
    from folkclip.identify.store import IdentifyData

    rng = np.random.default_rng(seed)
    synth = synthetic_melodies(melodies, max(n - len(melodies), 0), rng)
    start = time.perf_counter()
    data = IdentifyData.build(list(melodies) + synth,
                              np.concatenate([groups, groups.max() + 1 + np.arange(len(synth))]))
    build_s = time.perf_counter() - start
    ident = Identifier(Path("."), data)
    out = {"tunes": len(data), "arrays_build_s": round(build_s, 2)}
    for name, bars in (("typed 4 bars", 4), ("8 bars (about 60 notes)", 8)):
        lat = []
        while len(lat) < SCALE_QUERIES:
            q = typed_query(melodies[int(rng.integers(len(melodies)))], bars, rng)
            if q is None or len(q) < 5:
                continue
            cpu = time.process_time()
            ident.rank(q, 5)
            lat.append(time.process_time() - cpu)
        ms = np.array(lat) * 1000
        out[name] = {"median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95))}
    return out


def _ci(r: dict, name: str) -> str:
    lo, hi = r[name + "_ci95"]
    return f"{r[name]:.3f} ({lo:.3f}–{hi:.3f})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--index", required=True, help="an index folder (folkclip index)")
    p.add_argument("--queries", type=int, default=QUERIES)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", type=int, default=100_000, help="tunes for latency (0: skip)")
    p.add_argument("--calibrate", action="store_true", help="fit the threshold and stop")
    p.add_argument("--no-similar", action="store_true", help="skip the similar baseline")
    p.add_argument("--scale-only", action="store_true", help="only the latency at --scale")
    p.add_argument("--similar-only", action="store_true",
                   help="only the other-version condition and its similar baseline")
    p.add_argument("--out", default="docs/results")
    args = p.parse_args(argv)
    from folkclip.eval.metrics import bootstrap_ci

    index = Path(args.index)
    ident, melodies, meta, stage_s = load(index)
    groups = np.asarray(ident.data.groups)
    files = np.array([m["source"] for m in meta])
    cal_mask, eval_mask = held_out_groups(groups, HELD_OUT_SHARE, np.random.default_rng(0))
    if args.calibrate:
        base = frozenset(np.nonzero(cal_mask | eval_mask)[0].tolist())
        conds = make_conditions(melodies, groups, files, cal_mask, base, args.seed + 1000,
                                args.queries)
        calibrate(ident, conds)
        return 0
    if args.scale_only:
        scale = scale_latency(melodies, groups, args.scale, args.seed)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "identify_scale.json").write_text(json.dumps(scale, indent=1))
        print("scale:", json.dumps(scale))
        return 0
    base = frozenset(np.nonzero(cal_mask | eval_mask)[0].tolist())
    conds = make_conditions(melodies, groups, files, eval_mask, base, args.seed, args.queries)
    results: dict = {"index": str(index), "tunes": len(groups), "seed": args.seed,
                     "identify_stage_s": round(stage_s, 2), "conditions": {}}
    for name, (qs, tr, ex) in conds.items():
        if args.similar_only and name != "other version":
            continue
        results["conditions"][name] = score_condition(ident, qs, tr, ex)
    ov = results["conditions"]["other version"]
    if not args.no_similar:
        qs, tr, ex = conds["other version"]
        sim = np.array(similar_baseline(index, qs, tr, ex, groups))
        ali = np.array(ov["rr"])
        s5, a5 = (sim >= 1 / 5).astype(float), np.array(ov["top5_hits"])
        ov["similar"] = {"mrr": float(sim.mean()), "mrr_ci95": bootstrap_ci(sim),
                         "top5": float(s5.mean()), "top5_ci95": bootstrap_ci(s5),
                         "mrr_diff": float((ali - sim).mean()),
                         "mrr_diff_ci95": bootstrap_ci(ali - sim),
                         "top5_diff": float((a5 - s5).mean()),
                         "top5_diff_ci95": bootstrap_ci(a5 - s5)}
    if args.scale and not args.similar_only:
        results["scale"] = scale_latency(melodies, groups, args.scale, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slim = {k: v for k, v in results.items() if k != "conditions"}
    slim["conditions"] = {n: {k: v for k, v in r.items() if k not in ("rr", "top5_hits")}
                          for n, r in results["conditions"].items()}
    (out / ("identify_similar.json" if args.similar_only else "identify.json")).write_text(json.dumps(slim, indent=1))
    print(f"index {index}: {len(groups)} tunes; identification stage {stage_s:.1f} s")
    print("| condition | queries | top-1 | top-5 | MRR | identified | no match | CPU ms |")
    print("|---|---:|---|---|---|---|---|---:|")
    for name, r in results["conditions"].items():
        if "top1" in r:
            print(f"| {name} | {r['n']} | {_ci(r, 'top1')} | {_ci(r, 'top5')} | {_ci(r, 'mrr')}"
                  f" | {_ci(r, 'identified')} | {_ci(r, 'no_match')} | "
                  f"{r['latency_ms']['median']:.0f} |")
        else:
            print(f"| {name} (false identification {_ci(r, 'false_identification')}) | "
                  f"{r['n']} | – | – | – | – | {_ci(r, 'no_match')} | "
                  f"{r['latency_ms']['median']:.0f} |")
    if "similar" in ov:
        s = ov["similar"]
        print(f"other version, today's similar: top-5 {_ci(s, 'top5')}, MRR {_ci(s, 'mrr')}; "
              f"alignment minus similar: top-5 {_ci(s, 'top5_diff')}, MRR "
              f"{_ci(s, 'mrr_diff')}")
    if "scale" in results:
        print("scale:", json.dumps(results["scale"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
