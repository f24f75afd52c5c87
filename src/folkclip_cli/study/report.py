"""``folkclip report``: one self-contained HTML page about a run or an ablation.

    folkclip report RUN_DIR|ABLATION_DIR [--out report.html] [--no-maps] [--examples 5]

For a run: its config, test metrics with 95% CIs (both directions), the per-type
breakdown, training curves, the prediction-tracking trajectories, the embedding maps
(made with ``folkclip map`` into ``RUN_DIR/map`` when missing) and the best and worst
predicted test tunes with their top titles and ABC text. For a folder written by
``folkclip ablate``, ``sweep`` or ``compare``: its table and plot, every run's scores,
and the report of its first run. Images are inlined; the page needs no network.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from folkclip.errors import FolkclipError
from folkclip.eval.evaluation import METRIC_KEYS
from folkclip.io.runfiles import read_json
from folkclip_cli.pages import macro, png_data_uri, render

SUMMARY_STEMS = ("ablation", "sweep", "compare")


def _num(x: object) -> str:
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def markdown_blocks(text: str) -> list[dict]:
    """The pipe tables of a Markdown text and its other lines, as blocks for the template.

    Returns:
        ``{"kind": "table", "header": [...], "rows": [[...]]}`` per table and
        ``{"kind": "p", "text": ...}`` per other non-empty line, in order.
    """
    out: list[dict] = []
    rows: list[list[str]] = []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= {"-", ":"} for c in cells):
                rows.append(cells)
            continue
        if rows:
            out.append({"kind": "table", "header": rows[0], "rows": rows[1:]})
            rows = []
        if line.strip():
            out.append({"kind": "p", "text": line})
    return out


def markdown_to_html(text: str) -> str:
    """The pipe tables of a Markdown text as HTML tables, other lines as paragraphs."""
    return str(macro("macros.html", "markdown")(markdown_blocks(text))).strip()


# ------------------------------------------------------------------ run sections
def metrics_section(m: dict) -> dict:
    """The test metrics table (with CIs) and the per-type breakdown, as template data."""
    rows = []
    for key in METRIC_KEYS:
        row: list[object] = [key]
        for d in ("tune_to_title", "title_to_tune"):
            k = f"{d}/{key}"
            ci = m.get("ci95", {}).get(k)
            row.append(f"{m[k]:.3f}" + (f" ({ci[0]:.3f}–{ci[1]:.3f})" if ci else "")
                       if k in m else "")
        rows.append(row)
    per_type = [[t, r["n_tunes"], r["n_titles"],
                 *(_num(r.get(f"{d}/{k}")) for d in ("tune_to_title", "title_to_tune")
                   for k in ("mrr", "ndcg@10", "recall@10", "hit@10"))]
                for t, r in sorted(m.get("per_type", {}).items(), key=lambda kv: -kv[1]["n_tunes"])]
    head = ["type", "tunes", "titles"] + [f"{d} {k}" for d in ("tune→title", "title→tune")
                                          for k in ("MRR", "nDCG@10", "recall@10",
                                                    "hit@10")]
    return {"n_tunes": m["n_tunes"], "n_titles": m["n_titles"], "rows": rows,
            "per_type_head": head, "per_type": per_type}


def curves_png(run: Path, out: Path) -> Path | None:
    """Plot ``logs/metrics.csv``: training loss by step, validation MRR by step."""
    path = run / "logs" / "metrics.csv"
    if not path.exists():
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = list(csv.DictReader(path.read_text().splitlines()))
    series: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        for k, v in r.items():
            if v and k not in ("epoch", "step") and (k == "train/loss" or k.startswith("val/")):
                series.setdefault(k, []).append((int(r["step"]), float(v)))
    if not series:
        return None
    fig = Figure(figsize=(9, 3.2))
    FigureCanvasAgg(fig)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for k, pts in series.items():
        ax = left if k.endswith("loss") else right
        ax.plot(*zip(*pts), marker="." if len(pts) < 50 else None, label=k)
    for ax, title in ((left, "loss"), (right, "validation")):
        ax.set_xlabel("step")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out


def tracking_section(run: Path) -> dict | None:
    """Rank trajectories of the tracked validation tunes, as template data."""
    pred = run / "predictions"
    steps = sorted(pred.glob("step_*.csv"))
    if not steps:
        return None
    traj = pred / "rank_trajectory.png"
    ranks: dict[str, dict[str, str]] = {}
    for f in steps:
        for r in csv.DictReader(f.read_text().splitlines()):
            ranks.setdefault(r["tune"], {})[r["step"]] = r["true_rank"]
    names = [f.stem.split("_")[1].lstrip("0") or "0" for f in steps]
    last = list(csv.DictReader(steps[-1].read_text().splitlines()))
    return {"trajectory": png_data_uri(traj) if traj.exists() else None,
            "steps": [f"step {s}" for s in names],
            "rows": [[t, *(by.get(s, "") for s in names)] for t, by in ranks.items()],
            "last_step": names[-1],
            "last": [[r["tune"], r["true_rank"], r["top1"], r["top2"], r["top3"]]
                     for r in last]}


def maps_section(run: Path, make: bool) -> dict | None:
    """The run's embedding maps (made when missing and ``make``), as template data."""
    folder = run / "map"
    if not (folder / "map_metrics.json").exists():
        if not make:
            return None
        from folkclip_cli.study.maps import make_maps

        make_maps(run, folder)
    m = read_json(folder / "map_metrics.json")
    keys = ["silhouette_type", "knn_type_accuracy", "majority_type_share"]
    rows = [[k, _num(m.get(k)), _num(m.get(f"random_init_{k}")) if k != "majority_type_share"
             else ""] for k in keys]
    rows += [[f"titles/{k}", _num(m.get(f"titles/{k}")), _num(m.get(f"titles/random_init_{k}"))]
             for k in keys[:2]]
    return {"method": m.get("method"), "split": m.get("split"), "rows": rows,
            "images": [(p.stem, png_data_uri(p)) for p in sorted(folder.glob("*.png"))],
            "page": str(folder / "map.html")}


