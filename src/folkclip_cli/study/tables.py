"""The study's tables and figures from its finished runs (parts 1, 2, 3 and 6), and the
folder that gathers them: ``tables/*.{csv,md}``, ``figures/*.png``, ``study.json`` and
``report.html`` (parts 4 and 5 come from :mod:`folkclip_cli.study.probing`).

Every comparison is paired query by query on the pooled cross-validation queries
(:func:`folkclip_cli.study.compare.summarise`): mean difference, paired bootstrap 95% CI,
permutation p-value, Holm-corrected over the rows of the table.
"""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from folkclip_cli.study.compare import GroupSummary, RunResult
    from folkclip_cli.study.plan import StudyPlan

KEYS = ("tune_to_title/mrr", "title_to_tune/mrr", "tune_to_title/ndcg@10",
        "title_to_tune/ndcg@10")
SHORT = {"tune_to_title/mrr": "tune→title MRR", "title_to_tune/mrr": "title→tune MRR",
         "tune_to_title/ndcg@10": "tune→title nDCG@10",
         "title_to_tune/ndcg@10": "title→tune nDCG@10"}


BASELINE_NOTE = (" Baseline rows (no training; `folkclip study --part baselines`): random "
                 "(the exact expectation of a random ranking), nearest-melody and linear "
                 "(n-gram and header features to title words); the Δ-vs-baseline columns "
                 "compare each row with the best baseline of that direction query by query "
                 "(paired bootstrap CI, permutation p, Holm over the rows).")


@dataclass
class Table:
    """One table of the study: Markdown text, its CSV and the command behind it."""

    stem: str
    title: str
    markdown: str
    csv: Path
    command: str
    note: str = ""
    figures: list[Path] = field(default_factory=list)
    data: dict = field(default_factory=dict)  # figures the README chapter quotes


def study_command(plan: StudyPlan) -> str:
    size = "" if plan.size == "small" or plan.quick else f" --size {plan.size}"
    return f"folkclip study{size} --out {plan.out}" + (" --quick" if plan.quick else "")


def train_command(plan: StudyPlan, label: str, config: str, base: list[str]) -> str:
    """The ``folkclip train`` line that trains (or resumes) run ``label`` alone."""
    from folkclip_cli.study.jobs import subprocess_command

    run = plan.run(label)
    cmd = subprocess_command(run, config, base, False, [],
                             0 if label in plan.single else plan.folds)
    return shlex.join(["folkclip", *cmd[3:]])


def finished(plan: StudyPlan, labels: list[str]) -> tuple[list[str], list[str]]:
    """``labels`` split into finished and missing runs."""
    done = [lbl for lbl in labels if (plan.run_dir(lbl) / "eval_test.json").exists()]
    return done, [lbl for lbl in labels if lbl not in done]


def run_results(plan: StudyPlan, labels: list[str]) -> list[RunResult]:
    """Every finished seed of the runs ``labels``."""
    from folkclip_cli.study.compare import read_run

    return [read_run(d, lbl) for lbl in labels for d in plan.seed_dirs(lbl)
            if (d / "eval_test.json").exists()]


def summarise_runs(plan: StudyPlan, labels: list[str], reference: str | None
                   ) -> list[GroupSummary]:
    from folkclip_cli.study.compare import summarise

    # every finished seed of a row: per-query Δ averaged over seeds, seed spread in seed_sd
    return summarise(run_results(plan, labels), reference if reference in labels else None,
                     KEYS)


def seed_columns(summary: list[GroupSummary], reference: str | None,
                 keys: tuple[str, ...] = KEYS) -> dict[str, dict[str, str]]:
    """When a row has several seeds: a ``seeds`` column and, with a reference, the seed
    spread (sd of the per-seed Δ of the first key); rows at one seed are marked ``1``.
    Empty when every row has one seed."""
    if not any(s.n > 1 for s in summary):
        return {}
    cols = {"seeds": {s.label: str(s.n) for s in summary}}
    if reference:
        sds = {s.label: s.seed_sd.get(keys[0], math.nan) for s in summary}
        cols[f"seed sd Δ {SHORT[keys[0]]}"] = {
            label: "—" if math.isnan(sd) else f"{sd:.4f}" for label, sd in sds.items()}
    return cols


