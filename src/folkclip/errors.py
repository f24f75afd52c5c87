"""Errors and problem reports raised or returned by folkclip.

Readers never crash on bad input: every tune that cannot be read becomes a
:class:`Problem` naming the source file, tune, line and reason, and programs
turn unrecoverable situations into :class:`FolkclipError` with a one-line message.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


class FolkclipError(Exception):
    """The one error type folkclip raises for bad input or bad configuration."""


class AbcSyntaxError(FolkclipError):
    """A tune's ABC text cannot be read.

    Args:
        reason: What is wrong, in words.
        line: 1-based line number in the source file, when known.
    """

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}")
        self.reason = reason
        self.line = line


@dataclass(frozen=True, slots=True)
class Problem:
    """One tune (or file) that could not be read, or something odd that was read anyway.

    Attributes:
        source: The file (or collection) the tune came from.
        tune: The tune's reference (``X:`` number and title where known).
        line: 1-based line in ``source`` where the problem lies (0 if unknown).
        reason: What went wrong.
        severity: ``"error"`` (tune skipped) or ``"warning"`` (tune kept, something ignored).
        text: The tune's text, kept for an internal error (a fault of folkclip's, to be
            reported upstream with the input that caused it); ``""`` otherwise.
    """

    source: str
    tune: str
    line: int
    reason: str
    severity: str = "error"
    text: str = ""

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        if not self.text:
            del out["text"]
        return out

    @classmethod
    def internal(cls, source: str, tune: str, line: int, err: BaseException,
                 text: str) -> Problem:
        """A problem for an unexpected exception met while reading one tune or row.

        The reason reads ``internal error: <type>: <message>``; ``text`` keeps the input.
        """
        message = str(err)
        if len(message) > 300:
            message = message[:300] + "..."
        return cls(source, tune, line, f"internal error: {type(err).__name__}: {message}",
                   "error", text)

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: tune {self.tune}: {self.reason}"
