"""Tracking: a tiny run logged to MLflow (local sqlite store, no server) can be read back:
its parameters, per-epoch metrics and the prediction-tracking tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("lightning")
mlflow = pytest.importorskip("mlflow")

from folkclip_cli.main import main  # noqa: E402

TINY = ["--data", "tiny", "--set", "trainer.batch_size=16", "--set", "tracking.probe_size=3",
        "--set", "trainer.progress_bar=false", "--set", "model.melody.dim=16", "--set",
        "model.title.dim=16", "--set", "model.embed_dim=16", "--set", "model_preset=gru",
        "--set", "trainer.max_epochs=2"]


def test_mlflow_run_has_params_metrics_and_prediction_tables(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--set", "tracking.logger=mlflow", *TINY]) == 0
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("folkclip")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.params["trainer.max_epochs"] == "2"
    assert run.data.params["model.melody.arch"] == "gru"  # the resolved preset
    history = client.get_metric_history(run.info.run_id, "val/mrr_mean")
    assert len(history) == 2  # one value per epoch
    assert all(0 < m.value <= 1 for m in history)
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "predictions")]
    assert len(artifacts) == 2, artifacts  # one table per validation
    table = json.loads(Path(client.download_artifacts(run.info.run_id, artifacts[-1],
                                                      str(tmp_path))).read_text())
    rows = [dict(zip(table["columns"], r)) for r in table["data"]]  # mlflow.log_table format
    assert len(rows) == 3 and {"tune", "true_rank", "top1"} <= set(rows[0])
    assert all(r["true_rank"] >= 1 for r in rows)
