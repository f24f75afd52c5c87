"""Validity figures of a tunebook of generated tunes.

:func:`check_tunebook` reports, for the ``X:`` records of an ABC text:

- ``reader/*``: tunes read back by folkclip's reader (:func:`~folkclip.abc.parser.parse_tunebook`)
  without an error (warnings allowed);
- ``abc2midi/*``: tunes that ``abc2midi -c`` (checking mode, one tune per call) reads
  without an ``Error`` line, and the errors of each tune (``None`` values when
  abc2midi is not on PATH or not asked for);
- ``bars/*``: among the complete bars of the tunes read by folkclip (every bar but
  each tune's first and last), those whose notes last exactly one bar of the meter.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

from folkclip.abc.fields import WHOLE
from folkclip.abc.model import Change, Note, Tune
from folkclip.abc.parser import parse_tunebook

_ERROR_RE = re.compile(r"^Error\b", re.MULTILINE)
ABC2MIDI_TIMEOUT_S = 20


def split_records(text: str) -> list[str]:
    """The ``X:`` records of an ABC text, each with the file header (lines before the
    first ``X:``) in front; a blank line ends a record, as in the reader."""
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.startswith("X:")), len(lines))
    header = [ln for ln in lines[:first] if ln.strip()]
    records: list[list[str]] = []
    current: list[str] | None = None
    for line in lines[first:]:
        if line.startswith("X:"):
            current = [line]
            records.append(current)
        elif current is not None:
            if line.strip():
                current.append(line)
            else:
                current = None
    return ["\n".join(header + rec) + "\n" for rec in records]


def abc2midi_errors(record: str, program: str = "abc2midi") -> int:
    """Number of ``Error`` lines ``abc2midi FILE -c`` prints for one tune (at least 1
    when it crashes or hangs)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tune.abc"
        path.write_text(record, encoding="utf-8")
        try:
            proc = subprocess.run([program, str(path), "-c"], capture_output=True, text=True,
                                  timeout=ABC2MIDI_TIMEOUT_S, cwd=tmp, errors="replace",
                                  check=False)
        except subprocess.TimeoutExpired:
            return 1
    errors = len(_ERROR_RE.findall(proc.stdout + "\n" + proc.stderr))
    return errors if proc.returncode in (0, 1) else max(errors, 1)


def bar_lengths(tune: Tune) -> tuple[int, int]:
    """(complete bars, complete bars lasting one bar of the meter) of one tune: the bars
    holding notes, less the first and the last; bars in free meter are not counted."""
    meter = tune.meter
    totals: dict[int, int] = defaultdict(int)
    meters: dict[int, tuple[int, int] | None] = {}
    for ev in tune.events:
        if type(ev) is Change and ev.field == "M":
            meter = ev.value  # type: ignore[assignment]
        elif type(ev) is Note:
            totals[ev.bar] += ev.duration
            meters.setdefault(ev.bar, meter)
    bars = sorted(totals)[1:-1]
    counted = [b for b in bars if meters[b] is not None]
    good = sum(1 for b in counted
               if totals[b] * meters[b][1] == WHOLE * meters[b][0])  # type: ignore[index]
    return len(counted), good


def check_tunebook(text: str, abc2midi: bool = True) -> dict:
    """Validity figures of every ``X:`` record of ``text``.

    Args:
        text: An ABC tunebook.
        abc2midi: Also run abc2midi (when it is on PATH).

    Returns:
        ``tunes``; ``reader/ok``, ``reader/share``; ``abc2midi/ok``, ``abc2midi/share``,
        ``abc2midi/errors`` (errors per tune; the three are ``None`` without abc2midi);
        ``bars/complete``, ``bars/matching``, ``bars/share``. Shares of nothing are 0.
    """
    records = split_records(text)
    tunes, _ = parse_tunebook(text, "<generated>")
    n = len(records)
    out: dict = {"tunes": n, "reader/ok": len(tunes),
                 "reader/share": len(tunes) / n if n else 0.0,
                 "abc2midi/ok": None, "abc2midi/share": None, "abc2midi/errors": None}
    program = shutil.which("abc2midi") if abc2midi else None
    if program:
        errors = [abc2midi_errors(r, program) for r in records]
        ok = sum(1 for e in errors if e == 0)
        out.update({"abc2midi/ok": ok, "abc2midi/share": ok / n if n else 0.0,
                    "abc2midi/errors": errors})
    complete = matching = 0
    for tune in tunes:
        c, m = bar_lengths(tune)
        complete, matching = complete + c, matching + m
    out.update({"bars/complete": complete, "bars/matching": matching,
                "bars/share": matching / complete if complete else 0.0})
    return out


def format_report(figures: dict) -> list[str]:
    """Lines describing :func:`check_tunebook`'s figures."""
    n = figures["tunes"]
    lines = [(f"folkclip reader: {figures['reader/ok']}/{n} tunes read without error "
              f"({figures['reader/share']:.1%})")]
    if figures["abc2midi/ok"] is None:
        lines.append("abc2midi: not checked (not on PATH)")
    else:
        lines.append(f"abc2midi: {figures['abc2midi/ok']}/{n} tunes without errors "
                     f"({figures['abc2midi/share']:.1%}), "
                     f"{sum(figures['abc2midi/errors'])} errors in all")
    lines.append(f"bar lengths: {figures['bars/matching']}/{figures['bars/complete']} "
                 f"complete bars match the meter ({figures['bars/share']:.1%})")
    return lines
