"""``folkclip map``: 2-D maps of a run's tune and title embeddings, coloured by tune type.

    folkclip map RUN_DIR [--data SOURCE ...] [--split test|validation|train|all]
                 [--method pca|tsne|umap] [--color type|meter|mode|key] [--out DIR] [--seed S]

Writes ``tunes_<method>.png``, ``titles_<method>.png``, ``map.html`` (one self-contained
page: hover a point for title, type, key and meter; click a legend entry to hide its
group) and ``map_metrics.json`` into ``--out`` (default ``RUN_DIR/map``). A title is
drawn with the attributes of its first tune in the evaluated set.

The metrics -- silhouette by tune type and leave-one-out 10-NN tune-type accuracy -- are
computed in the full embedding space with cosine distance, not in the 2-D projection,
for the trained model and for an untrained model of the same architecture. Tunes of
unknown type are drawn but left out of the metrics.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from folkclip.abc.titles import UNKNOWN_TYPE
from folkclip.errors import FolkclipError
from folkclip.eval.cluster import knn_accuracy, majority_share, silhouette

if TYPE_CHECKING:
    from folkclip.data.dataset import TokenizedCorpus
    from folkclip.eval.evaluation import EvalSet

METHODS = ("pca", "tsne", "umap")
COLORS = ("type", "meter", "mode", "key")
KNN_K = 10
# tab20 without its greys; grey is kept for unknown values and lumped-together groups
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
           "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5")
GREY = "#b0b0b0"
OTHER = "(other)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir")
    p.add_argument("--data", nargs="+", default=None, help="map these sources instead")
    p.add_argument("--split", choices=("test", "validation", "train", "all"), default=None)
    p.add_argument("--method", choices=METHODS, default="pca", help="2-D projection")
    p.add_argument("--color", choices=COLORS, default="type", help="colour points by this")
    p.add_argument("--out", default=None, help="output folder (default RUN_DIR/map)")
    p.add_argument("--seed", type=int, default=0, help="seed of the projection and random init")


def _umap() -> object:
    """The umap module (umap-learn), or a FolkclipError with the pip hint."""
    try:
        import umap
    except ModuleNotFoundError as err:
        raise FolkclipError("--method umap needs umap-learn: pip install 'folkclip[umap]'") \
            from err
    return umap


def project(emb: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """Project embeddings to 2-D.

    Args:
        emb: (N, D) embeddings.
        method: ``pca`` (numpy SVD), ``tsne`` (scikit-learn, cosine metric; PCA below
            four points) or ``umap`` (umap-learn, cosine metric).
        seed: Random seed of t-SNE / UMAP.

    Returns:
        (N, 2) coordinates.

    Raises:
        FolkclipError: For an unknown method, or ``umap`` without umap-learn installed.
    """
    x = np.asarray(emb, dtype=np.float64)
    n = len(x)
    if method not in METHODS:
        raise FolkclipError(f"unknown --method {method!r}; choose from {', '.join(METHODS)}")
    umap = _umap() if method == "umap" else None
    if method == "pca" or n < 4:
        out = np.zeros((n, 2))
        if n < 2:
            return out
        centred = x - x.mean(0)  # (N, D)
        u, s, vt = np.linalg.svd(centred, full_matrices=False)
        m = min(2, len(s))
        signs = np.sign(vt[np.arange(m), np.abs(vt[:m]).argmax(1)])  # as sklearn's svd_flip
        out[:, :m] = u[:, :m] * s[:m] * np.where(signs == 0, 1.0, signs)
        return out
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, (n - 1) / 3))
        tsne = TSNE(n_components=2, perplexity=perplexity, metric="cosine", init="pca",
                    random_state=seed)
        return tsne.fit_transform(x.astype(np.float32)).astype(np.float64)
    reducer = umap.UMAP(n_components=2, metric="cosine", n_neighbors=min(15, n - 1),
                        random_state=seed)
    return np.asarray(reducer.fit_transform(x), dtype=np.float64)


def _tune_info(tc: TokenizedCorpus, es: EvalSet) -> list[dict[str, str]]:
    """Per evaluated tune: the strings shown on hover and used for colour."""
    out = []
    for i in es.tunes:
        m = tc.meta[i]
        mode = m.get("mode") or "unknown"
        key = f"{m['key']} {mode}" if m.get("key") else "unknown"
        out.append({"title": m["title"], "type": m["type"] or UNKNOWN_TYPE, "key": key,
                    "mode": mode, "meter": m.get("meter") or "unknown"})
    return out


def _title_info(es: EvalSet, tunes: list[dict[str, str]]) -> list[dict[str, str]]:
    """Per distinct title: its own text, the other attributes of its first tune."""
    return [{**tunes[ts[0]], "title": t} for t, ts in zip(es.titles, es.title_tunes)]


def _groups(values: list[str]) -> tuple[list[str], np.ndarray, list[str]]:
    """Group names (most frequent first, unknown last), (N,) group codes, colour per group."""
    counts = Counter(values)
    names = sorted(counts, key=lambda v: (v == "unknown", -counts[v], v))
    if len(names) > len(PALETTE):  # lump the rarest together
        keep = [v for v in names if v != "unknown"][: len(PALETTE) - 1]
        names = keep + [OTHER] + (["unknown"] if "unknown" in counts else [])
    index = {v: g for g, v in enumerate(names)}
    codes = np.array([index.get(v, index.get(OTHER, 0)) for v in values], dtype=np.int64)
    colors = [GREY if v in ("unknown", OTHER) else PALETTE[g % len(PALETTE)]
              for g, v in enumerate(names)]
    return names, codes, colors


def type_metrics(emb: np.ndarray, types: list[str], k: int = KNN_K) -> dict[str, float]:
    """Silhouette and leave-one-out k-NN accuracy by type, over items of known type."""
    known = [i for i, t in enumerate(types) if t != UNKNOWN_TYPE]
    e, t = emb[known], [types[i] for i in known]
    return {"silhouette_type": silhouette(e, t), "knn_type_accuracy": knn_accuracy(e, t, k)}


def type_clustering(tunes: list[dict[str, str]], titles: list[dict[str, str]],
                    trained: tuple[np.ndarray, np.ndarray],
                    untrained: tuple[np.ndarray, np.ndarray]) -> dict:
    """How tune types cluster in the tune and title embeddings of the trained model and of
    the same architecture untrained (``random_init_`` keys), next to the majority share;
    tunes and titles of unknown type are left out."""
    tune_types = [t["type"] for t in tunes]
    title_types = [t["type"] for t in titles]
    typed = [t for t in tune_types if t != UNKNOWN_TYPE]
    typed_titles = [t for t in title_types if t != UNKNOWN_TYPE]
    counts = Counter(typed)
    return {
        "n_tunes": len(typed), "n_tunes_untyped": len(tunes) - len(typed),
        "n_types": len(counts), "types": dict(counts.most_common()),
        "majority_type_share": majority_share(typed),
        **type_metrics(trained[0], tune_types),
        **{f"random_init_{k}": v for k, v in type_metrics(untrained[0], tune_types).items()},
        "titles/n_titles": len(typed_titles),
        "titles/n_titles_untyped": len(titles) - len(typed_titles),
        "titles/majority_type_share": majority_share(typed_titles),
        **{f"titles/{k}": v for k, v in type_metrics(trained[1], title_types).items()},
        **{f"titles/random_init_{k}": v
           for k, v in type_metrics(untrained[1], title_types).items()},
    }


def make_maps(run_dir: str | Path, out_dir: str | Path | None = None, *,
              data: list[str] | None = None, split: str | None = None, method: str = "pca",
              color: str = "type", seed: int = 0) -> dict:
    """Draw the tune and title maps of a run and measure how tune types cluster.

    Args:
        run_dir: A two-tower run folder.
        out_dir: Output folder (default ``run_dir/map``).
        data: Sources to map instead of the run's own (then the split defaults to ``all``).
        split: ``test`` (default), ``validation``, ``train`` or ``all``.
        method: ``pca``, ``tsne`` or ``umap``.
        color: Colour points by ``type``, ``meter``, ``mode`` or ``key``.
        seed: Seed of the projection and of the random-init reference model.

    Returns:
        The metrics written to ``map_metrics.json`` (NaN written as ``null``), with
        ``files`` naming what was written.

    Raises:
        FolkclipError: For a bad method or colour, a folder that is not a run, or
            ``umap`` without umap-learn.
    """
    from folkclip.eval.evaluation import embed, random_init_embeddings
    from folkclip_cli.study.runs import load_eval

    if method not in METHODS:
        raise FolkclipError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if color not in COLORS:
        raise FolkclipError(f"unknown color {color!r}; choose from {', '.join(COLORS)}")
    if method == "umap":
        _umap()  # fail before the work
    ctx = load_eval(run_dir, data, split)
    fm, tc, es = ctx.model, ctx.corpus, ctx.evalset
    out = Path(out_dir) if out_dir is not None else ctx.run / "map"
    out.mkdir(parents=True, exist_ok=True)

    tune_emb, title_emb = embed(fm.model, tc, es, max_events=fm.max_events,
                                ids=fm.corpus_ids(tc))  # (N, D), (M, D)
    rand_tune, rand_title = random_init_embeddings(fm, tc, es, seed)
    tunes = _tune_info(tc, es)
    titles = _title_info(es, tunes)
    metrics: dict = {
        "run": str(ctx.run), "split": ctx.split, "sources": ctx.sources, "method": method,
        "color": color, "seed": seed, "knn_k": KNN_K,
        **type_clustering(tunes, titles, (tune_emb, title_emb), (rand_tune, rand_title)),
    }
    metrics = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
               for k, v in metrics.items()}

    maps = {}
    for name, emb, info in (("tunes", tune_emb, tunes), ("titles", title_emb, titles)):
        xy = project(emb, method, seed)  # (N, 2)
        names, codes, colors = _groups([row[color] for row in info])
        png = out / f"{name}_{method}.png"
        heading = f"{name} ({method}) by {color}, {ctx.split} of {', '.join(ctx.sources)}"
        _plot_png(xy, codes, names, colors, heading, png)
        maps[name] = (xy, info, codes, names, colors)
    page = out / "map.html"
    page.write_text(_html(maps, metrics), encoding="utf-8")
    metrics_file = out / "map_metrics.json"
    metrics["files"] = {"tunes_png": str(out / f"tunes_{method}.png"),
                        "titles_png": str(out / f"titles_{method}.png"),
                        "html": str(page), "metrics": str(metrics_file)}
    metrics_file.write_text(json.dumps(metrics, indent=1))
    return metrics


def _plot_png(xy: np.ndarray, codes: np.ndarray, names: list[str], colors: list[str],
              heading: str, path: Path) -> None:
    """Scatter ``xy`` by group into a PNG (Agg canvas; no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 6.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for g in reversed(range(len(names))):  # unknown and (other) drawn first, underneath
        sel = codes == g
        if sel.any():
            ax.scatter(xy[sel, 0], xy[sel, 1], s=10, c=colors[g], alpha=0.8, linewidths=0,
                       label=f"{names[g]} ({int(sel.sum())})")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="center left", bbox_to_anchor=(1.01, 0.5),
              fontsize=8, frameon=False, markerscale=1.5)
    ax.set_title(heading, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.savefig(path, dpi=120, bbox_inches="tight")


# ---------------------------------------------------------------- the HTML page
def _points(xy: np.ndarray, info: list[dict[str, str]], codes: np.ndarray,
            colors: list[str], size: int, pad: int = 12) -> list[dict]:
    """SVG circles (grey groups first, underneath) with their hover text."""
    lo, hi = xy.min(0), xy.max(0)  # (2,)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    pos = pad + (xy - lo) / span * (size - 2 * pad)  # (N, 2)
    order = sorted(range(len(xy)), key=lambda i: -int(codes[i]))
    return [{"x": f"{pos[i, 0]:.1f}", "y": f"{size - pos[i, 1]:.1f}", "g": int(codes[i]),
             "color": colors[int(codes[i])],
             "tip": f"{info[i]['title']}\ntype: {info[i]['type']}\nkey: {info[i]['key']}"
                    f"\nmeter: {info[i]['meter']}"} for i in order]


def _html(maps: dict, metrics: dict, size: int = 560) -> str:
    """The interactive map page (template ``map.html``)."""
    from folkclip_cli.pages import render

    def fmt(v: object) -> str:
        return "–" if v is None else f"{v:.3f}"

    rows = [[f"{label}: {what.replace('_', ' ')}", fmt(metrics[pre + what]),
             fmt(metrics[pre + "random_init_" + what])]
            for label, pre in (("tunes", ""), ("titles", "titles/"))
            for what in ("silhouette_type", "knn_type_accuracy")]
    rows.append(["majority type share (trivial k-NN accuracy)",
                 fmt(metrics["majority_type_share"]), ""])
    views = []
    for name, (xy, info, codes, names, colors) in maps.items():
        n = np.bincount(codes, minlength=len(names))
        views.append({"name": name, "points": _points(xy, info, codes, colors, size),
                      "groups": [{"name": v, "color": colors[g], "count": int(n[g])}
                                 for g, v in enumerate(names)]})
    return render("map.html", metrics=metrics, rows=rows, maps=views, size=size)


def main_from_args(args: argparse.Namespace) -> int:
    m = make_maps(args.run_dir, args.out, data=args.data, split=args.split,
                  method=args.method, color=args.color, seed=args.seed)

    def fmt(v: object) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    print(f"{m['split']} of {', '.join(m['sources'])}: {m['n_tunes']} typed tunes, "
          f"{m['n_types']} types -> {Path(m['files']['html']).parent}")
    print(f"  silhouette by type: {fmt(m['silhouette_type'])} "
          f"(random init {fmt(m['random_init_silhouette_type'])})")
    print(f"  {KNN_K}-NN type accuracy: {fmt(m['knn_type_accuracy'])} "
          f"(random init {fmt(m['random_init_knn_type_accuracy'])}, "
          f"majority share {fmt(m['majority_type_share'])})")
    print(f"  titles: silhouette {fmt(m['titles/silhouette_type'])}, "
          f"{KNN_K}-NN accuracy {fmt(m['titles/knn_type_accuracy'])}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``folkclip map``.

    Args:
        argv: Arguments after ``map`` (``sys.argv[1:]`` when ``None``).

    Returns:
        The exit status.
    """
    p = argparse.ArgumentParser(prog="folkclip map", description=__doc__.split("\n")[0])
    add_arguments(p)
    return main_from_args(p.parse_args(argv))
