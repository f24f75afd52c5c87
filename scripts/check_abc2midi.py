#!/usr/bin/env python3
"""Cross-check folkclip's ABC reader against ``abc2midi`` (abcMIDI).

For every tune of the given ABC files (default: the Nottingham collection) the
script runs::

    abc2midi FILE N -o TMP.mid -NGRA -NGUI -NFER -silent

(grace notes, guitar-chord accompaniment and fermatas off), reads the melody
track of the MIDI file with the small MIDI reader below, and compares its notes
with folkclip's reading of the same tune, unfolded into performance order with
:func:`folkclip.abc.unfold.unfold`. A tune counts as *identical* when both give
the same sequence of sounding notes as (onset, pitch, duration), with onsets and
durations as fractions of a whole note; rests are compared through the onsets.

How the two sides are made comparable:

* abc2midi delays its whole track by one tick and ends each note one tick early;
  onsets are read as note-on - 1 and durations as note-off - note-on + 1.
* abc2midi staggers the notes of a chord by 10 ticks; overlapping notes form one
  chord whose pitch is the highest one (folkclip's ``Note.pitch``).
* abc2midi plays a tie between equal pitches as one note; folkclip keeps tied
  notes as separate events (``Note.tie``), merged here.
* abc2midi plays ``~`` and ``R`` (rolls) and ``T`` / ``!trill!`` as several notes;
  those notes are merged back into one note, with the pitch of the last of them
  (the main note). A staccato note (``.``) is played shorter: only its onset and
  pitch are compared. Other decorations do not change the notes.
* abc2midi plays tunes with ``R:Hornpipe`` swung (see :func:`hornpipe_durations`);
  no command-line flag turns that off, so the same swing is applied to our notes.
  Other options that change the rhythm (``-CS`` 2:1 broken rhythm, ``-BF`` stress
  model, ``-HARP`` rolls) are left off: the defaults (3:1 for ``>``) match folkclip.
* Onsets and durations may differ by one MIDI tick (1/1920 of a whole note):
  abc2midi rounds durations such as quintuplets to whole ticks.

Usage::

    python scripts/check_abc2midi.py [FILES...] [--show K] [--json] [--jobs N]

Prints per-file and overall agreement ("N/M tunes identical (P%)"); ``--show K``
prints the first K mismatching tunes with the first differing position, and
``--json`` prints a machine-readable summary instead. Exit status: 0 when every
tune is identical, 1 otherwise, 2 when abc2midi is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # midi_notes beside this script

from midi_notes import SeqNote, midi_melody, pitch_name, read_midi  # noqa: E402, F401

from folkclip.abc.fields import WHOLE
from folkclip.abc.model import Note, Tune
from folkclip.abc.parser import parse_tunebook
from folkclip.abc.unfold import unfold

ABC2MIDI_FLAGS = ("-NGRA", "-NGUI", "-NFER", "-silent")
ORNAMENTS = frozenset(("~", "R", "T", "trill", "roll"))  # played by abc2midi as several notes
STACCATO = frozenset((".", "staccato"))
TOLERANCE = Fraction(1, 1920)  # one MIDI tick at abc2midi's 480 ticks per quarter


def run_abc2midi(path: str | os.PathLike[str], number: str, workdir: str,
                 exe: str = "abc2midi") -> bytes | None:
    """Run abc2midi on tune ``number`` of ``path``; the MIDI data, or ``None``."""
    out = os.path.join(workdir, "tune.mid")
    if os.path.exists(out):
        os.unlink(out)
    try:
        subprocess.run([exe, os.path.abspath(path), str(number), "-o", out, *ABC2MIDI_FLAGS],
                       capture_output=True, timeout=60, check=False, cwd=workdir)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if not os.path.exists(out):
        return None
    with open(out, "rb") as fh:
        return fh.read()


# ----------------------------------------------------------------- folkclip
def our_melody(tune: Tune) -> list[SeqNote]:
    """folkclip's reading of ``tune`` as sounding notes in performance order.

    Repeats and parts are unfolded, rests only advance time, and a note tied to
    the next note of the same pitch is merged with it.
    """
    parts = tune.fields.get("P", [None])[0]
    swing = hornpipe_durations(tune)
    onset = 0
    merged: list[list] = []  # [onset, pitch, duration, tie, line, decorations]
    for ev in unfold(tune.events, parts):
        if type(ev) is not Note:
            continue
        duration = swing.get(id(ev), ev.duration)
        if ev.pitch is not None:
            last = merged[-1] if merged else None
            if (last is not None and last[3] and last[1] == ev.pitch
                    and last[0] + last[2] == onset):
                last[2] += duration
                last[3] = ev.tie
            else:
                merged.append([onset, ev.pitch, duration, ev.tie, ev.line, ev.decorations])
        onset += duration
    out = []
    for on, pitch, dur, _tie, line, decos in merged:
        staccato = any(d in STACCATO for d in decos)
        out.append(SeqNote(Fraction(on, WHOLE), pitch,
                           None if staccato else Fraction(dur, WHOLE), line,
                           any(d in ORNAMENTS for d in decos)))
    return out


def hornpipe_durations(tune: Tune) -> dict[int, int]:
    """abc2midi's hornpipe swing, as durations by ``id(note)`` for the notes it changes.

    With ``R:Hornpipe`` (or ``hornpipe``) and a 4/4 or 2/4 header meter, abc2midi
    plays two equal notes of 1/8 (1/16 in 2/4) as 2:1 (1/6 + 1/12) when the second
    starts an odd eighth (sixteenth) into the bar. Chords and rests do not take part.
    """
    rtype = tune.fields.get("R", [""])[0].lstrip()
    if not rtype.startswith(("Hornpipe", "hornpipe")) or tune.meter not in ((4, 4), (2, 4)):
        return {}
    out: dict[int, int] = {}
    meter = tune.meter
    prev: Note | None = None
    for ev in tune.events:
        if type(ev) is not Note:
            if getattr(ev, "field", None) == "M":
                meter = ev.value  # type: ignore[union-attr]
            continue
        if ev.pitch is None:
            continue
        if ev.chord:
            prev = None
            continue
        num = meter[0] if meter else 0
        length = WHOLE // 8 if num == 4 else WHOLE // 16 if num == 2 else 0
        denom = 8 if num == 4 else 16
        if (length and prev is not None and prev.duration == ev.duration == length
                and Fraction(ev.onset, WHOLE).denominator == denom
                and id(prev) not in out):
            out[id(prev)] = length * 4 // 3
            out[id(ev)] = length * 2 // 3
        prev = ev
    return out


def collapse_ornaments(ours: Sequence[SeqNote], theirs: Sequence[SeqNote]) -> list[SeqNote]:
    """Merge the notes abc2midi plays for one ornamented note of ours into one note
    (onset of the first, pitch of the last, duration up to the end of the last)."""
    spans = [(n.onset, n.onset + (n.duration or 0)) for n in ours if n.ornament]
    if not spans:
        return list(theirs)
    out: list[SeqNote] = []
    out_span: list[int] = []
    k = 0
    for note in theirs:
        while k < len(spans) and spans[k][1] <= note.onset + TOLERANCE:
            k += 1
        inside = k < len(spans) and spans[k][0] - TOLERANCE <= note.onset
        if inside and out and out_span[-1] == k:
            first = out[-1]
            end = note.onset + (note.duration or 0)
            out[-1] = SeqNote(first.onset, note.pitch, end - first.onset)
        else:
            out.append(note)
            out_span.append(k if inside else -1)
    return out


def compare(ours: Sequence[SeqNote], theirs: Sequence[SeqNote],
            tolerance: Fraction = TOLERANCE) -> int | None:
    """Index of the first note where the sequences differ, ``None`` if they agree."""
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a.pitch != b.pitch or abs(a.onset - b.onset) > tolerance:
            return i
        if (a.duration is not None and b.duration is not None
                and abs(a.duration - b.duration) > tolerance):
            return i
    if len(ours) != len(theirs):
        return min(len(ours), len(theirs))
    return None


def difference_kind(ours: Sequence[SeqNote], theirs: Sequence[SeqNote], i: int) -> str:
    """``pitch``, ``onset``, ``duration``, ``extra-ours`` or ``extra-abc2midi``."""
    if i >= len(ours):
        return "extra-abc2midi"
    if i >= len(theirs):
        return "extra-ours"
    a, b = ours[i], theirs[i]
    if abs(a.onset - b.onset) > TOLERANCE:
        return "onset"
    if a.pitch != b.pitch:
        return "pitch"
    return "duration"


# ------------------------------------------------------------------ checks
@dataclass
class TuneResult:
    """Outcome for one tune: ``status`` is ``identical``, ``mismatch``, ``unreadable``
    (folkclip could not read it) or ``no-midi`` (abc2midi wrote nothing)."""

    source: str
    number: str
    title: str
    status: str
    index: int | None = None
    kind: str = ""
    ours: list[str] = field(default_factory=list)
    theirs: list[str] = field(default_factory=list)
    line: int = 0
    context: str = ""
    n_ours: int = 0
    n_theirs: int = 0


def check_tune(tune: Tune, midi: bytes | None, source: str) -> TuneResult:
    """Compare folkclip's reading of ``tune`` with abc2midi's MIDI output."""
    result = TuneResult(source, tune.number, tune.title, "identical")
    if midi is None:
        result.status = "no-midi"
        return result
    ours = our_melody(tune)
    theirs = collapse_ornaments(ours, midi_melody(midi))
    result.n_ours, result.n_theirs = len(ours), len(theirs)
    i = compare(ours, theirs)
    if i is None:
        return result
    result.status = "mismatch"
    result.index = i
    result.kind = difference_kind(ours, theirs, i)
    lo = max(0, i - 3)
    result.ours = [n.show() for n in ours[lo:i + 4]]
    result.theirs = [n.show() for n in theirs[lo:i + 4]]
    ref = ours[min(i, len(ours) - 1)] if ours else None
    if ref is not None and ref.line:
        result.line = ref.line
        lines = tune.abc.splitlines()
        k = ref.line - tune.line
        if 0 <= k < len(lines):
            result.context = lines[k]
    return result


def check_file(path: str | os.PathLike[str], exe: str = "abc2midi",
               source: str | None = None) -> list[TuneResult]:
    """Check every tune of one ABC file."""
    path = Path(path)
    source = source or path.name
    text = path.read_text(encoding="utf-8", errors="replace")
    tunes, problems = parse_tunebook(text, source)
    results: list[TuneResult] = []
    with tempfile.TemporaryDirectory(prefix="abc2midi-check-") as work:
        for tune in tunes:
            midi = run_abc2midi(path.resolve(), tune.number, work, exe)
            results.append(check_tune(tune, midi, source))
    for problem in problems:
        if problem.severity == "error":
            number = problem.tune.split()[0].removeprefix("X:")
            results.append(TuneResult(source, number, problem.tune, "unreadable",
                                      context=problem.reason, line=problem.line))
    return results


def check_text(text: str, source: str = "fixture.abc", exe: str = "abc2midi") -> list[TuneResult]:
    """Check the tunes of an ABC text (written to a temporary file for abc2midi)."""
    with tempfile.TemporaryDirectory(prefix="abc2midi-text-") as work:
        path = Path(work) / source
        path.write_text(text, encoding="utf-8")
        return check_file(path, exe, source)


def _check_file_job(args: tuple[str, str]) -> tuple[str, list[TuneResult]]:
    path, exe = args
    return path, check_file(path, exe)


def summarise(results: Iterable[TuneResult]) -> tuple[int, int]:
    """(identical, total) over ``results``."""
    results = list(results)
    return sum(r.status == "identical" for r in results), len(results)


def _rate(identical: int, total: int) -> str:
    return f"{identical}/{total} tunes identical ({100 * identical / total if total else 0:.1f}%)"


def _format_mismatch(r: TuneResult) -> str:
    head = f"{r.source} X:{r.number} {r.title!r}: {r.status}"
    if r.status == "unreadable":
        return f"{head} (line {r.line}): {r.context}"
    if r.status == "no-midi":
        return head
    lines = [(f"{head} at note {r.index} ({r.kind}); {r.n_ours} notes ours, "
              f"{r.n_theirs} abc2midi"),
             f"    ours:     {' '.join(r.ours)}",
             f"    abc2midi: {' '.join(r.theirs)}"]
    if r.context:
        lines.append(f"    line {r.line}: {r.context}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path,
                        help="ABC files (default: the nottingham source, see folkclip.io.sources)")
    parser.add_argument("--show", type=int, default=0, metavar="K",
                        help="print the first K mismatching tunes")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--abc2midi", default="abc2midi", help="abc2midi executable")
    args = parser.parse_args(argv)

    exe = shutil.which(args.abc2midi)
    if exe is None:
        print(f"error: {args.abc2midi} not found on PATH", file=sys.stderr)
        return 2
    if not args.files:
        from folkclip.errors import FolkclipError
        from folkclip.io.sources import nottingham_dir

        try:
            args.files = sorted(nottingham_dir().glob("*.abc"))
        except FolkclipError as err:
            print(f"check_abc2midi: {err}", file=sys.stderr)
            return 2
    files = args.files
    if not files:
        print("error: no ABC files given or found", file=sys.stderr)
        return 2
    jobs = [(str(f), exe) for f in sorted(files, key=lambda f: -f.stat().st_size)]
    if args.jobs > 1 and len(jobs) > 1:
        with Pool(min(args.jobs, len(jobs))) as pool:
            done = dict(pool.imap_unordered(_check_file_job, jobs))
    else:
        done = dict(map(_check_file_job, jobs))
    per_file = [(str(f), done[str(f)]) for f in files]
    everything = [r for _, rs in per_file for r in rs]
    identical, total = summarise(everything)
    bad = [r for r in everything if r.status != "identical"]

    if args.json:
        summary = {
            "identical": identical, "total": total,
            "rate": identical / total if total else 0.0,
            "files": [{"file": name, "identical": summarise(rs)[0], "total": len(rs)}
                      for name, rs in per_file],
            "mismatches": [asdict(r) for r in bad],
        }
        print(json.dumps(summary, indent=1))
    else:
        width = max(len(Path(name).name) for name, _ in per_file)
        for name, rs in per_file:
            print(f"{Path(name).name:<{width}}  {_rate(*summarise(rs))}")
        print(f"{'overall':<{width}}  {_rate(identical, total)}")
        for r in bad[:args.show]:
            print()
            print(_format_mismatch(r))
    return 0 if identical == total else 1


if __name__ == "__main__":
    sys.exit(main())
