"""A linear baseline from melody n-grams and header to title words (issue 19, part 4).

Features of a tune: the TF-IDF of its interval 4-grams (the documents of
:func:`folkclip.index.profiles.ngram_document`, the n-grams the nearest-melody baseline
compares; rows L2-normalised) beside a one-hot encoding of its header (tune type, meter,
mode, key; scaled to unit length, so that each block weighs the same). Target: the
L2-normalised TF-IDF bag of words of its title (the main one, as the nearest-melody
baseline's votes), the vocabulary fitted on the training titles. Model: one multi-output :class:`sklearn.linear_model.Ridge` per ``alpha``
(no separate intercept: the type one-hot sums to 1 in every row, so it carries one).

The score of (tune, candidate title) is the cosine between the tune's predicted word
vector and the title's word vector; title → tune ranks the transpose. A title none of
whose words the training titles had gets the zero vector, so it scores 0 against every
tune: above titles with a negative cosine, below those with a positive one, and among
equal scores :func:`folkclip.eval.metrics.rank_positions` puts the lower candidate index
first (a stable sort by descending score).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ALPHAS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)  # ridge penalties tried on validation
HEADER_FIELDS = ("type", "meter", "mode", "key")


class LinearTitleWords:
    """Ridge regressions from tune features to title-word TF-IDF, one per ``alpha``.

    Args:
        alphas: Penalties to fit (each gives its own model; choose on validation).
    """

    def __init__(self, alphas: Sequence[float] = ALPHAS) -> None:
        self.alphas = tuple(float(a) for a in alphas)

    def fit(self, pitches: Sequence[Sequence[int]], headers: Sequence[Sequence[str]],
            titles: Sequence[str]) -> LinearTitleWords:
        """Fit the feature and word vocabularies and the ridges on the training tunes.

        Args:
            pitches: Per tune its MIDI pitches (rests left out).
            headers: Per tune its :data:`HEADER_FIELDS` values.
            titles: Per tune its title.
        """
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import Ridge
        from sklearn.preprocessing import OneHotEncoder

        from folkclip.index.profiles import ngram_document

        self.ngrams = TfidfVectorizer(analyzer=str.split, dtype=np.float64)
        self.ngrams.fit([ngram_document(p) for p in pitches])
        self.header = OneHotEncoder(handle_unknown="ignore").fit(_header_array(headers))
        self.words = TfidfVectorizer(dtype=np.float64).fit(titles)
        x = self.features(pitches, headers)  # (T, F) sparse
        y = self.title_vectors(titles).toarray()  # (T, W)
        self.ridges = {a: Ridge(alpha=a, fit_intercept=False, solver="cholesky").fit(x, y)
                       for a in self.alphas}
        return self

    def features(self, pitches: Sequence[Sequence[int]], headers: Sequence[Sequence[str]]):
        """(N, F) sparse features: n-gram TF-IDF beside the unit-length header one-hot."""
        from scipy import sparse

        from folkclip.index.profiles import ngram_document

        melody = self.ngrams.transform([ngram_document(p) for p in pitches])  # (N, V)
        head = self.header.transform(_header_array(headers)) / np.sqrt(len(HEADER_FIELDS))
        return sparse.hstack([melody, head], format="csr")

    def title_vectors(self, titles: Sequence[str]):
        """(M, W) sparse L2-normalised word TF-IDF (zero rows for titles of unknown words)."""
        return self.words.transform(list(titles))

    def predict(self, pitches: Sequence[Sequence[int]], headers: Sequence[Sequence[str]],
                alpha: float) -> np.ndarray:
        """(N, W) predicted word vectors, L2-normalised (a zero prediction stays zero)."""
        from sklearn.preprocessing import normalize

        p = self.ridges[float(alpha)].predict(self.features(pitches, headers))
        return normalize(np.atleast_2d(p))

    def scores(self, pitches: Sequence[Sequence[int]], headers: Sequence[Sequence[str]],
               titles: Sequence[str], alpha: float) -> np.ndarray:
        """(N, M) cosine of each tune's predicted word vector with each title's."""
        pred = self.predict(pitches, headers, alpha)  # (N, W)
        return np.asarray(self.title_vectors(titles) @ pred.T).T.astype(np.float32)


def _header_array(headers: Sequence[Sequence[str]]) -> np.ndarray:
    return np.array([[str(v) for v in h] for h in headers], dtype=object).reshape(
        len(headers), len(HEADER_FIELDS))
