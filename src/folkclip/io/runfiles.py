"""Reading the files of a run folder (``eval_test.json``, ``model/model.json``, ...) with
one clear error when a file is missing, truncated or of the wrong shape.

Run folders are written by folkclip but read later, after crashes, copies and hand
edits; every command that reads one goes through these functions so that a damaged
file gives ``folkclip: error: <file>: ...`` and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from folkclip.errors import FolkclipError

DAMAGED_HINT = "the run folder is incomplete or damaged (rerun it, or delete the folder)"


def read_json(path: str | Path, kind: type = dict) -> Any:
    """The JSON value in ``path``, which must be a ``kind`` (``dict`` or ``list``).

    Raises:
        FolkclipError: When the file is missing, unreadable, not JSON (e.g. truncated),
            nested too deeply, or holds another kind of value.
    """
    p = Path(path)
    if not p.is_file():
        raise FolkclipError(f"{p}: not found; {DAMAGED_HINT}")
    try:
        value = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise FolkclipError(f"{p}: not valid JSON ({err.msg} at line {err.lineno}, column "
                            f"{err.colno}); {DAMAGED_HINT}") from None
    except (OSError, UnicodeDecodeError, RecursionError, ValueError) as err:
        raise FolkclipError(f"{p}: cannot be read ({type(err).__name__}: {err}); "
                            f"{DAMAGED_HINT}") from None
    if not isinstance(value, kind):
        raise FolkclipError(f"{p}: expected a JSON {'object' if kind is dict else kind.__name__}"
                            f", found {type(value).__name__}; {DAMAGED_HINT}")
    return value


def require_keys(data: dict, keys: tuple[str, ...], path: str | Path) -> None:
    """Refuse ``data`` (read from ``path``) when it lacks any of ``keys``.

    Raises:
        FolkclipError: Naming the file and the missing keys.
    """
    missing = [k for k in keys if k not in data]
    if missing:
        raise FolkclipError(f"{path}: missing {', '.join(missing)}; {DAMAGED_HINT}")
