"""Write the study folder: every part's tables and figures, ``study.json``, the MLflow
store of every run and the self-contained ``report.html``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from folkclip.errors import FolkclipError

if TYPE_CHECKING:
    from folkclip_cli.study.plan import StudyPlan
    from folkclip_cli.study.tables import Table

PARTS = ("Encoders", "Removal", "Transfer and data size", "What the towers encode",
         "Which title words melodies predict", "Other traditions")


def _budget(plan: StudyPlan, args: argparse.Namespace, base: list[str]) -> dict:
    from folkclip_cli.train.config import load_config

    cfg = load_config(args.config, base)
    from folkclip_cli.study.plan import base_overrides

    lm = load_config(args.lm_config, base_overrides(args.quick, args.overrides, lm=True))
    return {"folds": plan.folds, "seeds": plan.seeds or 1, **training_time(plan), "epochs": cfg.trainer.max_epochs,
            "events_per_tune": cfg.data.max_events, "tower_width": cfg.model.embed_dim,
            "sources": cfg.data.sources, "lm_epochs": lm.trainer.max_epochs,
            "accelerator": cfg.trainer.accelerator, "runs": len(plan.variants),
            "quick": plan.quick}


def training_time(plan: StudyPlan) -> dict:
    """Wall-clock span of the study's training, from the first run folder's split to the
    last finished run, and the summed time of each run (minutes)."""
    starts, ends, total = [], [], 0.0
    for split in (plan.out / "runs").glob("**/split.json"):
        run = split.parent
        done = [run / n for n in ("eval_test.json", "perplexity.json") if (run / n).exists()]
        if done:
            starts.append(split.stat().st_mtime)
            ends.append(done[0].stat().st_mtime)
            total += ends[-1] - starts[-1]
    if not starts:
        return {"training_wall_minutes": 0.0, "training_run_minutes": 0.0}
    return {"training_wall_minutes": round((max(ends) - min(starts)) / 60, 1),
            "training_run_minutes": round(total / 60, 1)}


def _residual(plan: StudyPlan, base: list[str], config: str) -> dict[str, str]:
    """The residual-information cell of every removal row (cached in ``tables``)."""
    from folkclip.data.removal_probe import residual_column
    from folkclip_cli.train.config import load_config

    data = load_config(config, base).data
    path = plan.out / "tables" / "residual.json"
    key = {"elements": list(plan.removal_labels), "sources": list(data.sources)}
    if path.exists():
        cached = json.loads(path.read_text())
        if cached.get("key") == key:
            return cached["cells"]
    cells = residual_column(list(plan.removal_labels), list(data.sources), data.tokenizer())
    by_label = {plan.removal_labels[e]: cell for e, cell in cells.items()}
    path.write_text(json.dumps({"key": key, "cells": by_label}, indent=1))
    return by_label


def _evaluate_on(run: Path, source: str, random: bool = False) -> dict:
    """``folkclip evaluate RUN --data SOURCE`` (the unseen part), cached in the run."""
    from folkclip_cli.study import evaluate as ev

    path = run / f"eval_{source}{'_random' if random else ''}.json"
    if path.exists():
        return json.loads(path.read_text())
    p = argparse.ArgumentParser()
    ev.add_arguments(p)
    m = ev.evaluate(p.parse_args([str(run), "--data", source, *(["--random"] if random else [])]))
    path.write_text(json.dumps(m, indent=1))
    return m


def other_traditions(plan: StudyPlan, best: str, base: list[str], config: str) -> list[Table]:
    """Part 6: trained on default, scored on nottingham's unseen part; nottingham by CV."""
    from folkclip_cli.study.tables import SHORT, Table, summary_table

    tables = []
    rows = [("| model | trained on | evaluated on | tunes | titles | tune→title MRR | "
            "title→tune MRR | random tune→title MRR |"), "|---|---|---|---|---|---|---|---|"]
    data = {}
    for label in dict.fromkeys(["header", best]):
        run = plan.run_dir(f"{label}-default")
        if not (run / "eval_test.json").exists():
            continue
        m, r = _evaluate_on(run, "nottingham"), _evaluate_on(run, "nottingham", random=True)

        def cell(key: str, e: dict = m) -> str:
            lo, hi = e["ci95"][key]
            return f"{e[key]:.3f} [{lo:.3f}, {hi:.3f}]"

        o = m["overlap"]
        rows.append(f"| {label} | default (train split) | nottingham, {o['unseen']} of "
                    f"{o['n_tunes']} tunes unseen | {m['n_tunes']} | {m['n_titles']} | "
                    f"{cell('tune_to_title/mrr')} | {cell('title_to_tune/mrr')} | "
                    f"{cell('tune_to_title/mrr', r)} |")
        data[label] = {"metrics": {k: m[k] for k in SHORT}, "random": r["tune_to_title/mrr"],
                       "overlap": o}
    md = "\n".join(rows)
    path = plan.out / "tables" / "nottingham_transfer.md"
    path.write_text(md + "\n")
    tables.append(Table("nottingham_transfer", "Trained on default, evaluated on Nottingham",
                        md, path, f"folkclip evaluate RUN --data nottingham  (RUN: "
                        f"{plan.run_dir('header-default')}, {plan.run_dir(best + '-default')})",
                        "Unseen part: tunes whose title or near-duplicate melody is not in "
                        "the training split. 95% bootstrap CIs over queries.", data=data))
    tables.append(summary_table(plan, "nottingham_cv", "Cross-validated on Nottingham",
                                ["header-nottingham", f"{best}-nottingham"], "header-nottingham",
                                "model", base, config, baselines=False))  # other queries
    return tables


