"""Samples/s of the whole ``folkclip train`` process, this checkout against another, alternating.

For each config (the default and the study's encoders) the command
``folkclip train --config C --set trainer.max_steps=S ...`` runs as a whole process (start-up,
reading the cached corpus, validation and export included), alternately with this
checkout's ``src`` and with ``--old-src`` (e.g. a worktree of commit 0fd79f4), ``--runs``
times each. It prints per config the median samples/s (``S * batch_size / wall seconds``)
of both, and the min/median/max of the paired ratio new/old. ``--new-set`` adds overrides
to this checkout's runs only (fields the old version lacks, such as
``trainer.bucket_by_length`` for the study's configs). Each version reads its own
``configs/`` folder (beside its ``src``). ``--flops`` also counts the FLOPs of one default training
step (forward + backward, :class:`torch.utils.flop_counter.FlopCounterMode`) on a real batch.

    python benchmarks/train_speed.py --old-src /work/old/src [--configs default cnn ...]
        [--steps 30] [--base-steps 1] [--runs 3] [--threads 0]
        [--new-set trainer.bucket_by_length=true]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUDY = ("default", "header", "cnn", "gru", "gru-attn", "transformer", "patch-transformer",
         "lm-transfer")


def one_run(src: Path, config: str, steps: int, threads: int, extra: list[str]) -> float:
    """Wall seconds of one whole ``folkclip train`` process, with the config files of the
    checkout that ``src`` belongs to (``threads`` 0: the config's own setting)."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "folkclip_cli.main", "train",
               "--config", str(src.parent / "configs" / f"{config}.yaml"), "--out", out,
               "--set", f"trainer.max_steps={steps}",
               "--set", "trainer.progress_bar=false", "--set", "tracking.logger=csv"]
        if threads:
            cmd += ["--set", f"trainer.threads={threads}"]
        for item in extra:
            cmd += ["--set", item]
        env = {**os.environ, "PYTHONPATH": str(src)}
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                              check=False)
        wall = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{config} ({src}) failed:\n{done.stderr[-2000:]}")
    return wall


def count_flops(threads: int) -> None:
    """FLOPs of one training step of the default model on a real batch of ``default``."""
    import numpy as np
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from folkclip.data.dataset import load_tokenized
    from folkclip.data.tokenize import TokenizerConfig
    from folkclip.loss import clip_loss
    from folkclip.models import create_model
    from folkclip_cli.train.loaders import PairDataset, make_collate

    torch.set_num_threads(threads)
    tc = load_tokenized(["default"], TokenizerConfig(), progress=False)
    ds = PairDataset(tc, tc.split(0, (0.8, 0.1, 0.1))["train"], 0, True)
    model = create_model("gru-attn", {f: len(v) for f, v in tc.vocab.items()})
    collate = make_collate(tc, model.tokenize_titles, 256, False)
    pick = np.random.default_rng(0).choice(len(ds), 64, replace=False)
    batch = collate([ds[int(i)] for i in pick])
    with FlopCounterMode(display=False) as counter:
        out = model(batch)
        loss = clip_loss(out["tune_emb"], out["title_emb"], out["logit_scale"],
                         batch["title_ids"], group_ids=batch["group_ids"])
        loss["contrastive_loss"].backward()
    events = int(batch["mask"].sum())
    print(f"default step (batch 64, {events} events): {counter.get_total_flops() / 1e9:.2f} "
          "GFLOP counted (matrix products; forward + backward)")
    for n in (256, 1024):  # what this CPU's matrix products reach, the practical peak
        rates = ", ".join(f"{dtype}: {_matmul_rate(n, getattr(torch, dtype)):.0f}"
                          for dtype in ("float32", "bfloat16"))
        print(f"matrix product {n}x{n}, {threads} thread(s): {rates} GFLOP/s (best of 3)")


def _matmul_rate(n: int, dtype: object) -> float:
    """GFLOP/s of an ``n`` x ``n`` matrix product in ``dtype``, best of 3 timings."""
    import torch

    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    reps = max(1, int(4e9 / (2 * n ** 3)))
    a @ b  # warm-up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 * reps / best / 1e9


def _row(config: str, what: str, rates: dict[str, list[float]]) -> None:
    """One printed row: median samples/s of both versions and the paired ratio new/old."""
    ratios = sorted(n / o for n, o in zip(rates["new"], rates["old"]))
    print(f"{config:<18}{what:<10}{statistics.median(rates['old']):>14.1f}"
          f"{statistics.median(rates['new']):>14.1f}  "
          f"{ratios[0]:.2f} / {statistics.median(ratios):.2f} / {ratios[-1]:.2f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--old-src", required=True, help="src folder of the version to compare with")
    p.add_argument("--configs", nargs="+", default=list(STUDY), help="configs/<name>.yaml")
    p.add_argument("--steps", type=int, default=30, help="trainer.max_steps of every run")
    p.add_argument("--runs", type=int, default=3, help="runs of each version (alternating)")
    p.add_argument("--threads", type=int, default=0,
                   help="trainer.threads of every run (0: as each config says)")
    p.add_argument("--base-steps", type=int, default=0,
                   help="also time runs of this many steps and print the marginal rate, "
                        "(steps - base) x batch / (wall - base wall): start-up, the final "
                        "evaluation and export cancel out")
    p.add_argument("--batch-size", type=int, default=64, help="the configs' batch size")
    p.add_argument("--new-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override for this checkout's runs only (repeatable)")
    p.add_argument("--flops", action="store_true", help="also count a default step's FLOPs")
    args = p.parse_args(argv)
    new_src, old_src = ROOT / "src", Path(args.old_src).resolve()
    samples = args.steps * args.batch_size
    print(f"{args.steps} steps x batch {args.batch_size}, threads "
          f"{args.threads or 'as configured'}, {args.runs} alternating runs each; new extra: "
          f"{args.new_set or 'none'}" + (f"; marginal over {args.base_steps}-step runs"
                                          if args.base_steps else ""))
    print(f"{'config':<18}{'':<10}{'old samples/s':>14}{'new samples/s':>14}"
          "  ratio new/old min/med/max")
    for config in args.configs:
        walls: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.runs):
            for steps in (args.steps, args.base_steps) if args.base_steps else (args.steps,):
                for name, src, extra in (("new", new_src, args.new_set), ("old", old_src, [])):
                    walls.setdefault((name, steps), []).append(
                        one_run(src, config, steps, args.threads, extra))
        rates = {name: [samples / w for w in walls[name, args.steps]] for name in ("new", "old")}
        _row(config, "whole", rates)
        if args.base_steps:
            extra_samples = (args.steps - args.base_steps) * args.batch_size
            _row(config, "marginal", {name: [
                extra_samples / (w - b) for w, b in zip(walls[name, args.steps],
                                                        walls[name, args.base_steps])]
                for name in ("new", "old")})
    if args.flops:
        sys.path.insert(0, str(new_src))
        count_flops(args.threads or 2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
