"""The app factory each ``folkclip serve --workers N`` process calls (uvicorn imports it).

The parent process passes its settings through the environment (``FOLKCLIP_SERVE_*``);
every worker opens the index itself: the vectors and the IVF lists are memory-mapped, so
the workers share one copy of them in the page cache, and each opens its own read-only
SQLite connection.
"""

from __future__ import annotations

import json
import os
from typing import Any

ENV = "FOLKCLIP_SERVE"  # JSON: {"index", "allow_origins", "threads"}


def settings_env(index: str, allow_origins: tuple[str, ...], threads: int) -> dict[str, str]:
    """The environment entry that hands the settings to the worker processes."""
    return {ENV: json.dumps({"index": index, "allow_origins": list(allow_origins),
                             "threads": threads})}


def set_threads(n: int) -> None:
    """Threads of torch's and FAISS's kernels for this process."""
    import importlib.util

    import torch

    torch.set_num_threads(n)
    if importlib.util.find_spec("faiss") is not None:
        import faiss

        faiss.omp_set_num_threads(n)


def settle_heap() -> None:
    """Move everything loaded so far out of the garbage collector's sight (``gc.freeze``).

    A loaded index with its towers holds about 210,000 objects the collector tracks; a full
    collection over them took 115 ms on the 100,000-tune index, and under load one came
    every few seconds in each worker, stalling its queries (``serve_load.py`` p99 of
    340-605 ms in two of three rounds). The index lives as long as the process, so its
    objects are frozen once, after loading; later garbage is collected as usual.
    """
    import gc

    gc.collect()
    gc.freeze()


def app() -> Any:
    """The FastAPI app of one worker process (uvicorn's ``factory=True`` target)."""
    from folkclip.index import TuneIndex
    from folkclip_cli.serve.app import create_app

    settings = json.loads(os.environ[ENV])
    set_threads(settings["threads"])
    index = TuneIndex.load(settings["index"])
    index.encoder  # noqa: B018 - export the towers before the first request, not during it
    made = create_app(index, allow_origins=tuple(settings["allow_origins"]))
    settle_heap()
    return made