def _section(title: str, tables: list[Table], text: str = "") -> dict:
    from folkclip_cli.pages import png_data_uri
    from folkclip_cli.study.report import markdown_to_html

    return {"title": title, "text": text, "tables": [
        {"title": t.title, "html": markdown_to_html(t.markdown), "note": t.note,
         "command": t.command, "csv": t.csv.name,
         "figures": [png_data_uri(f) for f in t.figures if f and Path(f).exists()]}
        for t in tables]}


def write_study(plan: StudyPlan, args: argparse.Namespace, seconds: float) -> Path:
    """Every table, figure and the report of the study in ``plan.out``."""
    from folkclip_cli.pages import render
    from folkclip_cli.study import probing
    from folkclip_cli.study.plan import (
        REFERENCE,
        base_overrides,
        best_encoder,
        other_tradition_variants,
    )
    from folkclip_cli.study.tables import (
        Table,
        baselines_table,
        study_command,
        summary_table,
        transfer_table,
    )

    out, base, config = plan.out, base_overrides(args.quick, args.overrides), args.config
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    try:
        best = best_encoder(plan)
    except FolkclipError:
        best = None
    sections, summary = [], {"budget": _budget(plan, args, base), "best_encoder": best}
    enc = plan.parts["encoders"]
    part1 = [summary_table(plan, "encoders", "Encoders (Δ vs header-only)", enc,
                           "header", "encoder", base, config)]
    minilm = [label for label in enc if label.endswith("-minilm")]
    if "header-minilm" in minilm and len(minilm) > 1:  # the decisive rows: MiniLM titles
        part1.append(summary_table(plan, "encoders_minilm",
                                   "Encoders with MiniLM titles (Δ vs header-only, MiniLM "
                                   "titles)", minilm, "header-minilm", "encoder", base, config))
    if best:
        part1.append(summary_table(plan, "encoders_vs_best", f"Encoders (Δ vs {best})",
                                   enc, best, "encoder", base, config))
    part1 += [t for t in [baselines_table(plan)] if t]
    residual = _residual(plan, base, config)
    part2 = [summary_table(plan, "removal", "Information removed (Δ vs full information)",
                           plan.parts["removal"], REFERENCE, "remove", base, config,
                           extra={"residual information": residual},
                           note="Residual information: how well a linear probe still "
                                "predicts the removed element from the tokens (folkclip data "
                                "check-removal), accuracy removed vs kept, majority share.")]
    part3 = [transfer_table(plan, base, config)]
    part4, part5, part6 = [], [], []
    if best and (plan.run_dir(best) / "eval_test.json").exists():
        print(f"probing the out-of-fold embeddings of {best} ...", flush=True)
        pooled = probing.pooled_embeddings(plan.run_dir(best))
        trained = pooled["trained"]
        probes = probing.probe_rows(trained, pooled["untrained"], folds=plan.folds)
        md = probing.probe_markdown(probes)
        (out / "tables" / "probes.md").write_text(md + "\n")
        _csv(out / "tables" / "probes.csv", [_flat_probe(r) for r in probes])
        part4.append(Table("probes", f"Linear probes from {best}'s embeddings", md,
                           out / "tables" / "probes.csv", f"{study_command(plan)} --tables-only",
                           "Out-of-fold accuracy of a logistic regression (grouped, "
                           "stratified 5-fold) with a bootstrap 95% CI over tunes.",
                           data={"rows": [_flat_probe(r) for r in probes]}))
        words = probing.word_rows(trained, min_titles=3 if plan.quick else 15, folds=plan.folds)
        md = probing.word_markdown(words)
        (out / "tables" / "title_words.md").write_text(md + "\n")
        _csv(out / "tables" / "title_words.csv", [_flat_word(r) for r in words])
        fig = probing.word_plot(words, out / "figures" / "title_words.png")
        part5.append(Table("title_words", "Title words predicted from the melody", md,
                           out / "tables" / "title_words.csv", f"{study_command(plan)} --tables-only",
                           f"Words in ≥ {3 if plan.quick else 15} titles; AUC of out-of-fold "
                           f"logistic-regression scores from {best}'s tune embeddings vs from "
                           "one-hot type, meter, key and mode; bootstrap 95% CI over tunes.",
                           [fig], data={"rows": [_flat_word(r) for r in words]}))
        other_tradition_variants(plan, best)
        part6 = other_traditions(plan, best, base, config)
    for title, tables in zip(PARTS, (part1, part2, part3, part4, part5, part6)):
        sections.append(_section(title, tables))
        summary[title] = {t.stem: t.data for t in tables}
    summary["seconds"] = seconds
    summary["budget"]["runs"] = len(plan.variants)
    (out / "study.json").write_text(json.dumps(summary, indent=1, default=_jsonable))
    logged = mlflow_import(plan)
    html = render("study.html", title="folkclip study: what ties a title to a melody",
                  budget=summary["budget"], best=best, sections=sections,
                  command=study_command(plan), mlflow=logged,
                  date=time.strftime("%Y-%m-%d"))
    (out / "report.html").write_text(html)
    print(f"wrote {out / 'report.html'}, {out / 'study.json'}, {out / 'tables'}, "
          f"{out / 'figures'}")
    return out / "report.html"


