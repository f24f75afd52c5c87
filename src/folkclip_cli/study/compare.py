"""``folkclip compare``: finished runs side by side, grouped over seeds.

    folkclip compare RUN_DIR ... [--labels A B ...] [--reference LABEL] [--out DIR]

Each argument is a run folder (one with ``eval_test.json``; a cross-validation folder
counts as one run, its folds pooled) or a folder of run folders (the seeds of one variant,
e.g. ``runs/ablation/rhythm``). Runs are grouped by label: the folder name given, or for a
run folder named ``seed<N>`` its parent's name. For each group the table gives the mean
over seeds with a 95% confidence interval (Student t over seeds; with one seed, the run's
own bootstrap interval over queries).

Differences to the reference group are paired per query: each run's
``per_query_test.csv`` is averaged over the group's seeds query by query, the groups are
lined up on the queries both have, and the table gives the mean difference with a paired
bootstrap 95% CI and a paired permutation p-value, Holm-corrected across the rows of the
table (:mod:`folkclip.eval.stats`); the spread of the per-seed differences is a separate
column. Runs without per-query results fall back to a t-interval over paired seeds.
``--out`` receives ``compare.csv`` (one row per run), ``compare_paired.csv`` (one row per
group and metric), ``compare.md``, ``compare.json`` and ``compare.png``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from folkclip.errors import FolkclipError
from folkclip.eval.stats import mean_ci

# recall@k (share of the relevant items in the top k) and hit@k (any of them; the "R@k" of
# CLIP-style papers) are both shown: a tune has several titles, a title several tunes.
TABLE_KEYS = ("tune_to_title/mrr", "tune_to_title/ndcg@10", "tune_to_title/recall@10",
              "tune_to_title/hit@10", "title_to_tune/mrr", "title_to_tune/ndcg@10",
              "title_to_tune/recall@10", "title_to_tune/hit@10")
# Table key -> (direction, per-query column of per_query_test.csv)
_QUERY_COLUMN = {"mrr": "rr", "ndcg@10": "ndcg@10", "ndcg": "ndcg", "map": "ap",
                 "recall@10": "recall@10", "hit@10": "hit@10"}
_SEED_DIR = re.compile(r"seed\d+")


@dataclass
class RunResult:
    """One finished run: its group label, seed, folder and scalar test metrics."""

    label: str
    seed: int
    run: Path
    metrics: dict[str, float]
    ci95: dict[str, list[float]] = field(default_factory=dict)
    per_query: Path | None = None  # per_query_test.csv, when the run saved one


@dataclass
class GroupSummary:
    """Mean, 95% CI and difference to the reference, per table metric, of one group."""

    label: str
    n: int
    mean: dict[str, float]
    ci: dict[str, tuple[float, float]]
    delta: dict[str, float] = field(default_factory=dict)
    delta_ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    p: dict[str, float] = field(default_factory=dict)  # paired permutation p-value
    p_holm: dict[str, float] = field(default_factory=dict)  # Holm-corrected over the rows
    n_queries: dict[str, int] = field(default_factory=dict)  # queries paired (0: by seed)
    seed_sd: dict[str, float] = field(default_factory=dict)  # sd of per-seed differences


def read_run(run: Path, label: str | None = None) -> RunResult:
    """Read a finished run folder's test evaluation and seed.

    Raises:
        FolkclipError: When the folder holds no ``eval_test.json``.
    """
    from folkclip.io.runfiles import read_json
    from folkclip_cli.train.config import read_run_config

    path = run / "eval_test.json"
    if not path.exists():
        raise FolkclipError(f"{run} has no eval_test.json (not a finished two-tower run)")
    m = read_json(path)
    seed = int(read_run_config(run)["seed"]) if (run / "config.yaml").exists() else 0
    scalars = {k: float(v) for k, v in m.items()
               if "/" in k and isinstance(v, (int, float))}
    scalars.update({k: float(m[k]) for k in ("n_tunes", "n_titles") if k in m})
    if label is None:
        label = run.parent.name if _SEED_DIR.fullmatch(run.name) else run.name
    per_query = run / "per_query_test.csv"
    return RunResult(label, seed, run, scalars, m.get("ci95", {}),
                     per_query if per_query.exists() else None)


def collect(paths: list[str | Path], labels: list[str] | None = None) -> list[RunResult]:
    """The finished runs named by ``paths`` (run folders or folders of run folders).

    Raises:
        FolkclipError: For a path that holds no finished run, or a label count mismatch.
    """
    if labels is not None and len(labels) != len(paths):
        raise FolkclipError(f"{len(labels)} labels for {len(paths)} paths")
    results = []
    for k, p in enumerate(map(Path, paths)):
        label = labels[k] if labels else None
        if (p / "eval_test.json").exists():
            results.append(read_run(p, label))
            continue
        inner = sorted(d for d in p.glob("*/") if (d / "eval_test.json").exists()) \
            if p.is_dir() else []
        if not inner:
            raise FolkclipError(f"{p}: no finished run there (no eval_test.json in it or in "
                                "its subfolders)")
        results.extend(read_run(d, label or p.name) for d in inner)
    return results


def summarise(results: list[RunResult], reference: str | None = None,
              keys: tuple[str, ...] = TABLE_KEYS, seed: int = 0) -> list[GroupSummary]:
    """Group ``results`` by label (first-seen order) and summarise ``keys``.

    ``delta`` is each group's difference to the reference group, per query where every
    run of both groups saved per-query results (see the module docstring), else paired
    by seed (a t-interval; no p-value). ``p_holm`` corrects each key's p-values over the
    groups of the table.

    Raises:
        FolkclipError: When ``reference`` names no group.
    """
    groups: dict[str, list[RunResult]] = {}
    for r in results:
        groups.setdefault(r.label, []).append(r)
    if reference is not None and reference not in groups:
        raise FolkclipError(f"reference {reference!r} is not among {list(groups)}")
    out = []
    for label, runs in groups.items():
        s = GroupSummary(label, len(runs), {}, {})
        for key in keys:
            mean, lo, hi = mean_ci([r.metrics.get(key, math.nan) for r in runs])
            if len(runs) == 1 and key in runs[0].ci95:
                lo, hi = runs[0].ci95[key]
            s.mean[key], s.ci[key] = mean, (lo, hi)
        out.append(s)
    if reference is not None:
        _paired_deltas(out, groups, reference, keys, seed)
    return out


def _paired_deltas(out: list[GroupSummary], groups: dict[str, list[RunResult]],
                   reference: str, keys: tuple[str, ...], seed: int) -> None:
    from folkclip.eval.queries import paired_arrays, query_means, read_queries
    from folkclip.eval.stats import holm, paired_difference

    tables: dict[str, list] = {}
    for label, runs in groups.items():
        if all(r.per_query is not None for r in runs):
            tables[label] = [read_queries(r.per_query) for r in runs]
    ref_runs = {r.seed: r for r in groups[reference]}
    for s in out:
        for key in keys:
            by_seed = [r.metrics.get(key, math.nan) - ref_runs[r.seed].metrics.get(key, math.nan)
                       for r in groups[s.label] if r.seed in ref_runs]
            finite = [d for d in by_seed if math.isfinite(d)]  # old runs lack newer metrics
            s.seed_sd[key] = statistics.stdev(finite) if len(finite) > 1 else math.nan
            direction, metric = key.split("/")
            column = _QUERY_COLUMN.get(metric)
            if s.label in tables and reference in tables and column and all(
                    column in t.get(direction, {}) for t in tables[s.label] + tables[reference]):
                _, a, b = paired_arrays(query_means(tables[s.label], direction, column),
                                          query_means(tables[reference], direction, column))
                d = paired_difference(a, b, seed=seed)
                s.delta[key], s.delta_ci[key], s.p[key] = d.mean, (d.low, d.high), d.p
                s.n_queries[key] = d.n
            else:
                s.delta[key] = s.mean[key] - next(g for g in out if g.label == reference
                                                  ).mean[key]
                _, lo, hi = mean_ci(by_seed) if len(by_seed) > 1 else (0, math.nan, math.nan)
                s.delta_ci[key], s.p[key], s.n_queries[key] = (lo, hi), math.nan, 0
    others = [s for s in out if s.label != reference]
    for key in keys:
        for s, p in zip(others, holm([s.p[key] for s in others])):
            s.p_holm[key] = float(p)
    ref = next(s for s in out if s.label == reference)
    ref.p_holm = {key: math.nan for key in keys}


def _fmt(mean: float, lo: float, hi: float, signed: bool = False) -> str:
    text = f"{mean:+.3f}" if signed else f"{mean:.3f}"
    if math.isnan(lo):
        return text
    return f"{text} ± {(hi - lo) / 2:.3f}"


def _fmt_p(p: float) -> str:
    if math.isnan(p):
        return "—"
    return f"{p:.1e}" if p < 0.001 else f"{p:.3f}"


def _name(key: str) -> str:
    return (key.replace("tune_to_title/", "tune→title ").replace("title_to_tune/", "title→tune ")
            .replace("mrr", "MRR").replace("ndcg", "nDCG"))


def markdown_table(summary: list[GroupSummary], keys: tuple[str, ...] = TABLE_KEYS,
                   first_column: str = "run", reference: str | None = None) -> str:
    """A Markdown table: mean ± CI half-width per key; with a ``reference``, per key the
    paired Δ ± CI half-width and its Holm-corrected p, then the across-seed spread of the
    tune→title MRR difference."""
    names = [_name(k) for k in keys]
    has_delta = reference is not None and any(s.delta for s in summary)
    head = [first_column, "seeds", *names]
    if has_delta:
        for name in names:
            head += [f"Δ {name}", f"p {name} (Holm)"]
        head.append(f"seed sd of Δ {names[0]}")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summary:
        cells = [s.label, str(s.n), *(_fmt(s.mean[k], *s.ci[k]) for k in keys)]
        if has_delta and s.label == reference:
            cells += ["—"] * (2 * len(keys) + 1)
        elif has_delta:
            for k in keys:
                cells += [_fmt(s.delta[k], *s.delta_ci[k], signed=True), _fmt_p(s.p_holm[k])]
            sd = s.seed_sd[keys[0]]
            cells.append("—" if math.isnan(sd) else f"{sd:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_paired_csv(summary: list[GroupSummary], path: Path, first: str = "label") -> Path:
    """One row per (group, key) of the paired differences to the reference."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([first, "metric", "delta", "ci_low", "ci_high", "ci_half_width", "p",
                    "p_holm", "n_queries", "seed_sd"])
        for s in summary:
            for k, delta in s.delta.items():
                lo, hi = s.delta_ci[k]
                w.writerow([s.label, k, repr(delta), repr(lo), repr(hi), repr((hi - lo) / 2),
                            repr(s.p.get(k, math.nan)), repr(s.p_holm.get(k, math.nan)),
                            s.n_queries.get(k, 0), repr(s.seed_sd.get(k, math.nan))])
    return path


