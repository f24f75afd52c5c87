"""The index folder: a manifest (format version, model identity, tokenizer config,
build state) and the tunes' metadata in SQLite.

Files: ``manifest.json``, ``tunes.sqlite`` (tables ``tunes``, ``titles``,
``tune_titles``), ``tunes.npy`` / ``titles.npy`` (+ ``.faiss``), ``map.npy``,
``ngram_*`` (see :mod:`folkclip.index.profiles`), ``tokens.*`` (the tokenized corpus)
and ``parts/`` while tune vectors are being computed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import torch

from folkclip.abc.titles import title_key
from folkclip.config import to_dict
from folkclip.errors import FolkclipError
from folkclip.io.sources import relative_name

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DB = "tunes.sqlite"
_SCHEMA = """
CREATE TABLE tunes (id INTEGER PRIMARY KEY, source TEXT, x TEXT, title TEXT, titles TEXT,
                    type TEXT, key TEXT, mode TEXT, meter TEXT, collection TEXT, abc TEXT,
                    abc_hash TEXT);
CREATE TABLE titles (id INTEGER PRIMARY KEY, title TEXT, key TEXT UNIQUE);
CREATE TABLE tune_titles (tune INTEGER, title INTEGER);
"""
_INDEXES = """
CREATE INDEX tunes_abc_hash ON tunes(abc_hash);
CREATE INDEX tune_titles_title ON tune_titles(title);
CREATE INDEX tune_titles_tune ON tune_titles(tune);
"""  # made after the rows are in (one sort instead of a B-tree insert per row)
COLUMNS = ("id", "source", "x", "title", "titles", "type", "key", "mode", "meter",
           "collection", "abc")


def model_identity(fm: object) -> dict:
    """What identifies an exported model: hashes of its config (model, vocabulary,
    tokenizer, ``max_events``) and of its weights.

    Args:
        fm: A :class:`~folkclip.export.FolkclipModel`.
    """
    cfg = {"model": to_dict(fm.model.config), "vocab": fm.vocab,  # type: ignore[attr-defined]
           "tokenizer": fm.tokenizer_config.to_dict(),  # type: ignore[attr-defined]
           "max_events": fm.max_events}  # type: ignore[attr-defined]
    config_hash = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]
    h = hashlib.sha256()
    for name, tensor in sorted(fm.model.state_dict().items()):  # type: ignore[attr-defined]
        h.update(name.encode())
        buf = io.BytesIO()
        np.save(buf, tensor.detach().to(torch.float32).cpu().numpy())
        h.update(buf.getvalue())
    return {"config_hash": config_hash, "weights_hash": h.hexdigest()[:16]}


def abc_hash(abc: str) -> str:
    """Hash of a tune's ABC text with surrounding white space removed."""
    return hashlib.sha256(abc.strip().encode()).hexdigest()[:24]


def read_manifest(folder: Path) -> dict | None:
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise FolkclipError(f"{path} is not readable: {err}") from None
    if data.get("format") != FORMAT_VERSION:
        raise FolkclipError(f"{folder} holds index format {data.get('format')!r}; this "
                            f"folkclip reads format {FORMAT_VERSION} (rebuild the index)")
    return data


def write_manifest(folder: Path, data: dict) -> None:
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, folder / MANIFEST)


