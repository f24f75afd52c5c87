"""``folkclip compare``: finished runs side by side, grouped over seeds.

    folkclip compare RUN_DIR ... [--labels A B ...] [--reference LABEL] [--out DIR]

Each argument is a run folder (one with ``eval_test.json``) or a folder of run folders
(the seeds of one variant, e.g. ``runs/ablation/rhythm``). Runs are grouped by label: the
folder name given, or for a run folder named ``seed<N>`` its parent's name. For each group
the table gives the mean over seeds with a 95% confidence interval (Student t over seeds;
with one seed, the run's own bootstrap interval over queries) and the difference to the
reference group (paired by seed where both have it). ``--out`` receives ``compare.csv``
(one row per run), ``compare.md`` and ``compare.png`` (bars with error bars).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from folkclip.errors import FolkclipError

# recall@k (share of the relevant items in the top k) and hit@k (any of them; the "R@k" of
# CLIP-style papers) are both shown: a tune has several titles, a title several tunes.
TABLE_KEYS = ("tune_to_title/mrr", "tune_to_title/ndcg@10", "tune_to_title/recall@10",
              "tune_to_title/hit@10", "title_to_tune/mrr", "title_to_tune/ndcg@10",
              "title_to_tune/recall@10", "title_to_tune/hit@10")
# Two-sided 95% Student t quantiles by degrees of freedom (1..30); beyond that, normal.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_SEED_DIR = re.compile(r"seed\d+")


@dataclass
class RunResult:
    """One finished run: its group label, seed, folder and scalar test metrics."""

    label: str
    seed: int
    run: Path
    metrics: dict[str, float]
    ci95: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class GroupSummary:
    """Mean, 95% CI and difference to the reference, per table metric, of one group."""

    label: str
    n: int
    mean: dict[str, float]
    ci: dict[str, tuple[float, float]]
    delta: dict[str, float] = field(default_factory=dict)
    delta_ci: dict[str, tuple[float, float]] = field(default_factory=dict)


def t_quantile(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError("df must be >= 1")
    return _T975[df - 1] if df <= len(_T975) else 1.96


def mean_ci(values: list[float]) -> tuple[float, float, float]:
    """Mean and two-sided 95% t-interval of ``values`` (NaN bounds for a single value)."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = sum(values) / n
    if n == 1:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


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
    return RunResult(label, seed, run, scalars, m.get("ci95", {}))


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
              keys: tuple[str, ...] = TABLE_KEYS) -> list[GroupSummary]:
    """Group ``results`` by label (first-seen order) and summarise ``keys``.

    ``delta`` is each group's mean minus the reference group's; its interval is a paired
    t-interval over the seeds both groups ran (none with fewer than two such seeds).

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
        ref_runs = {r.seed: r for r in groups[reference]}
        ref = next(s for s in out if s.label == reference)
        for s in out:
            for key in keys:
                s.delta[key] = s.mean[key] - ref.mean[key]
                diffs = [r.metrics.get(key, math.nan) - ref_runs[r.seed].metrics.get(key, math.nan)
                         for r in groups[s.label] if r.seed in ref_runs]
                _, lo, hi = mean_ci(diffs) if len(diffs) > 1 else (0, math.nan, math.nan)
                s.delta_ci[key] = (lo, hi)
    return out


def _fmt(mean: float, lo: float, hi: float, signed: bool = False) -> str:
    text = f"{mean:+.3f}" if signed else f"{mean:.3f}"
    if math.isnan(lo):
        return text
    return f"{text} ± {(hi - lo) / 2:.3f}"


def markdown_table(summary: list[GroupSummary], keys: tuple[str, ...] = TABLE_KEYS,
                   first_column: str = "run", reference: str | None = None) -> str:
    """A Markdown table: mean ± CI half-width per key, then Δ-to-``reference`` columns."""
    names = [k.replace("tune_to_title/", "tune→title ").replace("title_to_tune/", "title→tune ")
             .replace("mrr", "MRR").replace("ndcg", "nDCG") for k in keys]
    has_delta = reference is not None and any(s.delta for s in summary)
    head = [first_column, "seeds", *names]
    if has_delta:
        head += [f"Δ {names[k]}" for k in range(len(keys)) if keys[k].endswith("mrr")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summary:
        cells = [s.label, str(s.n), *(_fmt(s.mean[k], *s.ci[k]) for k in keys)]
        if has_delta:
            cells += [_fmt(s.delta[k], *s.delta_ci[k], signed=True) if s.label != reference
                      else "—" for k in keys if k.endswith("mrr")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
    n = results[0].metrics
    note = (f"\nTest split: {int(n.get('n_tunes', 0))} tunes, {int(n.get('n_titles', 0))} "
            f"distinct titles. Mean ± half-width of the 95% CI (t over seeds; one seed: "
            f"bootstrap over queries)" + (f"; Δ vs {reference}, paired by seed." if reference
                                         else "."))
    paths = {"csv": write_csv(results, out / f"{stem}.csv", first_column),
             "md": out / f"{stem}.md", "json": out / f"{stem}.json"}
    paths["md"].write_text(table + "\n" + note + "\n")
    paths["json"].write_text(json.dumps(
        {"reference": reference, "groups": [s.__dict__ for s in summary]}, indent=1))
    try:
        paths["png"] = bar_plot(summary, out / f"{stem}.png", title)
    except ModuleNotFoundError:
        print("folkclip: matplotlib not installed; no plot written")
    return paths


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