def compact_markdown(summary: list[GroupSummary], first: str, reference: str | None,
                     extra: dict[str, dict[str, str]] | None = None,
                     keys: tuple[str, ...] = KEYS, references: frozenset = frozenset()) -> str:
    """Scores ± CI half-width, then per key the paired Δ ± CI and Holm p, then ``extra``
    columns (``{column: {label: cell}}``); ``references``: more rows without a Δ; then the
    :func:`seed_columns`."""
    from folkclip_cli.study.compare import _fmt, _fmt_p

    extra = {**(extra or {}), **seed_columns(summary, reference, keys)}
    head = [first, *(SHORT[k] for k in keys[:2])]
    if reference:
        for k in keys:
            head += [f"Δ {SHORT[k]}", "p (Holm)"]
    head += list(extra)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summary:
        cells = [s.label, *(_fmt(s.mean[k], *s.ci[k]) for k in keys[:2])]
        if reference:
            for k in keys:
                cells += (["—", "—"] if s.label in {reference, *references} or k not in s.delta else
                          [_fmt(s.delta[k], *s.delta_ci[k], signed=True), _fmt_p(s.p_holm[k])])
        cells += [col.get(s.label, "—") for col in extra.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_csv(summary: list[GroupSummary], path: Path, first: str,
                extra: dict[str, dict[str, str]] | None = None,
                reference: str | None = None) -> Path:
    """One row per group: every score with its CI, and the paired Δ, CI, p and Holm p,
    then ``extra`` and the :func:`seed_columns` (as in the Markdown table)."""
    import csv

    extra = {**(extra or {}), **seed_columns(summary, reference)}
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        head = [first]
        for k in KEYS:
            head += [k, f"{k} ci_low", f"{k} ci_high", f"delta {k}", f"delta {k} ci_low",
                     f"delta {k} ci_high", f"p {k}", f"p_holm {k}"]
        w.writerow(head + list(extra))
        for s in summary:
            row: list = [s.label]
            for k in KEYS:
                lo, hi = s.delta_ci.get(k, (math.nan, math.nan))
                row += [s.mean[k], *s.ci[k], s.delta.get(k, math.nan), lo, hi,
                        s.p.get(k, math.nan), s.p_holm.get(k, math.nan)]
            w.writerow(row + [col.get(s.label, "") for col in extra.values()])
    return path


def interval_plot(labels: list[str], series: list[tuple[str, list, list, list]], path: Path,
                  xlabel: str, title: str, reference: float = 0.0, spacing: float = 0.25,
                  row_height: float = 0.42) -> Path:
    """Points with horizontal 95% CI bars, one row per label and one marker per series
    ``(name, values, lows, highs)``, a line at ``reference``; saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6.4, row_height * len(labels) + 1.4))
    y = np.arange(len(labels))
    for j, (name, values, lows, highs) in enumerate(series):
        v, lo, hi = np.asarray(values), np.asarray(lows), np.asarray(highs)
        ax.errorbar(v, y + (j - (len(series) - 1) / 2) * spacing,
                    xerr=np.nan_to_num(np.vstack([v - lo, hi - v])), fmt="o", capsize=3,
                    label=name)
    ax.axvline(reference, color="0.4", lw=0.8)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def delta_plot(summary: list[GroupSummary], reference: str, path: Path, title: str,
               keys: tuple[str, ...] = ("tune_to_title/mrr", "title_to_tune/mrr")) -> Path:
    """Paired differences to ``reference`` with their 95% CIs, one row per group."""
    rows = [s for s in summary if s.label != reference and s.delta]
    series = [(SHORT[k], [s.delta[k] for s in rows], [s.delta_ci[k][0] for s in rows],
               [s.delta_ci[k][1] for s in rows]) for k in keys]
    return interval_plot([s.label for s in rows], series, path,
                         f"paired Δ vs {reference} (95% CI)", title)


def summary_table(plan: StudyPlan, stem: str, title: str, labels: list[str],
                  reference: str | None, first: str, base: list[str], config: str,
                  extra: dict[str, dict[str, str]] | None = None, note: str = "",
                  baselines: bool = True) -> Table:
    """Summarise the finished runs of ``labels`` into ``tables/<stem>.*`` (+ a Δ figure);
    with ``baselines`` (runs on the study's own data and folds), the baselines' rows and
    each run's Δ against the best baseline (:mod:`folkclip_cli.study.baseline_rows`)."""
    from folkclip_cli.study.baseline_rows import BaselineRows, baseline_rows
    from folkclip_cli.study.compare import summarise

    folder = plan.out
    done, missing = finished(plan, labels)
    if missing:
        note += f" Not finished yet (left out): {', '.join(missing)}."
    if not done:
        return Table(stem, title, "(no finished run yet)", folder / "tables" / f"{stem}.csv",
                     study_command(plan), note.strip())
    results = run_results(plan, done)
    ref = reference if reference in done else None
    summary = summarise(results, ref, KEYS)
    rows = baseline_rows(plan, results, KEYS) if baselines else BaselineRows()
    extra = {**(extra or {}), **rows.extra}
    if rows.rows:
        note += BASELINE_NOTE
    md = compact_markdown(summary + rows.rows, first, ref, extra, references=rows.labels)
    csv_path = summary_csv(summary + rows.rows, folder / "tables" / f"{stem}.csv", first, extra,
                           ref)
    runs_md = "\n".join(f"- `{lbl}`: `{train_command(plan, lbl, config, base)}`" for lbl in done)
    (folder / "tables" / f"{stem}.md").write_text(f"## {title}\n\n{md}\n\n{note.strip()}\n\n"
                                                  f"Command: `{study_command(plan)}`\n\n"
                                                  f"Runs:\n{runs_md}\n")
    figures = []
    if ref:
        figures.append(delta_plot(summary, ref, folder / "figures" / f"{stem}.png", title))
    data = {s.label: {"mean": s.mean, "ci": s.ci, "delta": s.delta, "delta_ci": s.delta_ci,
                      "p": s.p, "p_holm": s.p_holm} for s in summary + rows.rows}
    for label, vs in rows.data.items():
        data[label]["vs_best_baseline"] = vs
    return Table(stem, title, md, csv_path, study_command(plan), note.strip(), figures, data)


def learning_curve_plot(plan: StudyPlan, path: Path, key: str = "tune_to_title/mrr"
                        ) -> Path | None:
    """Pooled test score against the number of training tunes, one line per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    drawn = False
    for stem, by_share in plan.learning_curve.items():
        points = []
        for share, label in sorted(by_share.items()):
            m = plan.run_dir(label) / "eval_test.json"
            if m.exists():
                e = json.loads(m.read_text())
                lo, hi = e.get("ci95", {}).get(key, (math.nan, math.nan))
                points.append((train_tunes(plan, label), e[key], lo, hi))
        if points:
            xs, ys, lo, hi = zip(*points)
            ax.errorbar(xs, ys, yerr=[[y - a for y, a in zip(ys, lo)],
                                      [b - y for y, b in zip(ys, hi)]],
                        marker="o", capsize=3, label=stem)
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("titled training tunes per fold (mean over folds)")
    ax.set_ylabel(f"pooled test {SHORT[key]} (95% CI)")
    ax.set_title("Transfer and data size", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def train_tunes(plan: StudyPlan, label: str) -> float:
    """Mean number of training tunes over the folds of run ``label`` (from ``split.json``)."""
    from folkclip_cli.study.crossval import fold_dirs

    sizes = [len(json.loads((d / "split.json").read_text())["train"])
             for d in fold_dirs(plan.run_dir(label))]
    return sum(sizes) / len(sizes)


def transfer_table(plan: StudyPlan, base: list[str], config: str) -> Table:
    """Part 3: every transfer variant against the scratch model at the same data share."""
    from folkclip.eval.stats import holm
    from folkclip_cli.study.baseline_rows import baseline_rows

    folder = plan.out

    rows, missing = [], []
    scratch = plan.learning_curve.get("lm-scratch", {})
    for share in sorted({s for v in plan.learning_curve.values() for s in v}):
        labels = [v[share] for v in plan.learning_curve.values() if share in v]
        done, miss = finished(plan, labels)
        missing += miss
        if done:
            ref = scratch.get(share)
            rows += [(share, s) for s in summarise_runs(plan, done, ref)]
    if not rows:
        return Table("transfer", "Part 3", "(no finished run yet)", folder / "tables" /
                     "transfer.csv", study_command(plan))
    references = set(scratch.values())
    for key in KEYS:  # Holm over every comparison of the table, not per share
        tested = [s for _, s in rows if s.label not in references
                  and not math.isnan(s.p.get(key, math.nan))]
        for s, p in zip(tested, holm([s.p[key] for s in tested])):
            s.p_holm[key] = float(p)
        for _, s in rows:
            if s.label in references:  # the reference of its share: no difference to test
                s.p[key] = s.p_holm[key] = math.nan
    summary = [s for _, s in rows]
    base_rows = baseline_rows(plan, run_results(plan, [s.label for s in summary]), KEYS)
    extra = {"training share": {s.label: f"{round(share * 100)}%" for share, s in rows},
             "training tunes": {s.label: f"{train_tunes(plan, s.label):.0f}" for _, s in rows},
             **base_rows.extra}
    md = compact_markdown(summary + base_rows.rows, "variant", "lm-scratch", extra,
                          references=frozenset(scratch.values()) | base_rows.labels)
    csv_path = summary_csv(summary + base_rows.rows, folder / "tables" / "transfer.csv",
                           "variant", extra, "lm-scratch")
    note = ("Δ: paired difference to the scratch model (same architecture, no pretraining) "
            "at the same share of the training folds; Holm over every row and share. The "
            "melody LM of each fold is pretrained on that fold's whole training part only "
            "(titled or not; never its test fold), then transferred at every share: frozen "
            "(only the projection trains), top1 (its top layer trains) or fine-tuned.")
    if base_rows.rows:
        note += BASELINE_NOTE
    if missing:
        note += f" Not finished yet (left out): {', '.join(missing)}."
    (folder / "tables" / "transfer.md").write_text(
        f"## Transfer and data size\n\n{md}\n\n{note}\n\nCommand: `{study_command(plan)}`\n")
    figures = [p for p in [learning_curve_plot(plan, folder / "figures" / "learning_curve.png")]
               if p]
    data = {s.label: {"share": share, "mean": s.mean, "ci": s.ci, "delta": s.delta,
                      "delta_ci": s.delta_ci, "p_holm": s.p_holm} for share, s in rows}
    data.update({s.label: {"mean": s.mean, "ci": s.ci} for s in base_rows.rows})
    for label, vs in base_rows.data.items():
        data[label]["vs_best_baseline"] = vs
    return Table("transfer", "Transfer and data size", md, csv_path, study_command(plan), note,
                 figures, data)


def baselines_table(plan: StudyPlan) -> Table | None:
    """Part 4's baselines side by side, each paired with the best of them (by pooled
    tune → title MRR); ``None`` when the study has no baseline folder."""
    from folkclip_cli.study.baseline_rows import baseline_results, best_baseline
    from folkclip_cli.study.compare import summarise

    results = baseline_results(plan)
    if not results:
        return None
    best = best_baseline(results, KEYS[0])
    summary = summarise(results, best, KEYS)
    md = compact_markdown(summary, "baseline", best)
    path = plan.out / "tables" / "baselines.csv"
    summary_csv(summary, path, "baseline", reference=best)
    note = (f"No training. Δ: paired difference to {best} (the best pooled tune→title MRR) "
            "over the pooled test queries of every fold; Holm over the rows. Random is the "
            "exact expectation of a random ranking of each query's candidates.")
    command = f"{study_command(plan)} --part baselines"
    (plan.out / "tables" / "baselines.md").write_text(
        f"## Baselines\n\n{md}\n\n{note}\n\nCommand: `{command}`\n")
    data = {s.label: {"mean": s.mean, "ci": s.ci, "delta": s.delta, "delta_ci": s.delta_ci,
                      "p": s.p, "p_holm": s.p_holm} for s in summary}
    return Table("baselines", f"Baselines (no training; Δ vs {best})", md, path, command, note,
                 data=data)
