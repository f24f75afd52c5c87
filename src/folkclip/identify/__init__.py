"""Name that tune: identify a tune from a few bars (ABC), a MIDI file or a recording.

    from folkclip.identify import Identifier, read_query
    ident = Identifier.open("index/default")
    results = ident.identify(read_query("query.abc", "query.abc"), k=5)

Readers turn a query into :class:`QueryNotes`; :class:`Identifier` finds candidate tunes
by interval n-grams, aligns the query with each (Smith–Waterman over interval and rhythm
symbols, repeats unfolded) and answers with :class:`Identification` records: identified
tunes with every name of their identity group and the matched bars, or, when no tune passes
the calibrated threshold, the model's title suggestions.
"""

from __future__ import annotations

from folkclip.identify.abc_query import notes_to_abc, read_abc_query
from folkclip.identify.errors import NoMelodyFound, QueryError, UnsupportedQuery
from folkclip.identify.identifier import Identification, Identifier, Match
from folkclip.identify.notes import QueryNotes
from folkclip.identify.readers import read_query

__all__ = ["Identification", "Identifier", "Match", "NoMelodyFound", "QueryError",
           "QueryNotes", "UnsupportedQuery", "notes_to_abc", "read_abc_query", "read_query"]
