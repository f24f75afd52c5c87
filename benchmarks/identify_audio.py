"""Identification from rendered audio: 12-second extracts of indexed tunes played by a real
synthesizer, through pitch tracking and matching, with top-1/top-5/MRR/no-match and 95% CIs.

    python benchmarks/identify_audio.py INDEX [--extracts 150] [--jobs 2] [--seed 0]
        [--out runs/bench-identify-audio]
    python benchmarks/identify_audio.py INDEX --pyin-settings   # pYIN cost per setting
    python benchmarks/identify_audio.py INDEX --summarise OUT/queries.jsonl  # a stopped run
    python benchmarks/identify_audio.py INDEX --render TUNE_ID q.wav [--instrument fiddle]
        # one clean 12-s extract of an indexed tune (from its start), for trying it by hand

Each extract: a random indexed tune is rendered by ``abc2midi`` (repeats unfolded), its
melody line is cut to a 12-s window from a random place (tempo x0.8-1.25 of a session
tempo, transposed -5..+6 semitones, detuned -30..+30 cents by pitch bend, as fiddle (GM 41),
flute (74), whistle (79) or accordion (22)); all extracts go into one MIDI file rendered by
FluidSynth with Debian's FluidR3 General MIDI SoundFont (its own reverb and chorus off).
Each extract is then queried in three conditions: ``clean``; ``reverb+20dB`` (convolved
with a synthetic room response, exponential decay RT60 0.4-0.8 s, then white noise at
20 dB SNR); ``reverb+10dB``. A query is right when the first match is the tune's identity
group (other versions count); ``no-match`` is the share whose best match falls below the
calibrated threshold (answered "no known tune"). After the summary comes where the misses
are: by condition and instrument, top-1 beside how many of the rendered notes and
intervals the tracker found (``benchmarks/identify_audio_failures.py``). Latency is CPU
seconds on one thread (reading + pitch tracking, and matching), robust to other jobs on
the machine.

Rendering lives here, not in the library: folkclip reads audio, it does not make it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core per worker: the latency figure is per core

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from identify_audio_failures import breakdown, tracking_fields
from identify_queries import HELD_OUT_SHARE, fit_calibration, held_out_groups

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
PROGRAMS = {"fiddle": 40, "flute": 73, "whistle": 78, "accordion": 21}  # GM 41, 74, 79, 22
EXTRACT_S = 12.0
GAP_S = 2.0  # silence between extracts in the rendered file (release tails die out)
RENDER_SR_HZ = 22_050
SESSION_IOI_S = 0.18  # median time between onsets at the base tempo (a session reel/jig)
CONDITIONS = {"clean": (None, False), "reverb+20dB": (20.0, True), "reverb+10dB": (10.0, True)}


# ----------------------------------------------------------------- rendering
def tune_line(abc: str, workdir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The unfolded melody of one tune as abc2midi plays it: (pitch, onset_s, duration_s)."""
    from folkclip.identify.errors import QueryError
    from folkclip.identify.midi import read_midi

    src, mid = workdir / "tune.abc", workdir / "tune.mid"
    body = abc if abc.lstrip().startswith("X:") else "X:1\n" + abc
    src.write_text(body)
    mid.unlink(missing_ok=True)
    subprocess.run(["abc2midi", str(src), "-o", str(mid)], capture_output=True, timeout=30)
    if not mid.exists():
        return None
    try:
        q = read_midi(mid, "tune.mid")
    except QueryError:
        return None
    return q.midi_pitch, q.onset_s, q.duration_s


def plan_extract(line, rng: np.random.Generator) -> dict | None:
    """A random 12-s window of a tune's line, with tempo, key, tuning and instrument."""
    pitch, onset, dur = line
    if len(pitch) < 12:
        return None
    ioi = np.diff(onset)
    scale = SESSION_IOI_S / float(np.median(ioi[ioi > 0])) / rng.uniform(0.8, 1.25)
    onset, dur = onset * scale, dur * scale
    last_start = max(0.0, onset[-1] + dur[-1] - EXTRACT_S)
    starts = np.nonzero(onset <= max(last_start, onset[0]))[0]
    i0 = int(rng.choice(starts))
    keep = (onset >= onset[i0]) & (onset < onset[i0] + EXTRACT_S)
    instrument = str(rng.choice(list(PROGRAMS)))
    return {"pitch": (pitch[keep] + int(rng.integers(-5, 7))).tolist(),
            "onset_s": (onset[keep] - onset[i0]).tolist(),
            "duration_s": np.minimum(dur[keep], onset[i0] + EXTRACT_S - onset[keep]).tolist(),
            "instrument": instrument, "cents": float(rng.uniform(-30, 30)),
            "tempo_scale": float(scale), "first_note": i0}


