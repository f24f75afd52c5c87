"""Which tunes of an evaluation collection the model has, in effect, seen in training.

Scoring a model on another collection (``folkclip evaluate RUN --data nottingham``) is
only a test of generalisation for the tunes it did not train on. A tune counts as
*seen* when any of its titles (main or alternative, by identity key) is a title of a
training tune, or when its melody is a near-duplicate of a training tune's: the cosine
of their interval 4-gram profiles (:func:`folkclip.data.splits.melody_vectors`, as in
``folkclip data check-leakage``) reaches the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from folkclip.data.dataset import TokenizedCorpus
from folkclip.data.splits import melody_vectors, near_duplicates
from folkclip.abc.titles import is_untitled, title_key

NEAR_DUPLICATE_COSINE = 0.9  # the default of ``folkclip data check-leakage``


@dataclass
class Overlap:
    """Per evaluated tune, whether training saw its title or (nearly) its melody.

    Attributes:
        indices: The evaluated tunes (indices into the evaluation corpus).
        title_seen: (N,) bool, a title of the tune is a training title.
        melody_seen: (N,) bool, its melody is a near-duplicate of a training melody.
        threshold: Cosine similarity that makes a near-duplicate.
        examples: A few seen tunes (title, why) for the report.
    """

    indices: np.ndarray
    title_seen: np.ndarray
    melody_seen: np.ndarray
    threshold: float
    examples: list[dict] = field(default_factory=list)

    @property
    def seen(self) -> np.ndarray:
        return self.title_seen | self.melody_seen  # (N,)

    def unseen_indices(self) -> list[int]:
        return [int(i) for i in self.indices[~self.seen]]

    def summary(self) -> dict:
        """Counts for JSON and text reports."""
        return {"n_tunes": int(len(self.indices)), "seen": int(self.seen.sum()),
                "seen_title": int(self.title_seen.sum()),
                "seen_melody": int(self.melody_seen.sum()),
                "seen_both": int((self.title_seen & self.melody_seen).sum()),
                "unseen": int((~self.seen).sum()), "threshold": self.threshold,
                "examples": self.examples}


def pitch_sequences(tc: TokenizedCorpus, indices: Sequence[int]) -> list[list[int]]:
    """MIDI pitches of each tune, read from the ``token`` field (``p62`` ...).

    Intervals are what the melody profile uses, so a transposed tokenization serves;
    it must keep pitches (a corpus tokenized without the ``pitch`` switch).
    """
    names = tc.vocab["token"]
    pitch_of = np.array([int(t[1:]) if t[:1] == "p" and t[1:].isdigit() else -1 for t in names])
    out = []
    for i in indices:
        p = pitch_of[tc.tokens(int(i))[:, 0]]
        out.append(p[p >= 0].tolist())
    return out


def title_keys(tc: TokenizedCorpus, indices: Sequence[int]) -> set[str]:
    """Identity keys of every main and alternative title of the tunes ``indices``."""
    keys = set()
    for i in indices:
        m = tc.meta[int(i)]
        keys.update(title_key(t) for t in [m["title"], *m["alt_titles"]]
                    if t and not is_untitled(t))
    return keys


def training_overlap(evaluated: TokenizedCorpus, indices: Sequence[int],
                     training: TokenizedCorpus, train_indices: Sequence[int],
                     threshold: float = NEAR_DUPLICATE_COSINE, n_examples: int = 10) -> Overlap:
    """Mark the tunes ``indices`` of ``evaluated`` that training has seen.

    Args:
        evaluated: The evaluation corpus (tokenized with pitches kept).
        indices: Its tunes under evaluation.
        training: The training corpus (tokenized with pitches kept).
        train_indices: The tunes of its training split.
        threshold: Cosine of interval 4-gram profiles that makes a near-duplicate.
        n_examples: Seen tunes to list in :attr:`Overlap.examples`.

    Returns:
        The :class:`Overlap`.
    """
    idx = np.asarray(list(indices), dtype=np.int64)
    seen_keys = title_keys(training, train_indices)
    title_seen = np.array([bool(title_keys(evaluated, [i]) & seen_keys) for i in idx], bool)
    melody_seen = np.zeros(len(idx), dtype=bool)
    matches: dict[int, tuple[int, float]] = {}
    if len(idx) and len(train_indices):
        a = melody_vectors(pitch_sequences(evaluated, idx))
        b = melody_vectors(pitch_sequences(training, train_indices))
        for i, j, sim in near_duplicates(a, b, threshold):
            melody_seen[i] = True
            if sim > matches.get(i, (0, -1.0))[1]:
                matches[i] = (int(train_indices[j]), sim)
    examples = []
    for k in np.nonzero(title_seen | melody_seen)[0][:n_examples]:
        ex = {"title": evaluated.meta[int(idx[k])]["title"], "title_seen": bool(title_seen[k])}
        if k in matches:
            ex.update(similar_to=training.meta[matches[k][0]]["title"],
                      similarity=round(matches[k][1], 4))
        examples.append(ex)
    return Overlap(idx, title_seen, melody_seen, threshold, examples)
