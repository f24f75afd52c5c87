"""The bytes of a query file (a path or an upload), bounded before anything parses them."""

from __future__ import annotations

from pathlib import Path

from folkclip.identify.errors import QueryError


def read_bytes(path_or_bytes: str | Path | bytes, source: str, max_bytes: int) -> bytes:
    """The bytes of a query file, refused when empty or over ``max_bytes``.

    Args:
        path_or_bytes: A file path or the file's bytes (an upload).
        source: The name used in messages.
        max_bytes: The largest size accepted.

    Returns:
        The file's bytes.

    Raises:
        QueryError: An empty, missing or oversized file.
    """
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(path_or_bytes)
    else:
        path = Path(path_or_bytes)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise QueryError(f"file of {size:,} bytes is over the limit of "
                                 f"{max_bytes:,} bytes", source)
            with path.open("rb") as f:
                data = f.read(max_bytes + 1)
        except OSError as err:
            raise QueryError(f"cannot read the file: {err.strerror or err}", source) from None
    if not data:
        raise QueryError("the file is empty (0 bytes)", source)
    if len(data) > max_bytes:
        raise QueryError(f"file of {len(data):,} bytes is over the limit of "
                         f"{max_bytes:,} bytes", source)
    return data
