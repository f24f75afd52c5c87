"""Bounds on identification work, named once with their reason.

A query past a bound is cut or refused with a :class:`~folkclip.identify.errors.QueryError`
naming the bound; an indexed tune past one is cut (its first notes are kept).
"""

from __future__ import annotations

MAX_QUERY_BYTES = 1 << 20
"""Bytes of an ABC query (a file or standard input): a few bars, or one tune, are a few
kilobytes; a megabyte is far past any tune (the longest real one has 2,438 characters)."""

MIN_QUERY_NOTES = 5
"""Notes a query needs: four intervals are the shortest melody that a candidate n-gram
(:data:`NGRAM`) can find; fewer notes match nearly any tune somewhere."""

MAX_QUERY_NOTES = 400
"""Notes of a query that are matched (the first ones; a 60-s recording of a reel holds
about 300): bounds the alignment's work, which grows with the query's length."""

MAX_TUNE_NOTES = 4096
"""Notes of an indexed tune, repeats unfolded, that are stored and aligned (the longest
tune of ``default`` and ``nottingham`` unfolds to about 1,700): bounds the alignment's
work per candidate."""

NGRAM = 4
"""Intervals per candidate n-gram (as the index's similarity profiles use): long enough
that a 4-gram is specific, short enough that a two-bar fragment with a changed note still
holds several intact ones."""

MAX_INTERVAL = 24
"""Intervals are clipped to two octaves either way: leaps beyond are rare and are all
alike to the matcher."""

CANDIDATES = 100
"""Tunes the n-gram stage hands to the alignment stage (their alignment costs about
``CANDIDATES * query notes * tune notes`` cell updates)."""

GENERATED_NAMES = 10
"""Names the title model writes beside the title suggestions of a "no known tune" answer
(at most the ``k`` suggestions asked for): each name is sampled a character at a time,
about a millisecond per character for the whole batch, and a person reads ten."""

RERANK_CANDIDATES = 50
"""Best tunes of ``similar``'s score that alignment re-ranks (:mod:`folkclip.index.rerank`):
bounds its work per query to about ``RERANK_CANDIDATES * RERANK_QUERY_NOTES * tune notes``
cell updates (tens of milliseconds on one core)."""

RERANK_QUERY_NOTES = 64
"""Notes of a whole-tune query that ``similar`` aligns (its first ones, repeats unfolded:
eight bars of a reel, usually the whole first part once)."""

CANDIDATE_SYMBOLS = 3000
"""Candidates times query intervals that a query may align: a query shorter than 30
intervals gets ``CANDIDATE_SYMBOLS // intervals`` candidates (a two-bar fragment of 13
intervals about 230) instead of :data:`CANDIDATES`, for the same work. Short queries
need more: their n-grams are few and common, and one changed note breaks most of them."""
