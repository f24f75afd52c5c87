"""Data-parallel training on the CPU (``configs/default.yaml`` trains with two processes):
the processes together take the steps one process takes, with the same global batches and
the contrastive loss over the same negatives, so the weights agree."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("lightning")
import torch  # noqa: E402

from folkclip_cli.main import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# Dropout off: the processes draw their own dropout masks, so only without it are the two
# trainings the same arithmetic (up to the order of floating-point sums).
SETTINGS = ["--data", "tiny", "--set", "trainer.batch_size=16", "--set", "trainer.max_steps=3",
            "--set", "trainer.threads=1", "--set", "trainer.progress_bar=false",
            "--set", "tracking.logger=csv", "--set", "tracking.probe_size=2",
            "--set", "model.melody.dim=32", "--set", "model.title.dim=32",
            "--set", "model.embed_dim=32", "--set", "model.melody.dropout=0",
            "--set", "model.title.dropout=0", "--set", "trainer.bucket_by_length=true",
            "--set", "optim.warmup_steps=0"]


def _train(out: Path, devices: int, strategy: str, steps: int = 3) -> dict[str, torch.Tensor]:
    code = main(["train", "--config", str(ROOT / "configs" / "default.yaml"), "--out", str(out),
                 *SETTINGS, "--set", f"trainer.devices={devices}",
                 "--set", f"trainer.strategy={strategy}", "--set", f"trainer.max_steps={steps}"])
    assert code == 0
    return torch.load(out / "model" / "weights.pt")


def _distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return float(torch.cat([(a[k] - b[k]).flatten() for k in a]).norm())


def test_two_processes_train_the_weights_one_process_trains(tmp_path):
    alone = _train(tmp_path / "one", 1, "auto")
    pair = _train(tmp_path / "two", 2, "ddp_fork")
    fewer = _train(tmp_path / "fewer", 1, "auto", steps=2)
    assert alone.keys() == pair.keys()
    # Adam's first steps are about lr x sign(gradient), so a weight whose gradient is ~0
    # may move either way on float noise: compare whole distances, not the worst weight.
    # The pair ends within 2% of what one step moves the weights.
    step = _distance(alone, fewer)
    assert step > 1e-2
    assert _distance(alone, pair) < 0.02 * step, (_distance(alone, pair), step)


def test_the_global_batch_must_split_evenly_over_the_processes(tmp_path, capsys):
    code = main(["train", "--out", str(tmp_path), "--data", "tiny",
                 "--set", "trainer.devices=3", "--set", "trainer.batch_size=16"])
    assert code == 2
    assert "must be a multiple of the 3 processes" in capsys.readouterr().err
