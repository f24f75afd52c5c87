"""HTML pages from Jinja2 templates: one base template and one stylesheet shared by
``folkclip report``, ``folkclip map`` and ``folkclip serve``.

Templates live in ``folkclip_cli/templates``; every value is autoescaped, so no page
is assembled from Python strings.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

TEMPLATES = Path(__file__).with_name("templates")


def png_data_uri(path: Path) -> str:
    """A PNG file as a ``data:`` URI, for pages that need no other file."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _inline(name: str) -> Markup:
    """The text of a file beside the templates (stylesheet, script), unescaped.

    Only the package's own files are read; the name never comes from a request.
    """
    return Markup((TEMPLATES / name).read_text(encoding="utf-8"))


def _num(x: object) -> str:
    """Three decimals for floats, ``–`` for a missing value, the text of anything else."""
    if x is None:
        return "–"
    return f"{x:.3f}" if isinstance(x, float) else str(x)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared Jinja2 environment (autoescape on, undefined names are errors)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(
        ["html"], default_for_string=True, default=True), undefined=StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.globals["inline"] = _inline
    env.filters["num"] = _num
    return env


def render(template: str, **context: object) -> str:
    """Render one template of ``folkclip_cli/templates`` with ``context``.

    Args:
        template: File name, e.g. ``"report.html"``.
        **context: The values the template reads.

    Returns:
        The page text.
    """
    return environment().get_template(template).render(**context)


def macro(template: str, name: str) -> object:
    """A macro of a template, callable from Python (returns escaped markup)."""
    return getattr(environment().get_template(template).module, name)
