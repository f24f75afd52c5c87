"""Building an index folder in three resumable steps.

1. :func:`prepare` reads and tokenizes the sources with the model's tokenizer config,
   writes the metadata (SQLite), the interval n-gram profiles and the tokenized corpus.
2. Tune vectors are computed in chunks of :data:`CHUNK` tunes, each written to
   ``parts/`` as it is done (:func:`embed_chunk`), here or by several processes through
   Lightning's predict loop (``folkclip_cli.index.build``); a stopped build resumes
   with the chunks still missing.
3. :func:`finalize` joins the chunks, embeds the title bank, builds the vector indexes
   (reporting recall@10 of an approximate one against exact search) and the 2-D map.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from folkclip.errors import FolkclipError
from folkclip.index import store
from folkclip.index.vectors import VectorIndex

CHUNK = 4096  # tunes per resumable part
RECALL_QUERIES = 500  # title queries used to measure recall@10 at build time


def resolve_model(model_or_run_dir: object) -> tuple[object, str | None]:
    """A :class:`~folkclip.export.FolkclipModel` and the run folder it came from (if any)."""
    if isinstance(model_or_run_dir, (str, Path)):
        import folkclip

        return folkclip.load(model_or_run_dir), str(Path(model_or_run_dir).resolve())
    return model_or_run_dir, getattr(model_or_run_dir, "run_dir", None)


def prepare(fm: object, run: str | None, sources: list[str], out: Path,
            progress: bool = True, chunk: int = CHUNK) -> dict:
    """Step 1, or the manifest of a build already prepared with the same model and sources.

    Raises:
        FolkclipError: When ``out`` holds a build of another model or other sources.
    """
    from folkclip.data.dataset import save, tokenize_corpus
    from folkclip.identify.store import build_stage, indexed_tunes
    from folkclip.index.profiles import Profiles, ngram_document, pitches_of
    from folkclip.io.sources import read_sources

    identity = store.model_identity(fm)
    out.mkdir(parents=True, exist_ok=True)
    old = store.read_manifest(out)
    if old is not None:
        if (old["model"]["config_hash"], old["model"]["weights_hash"], old["sources"]) != (
                identity["config_hash"], identity["weights_hash"], sources):
            raise FolkclipError(f"{out} holds an index of another model or other sources; "
                                "choose another --out folder or delete it")
        return old
    corpus = read_sources(sources)
    if not corpus.tunes:
        raise FolkclipError(f"no tunes could be read from {', '.join(sources)}")
    tc = tokenize_corpus(corpus, fm.tokenizer_config, progress=progress)  # type: ignore[attr-defined]
    save(tc, out / "tokens")
    bank = store.write_metadata(out, tc.meta)
    Profiles.fit([ngram_document(pitches_of(t)) for t in corpus.tunes]).save(out)
    identify = build_stage(indexed_tunes(corpus.tunes, tc.meta), tc.groups(), out)
    manifest = {
        "format": store.FORMAT_VERSION, "state": "prepared",
        "model": {"run": run, **identity}, "tokenizer": fm.tokenizer_config.to_dict(),  # type: ignore[attr-defined]
        "max_events": fm.max_events, "sources": sources, "n_tunes": len(tc),  # type: ignore[attr-defined]
        "n_titles": len(bank), "chunk": chunk, "problems": len(corpus.errors),
        "identify": identify,
    }
    store.write_manifest(out, manifest)
    return manifest


def missing_chunks(out: Path, manifest: dict) -> list[int]:
    """Chunks of tune vectors not yet written to ``parts/``."""
    n, size = manifest["n_tunes"], manifest["chunk"]
    return [c for c in range((n + size - 1) // size) if not chunk_path(out, c).exists()]


def chunk_path(out: Path, c: int) -> Path:
    return out / "parts" / f"tunes-{c:05d}.npy"


def chunk_indices(manifest: dict, c: int) -> list[int]:
    size = manifest["chunk"]
    return list(range(c * size, min((c + 1) * size, manifest["n_tunes"])))


def write_chunk(out: Path, c: int, vectors: np.ndarray) -> None:
    """Write one chunk of tune vectors atomically (a stopped build never leaves half a part)."""
    path = chunk_path(out, c)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")  # processes may share a chunk
    np.save(tmp, vectors.astype(np.float32))
    os.replace(tmp, path)


def embed_chunk(fm: object, tc: object, ids: np.ndarray, manifest: dict, out: Path, c: int,
                batch_size: int = 256, device: object = "cpu") -> int:
    """Embed chunk ``c``'s tunes with the tune tower and write them; return their number."""
    from folkclip.eval.evaluation import embed_tunes

    indices = chunk_indices(manifest, c)
    vecs = embed_tunes(fm.model, tc, indices, batch_size, fm.max_events, ids,  # type: ignore[attr-defined]
                       device=device)
    write_chunk(out, c, vecs)
    return len(indices)


