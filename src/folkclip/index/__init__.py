"""The tune index: a trained model's embeddings of a collection, searchable by title,
by tune (title suggestions) and by similarity; see :class:`TuneIndex`.

Vectors are searched through FAISS (the ``index`` extra) or, without it, exactly in
numpy; metadata lives in SQLite. Nothing here imports Lightning or a web framework.
"""

from __future__ import annotations

from folkclip.index.query import AbcQueryError
from folkclip.index.tune_index import TuneIndex, UnknownTuneError

__all__ = ["AbcQueryError", "TuneIndex", "UnknownTuneError"]
