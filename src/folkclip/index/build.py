"""Building an index folder in three resumable steps.

1. :func:`prepare` reads and tokenizes the sources with the model's tokenizer config (file
   by file in a process pool, :func:`folkclip.data.dataset.read_tokenized`), computing the
   :data:`READ_FEATURES` of each tune where it is read, then runs the
   :data:`PREPARE_STAGES` in order: the tokenized corpus, the metadata (SQLite), the
   interval n-gram profiles, the identification data (unfolded melodies). A new kind of stored data is one more feature and one more
   stage function appended to these lists.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from folkclip.errors import FolkclipError
from folkclip.identify.melody import tune_melody
from folkclip.index import store
from folkclip.index.profiles import pitch_array
from folkclip.index.vectors import VectorIndex

CHUNK = 4096  # tunes per resumable part
RECALL_QUERIES = 500  # title queries used to measure recall@10 at build time


@dataclass
class Prepared:
    """What the preparing stages share.

    Attributes:
        fm: The :class:`~folkclip.export.FolkclipModel`.
        out: The index folder.
        sources: The sources as given.
        tc: The tokenized corpus (:class:`~folkclip.data.dataset.TokenizedCorpus`).
        features: Per :data:`READ_FEATURES` name, one value per tune of ``tc``.
        manifest: The manifest being written; stages add their own keys.
    """

    fm: object
    out: Path
    sources: list[str]
    tc: object
    features: dict[str, list]
    manifest: dict = field(default_factory=dict)


def write_tokens(p: Prepared) -> None:
    """Stage: the tokenized corpus (``tokens.*``), read back by the embedding step."""
    from folkclip.data.dataset import save

    save(p.tc, p.out / "tokens")  # type: ignore[arg-type]


def write_metadata(p: Prepared) -> None:
    """Stage: ``tunes.sqlite`` (sources relative to their collection, never a server path)."""
    from folkclip.io.sources import SourceNames

    names = SourceNames(p.sources)
    meta = [dict(m, source=names(m["source"])) for m in p.tc.meta]  # type: ignore[attr-defined]
    p.manifest["n_titles"] = len(store.write_metadata(p.out, meta))


def write_profiles(p: Prepared) -> None:
    """Stage: interval n-gram count and TF-IDF profiles, from the pitches read."""
    from folkclip.index.profiles import Profiles

    Profiles.from_pitches(p.features["pitches"]).save(p.out)


def write_identify(p: Prepared) -> None:
    """Stage: what identification needs (``identify/``: unfolded melodies' symbols and the
    inverted interval n-gram index, :mod:`folkclip.identify.store`)."""
    from folkclip.identify.store import build_stage

    p.manifest["identify"] = build_stage(p.features["melody"], p.tc.groups(),  # type: ignore[attr-defined]
                                         p.out)


# Per-tune values computed where the tune is read (module-level functions: they travel
# to the reading processes by name), and the stages that store what the index needs.
READ_FEATURES: dict[str, Callable] = {"pitches": pitch_array, "melody": tune_melody}
PREPARE_STAGES: list[Callable[[Prepared], None]] = [write_tokens, write_metadata,
                                                     write_profiles, write_identify]


def resolve_model(model_or_run_dir: object) -> tuple[object, str | None]:
    """A :class:`~folkclip.export.FolkclipModel` and the run folder it came from (if any)."""
    if isinstance(model_or_run_dir, (str, Path)):
        import folkclip

        return folkclip.load(model_or_run_dir), str(Path(model_or_run_dir).resolve())
    return model_or_run_dir, getattr(model_or_run_dir, "run_dir", None)


def prepare(fm: object, run: str | None, sources: list[str], out: Path,
            progress: bool = True, chunk: int = CHUNK, jobs: int | None = None) -> dict:
    """Step 1, or the manifest of a build already prepared with the same model and sources.

    Raises:
        FolkclipError: When ``out`` holds a build of another model or other sources.
    """
    return prepare_folder(fm, run, sources, out, progress, chunk, jobs)[0]


def prepare_folder(fm: object, run: str | None, sources: list[str], out: Path,
                   progress: bool = True, chunk: int = CHUNK, jobs: int | None = None
                   ) -> tuple[dict, object | None]:
    """:func:`prepare`, also giving the tokenized corpus when it was read now (else None)."""
    from folkclip.data.dataset import read_tokenized

    identity = store.model_identity(fm)
    out.mkdir(parents=True, exist_ok=True)
    old = store.read_manifest(out)
    if old is not None:
        if (old["model"]["config_hash"], old["model"]["weights_hash"], old["sources"]) != (
                identity["config_hash"], identity["weights_hash"], sources):
            raise FolkclipError(f"{out} holds an index of another model or other sources; "
                                "choose another --out folder or delete it")
        return old, None
    start = time.perf_counter()
    tc, features = read_tokenized(sources, fm.tokenizer_config, jobs=jobs,  # type: ignore[attr-defined]
                                  features=READ_FEATURES)
    seconds = {"reading": time.perf_counter() - start}
    p = Prepared(fm, out, sources, tc, features, {
        "format": store.FORMAT_VERSION, "state": "prepared",
        "model": {"run": run, **identity}, "tokenizer": fm.tokenizer_config.to_dict(),  # type: ignore[attr-defined]
        "max_events": fm.max_events, "sources": sources, "n_tunes": len(tc),  # type: ignore[attr-defined]
        "chunk": chunk,
        "problems": sum(1 for q in tc.problems if q["severity"] == "error")})
    for stage in PREPARE_STAGES:
        start = time.perf_counter()
        stage(p)
        seconds[stage.__name__] = time.perf_counter() - start
    p.manifest["seconds"] = {k: round(v, 2) for k, v in seconds.items()}
    store.write_manifest(out, p.manifest)
    return p.manifest, tc


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
    indices = chunk_indices(manifest, c)
    vecs = fm.embed_corpus(tc, indices, batch_size, ids, device)  # type: ignore[attr-defined]
    write_chunk(out, c, vecs)
    return len(indices)


def embed_missing(fm: object, out: Path, manifest: dict, batch_size: int = 256,
                  progress: bool = True, tc: object = None) -> float:
    """Step 2 in this process (``tc``: the corpus if in memory, else read from ``out``);
    returns the tunes embedded per second (0 when none were)."""
    from tqdm import tqdm

    from folkclip.data.dataset import load as load_tokens

    todo = missing_chunks(out, manifest)
    if not todo:
        return 0.0
    tc = load_tokens(out / "tokens") if tc is None else tc
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
    if missing_chunks(out, manifest):
        raise FolkclipError(f"{out}: tune vectors are still missing; run the build again")
    n_chunks = (manifest["n_tunes"] + manifest["chunk"] - 1) // manifest["chunk"]
    tunes = np.concatenate([np.load(chunk_path(out, c)) for c in range(n_chunks)])
    names = store.Metadata(out).title_names()
    start = time.perf_counter()
    titles = fm.embed_titles(names) if names else \
        np.zeros((0, tunes.shape[1]), np.float32)  # type: ignore[attr-defined]  # (M, D)
    seconds = {"title_bank": time.perf_counter() - start}
    title_rate = len(names) / max(seconds["title_bank"], 1e-9)
    start = time.perf_counter()
    tune_index = VectorIndex.build(tunes, kind)
    title_index = VectorIndex.build(titles, kind)
    rng = np.random.default_rng(0)
    qt = titles[rng.permutation(len(titles))[:RECALL_QUERIES]]
    qu = tunes[rng.permutation(len(tunes))[:RECALL_QUERIES]]
    vectors = {"tunes": tune_index.save(out, "tunes"), "titles": title_index.save(out, "titles")}
    recall = {"tunes": tune_index.recall_at(qt, 10), "titles": title_index.recall_at(qu, 10)}
    seconds["vector_indexes"] = time.perf_counter() - start
    start = time.perf_counter()
    np.save(out / "map.npy", project_2d(tunes))
    seconds["map"] = time.perf_counter() - start
    manifest = dict(manifest, state="complete", vectors=vectors, recall_at_10=recall,
                    titles_per_s=round(title_rate, 1),
                    seconds={**manifest.get("seconds", {}),
                             **{k: round(v, 2) for k, v in seconds.items()}})
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