def embed_missing(fm: object, out: Path, manifest: dict, batch_size: int = 256,
                  progress: bool = True) -> float:
    """Step 2 in this process; returns the tunes embedded per second (0 when none were)."""
    from tqdm import tqdm

    from folkclip.data.dataset import load as load_tokens

    todo = missing_chunks(out, manifest)
    if not todo:
        return 0.0
    tc = load_tokens(out / "tokens")
    ids = fm.corpus_ids(tc)  # type: ignore[attr-defined]
    total = sum(len(chunk_indices(manifest, c)) for c in todo)
    start = time.perf_counter()
    with tqdm(total=total, desc="embedding tunes", unit="tune", disable=not progress) as bar:
        for c in todo:
            bar.update(embed_chunk(fm, tc, ids, manifest, out, c, batch_size))
    return total / max(time.perf_counter() - start, 1e-9)


def finalize(fm: object, out: Path, manifest: dict, batch_size: int = 256,
             progress: bool = True, kind: str = "auto") -> dict:
    """Step 3: join the parts, embed the title bank, build the vector indexes and the map.

    Returns:
        The completed manifest (also written to ``out``).
    """
    from folkclip.eval.evaluation import embed_titles

    if missing_chunks(out, manifest):
        raise FolkclipError(f"{out}: tune vectors are still missing; run the build again")
    n_chunks = (manifest["n_tunes"] + manifest["chunk"] - 1) // manifest["chunk"]
    tunes = np.concatenate([np.load(chunk_path(out, c)) for c in range(n_chunks)])
    names = store.Metadata(out).title_names()
    start = time.perf_counter()
    titles = embed_titles(fm.model, names, batch_size) if names else \
        np.zeros((0, tunes.shape[1]), np.float32)  # type: ignore[attr-defined]
    title_rate = len(names) / max(time.perf_counter() - start, 1e-9)
    tune_index = VectorIndex.build(tunes, kind)
    title_index = VectorIndex.build(titles, kind)
    rng = np.random.default_rng(0)
    qt = titles[rng.permutation(len(titles))[:RECALL_QUERIES]]
    qu = tunes[rng.permutation(len(tunes))[:RECALL_QUERIES]]
    manifest = dict(manifest, state="complete", vectors={
        "tunes": tune_index.save(out, "tunes"), "titles": title_index.save(out, "titles")},
        recall_at_10={"tunes": tune_index.recall_at(qt, 10),
                      "titles": title_index.recall_at(qu, 10)},
        titles_per_s=round(title_rate, 1))
    np.save(out / "map.npy", project_2d(tunes))
    store.write_manifest(out, manifest)
    for c in range(n_chunks):
        chunk_path(out, c).unlink(missing_ok=True)
    for tmp in (out / "parts").glob("*.tmp.npy"):  # left by a stopped process
        tmp.unlink()
    (out / "parts").rmdir()
    return manifest


def project_2d(vectors: np.ndarray) -> np.ndarray:
    """(N, 2) float32 PCA projection of the tune vectors (scikit-learn, fixed seed)."""
    from sklearn.decomposition import PCA

    if len(vectors) < 2:
        return np.zeros((len(vectors), 2), np.float32)
    return PCA(n_components=2, random_state=0).fit_transform(vectors).astype(np.float32)
