"""One entry for every kind of query: :func:`read_query` dispatches on the file suffix.

MIDI (``folkclip.identify.midi``) and audio (``folkclip.audio``) readers are imported
only when such a file comes, so that ``folkclip.identify`` needs neither ``mido`` nor
``librosa``.
"""

from __future__ import annotations

from pathlib import Path, PurePath

from folkclip.identify.abc_query import read_abc_query
from folkclip.identify.errors import QueryError, UnsupportedQuery
from folkclip.identify.limits import MAX_QUERY_BYTES
from folkclip.identify.notes import QueryNotes

ABC_SUFFIXES = (".abc", ".txt")
MIDI_SUFFIXES = (".mid", ".midi")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def read_query(path_or_bytes: str | Path | bytes, filename: str) -> QueryNotes:
    """Read a query of any kind: ABC, MIDI or audio, chosen by ``filename``'s suffix.

    Args:
        path_or_bytes: A file's path, or its content.
        filename: The file's name (its suffix chooses the reader; also used in messages).

    Raises:
        UnsupportedQuery: For a suffix folkclip does not read.
        QueryError: When the content cannot be read (or holds no melody:
            :class:`~folkclip.identify.errors.NoMelodyFound`).
    """
    suffix = PurePath(filename).suffix.lower()
    if suffix in MIDI_SUFFIXES:
        from folkclip.identify.midi import read_midi

        return read_midi(path_or_bytes, filename)
    if suffix in AUDIO_SUFFIXES:
        from folkclip.audio import read_audio

        return read_audio(path_or_bytes, filename)
    if suffix not in ABC_SUFFIXES:
        kinds = ", ".join(ABC_SUFFIXES + MIDI_SUFFIXES + AUDIO_SUFFIXES)
        what = suffix or "a file without a suffix"
        raise UnsupportedQuery(f"{filename}: folkclip cannot read {what} as a query (it "
                               f"reads {kinds})")
    if isinstance(path_or_bytes, bytes):
        data = path_or_bytes
    else:
        path = Path(path_or_bytes)
        try:
            if path.stat().st_size > MAX_QUERY_BYTES:
                raise QueryError(f"file of {path.stat().st_size} bytes is past folkclip's "
                                 f"limit of {MAX_QUERY_BYTES} (MAX_QUERY_BYTES)", filename)
            data = path.read_bytes()
        except OSError as err:
            raise QueryError(f"cannot read the file: {err.strerror or err}", filename) from None
    if len(data) > MAX_QUERY_BYTES:
        raise QueryError(f"{len(data)} bytes is past folkclip's limit of {MAX_QUERY_BYTES} "
                         "(MAX_QUERY_BYTES)", filename)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return read_abc_query(text, filename)
