"""Training throughput of every melody encoder on random tokens.

For each packaged model configuration (``folkclip/model_configs``, MiniLM variants
skipped) this times forward + backward + AdamW steps of the melody tower (encoder and
projection; with ``--full`` the title tower and a CLIP loss on random titles too) at
batch 64 and a fixed sequence length, and prints samples/s from the median step
time (wall clock, ``torch.set_num_threads(2)``).

    python benchmarks/encoders.py [--length 256] [--batch 64] [--seconds 8] [--full]
        [--models gru cnn] [--set melody.dim=128 melody.layers=1]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

import torch
import torch.nn.functional as F

from folkclip.models import MELODY_ENCODERS, create_model
from folkclip.data.tokenize import FIELDS

VOCAB = 64
HEADER_EVENTS = 6


def random_batch(batch: int, length: int, patch_size: int, max_patches: int,
                 generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Random full-length event ids (B, T, F) plus masks and a bar-patch view."""
    tokens = torch.randint(1, VOCAB, (batch, length, len(FIELDS)), generator=generator)
    mask = torch.ones(batch, length, dtype=torch.bool)
    header = torch.zeros(batch, length, dtype=torch.bool)
    header[:, :HEADER_EVENTS] = True
    n_patches = min(max_patches, -(-length // (patch_size // 2)))  # ~half-full patches
    patches = torch.randint(1, VOCAB, (batch, n_patches, patch_size, len(FIELDS)),
                            generator=generator)
    used = torch.randint(patch_size // 3, patch_size + 1, (batch, n_patches, 1),
                         generator=generator)
    patches = patches * (torch.arange(patch_size).view(1, 1, -1) < used).unsqueeze(-1)
    return {"tokens": tokens, "mask": mask, "header_mask": header, "patches": patches,
            "patch_mask": torch.ones(batch, n_patches, dtype=torch.bool)}


def random_titles(batch: int, rng: random.Random) -> list[str]:
    words = ["the", "reel", "jig", "maid", "of", "mount", "kisco", "silver", "spear",
             "drowsy", "maggie", "humours", "ballyloughlin", "kesh", "cooley's"]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(1, 5))) for _ in range(batch)]


def throughput(name: str, length: int, batch: int, seconds: float, full: bool,
               overrides: dict[str, object] | None = None) -> float:
    """Samples/s of training steps on the model configuration ``name``."""
    generator, rng = torch.Generator().manual_seed(0), random.Random(0)
    model = create_model(name, {f: VOCAB for f in FIELDS},
                         **{"melody.max_len": length, **(overrides or {})})
    cfg = model.config.melody
    data = random_batch(batch, length, cfg.patch_size, cfg.max_patches, generator)
    params = (model.parameters() if full else
              list(model.melody.parameters()) + list(model.tune_proj.parameters()))
    opt = torch.optim.AdamW([p for p in params if p.requires_grad], lr=1e-4)
    model.train()
    labels = torch.arange(batch)

    def step() -> None:
        if full:
            out = model({**data, "title": model.tokenize_titles(random_titles(batch, rng))})
            logits = out["logit_scale"] * out["tune_emb"] @ out["title_emb"].T
            loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        else:
            loss = model.encode_tunes(data).sum(0).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):  # warm-up
        step()
    times: list[float] = []
    while len(times) < 3 or sum(times) < seconds:
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)  # the median resists other load on the machine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--length", type=int, default=256, help="events per tune")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=8.0, help="timing per model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--full", action="store_true", help="also train the title tower")
    parser.add_argument("--models", nargs="*", help="config names (default: one per arch)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=JSON",
                        help="config overrides, e.g. melody.dim=128 melody.layers=1")
    args = parser.parse_args(argv)
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    # the packaged config of each arch (the transferred 'lm' arch needs a trained LM run)
    names = args.models or [a for a in MELODY_ENCODERS if a != "lm"]
    print(f"batch {args.batch}, length {args.length}, {args.threads} threads, "
          f"{'both towers' if args.full else 'melody tower'}"
          f"{', overrides ' + str(overrides) if overrides else ''}")
    print(f"{'model':<20}{'melody params':>14}{'samples/s':>12}")
    for name in names:
        model = create_model(name, {f: VOCAB for f in FIELDS}, **overrides)
        n_params = sum(p.numel() for p in model.melody.parameters())
        rate = throughput(name, args.length, args.batch, args.seconds, args.full, overrides)
        print(f"{name:<20}{n_params:>14,}{rate:>12.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
