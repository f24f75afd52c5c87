"""``folkclip serve``: a local web page and JSON API over a tune index (FastAPI)."""
