"""Load test of ``folkclip serve``: mixed search/suggest traffic at a fixed rate on loopback.

Builds (once, into ``--work``) a ``--tunes``-tune synthetic-but-valid ABC collection
(``benchmarks/synthetic_collection.py``: transposed versions of the ``default`` tunes) and
its index with the model of ``--run`` (or takes ``--index``), starts ``folkclip serve`` on it
in a subprocess on 127.0.0.1 (``--server-src`` runs another version's server on the same
index), and sends ``--rate`` requests/s for ``--duration`` seconds from an open-loop async
client (aiohttp): half ``GET /api/search`` with a title, half ``POST /api/suggest`` with a
tune's ABC (both drawn from 2,000 tunes of the index). Requests leave on schedule whether or not earlier
ones have been answered; at most ``--max-in-flight`` wait at once, each for at most 10 s.
Prints and writes (``--out``) p50/p90/p99 latency (of all requests, of the answered
searches and suggestions, and of the failed ones), the rate sent, the errors and the
server's CPU time per request (all its processes, from ``/proc``).

    python benchmarks/serve_load.py --run runs/default [--tunes 100000] [--workers 2]
        [--rate 200] [--duration 60] [--work /tmp/folkclip-serve-load] [--out load.json]
        [--index DIR] [--server-src OLD/src] [--plain-http]

``--plain-http`` hides httptools and uvloop from the server (a folder of stand-ins that
raise ``ImportError``, first on its ``PYTHONPATH``), so uvicorn runs on h11 and asyncio as it
does without them, whatever the version: the same server on both stacks, side by side.

Loopback only; bounded in count (rate x duration requests) and time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

TIMEOUT_S = 10.0


def build_index(run: str, work: Path, n: int, seed: int = 0) -> Path:
    """The ``n``-tune index of the synthetic collection (made once into ``work``): real
    ABC tunes (``synthetic_collection.py``), embedded in bulk by the index build."""
    from synthetic_collection import write_collection

    from folkclip.index import TuneIndex

    collection, out = work / f"collection-{n}", work / f"index-{n}"
    if not (out / "manifest.json").exists():
        if not collection.exists():
            write_collection(collection, n, seed)
        TuneIndex.build(run, [str(collection)], out, progress=False)
    return out


def synthetic_index(base: Path, out: Path, n: int, seed: int = 0) -> None:
    """An ``n``-tune index folder from the real index ``base``: its model, metadata repeated,
    synthetic unit vectors for tunes and titles (approximate index as a build would choose)."""
    import sqlite3

    from scipy import sparse

    from folkclip.index import store
    from folkclip.index.build import project_2d
    from folkclip.index.profiles import Profiles
    from folkclip.index.vectors import VectorIndex

    if (out / store.MANIFEST).exists():
        return
    out.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(f"file:{base / store.DB}?mode=ro", uri=True)
    rows = con.execute("SELECT source, x, title, titles, type, key, mode, meter, collection, "
                       "abc FROM tunes ORDER BY id").fetchall()
    con.close()
    meta = []
    for i in range(n):
        source, x, title, titles, typ, key, mode, meter, coll, abc = rows[i % len(rows)]
        copy = i // len(rows)
        names = json.loads(titles) or [title or "untitled"]
        names = [t if copy == 0 else f"{t} {copy}" for t in names]
        meta.append({"source": source, "number": x, "title": names[0], "alt_titles": names[1:],
                     "type": typ, "key": key, "mode": mode, "meter": meter,
                     "collection": coll, "abc": abc})
    bank = store.write_metadata(out, meta)
    prof = Profiles.load(base)
    reps = -(-n // len(rows))
    Profiles(prof.vocab, prof.idf, sparse.vstack([prof.counts] * reps).tocsr()[:n],
             sparse.vstack([prof.tfidf] * reps).tocsr()[:n]).save(out)
    manifest = store.read_manifest(base)
    dim = int(np.load(base / "tunes.npy", mmap_mode="r").shape[1])
    rng = np.random.default_rng(seed)

    def unit(m: int) -> np.ndarray:
        v = rng.standard_normal((m, dim)).astype(np.float32)  # (m, D)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    tunes, titles = unit(n), unit(len(bank))
    ti, ni = VectorIndex.build(tunes, "auto"), VectorIndex.build(titles, "auto")
    np.save(out / "map.npy", project_2d(tunes))
    store.write_manifest(out, dict(manifest, n_tunes=n, n_titles=len(bank), synthetic=True,
                                   vectors={"tunes": ti.save(out, "tunes"),
                                            "titles": ni.save(out, "titles")}))


def queries(index: Path, n: int = 2000, seed: int = 0) -> tuple[list[str], list[str]]:
    """Titles (search) and ABC texts (suggest) of ``n`` tunes drawn from the index."""
    import sqlite3

    con = sqlite3.connect(f"file:{index / 'tunes.sqlite'}?mode=ro", uri=True)
    total = con.execute("SELECT count(*) FROM tunes").fetchone()[0]
    ids = np.random.default_rng(seed).choice(total, min(n, total), replace=False).tolist()
    rows = con.execute(f"SELECT title, abc FROM tunes WHERE id IN ({','.join('?' * len(ids))})",
                       ids).fetchall()
    con.close()
    return [t or "reel" for t, _ in rows], [a for _, a in rows]


def group_cpu_s(pgrp: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of process group
    ``pgrp`` (the server and its workers), from ``/proc``."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended
        if int(fields[2]) == pgrp:  # fields after the name: state, ppid, pgrp, ...
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _one(session: object, kind: str, payload: str) -> str | None:
    """Send one request; return what went wrong, or None."""
    try:
        if kind == "search":
            req = session.get("/api/search", params={"q": payload, "k": "10",  # type: ignore[attr-defined]
                                                     "abc": "false"})
        else:
            req = session.post("/api/suggest", json={"abc": payload, "k": 10})  # type: ignore[attr-defined]
        async with req as r:
            await r.read()
            status = r.status
    except Exception as err:  # noqa: BLE001 - every failure is counted, none stops the run
        return f"{kind}: {type(err).__name__}"
    return None if status == 200 else f"{kind}: HTTP {status}"


async def drive(url: str, titles: list[str], tunes: list[str], rate: float, duration: float,
                max_in_flight: int, seed: int = 0) -> dict:
    """Send ``rate * duration`` requests on an open-loop schedule; return the figures.

    A request's latency runs from the moment it was due to leave, so time spent waiting
    for a free connection counts (no coordinated omission). A request not answered
    ``TIMEOUT_S`` after it was due is an error; the run ends by ``duration + TIMEOUT_S``.
    The client is aiohttp (several times less CPU per request than httpx), so that on a
    small machine the client steals less time from the server it measures.
    """
    import aiohttp

    rng = np.random.default_rng(seed)
    n = int(rate * duration)
    lat: list[tuple[str, float]] = []  # (search | suggest | error, seconds)
    errors: list[str] = []
    conn = aiohttp.TCPConnector(limit=max_in_flight)
    async with aiohttp.ClientSession(url, connector=conn) as session:
        async def job(kind: str, payload: str, due: float) -> None:
            try:
                async with asyncio.timeout(max(due + TIMEOUT_S - time.perf_counter(), 0)):
                    err = await _one(session, kind, payload)
            except TimeoutError:
                err = f"{kind}: not answered within {TIMEOUT_S:g} s"
            if err:
                errors.append(err)
            lat.append((kind if err is None else "error", time.perf_counter() - due))

        tasks: set[asyncio.Task] = set()  # in flight only: finished ones are let go
        gc.collect()
        gc.freeze()  # the client's own full collections must not delay requests
        t0 = time.perf_counter()
        for i in range(n):
            due = t0 + i / rate
            if due > time.perf_counter():
                await asyncio.sleep(due - time.perf_counter())
            kind = "search" if rng.random() < 0.5 else "suggest"
            pool = titles if kind == "search" else tunes
            task = asyncio.create_task(job(kind, pool[rng.integers(len(pool))], due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        sent = time.perf_counter() - t0
        await asyncio.gather(*tasks)
        gc.unfreeze()
        total = time.perf_counter() - t0

    def stats(kind: str | None) -> dict:
        x = np.array([s for k, s in lat if kind is None or k == kind]) * 1000  # ms
        if not len(x):
            return {"n": 0}
        return {"n": len(x), "p50_ms": round(float(np.percentile(x, 50)), 1),
                "p90_ms": round(float(np.percentile(x, 90)), 1),
                "p99_ms": round(float(np.percentile(x, 99)), 1),
                "max_ms": round(float(x.max()), 1)}

    return {"requests": n, "rate_target": rate, "rate_sent": round(n / sent, 1),
            "seconds": round(total, 1), "errors": len(errors),
            "error_kinds": sorted(set(errors))[:10], "all": stats(None),
            "search": stats("search"), "suggest": stats("suggest"), "failed": stats("error")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", help="a trained two-tower run folder (to build the index)")
    p.add_argument("--index", help="a ready index folder (instead of building one)")
    p.add_argument("--vectors", choices=("real", "synthetic"), default="real",
                   help="embed the synthetic collection (real) or grow tiny's index with "
                        "random vectors (synthetic; see build_index)")
    p.add_argument("--base", default=None, help="with --vectors synthetic: the real index to "
                   "grow (e.g. the index of default)")
    p.add_argument("--tunes", type=int, default=100_000)
    p.add_argument("--rate", type=float, default=200.0, help="requests per second")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of traffic")
    p.add_argument("--max-in-flight", type=int, default=256)
    p.add_argument("--work", default="/tmp/folkclip-serve-load", help="collection and index")
    p.add_argument("--workers", type=int, default=None,
                   help="the server's --workers (left out when not given: an old server "
                        "has no such option)")
    p.add_argument("--threads", type=int, default=1, help="the server's --threads")
    p.add_argument("--server-src", default=None,
                   help="a folkclip src/ folder to run the server from (e.g. an old version)")
    p.add_argument("--plain-http", action="store_true",
                   help="run the server without httptools and uvloop (h11 and asyncio)")
    p.add_argument("--out", default=None, help="JSON file for the figures")
    args = p.parse_args(argv)
    if not (0 < args.rate <= 1000 and 0 < args.duration <= 600 and 0 < args.tunes <= 2_000_000):
        p.error("bounded: rate <= 1000/s, duration <= 600 s, tunes <= 2M")
    if not (args.run or args.index):
        p.error("give --run (to build the index) or --index")

    t = time.perf_counter()
    index = Path(args.index) if args.index else build_index(args.run, Path(args.work),
                                                            args.tunes, args.vectors,
                                                            base=args.base and Path(args.base))
    titles, tunes = queries(index)
    print(f"index ready in {time.perf_counter() - t:.0f} s: {index}", flush=True)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    paths = [str(Path(args.server_src).resolve())] if args.server_src else []
    if args.plain_http:
        paths.insert(0, str(_without_fast_http(Path(args.work))))
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    cmd = [sys.executable, "-m", "folkclip_cli.main", "serve", str(index), "--host",
           "127.0.0.1", "--port", str(port), "--threads", str(args.threads)]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    server = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        import httpx

        deadline = time.monotonic() + 300
        while True:
            try:
                info = httpx.get(url + "/api/info", timeout=2).json()
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.5)
        # warm-up: a few requests of each kind per worker, not counted
        asyncio.run(drive(url, titles, tunes, rate=20, duration=2, max_in_flight=8, seed=1))
        cpu = group_cpu_s(server.pid)
        figures = asyncio.run(drive(url, titles, tunes, args.rate, args.duration,
                                    args.max_in_flight))
        cpu = group_cpu_s(server.pid) - cpu
        figures["server_cpu_ms_per_request"] = round(1000 * cpu / figures["requests"], 2)
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its worker processes
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    figures.update(tunes=info["tunes"], index=str(index), server_src=args.server_src,
                   http="h11, asyncio" if args.plain_http else "as installed",
                   workers=args.workers, cpus=os.cpu_count(), load_average=os.getloadavg(),
                   threads=args.threads)
    print(json.dumps(figures, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=1))
    return 0 if figures["errors"] == 0 else 1


def _without_fast_http(work: Path) -> Path:
    """A folder whose ``httptools`` and ``uvloop`` raise ``ImportError`` when imported."""
    folder = work / "without-fast-http"
    for name in ("httptools", "uvloop"):
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / name / "__init__.py").write_text(
            f"raise ImportError('{name} hidden by serve_load.py --plain-http')\n")
    return folder


if __name__ == "__main__":
    sys.exit(main())