def write_csv(results: list[RunResult], path: Path, first: str = "label") -> Path:
    """One row per run: ``first`` (the label), ``seed``, every metric key, then ``run``."""
    keys = sorted({k for r in results for k in r.metrics})
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([first, "seed", *keys, "run"])
        for r in results:
            w.writerow([r.label, r.seed,
                        *(repr(r.metrics[k]) if k in r.metrics else "" for k in keys), r.run])
    return path


def bar_plot(summary: list[GroupSummary], path: Path, title: str = "",
             keys: tuple[str, ...] = ("tune_to_title/mrr", "title_to_tune/mrr")) -> Path:
    """Grouped bars of ``keys`` per group with 95% CI error bars, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.arange(len(summary))
    width = 0.8 / len(keys)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(summary) + 2), 3.6))
    for j, key in enumerate(keys):
        means = np.array([s.mean[key] for s in summary])
        lo = np.array([s.ci[key][0] for s in summary])
        hi = np.array([s.ci[key][1] for s in summary])
        err = np.nan_to_num(np.vstack([means - lo, hi - means]))
        ax.bar(x + (j - (len(keys) - 1) / 2) * width, means, width, yerr=err, capsize=3,
               label=key.replace("_to_", "→").replace("/", " "))
    ax.set_xticks(x, [s.label for s in summary], rotation=30, ha="right")
    ax.set_ylabel("test score (mean, 95% CI)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_summary(results: list[RunResult], out: Path, stem: str, reference: str | None,
                  first_column: str = "run", title: str = "") -> dict[str, Path]:
    """Write ``<stem>.csv``, ``<stem>.md``, ``<stem>.json`` and ``<stem>.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(results, reference)
    table = markdown_table(summary, first_column=first_column, reference=reference)
    paths = {"csv": write_csv(results, out / f"{stem}.csv", first_column),
             "md": out / f"{stem}.md", "json": out / f"{stem}.json"}
    note = "\n" + table_note(results, summary, reference)
    if reference is not None:
        paths["paired"] = write_paired_csv(summary, out / f"{stem}_paired.csv", first_column)
    paths["md"].write_text(table + "\n" + note + "\n")
    paths["json"].write_text(json.dumps(
        {"reference": reference, "groups": [s.__dict__ for s in summary]}, indent=1))
    try:
        paths["png"] = bar_plot(summary, out / f"{stem}.png", title)
    except ModuleNotFoundError:
        print("folkclip: matplotlib not installed; no plot written")
    return paths


