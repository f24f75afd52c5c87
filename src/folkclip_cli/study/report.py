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
import base64
import csv
import html
from pathlib import Path

from folkclip.errors import FolkclipError
from folkclip.eval.evaluation import METRIC_KEYS
from folkclip.io.runfiles import read_json

SUMMARY_STEMS = ("ablation", "sweep", "compare")
_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;
padding:3px 8px;font-size:13px;text-align:right}th{background:#f3f3f3}td:first-child,
th:first-child{text-align:left}pre{background:#f7f7f7;padding:.6em;overflow-x:auto;
font-size:12px}img{max-width:100%}h2{border-bottom:1px solid #ddd;padding-bottom:2px}
.grid{display:flex;flex-wrap:wrap;gap:1em}.grid>div{flex:1 1 480px}.muted{color:#777}"""


def _esc(x: object) -> str:
    return html.escape(str(x))


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def _table(header: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _num(x: object) -> str:
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def markdown_to_html(text: str) -> str:
    """The pipe tables of a Markdown text as HTML tables, other lines as paragraphs."""
    out, rows = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= {"-", ":"} for c in cells):
                rows.append(cells)
            continue
        if rows:
            out.append(_table(rows[0], rows[1:]))
            rows = []
        if line.strip():
            out.append(f"<p class=muted>{_esc(line)}</p>")
    return "\n".join(out)


# ------------------------------------------------------------------ run sections
def metrics_section(m: dict) -> str:
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
                 *(_num(r[f"{d}/{k}"]) for d in ("tune_to_title", "title_to_tune")
                   for k in ("mrr", "ndcg@10", "recall@10", "hit@10"))]
                for t, r in sorted(m.get("per_type", {}).items(), key=lambda kv: -kv[1]["n_tunes"])]
    head = ["type", "tunes", "titles"] + [f"{d} {k}" for d in ("tune→title", "title→tune")
                                          for k in ("MRR", "nDCG@10", "recall@10",
                                                    "hit@10")]
    return (f"<h2>Test metrics</h2><p>{m['n_tunes']} tunes, {m['n_titles']} distinct titles; "
            "95% bootstrap CIs over queries in brackets.</p>"
            + _table(["metric", "tune → title", "title → tune"], rows)
            + "<h3>Per tune type</h3>" + _table(head, per_type))


def curves_png(run: Path, out: Path) -> Path | None:
    """Plot ``logs/metrics.csv``: training loss by step, validation MRR by step."""
    path = run / "logs" / "metrics.csv"
    if not path.exists():
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = list(csv.DictReader(open(path)))
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


def tracking_section(run: Path) -> str:
    pred = run / "predictions"
    steps = sorted(pred.glob("step_*.csv"))
    if not steps:
        return ""
    parts = ["<h2>Predictions during training</h2>"]
    if (pred / "rank_trajectory.png").exists():
        parts.append(_img(pred / "rank_trajectory.png", "rank trajectories"))
    ranks: dict[str, dict[str, str]] = {}
    for f in steps:
        for r in csv.DictReader(open(f)):
            ranks.setdefault(r["tune"], {})[r["step"]] = r["true_rank"]
    names = [f.stem.split("_")[1].lstrip("0") or "0" for f in steps]
    rows = [[t, *(by.get(s, "") for s in names)] for t, by in ranks.items()]
    last = list(csv.DictReader(open(steps[-1])))
    parts.append("<p>Rank of the true title among all validation titles, per recorded "
                 "step:</p>" + _table(["tune", *(f"step {s}" for s in names)], rows))
    parts.append(f"<p>Top titles at step {names[-1]}:</p>" + _table(
        ["tune", "true rank", "1st", "2nd", "3rd"],
        [[r["tune"], r["true_rank"], r["top1"], r["top2"], r["top3"]] for r in last]))
    return "\n".join(parts)


def maps_section(run: Path, make: bool) -> str:
    folder = run / "map"
    if not (folder / "map_metrics.json").exists():
        if not make:
            return ""
        from folkclip_cli.study.maps import make_maps

        make_maps(run, folder)
    m = read_json(folder / "map_metrics.json")
    keys = ["silhouette_type", "knn_type_accuracy", "majority_type_share"]
    rows = [[k, _num(m.get(k)), _num(m.get(f"random_init_{k}")) if k != "majority_type_share"
             else ""] for k in keys]
    rows += [[f"titles/{k}", _num(m.get(f"titles/{k}")), _num(m.get(f"titles/random_init_{k}"))]
             for k in keys[:2]]
    imgs = "".join(f"<div>{_img(p, p.stem)}</div>" for p in sorted(folder.glob("*.png")))
    return (f"<h2>Embedding maps ({_esc(m.get('method'))}, {_esc(m.get('split'))} split)</h2>"
            f"<div class=grid>{imgs}</div>"
            + _table(["measure (by tune type)", "trained", "random init"], rows)
            + f"<p class=muted>Interactive version: {_esc(folder / 'map.html')}</p>")


def examples_section(run: Path, n: int) -> str:
    """The ``n`` best and worst predicted test tunes (rank of the true title)."""
    import numpy as np

    from folkclip.eval.evaluation import embed, rankings
    from folkclip_cli.study.evaluate import load_eval

    ctx = load_eval(run)
    es, tc = ctx.evalset, ctx.corpus
    tune_emb, title_emb = embed(ctx.model.model, tc, es, max_events=ctx.model.max_events,
                                ids=ctx.model.corpus_ids(tc))
    sims = tune_emb @ title_emb.T  # (N, M)
    order = np.argsort(-sims, axis=1, kind="stable")  # (N, M): for the top titles shown
    ranks = np.array(rankings(es, tune_emb, title_emb)["first_rank"])
    by_rank = np.argsort(ranks, kind="stable")

    def card(q: int) -> str:
        meta = tc.meta[es.tunes[q]]
        top = ", ".join(_esc(es.titles[t]) for t in order[q][:3])
        return (f"<h4>{_esc(meta['title'])} <span class=muted>({_esc(meta['type'])}, "
                f"{_esc(meta['key'])} {_esc(meta['mode'])}, {_esc(meta['meter'])}) — true title "
                f"ranked {ranks[q]} of {len(es.titles)}</span></h4><p>top titles: {top}</p>"
                f"<pre>{_esc(meta['abc'].strip())}</pre>")

    return ("<h2>Best predicted test tunes</h2>" + "".join(card(q) for q in by_rank[:n])
            + "<h2>Worst predicted test tunes</h2>" + "".join(card(q) for q in by_rank[::-1][:n]))


def run_report(run: Path, scratch: Path, make_maps: bool = True, examples: int = 5) -> str:
    """The HTML body for one run folder."""
    m = read_json(run / "eval_test.json")
    parts = [metrics_section(m)]
    curves = curves_png(run, scratch / f"{run.name}_curves.png")
    if curves:
        parts.append("<h2>Training curves</h2>" + _img(curves, "training curves"))
    parts += [tracking_section(run), maps_section(run, make_maps)]
    if examples:
        parts.append(examples_section(run, examples))
    parts.append(f"<h2>Config</h2><pre>{_esc((run / 'config.yaml').read_text())}</pre>")
    return "\n".join(p for p in parts if p)


def summary_report(folder: Path, stem: str, scratch: Path, make_maps: bool,
                   examples: int) -> str:
    """The HTML body for an ablation/sweep/compare folder."""
    parts = [markdown_to_html((folder / f"{stem}.md").read_text())]
    if (folder / f"{stem}.png").exists():
        parts.append(_img(folder / f"{stem}.png", stem))
    rows = list(csv.DictReader(open(folder / f"{stem}.csv")))
    first = next(iter(rows[0])) if rows else "run"
    keys = [k for k in ("tune_to_title/mrr", "tune_to_title/ndcg@10", "title_to_tune/mrr",
                        "title_to_tune/ndcg@10") if rows and k in rows[0]]
    parts.append("<h2>Every run</h2>" + _table(
        [first, "seed", *keys, "run"],
        [[r[first], r["seed"], *(f"{float(r[k]):.3f}" for k in keys), r["run"]] for r in rows]))
    if rows and (Path(rows[0]["run"]) / "eval_test.json").exists():
        run = Path(rows[0]["run"])
        parts.append(f"<h1>First run: {_esc(run)}</h1>"
                     + run_report(run, scratch, make_maps, examples))
    return "\n".join(parts)


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
        body = (summary_report(folder, stem, Path(tmp), make_maps, examples) if stem
                else run_report(folder, Path(tmp), make_maps, examples))
    title = f"folkclip {stem or 'run'} report: {folder}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"<!DOCTYPE html><html><head><meta charset=utf-8><title>{_esc(title)}"
                      f"</title><style>{_CSS}</style></head><body><h1>{_esc(title)}</h1>"
                      f"{body}</body></html>\n")
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
