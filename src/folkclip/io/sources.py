"""Data sources: named collections and paths, resolved to files and read into tunes.

A *source* is a name or a path:

- ``default``: the Irish/Scottish tunebooks shipped in the ``music21`` package
  (``oneills1850``, ``ryansMammoth``, ``airdsAirs``), each also selectable by name;
- ``nottingham``: the Nottingham Music Database in ``../shared/data/nottingham``
  (or ``$FOLKCLIP_NOTTINGHAM``), tune type taken from each file name;
- ``tiny``: every 50th tune of ``default`` (about 85 tunes), for smoke runs;
- a ``.abc`` tunebook or single-tune file, a folder (read recursively: ``.abc``,
  ``.jsonl``, ``tunes.csv``, ``tunes.json``), a Session dump (``.csv``/``.json``)
  or a JSONL file.

Several sources can be combined; every tune that cannot be read is reported as a
:class:`~folkclip.errors.Problem`.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from folkclip.abc.limits import MAX_FILE_BYTES, MAX_NUL_BYTE_SHARE
from folkclip.abc.model import Tune
from folkclip.abc.parser import parse_tunebook
from folkclip.errors import FolkclipError, Problem
from folkclip.abc.titles import canonical_type

MUSIC21_COLLECTIONS = ("oneills1850", "ryansMammoth", "airdsAirs")
NAMED_SOURCES = ("default", "tiny", "nottingham") + MUSIC21_COLLECTIONS
TINY_STRIDE = 50
# Nottingham keeps the tune type in the file name.
_NOTTINGHAM_TYPES = {
    "jigs": "jig", "hpps": "hornpipe", "slip": "slip jig", "waltzes": "waltz",
    "morris": "other", "playford": "other", "xmas": "other", "ashover": None,
}


@dataclass
class Corpus:
    """Tunes read from one or more sources, with every problem met on the way.

    Attributes:
        tunes: The tunes that were read.
        problems: Errors (tune skipped) and warnings (tune kept), in reading order.
        files: The files that were read, in order.
    """

    tunes: list[Tune] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def extend(self, other: Corpus) -> None:
        self.tunes.extend(other.tunes)
        self.problems.extend(other.problems)
        self.files.extend(other.files)


def music21_collection_files(name: str) -> list[Path]:
    """Files of one ``music21`` corpus collection, found through music21's corpus API.

    Raises:
        FolkclipError: When music21 is not installed or lacks the collection.
    """
    try:
        from music21 import corpus
    except ImportError as err:
        raise FolkclipError(f"source {name!r} needs the music21 package "
                            "(pip install music21)") from err
    files = sorted(Path(p) for p in corpus.getPaths(fileExtensions=("abc",))
                   if Path(p).parent.name == name)
    if not files:
        raise FolkclipError(f"music21's corpus has no collection {name!r}")
    return files


def shared_data_dir() -> Path | None:
    """Folder ``shared/data`` beside the repository (or ``$FOLKCLIP_SHARED_DATA``)."""
    env = os.environ.get("FOLKCLIP_SHARED_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for base in [Path.cwd(), *Path.cwd().parents, *here.parents]:
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
        candidate = base / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def nottingham_dir() -> Path:
    """The Nottingham collection folder.

    Raises:
        FolkclipError: When it cannot be found.
    """
    env = os.environ.get("FOLKCLIP_NOTTINGHAM")
    data = shared_data_dir()
    path = Path(env) if env else (data / "nottingham" if data else None)
    if path is None or not path.is_dir():
        raise FolkclipError("source 'nottingham' not found: expected ../shared/data/nottingham "
                            "or $FOLKCLIP_NOTTINGHAM")
    return path


def file_type_hint(path: Path) -> str | None:
    """Tune type implied by a file name (``jigs.abc`` -> ``jig``), or ``None``."""
    stem = path.stem.lower()
    if stem in _NOTTINGHAM_TYPES:
        return _NOTTINGHAM_TYPES[stem]
    if stem.startswith("reels"):
        return "reel"
    guess = canonical_type(stem)
    return guess if guess not in ("other", "unknown") else None


def source_files(source: str) -> list[Path]:
    """Resolve a source name or path to the files it stands for.

    Raises:
        FolkclipError: For a missing path or unknown name.
    """
    if source in ("default", "tiny"):
        return [f for name in MUSIC21_COLLECTIONS for f in music21_collection_files(name)]
    if source in MUSIC21_COLLECTIONS:
        return music21_collection_files(source)
    if source == "nottingham":
        return sorted(nottingham_dir().glob("*.abc"))
    path = Path(source)
    if path.is_dir():
        files = [p for p in _walk(path) if p.suffix.lower() in (".abc", ".jsonl")
                 or p.name in ("tunes.csv", "tunes.json")]
        if not files:
            raise FolkclipError(f"source {source!r}: folder holds no .abc, .jsonl, "
                                "tunes.csv or tunes.json files")
        return files
    if path.is_file():
        return [path]
    raise FolkclipError(f"source {source!r} not found: not a file, folder or known name "
                        f"({', '.join(NAMED_SOURCES)})")


def _walk(folder: Path) -> list[Path]:
    """Files under ``folder``, sorted. Links to folders are followed, but a folder seen
    before (a link that loops) is not entered again; a broken or looping link to a file
    is listed, so that reading it reports the problem."""
    files: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for root, dirs, names in os.walk(folder, followlinks=True):
        try:
            st = os.stat(root)
        except OSError:
            dirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        files.extend(Path(root) / name for name in names)
    return sorted(files)


def read_text(path: Path, problems: list[Problem] | None = None) -> str:
    """Read a text file: UTF-8 (with or without a byte-order mark), UTF-16 with a
    byte-order mark, else Latin-1 (common in old tunebooks). Stray NUL bytes (at most
    :data:`~folkclip.abc.limits.MAX_NUL_BYTE_SHARE` of the file) are removed, with a
    warning appended to ``problems``.

    Raises:
        FolkclipError: For a file larger than :data:`~folkclip.abc.limits.MAX_FILE_BYTES`
            or one that holds more NUL bytes than stray ones (binary, not text).
        OSError: When the file cannot be read.
    """
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise FolkclipError(f"{path}: file of {size} bytes is past folkclip's limit of "
                            f"{MAX_FILE_BYTES} (MAX_FILE_BYTES)")
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    nul = data.count(b"\0")
    if nul:
        if nul > MAX_NUL_BYTE_SHARE * len(data):
            raise FolkclipError(f"{path}: not a text file (it holds {nul} NUL bytes, more "
                                f"than {MAX_NUL_BYTE_SHARE:.0%} of it: MAX_NUL_BYTE_SHARE)")
        line = data.count(b"\n", 0, data.index(b"\0")) + 1
        data = data.replace(b"\0", b"")
        if problems is not None:
            problems.append(Problem(str(path), "-", line, f"{nul} stray NUL byte(s) removed "
                                    f"(the first on line {line}); the rest was read",
                                    "warning"))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_file(path: Path, collection: str = "") -> Corpus:
    """Read one file of any supported format.

    Raises:
        FolkclipError: When the file cannot be opened or is not of a known format.
    """
    suffix = path.suffix.lower()
    try:
        if path.stat().st_size == 0:
            return Corpus([], [Problem(str(path), "-", 0, "empty file")], [path])
        if suffix == ".csv":
            from folkclip.io.session import read_session_csv
            tunes, problems = read_session_csv(path)
        elif suffix == ".json":
            from folkclip.io.session import read_session_json
            tunes, problems = read_session_json(path)
        elif suffix == ".jsonl":
            from folkclip.io.jsonl import read_jsonl
            tunes, problems = read_jsonl(path)
        else:
            stray: list[Problem] = []
            text = read_text(path, stray)
            tunes, problems = parse_tunebook(text, str(path),
                                             collection=collection or path.parent.name,
                                             default_type=file_type_hint(path))
            problems = stray + problems
    except OSError as err:
        raise FolkclipError(f"cannot read {path}: {err.strerror or err}") from None
    return Corpus(tunes, problems, [path])


def read_file_safely(path: Path, collection: str = "") -> Corpus:
    """:func:`read_file`, with a file that cannot be read turned into one problem
    (``tune`` ``"-"``, line 0) so that the other files of a source are still read."""
    try:
        return read_file(path, collection)
    except FolkclipError as err:
        reason = str(err).removeprefix(f"{path}: ")
        return Corpus([], [Problem(str(path), "-", 0, reason)], [path])
    except Exception as err:  # noqa: BLE001 - last line of defence: one file, not the run
        return Corpus([], [Problem.internal(str(path), "-", 0, err, "")], [path])


def read_sources(sources: list[str] | tuple[str, ...] | str) -> Corpus:
    """Read and combine several sources (names or paths).

    Raises:
        FolkclipError: For a missing or unreadable source (one-line message).
    """
    if isinstance(sources, str):
        sources = [sources]
    if not sources:
        raise FolkclipError("no data source given")
    corpus = Corpus()
    for source in sources:
        part = Corpus()
        for path in source_files(source):
            name = "nottingham" if source == "nottingham" else path.parent.name
            part.extend(read_file_safely(path, collection=name))
        if source == "tiny":
            _subsample(part)
        corpus.extend(part)
    return corpus


def _subsample(part: Corpus) -> None:
    """Keep every :data:`TINY_STRIDE`-th tune with its warnings, and every
    :data:`TINY_STRIDE`-th error, so that ``tiny`` keeps a sample of the problems too."""
    part.tunes = part.tunes[::TINY_STRIDE]
    kept = {(t.source, t.line) for t in part.tunes}
    errors = [p for p in part.problems if p.severity == "error"][::TINY_STRIDE]
    chosen = {id(p) for p in errors}
    part.problems = [p for p in part.problems if id(p) in chosen or (
        p.severity == "warning" and (p.source, p.line) in kept)]


class SourceNames:
    """Names of the files of some sources that say where a tune came from without a path
    of this machine: ``oneills1850/0101-0200.abc`` for a named collection (its folder and
    file), ``books/sub/reels.abc`` for a file under a folder given as a source (the
    folder's name and the path inside it), ``reels.abc`` for a file given itself."""

    def __init__(self, sources: list[str]) -> None:
        self.roots = [(Path(s).resolve(), Path(s).is_dir()) for s in sources
                      if s not in NAMED_SOURCES and Path(s).exists()]
        self._seen: dict[str, str] = {}

    def __call__(self, source: str) -> str:
        name = self._seen.get(source)
        if name is None:
            name = self._seen[source] = self._name(source)
        return name

    def _name(self, source: str) -> str:
        path = Path(source)
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):  # a looping link: its own name is still safe
            return path.name
        for root, is_dir in self.roots:
            if is_dir and resolved.is_relative_to(root):
                return (Path(root.name) / resolved.relative_to(root)).as_posix()
            if not is_dir and resolved == root:
                return path.name
        return relative_name(source)


def relative_name(source: str) -> str:
    """An absolute path shortened to its folder and file name (``oneills1850/0101-0200.abc``);
    anything else (a relative name, ``<query>``) is kept."""
    path = Path(source)
    if not path.is_absolute():
        return source
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def fingerprint(files: list[Path]) -> str:
    """SHA-256 over the names and contents of ``files`` (the cache key of a source set).

    A file that cannot be read adds its error instead of its contents, so the key still
    changes with it (reading the file then reports the problem).
    """
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode())
        try:
            digest = hashlib.sha256(path.read_bytes()).digest()
        except OSError as err:
            digest = f"unreadable: {err.errno}".encode()
        h.update(digest)
    return h.hexdigest()