def render(plans: list[dict], workdir: Path) -> tuple[np.ndarray, list[float]]:
    """All extracts in one MIDI file (channel 0), rendered once by FluidSynth."""
    import mido
    import soundfile as sf

    tpb, us_per_beat = 960, 500_000  # 120 bpm: one tick is 1/1920 s
    def ticks(t_s: float) -> int:
        return round(t_s * 1e6 / us_per_beat * tpb)

    events, starts, t = [], [], 1.0
    for p in plans:
        starts.append(t)
        bend = int(round(p["cents"] / 200 * 8192))  # default bend range: +-2 semitones
        events.append((ticks(t) - 2, 0, mido.Message("program_change",
                                                      program=PROGRAMS[p["instrument"]])))
        events.append((ticks(t) - 1, 0, mido.Message("pitchwheel", pitch=bend)))
        for m, o, d in zip(p["pitch"], p["onset_s"], p["duration_s"], strict=True):
            note = int(np.clip(m, 0, 127))
            events.append((ticks(t + o), 2, mido.Message("note_on", note=note, velocity=90)))
            events.append((ticks(t + o + d), 1, mido.Message("note_off", note=note)))
        t += EXTRACT_S + GAP_S
    mid = mido.MidiFile(type=0, ticks_per_beat=tpb)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=us_per_beat, time=0))
    now = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=max(0, tick - now)))
        now = max(now, tick)
    mid.tracks.append(track)
    mid.save(workdir / "extracts.mid")
    wav = workdir / "extracts.wav"
    subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5",
                    "-r", str(RENDER_SR_HZ), "-F", str(wav), SOUNDFONT,
                    str(workdir / "extracts.mid")], check=True, capture_output=True)
    y, sr = sf.read(wav, dtype="float32", always_2d=True)
    assert sr == RENDER_SR_HZ
    return y.mean(axis=1), starts


def degrade(y: np.ndarray, snr_db: float | None, reverb: bool, rng: np.random.Generator
            ) -> np.ndarray:
    """Room reverberation (synthetic exponential-decay response) and white noise."""
    from scipy.signal import fftconvolve

    if reverb:
        rt60_s = rng.uniform(0.4, 0.8)
        t = np.arange(int(rt60_s * RENDER_SR_HZ)) / RENDER_SR_HZ
        ir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60_s) * 0.3
        ir[0] = 1.0
        y = fftconvolve(y, ir)[: len(y)]
    if snr_db is not None:
        power = float(np.mean(y[np.abs(y) > 1e-4] ** 2)) if np.any(np.abs(y) > 1e-4) else 1e-8
        y = y + rng.standard_normal(len(y)) * np.sqrt(power / 10 ** (snr_db / 10))
    return (0.9 * y / max(float(np.max(np.abs(y))), 1e-9)).astype(np.float32)


# ----------------------------------------------------------------- querying
_IDENT = None
_EXCLUDE: frozenset[int] = frozenset()


def _open(index: str, exclude: frozenset[int]) -> None:
    global _IDENT, _EXCLUDE
    from folkclip.identify import Identifier

    _IDENT, _EXCLUDE = Identifier.open(index), exclude


def query(job: tuple[int, str, bytes, int | None]) -> dict:
    """Read one rendered extract and rank the index's tunes for it (the held-out groups
    left out); ``group`` is ``None`` for an out-of-collection extract."""
    from folkclip.audio import read_audio
    from folkclip.identify.errors import QueryError

    i, condition, wav, group = job
    t0 = time.process_time()
    try:
        notes = read_audio(wav, f"extract{i}.wav")
    except QueryError as err:
        return {"i": i, "condition": condition, "rank": None, "no_match": True,
                "error": str(err), "read_cpu_s": time.process_time() - t0}
    t1 = time.process_time()
    matches = _IDENT.rank(notes, k=5, exclude=_EXCLUDE)  # type: ignore[union-attr]
    t2 = time.process_time()
    groups = [m.group for m in matches]
    best = matches[0].confidence if matches else 0.0
    row = {"i": i, "condition": condition, "notes": len(notes),
           "rank": groups.index(group) + 1 if group in groups else None,
           "no_match": best < _IDENT.calibration("audio").threshold,  # type: ignore[union-attr]
           "confidence": best, "read_cpu_s": t1 - t0, "match_cpu_s": t2 - t1,
           "tracked_pitch": np.round(notes.midi_pitch, 2).tolist()}
    if matches:  # the calibration's features
        row.update(score=matches[0].score, margin=matches[0].margin,
                   log_symbols=float(np.log(max(len(notes) - 1, 1))))
    return row