def _jsonable(x: object) -> object:
    return str(x) if isinstance(x, Path) else list(x) if isinstance(x, tuple) else repr(x)


def _flat_probe(r: dict) -> dict:
    row = {"embedding": r["tower"], "target": r["target"], "tunes": r["n"],
           "majority": r["majority"]}
    for name in ("trained", "untrained", "token statistics"):
        if name in r:
            row[name] = r[name]["accuracy"]
            row[f"{name} ci_low"], row[f"{name} ci_high"] = r[name]["ci"]
    return row


def _flat_word(r: dict) -> dict:
    return {"word": r["word"], "tunes": r["tunes"], "share": r["rate"], "auc_melody": r["auc"],
            "auc_melody_ci_low": r["ci"][0], "auc_melody_ci_high": r["ci"][1],
            "auc_header": r["header_auc"], "auc_header_ci_low": r["header_ci"][0],
            "auc_header_ci_high": r["header_ci"][1]}


def _csv(path: Path, rows: list[dict]) -> None:
    import csv

    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        w.writeheader()
        w.writerows(rows)


def mlflow_import(plan: StudyPlan) -> str | None:
    """Log every finished fold run (params, per-epoch metrics, prediction tables) into
    ``OUT/mlflow.db`` once; ``None`` when MLflow is not installed."""
    try:
        from folkclip_cli.study.mlflow_store import import_runs
    except ModuleNotFoundError:
        return None
    return import_runs(plan.out)
