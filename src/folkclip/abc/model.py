"""The parsed form of a tune: header fields plus a flat list of body events.

Events are small slotted objects, cheap to build by the thousand per second:
:class:`Note` (a note, chord or rest), :class:`Bar` (a bar line, possibly with
repeat signs) and :class:`Change` (a key, meter, unit-length or part change inside
the body). Durations are integer ticks (see :data:`folkclip.abc.fields.WHOLE`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from folkclip.abc.fields import Key


class Note:
    """A note, chord or rest of the (first) melody voice.

    Attributes:
        pitch: MIDI number (middle C = 60; highest note of a chord), ``None`` for a rest.
        duration: Length in ticks.
        bar: 0-based bar index (a pickup is bar 0).
        onset: Position inside the bar in ticks.
        tie: Tied to the next note.
        decorations: Decorations as written (``"~"``, ``"."``, ``"trill"``, ``"u"`` ...).
        chord_symbol: Guitar chord written above the note (``"Em"``), or ``None``.
        grace: MIDI pitches of grace notes before the note.
        chord: All MIDI pitches when the note is a chord ``[CEG]`` (else empty).
        line: 1-based line in the source file.
    """

    __slots__ = ("pitch", "duration", "bar", "onset", "tie", "decorations",
                 "chord_symbol", "grace", "chord", "line")

    def __init__(self, pitch: int | None, duration: int, bar: int = 0, onset: int = 0,
                 tie: bool = False, decorations: tuple[str, ...] = (),
                 chord_symbol: str | None = None, grace: tuple[int, ...] = (),
                 chord: tuple[int, ...] = (), line: int = 0) -> None:
        self.pitch = pitch
        self.duration = duration
        self.bar = bar
        self.onset = onset
        self.tie = tie
        self.decorations = decorations
        self.chord_symbol = chord_symbol
        self.grace = grace
        self.chord = chord
        self.line = line

    def __repr__(self) -> str:
        return f"Note({self.pitch}, {self.duration}, bar={self.bar}, onset={self.onset})"


class Bar:
    """A bar line.

    Attributes:
        kind: Normalised bar line: ``|``, ``||``, ``|]``, ``[|``, ``|:``, ``:|``, ``::``.
        ending: Ending number(s) that start right after it (``"1"``, ``"2"``, ``"1,3"``), or ``""``.
        index: Index of the bar that *ends* at this line.
    """

    __slots__ = ("kind", "ending", "index")

    def __init__(self, kind: str, ending: str = "", index: int = 0) -> None:
        self.kind = kind
        self.ending = ending
        self.index = index

    def __repr__(self) -> str:
        return f"Bar({self.kind!r}, ending={self.ending!r})"


class Change:
    """A field that changes inside the body: ``K`` (value is a :class:`Key`), ``M``
    (tuple or ``None``), ``L`` (ticks) or ``P`` (part label)."""

    __slots__ = ("field", "value", "raw")

    def __init__(self, field: str, value: object, raw: str) -> None:
        self.field = field
        self.value = value
        self.raw = raw

    def __repr__(self) -> str:
        return f"Change({self.field}:{self.raw})"


Event = Note | Bar | Change


@dataclass
class Tune:
    """One tune as read from a collection.

    Attributes:
        source: File (or collection) it came from.
        number: Its ``X:`` reference number as written (or a row id).
        line: Line of the ``X:`` field in ``source``.
        title: Main title, normalised (article moved to the front, type suffix removed);
            ``""`` for an untitled tune.
        alt_titles: Further titles (further ``T:`` lines), normalised.
        tune_type: Canonical tune type (see :mod:`folkclip.abc.titles`), ``"unknown"`` when none.
        meter: Meter of the header, or ``None`` for free meter.
        unit: Unit note length of the header in ticks.
        key: Key of the header.
        fields: Every header field, letter -> list of values in order of appearance.
        events: Body events of the first voice.
        abc: The tune's ABC text as found.
        tune_id: Identity of the tune shared by its versions (The Session ``tune_id``), if known.
        setting_id: Identity of this version, if known.
        collection: Name of the collection (``oneills1850``, ``nottingham``, a path ...).
        warnings: Things in the text that were read past (unknown symbols, extra voices):
            the first :data:`~folkclip.abc.limits.MAX_WARNINGS_KEPT` of them.
        warning_count: How many warnings there were in all (``len(warnings)`` or more).
    """

    source: str
    number: str
    line: int
    title: str
    alt_titles: list[str]
    tune_type: str
    meter: tuple[int, int] | None
    unit: int
    key: Key
    fields: dict[str, list[str]]
    events: list[Event]
    abc: str = ""
    tune_id: str | None = None
    setting_id: str | None = None
    collection: str = ""
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0

    @property
    def notes(self) -> list[Note]:
        """The notes and rests, in written order."""
        return [e for e in self.events if type(e) is Note]

    @property
    def ref(self) -> str:
        """A short human reference: ``X:12 "The Banks of Enniskillen"``."""
        return f"X:{self.number} {self.title!r}" if self.title else f"X:{self.number}"
