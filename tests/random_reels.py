"""Random reels for the index, identification and re-ranking tests: bars of eight
quavers drawn from two octaves of the G scale, and the ABC of a reel made of them."""

from __future__ import annotations

import numpy as np

NOTES = "CDEFGABcdefgab"


def random_bars(rng: np.random.Generator, n: int = 8) -> list[str]:
    """``n`` bars of eight random quavers."""
    return ["".join(NOTES[i] for i in rng.integers(0, len(NOTES), 8)) for _ in range(n)]


def reel_abc(x: int, title: str, bars: list[str], key: str = "G") -> str:
    """One reel in ABC (``X:`` number ``x``) with these bars."""
    return f"X:{x}\nT:{title}\nR:reel\nM:4/4\nL:1/8\nK:{key}\n" + "|".join(bars) + "|]\n"