def write_metadata(folder: Path, meta: list[dict]) -> list[str]:
    """Write ``tunes.sqlite`` from a tokenized corpus's per-tune metadata.

    Returns:
        The title bank: one display title per distinct title key, in id order.
    """
    path = folder / DB
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    # A half-written file is rebuilt anyway (the manifest is written last): no journal.
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.executescript(_SCHEMA)
    bank: dict[str, int] = {}
    rows, links = [], []
    for i, m in enumerate(meta):
        titles = [t for t in [m["title"], *m["alt_titles"]] if t]
        rows.append((i, m["source"], str(m["number"]), m["title"], json.dumps(titles),
                     m["type"], m["key"], m["mode"], m["meter"], m["collection"], m["abc"],
                     abc_hash(m["abc"])))
        for t in titles:
            k = title_key(t)
            if k:
                links.append((i, bank.setdefault(k, len(bank))))
    names: list[str] = [""] * len(bank)
    for i, m in enumerate(meta):  # the first spelling met names the title
        for t in [m["title"], *m["alt_titles"]]:
            k = title_key(t) if t else ""
            if k and not names[bank[k]]:
                names[bank[k]] = t
    con.executemany("INSERT INTO tunes VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    con.executemany("INSERT INTO titles VALUES (?,?,?)",
                    [(j, names[j], k) for k, j in bank.items()])
    con.executemany("INSERT INTO tune_titles VALUES (?,?)", sorted(set(links)))
    con.executescript(_INDEXES)  # commits the rows first: one transaction for them all
    con.commit()
    con.close()
    return names


class Metadata:
    """Read access to ``tunes.sqlite``: one read-only connection per process (usable from
    any thread of it; a forked worker process opens its own at its first query)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / DB
        self._con: sqlite3.Connection | None = None
        self._pid = -1
        self.con  # noqa: B018 - open now, so that a missing file fails at load

    @property
    def con(self) -> sqlite3.Connection:
        """This process's read-only connection (``mode=ro``: writes raise an error)."""
        if self._pid != os.getpid():
            self._con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                        check_same_thread=False)
            self._pid = os.getpid()
        return self._con  # type: ignore[return-value]

    def tunes(self, ids: list[int]) -> dict[int, dict]:
        """Metadata of the tunes ``ids`` (without the ABC text), by id."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        cur = self.con.execute(f"SELECT id, source, x, title, titles, type, key, mode, meter, "
                               f"collection FROM tunes WHERE id IN ({marks})", ids)
        return {r[0]: _row(r) for r in cur}

    def tune(self, tune_id: int) -> dict | None:
        """One tune's metadata with its ``abc`` text, or ``None``."""
        r = self.con.execute(f"SELECT {', '.join(COLUMNS)} FROM tunes WHERE id = ?",
                             (tune_id,)).fetchone()
        if r is None:
            return None
        out = _row(r[:-1])
        out["abc"] = r[-1]
        return out

    def ids_with_abc(self, abc: str) -> list[int]:
        """Tunes whose ABC text equals ``abc`` (white space around it aside)."""
        return [r[0] for r in self.con.execute("SELECT id FROM tunes WHERE abc_hash = ?",
                                               (abc_hash(abc),))]

    def titles_of(self, tune_ids: list[int]) -> dict[int, list[int]]:
        """Title-bank ids carried by each of ``tune_ids``."""
        out: dict[int, list[int]] = {t: [] for t in tune_ids}
        if tune_ids:
            marks = ",".join("?" * len(tune_ids))
            for tune, title in self.con.execute(
                    f"SELECT tune, title FROM tune_titles WHERE tune IN ({marks})", tune_ids):
                out[tune].append(title)
        return out

    def title_names(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT title FROM titles ORDER BY id")]

    def tunes_with_title(self, title_ids: list[int]) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {t: [] for t in title_ids}
        if title_ids:
            marks = ",".join("?" * len(title_ids))
            for tune, title in self.con.execute(
                    f"SELECT tune, title FROM tune_titles WHERE title IN ({marks}) "
                    f"ORDER BY tune", title_ids):
                out[title].append(tune)
        return out

    def types(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT type FROM tunes ORDER BY id")]


def _row(r: tuple) -> dict:
    d = dict(zip(COLUMNS, r))
    return {"tune_id": d["id"], "title": d["title"], "titles": json.loads(d["titles"]),
            "type": d["type"], "key": d["key"], "mode": d["mode"], "meter": d["meter"],
            "source": relative_name(d["source"]), "x": d["x"], "collection": d["collection"]}
