"""A resume that is really a resume: kill `folkclip train` with SIGKILL mid-epoch, resume it,
and get the run that was never interrupted, step for step and weight for weight.

Each run is a subprocess (``python -c HARNESS``) running ``folkclip train`` with two extra
Lightning callbacks added to :func:`folkclip_cli.train.runner.fit` (as the contrastive task calls it): one records, before every
training step, the global step, epoch and the corpus indices of the batch; the other
(``kill_at``) sends SIGKILL to its own process at the end of that step — a deterministic
point after the step checkpoint of ``CHECKPOINT_EVERY`` steps and in the middle of an epoch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lightning")
torch = pytest.importorskip("torch")

SRC = Path(__file__).resolve().parents[1] / "src"
CHECKPOINT_EVERY = 3
SETTINGS = ["model_preset=gru", "model.melody.dim=16", "model.title.dim=16",
            "model.embed_dim=16", "model.melody.layers=1", "trainer.batch_size=12",
            "trainer.max_epochs=2", "trainer.early_stopping_patience=10",
            f"trainer.checkpoint_every_n_steps={CHECKPOINT_EVERY}", "trainer.threads=1",
            "trainer.progress_bar=false", "tracking.logger=csv", "tracking.probe_size=2",
            "seed=7"]

HARNESS = r"""
import json, os, signal, sys
from lightning.pytorch.callbacks import Callback
import folkclip_cli.train.contrastive as train  # the task calls fit from here

out, kill_at, resume = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"

class Record(Callback):
    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        with open(os.path.join(out, "steps.jsonl"), "a") as fh:
            fh.write(json.dumps([trainer.global_step, trainer.current_epoch,
                                 batch["index"].tolist()]) + "\n")

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.global_step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

fit = train.fit
def fit_recorded(*args, callbacks=None, **kwargs):
    return fit(*args, callbacks=[*(callbacks or []), Record()], **kwargs)
train.fit = fit_recorded

from folkclip_cli.main import main
argv = ["train", "--data", "tiny", "--out", out] + (["--resume"] if resume else [])
for s in sys.argv[4:]:
    argv += ["--set", s]
sys.exit(main(argv))
"""


def _train(out: Path, kill_at: int = -1, resume: bool = False, bucket: bool = False) -> int:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    settings = [*SETTINGS, f"trainer.bucket_by_length={str(bucket).lower()}"]
    proc = subprocess.run([sys.executable, "-c", HARNESS, str(out), str(kill_at),
                           "1" if resume else "0", *settings], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(proc.stderr[-3000:])
    return proc.returncode


def _steps(out: Path) -> list[list]:
    return [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("bucket", [False, True], ids=["random", "length-bucketed"])
def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path, bucket):
    whole = tmp_path / "whole"
    assert _train(whole, bucket=bucket) == 0
    steps = _steps(whole)
    per_epoch = sum(1 for _, epoch, _ in steps if epoch == 0)
    # Kill one step after the first step checkpoint of the second epoch (mid-epoch).
    saved = (per_epoch // CHECKPOINT_EVERY + 1) * CHECKPOINT_EVERY
    kill_at = saved + 1
    assert per_epoch < saved < kill_at < 2 * per_epoch, per_epoch

    broken = tmp_path / "broken"
    assert _train(broken, kill_at=kill_at, bucket=bucket) == -signal.SIGKILL
    assert not (broken / "eval_test.json").exists()
    ckpt = torch.load(broken / "checkpoints" / "last.ckpt", map_location="cpu",
                      weights_only=False)
    assert ckpt["global_step"] == saved and ckpt["epoch"] == 1

    before = len(_steps(broken))
    assert _train(broken, resume=True, bucket=bucket) == 0
    resumed = _steps(broken)[before:]
    # (a) it continues at the checkpoint's step, in the middle of the epoch, not at step 0
    assert resumed[0][:2] == [saved, 1]
    # ... and trains on exactly the batches the uninterrupted run trained on from there
    assert resumed == steps[saved:]
    # (b) the same final weights and metrics: exactly, as every operation is repeated
    # in the same order on the same CPU with one thread (no tolerance is needed).
    a = torch.load(whole / "model" / "weights.pt", weights_only=True)
    b = torch.load(broken / "model" / "weights.pt", weights_only=True)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (json.loads((whole / "eval_test.json").read_text())
            == json.loads((broken / "eval_test.json").read_text()))