# ----------------------------------------------------------------- figures
def summarise(rows: list[dict]) -> dict:
    """top-1, top-5, MRR, no-match rate and right-and-confident, with 95% CIs."""
    from statsmodels.stats.proportion import proportion_confint

    n = len(rows)
    ranks = [r["rank"] for r in rows]

    def prop(k: int) -> list[float]:
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
        return [k / n, float(lo), float(hi)]

    rr = np.array([1 / r if r else 0.0 for r in ranks])
    boot = np.random.default_rng(0).choice(rr, (2000, n)).mean(axis=1)
    read = [r["read_cpu_s"] for r in rows]
    match = [r.get("match_cpu_s", 0.0) for r in rows]
    if rows and rows[0].get("outside"):
        return {"n": n, "false_identification": prop(sum(not r["no_match"] for r in rows)),
                "no_match": prop(sum(r["no_match"] for r in rows))}
    return {"n": n, "top1": prop(sum(r == 1 for r in ranks)),
            "top5": prop(sum(r is not None and r <= 5 for r in ranks)),
            "mrr": [float(rr.mean()), *map(float, np.percentile(boot, [2.5, 97.5]))],
            "no_match": prop(sum(r["no_match"] for r in rows)),
            "identified_right": prop(sum(r["rank"] == 1 and not r["no_match"] for r in rows)),
            "read_cpu_s_median": float(np.median(read)),
            "read_cpu_s_p90": float(np.percentile(read, 90)),
            "match_cpu_s_median": float(np.median(match)),
            "total_cpu_s_p90": float(np.percentile(np.add(read, match), 90))}


def table(summary: dict[str, dict]) -> str:
    def ci(v: list[float], pct: bool = True) -> str:
        f = (lambda x: f"{100 * x:.1f}") if pct else (lambda x: f"{x:.3f}")
        return f"{f(v[0])} [{f(v[1])}, {f(v[2])}]"

    out = ["| condition | queries | top-1 % | top-5 % | MRR | no-match % | identified right % "
           "| CPU s: read+track (median) | CPU s: match (median) | CPU s total (p90) |",
           "|---|---:|---|---|---|---|---|---:|---:|---:|"]
    for name, s in summary.items():
        if "false_identification" in s:
            out.append(f"| {name} (false identification {ci(s['false_identification'])}) | "
                       f"{s['n']} | – | – | – | {ci(s['no_match'])} | – | – | – | – |")
            continue
        out.append(f"| {name} | {s['n']} | {ci(s['top1'])} | {ci(s['top5'])} | "
                   f"{ci(s['mrr'], False)} | {ci(s['no_match'])} | {ci(s['identified_right'])} "
                   f"| {s['read_cpu_s_median']:.2f} | {s['match_cpu_s_median']:.3f} | "
                   f"{s['total_cpu_s_p90']:.2f} |")
    return "\n".join(out)


def pyin_settings(y: np.ndarray) -> None:
    """CPU seconds of pYIN on one 12-s clip for a few settings (the chosen one first)."""
    import librosa

    from folkclip.audio import pitch as P

    for sr_hz, frame, hop, res in ((16_000, P.FRAME_LENGTH, P.HOP_LENGTH, P.RESOLUTION_ST),
                                   (16_000, 1024, 256, 0.1), (22_050, 2048, 512, 0.1),
                                   (22_050, 2048, 441, 0.25)):
        x = librosa.resample(y, orig_sr=RENDER_SR_HZ, target_sr=sr_hz)
        librosa.pyin(x[:sr_hz], fmin=P.FMIN_HZ, fmax=P.FMAX_HZ, sr=sr_hz,
                     frame_length=frame, hop_length=hop, resolution=res)  # compile first
        t0 = time.process_time()
        librosa.pyin(x, fmin=P.FMIN_HZ, fmax=P.FMAX_HZ, sr=sr_hz, frame_length=frame,
                     hop_length=hop, resolution=res)
        print(f"sr {sr_hz} Hz, frame {frame}, hop {hop}, resolution {res} st: "
              f"{time.process_time() - t0:.2f} CPU s per 12-s clip")