def table_note(results: list[RunResult], summary: list[GroupSummary],
               reference: str | None) -> str:
    """The sentence under a table saying what its numbers are."""
    n = results[0].metrics
    pooled = " (cross-validation: every fold's test queries pooled)" \
        if (results[0].run / "cv.json").exists() else ""
    text = (f"Test: {int(n.get('n_tunes', 0))} tunes, {int(n.get('n_titles', 0))} distinct "
            f"titles{pooled}. Mean ± half-width of the 95% CI (t over seeds; one seed: "
            f"bootstrap over queries).")
    if reference is None:
        return text
    paired = [s.n_queries[k] for s in summary for k in s.n_queries if s.n_queries[k]]
    if paired:
        text += (f" Δ vs {reference}: mean per-query difference over the {min(paired)}–"
                 f"{max(paired)} queries both share (seeds averaged per query first), ± "
                 f"half-width of the paired bootstrap 95% CI; p: paired permutation test, "
                 f"Holm-corrected over the rows of each column; seed sd: spread of the "
                 f"per-seed differences.")
    else:
        text += f" Δ vs {reference}: paired by seed (t over seeds; no per-query results)."
    return text


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", help="run folders, or folders of seed run folders")
    p.add_argument("--labels", nargs="+", default=None, help="one label per path")
    p.add_argument("--reference", default=None, help="label to compute differences against")
    p.add_argument("--out", default=None, help="write compare.csv/.md/.json/.png here")


def main_from_args(args: argparse.Namespace) -> int:
    results = collect(args.runs, args.labels)
    summary = summarise(results, args.reference)
    print(markdown_table(summary, reference=args.reference))
    if args.out:
        paths = write_summary(results, Path(args.out), "compare", args.reference,
                              title="comparison")
        print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="folkclip compare", description=__doc__.split("\n")[0])
    add_arguments(p)
    return main_from_args(p.parse_args(argv))
