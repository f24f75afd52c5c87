"""What identification keeps in an index folder (``identify/``), and its candidate stage.

Files (numpy arrays, opened memory-mapped):

* ``offsets.npy`` (N + 1,) int64: tune ``t``'s notes are ``offsets[t]:offsets[t + 1]``;
* ``interval.npy``, ``rhythm.npy`` (total notes,) int8 symbols
  (:mod:`folkclip.identify.symbols`), ``bar.npy`` (total notes,) int32 written bar indices;
* ``pickup.npy`` (N,) bool, ``groups.npy`` (N,) int64 title identity groups;
* the inverted index of interval n-grams: ``gram_codes.npy`` (U,) sorted codes,
  ``gram_offsets.npy`` (U + 1,), ``gram_tunes.npy`` (P,) int32 tunes holding each code
  (each once), ``gram_idf.npy`` (U,) float32 ``log(N / document frequency)``;
* ``identify.json``: format version, n-gram length, sizes, build time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from folkclip.errors import FolkclipError
from folkclip.identify.limits import CANDIDATES, NGRAM
from folkclip.identify.melody import Melody
from folkclip.identify.symbols import melody_symbols, ngram_codes

FOLDER = "identify"
FORMAT = 1
_ARRAYS = ("offsets", "interval", "rhythm", "bar", "pickup", "groups", "gram_codes",
           "gram_offsets", "gram_tunes", "gram_idf")


@dataclass
class IdentifyData:
    """The arrays of ``identify/`` (see the module's docstring)."""

    offsets: np.ndarray
    interval: np.ndarray
    rhythm: np.ndarray
    bar: np.ndarray
    pickup: np.ndarray
    groups: np.ndarray
    gram_codes: np.ndarray
    gram_offsets: np.ndarray
    gram_tunes: np.ndarray
    gram_idf: np.ndarray
    ngram: int = NGRAM

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def build(cls, melodies: Sequence[Melody], groups: np.ndarray, ngram: int = NGRAM
              ) -> IdentifyData:
        """Symbols and the inverted n-gram index of the indexed tunes' melodies.

        Args:
            melodies: One per indexed tune, in index order.
            groups: (N,) title identity group of each tune
                (:func:`folkclip.data.splits.group_ids`).
        """
        n = len(melodies)
        sizes = np.array([len(m.midi_pitch) for m in melodies], np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        ivs, rhs = [], []
        for m in melodies:
            ioi = np.empty(len(m.onset_beats))
            if len(ioi):
                ioi[:-1] = np.diff(m.onset_beats)
                ioi[-1] = m.duration_beats[-1]
            iv, rh = melody_symbols(m.midi_pitch, np.maximum(ioi, 1e-6))
            ivs.append(iv)
            rhs.append(rh)
        interval = np.concatenate(ivs) if ivs else np.zeros(0, np.int8)
        rhythm = np.concatenate(rhs) if rhs else np.zeros(0, np.int8)
        bar = np.concatenate([m.bar for m in melodies]) if melodies else np.zeros(0, np.int32)
        codes = ngram_codes(interval, ngram)
        tune_of = np.repeat(np.arange(n, dtype=np.int64), sizes)
        ok = codes >= 0
        pairs = np.unique(codes[ok] * max(n, 1) + tune_of[ok])  # each (code, tune) once
        code, tune = pairs // max(n, 1), (pairs % max(n, 1)).astype(np.int32)
        gram_codes, starts, df = np.unique(code, return_index=True, return_counts=True)
        gram_offsets = np.concatenate([starts, [len(code)]]).astype(np.int64)
        idf = np.log(max(n, 1) / np.maximum(df, 1)).astype(np.float32)
        return cls(offsets, interval, rhythm, bar.astype(np.int32),
                   np.array([m.pickup for m in melodies], bool), np.asarray(groups, np.int64),
                   gram_codes.astype(np.int64), gram_offsets, tune, idf, ngram)

    def save(self, index_dir: Path, build_s: float = 0.0) -> dict:
        """Write ``identify/`` into an index folder; returns what ``identify.json`` holds."""
        folder = Path(index_dir) / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        for name in _ARRAYS:
            np.save(folder / f"{name}.npy", getattr(self, name))
        info = {"format": FORMAT, "ngram": self.ngram, "n_tunes": len(self),
                "n_notes": int(self.offsets[-1]), "n_grams": len(self.gram_codes),
                "build_s": round(build_s, 3)}
        (folder / "identify.json").write_text(json.dumps(info, indent=1))
        return info

    @classmethod
    def load(cls, index_dir: Path) -> IdentifyData:
        """Open ``identify/`` (arrays memory-mapped).

        Raises:
            FolkclipError: When the index was built without identification data, or
                with another format of it (rebuild with ``folkclip index``).
        """
        folder = Path(index_dir) / FOLDER
        info_path = folder / "identify.json"
        if not info_path.exists():
            raise FolkclipError(f"the index in {index_dir} holds no identification data (it "
                                "was built by an older folkclip); rebuild it with "
                                "`folkclip index`")
        info = json.loads(info_path.read_text())
        if info.get("format") != FORMAT:
            raise FolkclipError(f"the identification data in {index_dir} has format "
                                f"{info.get('format')!r}, this folkclip reads {FORMAT}; "
                                "rebuild the index with `folkclip index`")
        try:
            arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _ARRAYS}
        except (OSError, ValueError) as err:
            raise FolkclipError(f"{folder} is damaged ({err}); rebuild the index with "
                                "`folkclip index`") from None
        return cls(**arrays, ngram=int(info["ngram"]))

    def tune_symbols(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Intervals, rhythm classes and bar indices of tune ``t``'s notes."""
        a, b = int(self.offsets[t]), int(self.offsets[t + 1])
        return self.interval[a:b], self.rhythm[a:b], self.bar[a:b]

    def candidates(self, q_interval: np.ndarray, k: int = CANDIDATES
                   ) -> tuple[np.ndarray, np.ndarray]:
        """The candidate stage: tunes sharing the most (idf-weighted) interval n-grams
        with the query.

        Args:
            q_interval: (M,) the query's intervals (``START`` first).
            k: Most tunes returned.

        Returns:
            (K,) int64 tune ids, best first, and (K,) float32 their n-gram scores (> 0).
        """
        q = np.unique(ngram_codes(np.asarray(q_interval, np.int8), self.ngram))
        q = q[q >= 0]
        if len(q) == 0 or len(self.gram_codes) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        pos = np.minimum(np.searchsorted(self.gram_codes, q), len(self.gram_codes) - 1)
        pos = pos[np.asarray(self.gram_codes)[pos] == q]
        if len(pos) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        starts, ends = self.gram_offsets[pos], self.gram_offsets[pos + 1]
        tunes = np.concatenate([self.gram_tunes[a:b] for a, b in zip(starts, ends)])
        weights = np.repeat(np.asarray(self.gram_idf)[pos], ends - starts)
        scores = np.bincount(tunes, weights, minlength=len(self)).astype(np.float32)
        hit = np.nonzero(scores > 0)[0]
        if len(hit) > k:
            hit = hit[np.argpartition(-scores[hit], k - 1)[:k]]
        order = np.lexsort((hit, -scores[hit]))
        return hit[order].astype(np.int64), scores[hit[order]]


def build_stage(melodies: Sequence[Melody], groups: np.ndarray, index_dir: Path) -> dict:
    """The index build's identification stage: the indexed tunes' melodies
    (:func:`folkclip.identify.melody.tune_melody`, in index order) written to ``identify/``.

    Returns:
        ``identify.json``'s content (with the stage's build time in seconds; the melodies
        themselves are computed where the tunes are read).
    """
    start = time.perf_counter()
    data = IdentifyData.build(melodies, groups)
    return data.save(index_dir, time.perf_counter() - start)