def render_one(meta, tune_id: int, out: Path, instrument: str) -> int:
    """One extract from the tune's first note, at session tempo, a tone up, 10 cents sharp."""
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        line = tune_line(meta.tune(tune_id)["abc"], Path(tmp))
        if line is None:
            sys.exit(f"abc2midi could not render tune {tune_id}")
        pitch, onset, dur = line
        scale = SESSION_IOI_S / float(np.median(np.diff(onset)[np.diff(onset) > 0]))
        keep = onset * scale < EXTRACT_S
        plan = {"pitch": (pitch[keep] + 2).tolist(), "onset_s": (onset[keep] * scale).tolist(),
                "duration_s": (dur[keep] * scale).tolist(), "instrument": instrument,
                "cents": 10.0}
        y, starts = render([plan], Path(tmp))
    clip = y[int(starts[0] * RENDER_SR_HZ): int((starts[0] + EXTRACT_S) * RENDER_SR_HZ)]
    sf.write(out, 0.9 * clip / np.abs(clip).max(), RENDER_SR_HZ, subtype="PCM_16")
    print(f"wrote {out}: tune {tune_id} ({meta.tune(tune_id)['title']}), {instrument}, "
          f"{EXTRACT_S:g} s")
    return 0


def draw_plans(meta, pool: np.ndarray, n: int, groups: np.ndarray, outside: bool,
               work: Path, rng: np.random.Generator) -> list[dict]:
    """``n`` extract plans of random tunes of ``pool`` (tunes abc2midi cannot play or
    with too few notes are drawn again)."""
    plans: list[dict] = []
    while len(plans) < n:
        tid = int(rng.choice(pool))
        line = tune_line(meta.tune(tid)["abc"], work)
        plan = plan_extract(line, rng) if line is not None else None
        if plan is not None:
            plans.append({**plan, "tune_id": tid, "group": int(groups[tid]),
                          "outside": outside})
    return plans


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("index", help="an index folder built by `folkclip index`")
    p.add_argument("--extracts", type=int, default=150, help="extracts (x3 conditions)")
    p.add_argument("--outside", type=int, default=100,
                   help="extracts of held-out (out-of-collection) tunes (x3 conditions)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (one thread each)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/bench-identify-audio")
    p.add_argument("--calibrate", action="store_true",
                   help="fit the audio calibration on the calibration groups and stop")
    p.add_argument("--pyin-settings", action="store_true", help="time pYIN settings and stop")
    p.add_argument("--render", nargs=2, metavar=("TUNE_ID", "WAV"),
                   help="write one clean extract of an indexed tune and stop")
    p.add_argument("--instrument", choices=sorted(PROGRAMS), default="fiddle")
    p.add_argument("--summarise", metavar="QUERIES_JSONL",
                   help="print the table of a (possibly stopped) run's queries.jsonl and stop")
    args = p.parse_args(argv)
    if args.summarise:
        done = [json.loads(line) for line in Path(args.summarise).read_text().splitlines()]
        print(f"{len({r['i'] for r in done})} extracts, {len(done)} queries read back")
        print(table(summaries(done)))
        print(breakdown(done, list(CONDITIONS)))
        return 0
    for tool in ("abc2midi", "fluidsynth"):
        if shutil.which(tool) is None:
            sys.exit(f"needs {tool} (Debian: abcmidi, fluidsynth, fluid-soundfont-gm)")
    from folkclip.identify import Identifier
    from folkclip.index import store

    ident = Identifier.open(args.index)
    meta = store.Metadata(Path(args.index))
    groups = np.asarray(ident.data.groups)
    n_tunes = len(groups)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    if args.render:
        return render_one(meta, int(args.render[0]), Path(args.render[1]), args.instrument)
    # the same held-out groups as benchmarks/identify.py: calibrate on one share, measure on
    # the other, both left out of every ranking; in-collection extracts come from the rest
    cal_mask, eval_mask = held_out_groups(groups, HELD_OUT_SHARE, np.random.default_rng(0))
    exclude = frozenset(np.nonzero(cal_mask | eval_mask)[0].tolist())
    inside = np.nonzero(~(cal_mask | eval_mask))[0]
    outside = np.nonzero(cal_mask if args.calibrate else eval_mask)[0]
    rng = np.random.default_rng(args.seed + (1000 if args.calibrate else 0))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plans = draw_plans(meta, inside, 1 if args.pyin_settings else args.extracts, groups,
                           False, work, rng)
        if not args.pyin_settings:
            plans += draw_plans(meta, outside, args.outside, groups, True, work, rng)
        y, starts = render(plans, work)
    print(f"rendered {len(plans)} extracts in {time.perf_counter() - t_start:.0f} s",
          file=sys.stderr)
    clips = [y[int(s * RENDER_SR_HZ): int((s + EXTRACT_S) * RENDER_SR_HZ)] for s in starts]
    if args.pyin_settings:
        pyin_settings(clips[0])
        return 0
    rows, wall_s = run_queries(args, plans, clips, exclude, rng, out)
    if args.calibrate:
        ok = [r for r in rows if "score" in r]
        _, lines = fit_calibration(
            [[r["score"], r["margin"], r["log_symbols"]] for r in ok],
            [int(r["rank"] == 1 and not r["outside"]) for r in ok], [r["outside"] for r in ok])
        print(f"audio calibration: {len(rows)} queries, {len(rows) - len(ok)} without notes")
        print("\n".join(lines))
        return 0
    summary = summaries(rows)
    summary["all in collection"] = summarise([r for r in rows if not r["outside"]])
    (out / "summary.json").write_text(json.dumps(
        {"index": str(args.index), "tunes": n_tunes, "extracts": len(plans), "seed": args.seed,
         "threshold": ident.calibration("audio").threshold, "query_wall_s": wall_s,
         "jobs": args.jobs, "conditions": summary}, indent=1))
    print(f"{n_tunes} tunes indexed; {len(plans)} extracts x {len(CONDITIONS)} conditions; "
          f"audio threshold {ident.calibration('audio').threshold:.3f}")
    print(table(summary))
    print(breakdown(rows, list(CONDITIONS)))
    return 0


