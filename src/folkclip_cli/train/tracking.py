"""Prediction tracking: watch the model learn on a fixed probe set of validation tunes.

At configured optimiser steps (or at every validation when none are configured) the
callback records, for each probe tune, the top-k predicted titles with their scores,
the rank and score of the true title, and the rank of the tune among all tunes for
its own title. Each record is a CSV table ``predictions/step_NNNNNN.csv`` plus a line
of ``predictions/predictions.jsonl``; at the end ``rank_trajectory.png`` shows the
rank of the true title per probe over steps.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import lightning as L
import numpy as np

from folkclip.eval.evaluation import EvalSet, embed


class PredictionTracker(L.Callback):
    """Record probe predictions during training.

    Args:
        out_dir: Run folder; tables go to ``out_dir/predictions``.
        eval_set: The validation set (its titles are the candidates).
        probe_size: How many tunes to follow (the first ones of the validation set).
        steps: Optimiser steps at which to record (empty: every validation).
        top_k: Predictions kept per probe.
    """

    def __init__(self, out_dir: Path, eval_set: EvalSet, probe_size: int = 12,
                 steps: list[int] | None = None, top_k: int = 5) -> None:
        self.dir = Path(out_dir) / "predictions"
        self.es = eval_set
        self.probe = list(range(min(probe_size, len(eval_set.tunes))))
        self.steps = sorted(set(steps or []))
        self.top_k = top_k
        self.history: dict[int, list[int]] = {}  # step -> rank of true title per probe

    # ---------------------------------------------------------------- hooks
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):  # noqa: ANN001
        if self.steps and trainer.global_step in self.steps and trainer.global_step not in \
                self.history:
            self.record(trainer, pl_module)

    def on_validation_epoch_end(self, trainer, pl_module):  # noqa: ANN001
        if not self.steps and not trainer.sanity_checking:
            self.record(trainer, pl_module)

    def on_fit_end(self, trainer, pl_module):  # noqa: ANN001
        if trainer.is_global_zero and self.history:
            plot_trajectory(self.history, [self.es.titles[self.es.tune_titles[p][0]]
                                           for p in self.probe], self.dir / "rank_trajectory.png")

    # -------------------------------------------------------------- record
    def record(self, trainer, pl_module) -> None:  # noqa: ANN001
        if not self.probe or not trainer.is_global_zero:
            return
        tc = pl_module.tc
        tune_emb, title_emb = embed(pl_module.model, tc, self.es,
                                    max_events=pl_module.cfg.data.max_events,
                                    device=pl_module.device)
        step = int(trainer.global_step)
        rows = probe_table(self.es, tune_emb, title_emb, self.probe, self.top_k, step)
        self.history[step] = [r["true_rank"] for r in rows]
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / f"step_{step:06d}.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        with open(self.dir / "predictions.jsonl", "a") as fh:
            fh.write(json.dumps({"step": step, "rows": rows}) + "\n")
        for logger in trainer.loggers:  # every configured tracker, not only the first
            log_predictions(logger, rows, step)


def log_predictions(logger, rows: list[dict], step: int) -> None:  # noqa: ANN001
    """Send one probe table to a tracker: a Markdown text panel in TensorBoard, a table
    (``predictions/step_NNNNNN.json``, browsable in the MLflow UI) in MLflow."""
    experiment = getattr(logger, "experiment", None)
    if hasattr(experiment, "add_text"):  # TensorBoard
        head = "| tune | true rank | top-1 |\n|---|---|---|\n"
        body = "".join(f"| {r['tune']} | {r['true_rank']} | {r.get('top1', '')} |\n"
                       for r in rows)
        experiment.add_text("predictions", head + body, step)
    elif hasattr(experiment, "log_table") and getattr(logger, "run_id", None):  # MLflow
        columns = list(dict.fromkeys(k for r in rows for k in r))
        experiment.log_table(logger.run_id, {c: [r.get(c) for r in rows] for c in columns},
                             artifact_file=f"predictions/step_{step:06d}.json")


def probe_table(es: EvalSet, tune_emb: np.ndarray, title_emb: np.ndarray, probe: list[int],
                top_k: int, step: int) -> list[dict]:
    """One row per probe tune: true title's rank/score, the tune's rank for its title, top-k."""
    sims = tune_emb @ title_emb.T  # (N, M)
    rows = []
    for p in probe:
        s = sims[p]
        order = np.lexsort((np.arange(len(s)), -s))
        rel = es.tune_titles[p]
        true_rank = int(min(np.nonzero(np.isin(order, rel))[0]) + 1)
        col = sims[:, rel[0]]  # title -> tune direction for the tune's main title
        tune_rank = int(1 + np.sum(col > col[p]) + np.sum(col[:p] == col[p]))
        row = {"step": step, "tune": es.titles[rel[0]], "type": es.types[p],
               "true_rank": true_rank, "true_score": round(float(s[rel[0]]), 4),
               "tune_rank_for_title": tune_rank}
        for k in range(min(top_k, len(order))):
            row[f"top{k + 1}"] = es.titles[order[k]]
            row[f"score{k + 1}"] = round(float(s[order[k]]), 4)
        rows.append(row)
    return rows


def plot_trajectory(history: dict[int, list[int]], labels: list[str], path: Path) -> Path | None:
    """Rank of the true title per probe tune over training steps (log scale)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    steps = sorted(history)
    ranks = np.array([history[s] for s in steps])  # (S, P)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for j in range(ranks.shape[1]):
        ax.plot(steps, ranks[:, j], marker="o", ms=3, lw=1, label=labels[j][:28])
    ax.set_yscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("training step")
    ax.set_ylabel("rank of the true title (1 = top)")
    ax.set_title("Prediction tracking: probe tunes")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
