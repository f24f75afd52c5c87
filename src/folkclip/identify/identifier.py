"""Identify a tune from a few bars: n-gram candidates, then local alignment, then the
threshold between "this is tune X" and "no known tune" (with the model's title
suggestions as the fallback, and names written by the index's title model beside them).

    ident = Identifier.open("index/default")
    for r in ident.identify(read_abc_query("GABc dedB|dBAG FGAF|"), k=5):
        print(r.kind, r.title, r.bars, r.confidence)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from folkclip.errors import FolkclipError
from folkclip.identify.align import DEFAULT_SCORING, Scoring, align_candidates
from folkclip.identify.calibration import CALIBRATIONS, Calibration
from folkclip.identify.errors import NoMelodyFound
from folkclip.identify.limits import (
    CANDIDATE_SYMBOLS,
    CANDIDATES,
    GENERATED_NAMES,
    MAX_QUERY_NOTES,
    MIN_QUERY_NOTES,
)
from folkclip.identify.notes import QueryNotes
from folkclip.identify.store import IdentifyData
from folkclip.identify.symbols import START, melody_symbols

IDENTIFIED, SUGGESTION, GENERATED = "identified", "suggestion", "generated"


@dataclass(frozen=True)
class Identification:
    """One answer to a query.

    Attributes:
        tune_id: The indexed tune (``None`` for a generated name; for a title suggestion,
            the near-duplicate tune that carries it, if any).
        title: Its title (or the suggested title, or the generated name).
        titles: Every title of its identity group (alternative names across collections).
        bars: (first, last) matched bars, numbered as musicians do (the first full bar
            is 1, a pickup 0); ``None`` for a suggestion.
        score: Normalised alignment score (1.0: the query found whole and unchanged); for
            a suggestion or a generated name, the two-tower model's title score.
        confidence: Calibrated probability that the identification is right
            (:mod:`folkclip.identify.calibration`); ``None`` for a suggestion.
        kind: ``"identified"``, ``"suggestion"`` (an existing title of the index that
            fits the melody) or ``"generated"`` (a name written by the title model: not an
            identification, and perhaps no title any tune has).
        bar_index: (first, last) matched bars as 0-based written bar indices
            (:attr:`folkclip.abc.model.Note.bar`: the first bar written, a pickup too,
            is 0), for highlighting the notation; ``None`` for a suggestion.
        novel: For a generated name: False when the title model's training collection
            has a title of this identity; else ``None``.
        bits: For a generated name: its cost ``-log2 p(name | tune)`` under the title
            model; else ``None``.
    """

    tune_id: int | None
    title: str
    titles: list[str]
    bars: tuple[int, int] | None
    score: float
    confidence: float | None
    kind: str
    bar_index: tuple[int, int] | None = None
    novel: bool | None = None
    bits: float | None = None

    def to_json(self) -> dict:
        """A JSON-ready dict of every attribute (tuples as lists)."""
        out = asdict(self)
        for key in ("bars", "bar_index"):
            if out[key] is not None:
                out[key] = list(out[key])
        return out


@dataclass(frozen=True)
class Match:
    """A ranked match before the threshold (what the benchmark scores).

    Attributes:
        tune_id: Indexed tune; group: its identity group.
        score: Normalised alignment score; raw: the alignment score itself.
        margin: ``score`` minus the best score of another group (0 for the last).
        confidence: :meth:`Calibration.confidence` of the match.
        bar_index: (first, last) written bar indices; bars: as musicians number them.
    """

    tune_id: int
    group: int
    score: float
    raw: float
    margin: float
    confidence: float
    bar_index: tuple[int, int]
    bars: tuple[int, int]


@dataclass
class Identifier:
    """Identification over an index folder (its ``identify/`` data and metadata).

    Attributes:
        folder: The index folder.
        data: Its :class:`~folkclip.identify.store.IdentifyData`.
        scoring: Alignment scores.
        calibrations: Confidence weights and threshold per query kind
            (:attr:`QueryNotes.kind <folkclip.identify.notes.QueryNotes>`).
        candidates: Tunes the n-gram stage passes to the alignment at least (a short
            query gets more: :data:`~folkclip.identify.limits.CANDIDATE_SYMBOLS`).
    """

    folder: Path
    data: IdentifyData
    scoring: Scoring = DEFAULT_SCORING
    calibrations: dict[str, Calibration] = field(default_factory=lambda: dict(CALIBRATIONS))
    candidates: int = CANDIDATES
    tune_index: object | None = None
    title_model: object | None = None
    names_seed: int = 0
    _meta: object | None = field(default=None, repr=False)

    @classmethod
    def open(cls, index_dir: str | Path, tune_index: object | None = None,
             title_model: object | None = None) -> Identifier:
        """Open an index folder written by ``folkclip index``.

        Args:
            index_dir: The folder.
            tune_index: The :class:`~folkclip.index.TuneIndex` already open on it, if any
                (for the title-suggestion fallback; else loaded when first needed).
            title_model: A loaded title model to write the fallback's names instead of
                the index's own.

        Raises:
            FolkclipError: For a folder that is no index, or an index without
                identification data ("rebuild with `folkclip index`").
        """
        from folkclip.index import store

        folder = Path(index_dir)
        if store.read_manifest(folder) is None:
            raise FolkclipError(f"{folder} is not a folkclip index (no {store.MANIFEST})")
        return cls(folder, IdentifyData.load(folder), tune_index=tune_index,
                   title_model=title_model, _meta=store.Metadata(folder))

    # ------------------------------------------------------------------ ranking
    def rank(self, notes: QueryNotes, k: int = 5, exclude: frozenset[int] = frozenset()
             ) -> list[Match]:
        """The best match of each of the ``k`` best identity groups, best first.

        Args:
            notes: The query.
            k: Most groups.
            exclude: Indexed tunes to leave out (a benchmark's held-out tunes, or the
                query tune itself when looking for its other versions).

        Raises:
            NoMelodyFound: For fewer than :data:`~folkclip.identify.limits.MIN_QUERY_NOTES`
                notes.
        """
        if len(notes) < MIN_QUERY_NOTES:
            raise NoMelodyFound(f"{len(notes)} note(s) found; identification needs at least "
                                f"{MIN_QUERY_NOTES} (MIN_QUERY_NOTES)", notes.source)
        pitch = np.asarray(notes.midi_pitch, np.float64)[:MAX_QUERY_NOTES]
        ioi = notes.inter_onset()[:MAX_QUERY_NOTES]
        q_iv, q_rh = melody_symbols(pitch, ioi)
        n_sym = int(np.count_nonzero(q_iv != START))
        wanted = max(self.candidates, CANDIDATE_SYMBOLS // max(n_sym, 1))
        cand, _ = self.data.candidates(q_iv, wanted + len(exclude))
        if exclude:
            cand = cand[~np.isin(cand, np.fromiter(exclude, np.int64))][:wanted]
        if len(cand) == 0:
            return []
        raw, start, end = self._align(q_iv, q_rh, cand)
        norm = raw / (n_sym * self.scoring.best_per_symbol)
        order = np.lexsort((cand, -self._on_bar_lines(cand, start, end), -raw))
        groups = np.asarray(self.data.groups)
        best: list[int] = []
        seen: set[int] = set()
        for j in order.tolist():
            g = int(groups[cand[j]])
            if g not in seen and raw[j] > 0:
                seen.add(g)
                best.append(j)
                if len(best) == k + 1:
                    break
        out = []
        for r, j in enumerate(best[:k]):
            margin = float(norm[j] - (norm[best[r + 1]] if r + 1 < len(best) else 0.0))
            out.append(self._match(notes.kind, int(cand[j]), float(norm[j]), float(raw[j]),
                                   margin, int(start[j]), int(end[j]), n_sym))
        return out

    def _on_bar_lines(self, cand: np.ndarray, start: np.ndarray, end: np.ndarray
                      ) -> np.ndarray:
        """(C,) how many ends of each match (0-2) fall on a bar line of its tune: the
        first matched note opens a bar, the last one closes a bar.

        Ties of the alignment score (a phrase shared by several tunes) go to the match
        that agrees with where a player starts and stops: on bar lines.
        """
        offs = np.asarray(self.data.offsets)
        bar = self.data.bar
        a, b = offs[cand], offs[cand + 1]
        first = np.clip(a + start - 1, a, b - 1)  # symbol j leads into note j from j - 1
        last = np.clip(a + end, a, b - 1)
        opens = (first == a) | (bar[first] != bar[np.maximum(first - 1, 0)])
        closes = (last == b - 1) | (bar[last] != bar[np.minimum(last + 1, len(bar) - 1)])
        return np.where(start >= 0, opens.astype(np.int64) + closes, 0)

    def _align(self, q_iv: np.ndarray, q_rh: np.ndarray, cand: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return align_candidates(self.data, q_iv, q_rh, cand, self.scoring)

    def calibration(self, kind: str = "symbolic") -> Calibration:
        """The confidence weights and threshold of a query kind (``"symbolic"``,
        ``"audio"``)."""
        return self.calibrations[kind]

    def _match(self, kind: str, tune: int, score: float, raw: float, margin: float,
               start: int, end: int, n_sym: int) -> Match:
        _, _, bar = self.data.tune_symbols(tune)
        first = int(bar[max(start - 1, 0)])  # symbol j leads into note j from note j - 1
        last = int(bar[max(end, 0)])
        shift = 0 if bool(self.data.pickup[tune]) else 1
        lo, hi = min(first, last), max(first, last)
        return Match(tune, int(self.data.groups[tune]), score, raw, margin,
                     self.calibration(kind).confidence(score, margin, n_sym), (lo, hi),
                     (lo + shift, hi + shift))

    # ------------------------------------------------------------------ answers
    def identify(self, notes: QueryNotes, k: int = 5) -> list[Identification]:
        """Identify the tune a query comes from.

        Args:
            notes: The query (see :mod:`folkclip.identify.readers`).
            k: Most results.

        Returns:
            The matches whose confidence passes the calibrated threshold (kind
            ``identified``, one per identity group, best first); when none does,
            :meth:`suggestions`.

        Raises:
            NoMelodyFound: For a query with too few notes.
            FolkclipError: When the suggestions are needed and the index's model cannot
                be loaded.
        """
        threshold = self.calibration(notes.kind).threshold
        found = [m for m in self.rank(notes, k) if m.confidence >= threshold]
        if found:
            return [self._identification(m) for m in found]
        return self.suggestions(notes, k)

    def _identification(self, m: Match) -> Identification:
        info = self._meta.tunes([m.tune_id])[m.tune_id]  # type: ignore[union-attr]
        return Identification(m.tune_id, info["title"], self.group_titles(m.group), m.bars,
                              round(m.score, 4), round(m.confidence, 4), IDENTIFIED,
                              m.bar_index)

    def group_titles(self, group: int) -> list[str]:
        """Every title of an identity group's tunes, each spelling once, in index order."""
        from folkclip.abc.titles import title_key

        members = np.nonzero(np.asarray(self.data.groups) == group)[0].tolist()
        rows = self._meta.tunes(members)  # type: ignore[union-attr]
        out: dict[str, str] = {}
        for t in members:
            for title in rows[t]["titles"]:
                out.setdefault(title_key(title) or title, title)
        return list(out.values())

    def _index(self) -> object:
        if self.tune_index is None:
            from folkclip.index import TuneIndex

            self.tune_index = TuneIndex.load(self.folder)
        return self.tune_index

    @property
    def writes_names(self) -> bool:
        """Whether the fallback holds generated names (a title model is given, or the
        index carries one)."""
        return self.title_model is not None or \
            self._index().title_model is not None  # type: ignore[attr-defined]

    def suggestions(self, notes: QueryNotes, k: int = 5) -> list[Identification]:
        """The "no known tune" answer: the two-tower model's suggested existing titles for
        the query (kind ``suggestion``, at most ``k``), then, when there is a title model,
        up to ``min(k, GENERATED_NAMES)`` names it writes for the query (kind
        ``generated``; seeded by :attr:`names_seed`), ranked by the two-tower score.

        Raises:
            FolkclipError: When the index's model, or the title model it records, cannot
                be loaded.
        """
        from folkclip.identify.abc_query import notes_to_abc

        index = self._index()
        abc = notes.abc if notes.abc is not None else notes_to_abc(notes)
        out = []
        for s in index.suggest(abc, k):  # type: ignore[attr-defined]
            out.append(Identification(s["tune_id"], s["title"], [s["title"]], None,
                                      round(float(s["score"]), 4), None, SUGGESTION))
        names = index.names(abc, min(k, GENERATED_NAMES),  # type: ignore[attr-defined]
                            seed=self.names_seed, title_model=self.title_model)
        for g in names:
            out.append(Identification(None, g.title, [g.title], None,
                                      round(float(g.score or 0.0), 4), None, GENERATED,
                                      novel=g.novel, bits=g.bits))
        return out
