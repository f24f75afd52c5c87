"""Per-query results: written beside a run, pooled over folds, averaged over seeds and
lined up between runs for paired comparisons.

A *query table* is ``{direction: {column: (Q,) array}}`` as returned by
:func:`folkclip.eval.evaluation.query_results`: direction ``tune_to_title`` or
``title_to_tune``; column ``query`` (stable id: tune ref or title key), ``type`` and
metric columns (``rr``, ``ndcg@10``, ...). On disk it is one CSV file
(``per_query_test.csv``) with a ``direction`` column.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from folkclip.errors import FolkclipError

DIRECTIONS = ("tune_to_title", "title_to_tune")
_TEXT = ("query", "type")

QueryTable = dict[str, dict[str, np.ndarray]]


def write_queries(table: QueryTable, path: Path) -> Path:
    """Write a query table as CSV (``direction``, text columns, then metric columns)."""
    cols = list(dict.fromkeys(c for d in table.values() for c in d))
    text = [c for c in cols if c in _TEXT]
    nums = [c for c in cols if c not in text]
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["direction", *text, *nums])
        for name, d in table.items():
            for q in range(len(d["query"])):
                w.writerow([name, *(d[c][q] for c in text),
                            *(repr(float(d[c][q])) for c in nums)])
    tmp.replace(path)
    return path


def read_queries(path: Path) -> QueryTable:
    """Read a query table written by :func:`write_queries`.

    Raises:
        FolkclipError: When the file is missing or not a query table.
    """
    if not path.exists():
        raise FolkclipError(f"{path} not found (a run of an older folkclip? evaluate it again)")
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or rows[0][:2] != ["direction", "query"]:
        raise FolkclipError(f"{path} is not a per-query table")
    head = rows[0]
    text = [c for c in head[1:] if c in _TEXT]
    out: QueryTable = {}
    for name in DIRECTIONS:
        part = [r for r in rows[1:] if r[0] == name]
        d: dict[str, np.ndarray] = {}
        for j, c in enumerate(head[1:], 1):
            values = [r[j] for r in part]
            d[c] = np.array(values, dtype=object) if c in text else \
                np.array(values, dtype=np.float64)
        out[name] = d
    return out


def pool(tables: Sequence[QueryTable], labels: Sequence[int] | None = None,
         column: str = "fold") -> QueryTable:
    """Concatenate query tables (e.g. the test folds of a cross-validation); with
    ``labels``, add a ``column`` saying which table each query came from.

    Raises:
        FolkclipError: When a query id occurs in more than one table.
    """
    out: QueryTable = {}
    for name in DIRECTIONS:
        cols = list(dict.fromkeys(c for t in tables for c in t[name]))
        d = {c: np.concatenate([t[name][c] for t in tables]) for c in cols}
        if labels is not None:
            d[column] = np.concatenate([np.full(len(t[name]["query"]), float(lab))
                                        for t, lab in zip(tables, labels)])
        ids, counts = np.unique(d["query"].astype(str), return_counts=True)
        if len(ids) and counts.max() > 1:
            raise FolkclipError(f"{name} query {ids[counts.argmax()]!r} is in several tables")
        out[name] = d
    return out


def query_means(tables: Sequence[QueryTable], direction: str, metric: str) -> dict[str, float]:
    """``{query id: metric}`` averaged over ``tables`` (the seeds of one variant) for the
    queries every table has (queries with NaN values are left out)."""
    maps = [dict(zip(t[direction]["query"].astype(str).tolist(),
                     t[direction][metric].tolist())) for t in tables]
    common = set(maps[0]).intersection(*maps[1:]) if maps else set()
    out = {}
    for q in sorted(common):
        values = [m[q] for m in maps]
        if not any(np.isnan(values)):
            out[q] = float(np.mean(values))
    return out


def paired_arrays(a: dict[str, float], b: dict[str, float]) -> tuple[list[str], np.ndarray,
                                                                     np.ndarray]:
    """The queries ``a`` and ``b`` share (sorted) and their values: (ids, (Q,), (Q,))."""
    ids = sorted(set(a) & set(b))
    return ids, np.array([a[q] for q in ids]), np.array([b[q] for q in ids])
