"""The serve program's limits, in one place, each with its reason."""

from __future__ import annotations

# A tune in ABC is rarely over 5 KB; a whole tunebook pasted by mistake is refused with 413
# instead of being parsed.
MAX_ABC_CHARS = 32_768
# Whole request bodies: the ABC text plus JSON quoting and a title list. Bodies over this
# are refused (413) before they are read to the end.
MAX_BODY_BYTES = 2 * MAX_ABC_CHARS + 32_768
# An upload to POST /api/identify: the largest recording the audio reader takes, plus the
# multipart form around it (the reader checks each kind's own limit again).
MAX_UPLOAD_BYTES = 16 * 2**20 + 64 * 1024
# Reading one upload (decoding and pitch tracking a minute of audio takes ~2 s of CPU) must
# finish in this time (then 503); it runs on its own thread, not the index's.
READ_TIMEOUT_S = 60.0
# Uploads waiting to be read at once; more are refused at once (503).
MAX_PENDING_READS = 4
# A title or free-text query; the title tower reads far fewer tokens than this.
MAX_QUERY_CHARS = 300
# Results per query: a page shows tens; more only costs time.
MAX_K = 100
# Extra candidate titles a user may add to a suggestion request.
MAX_USER_TITLES = 200
# Every request must finish in this time (then 503); the index answers in milliseconds.
REQUEST_TIMEOUT_S = 10.0
# Queries waiting for the index at once, per worker process; beyond this a request is refused
# at once (503 with Retry-After) instead of queueing towards the timeout, so an overloaded
# server fails fast. Measured cost (benchmarks/query_cost.py, 100k tunes): about 10 ms of a
# core per suggestion and 4.4 ms per search, so 64 waiting queries are about 0.5 s of work:
# a server that keeps up with its traffic never reaches this, one that does not answers 503
# long before the timeout.
MAX_PENDING = 64
# Points the map view draws; larger indexes are thinned evenly (an SVG of 100k points
# would make the page unusable).
MAX_MAP_POINTS = 20_000
# Tune ids are SQLite row ids.
MAX_TUNE_ID = 2**53
# Worker processes (folkclip serve --workers) must answer the supervisor's health check in
# this time, else they are killed and restarted. Loading torch and the model holds the GIL
# for seconds at a time (tens of seconds on a busy machine), longer than uvicorn's 5 s.
WORKER_HEALTHCHECK_S = 120
