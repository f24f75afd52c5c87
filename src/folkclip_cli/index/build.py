"""Building a tune index on several devices through Lightning's predict loop.

The first process prepares the index folder (:func:`folkclip.index.build.prepare`);
the chunks of tune vectors still missing are then shared out among the processes
(one chunk per predict step, Lightning's distributed sampler), each written to
``parts/`` as it is done, so a stopped build resumes; the first process finishes the
index (:func:`folkclip.index.build.finalize`). ``folkclip index ... --devices 2``
runs it with DDP (gloo on CPUs).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from folkclip.index import build as ib


class ChunkEmbedder(L.LightningModule):
    """Predicts (embeds and writes) one chunk of tune vectors per step.

    Args:
        fm: The :class:`~folkclip.export.FolkclipModel`.
        out: The index folder (prepared).
        manifest: Its manifest.
        batch_size: Tunes per forward pass inside a chunk.
    """

    def __init__(self, fm: object, out: Path, manifest: dict, batch_size: int) -> None:
        super().__init__()
        self.fm, self.out, self.manifest, self.batch_size = fm, out, manifest, batch_size
        self.model = fm.model  # type: ignore[attr-defined]  # registered: moved to the device
        self.tc = None
        self.ids = None

    def on_predict_start(self) -> None:
        from folkclip.data.dataset import load as load_tokens

        self.tc = load_tokens(self.out / "tokens")
        self.ids = self.fm.corpus_ids(self.tc)  # type: ignore[attr-defined]

    def predict_step(self, batch: torch.Tensor, batch_idx: int) -> int:
        done = 0
        for c in batch.tolist():  # (1,) chunk numbers
            done += ib.embed_chunk(self.fm, self.tc, self.ids, self.manifest, self.out, int(c),
                                   self.batch_size, device=self.device)
        return done

    def on_predict_end(self) -> None:
        self.trainer.strategy.barrier("index chunks written")


def _first_process() -> bool:
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def build_with_lightning(run_dir: str | Path, sources: list[str], out: Path, *, devices: int = 2,
                         accelerator: str = "cpu", strategy: str = "auto",
                         batch_size: int = 256, progress: bool = True, kind: str = "auto",
                         chunk_size: int = ib.CHUNK) -> dict | None:
    """Build (or resume) an index with ``devices`` processes.

    Returns:
        The completed manifest on the first process, ``None`` on the others.
    """
    fm, run = ib.resolve_model(run_dir)
    if _first_process():
        manifest = ib.prepare(fm, run, list(sources), out, progress, chunk_size)
    else:  # launched by the first process, after it prepared the folder
        from folkclip.index.store import read_manifest

        manifest = read_manifest(out)
    if manifest["state"] == "complete":
        return manifest if _first_process() else None
    todo = ib.missing_chunks(out, manifest)
    if strategy == "auto":
        strategy = "ddp" if devices > 1 else "auto"
    trainer = L.Trainer(accelerator=accelerator, devices=devices, strategy=strategy,
                        logger=False, enable_progress_bar=progress,
                        enable_model_summary=False, enable_checkpointing=False)
    start = time.perf_counter()
    if todo:
        loader = DataLoader(torch.tensor(todo, dtype=torch.int64), batch_size=1)
        trainer.predict(ChunkEmbedder(fm, out, manifest, batch_size), loader,
                        return_predictions=False)
    if not trainer.is_global_zero:
        return None
    if todo:
        done = sum(len(ib.chunk_indices(manifest, c)) for c in todo)
        manifest["tunes_per_s"] = round(done / (time.perf_counter() - start), 1)
        manifest.setdefault("seconds", {})["tune_vectors"] = round(time.perf_counter() - start, 2)
    fm.model.cpu()  # type: ignore[attr-defined]
    return ib.finalize(fm, out, manifest, batch_size, progress, kind)
