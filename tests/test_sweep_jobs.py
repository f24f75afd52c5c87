"""``--jobs``: each parallel run really gets one GPU when GPUs are present (mocked count)."""

from __future__ import annotations

import pytest

pytest.importorskip("lightning")

import torch  # noqa: E402

from folkclip_cli.study import jobs as study_jobs, launcher, sweep  # noqa: E402


def _captured(tmp_path, monkeypatch, gpus: int, accelerator: str, jobs: int = 2) -> list:
    calls = []

    def fake_call(cmd, stdout=None, stderr=None, env=None):  # noqa: ANN001, ANN202
        calls.append((cmd, env))
        return 0

    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(study_jobs.subprocess, "call", fake_call)
    runs = sweep.plan([sweep.Variant("a"), sweep.Variant("b", ("model.melody.dim=16",))], 1,
                      tmp_path)
    launcher.execute(runs, None, [f"trainer.accelerator={accelerator}"], jobs=jobs)
    return sorted(calls, key=lambda c: c[0])


def _settings(cmd: list[str]) -> list[str]:
    return [cmd[i + 1] for i, a in enumerate(cmd) if a == "--set"]


@pytest.mark.parametrize("accelerator", ["auto", "gpu"])
def test_jobs_train_on_one_gpu_each_when_gpus_are_present(tmp_path, monkeypatch, accelerator):
    calls = _captured(tmp_path, monkeypatch, gpus=2, accelerator=accelerator)
    assert len(calls) == 2
    for cmd, env in calls:
        s = _settings(cmd)
        # the job's settings come last, so they win over the config's accelerator
        assert s[-3:] == ["trainer.accelerator=gpu", "trainer.devices=1",
                          "trainer.strategy=auto"]  # one process per job
        assert env["CUDA_VISIBLE_DEVICES"] in {"0", "1"}
        assert not any(o.startswith("trainer.threads=") for o in s)


def test_jobs_stay_on_the_cpu_without_gpus_or_with_a_cpu_config(tmp_path, monkeypatch):
    for gpus, accelerator in ((0, "auto"), (2, "cpu")):
        calls = _captured(tmp_path / f"{gpus}{accelerator}", monkeypatch, gpus, accelerator)
        for cmd, env in calls:
            s = _settings(cmd)
            assert "trainer.accelerator=gpu" not in s and env["CUDA_VISIBLE_DEVICES"] == ""
            assert any(o.startswith("trainer.threads=") for o in s)


def test_job_settings_round_robin_over_gpus():
    envs = [study_jobs.job_settings(slot, 4, 2, "auto", 16)[0]["CUDA_VISIBLE_DEVICES"]
            for slot in range(4)]
    assert envs == ["0", "1", "0", "1"]
    assert study_jobs.job_settings(0, 4, 0, "auto", 16)[1] == [
        "trainer.threads=4", "trainer.devices=1", "trainer.strategy=auto"]


def test_progress_estimates_the_time_left_from_runs_trained_from_their_start(tmp_path, capsys):
    """A resumed run's few minutes say nothing of a whole run's: 4 runs, a resumed one
    done after 1 min gives no estimate; a fresh one after 10 min gives 10 min per run x 2
    runs left; the last says none left."""
    now = [0.0]
    progress = study_jobs.Progress(4, clock=lambda: now[0])
    run = study_jobs.PlannedRun(study_jobs.Variant("gru-attn"), 1, tmp_path / "r")
    now[0] = 60.0
    first = progress.finished(run, resumed=True)
    assert first == ("[1/4] gru-attn seed 1 done (resumed) (1.0 min, 3 left; no estimate "
                     "until a run trained from its start finishes)")
    now[0] = 600.0
    assert progress.finished(run).endswith("(10.0 min, about 20.0 min left)")
    now[0] = 900.0
    assert progress.finished(run).endswith("(15.0 min, about 7.5 min left)")
    assert progress.finished(run).endswith("none left)")
    assert capsys.readouterr().out.splitlines()[0] == first
