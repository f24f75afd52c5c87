"""Where a training step goes, on real batches of ``default``: random or length-bucketed.

Times, per optimiser step of a two-tower model (default: ``gru-attn`` melody tower, the
model of ``configs/default.yaml``; char-GRU titles, batch 64, first 256 events, InfoNCE):
batch collation, melody forward, title forward, the backward pass through both towers and
the loss + optimiser step, and prints each share and samples/s. ``--batches random
bucketed`` times batches of 64 random training tunes against the batches of
``trainer.bucket_by_length`` (:func:`folkclip_cli.train.loaders.bucketed_order`),
alternating step by step in one process; ``--archs`` takes several model presets. With
``--src`` another checkout's ``src`` folder is imported instead (random batches only).
``--compile`` adds, per model, a copy whose two towers run under ``torch.compile``
(``dynamic=True``, same initial weights), timed in the same alternation; its first steps
(compilation) are reported apart, and a model that cannot be compiled is reported with the
error instead. ``--bf16`` adds, per model, a copy (same initial weights) whose forward runs
under ``torch.autocast("cpu", dtype=torch.bfloat16)`` (``trainer.precision: bf16-mixed``),
timed in the same alternation. A preset may carry model fields after a colon (dotted fields
of :class:`~folkclip.models.config.ModelConfig`, comma-separated), so that ``--archs gru-attn
gru-attn:melody.layers=1`` times a smaller tower beside the default one.

    python benchmarks/train_step.py [--steps 6 | --steps 0 (one epoch)] [--threads 2]
        [--batch-size 64] [--archs gru-attn transformer] [--batches random bucketed]
        [--src OTHER/src] [--compile] [--bf16]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time

PHASES = ("collate", "melody forward", "title forward", "backward", "loss + optimiser")


def model_fields(arch: str) -> tuple[str, dict[str, object]]:
    """``"gru-attn:melody.layers=1,melody.dim=64"`` -> the preset and its field changes
    (values read as JSON where they parse, else kept as text)."""
    name, _, spec = arch.partition(":")
    fields: dict[str, object] = {}
    for item in filter(None, spec.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"model field needs FIELD=VALUE, got {item!r} in {arch!r}")
        try:
            fields[key] = json.loads(value)
        except json.JSONDecodeError:
            fields[key] = value
    return name, fields


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=6,
                        help="timed steps (after one warm-up); 0: every batch of one epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--archs", nargs="+", default=["gru-attn"], help="model presets")
    parser.add_argument("--batches", nargs="+", default=["random"],
                        choices=("random", "bucketed"), help="how batches are drawn")
    parser.add_argument("--src", default=None, help="import folkclip from this src folder")
    parser.add_argument("--compile", action="store_true",
                        help="also time each model with its towers under torch.compile")
    parser.add_argument("--bf16", action="store_true",
                        help="also time each model with its forward under bfloat16 autocast")
    args = parser.parse_args(argv)
    try:
        specs = {arch: model_fields(arch) for arch in args.archs}
    except ValueError as err:
        parser.error(str(err))
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
    ds = PairDataset(tc, train, 0, True)
    rng = np.random.default_rng(0)
    bs = args.batch_size
    batches: dict[str, list[np.ndarray]] = {}
    for how in args.batches:
        if how == "bucketed":
            from folkclip_cli.train.loaders import bucketed_order

            lengths = np.minimum(np.diff(tc.offsets)[np.asarray(ds.indices)], 256)
            order = bucketed_order(lengths, bs, np.random.default_rng([0, 0]))
        else:
            order = rng.permutation(len(ds))
        batches[how] = [order[s:s + bs] for s in range(0, len(order) - bs + 1, bs)]
    steps = args.steps or min(len(b) for b in batches.values()) - 1
    runs, failed, warm_up = {}, {}, {}
    variants = [(arch, mode) for arch in args.archs
                for mode in ("eager", *(("compile",) if args.compile else ()),
                             *(("bf16",) if args.bf16 else ()))]
    for arch, mode in variants:
        torch.manual_seed(0)  # every copy starts from the eager model's weights
        preset, fields = specs[arch]
        model = create_model(preset, {f: len(v) for f, v in tc.vocab.items()}, **fields)
        collate = make_collate(tc, model.tokenize_titles, 256, "patches" in model.melody_inputs)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        tunes, titles = model.encode_tunes, model.encode_titles
        if mode == "compile":
            tunes = torch.compile(tunes, dynamic=True)
            titles = torch.compile(titles, dynamic=True)
        name = arch if mode == "eager" else f"{arch}+{mode}"
        for how in args.batches:
            runs[name, how] = (model, collate, opt, dict.fromkeys(PHASES, 0.0), [],
                               tunes, titles, mode == "bf16")
    warm = 3 if args.compile else 1  # compilation happens in the first steps (new shapes)
    for step in range(steps + warm):
        for (arch, how), (model, collate, opt, total, events, tunes, titles,
                          bf16) in runs.items():
            if arch in failed:
                continue
            pick = batches[how][step % len(batches[how])]
            t0 = time.perf_counter()
            batch = collate([ds[int(i)] for i in pick])
            t1 = time.perf_counter()
            cast = (torch.autocast("cpu", dtype=torch.bfloat16) if bf16
                    else contextlib.nullcontext())
            try:
                with cast:
                    tune = tunes(batch).float()  # (B, D)
                    t2 = time.perf_counter()
                    title = titles(batch["title"]).float()  # (B, D)
            except Exception as err:  # noqa: BLE001 - a model torch.compile cannot take
                failed[arch] = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
                continue
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
            if step < warm:
                warm_up[arch, how] = warm_up.get((arch, how), 0.0) + t6 - t0
                continue  # warm-up (and compilation)
            events.append((float(batch["mask"].sum(1).float().mean()), batch["mask"].shape[1]))
            for name, dt in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t5 - t4,
                                         (t4 - t3) + (t6 - t5))):
                total[name] += dt
    print(f"folkclip from {sys.modules['folkclip'].__file__}")
    for arch, err in failed.items():
        print(f"{arch}: torch.compile failed: {err}")
    for (arch, how), (_, _, _, total, events, *_) in runs.items():
        if arch in failed:
            continue
        step_s = sum(total.values()) / steps
        mean_events = np.mean([e for e, _ in events])
        padded = np.mean([t for _, t in events])
        print(f"{arch} / {how} batches: batch {bs}, {mean_events:.0f} events per tune, padded "
              f"to {padded:.0f}, {args.threads} threads, {steps} steps: "
              f"{step_s * 1000:.0f} ms per step, {bs / step_s:.1f} samples/s (first {warm} "
              f"step(s), not counted: {warm_up.get((arch, how), 0.0):.1f} s)")
        for name, t in total.items():
            print(f"  {name:<18}{t / steps * 1000:8.1f} ms  {t / sum(total.values()):6.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
