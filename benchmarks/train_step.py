"""Where a training step of the default model goes, on real batches of ``default``.

Times, per optimiser step of the two-tower model of ``configs/default.yaml`` (gru-attn
melody tower, char-GRU titles, batch 64, first 256 events, InfoNCE on random pairs):
batch collation, melody forward, title forward, the backward pass through both towers
and the loss + optimiser step, and prints each share and samples/s. With ``--src`` another
checkout's ``src`` folder is imported instead (to compare two versions side by side, run
both alternately).

    python benchmarks/train_step.py [--steps 6] [--threads 2] [--src OTHER/src]
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=6, help="timed steps (after one warm-up)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--src", default=None, help="import folkclip from this src folder")
    args = parser.parse_args(argv)
    if args.src:
        sys.path.insert(0, args.src)
    import numpy as np
    import torch
    import torch.nn.functional as F

    from folkclip.models import create_model

    try:  # this version's layout, or the previous one's (commit c0fe8ca)
        from folkclip.data.dataset import load_tokenized
        from folkclip.data.tokenize import TokenizerConfig
        from folkclip_cli.train.loaders import PairDataset, make_collate
    except ImportError:
        from folkclip.dataset import load_tokenized
        from folkclip.tokenize import TokenizerConfig
        from folkclip_train.data import PairDataset, make_collate

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tc = load_tokenized(["default"], TokenizerConfig())
    train = tc.split(0, (0.8, 0.1, 0.1))["train"]
    model = create_model("gru-attn", {f: len(v) for f, v in tc.vocab.items()})
    collate = make_collate(tc, model.tokenize_titles, 256, False)
    ds = PairDataset(tc, train, 0, True)
    rng = np.random.default_rng(0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    phases = ("collate", "melody forward", "title forward", "backward", "loss + optimiser")
    total = dict.fromkeys(phases, 0.0)
    events = []
    for step in range(args.steps + 1):
        t0 = time.perf_counter()
        batch = collate([ds[int(i)] for i in rng.choice(len(ds), 64, replace=False)])
        t1 = time.perf_counter()
        tune = model.encode_tunes(batch)  # (B, D)
        t2 = time.perf_counter()
        title = model.encode_titles(batch["title"])  # (B, D)
        t3 = time.perf_counter()
        logits = model.scale() * tune @ title.T  # (B, B)
        labels = torch.arange(len(logits))
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        t4 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t5 = time.perf_counter()
        opt.step()
        t6 = time.perf_counter()
        if step == 0:
            continue  # warm-up
        events.append(float(batch["mask"].sum(1).float().mean()))
        for name, dt in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t5 - t4, (t4 - t3) + (t6 - t5))):
            total[name] += dt
    step_s = sum(total.values()) / args.steps
    print(f"folkclip from {sys.modules['folkclip'].__file__}")
    print(f"batch 64, {np.mean(events):.0f} events per tune on average, {args.threads} threads, "
          f"{args.steps} steps: {step_s * 1000:.0f} ms per step, {64 / step_s:.1f} samples/s")
    for name, t in total.items():
        print(f"  {name:<18}{t / args.steps * 1000:8.1f} ms  {t / sum(total.values()):6.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
