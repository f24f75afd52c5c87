"""The tune index: search tunes by title, suggest titles for a tune, find similar tunes.

    idx = TuneIndex.build("runs/default", ["default"], "index/default")
    idx = TuneIndex.load("index/default")
    idx.search("the blackbird", k=10)
    idx.suggest(abc_text, k=10)
    idx.similar(tune_id=12, k=10)
    idx.names(abc_text, n=10)  # written by the index's title model, if it carries one
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from folkclip.abc.titles import title_key
from folkclip.errors import FolkclipError
from folkclip.identify.limits import RERANK_CANDIDATES
from folkclip.index import build as _build
from folkclip.index import rerank as _rerank
from folkclip.index import similar as _similar
from folkclip.index import store
from folkclip.index.profiles import NEAR_DUPLICATE, Profiles
from folkclip.index.query import QueryTune, read_query, read_tune
from folkclip.index.query_encoder import QueryEncoder
from folkclip.index.vectors import VectorIndex

NEAR_DUPLICATE_CANDIDATES = 20  # most similar tunes checked for a near-duplicate melody
_NOT_LOADED = object()


class UnknownTuneError(FolkclipError, KeyError):
    """No tune with this id in the index."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown tune"


class TuneIndex:
    """An index folder opened with its model (see :mod:`folkclip.index.store`).

    Attributes:
        folder: The index folder.
        manifest: Its manifest (format, model identity, sizes, recall@10 ...).
        model: The :class:`~folkclip.export.FolkclipModel` that wrote it.
        title_model: The title model the index carries
            (:mod:`folkclip.index.title_model`; loaded at first use), or ``None``; may be
            set to another :class:`~folkclip.models.title_lm.LoadedTitleLM`.
    """

    def __init__(self, folder: Path, manifest: dict, model: object, backend: str = "auto"
                 ) -> None:
        self.folder, self.manifest, self.model = folder, manifest, model
        self.tunes = VectorIndex.load(folder, manifest["vectors"]["tunes"], backend)
        self.titles = VectorIndex.load(folder, manifest["vectors"]["titles"], backend)
        self.profiles = Profiles.load(folder)
        self.meta = store.Metadata(folder)
        self.title_names = self.meta.title_names()
        self._lock = threading.Lock()  # sqlite reads and torch encoding, one at a time
        self._encoder: QueryEncoder | None = None
        self._title_model: object = _NOT_LOADED
        self._identify: object | None = None  # IdentifyData, opened at the first re-ranking

    @property
    def encoder(self) -> QueryEncoder:
        """The model's single-query encoder (ONNX Runtime where it agrees with torch),
        made at the first query."""
        if self._encoder is None:
            self._encoder = QueryEncoder(self.model)
        return self._encoder

    @property
    def title_model(self) -> object | None:
        """The index's title model, loaded at first use; ``None`` when it carries none.

        Raises:
            FolkclipError: When the manifest records one whose files do not fit.
        """
        if self._title_model is _NOT_LOADED:
            from folkclip.index.title_model import load_index_title_model

            self._title_model = load_index_title_model(self.folder, self.manifest)
        return self._title_model

    @title_model.setter
    def title_model(self, value: object | None) -> None:
        self._title_model = value

    @classmethod
    def build(cls, model_or_run_dir: object, sources: list[str] | str, out_dir: str | Path, *,
              batch_size: int = 64, progress: bool = True, kind: str = "auto",
              chunk_size: int = _build.CHUNK, jobs: int | None = None) -> TuneIndex:
        """Embed every tune and title of ``sources`` and save an index folder (resumable).

        Args:
            model_or_run_dir: A run folder (or its ``model/``) or a loaded model.
            sources: Source names or paths, as for ``folkclip data inspect``.
            out_dir: The index folder; a stopped build there resumes.
            batch_size: Tunes per forward pass.
            progress: Show progress bars.
            kind: Vector index: ``auto`` (exact up to the measured break-even, HNSW
                beyond), ``flat``, ``hnsw`` or ``numpy``.
            chunk_size: Tunes per resumable part.
            jobs: Processes reading the sources (``None``: one per processor).

        Raises:
            FolkclipError: For unreadable sources, or ``out_dir`` holding another build.
        """
        fm, run = _build.resolve_model(model_or_run_dir)
        sources = [sources] if isinstance(sources, str) else list(sources)
        out = Path(out_dir)
        manifest, tc = _build.prepare_folder(fm, run, sources, out, progress, chunk_size, jobs)
        if manifest["state"] != "complete":
            start = time.perf_counter()
            rate = _build.embed_missing(fm, out, manifest, batch_size, progress, tc)
            if rate:
                manifest["tunes_per_s"] = round(rate, 1)
                manifest.setdefault("seconds", {})["tune_vectors"] = round(
                    time.perf_counter() - start, 2)
            manifest = _build.finalize(fm, out, manifest, batch_size, progress, kind)
        return cls(out, manifest, fm)

    @classmethod
    def load(cls, out_dir: str | Path, model: object = None, backend: str = "auto"
             ) -> TuneIndex:
        """Open an index folder.

        Args:
            out_dir: The index folder.
            model: The model that built it; loaded from the recorded run folder if ``None``.
            backend: ``auto``, or ``numpy`` for exact numpy search without FAISS.

        Raises:
            FolkclipError: For a missing or unfinished index, or a model that did not build it.
        """
        folder = Path(out_dir)
        manifest = store.read_manifest(folder)
        if manifest is None:
            raise FolkclipError(f"{folder} is not a folkclip index (no {store.MANIFEST})")
        if manifest["state"] != "complete":
            raise FolkclipError(f"the index in {folder} is unfinished; run `folkclip index` "
                                "again to complete it")
        if model is None:
            run = manifest["model"]["run"]
            if not run or not Path(run).exists():
                raise FolkclipError(f"the index's model run {run!r} is not there; pass the model")
            model, _ = _build.resolve_model(run)
        ident = store.model_identity(model)
        want = manifest["model"]
        if (ident["config_hash"], ident["weights_hash"]) != (want["config_hash"],
                                                             want["weights_hash"]):
            raise FolkclipError(
                f"the model (config {ident['config_hash']}, weights {ident['weights_hash']}) "
                f"is not the one that built {folder} (config {want['config_hash']}, weights "
                f"{want['weights_hash']}, run {want['run']})")
        return cls(folder, manifest, model, backend)

    def __len__(self) -> int:
        return len(self.tunes)

    def _results(self, pairs: list[tuple[int, float]]) -> list[dict]:
        with self._lock:
            meta = self.meta.tunes([i for i, _ in pairs])
        keys = ("tune_id", "title", "type", "key", "meter", "source", "x")
        return [dict({k: meta[i][k] for k in keys}, score=round(s, 6)) for i, s in pairs]

    def search(self, text: str, k: int = 10) -> list[dict]:
        """Tunes whose melody fits a title or free text, best first.

        Returns:
            ``{"tune_id", "title", "score", "type", "key", "meter", "source", "x"}`` per tune.
        """
        with self._lock:
            q = self.encoder.title_vectors([text])  # (1, D)
        scores, ids = self.tunes.search(q, k)
        return self._results([(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0])

    def tune(self, tune_id: str | int) -> dict:
        """One tune's metadata and ABC text.

        Raises:
            UnknownTuneError: When no tune has this id.
        """
        tid = self._tune_id(tune_id)
        with self._lock:
            row = self.meta.tune(tid)
        return row  # type: ignore[return-value]

    def _tune_id(self, tune_id: str | int) -> int:
        try:
            tid = int(tune_id)
        except (TypeError, ValueError):
            raise UnknownTuneError(f"no tune {tune_id!r} in the index (ids are numbers)") from None
        if not 0 <= tid < len(self):
            raise UnknownTuneError(f"no tune {tid} in the index (ids 0-{len(self) - 1})")
        return tid

    def read(self, abc: str) -> QueryTune:
        """Read and embed a query tune (raises :class:`AbcQueryError` for bad ABC)."""
        with self._lock:
            return read_query(abc, self.model, encoder=self.encoder)

    def similar(self, abc: str | None = None, tune_id: str | int | None = None, k: int = 10,
                mode: str = _similar.DEFAULT_MODE, align: bool = _similar.ALIGN_DEFAULT
                ) -> list[dict]:
        """The tunes closest to a tune given as ABC text or by id, excluding itself.

        Args:
            abc: ABC text of the query tune (tunes with exactly this text are left out).
            tune_id: Or an indexed tune's id.
            k: Number of results.
            mode: ``combined`` (default), ``embedding`` or ``tfidf`` (see
                :mod:`folkclip.index.similar`).
            align: Re-rank the mode's best tunes by local alignment with the query's
                first bars (:mod:`folkclip.index.rerank`; on by default).

        Returns:
            Result dicts as :meth:`search` gives.

        Raises:
            FolkclipError: With ``align`` on an index built without identification data
                (rebuild it, or pass ``align=False``).
        """
        pairs = self._similar_pairs(abc, tune_id, k, mode, align)
        return self._results(pairs)

    def identify_data(self) -> object:
        """The index's identification data (:class:`~folkclip.identify.store.IdentifyData`,
        memory-mapped, opened once).

        Raises:
            FolkclipError: For an index built without it.
        """
        if self._identify is None:
            from folkclip.identify.store import IdentifyData

            try:
                self._identify = IdentifyData.load(self.folder)
            except FolkclipError as err:
                raise FolkclipError(f"{err} (or turn off alignment re-ranking: "
                                    "`folkclip similar --no-align`, align=False)") from None
        return self._identify

    def _similar_pairs(self, abc: str | None, tune_id: str | int | None, k: int,
                       mode: str, align: bool = False) -> list[tuple[int, float]]:
        if mode not in _similar.MODES:
            raise FolkclipError(f"mode must be one of {_similar.MODES}, got {mode!r}")
        if (abc is None) == (tune_id is None):
            raise FolkclipError("give either abc or tune_id")
        data = self.identify_data() if align else None
        if tune_id is not None:
            tid = self._tune_id(tune_id)
            vec = self.tunes.vectors[tid]
            cols, _, weights = self.profiles.row(tid)
            exclude = {tid}
            symbols = _rerank.tune_symbols(data, tid) if data is not None else None
        else:
            q = self.read(abc)  # type: ignore[arg-type]
            vec = q.vector
            cols, _, weights = self.profiles.query(q.document)
            with self._lock:
                exclude = set(self.meta.ids_with_abc(abc))  # type: ignore[arg-type]
            symbols = _rerank.query_symbols(q.tune) if data is not None else None
        if symbols is None:
            return _similar.top_similar(self.tunes, self.profiles, vec, cols, weights, k,
                                        exclude, mode)
        pairs = _similar.top_similar(self.tunes, self.profiles, vec, cols, weights,
                                     max(k, RERANK_CANDIDATES), exclude, mode)
        return _rerank.rerank(data, *symbols, pairs)[:k]

    def near_duplicates(self, q: QueryTune) -> list[tuple[int, float]]:
        """Indexed tunes whose interval 4-gram count profile has cosine >= 0.9 with
        the query's (the leakage check's near-duplicate), most similar first."""
        cols, counts, weights = self.profiles.query(q.document)
        cand = _similar.top_similar(self.tunes, self.profiles, q.vector, cols, weights,
                                    NEAR_DUPLICATE_CANDIDATES, set())
        rows = np.array([i for i, _ in cand], dtype=np.int64)
        cos = self.profiles.count_cosine(rows, cols, counts)
        dup = [(int(r), float(c)) for r, c in zip(rows, cos) if c >= NEAR_DUPLICATE]
        return sorted(dup, key=lambda rc: (-rc[1], rc[0]))

    def suggest(self, abc: str, k: int = 10, titles: list[str] | None = None) -> list[dict]:
        """Titles for a tune: the index's title bank (and ``titles``) ranked by the model.

        Titles carried by a near-duplicate of the query (:meth:`near_duplicates`) come
        first, flagged ``near_duplicate`` with that tune's id: "this is probably that
        tune", told apart from "a name that fits".

        Returns:
            ``{"title", "score", "near_duplicate", "tune_id", "from"}`` per title
            (``from``: ``index`` or ``user``), at most ``k``.
        """
        q = self.read(abc)
        dups = self.near_duplicates(q)
        with self._lock:
            dup_titles = self.meta.titles_of([t for t, _ in dups])
        owner: dict[int, int] = {}
        for t, _ in dups:
            for title in dup_titles[t]:
                owner.setdefault(title, t)
        scores, ids = self.titles.search(q.vector, k)
        bank = {int(i): float(s) for i, s in zip(ids[0], scores[0]) if i >= 0}
        for title in owner:
            bank.setdefault(title, float(self.titles.vectors[title] @ q.vector))
        out = [{"title": self.title_names[t], "score": round(s, 6), "near_duplicate": t in owner,
                "tune_id": owner.get(t), "from": "index"} for t, s in bank.items()]
        out += self._user_titles(q, titles or [], {title_key(r["title"]) for r in out})
        out.sort(key=lambda r: (not r["near_duplicate"], -r["score"], r["title"]))
        return out[:k]

    def names(self, abc: str, n: int = 10, seed: int = 0, title_model: object = None) -> list:
        """Names for a tune written by the index's title model, ranked by this index's
        two-tower score (as :func:`~folkclip.generate.names.generate_names` ranks them).

        Args:
            abc: ABC text of the tune (its first tune is named).
            n: Most names (1 to :data:`~folkclip.generate.names.MAX_NAMES`).
            seed: Sampling seed: the same tune and seed give the same names.
            title_model: A :class:`~folkclip.models.title_lm.LoadedTitleLM` to write them
                instead of the index's own.

        Returns:
            :class:`~folkclip.generate.names.GeneratedName` s, best first; ``[]`` when
            there is no title model.

        Raises:
            AbcQueryError: For ABC with no readable tune.
        """
        title_model = title_model if title_model is not None else self.title_model
        if title_model is None:
            return []
        from folkclip.generate.names import generate_names

        tune, _ = read_tune(abc)
        with self._lock:
            return generate_names(title_model, tune, n, seed,  # type: ignore[arg-type]
                                  two_tower=self.model)

    def _user_titles(self, q: QueryTune, titles: list[str], seen: set[str]) -> list[dict]:
        fresh = list(dict.fromkeys(t for t in titles if t.strip() and title_key(t) not in seen))
        if not fresh:
            return []
        with self._lock:
            emb = self.encoder.title_vectors(fresh)  # (U, D)
        return [{"title": t, "score": round(float(s), 6), "near_duplicate": False,
                 "tune_id": None, "from": "user"} for t, s in zip(fresh, emb @ q.vector)]

    def map_coordinates(self) -> list[dict]:
        """The stored 2-D PCA projection of the tune vectors.

        Returns:
            ``{"tune_id", "x", "y", "type", "title"}`` per tune, in id order.
        """
        xy = np.load(self.folder / "map.npy")  # (N, 2)
        with self._lock:
            rows = self.meta.con.execute("SELECT id, type, title FROM tunes ORDER BY id")
            return [{"tune_id": i, "x": round(float(xy[i, 0]), 5),
                     "y": round(float(xy[i, 1]), 5), "type": t, "title": title}
                    for i, t, title in rows]
