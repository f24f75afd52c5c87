"""The tables of ``folkclip bits``: bits per condition, paired differences, scale.

Written to ``OUT/tables/bits.md`` (the README's table), ``bits.csv`` (one row per
condition and per comparison) and ``bits.json`` (everything, with the folds each
condition finished).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from folkclip.abc.titles import title_key
from folkclip.eval.bits import compare, per_tune
from folkclip.eval.stats import bootstrap_mean_ci

BASELINES = (("unigram_bits", "character unigram, add-one (no tune input)"),
             ("bigram_bits", "character bigram, add-one (no tune input)"))


def read_rows(out: Path, label: str, folds: int) -> tuple[list[dict], list[int]]:
    """The bits rows of every finished fold of condition ``label`` and those folds."""
    rows, done = [], []
    for k in range(folds):
        path = out / "runs" / label / f"fold{k}" / "bits_test.csv"
        if not (path.exists() and path.with_name("bits.json").exists()):
            continue
        with open(path, newline="") as fh:
            rows += [dict(r, fold=k) for r in csv.DictReader(fh)]
        done.append(k)
    return rows, done


def comparisons(labels: list[str]) -> list[tuple[str, str, str]]:
    """(row name, first, second) of the table's paired differences."""
    pairs = [("none - header (what the header tells)", "none", "header"),
             ("header - melody (what the notes add beyond the header)", "header", "melody"),
             ("none - melody (header and notes together)", "none", "melody")]
    pairs += [(f"(melody without {lbl[len('melody-'):]}) - melody (what it adds)", lbl,
               "melody") for lbl in labels if lbl.startswith("melody-")]
    return pairs


def _condition_row(label: str, rows: list[dict], done: list[int], column: str = "bits"
                   ) -> dict:
    table = per_tune([dict(r, bits=r[column]) for r in rows])
    values = np.array([v[0] for v in table.values()], dtype=np.float64)
    low, high = bootstrap_mean_ci(values, seed=0) if len(values) else (math.nan, math.nan)
    bits = np.array([float(r[column]) for r in rows])
    symbols = np.array([int(r["chars"]) + 1 for r in rows])
    return {"condition": label, "folds": done, "n_tunes": len(table), "n_titles": len(rows),
            "bits_per_title": float(values.mean()) if len(values) else math.nan,
            "ci_low": low, "ci_high": high,
            "bits_per_char": float(np.mean([v[1] for v in table.values()])) if table
            else math.nan,
            "bits_per_char_pooled": float(bits.sum() / symbols.sum()) if len(rows) else math.nan}


def write_tables(out: Path, labels: list[str], folds: int, seed: int = 0) -> dict:
    """Read every finished fold of ``labels`` under ``out`` and write the tables.

    Returns:
        ``conditions`` (one row per condition and n-gram baseline), ``comparisons``
        (paired differences with CIs and Holm p) and ``scale`` (entropy estimates).
    """
    found = {lbl: read_rows(out, lbl, folds) for lbl in labels}
    found = {lbl: v for lbl, v in found.items() if v[0]}
    cond_rows = [_condition_row(lbl, rows, done) for lbl, (rows, done) in found.items()]
    any_rows, any_done = next(iter(found.values()), ([], []))
    cond_rows += [dict(_condition_row(name, any_rows, any_done, col), condition=name)
                  for col, name in BASELINES if any_rows]
    tables = {lbl: per_tune(rows) for lbl, (rows, _) in found.items()}
    comp = compare(tables, comparisons(list(found)), seed=seed)
    keys = {title_key(r["title"]) for r in any_rows}
    scale = {"distinct_titles": len(keys),
             "log2_distinct_titles": math.log2(len(keys)) if keys else math.nan,
             "entropy_estimate_bits": next((r["bits_per_title"] for r in cond_rows
                                            if r["condition"] == "none"), math.nan)}
    result = {"folds": folds, "conditions": cond_rows, "comparisons": comp, "scale": scale}
    folder = out / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bits.json").write_text(json.dumps(result, indent=1))
    _write_csv(folder / "bits.csv", cond_rows, comp)
    (folder / "bits.md").write_text(markdown(result))
    return result


def _write_csv(path: Path, cond_rows: list[dict], comp: list[dict]) -> None:
    fields = ["kind", "name", "n_tunes", "value", "ci_low", "ci_high", "p", "p_holm",
              "per_char"]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for r in cond_rows:
            w.writerow({"kind": "bits", "name": r["condition"], "n_tunes": r["n_tunes"],
                        "value": r["bits_per_title"], "ci_low": r["ci_low"],
                        "ci_high": r["ci_high"], "per_char": r["bits_per_char"]})
        for r in comp:
            w.writerow({"kind": "delta", "name": r["comparison"], "n_tunes": r["n_tunes"],
                        "value": r["delta_bits"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                        "p": r["p"], "p_holm": r["p_holm"],
                        "per_char": r["delta_bits_per_char"]})


def _p(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.4f}" if value >= 1e-4 else "< 0.0001"


def markdown(result: dict) -> str:
    """The README's tables: conditions, paired differences, scale."""
    lines = ["| condition | folds | tunes | titles | bits per title (95% CI) | bits per character |",
             "|---|---|---|---|---|---|"]
    for r in result["conditions"]:
        lines.append(f"| {r['condition']} | {len(r['folds'])}/{result['folds']} | {r['n_tunes']} "
                     f"| {r['n_titles']} | {r['bits_per_title']:.2f} ({r['ci_low']:.2f} to "
                     f"{r['ci_high']:.2f}) | {r['bits_per_char']:.3f} |")
    lines += ["", "| paired per-tune difference | tunes | Δ bits per title (95% CI) | p | Holm p "
              "| Δ bits per character |", "|---|---|---|---|---|---|"]
    for r in result["comparisons"]:
        lines.append(f"| {r['comparison']} | {r['n_tunes']} | {r['delta_bits']:+.2f} "
                     f"({r['ci_low']:+.2f} to {r['ci_high']:+.2f}) | {_p(r['p'])} | "
                     f"{_p(r['p_holm'])} | {r['delta_bits_per_char']:+.4f} |")
    s = result["scale"]
    lines += ["", f"Scale: {s['distinct_titles']} distinct titles (log2 = "
              f"{s['log2_distinct_titles']:.1f} bits to pick one uniformly); the unconditional "
              f"model's cross-entropy, an estimate from above of the title entropy, is "
              f"{s['entropy_estimate_bits']:.1f} bits per title."]
    return "\n".join(lines) + "\n"
