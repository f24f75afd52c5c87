"""Where rendered-audio identification fails: per instrument and condition, top-1 beside how
well the pitch tracker found the extract's notes (``benchmarks/identify_audio.py`` prints
this table after its summary, and ``--summarise`` prints it for a stopped run).

For each query the tracked notes are compared with the notes the extract was rendered
from: ``notes found`` is the ratio of tracked to rendered notes (under 1: notes lost, e.g.
repeated notes merged or a note drowned by the one before; over 1: notes invented), and
``intervals kept`` the share of the rendered melody's intervals (in semitones) that the
longest common subsequence of the two interval sequences keeps. A miss where intervals
were kept is the matcher's (a phrase another tune shares); a miss where they were not is
the tracker's.
"""

from __future__ import annotations

import numpy as np


def intervals_kept(true_pitch: list[float], tracked_pitch: list[float]) -> float:
    """Share of the rendered intervals in the longest common subsequence of the rendered
    and the tracked interval sequences (tracked intervals rounded to semitones)."""
    a = np.diff(np.asarray(true_pitch, np.float64)).round().astype(int).tolist()
    b = np.rint(np.diff(np.asarray(tracked_pitch, np.float64))).astype(int).tolist()
    if not a:
        return 1.0
    prev = [0] * (len(b) + 1)
    for x in a:  # the textbook LCS table, one row at a time
        row = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            row[j + 1] = prev[j] + 1 if x == y else max(prev[j + 1], row[j])
        prev = row
    return prev[-1] / len(a)


def tracking_fields(plan: dict, row: dict) -> dict:
    """The fields a query's row gets for this table (from its plan and tracked notes)."""
    tracked = row.get("tracked_pitch") or []
    return {"instrument": plan["instrument"], "true_notes": len(plan["pitch"]),
            "notes_found": len(tracked) / max(len(plan["pitch"]), 1),
            "intervals_kept": intervals_kept(plan["pitch"], tracked) if tracked else 0.0}


def breakdown(rows: list[dict], conditions: list[str]) -> str:
    """Markdown table: in-collection queries by condition and instrument."""
    rows = [r for r in rows if not r.get("outside") and "instrument" in r]
    out = [("| condition | instrument | queries | top-1 | no melody | notes found (median) "
            "| intervals kept (median) | misses with intervals kept >= 0.8 |"),
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for c in conditions:
        for inst in sorted({r["instrument"] for r in rows}):
            part = [r for r in rows if r["condition"] == c and r["instrument"] == inst]
            if not part:
                continue
            misses = [r for r in part if r["rank"] != 1]
            out.append(
                f"| {c} | {inst} | {len(part)} | {sum(r['rank'] == 1 for r in part)} | "
                f"{sum('error' in r for r in part)} | "
                f"{np.median([r['notes_found'] for r in part]):.2f} | "
                f"{np.median([r['intervals_kept'] for r in part]):.2f} | "
                f"{sum(r['intervals_kept'] >= 0.8 for r in misses)} of {len(misses)} |")
    return "\n".join(out)