def summaries(rows: list[dict]) -> dict[str, dict]:
    """The summary of every condition, in-collection and out-of-collection apart."""
    out = {}
    for outside, label in ((False, "{}"), (True, "out of collection, {}")):
        for c in CONDITIONS:
            part = [r for r in rows if r["condition"] == c and bool(r.get("outside")) == outside]
            if part:
                out[label.format(c)] = summarise(part)
    return out


def run_queries(args, plans: list[dict], clips: list[np.ndarray], exclude: frozenset[int],
                rng: np.random.Generator, out: Path) -> tuple[list[dict], float]:
    """Every extract in every condition through the worker processes; rows in plan order."""
    import io
    from multiprocessing import get_context

    import soundfile as sf

    jobs = []
    for i, (clip, plan) in enumerate(zip(clips, plans, strict=True)):
        for name, (snr_db, reverb) in CONDITIONS.items():
            buf = io.BytesIO()
            sf.write(buf, degrade(clip, snr_db, reverb, rng), RENDER_SR_HZ, format="WAV",
                     subtype="PCM_16")
            jobs.append((i, name, buf.getvalue(), None if plan["outside"] else plan["group"]))
    t_query = time.perf_counter()
    rows = []
    with get_context("spawn").Pool(args.jobs, initializer=_open,
                                   initargs=(str(args.index), exclude)) as pool, \
            (out / "queries.jsonl").open("w") as log:
        for row in pool.imap_unordered(query, jobs):  # written as they come: a stopped run
            row["outside"] = plans[row["i"]]["outside"]  # keeps what it measured
            row.update(tracking_fields(plans[row["i"]], row))
            rows.append(row)
            log.write(json.dumps({**row, "group": plans[row["i"]]["group"]}) + "\n")
            log.flush()
    rows.sort(key=lambda r: (r["i"], list(CONDITIONS).index(r["condition"])))
    for r in rows:
        plan = plans[r["i"]]
        r.update(tune_id=plan["tune_id"], group=plan["group"], instrument=plan["instrument"],
                 cents=round(plan["cents"], 1), tempo_scale=round(plan["tempo_scale"], 3))
    (out / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows, time.perf_counter() - t_query


if __name__ == "__main__":
    raise SystemExit(main())