def examples_section(run: Path, n: int) -> dict:
    """The ``n`` best and worst predicted test tunes (rank of the true title)."""
    import numpy as np

    from folkclip.eval.evaluation import embed, rankings
    from folkclip_cli.study.runs import load_eval

    ctx = load_eval(run)
    es, tc = ctx.evalset, ctx.corpus
    tune_emb, title_emb = embed(ctx.model.model, tc, es, max_events=ctx.model.max_events,
                                ids=ctx.model.corpus_ids(tc))
    sims = tune_emb @ title_emb.T  # (N, M)
    order = np.argsort(-sims, axis=1, kind="stable")  # (N, M): for the top titles shown
    ranks = np.array(rankings(es, tune_emb, title_emb)["first_rank"])
    by_rank = np.argsort(ranks, kind="stable")

    def card(q: int) -> dict:
        meta = tc.meta[es.tunes[q]]
        return {"title": meta["title"], "type": meta["type"], "key": meta["key"],
                "mode": meta["mode"], "meter": meta["meter"], "rank": int(ranks[q]),
                "top": [es.titles[t] for t in order[q][:3]], "abc": meta["abc"].strip()}

    return {"n_titles": len(es.titles), "best": [card(q) for q in by_rank[:n]],
            "worst": [card(q) for q in by_rank[::-1][:n]]}


def run_report(run: Path, scratch: Path, make_maps: bool = True, examples: int = 5) -> dict:
    """The template data for one run folder."""
    curves = curves_png(run, scratch / f"{run.name}_curves.png")
    return {"metrics": metrics_section(read_json(run / "eval_test.json")),
            "curves": png_data_uri(curves) if curves else None,
            "tracking": tracking_section(run), "maps": maps_section(run, make_maps),
            "examples": examples_section(run, examples) if examples else None,
            "config": (run / "config.yaml").read_text()}


def summary_report(folder: Path, stem: str, scratch: Path, make_maps: bool,
                   examples: int) -> dict:
    """The template data for an ablation/sweep/compare folder."""
    plot = folder / f"{stem}.png"
    rows = list(csv.DictReader((folder / f"{stem}.csv").read_text().splitlines()))
    first = next(iter(rows[0])) if rows else "run"
    keys = [k for k in ("tune_to_title/mrr", "tune_to_title/ndcg@10", "title_to_tune/mrr",
                        "title_to_tune/ndcg@10") if rows and k in rows[0]]
    out = {"markdown": markdown_blocks((folder / f"{stem}.md").read_text()), "stem": stem,
           "plot": png_data_uri(plot) if plot.exists() else None,
           "header": [first, "seed", *keys, "run"],
           "rows": [[r[first], r["seed"], *(f"{float(r[k]):.3f}" for k in keys), r["run"]]
                    for r in rows],
           "first_run": None, "run": None}
    if rows and (Path(rows[0]["run"]) / "eval_test.json").exists():
        run = Path(rows[0]["run"])
        out.update(first_run=str(run), run=run_report(run, scratch, make_maps, examples))
    return out


def build_report(path: str | Path, out: str | Path | None = None, make_maps: bool = True,
                 examples: int = 5) -> Path:
    """Write the report of a run or ablation/sweep/compare folder; return its path.

    Raises:
        FolkclipError: When ``path`` is neither a finished run nor a summary folder.
    """
    import tempfile

    folder = Path(path)
    stem = next((s for s in SUMMARY_STEMS if (folder / f"{s}.md").exists()), None)
    if stem is None and not (folder / "eval_test.json").exists():
        raise FolkclipError(f"{folder}: neither a finished run (eval_test.json) nor a folder "
                            "written by folkclip ablate/sweep/compare")
    target = Path(out) if out else folder / "report.html"
    with tempfile.TemporaryDirectory() as tmp:
        summary = summary_report(folder, stem, Path(tmp), make_maps, examples) if stem else None
        run = None if stem else run_report(folder, Path(tmp), make_maps, examples)
    title = f"folkclip {stem or 'run'} report: {folder}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render("report.html", title=title, summary=summary, run=run),
                      encoding="utf-8")
    return target


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="a run folder, or a folder from folkclip ablate/sweep/compare")
    p.add_argument("--out", default=None, help="HTML file (default: PATH/report.html)")
    p.add_argument("--no-maps", action="store_true", help="do not compute missing maps")
    p.add_argument("--examples", type=int, default=5, help="best and worst tunes to show")


def main_from_args(args: argparse.Namespace) -> int:
    path = build_report(args.path, args.out, not args.no_maps, args.examples)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="folkclip report", description=__doc__.split("\n")[0])
    add_arguments(p)
    return main_from_args(p.parse_args(argv))
