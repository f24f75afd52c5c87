"""``folkclip serve``: browse a tune index in a local web page.

    folkclip serve INDEX [--host 127.0.0.1] [--port 8000] [--allow-origin URL ...]
                         [--workers N] [--threads 1] [--http auto] [--loop auto]

Opens the index written by ``folkclip index`` and serves the page and its JSON API
(``/docs``) with uvicorn on the loopback address unless ``--host`` says otherwise.
``--workers`` processes (default: one per usable core) each answer queries one at a time,
each with ``--threads`` torch/FAISS threads: one query is too small to gain from more,
and on a busy machine extra threads only wait (search took 48 ms with 2 threads and 4 ms
with 1 on a loaded 2-core machine). The workers share one memory-mapped copy of the
vectors (see :mod:`folkclip_cli.serve.worker`). ``--http`` and ``--loop`` pick uvicorn's HTTP
parser and event loop; ``auto`` takes httptools and uvloop when installed (the ``serve``
extra installs both: at 200 req/s on 2 cores, p99 50/66/30 ms against 102/184/31 with h11
and asyncio in alternating rounds, README "Load") and says so at start.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from folkclip.errors import FolkclipError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return port


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("index", help="an index folder written by folkclip index")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    p.add_argument("--allow-origin", action="append", default=[], metavar="URL",
                   help="let pages from this origin call the API (CORS is closed by default)")
    p.add_argument("--workers", type=int, default=None, choices=range(1, 65), metavar="N",
                   help=f"server processes (default: the usable cores, here {default_workers()})")
    p.add_argument("--threads", type=int, default=1, choices=range(1, 65), metavar="N",
                   help="torch and FAISS threads per query (default 1)")
    p.add_argument("--http", choices=HTTP, default="auto",
                   help="uvicorn's HTTP parser (default auto: httptools when installed)")
    p.add_argument("--loop", choices=LOOPS, default="auto",
                   help="uvicorn's event loop (default auto: uvloop when installed)")


HTTP = ("auto", "httptools", "h11")
LOOPS = ("auto", "uvloop", "asyncio")


def http_stack(http: str = "auto", loop: str = "auto") -> tuple[str, str]:
    """The HTTP parser and event loop uvicorn will use for ``--http``/``--loop``: ``auto``
    resolves as uvicorn resolves it (httptools and uvloop when importable).

    Raises:
        FolkclipError: When one asked for by name is not installed.
    """
    import importlib

    chosen = []
    for value, fast, plain, option in ((http, "httptools", "h11", "--http"),
                                       (loop, "uvloop", "asyncio", "--loop")):
        try:  # as uvicorn's "auto" decides: by importing it
            importlib.import_module(fast)
            have = True
        except ImportError:
            have = False
        if value == fast and not have:
            raise FolkclipError(f"{option} {fast}: {fast!r} is not installed "
                                f"(pip install 'folkclip[serve]', or {option} {plain})")
        chosen.append(fast if value == fast or (value == "auto" and have) else plain)
    return chosen[0], chosen[1]


def default_workers() -> int:
    """One worker process per core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        os.cpu_count() or 1


def main_from_args(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from folkclip_cli.serve.app import create_app
    except ModuleNotFoundError as err:
        raise FolkclipError(f"folkclip serve needs {err.name!r}: "
                            "pip install 'folkclip[serve]'") from None
    from folkclip.index import TuneIndex
    from folkclip_cli.serve.limits import WORKER_HEALTHCHECK_S
    from folkclip_cli.serve.worker import set_threads, settings_env, settle_heap

    set_threads(args.threads)
    http, loop = http_stack(args.http, args.loop)
    workers = args.workers or default_workers()
    index = TuneIndex.load(args.index)  # refuses a bad index here, before any worker starts
    n_tunes = len(index)
    if index.title_model is None:  # said once here, not with every answer
        print("the index carries no title model: the page shows suggested titles without "
              "generated names (add one: folkclip index RUN --data ... --out INDEX "
              "--title-model TITLE_RUN)", file=sys.stderr)
    if args.host not in LOOPBACK:
        print(f"warning: listening on {args.host}: other machines can reach this server",
              file=sys.stderr)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"serving {n_tunes} tunes at http://{host}:{args.port}/ with {workers} worker "
          f"process{'es' if workers > 1 else ''} ({http}, {loop}; API docs at /docs; Ctrl-C stops)",
          flush=True)
    run = {"host": args.host, "port": args.port, "log_level": "warning", "http": http,
           "loop": loop,
           "timeout_graceful_shutdown": 2}
    if workers == 1:
        index.encoder  # noqa: B018 - export the towers before the first request
        made = create_app(index, allow_origins=tuple(args.allow_origin))
        settle_heap()
        uvicorn.run(made, **run)
        return 0
    del index
    os.environ.update(settings_env(str(Path(args.index).resolve()),
                                   tuple(args.allow_origin), args.threads))
    uvicorn.run("folkclip_cli.serve.worker:app", factory=True, workers=workers,
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_S, **run)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``folkclip serve``.

    Args:
        argv: Arguments after ``serve`` (``sys.argv[1:]`` when ``None``).

    Returns:
        The exit status.
    """
    p = argparse.ArgumentParser(prog="folkclip serve", description=__doc__.split("\n")[0])
    add_arguments(p)
    return main_from_args(p.parse_args(argv))
