"""Every run of a study in one MLflow store (``OUT/mlflow.db``, artifacts in
``OUT/mlartifacts``), browsable with ``mlflow ui --backend-store-uri sqlite:///OUT/mlflow.db``.

The runs train with the CSV logger (parallel jobs writing one SQLite file would contend
for it); this module then logs each finished fold run once, from one process: the
resolved config as params, every per-epoch metric of ``logs/metrics.csv`` with its step,
and each prediction-tracking table (``predictions/step_*.csv``) with ``mlflow.log_table``.
``OUT/mlflow_logged.json`` lists the runs already logged, so a resumed study adds only
new ones.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import mlflow
from mlflow.entities import Metric, Param

EXPERIMENT = "folkclip-study"
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_\-. :/]")


def metric_name(name: str) -> str:
    """An MLflow-safe metric name: ``val/tune_to_title/ndcg@10`` -> ``..._at_10``."""
    return _NOT_ALLOWED.sub("_", name.replace("@", "_at_"))


def _flat(d: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(_flat(v, key))
        else:
            out[key] = str(v)[:500]
    return out


def fold_runs(out: Path) -> list[tuple[str, Path]]:
    """(label, run folder) of every finished run under ``out/runs`` (folds of a CV each)."""
    found = []
    for config in sorted((out / "runs").glob("**/config.yaml")):
        run = config.parent
        if (run / "cv.json").exists():
            continue  # a cross-validation root: its folds are logged
        if (run / "eval_test.json").exists() or (run / "perplexity.json").exists():
            found.append((str(run.relative_to(out / "runs")), run))
    return found


def log_run(client: mlflow.MlflowClient, experiment: str, label: str, run: Path) -> str:
    """Log one finished run folder; returns its MLflow run id."""
    from folkclip_cli.train.config import read_run_config

    created = client.create_run(experiment, run_name=label,
                                tags={"folkclip.run": str(run), "folkclip.label": label})
    run_id = created.info.run_id
    params = [Param(k, v) for k, v in _flat(read_run_config(run)).items()]
    for start in range(0, len(params), 100):
        client.log_batch(run_id, params=params[start:start + 100])
    metrics = []
    path = run / "logs" / "metrics.csv"
    if path.exists():
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh):
                step = int(float(row.get("step") or 0))
                for k, v in row.items():
                    if k in ("step", "epoch") or not v:
                        continue
                    value = float(v)
                    if math.isfinite(value):
                        metrics.append(Metric(metric_name(k), value, 0, step))
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start:start + 1000])
    for table in sorted((run / "predictions").glob("step_*.csv")):
        with open(table, newline="") as fh:
            rows = list(csv.DictReader(fh))
        if rows:
            client.log_table(run_id, {c: [r[c] for r in rows] for c in rows[0]},
                             artifact_file=f"predictions/{table.stem}.json")
    client.set_terminated(run_id)
    return run_id


def import_runs(out: Path) -> str:
    """Log the study's runs not logged yet; returns the tracking URI."""
    out = Path(out)
    uri = f"sqlite:///{(out / 'mlflow.db').resolve()}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(
        EXPERIMENT, artifact_location=(out / "mlartifacts").resolve().as_uri())
    record = out / "mlflow_logged.json"
    logged = json.loads(record.read_text()) if record.exists() else {}
    for label, run in fold_runs(out):
        if label not in logged:
            logged[label] = log_run(client, experiment_id, label, run)
            record.write_text(json.dumps(logged, indent=1))
    print(f"MLflow: {len(logged)} runs in {uri}")
    return uri
